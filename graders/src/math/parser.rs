//! A recursive-descent parser from [`Tok`]ens to an [`Expr`], for LaTeX and plain notation alike.
//!
//! Precedence, loosest first: lists (`,` `;` "and" "or"), relations (`=` `<` `\le` `\in`, chains),
//! unions (`\cup`), ratios (`:`) and `\choose`, sums (`+ - \pm`), products (`* / \cdot \bmod`,
//! juxtaposition), unary signs, powers (right-associative), postfix (`!` `!!` `%` `_`), atoms.
//! The whole input is read or the parse fails ([`parse_detailed`] says where): malformed input
//! returns `None` (never a panic), and nesting deeper than [`MAX_DEPTH`] is malformed by
//! definition, so a 10,000-level tower is rejected in one linear pass.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Zero};

use super::expr::{Constant, Expr, Func, RelOp};
use std::borrow::Cow;
use std::cell::Cell;

use super::lexer::{tokenize_spans, Tok};
use super::number::ratio_i128;

/// Deepest nesting a real answer needs, with room to spare.
pub const MAX_DEPTH: usize = 100;
/// Longest answer text the parser accepts (bytes); longer spans are not an answer.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024;
/// Longest literal the parser accepts (digits); exact arithmetic stays cheap below it.
pub const MAX_DIGITS: usize = 2000;

/// Single letters that, followed by `(`, name a function rather than multiply.
const FUNCTION_LETTERS: &str = "fghFGHPQWpq";

/// Unit words dropped after a quantity (`125 miles`, `15 cm^2`).
const UNIT_WORDS: &[&str] = &[
    "cm",
    "mm",
    "km",
    "m",
    "kg",
    "mg",
    "g",
    "lb",
    "lbs",
    "oz",
    "ml",
    "mL",
    "L",
    "sec",
    "secs",
    "second",
    "seconds",
    "min",
    "mins",
    "minute",
    "minutes",
    "hr",
    "hrs",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "inch",
    "inches",
    "ft",
    "feet",
    "foot",
    "yard",
    "yards",
    "yd",
    "mile",
    "miles",
    "mph",
    "kph",
    "unit",
    "units",
    "dollar",
    "dollars",
    "cent",
    "cents",
    "yuan",
    "euro",
    "euros",
    "meter",
    "meters",
    "metre",
    "metres",
    "liter",
    "liters",
    "litre",
    "litres",
    "gram",
    "grams",
    "kilogram",
    "kilograms",
    "degree",
    "degrees",
    "deg",
    "rad",
    "radians",
    "radian",
    "sq",
    "square",
    "cubic",
    "people",
    "person",
    "students",
    "times",
    "ways",
    "points",
    "items",
    "pounds",
    "pound",
    "ounces",
    "gallons",
    "gallon",
    "pages",
    "page",
    "cups",
    "cup",
    "boxes",
    "steps",
    "coins",
    "marbles",
    "apples",
    "books",
    "balls",
    "cookies",
    "candies",
    "pieces",
    "percent",
    "pct",
    "percentage",
    "am",
    "pm",
];

/// Known function names (plain or after a backslash).
fn function_named(name: &str) -> Option<Func> {
    Some(match name {
        "sin" => Func::Sin,
        "cos" => Func::Cos,
        "tan" | "tg" => Func::Tan,
        "cot" | "ctg" => Func::Cot,
        "sec" => Func::Sec,
        "csc" | "cosec" => Func::Csc,
        "arcsin" | "asin" => Func::Asin,
        "arccos" | "acos" => Func::Acos,
        "arctan" | "atan" => Func::Atan,
        "sinh" => Func::Sinh,
        "cosh" => Func::Cosh,
        "tanh" => Func::Tanh,
        "ln" => Func::Ln,
        "log" | "lg" => Func::Log,
        "exp" => Func::Exp,
        "sqrt" => Func::Root,
        "abs" => Func::Abs,
        "floor" => Func::Floor,
        "ceil" => Func::Ceil,
        "gamma" => Func::Gamma,
        _ => return None,
    })
}

fn is_percent_word(w: &str) -> bool {
    matches!(w, "percent" | "pct" | "percentage")
}

fn is_separator_word(w: &str) -> bool {
    matches!(w, "and" | "or")
}

fn is_unit_word(w: &str) -> bool {
    w.len() >= 2 && UNIT_WORDS.contains(&w)
}

/// Whether `\text{...}` content is a unit or a filler word to drop after a quantity.
fn is_unit_text(t: &str) -> bool {
    let t = t.trim();
    !t.is_empty()
        && t.len() <= 40
        && t.bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b' ' || b == b'.' || b == b'/')
        && !is_separator_text(t)
}

fn is_separator_text(t: &str) -> bool {
    matches!(t.trim(), "and" | "or" | "," | ", and" | "and/or")
}

/// Why an answer did not parse, and where: the byte offset in the input where parsing
/// stopped (the first token that could not be read, or the first one left over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub at: usize,
    pub reason: &'static str,
}

/// Parses one answer. `None` when it is not a well-formed expression.
pub fn parse(input: &str) -> Option<Expr> {
    parse_detailed(input).ok()
}

/// Parses one answer, all of it: an expression that reads only a prefix of its input is a
/// failure (with the place where reading stopped), never a shorter answer.
pub fn parse_detailed(input: &str) -> Result<Expr, ParseError> {
    let fail = |at: usize, reason: &'static str| Err(ParseError { at, reason });
    if input.len() > MAX_ANSWER_BYTES {
        return fail(0, "the answer is too long");
    }
    let (mut toks, offsets) = match tokenize_spans(input) {
        Ok(lexed) => lexed,
        Err(at) => return fail(at, "unreadable character or unclosed group"),
    };
    // Trailing punctuation belongs to the sentence, not the answer.
    while matches!(toks.last(), Some(Tok::Op('.' | ',' | ';' | ':'))) {
        // `...` is an ellipsis, part of the answer.
        let n = toks.len();
        if n >= 2 && toks[n - 1] == Tok::Op('.') && toks[n - 2] == Tok::Op('.') {
            break;
        }
        toks.pop();
    }
    if toks.is_empty() {
        return fail(0, "empty answer");
    }
    if let [Tok::Word(w)] = toks.as_slice() {
        if w.len() >= 2 && function_named(w).is_none() && !matches!(*w, "pi" | "inf") {
            return Ok(Expr::Text(w.to_string()));
        }
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        depth: 0,
        furthest: Cell::new(0),
        too_deep: false,
    };
    let expr = parser.list();
    let at = |index: usize| offsets.get(index).copied().unwrap_or(input.len());
    match expr {
        Some(expr) if parser.pos == parser.toks.len() => Ok(expr),
        Some(_) => fail(
            at(parser.pos),
            "unexpected text after a complete expression",
        ),
        None if parser.too_deep => fail(at(parser.furthest.get()), "nested too deeply"),
        None => fail(at(parser.furthest.get()), "malformed expression"),
    }
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    depth: usize,
    /// The furthest token looked at: where a failed parse stopped.
    furthest: Cell<usize>,
    too_deep: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.furthest.set(self.furthest.get().max(self.pos));
        self.toks.get(self.pos)
    }

    fn peek_at(&self, offset: usize) -> Option<&Tok<'a>> {
        self.toks.get(self.pos + offset)
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        self.furthest.set(self.furthest.get().max(self.pos));
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn eat_op(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Op(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_cmd(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Cmd(n)) if n == name) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, c: char) -> Option<()> {
        self.eat_op(c).then_some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.too_deep |= self.depth > MAX_DEPTH;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Whether the next token separates list items; consumes it. `Some(true)` for `;`.
    fn list_separator(&mut self) -> Option<bool> {
        let sep = match self.peek()? {
            Tok::Op(',') => Some(false),
            Tok::Op(';') => Some(true),
            Tok::Word(w) if is_separator_word(w) => Some(false),
            Tok::Text(t) if is_separator_text(t) => Some(false),
            _ => None,
        }?;
        self.pos += 1;
        // `, and` / `, or`: one separator.
        while let Some(Tok::Word(w)) = self.peek() {
            if !is_separator_word(w) {
                break;
            }
            self.pos += 1;
        }
        while let Some(Tok::Text(t)) = self.peek() {
            if !is_separator_text(t) {
                break;
            }
            self.pos += 1;
        }
        Some(sep)
    }

    /// The top level: items separated by `,` (and `;` between groups). Several items are a set;
    /// `;`-separated groups of several items are a set of tuples (`p=5,q=2;p=7,q=2`).
    fn list(&mut self) -> Option<Expr> {
        let mut groups: Vec<Vec<Expr>> = vec![Vec::new()];
        loop {
            let item = self.relation()?;
            groups.last_mut()?.push(item);
            match self.list_separator() {
                Some(true) => groups.push(Vec::new()),
                Some(false) => {}
                None => break,
            }
            // A trailing separator ends the list.
            if self.peek().is_none() {
                break;
            }
        }
        let mut groups: Vec<Expr> = groups
            .into_iter()
            .filter(|g| !g.is_empty())
            .map(|mut g| {
                if g.len() == 1 {
                    g.pop().unwrap_or(Expr::Set(Vec::new()))
                } else {
                    Expr::Set(g)
                }
            })
            .collect();
        if groups.len() == 1 {
            return groups.pop();
        }
        // Groups of several items separated by `;` are tuples.
        let any_multi = groups.iter().any(|g| matches!(g, Expr::Set(_)));
        Some(Expr::Set(
            groups
                .into_iter()
                .map(|g| match g {
                    Expr::Set(items) if any_multi => Expr::Tuple(items),
                    other => other,
                })
                .collect(),
        ))
    }

    /// Items inside brackets: `,` and `;` both separate.
    fn sequence(&mut self) -> Option<Vec<Expr>> {
        let mut items = Vec::new();
        loop {
            items.push(self.relation()?);
            if !(self.eat_op(',') || self.eat_op(';')) {
                return Some(items);
            }
        }
    }

    fn relation_op(&self) -> Option<RelOp> {
        Some(match self.peek()? {
            Tok::Op('=') | Tok::Rel('=') => RelOp::Eq,
            Tok::Op('<') => RelOp::Lt,
            Tok::Op('>') => RelOp::Gt,
            Tok::Rel('≤') => RelOp::Le,
            Tok::Rel('≥') => RelOp::Ge,
            Tok::Rel('≠') => RelOp::Ne,
            Tok::Rel('≈') => RelOp::Approx,
            _ => return None,
        })
    }

    fn relation(&mut self) -> Option<Expr> {
        // `\Rightarrow x = 3`: what follows the implication is the answer.
        let mut first = self.union()?;
        if self.eat_cmd("in") {
            let set = self.union()?;
            return Some(Expr::ElementOf(Box::new(first), Box::new(set)));
        }
        while matches!(self.peek(), Some(Tok::Cmd(c)) if matches!(c.as_ref(), "Rightarrow" | "implies" | "to" | "rightarrow" | "Longrightarrow"))
        {
            self.pos += 1;
            first = self.union()?;
        }
        let mut operands = vec![first];
        let mut ops = Vec::new();
        while let Some(op) = self.relation_op() {
            self.pos += 1;
            ops.push(op);
            operands.push(self.union()?);
        }
        if ops.is_empty() {
            return operands.pop();
        }
        Some(Expr::Relation { operands, ops })
    }

    fn union(&mut self) -> Option<Expr> {
        let first = self.ratio()?;
        if !matches!(self.peek(), Some(Tok::Cmd(c)) if c == "cup") {
            return Some(first);
        }
        let mut parts = vec![as_interval(first)];
        while self.eat_cmd("cup") {
            parts.push(as_interval(self.ratio()?));
        }
        Some(Expr::Union(parts))
    }

    fn ratio(&mut self) -> Option<Expr> {
        let first = self.sum()?;
        // `{n \choose k}`: TeX's infix binomial, whose group is the braces around it.
        if self.eat_cmd("choose") {
            let k = self.sum()?;
            return Some(Expr::Func(Func::Binom, vec![first, k]));
        }
        if self.peek() != Some(&Tok::Op(':')) || self.peek_at(1).is_none() {
            return Some(first);
        }
        let mut parts = vec![first];
        while self.peek() == Some(&Tok::Op(':')) && self.peek_at(1).is_some() {
            self.pos += 1;
            parts.push(self.sum()?);
        }
        Some(Expr::Ratio(parts))
    }

    fn sum(&mut self) -> Option<Expr> {
        self.enter()?;
        let mut terms = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Tok::Op('+')) => {
                    self.pos += 1;
                    terms.push(self.unary()?);
                }
                Some(Tok::Op('-')) => {
                    self.pos += 1;
                    terms.push(Expr::Neg(Box::new(self.unary()?)));
                }
                Some(Tok::Cmd(c)) if c == "pm" || c == "mp" => {
                    self.pos += 1;
                    let rest = self.unary()?;
                    let acc = collapse_sum(std::mem::take(&mut terms));
                    terms.push(Expr::PlusMinus(Box::new(acc), Box::new(rest)));
                }
                _ => break,
            }
        }
        self.leave();
        Some(collapse_sum(terms))
    }

    fn unary(&mut self) -> Option<Expr> {
        self.enter()?;
        let result = match self.peek() {
            Some(Tok::Op('-')) => {
                self.pos += 1;
                Expr::Neg(Box::new(self.unary()?))
            }
            Some(Tok::Op('+')) => {
                self.pos += 1;
                self.unary()?
            }
            Some(Tok::Cmd(c)) if c == "pm" || c == "mp" => {
                self.pos += 1;
                Expr::PlusMinus(Box::new(Expr::int(0)), Box::new(self.unary()?))
            }
            _ => self.product()?,
        };
        self.leave();
        Some(result)
    }

    /// Whether the next token can begin a factor multiplied by juxtaposition.
    fn starts_implicit_factor(&self) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) => !is_separator_word(w) && !is_percent_word(w) && *w != "mod",
            Some(Tok::Cmd(c)) => {
                !matches!(
                    c.as_ref(),
                    "pm" | "mp"
                        | "choose"
                        | "bmod"
                        | "cup"
                        | "in"
                        | "}"
                        | "dots"
                        | "to"
                        | "Rightarrow"
                        | "rightarrow"
                        | "implies"
                        | "Longrightarrow"
                        | "rfloor"
                        | "rceil"
                        | "circ"
                ) && !c.starts_with("end:")
            }
            Some(Tok::Op('(' | '{')) => true,
            // A number multiplies what closes before it (`(n+1)2^n`, `\binom{4}{2}3!`, `5!5!`,
            // `n2^n`), never another number (`2 3` stays malformed: a typo or a list), nor a
            // word (`So 5`, `it is 5` are prose, not products of letters).
            Some(Tok::Num(_) | Tok::Repeating { .. }) => {
                match self.pos.checked_sub(1).and_then(|i| self.toks.get(i)) {
                    // `(a) 5`, `(2) 3`: a label, not a factor.
                    Some(Tok::Op(')')) => {
                        !(self.pos >= 3
                            && self.toks[self.pos - 3] == Tok::Op('(')
                            && matches!(self.toks[self.pos - 2], Tok::Word(_) | Tok::Num(_)))
                    }
                    Some(Tok::Op('}' | '!')) => true,
                    Some(Tok::Word(w)) => w.len() == 1,
                    _ => false,
                }
            }
            _ => false,
        }
    }

    fn product(&mut self) -> Option<Expr> {
        let literal = matches!(self.peek(), Some(Tok::Num(_)));
        let mut factors = vec![self.power()?];
        // Mixed numbers: `4 4/9` and `2\frac{1}{2}` mean 4 + 4/9 and 2 + 1/2 (a written integer
        // only: `(11) 4/9` is not one).
        let literal =
            literal && matches!(self.toks.get(self.pos.wrapping_sub(1)), Some(Tok::Num(_)));
        if literal {
            if let Some(mixed) = self.mixed_number(&factors[0])? {
                factors[0] = mixed;
            }
        }
        loop {
            match self.peek() {
                Some(Tok::Op('*')) => {
                    self.pos += 1;
                    factors.push(self.power_or_signed()?);
                }
                Some(Tok::Op('/')) => {
                    self.pos += 1;
                    let denominator = self.power_or_signed()?;
                    let numerator = collapse_product(std::mem::take(&mut factors));
                    factors.push(Expr::Div(Box::new(numerator), Box::new(denominator)));
                }
                // `2^{10} \bmod 7`, `105 mod 7`: the remainder, as tight as a product.
                Some(Tok::Cmd(c)) if c == "bmod" => {
                    self.pos += 1;
                    let modulus = self.power_or_signed()?;
                    let value = collapse_product(std::mem::take(&mut factors));
                    factors.push(Expr::Func(Func::Mod, vec![value, modulus]));
                }
                Some(Tok::Word("mod")) => {
                    self.pos += 1;
                    let modulus = self.power_or_signed()?;
                    let value = collapse_product(std::mem::take(&mut factors));
                    factors.push(Expr::Func(Func::Mod, vec![value, modulus]));
                }
                Some(Tok::Text(t)) if is_unit_text(t) => {
                    self.pos += 1;
                    self.skip_unit_power();
                }
                Some(Tok::Word(w)) if is_unit_word(w) => {
                    self.pos += 1;
                    self.skip_unit_power();
                }
                Some(Tok::Word(w)) if is_percent_word(w) => {
                    self.pos += 1;
                    let last = factors.pop()?;
                    factors.push(Expr::Percent(Box::new(last)));
                }
                _ if self.starts_implicit_factor() => factors.push(self.power()?),
                _ => break,
            }
        }
        Some(collapse_product(factors))
    }

    /// After `-` in a product (`2 * -3`), a signed factor.
    fn power_or_signed(&mut self) -> Option<Expr> {
        if self.eat_op('-') {
            return Some(Expr::Neg(Box::new(self.power()?)));
        }
        self.power()
    }

    /// `cm^2`: the power of a dropped unit goes with it.
    fn skip_unit_power(&mut self) {
        if self.peek() == Some(&Tok::Op('^')) {
            if let Some(Tok::Num(_)) = self.peek_at(1) {
                self.pos += 2;
            } else if self.peek_at(1) == Some(&Tok::Op('{'))
                && self.peek_at(3) == Some(&Tok::Op('}'))
            {
                self.pos += 4;
            }
        }
    }

    /// `int int/int` (plain) or `int \frac{int}{int}` right after an integer factor. Returns
    /// `Some(None)` when this is not a mixed number and `None` when it is a malformed one
    /// (`11 6/6`: improper, `4 4/0`: zero denominator).
    fn mixed_number(&mut self, whole: &Expr) -> Option<Option<Expr>> {
        let Expr::Num {
            value,
            decimals: None,
        } = whole
        else {
            return Some(None);
        };
        let (numerator, denominator, width) = match (self.peek(), self.peek_at(1), self.peek_at(2))
        {
            (Some(Tok::Num(n)), Some(Tok::Op('/')), Some(Tok::Num(d))) => (n, d, 3),
            (Some(Tok::Cmd(c)), Some(Tok::Op('{')), Some(Tok::Num(n)))
                if c == "frac"
                    && self.peek_at(3) == Some(&Tok::Op('}'))
                    && self.peek_at(4) == Some(&Tok::Op('{'))
                    && self.peek_at(6) == Some(&Tok::Op('}')) =>
            {
                match self.peek_at(5) {
                    Some(Tok::Num(d)) => (n, d, 7),
                    _ => return Some(None),
                }
            }
            _ => return Some(None),
        };
        if numerator.contains('.') || denominator.contains('.') {
            return None;
        }
        let numerator: BigInt = numerator.parse().ok()?;
        let denominator: BigInt = denominator.parse().ok()?;
        if denominator.is_zero() || numerator >= denominator {
            return None;
        }
        self.pos += width;
        let fraction = BigRational::new(numerator, denominator);
        let mut mixed = Expr::Num {
            value: value + fraction,
            decimals: None,
        };
        if self.eat_op('%') {
            mixed = Expr::Percent(Box::new(mixed));
        }
        Some(Some(mixed))
    }

    fn power(&mut self) -> Option<Expr> {
        self.enter()?;
        let base = self.postfix()?;
        let result = if self.peek() == Some(&Tok::Op('^')) {
            self.pos += 1;
            // `90^\circ`, `90^{\circ}`: degrees, a unit.
            if self.eat_cmd("circ") {
                base
            } else if self.peek() == Some(&Tok::Op('{'))
                && self.peek_at(1) == Some(&Tok::Cmd("circ".into()))
                && self.peek_at(2) == Some(&Tok::Op('}'))
            {
                self.pos += 3;
                base
            } else {
                let exponent = self.exponent()?;
                let powered = Expr::Pow(Box::new(base), Box::new(exponent));
                self.postfix_ops(powered)?
            }
        } else {
            base
        };
        self.leave();
        Some(result)
    }

    /// A power's exponent: a braced group, or one signed atom (`x^-1`, `x^2`, `2^\frac12`).
    fn exponent(&mut self) -> Option<Expr> {
        if self.eat_op('-') {
            return Some(Expr::Neg(Box::new(self.exponent()?)));
        }
        if let Some(Tok::Num(n)) = self.peek() {
            // `x^23` in LaTeX is x^2 followed by 3; in plain text it is x^23. Plain wins: models
            // write `2^10` far more often than a power glued to a coefficient.
            let n = n.clone();
            self.pos += 1;
            return number(&n);
        }
        self.power()
    }

    fn postfix(&mut self) -> Option<Expr> {
        let atom = self.atom()?;
        self.postfix_ops(atom)
    }

    fn postfix_ops(&mut self, mut expr: Expr) -> Option<Expr> {
        loop {
            match self.peek() {
                Some(Tok::Op('!')) => {
                    self.pos += 1;
                    // `(2n-1)!!` is the double factorial, as it is conventionally read.
                    let func = if self.eat_op('!') {
                        Func::DoubleFactorial
                    } else {
                        Func::Factorial
                    };
                    expr = Expr::Func(func, vec![expr]);
                }
                Some(Tok::Op('%')) => {
                    self.pos += 1;
                    expr = Expr::Percent(Box::new(expr));
                }
                Some(Tok::Op('\'')) => {
                    self.pos += 1;
                    expr = match expr {
                        Expr::Sym(name) => Expr::Sym(format!("{name}'")),
                        other => other,
                    };
                }
                Some(Tok::Op('_')) => {
                    self.pos += 1;
                    let subscript = self.argument()?;
                    expr = subscripted(expr, subscript)?;
                }
                _ => return Some(expr),
            }
        }
    }

    /// A command argument: a braced group, or a single digit, letter or command (`\frac12`).
    fn argument(&mut self) -> Option<Expr> {
        match self.peek()? {
            Tok::Op('{') => {
                self.pos += 1;
                if self.eat_op('}') {
                    return Some(Expr::Text(String::new()));
                }
                let inner = self.list()?;
                self.expect_op('}')?;
                Some(inner)
            }
            Tok::Num(n) => {
                let n = n.clone();
                let first = n.chars().next()?;
                if n.len() == 1 || first == '.' {
                    self.pos += 1;
                    return number(&n);
                }
                // `\frac12`: take one digit, leave the rest.
                let value = number(&n[..first.len_utf8()]);
                self.toks[self.pos] = Tok::Num(match n {
                    Cow::Borrowed(digits) => Cow::Borrowed(&digits[1..]),
                    Cow::Owned(digits) => Cow::Owned(digits[1..].to_string()),
                });
                value
            }
            Tok::Word(w) => {
                let w: &'a str = w;
                if w.len() == 1 {
                    self.pos += 1;
                    return Some(letter(w));
                }
                self.toks[self.pos] = Tok::Word(&w[1..]);
                Some(letter(&w[..1]))
            }
            Tok::Cmd(_) | Tok::Repeating { .. } => self.atom(),
            Tok::Op('(') => self.atom(),
            _ => None,
        }
    }

    fn atom(&mut self) -> Option<Expr> {
        self.enter()?;
        let result = self.atom_inner();
        self.leave();
        result
    }

    fn atom_inner(&mut self) -> Option<Expr> {
        match self.next()? {
            Tok::Num(n) => number(&n),
            Tok::Repeating { digits, period } => repeating(&digits, period),
            Tok::Word(w) => self.word(w),
            Tok::Text(t) => self.text(t),
            Tok::Cmd(c) => self.command(&c),
            Tok::Op('(') => {
                let items = self.sequence()?;
                match self.next()? {
                    Tok::Op(')') => Some(if items.len() == 1 {
                        items.into_iter().next()?
                    } else {
                        Expr::Tuple(items)
                    }),
                    Tok::Op(']') => interval(items, false, true),
                    _ => None,
                }
            }
            Tok::Op('[') => {
                let items = self.sequence()?;
                match self.next()? {
                    Tok::Op(']') if items.len() == 2 => interval(items, true, true),
                    Tok::Op(']') if items.len() == 1 => items.into_iter().next(),
                    Tok::Op(']') => Some(Expr::Tuple(items)),
                    Tok::Op(')') => interval(items, true, false),
                    _ => None,
                }
            }
            Tok::Op('{') => {
                if self.eat_op('}') {
                    return Some(Expr::Set(Vec::new()));
                }
                let items = self.sequence()?;
                self.expect_op('}')?;
                Some(if items.len() == 1 {
                    items.into_iter().next()?
                } else {
                    Expr::Set(items)
                })
            }
            Tok::Op('|') => {
                let inner = self.sum()?;
                self.expect_op('|')?;
                Some(Expr::Func(Func::Abs, vec![inner]))
            }
            Tok::Op('.') if self.eat_op('.') && self.eat_op('.') => Some(Expr::Text("...".into())),
            _ => None,
        }
    }

    fn word(&mut self, w: &str) -> Option<Expr> {
        match w {
            "pi" => return Some(Expr::Const(Constant::Pi)),
            "inf" | "infty" | "infinity" | "oo" => return Some(Expr::Const(Constant::Infinity)),
            _ => {}
        }
        if let Some(func) = function_named(w) {
            return self.function(func);
        }
        if w.len() == 1 {
            if FUNCTION_LETTERS.contains(w) && self.peek() == Some(&Tok::Op('(')) {
                self.pos += 1;
                let args = self.sequence()?;
                self.expect_op(')')?;
                return Some(Expr::Apply(w.to_string(), args));
            }
            return Some(letter(w));
        }
        if is_separator_word(w) || is_percent_word(w) {
            return None;
        }
        // A run of letters in an expression: a product of one-letter symbols (`2ab`, `xy`).
        let mut letters: Vec<Expr> = w.chars().map(|c| Expr::Sym(c.to_string())).collect();
        if letters.len() == 1 {
            return letters.pop();
        }
        Some(Expr::Mul(letters))
    }

    fn text(&mut self, t: &str) -> Option<Expr> {
        let trimmed = t.trim();
        if trimmed == "e" {
            return Some(Expr::Const(Constant::E));
        }
        if trimmed.is_empty() {
            return Some(Expr::Text(String::new()));
        }
        if trimmed.bytes().any(|b| b.is_ascii_digit()) || trimmed.len() == 1 {
            if let Some(inner) = parse(trimmed) {
                return Some(inner);
            }
        }
        Some(Expr::Text(trimmed.to_string()))
    }

    fn function(&mut self, func: Func) -> Option<Expr> {
        // `\sin^2 x`: the power applies to the value.
        let mut power = None;
        if self.eat_op('^') {
            power = Some(self.exponent()?);
        }
        let mut base = None;
        if func == Func::Log && self.eat_op('_') {
            base = Some(self.argument()?);
        }
        let arg = if self.eat_op('(') {
            let inner = self.list()?;
            self.expect_op(')')?;
            inner
        } else if func == Func::Root {
            self.argument()?
        } else {
            self.power()?
        };
        let mut args = vec![arg];
        if func == Func::Root {
            args.push(Expr::int(2));
        }
        if let Some(base) = base {
            args.push(base);
        }
        let applied = Expr::Func(func, args);
        Some(match power {
            Some(p) => Expr::Pow(Box::new(applied), Box::new(p)),
            None => applied,
        })
    }

    fn command(&mut self, c: &str) -> Option<Expr> {
        if let Some(func) = function_named(c) {
            if func != Func::Root {
                return self.function(func);
            }
        }
        match c {
            "frac" => {
                let numerator = self.argument()?;
                let denominator = self.argument()?;
                Some(Expr::Div(Box::new(numerator), Box::new(denominator)))
            }
            "sqrt" => {
                let index = if self.eat_op('[') {
                    let index = self.sum()?;
                    self.expect_op(']')?;
                    index
                } else {
                    Expr::int(2)
                };
                let radicand = self.argument()?;
                Some(Expr::Func(Func::Root, vec![radicand, index]))
            }
            "binom" | "dbinom" | "tbinom" => {
                let n = self.argument()?;
                let k = self.argument()?;
                Some(Expr::Func(Func::Binom, vec![n, k]))
            }
            "pi" => Some(Expr::Const(Constant::Pi)),
            "infty" => Some(Expr::Const(Constant::Infinity)),
            "Gamma" => {
                if self.peek() == Some(&Tok::Op('(')) {
                    self.function(Func::Gamma)
                } else {
                    Some(Expr::Const(Constant::EulerGamma))
                }
            }
            "emptyset" | "varnothing" => Some(Expr::Set(Vec::new())),
            "{" => {
                if self.eat_cmd("}") {
                    return Some(Expr::Set(Vec::new()));
                }
                let items = self.sequence()?;
                if !self.eat_cmd("}") {
                    return None;
                }
                Some(Expr::Set(items))
            }
            "lfloor" | "lceil" => {
                let inner = self.sum()?;
                let close = if c == "lfloor" { "rfloor" } else { "rceil" };
                if !self.eat_cmd(close) {
                    return None;
                }
                let func = if c == "lfloor" {
                    Func::Floor
                } else {
                    Func::Ceil
                };
                Some(Expr::Func(func, vec![inner]))
            }
            "boxed" | "fbox" => self.argument(),
            "dots" => Some(Expr::Text("...".into())),
            "alpha" | "beta" | "gamma" | "delta" | "theta" | "lambda" | "mu" | "sigma" | "phi"
            | "varphi" | "omega" | "rho" | "tau" | "epsilon" | "varepsilon" | "psi" | "chi"
            | "eta" | "zeta" | "xi" | "kappa" | "nu" | "Delta" | "Omega" | "Phi" | "Theta"
            | "Lambda" | "Sigma" | "Psi" => Some(Expr::Sym(c.to_string())),
            _ if c.starts_with("begin:") => self.matrix(&c["begin:".len()..]),
            // Operators we do not evaluate: an answer using them does not parse.
            "sum" | "prod" | "int" | "iint" | "oint" | "lim" | "limsup" | "liminf" | "max"
            | "min" | "sup" | "inf" | "det" | "partial" | "nabla" | "cap" | "setminus" | "}"
            | "circ" | "cup" | "in" | "pm" | "mp" | "choose" | "bmod" => None,
            _ if c.starts_with("end:") => None,
            // Any other command is a name (`\zzz`, `\alpha`), as Math-Verify reads it.
            _ if c.bytes().all(|b| b.is_ascii_alphabetic()) => Some(Expr::Sym(format!("\\{c}"))),
            _ => None,
        }
    }

    fn matrix(&mut self, env: &str) -> Option<Expr> {
        if !matches!(
            env,
            "pmatrix" | "bmatrix" | "Bmatrix" | "vmatrix" | "matrix" | "smallmatrix" | "array"
        ) {
            return None;
        }
        let end = format!("end:{env}");
        let mut rows = Vec::new();
        let mut row = Vec::new();
        loop {
            if self.eat_cmd(&end) {
                break;
            }
            match self.peek()? {
                Tok::RowBreak => {
                    self.pos += 1;
                    rows.push(std::mem::take(&mut row));
                    continue;
                }
                Tok::Op('&') => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            row.push(self.sum()?);
        }
        if !row.is_empty() {
            rows.push(row);
        }
        rows.retain(|r| !r.is_empty());
        let width = rows.first()?.len();
        if rows.iter().any(|r| r.len() != width) {
            return None;
        }
        Some(Expr::Matrix(rows))
    }
}

/// A single letter: `e` and `i` are the constants, anything else a symbol.
fn letter(w: &str) -> Expr {
    match w {
        "e" => Expr::Const(Constant::E),
        "i" => Expr::Const(Constant::I),
        _ => Expr::Sym(w.to_string()),
    }
}

/// A numeric literal; `None` past [`MAX_DIGITS`].
pub fn number(text: &str) -> Option<Expr> {
    if text.len() > MAX_DIGITS {
        return None;
    }
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if let Some(value) = small_decimal(whole, frac.unwrap_or("")) {
        return Some(Expr::Num {
            value,
            decimals: frac.map(|f| f.len() as u32),
        });
    }
    let digits = format!("{whole}{}", frac.unwrap_or(""));
    let digits = if digits.is_empty() { "0" } else { &digits };
    let numerator: BigInt = digits.parse().ok()?;
    let places = frac.map_or(0, str::len) as u32;
    let denominator = num_traits::pow(BigInt::from(10), places as usize);
    Some(Expr::Num {
        value: BigRational::new(numerator, denominator),
        decimals: frac.map(|_| places),
    })
}

/// A repeating decimal, exactly: `digits` (`0.1`, or `0.` with no digit before the period)
/// followed by `period` repeated forever (`0.1(6)` is 1/6). Not a decimal approximation, so it
/// compares exactly, like a fraction.
fn repeating(digits: &str, period: &str) -> Option<Expr> {
    let (whole, frac) = digits.split_once('.')?;
    if whole.len() + frac.len() + period.len() > MAX_DIGITS {
        return None;
    }
    let int = |s: &str| -> Option<BigInt> {
        if s.is_empty() {
            Some(BigInt::zero())
        } else {
            s.parse().ok()
        }
    };
    // x = W.F(P): 10^|F| (10^|P| - 1) x = WFP - WF.
    let prefix = int(&format!("{whole}{frac}"))?;
    let all = int(&format!("{whole}{frac}{period}"))?;
    let ten = BigInt::from(10);
    let denominator = num_traits::pow(ten.clone(), frac.len())
        * (num_traits::pow(ten, period.len()) - BigInt::one());
    Some(Expr::Num {
        value: BigRational::new(all - prefix, denominator),
        decimals: None,
    })
}

/// `whole.frac` in lowest terms when it has at most 18 digits (the usual case): machine
/// arithmetic, the same value and form as the big-integer path.
fn small_decimal(whole: &str, frac: &str) -> Option<BigRational> {
    if whole.len() + frac.len() > 18 {
        return None;
    }
    let mut numerator: i128 = 0;
    for b in whole.bytes().chain(frac.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        numerator = numerator * 10 + i128::from(b - b'0');
    }
    Some(ratio_i128(numerator, 10i128.pow(frac.len() as u32)))
}

fn collapse_sum(mut terms: Vec<Expr>) -> Expr {
    if terms.len() == 1 {
        terms.pop().unwrap_or(Expr::int(0))
    } else {
        Expr::Add(terms)
    }
}

fn collapse_product(mut factors: Vec<Expr>) -> Expr {
    if factors.len() == 1 {
        factors.pop().unwrap_or(Expr::int(1))
    } else {
        Expr::Mul(factors)
    }
}

fn interval(items: Vec<Expr>, lo_closed: bool, hi_closed: bool) -> Option<Expr> {
    let [lo, hi]: [Expr; 2] = items.try_into().ok()?;
    Some(Expr::Interval {
        lo: Box::new(lo),
        hi: Box::new(hi),
        lo_closed,
        hi_closed,
    })
}

/// In a union, `(a, b)` is an open interval, not a pair.
fn as_interval(e: Expr) -> Expr {
    match e {
        Expr::Tuple(items) if items.len() == 2 => {
            interval(items, false, false).unwrap_or(Expr::Tuple(Vec::new()))
        }
        other => other,
    }
}

/// `x_1`, `a_{37}`, `F_{n-1}` are names; `204_5` is a numeral in base 5, kept as a name.
fn subscripted(base: Expr, subscript: Expr) -> Option<Expr> {
    match base {
        Expr::Sym(name) => Some(Expr::Indexed(name, Box::new(subscript))),
        Expr::Num {
            value,
            decimals: None,
        } if value.is_integer() => {
            let Expr::Num { value: base, .. } = subscript else {
                return None;
            };
            Some(Expr::Sym(format!("{}_{}", value.numer(), base.numer())))
        }
        Expr::Const(c) => {
            let name = match c {
                Constant::E => "e",
                Constant::I => "i",
                _ => return None,
            };
            Some(Expr::Indexed(name.into(), Box::new(subscript)))
        }
        Expr::Text(t) => Some(Expr::Indexed(t, Box::new(subscript))),
        _ => None,
    }
}

/// Whether a parsed value is the number one (used to drop `1` coefficients in tests).
#[allow(dead_code)]
fn is_one(e: &Expr) -> bool {
    matches!(e, Expr::Num { value, .. } if value.is_one())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s).unwrap_or_else(|| panic!("did not parse: {s}"))
    }

    #[test]
    fn parses_common_forms() {
        for s in [
            r"\frac{1}{2}",
            r"\frac12",
            r"2\sqrt{3}",
            r"\sqrt[3]{x}^2",
            r"x^2+2x+1",
            r"(1,2)",
            r"[0,1)",
            r"\{1,2\}",
            r"(1,2)\cup(3,\infty)",
            r"\begin{pmatrix}1&2\\3&4\end{pmatrix}",
            r"x \le 3",
            r"-2 \le x < 7",
            r"1 \pm \sqrt{19}",
            r"\sin^2(y)+1",
            r"\log_2 8",
            r"28\%",
            r"\binom{5}{2}",
            r"f(x)=1",
            r"3*x-1*y+13=0",
            r"-1 + exp(16)",
            r"14.0 + -1.0i",
            r"\text{Evelyn}",
            r"15\mbox{ cm}^2",
        ] {
            p(s);
        }
    }

    #[test]
    fn mixed_numbers() {
        assert_eq!(p("4 4/9"), number("4").map(|_| p("4 4/9")).unwrap());
        let Expr::Num { value, .. } = p("4 4/9") else {
            panic!()
        };
        assert_eq!(value, BigRational::new(40.into(), 9.into()));
        assert!(parse("11 6/6").is_none());
        assert!(parse("4 4/0").is_none());
        let Expr::Num { value, .. } = p(r"2\frac{1}{2}") else {
            panic!()
        };
        assert_eq!(value, BigRational::new(5.into(), 2.into()));
    }

    fn value(s: &str) -> BigRational {
        let v = crate::math::eval::eval(&p(s), &crate::math::eval::Point::new(&[], 1))
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
        v.exact()
            .unwrap_or_else(|| panic!("{s} is not exact"))
            .clone()
    }

    fn ratio(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn implied_multiplication_before_numbers() {
        assert_eq!(value(r"\frac{10!}{5!\,5!}"), ratio(252, 1));
        assert_eq!(value("5!5!"), ratio(14400, 1));
        assert_eq!(value(r"\binom{4}{2}3!"), ratio(36, 1));
        assert_eq!(value(r"3\binom{4}{2}"), ratio(18, 1));
        assert_eq!(value(r"\binom42"), ratio(6, 1));
        assert_eq!(value(r"(2+1)2^{3}"), ratio(24, 1));
        p(r"n(n+1)2^{n-2}");
        p(r"(n+1)2^{n}");
        p(r"2\sqrt{3}\pi");
        // Two numbers side by side stay malformed.
        assert!(parse("2 3").is_none());
        assert!(parse(r"x^2 3").is_none());
        assert!(parse("(a) 5").is_none());
        assert!(parse("(2) 3").is_none());
    }

    #[test]
    fn choose_and_double_factorial() {
        assert_eq!(value(r"{6 \choose 2}"), ratio(15, 1));
        assert_eq!(value(r"\binom{6}{2}"), value(r"{6 \choose 2}"));
        assert_eq!(value("7!!"), ratio(105, 1));
        assert_eq!(value("(2*4-1)!!"), ratio(105, 1));
        assert_eq!(value("8!!"), ratio(384, 1));
        assert_eq!(value("0!!"), ratio(1, 1));
        assert_eq!(value(r"2^{10} \bmod 7"), ratio(2, 1));
        assert_eq!(value("3^105 + 4^105 mod 7"), value("3^105 + 1"));
        assert_eq!(value("-7 mod 3"), ratio(-1, 1));
        p("(2n-1)!!");
    }

    #[test]
    fn tex_spaces_separate_thousands() {
        assert_eq!(value(r"1\,234"), ratio(1234, 1));
        assert_eq!(value(r"2\,001\,000"), ratio(2_001_000, 1));
        assert_eq!(value(r"12\ 345"), ratio(12345, 1));
        assert_eq!(value("1 000 000"), ratio(1_000_000, 1));
        assert_eq!(value(r"1\,234.5"), ratio(12345, 10));
        // Not three digits, or the fraction of a mixed number: no separator.
        assert!(parse(r"12\,34").is_none());
        assert_eq!(value("4 444/999"), ratio(4 * 999 + 444, 999));
    }

    #[test]
    fn repeating_decimals_are_exact() {
        assert_eq!(value(r"0.\overline{6}"), ratio(2, 3));
        assert_eq!(value(r"0.0\overline{5}"), ratio(1, 18));
        assert_eq!(value("0.1(6)"), ratio(1, 6));
        assert_eq!(value(r"1.\overline{142857}"), ratio(8, 7));
        assert_eq!(value(r"0.\bar{3}"), ratio(1, 3));
        assert_eq!(value(r"\frac{1}{0.\overline{3}}"), ratio(3, 1));
        assert!(matches!(
            p(r"0.\overline{6}"),
            Expr::Num { decimals: None, .. }
        ));
    }

    #[test]
    fn errors_say_where_parsing_stopped() {
        let e = parse_detailed(r"\frac{1}{2} )").unwrap_err();
        assert_eq!(e.at, r"\frac{1}{2} ".len(), "{e:?}");
        let e = parse_detailed(r"2x + \frac{1}{").unwrap_err();
        assert!(e.at >= "2x + ".len(), "{e:?}");
        let e = parse_detailed("2 3").unwrap_err();
        assert_eq!(e.at, 2, "{e:?}");
        let e = parse_detailed("1 + \u{1F600}").unwrap_err();
        assert_eq!(e.at, 4, "{e:?}");
    }

    #[test]
    fn rejects_malformed_and_deep_input() {
        assert!(parse(r"\frac{1}{").is_none());
        assert!(parse(&"(".repeat(100_000)).is_none());
        let tower = "2^".repeat(10_000) + "2";
        assert!(parse(&tower).is_none());
    }
}
