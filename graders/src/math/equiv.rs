//! Equivalence of a gold answer and a predicted answer.
//!
//! Order of checks: structural identity (after sorting commutative children), then the shape
//! rules (sets unordered, tuples ordered, intervals with their ends, matrices element-wise,
//! equations up to rearrangement and non-zero scaling, inequalities up to flipping and positive
//! scaling, a relation gold against a set answer as Math-Verify does, and not the other way
//! round unless asked), then values: exact rationals compare exactly; with free symbols both
//! sides are evaluated at the same random points (rational points keep polynomials and rational
//! functions exact, so this is an exact identity test for them) and compared with a tight
//! relative tolerance when a value had to be approximated.
//!
//! Decimal rule: when either side contains a number written as a decimal, both values are
//! rounded to `float_rounding` decimal places (Math-Verify's rule, 6 by default) and compared;
//! two values that both round to zero must also agree relatively, so tiny numbers never collapse
//! onto each other. Integers and fractions never go through a tolerance: `1/2^99` is not `1/2^98`.
//! A value that is not finite in floating point (an overflow, or an exact value past f64's
//! range) never matches by tolerance; exact values still compare exactly at any size. The
//! absolute floor under the relative tolerance (1e-12) is only for noise around an exact zero,
//! and relations whose sides are exact at a probe point compare their ratio exactly.
//!
//! Cost: each evaluation has its own work budget, and all the evaluations of one comparison
//! share [`COMPARISON_BUDGET`]; an answer that spends it is wrong (its own cost, not a
//! `timeout`, which a trainer would drop). Only the sample's deadline gives `timeout`.

use std::borrow::Cow;
use std::cell::Cell;

use num_complex::Complex64;
use num_traits::{Signed, Zero};

use super::eval::{eval, round_exact, Point, WORK_BUDGET};
use super::expr::{Constant, Expr, Func, RelOp};
use super::number::{ratio_i128, EvalResult, Value};
use crate::registry::GradeContext;

/// Relative tolerance for two values that had to be approximated (irrationals, functions). Not
/// tighter: competition forms with cancellation carry more rounding than that (`(\sqrt2-1)^8`
/// against `577-408\sqrt2` differ by 1.6e-12 in floating point; red team, against a 1e-12 tried).
const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Relative tolerance for an approximation against an exact value: its own rounding. At 1e-9 an
/// exact zero term made an answer approximate and stretched it (`123456789112 + \cos\frac{\pi}{2}`
/// matched 123456789012; red team).
const EXACT_TOLERANCE: f64 = 1e-12;

/// The farthest, in absolute terms, an approximation may lie from an exact value it matches: a
/// big integer's neighbours are 1 away, and `e^{30}` lies 0.46 from one (red team).
const EXACT_ABSOLUTE_TOLERANCE: f64 = 1e-3;
/// Probe points per comparison with free symbols.
const PROBES: usize = 6;
/// Largest set or tuple compared element by element.
const MAX_ELEMENTS: usize = 256;

/// How to compare.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Decimal places both sides are rounded to when either contains a decimal.
    pub float_rounding: u32,
    /// `false` lets the prediction's symbols be renamed to the gold's (so `f(x)` is `f(y)`).
    pub strict: bool,
    /// Also accept a relation prediction against a set gold (`x<3` for `(-\infty,3)`).
    pub allow_set_relation: bool,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            float_rounding: 6,
            strict: true,
            allow_set_relation: false,
        }
    }
}

/// Work all the evaluations of one comparison may spend together: 64 evaluations at their own
/// whole budget (about 64 ms). One evaluation is bounded by its budget, but the number of them
/// grows with the answer (a set's items are compared pairwise to drop repeats, each pair at up
/// to twelve probe points): 20 set items that each spend a whole budget and fail took the
/// comparison past a 10 s deadline (red team), and a `timeout` is a sample the trainer drops.
const COMPARISON_BUDGET: u64 = 64 * WORK_BUDGET;

/// Steps one comparison may take (comparisons of sub-expressions, items of loops over a set's
/// items), whatever their evaluations cost: removing repeats from a set compares its items
/// pairwise, and from a set of sets, every pair of items of every pair of sets. 125 sets of 30
/// one-letter symbols, each pair alike but for one item, made ~10M cheap comparisons, 8.5 s of
/// CPU, under a work budget they hardly touched, and a `timeout` under any deadline below that
/// (red team). A set of 256 numbers takes ~33k steps to remove repeats.
const MAX_STEPS: u64 = 300_000;

/// Why a comparison stopped before it decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The sample's deadline passed.
    Deadline,
    /// The evaluations spent [`COMPARISON_BUDGET`]: the answers cost more to compare than any
    /// answer needs to.
    TooCostly,
}

pub type Outcome = Result<bool, Stopped>;

/// Whether `pred` is an acceptable answer for `gold`.
pub fn equivalent(gold: &Expr, pred: &Expr, rules: &Rules, ctx: &GradeContext) -> Outcome {
    Checker {
        rules,
        ctx,
        spent: Cell::new(0),
        steps: Cell::new(0),
    }
    .eq(gold, pred)
}

struct Checker<'a> {
    rules: &'a Rules,
    ctx: &'a GradeContext,
    /// Work spent by every evaluation so far (see [`COMPARISON_BUDGET`]).
    spent: Cell<u64>,
    /// Steps taken so far (see [`MAX_STEPS`]).
    steps: Cell<u64>,
}

impl Checker<'_> {
    /// One step of the comparison (each `eq`, each item of a loop over items): the deadline
    /// checked, and the step counted against [`MAX_STEPS`].
    fn tick(&self) -> Result<(), Stopped> {
        let steps = self.steps.get() + 1;
        self.steps.set(steps);
        if steps > MAX_STEPS {
            return Err(Stopped::TooCostly);
        }
        if self.ctx.expired() {
            Err(Stopped::Deadline)
        } else {
            Ok(())
        }
    }

    /// Evaluates `e` with `symbols`, charging its work to the comparison's budget.
    fn evaluate(
        &self,
        e: &Expr,
        symbols: &[(String, Value)],
        seed: u64,
    ) -> Result<EvalResult, Stopped> {
        let at = Point::new(symbols, seed);
        let value = eval(e, &at);
        let spent = self.spent.get().saturating_add(at.work_spent());
        self.spent.set(spent);
        if spent > COMPARISON_BUDGET {
            return Err(Stopped::TooCostly);
        }
        Ok(value)
    }

    fn eq(&self, gold: &Expr, pred: &Expr) -> Outcome {
        self.tick()?;
        if gold == pred {
            return Ok(true);
        }
        // `x = 6, y = 5` or `x = y = 0` against a tuple `(6, 5)`: the values as a tuple.
        match (gold, pred) {
            (Expr::Tuple(g), other) => {
                if let Some(values) = assigned_tuple(other, g.len()) {
                    return self.ordered(g, &values);
                }
            }
            (other, Expr::Tuple(p)) => {
                if let Some(values) = assigned_tuple(other, p.len()) {
                    return self.ordered(&values, p);
                }
            }
            _ => {}
        }
        // A chain `a = b = c` as gold, against a plain answer: the last side is the answer.
        if let Expr::Relation { operands, ops } = gold {
            let chain = ops.len() > 1 && ops.iter().all(|op| *op == RelOp::Eq);
            if chain && !pred.is_relation() {
                if let Some(last) = operands.last() {
                    return self.eq(last, pred);
                }
            }
        }
        let (gold, pred) = (normalise(gold), normalise(pred));
        let (gold, pred): (&Expr, &Expr) = (&gold, &pred);
        // Without sums, products or sets the canonical form is the tree itself: no copies.
        let same = if has_commutative(gold) || has_commutative(pred) {
            gold.canonical() == pred.canonical()
        } else {
            gold == pred
        };
        if same {
            return Ok(true);
        }
        match (gold, pred) {
            (Expr::Relation { .. }, Expr::Relation { .. }) => self.relations(gold, pred),
            (Expr::Relation { operands, ops }, _) => self.relation_gold(operands, ops, pred),
            (_, Expr::Relation { operands, ops }) => {
                if ops.iter().all(|op| matches!(op, RelOp::Eq | RelOp::Approx)) {
                    // `x = 11` answers `11`: the last right-hand side is the answer.
                    return self.eq(gold, operands.last().unwrap_or(pred));
                }
                if self.rules.allow_set_relation {
                    if let Some(set) = relation_as_set(operands, ops) {
                        return self.eq(gold, &set);
                    }
                }
                Ok(false)
            }
            (Expr::Set(g), Expr::Set(p)) => self.sets(g, p),
            (Expr::Set(g), other) | (other, Expr::Set(g)) if g.len() == 1 => {
                let single = &g[0];
                if matches!(gold, Expr::Set(_)) {
                    self.eq(single, other)
                } else {
                    self.eq(other, single)
                }
            }
            (Expr::Tuple(g), Expr::Tuple(p)) | (Expr::Ratio(g), Expr::Ratio(p)) => {
                self.ordered(g, p)
            }
            (Expr::Tuple(t), Expr::Set(s)) | (Expr::Set(s), Expr::Tuple(t)) => {
                let Some(sorted) = self.sorted_by_value(s)? else {
                    return Ok(false);
                };
                if matches!(gold, Expr::Tuple(_)) {
                    self.ordered(t, &sorted)
                } else {
                    self.ordered(&sorted, t)
                }
            }
            (Expr::Interval { .. }, Expr::Interval { .. })
            | (Expr::Interval { .. }, Expr::Tuple(_))
            | (Expr::Tuple(_), Expr::Interval { .. }) => self.intervals(gold, pred),
            (Expr::Union(g), Expr::Union(p)) => self.unordered(g, p),
            (Expr::Text(_), _) | (_, Expr::Text(_)) => Ok(texts_match(gold, pred)),
            _ => {
                if let (Some(g), Some(p)) = (as_matrix(gold), as_matrix(pred)) {
                    return self.matrices(&g, &p);
                }
                if is_collection(gold) || is_collection(pred) {
                    return Ok(false);
                }
                self.scalars(gold, pred)
            }
        }
    }

    fn ordered(&self, g: &[Expr], p: &[Expr]) -> Outcome {
        if g.len() != p.len() || g.len() > MAX_ELEMENTS {
            return Ok(false);
        }
        for (a, b) in g.iter().zip(p) {
            if !self.eq(a, b)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Every gold item matched by a distinct prediction item and vice versa.
    fn unordered(&self, g: &[Expr], p: &[Expr]) -> Outcome {
        if g.len() != p.len() || g.len() > MAX_ELEMENTS {
            return Ok(false);
        }
        let mut used = vec![false; p.len()];
        'gold: for a in g {
            for (j, b) in p.iter().enumerate() {
                if !used[j] && self.eq(a, b)? {
                    used[j] = true;
                    continue 'gold;
                }
            }
            return Ok(false);
        }
        Ok(true)
    }

    fn sets(&self, g: &[Expr], p: &[Expr]) -> Outcome {
        let g = self.dedup(&flatten_choices(g))?;
        let p = self.dedup(&flatten_choices(p))?;
        self.unordered(&g, &p)
    }

    /// Drops repeated items (a model that writes a solution twice has not changed the set).
    fn dedup(&self, items: &[Expr]) -> Result<Vec<Expr>, Stopped> {
        let mut kept: Vec<Expr> = Vec::new();
        for item in items.iter().take(MAX_ELEMENTS + 1) {
            let mut seen = false;
            for k in &kept {
                if self.eq(k, item)? {
                    seen = true;
                    break;
                }
            }
            if !seen {
                kept.push(item.clone());
            }
        }
        Ok(kept)
    }

    /// Set items sorted by real value (for comparing a set with a tuple), if they all have one.
    fn sorted_by_value(&self, items: &[Expr]) -> Result<Option<Vec<Expr>>, Stopped> {
        let mut keyed = Vec::with_capacity(items.len());
        for item in items.iter().take(MAX_ELEMENTS + 1) {
            self.tick()?;
            let Some(v) = self.evaluate(item, &[], 0)?.ok().and_then(|v| v.real()) else {
                return Ok(None);
            };
            keyed.push((v, item.clone()));
        }
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Some(keyed.into_iter().map(|(_, e)| e).collect()))
    }

    fn intervals(&self, g: &Expr, p: &Expr) -> Outcome {
        let (Some((gl, gh, glc, ghc)), Some((pl, ph, plc, phc))) =
            (interval_parts(g), interval_parts(p))
        else {
            return Ok(false);
        };
        if glc != plc || ghc != phc {
            return Ok(false);
        }
        Ok(self.eq(gl, pl)? && self.eq(gh, ph)?)
    }

    fn matrices(&self, g: &[Vec<Expr>], p: &[Vec<Expr>]) -> Outcome {
        if g.len() != p.len() {
            return Ok(false);
        }
        for (gr, pr) in g.iter().zip(p) {
            if !self.ordered(gr, pr)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A relation gold against a non-relation prediction.
    fn relation_gold(&self, operands: &[Expr], ops: &[RelOp], pred: &Expr) -> Outcome {
        let all_eq = ops.iter().all(|op| matches!(op, RelOp::Eq | RelOp::Approx));
        if all_eq {
            // `k = 1` is answered by `1`; `x + y = 1` is not.
            let assignment = operands.len() > 2 || operands.first().is_some_and(is_name_like);
            if assignment {
                if let Some(rhs) = operands.last() {
                    return self.eq(rhs, pred);
                }
            }
            return Ok(false);
        }
        match relation_as_set(operands, ops) {
            Some(set) => self.eq(&set, pred),
            None => Ok(false),
        }
    }

    fn relations(&self, g: &Expr, p: &Expr) -> Outcome {
        let (
            Expr::Relation {
                operands: go,
                ops: gops,
            },
            Expr::Relation {
                operands: po,
                ops: pops,
            },
        ) = (oriented(g), oriented(p))
        else {
            return Ok(false);
        };
        if gops.len() != pops.len() {
            return Ok(false);
        }
        for (a, b) in gops.iter().zip(&pops) {
            let same = a == b
                || matches!(
                    (a, b),
                    (RelOp::Eq, RelOp::Approx) | (RelOp::Approx, RelOp::Eq)
                );
            if !same {
                return Ok(false);
            }
        }
        for (i, op) in gops.iter().enumerate() {
            let (gl, gr, pl, pr) = (&go[i], &go[i + 1], &po[i], &po[i + 1]);
            if self.eq(gl, pl)? && self.eq(gr, pr)? {
                continue;
            }
            if is_collection(gl) || is_collection(gr) || is_collection(pl) || is_collection(pr) {
                return Ok(false);
            }
            if gops.len() > 1 {
                return Ok(false);
            }
            let positive_only = matches!(op, RelOp::Lt | RelOp::Le | RelOp::Gt | RelOp::Ge);
            let gd = Expr::Add(vec![gl.clone(), Expr::Neg(Box::new(gr.clone()))]);
            let pd = Expr::Add(vec![pl.clone(), Expr::Neg(Box::new(pr.clone()))]);
            if !self.proportional(&gd, &pd, positive_only)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `a = c * b` for one non-zero constant `c` at every probe point (positive `c`
    /// when `positive_only`): the same equation or inequality, rearranged and scaled.
    fn proportional(&self, a: &Expr, b: &Expr, positive_only: bool) -> Outcome {
        let symbols = union_symbols(a, b);
        if !has_variables(a) && !has_variables(b) {
            // Two constants are always proportional: that says nothing about the relations.
            return Ok(false);
        }
        let mut ratio: Option<Complex64> = None;
        let mut exact_ratio: Option<num_rational::BigRational> = None;
        let mut checked = 0;
        for (seed, point) in probe_points(symbols.len(), false).into_iter().enumerate() {
            self.tick()?;
            let env: Vec<(String, Value)> = symbols.iter().cloned().zip(point).collect();
            let seed = seed as u64 + 1;
            let (Ok(va), Ok(vb)) = (self.evaluate(a, &env, seed)?, self.evaluate(b, &env, seed)?)
            else {
                continue;
            };
            // Both sides exact here: so is their ratio, which must then be the same at every
            // exact point. The tolerance below is for approximations; applied to exact sides it
            // let `y = 2x + 1 + \frac{1}{100000}` pass for `y = 2x + 1` (red team).
            if let (Some(qa), Some(qb)) = (va.exact(), vb.exact()) {
                if qb.is_zero() {
                    if !qa.is_zero() {
                        return Ok(false);
                    }
                } else {
                    let q = qa / qb;
                    if q.is_zero() || (positive_only && !q.is_positive()) {
                        return Ok(false);
                    }
                    match &exact_ratio {
                        Some(first) if *first != q => return Ok(false),
                        Some(_) => {}
                        None => exact_ratio = Some(q),
                    }
                }
            }
            let (ca, cb) = (va.complex(), vb.complex());
            if !(ca.is_finite() && cb.is_finite()) {
                continue; // as a point where either side has no value (see `close`)
            }
            checked += 1;
            if cb.norm() == 0.0 {
                if ca.norm() > 1e-12 {
                    return Ok(false);
                }
                continue;
            }
            // Scaled first: `ca / cb` squares `cb`'s norm, which underflows for a side like
            // `10^{-200}x` and made the ratio NaN, which no tolerance test rejects (red team).
            let scale = cb.re.abs().max(cb.im.abs());
            let r = (ca / scale) / (cb / scale);
            if !r.is_finite() {
                return Ok(false);
            }
            match ratio {
                None => {
                    if r.norm() < 1e-12 || (positive_only && (r.re <= 0.0 || r.im.abs() > 1e-9)) {
                        return Ok(false);
                    }
                    ratio = Some(r);
                }
                Some(c) => {
                    if (r - c).norm() > RELATIVE_TOLERANCE.sqrt() * c.norm() {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(checked >= 2)
    }

    fn scalars(&self, g: &Expr, p: &Expr) -> Outcome {
        // Percent: `28\%` is 28/100, and (Math-Verify 0.9.0's rule) an integer percent also
        // answers the bare integer, in both directions.
        match (g, p) {
            (Expr::Percent(x), other) | (other, Expr::Percent(x))
                if !matches!(other, Expr::Percent(_)) =>
            {
                let as_fraction = Expr::Div(x.clone(), Box::new(Expr::int(100)));
                if self.values(&as_fraction, other)? {
                    return Ok(true);
                }
                let integer =
                    matches!(&**x, Expr::Num { value, decimals: None } if value.is_integer());
                return Ok(integer && self.values(x, other)?);
            }
            _ => {}
        }
        self.values(g, p)
    }

    /// Value comparison: exact, probed, or by the decimal rule.
    fn values(&self, g: &Expr, p: &Expr) -> Outcome {
        let decimal = g.has_decimal() || p.has_decimal();
        let gold_symbols = g.free_symbols();
        let mut pred_symbols = p.free_symbols();
        let renamed = !self.rules.strict && gold_symbols.len() == pred_symbols.len();
        if !renamed {
            let all = union_symbols(g, p);
            return self.probe(g, p, &all, &all, decimal);
        }
        pred_symbols.truncate(gold_symbols.len());
        self.probe(g, p, &gold_symbols, &pred_symbols, decimal)
    }

    fn probe(
        &self,
        g: &Expr,
        p: &Expr,
        gold_symbols: &[String],
        pred_symbols: &[String],
        decimal: bool,
    ) -> Outcome {
        let constant = !has_variables(g) && !has_variables(p);
        for integers in [false, true] {
            let mut agreed = 0;
            let mut failed = false;
            for (seed, point) in probe_points(gold_symbols.len(), integers)
                .into_iter()
                .enumerate()
            {
                let seed = seed as u64 + 1;
                self.tick()?;
                let genv: Vec<(String, Value)> = gold_symbols
                    .iter()
                    .cloned()
                    .zip(point.iter().cloned())
                    .collect();
                let penv: Vec<(String, Value)> = pred_symbols
                    .iter()
                    .cloned()
                    .zip(point.iter().cloned())
                    .collect();
                let gv = self.evaluate(g, &genv, seed)?;
                let pv = self.evaluate(p, &penv, seed)?;
                match (gv, pv) {
                    (Ok(a), Ok(b)) => {
                        if !self.values_match(&a, &b, decimal) {
                            return Ok(false);
                        }
                        agreed += 1;
                    }
                    (Err(_), Err(_)) => failed = true,
                    _ => return Ok(false),
                }
                if constant {
                    break;
                }
            }
            if agreed > 0 && !(failed && agreed < 2) {
                if constant || !(reads_sign(g) || reads_sign(p)) {
                    return Ok(true);
                }
                return self.agree_below_zero(g, p, gold_symbols, pred_symbols, decimal);
            }
            if constant {
                break;
            }
        }
        Ok(false)
    }

    /// The probe points are positive, where `|x|` and `x`, or `\sqrt{x^2}` and `x`, agree: an
    /// answer with an absolute value, a root or a logarithm must also agree with the gold at the
    /// negated points (where both sides have a value; where only one has, they differ).
    fn agree_below_zero(
        &self,
        g: &Expr,
        p: &Expr,
        gold_symbols: &[String],
        pred_symbols: &[String],
        decimal: bool,
    ) -> Outcome {
        for (seed, point) in probe_points(gold_symbols.len(), false)
            .into_iter()
            .enumerate()
        {
            self.tick()?;
            let negated: Vec<Value> = point
                .into_iter()
                .map(|v| match v {
                    Value::Exact(r) => Value::Exact(-r),
                    other => other,
                })
                .collect();
            let env = |symbols: &[String]| -> Vec<(String, Value)> {
                symbols
                    .iter()
                    .cloned()
                    .zip(negated.iter().cloned())
                    .collect()
            };
            let (genv, penv) = (env(gold_symbols), env(pred_symbols));
            let seed = seed as u64 + 1;
            match (
                self.evaluate(g, &genv, seed)?,
                self.evaluate(p, &penv, seed)?,
            ) {
                (Ok(a), Ok(b)) if !self.values_match(&a, &b, decimal) => return Ok(false),
                (Ok(_), Err(_)) | (Err(_), Ok(_)) => return Ok(false),
                _ => {}
            }
        }
        Ok(true)
    }

    fn values_match(&self, a: &Value, b: &Value, decimal: bool) -> bool {
        if decimal {
            return rounded_match(a, b, self.rules.float_rounding);
        }
        gold_value_matches(a, b)
    }
}

/// Whether the answer's value `answer` is the gold's `gold`: exact values exactly, an
/// approximation against an exact value by [`approx_matches_exact`], two approximations by
/// [`approx_equal`]. Floating-point noise around an exact zero gold (`\sin\pi` for 0) is zero;
/// a tiny gold against an exact zero answer (`0\pi` for `\frac{6.626 \times 10^{-34}}{2\pi}`)
/// is a value, not noise.
fn gold_value_matches(gold: &Value, answer: &Value) -> bool {
    match (gold, answer) {
        (Value::Exact(x), Value::Exact(y)) => x == y,
        (Value::Exact(_), Value::Approx(_)) => approx_matches_exact(answer, gold, true),
        (Value::Approx(_), Value::Exact(_)) => approx_matches_exact(gold, answer, false),
        _ => approx_equal(gold, answer),
    }
}

/// Past this magnitude f64 cannot tell an integer from its neighbours (2^53).
const F64_EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// An approximation against an exact value (`\sqrt{2}^2` against 2): within [`EXACT_TOLERANCE`]
/// and [`EXACT_ABSOLUTE_TOLERANCE`] of it, and never for an exact value f64 cannot pin down
/// (`18446744073709552000 + \cos\frac{\pi}{2}` against `2^{64}`, red team).
fn approx_matches_exact(approx: &Value, exact: &Value, noise_is_zero: bool) -> bool {
    let (a, e) = (approx.complex(), exact.complex());
    if e.norm() >= F64_EXACT_INTEGERS {
        return false;
    }
    if exact.is_zero() {
        return close(a, e, noise_is_zero);
    }
    let diff = (a - e).norm();
    a.is_finite()
        && diff.is_finite()
        && diff <= EXACT_TOLERANCE * e.norm()
        && diff <= EXACT_ABSOLUTE_TOLERANCE
}

/// Two approximations within the relative tolerance. Never for a value that is not finite: an
/// overflow to infinity (`|1.5 \cdot 10^{308}(1+i)|`, or an exact `10^{400}` in floating point)
/// is within any relative tolerance of anything (red team: such an answer matched almost every
/// gold).
fn close(a: Complex64, b: Complex64, near_exact_zero: bool) -> bool {
    let scale = a.norm().max(b.norm());
    let diff = (a - b).norm();
    // Finite parts can still have an infinite norm (`\frac{3}{2}\cdot 10^{308}(1+i)`).
    if !(a.is_finite() && b.is_finite() && scale.is_finite() && diff.is_finite()) {
        return false;
    }
    diff <= RELATIVE_TOLERANCE * scale || (near_exact_zero && scale < 1e-12 && diff < 1e-12)
}

/// [`close`], where one value or both had to be approximated. The absolute floor (1e-12) is
/// for floating-point noise around an exact zero (`\sin(\pi)` for 0); against anything else
/// the test stays relative, or every tiny gold (`6.626 \times 10^{-34}`) would match any tiny
/// answer, `0\pi` included (red team).
fn approx_equal(a: &Value, b: &Value) -> bool {
    let exact_zero = |v: &Value| v.exact().is_some() && v.is_zero();
    close(a.complex(), b.complex(), exact_zero(a) || exact_zero(b))
}

/// The decimal rule (see the module documentation).
fn rounded_match(a: &Value, b: &Value, places: u32) -> bool {
    let round = |v: &Value| -> Option<(f64, f64, Option<num_bigint::BigInt>)> {
        let c = v.complex();
        let factor = 10f64.powi(places as i32);
        let exact = v.exact().map(|r| round_exact(r, places));
        let (re, im) = ((c.re * factor).round(), (c.im * factor).round());
        // Past f64's range only an exact value still has a rounding to compare (see `close`).
        if exact.is_none() && !(re.is_finite() && im.is_finite()) {
            return None;
        }
        Some((re, im, exact))
    };
    let (Some((ar, ai, ax)), Some((br, bi, bx))) = (round(a), round(b)) else {
        return false;
    };
    let same = match (ax, bx) {
        (Some(x), Some(y)) => x == y && ai == bi,
        _ => ar.is_finite() && ai.is_finite() && ar == br && ai == bi,
    };
    if !same {
        return false;
    }
    // Both round to zero: they must still be the same number relatively (`a` is the gold's).
    if ar == 0.0 && ai == 0.0 {
        return gold_value_matches(a, b);
    }
    true
}

/// Probe points: rational values in about [0.3, 5] (positive, so real roots stay real), or small
/// integers when an expression needs them (factorials, sums with symbolic bounds).
fn probe_points(symbols: usize, integers: bool) -> Vec<Vec<Value>> {
    let mut random = crate::xorshift::Xorshift::new(0x9E37_79B9_7F4A_7C15);
    let mut next = move || random.next();
    (0..PROBES)
        .map(|_| {
            (0..symbols)
                .map(|_| {
                    let r = next();
                    if integers {
                        Value::int(2 + (r % 8) as i64)
                    } else {
                        let numerator = 3 + (r % 47) as i64;
                        let denominator = 7 + ((r >> 32) % 5) as i64;
                        Value::Exact(ratio_i128(numerator.into(), denominator.into()))
                    }
                })
                .collect()
        })
        .collect()
}

/// Whether the expression has a function whose value depends on its argument's sign in a way
/// positive probe points do not show (absolute value, roots, logarithms).
fn reads_sign(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| {
        found |= matches!(
            x,
            Expr::Func(Func::Abs | Func::Root | Func::Ln | Func::Log, _)
        )
    });
    found
}

/// Whether the value depends on the probe point (symbols, subscripted names, unknown functions).
fn has_variables(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| found |= matches!(x, Expr::Sym(_) | Expr::Indexed(..) | Expr::Apply(..)));
    found
}

fn union_symbols(a: &Expr, b: &Expr) -> Vec<String> {
    let mut all = a.free_symbols();
    all.extend(b.free_symbols());
    all.sort();
    all.dedup();
    all
}

fn is_collection(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Set(_)
            | Expr::Tuple(_)
            | Expr::Interval { .. }
            | Expr::Union(_)
            | Expr::Matrix(_)
            | Expr::Relation { .. }
            | Expr::Text(_)
            | Expr::Ratio(_)
            | Expr::ElementOf(..)
    )
}

/// Values assigned to distinct names, as a tuple of `arity`: `x = 6, y = 5` (a list of
/// equations), `x = y = 0` (a chain), or both mixed. The order is alphabetical when every name
/// is one letter (the convention of tuples: `(x, y)`, `(a, b, c)`), else the order of first
/// mention (`x_1`, `p_{10}`, `\alpha`). `None` unless every item is such an assignment of a
/// value that uses none of the names.
fn assigned_tuple(e: &Expr, arity: usize) -> Option<Vec<Expr>> {
    let items: &[Expr] = match e {
        Expr::Set(items) => items,
        Expr::Relation { .. } => std::slice::from_ref(e),
        _ => return None,
    };
    let mut pairs: Vec<(String, &Expr)> = Vec::new();
    for item in items {
        let Expr::Relation { operands, ops } = item else {
            return None;
        };
        if !ops.iter().all(|op| *op == RelOp::Eq) {
            return None;
        }
        let (value, names) = operands.split_last()?;
        for name in names {
            let name = name_key(name)?;
            if pairs.iter().any(|(n, _)| *n == name) {
                return None;
            }
            pairs.push((name, value));
        }
    }
    if pairs.len() != arity || arity < 2 {
        return None;
    }
    let uses_a_name = pairs.iter().any(|(_, value)| {
        let mut found = false;
        value.visit(&mut |x| {
            if let Some(key) = name_key(x) {
                found |= pairs.iter().any(|(n, _)| *n == key);
            }
        });
        found
    });
    if uses_a_name {
        return None;
    }
    if pairs.iter().all(|(n, _)| n.chars().count() == 1) {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Some(pairs.into_iter().map(|(_, v)| v.clone()).collect())
}

/// A variable's name: a symbol, or a subscripted name (`x_1`) as written.
fn name_key(e: &Expr) -> Option<String> {
    match e {
        Expr::Sym(n) => Some(n.clone()),
        Expr::Indexed(..) => Some(format!("{e:?}")),
        _ => None,
    }
}

/// Rewrites that do not change meaning: `x \in S` is `S`; `\pm` outside arithmetic is a set;
/// a chain `x = a = b` keeps its first and last sides; `≈` after an `=` is a remark, and so is
/// `≈` after a value (`\frac{5}{14} \approx 0.357` is `\frac{5}{14}`: the exact side is the
/// answer); a union of finite sets is their union. Borrowed when nothing changes (the usual
/// case), so comparing costs no copy of the trees.
fn normalise(e: &Expr) -> Cow<'_, Expr> {
    match e {
        Expr::ElementOf(_, set) => normalise(set),
        Expr::Relation { operands, ops }
            if ops.first() == Some(&RelOp::Approx)
                && operands.first().is_some_and(|lhs| !is_name_like(lhs)) =>
        {
            normalise(&operands[0])
        }
        Expr::Union(parts) if parts.iter().all(|p| matches!(p, Expr::Set(_))) => {
            let mut items = Vec::new();
            for part in parts {
                if let Expr::Set(xs) = part {
                    items.extend(xs.iter().cloned());
                }
            }
            Cow::Owned(Expr::Set(items))
        }
        Expr::Relation { operands, ops } => {
            let approx_cut = ops
                .iter()
                .position(|op| *op == RelOp::Approx)
                .filter(|&cut| cut > 0 && ops[..cut].iter().all(|op| *op == RelOp::Eq));
            let chain = |ops: &[RelOp]| ops.len() > 1 && ops.iter().all(|op| *op == RelOp::Eq);
            if approx_cut.is_none() && !chain(ops) {
                return Cow::Borrowed(e);
            }
            let mut operands = operands.clone();
            let mut ops = ops.clone();
            if let Some(cut) = approx_cut {
                ops.truncate(cut);
                operands.truncate(cut + 1);
            }
            if chain(&ops) {
                let last = operands.pop().unwrap_or(Expr::int(0));
                operands.truncate(1);
                operands.push(last);
                ops.truncate(1);
            }
            Cow::Owned(Expr::Relation { operands, ops })
        }
        _ if !has_plus_minus(e) => Cow::Borrowed(e),
        _ => {
            let choices = expand_choices(e);
            if choices.len() > 1 {
                Cow::Owned(Expr::Set(choices))
            } else {
                Cow::Borrowed(e)
            }
        }
    }
}

/// Whether the tree has children whose order [`Expr::canonical`] would change.
fn has_commutative(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| found |= matches!(x, Expr::Add(_) | Expr::Mul(_) | Expr::Set(_)));
    found
}

/// Whether the tree holds a `\pm`.
fn has_plus_minus(e: &Expr) -> bool {
    let mut has = false;
    e.visit(&mut |x| has |= matches!(x, Expr::PlusMinus(..)));
    has
}

/// `a \pm b` as its two values; expressions with several `\pm` give every combination (capped).
fn expand_choices(e: &Expr) -> Vec<Expr> {
    if !has_plus_minus(e) {
        return vec![e.clone()];
    }
    let mut out = Vec::new();
    expand_into(e, &mut out);
    out.truncate(16);
    out
}

fn expand_into(e: &Expr, out: &mut Vec<Expr>) {
    // Expand the first `\pm` found (depth-first), then recurse on both results.
    fn replace_first(e: &Expr, sign: bool, done: &mut bool) -> Expr {
        if *done {
            return e.clone();
        }
        match e {
            Expr::PlusMinus(a, b) => {
                *done = true;
                let b = if sign {
                    (**b).clone()
                } else {
                    Expr::Neg(b.clone())
                };
                Expr::Add(vec![(**a).clone(), b])
            }
            Expr::Neg(x) => Expr::Neg(Box::new(replace_first(x, sign, done))),
            Expr::Add(xs) => Expr::Add(xs.iter().map(|x| replace_first(x, sign, done)).collect()),
            Expr::Mul(xs) => Expr::Mul(xs.iter().map(|x| replace_first(x, sign, done)).collect()),
            Expr::Div(a, b) => {
                let a = replace_first(a, sign, done);
                Expr::Div(Box::new(a), Box::new(replace_first(b, sign, done)))
            }
            Expr::Pow(a, b) => {
                let a = replace_first(a, sign, done);
                Expr::Pow(Box::new(a), Box::new(replace_first(b, sign, done)))
            }
            Expr::Func(f, xs) => Expr::Func(
                *f,
                xs.iter().map(|x| replace_first(x, sign, done)).collect(),
            ),
            other => other.clone(),
        }
    }
    if out.len() >= 16 {
        return;
    }
    let mut done = false;
    let plus = replace_first(e, true, &mut done);
    if !done {
        out.push(e.clone());
        return;
    }
    let mut done_minus = false;
    let minus = replace_first(e, false, &mut done_minus);
    expand_into(&plus, out);
    expand_into(&minus, out);
}

/// Set items with `\pm` become two items each.
fn flatten_choices(items: &[Expr]) -> Vec<Expr> {
    items
        .iter()
        .flat_map(|item| match item {
            Expr::Relation { .. } => vec![item.clone()],
            _ => expand_choices(item),
        })
        .collect()
}

/// Gt/Ge chains read right to left, so that `5 < x` and `x > 5` have the same shape.
fn oriented(e: &Expr) -> Expr {
    match e {
        Expr::Relation { operands, ops }
            if ops
                .first()
                .is_some_and(|op| matches!(op, RelOp::Gt | RelOp::Ge)) =>
        {
            let mut operands = operands.clone();
            operands.reverse();
            let ops = ops.iter().rev().map(|op| op.flipped()).collect();
            Expr::Relation { operands, ops }
        }
        other => other.clone(),
    }
}

/// A name, not an expression: `x`, `x_1`, `f(x)`, `|AB|`, `AB`, `(p, q)`, `V_1 : V_2`,
/// `\frac{NO}{BO}`. An equation with such a left side is an assignment.
fn is_name_like(e: &Expr) -> bool {
    match e {
        Expr::Sym(_) | Expr::Indexed(..) | Expr::Apply(..) | Expr::Text(_) => true,
        Expr::Const(Constant::E | Constant::I) => true,
        Expr::Mul(xs) | Expr::Tuple(xs) | Expr::Ratio(xs) => xs.iter().all(is_name_like),
        Expr::Div(a, b) => is_name_like(a) && is_name_like(b),
        Expr::Func(super::expr::Func::Abs, xs) => xs.iter().all(is_name_like),
        _ => false,
    }
}

fn infinity(negative: bool) -> Expr {
    let inf = Expr::Const(Constant::Infinity);
    if negative {
        Expr::Neg(Box::new(inf))
    } else {
        inf
    }
}

fn is_numeric(e: &Expr) -> bool {
    e.free_symbols().is_empty() && !is_collection(e)
}

/// `a < x <= b` as `(a, b]`, `x > 3` as `(3, \infty)`: what Math-Verify's `as_set` gives for
/// a one-variable relation.
fn relation_as_set(operands: &[Expr], ops: &[RelOp]) -> Option<Expr> {
    let oriented = oriented(&Expr::Relation {
        operands: operands.to_vec(),
        ops: ops.to_vec(),
    });
    let Expr::Relation { operands, ops } = oriented else {
        return None;
    };
    let closed = |op: RelOp| op == RelOp::Le;
    let interval = |lo: Expr, hi: Expr, lc: bool, hc: bool| Expr::Interval {
        lo: Box::new(lo),
        hi: Box::new(hi),
        lo_closed: lc,
        hi_closed: hc,
    };
    match (operands.as_slice(), ops.as_slice()) {
        ([lo, mid, hi], [a, b])
            if matches!(a, RelOp::Lt | RelOp::Le)
                && matches!(b, RelOp::Lt | RelOp::Le)
                && is_numeric(lo)
                && is_numeric(hi)
                && !is_numeric(mid) =>
        {
            Some(interval(lo.clone(), hi.clone(), closed(*a), closed(*b)))
        }
        ([l, r], [op]) if matches!(op, RelOp::Lt | RelOp::Le) => {
            if is_numeric(r) && !is_numeric(l) {
                Some(interval(infinity(true), r.clone(), false, closed(*op)))
            } else if is_numeric(l) && !is_numeric(r) {
                Some(interval(l.clone(), infinity(false), closed(*op), false))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn interval_parts(e: &Expr) -> Option<(&Expr, &Expr, bool, bool)> {
    match e {
        Expr::Interval {
            lo,
            hi,
            lo_closed,
            hi_closed,
        } => Some((lo, hi, *lo_closed, *hi_closed)),
        Expr::Tuple(items) if items.len() == 2 => Some((&items[0], &items[1], false, false)),
        _ => None,
    }
}

/// A matrix, or a sum or product of matrices, as rows of element expressions.
/// Most expression nodes a matrix expression (`AB + C`) may expand to. Each product multiplies
/// the entries' sizes, so products nested to the left double them at every factor: 22 levels
/// of a 2×2 matrix (880 bytes of answer) took 6 GB before this bound, and aborted the process.
const MAX_MATRIX_NODES: usize = 20_000;

/// A matrix expression written out as one matrix, unless it is not one or would be too large.
fn as_matrix(e: &Expr) -> Option<Vec<Vec<Expr>>> {
    sized_matrix(e).map(|(entries, _)| entries)
}

/// A matrix with the node count of each entry, which bounds the expansion before it is made.
type Sized = (Vec<Vec<Expr>>, Vec<Vec<usize>>);

fn sized_matrix(e: &Expr) -> Option<Sized> {
    let (entries, sizes): Sized = match e {
        Expr::Matrix(rows) => {
            let sizes = rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|entry| {
                            let mut nodes = 0;
                            entry.visit(&mut |_| nodes += 1);
                            nodes
                        })
                        .collect()
                })
                .collect();
            (rows.clone(), sizes)
        }
        Expr::Add(terms) if terms.len() >= 2 => {
            let mats: Vec<Sized> = terms.iter().map(sized_matrix).collect::<Option<_>>()?;
            let (h, w) = (mats[0].0.len(), mats[0].0.first()?.len());
            if mats
                .iter()
                .any(|(m, _)| m.len() != h || m.first().map(Vec::len) != Some(w))
            {
                return None;
            }
            let sizes: Vec<Vec<usize>> = (0..h)
                .map(|i| {
                    (0..w)
                        .map(|j| 1 + mats.iter().map(|(_, s)| s[i][j]).sum::<usize>())
                        .collect()
                })
                .collect();
            within_bound(&sizes)?;
            let entries = (0..h)
                .map(|i| {
                    (0..w)
                        .map(|j| Expr::Add(mats.iter().map(|(m, _)| m[i][j].clone()).collect()))
                        .collect()
                })
                .collect();
            (entries, sizes)
        }
        Expr::Mul(factors) if factors.len() == 2 => {
            let ((a, sa), (b, sb)) = (sized_matrix(&factors[0])?, sized_matrix(&factors[1])?);
            let inner = a.first()?.len();
            if b.len() != inner {
                return None;
            }
            let w = b.first()?.len();
            let sizes: Vec<Vec<usize>> = sa
                .iter()
                .map(|row| {
                    (0..w)
                        .map(|j| 1 + (0..inner).map(|k| 1 + row[k] + sb[k][j]).sum::<usize>())
                        .collect()
                })
                .collect();
            within_bound(&sizes)?;
            let entries = a
                .iter()
                .map(|row| {
                    (0..w)
                        .map(|j| {
                            Expr::Add(
                                (0..inner)
                                    .map(|k| Expr::Mul(vec![row[k].clone(), b[k][j].clone()]))
                                    .collect(),
                            )
                        })
                        .collect()
                })
                .collect();
            (entries, sizes)
        }
        _ => return None,
    };
    within_bound(&sizes)?;
    Some((entries, sizes))
}

/// `Some` when the entries' node counts add up to at most [`MAX_MATRIX_NODES`].
fn within_bound(sizes: &[Vec<usize>]) -> Option<()> {
    let total = sizes
        .iter()
        .flatten()
        .try_fold(0usize, |total, &n| total.checked_add(n))?;
    (total <= MAX_MATRIX_NODES).then_some(())
}

/// Text answers: case-insensitive, ignoring spaces, brackets and punctuation; a product of
/// one-letter symbols reads as the word it spells (`$odd$` is `\text{odd}`).
fn texts_match(a: &Expr, b: &Expr) -> bool {
    match (spelled(a), spelled(b)) {
        (Some(x), Some(y)) => !x.is_empty() && x == y,
        _ => false,
    }
}

fn spelled(e: &Expr) -> Option<String> {
    let raw = match e {
        Expr::Text(t) => t.clone(),
        Expr::Sym(s) => s.clone(),
        Expr::Const(Constant::E) => "e".into(),
        Expr::Const(Constant::I) => "i".into(),
        Expr::Mul(xs) => xs.iter().map(spelled).collect::<Option<Vec<_>>>()?.concat(),
        _ => return None,
    };
    Some(
        raw.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::parser::parse;

    fn eq(g: &str, p: &str) -> bool {
        let rules = Rules::default();
        equivalent(
            &parse(g).unwrap(),
            &parse(p).unwrap(),
            &rules,
            &GradeContext::default(),
        )
        .unwrap()
    }

    #[test]
    fn exact_numbers() {
        assert!(eq(r"\frac{1}{2}", "0.5"));
        assert!(!eq(r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}"));
        assert!(!eq(r"\frac{1}{2004!}", r"\frac{1}{2006!}"));
        assert!(!eq(r"1-\frac{1}{e}", r"1+\frac{1}{e}"));
        assert!(!eq("1112112", "1112122"));
        assert!(eq(r"\sqrt{117}", r"3\sqrt{13}"));
    }

    #[test]
    fn symbolic() {
        assert!(eq(r"(x+2)^2 + (y-3)^2", "x^2 + y^2 + 4x - 6y + 13"));
        assert!(eq(r"\tan^2(y)+1", r"\sec^2(y)"));
        assert!(!eq("x+2n+1", "x+1"));
    }

    #[test]
    fn approximations_after_a_value_are_remarks() {
        assert!(eq(r"\frac{5}{14}", r"\frac{5}{14}\approx 0.357"));
        assert!(eq(r"\frac{5}{14}", r"x = \frac{5}{14} \approx 0.357"));
        assert!(!eq(r"\frac{5}{14}", r"\frac{5}{13}\approx 0.357"));
        // A name approximately equal to a value: the value is the answer.
        assert!(eq("0.357", r"p \approx 0.357"));
        assert!(!eq(r"\frac{5}{14}", r"p \approx 0.357"));
    }

    #[test]
    fn assignments_answer_a_tuple() {
        assert!(eq("(6, 5)", "x=6, y=5"));
        assert!(eq("(6, 5)", "x = 6 and y = 5"));
        assert!(eq("(6, 5)", "y=5, x=6"));
        assert!(eq("(0, 0)", "x = y = 0"));
        assert!(eq("(1, 2, 2)", "a = 1, b = c = 2"));
        assert!(eq("x=6, y=5", "(6, 5)"));
        assert!(eq("(2, 3)", "x_1 = 2, x_2 = 3"));
        assert!(!eq("(6, 5)", "x=5, y=6"));
        assert!(!eq("(6, 5)", "x=6, y=5, z=1"));
        assert!(!eq("(6, 5)", "x=6, x=5"));
        assert!(!eq("(6, 6)", "x=6, y=x"));
    }

    #[test]
    fn a_union_of_finite_sets_is_their_union() {
        assert!(eq(r"\{1,2,3\}", r"\{1,2\}\cup\{3\}"));
        assert!(eq(r"\{1,2\}\cup\{2, 3\}", r"\{3,2,1\}"));
        assert!(!eq(r"\{1,2,4\}", r"\{1,2\}\cup\{3\}"));
        assert!(!eq(r"[1,2] \cup [3, 4]", r"\{1,2,3,4\}"));
    }

    #[test]
    fn structures() {
        assert!(eq(r"\{1,2\}", r"\{2,1\}"));
        assert!(!eq("(1,2)", "(2,1)"));
        assert!(eq(r"1 \pm \sqrt{19}", r"\{1+\sqrt{19}, 1-\sqrt{19}\}"));
        assert!(!eq("[0,1)", "(0,1)"));
        assert!(eq("2x+4y-3=0", r"y=-\frac{1}{2}x+\frac{3}{4}"));
        assert!(eq("x < 1", "-x > -1"));
        assert!(!eq("x < 1", "x > -1"));
        assert!(eq("x > 3", r"(3, \infty)"));
    }
}
