//! The expression tree that both LaTeX and plain-text answers parse into, and its canonical form.
//!
//! The tree keeps what the writer meant (a decimal stays a decimal, a percent stays a percent,
//! `\pm` stays a choice) so that the equivalence checker can apply the documented rules; it is
//! not simplified here beyond ordering the children of commutative operators, which is what lets
//! `a b` and `b a` compare structurally.

use num_rational::BigRational;

/// Named constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Constant {
    Pi,
    E,
    I,
    Infinity,
    EulerGamma,
}

/// Known functions; `Root` takes (radicand, index), `Log` takes (argument, base).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Cot,
    Sec,
    Csc,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Ln,
    Log,
    Exp,
    Root,
    Abs,
    Factorial,
    /// `n!!`: n (n-2) (n-4) ... down to 1 or 2.
    DoubleFactorial,
    /// `a \bmod n`: args (a, n); the remainder of integers, 0 <= r < |n|.
    Mod,
    Binom,
    Gamma,
    Floor,
    Ceil,
    /// `\sum_{var=lo}^{hi} body`: args (var, lo, hi, body).
    Sum,
    /// `\prod_{var=lo}^{hi} body`: args (var, lo, hi, body).
    Prod,
}

/// Relation operators, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RelOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Approx,
}

impl RelOp {
    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> RelOp {
        match self {
            RelOp::Lt => RelOp::Gt,
            RelOp::Le => RelOp::Ge,
            RelOp::Gt => RelOp::Lt,
            RelOp::Ge => RelOp::Le,
            other => other,
        }
    }
}

/// The derived order (variant, then fields) is a total order consistent with `==` (numbers
/// compare by value), which is all that sorting commutative children needs.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum Expr {
    /// A number: its exact value, and the decimal places it was written with (`Some` for `0.25`),
    /// because a written decimal is an approximation and is compared by the rounding rule.
    Num {
        value: BigRational,
        decimals: Option<u32>,
    },
    Const(Constant),
    Sym(String),
    /// `x_{n}`: a subscripted name; the subscript may be an expression (`F_{n-k-1}`).
    Indexed(String, Box<Expr>),
    /// A text answer (`\text{Evelyn}`, a multiple-choice letter, a lone word).
    Text(String),
    Neg(Box<Expr>),
    Add(Vec<Expr>),
    Mul(Vec<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Pow(Box<Expr>, Box<Expr>),
    Func(Func, Vec<Expr>),
    /// An unknown function applied to arguments: `f(x)`.
    Apply(String, Vec<Expr>),
    Percent(Box<Expr>),
    /// `a \pm b` (a unary `\pm b` has `a` = 0): two answers at once.
    PlusMinus(Box<Expr>, Box<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Interval {
        lo: Box<Expr>,
        hi: Box<Expr>,
        lo_closed: bool,
        hi_closed: bool,
    },
    Union(Vec<Expr>),
    Matrix(Vec<Vec<Expr>>),
    /// A relation or a chain of them: `operands.len() == ops.len() + 1`.
    Relation {
        operands: Vec<Expr>,
        ops: Vec<RelOp>,
    },
    /// `x \in S`.
    ElementOf(Box<Expr>, Box<Expr>),
    /// `a : b` (ratios, times of day): kept apart from division so `12:00` is not `1:00`.
    Ratio(Vec<Expr>),
}

/// A total order on trees for sorting (derived; never `None`, as no field is a float).
fn order(a: &Expr, b: &Expr) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

impl Expr {
    pub fn int(n: i64) -> Expr {
        Expr::Num {
            value: BigRational::from_integer(n.into()),
            decimals: None,
        }
    }

    pub fn is_relation(&self) -> bool {
        matches!(self, Expr::Relation { .. })
    }

    /// Whether any literal in the tree was written as a decimal.
    pub fn has_decimal(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            if let Expr::Num {
                decimals: Some(_), ..
            } = e
            {
                found = true;
            }
        });
        found
    }

    /// Calls `f` on every node, parents first.
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Num { .. } | Expr::Const(_) | Expr::Sym(_) | Expr::Text(_) => {}
            Expr::Indexed(_, e) | Expr::Neg(e) | Expr::Percent(e) => e.visit(f),
            Expr::Div(a, b) | Expr::Pow(a, b) | Expr::PlusMinus(a, b) | Expr::ElementOf(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Interval { lo, hi, .. } => {
                lo.visit(f);
                hi.visit(f);
            }
            Expr::Add(xs)
            | Expr::Mul(xs)
            | Expr::Func(_, xs)
            | Expr::Apply(_, xs)
            | Expr::Tuple(xs)
            | Expr::Set(xs)
            | Expr::Union(xs)
            | Expr::Ratio(xs) => xs.iter().for_each(|x| x.visit(f)),
            Expr::Relation { operands, .. } => operands.iter().for_each(|x| x.visit(f)),
            Expr::Matrix(rows) => rows.iter().flatten().for_each(|x| x.visit(f)),
        }
    }

    /// Free symbol names (sorted, deduplicated); summation variables are not free.
    pub fn free_symbols(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut bound = Vec::new();
        self.visit(&mut |e| match e {
            Expr::Sym(name) => names.push(name.clone()),
            Expr::Func(Func::Sum | Func::Prod, args) => {
                if let Some(Expr::Sym(var)) = args.first() {
                    bound.push(var.clone());
                }
            }
            _ => {}
        });
        names.retain(|n| !bound.contains(n));
        names.sort();
        names.dedup();
        names
    }

    /// The canonical form: commutative children sorted, nested sums and products flattened.
    /// Two canonical forms are equal exactly when the trees are equal up to the order of
    /// commutative children (any total order consistent with `==` gives that).
    pub fn canonical(&self) -> Expr {
        let map = |xs: &[Expr]| xs.iter().map(Expr::canonical).collect::<Vec<_>>();
        match self {
            Expr::Add(xs) | Expr::Mul(xs) => {
                let is_add = matches!(self, Expr::Add(_));
                let mut flat = Vec::new();
                for x in map(xs) {
                    match (is_add, x) {
                        (true, Expr::Add(inner)) | (false, Expr::Mul(inner)) => flat.extend(inner),
                        (_, other) => flat.push(other),
                    }
                }
                flat.sort_by(order);
                if is_add {
                    Expr::Add(flat)
                } else {
                    Expr::Mul(flat)
                }
            }
            Expr::Set(xs) => {
                let mut items = map(xs);
                items.sort_by(order);
                items.dedup();
                Expr::Set(items)
            }
            Expr::Indexed(n, e) => Expr::Indexed(n.clone(), Box::new(e.canonical())),
            Expr::Neg(e) => Expr::Neg(Box::new(e.canonical())),
            Expr::Percent(e) => Expr::Percent(Box::new(e.canonical())),
            Expr::Div(a, b) => Expr::Div(Box::new(a.canonical()), Box::new(b.canonical())),
            Expr::Pow(a, b) => Expr::Pow(Box::new(a.canonical()), Box::new(b.canonical())),
            Expr::PlusMinus(a, b) => {
                Expr::PlusMinus(Box::new(a.canonical()), Box::new(b.canonical()))
            }
            Expr::ElementOf(a, b) => {
                Expr::ElementOf(Box::new(a.canonical()), Box::new(b.canonical()))
            }
            Expr::Interval {
                lo,
                hi,
                lo_closed,
                hi_closed,
            } => Expr::Interval {
                lo: Box::new(lo.canonical()),
                hi: Box::new(hi.canonical()),
                lo_closed: *lo_closed,
                hi_closed: *hi_closed,
            },
            Expr::Func(f, xs) => Expr::Func(*f, map(xs)),
            Expr::Apply(n, xs) => Expr::Apply(n.clone(), map(xs)),
            Expr::Tuple(xs) => Expr::Tuple(map(xs)),
            Expr::Union(xs) => Expr::Union(map(xs)),
            Expr::Ratio(xs) => Expr::Ratio(map(xs)),
            Expr::Relation { operands, ops } => Expr::Relation {
                operands: map(operands),
                ops: ops.clone(),
            },
            Expr::Matrix(rows) => Expr::Matrix(rows.iter().map(|r| map(r)).collect()),
            leaf => leaf.clone(),
        }
    }
}
