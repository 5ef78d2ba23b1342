//! Numbers for evaluation: exact rationals (big integers) while the arithmetic allows, complex
//! floating point once it does not (irrational roots, transcendental functions), with hard caps.
//!
//! Caps are what make hostile answers cheap: a result wider than [`MAX_BITS`] or a factorial past
//! [`MAX_FACTORIAL`] is never computed exactly; it goes to floating point, where a power tower
//! overflows to infinity at once and is reported as [`EvalError::TooLarge`].

use num_bigint::BigInt;
use num_complex::Complex64;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// Widest exact number kept (bits of numerator plus denominator).
pub const MAX_BITS: u64 = 1 << 16;
/// Largest `n` for which `n!` is computed exactly (`3000!` has about 30,000 bits).
pub const MAX_FACTORIAL: u64 = 3000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalError {
    /// Division by zero, log of zero, a non-integer factorial...
    Undefined,
    /// Overflow or past a cap.
    TooLarge,
    /// Something with no numeric value (a text answer, a set inside arithmetic).
    Unsupported,
}

pub type EvalResult = Result<Value, EvalError>;

/// A value: exact while possible.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Exact(BigRational),
    Approx(Complex64),
}

/// `n / d` in lowest terms, skipping the gcd when one side is 0 or ±1: num-bigint's binary gcd
/// of 1 and a 20,000-bit number walks every bit, which made `1/2006!` cost a millisecond.
fn reduced(n: BigInt, d: BigInt) -> BigRational {
    if n.is_zero() {
        return BigRational::zero();
    }
    let trivial = n.magnitude().is_one() || d.magnitude().is_one();
    if trivial && !d.is_zero() {
        let (n, d) = if d.is_negative() { (-n, -d) } else { (n, d) };
        return BigRational::new_raw(n, d);
    }
    BigRational::new(n, d)
}

/// Numerator and denominator when both fit in an `i64`. Then a sum or product of two such values
/// fits in an `i128`, and the common case (small numbers) needs no big-integer arithmetic: no
/// allocation for intermediates and no binary gcd over big integers.
fn small(r: &BigRational) -> Option<(i128, i128)> {
    Some((
        i128::from(r.numer().to_i64()?),
        i128::from(r.denom().to_i64()?),
    ))
}

/// `n / d` in lowest terms (the form `BigRational::new` gives), from machine integers; `d != 0`
/// and both well inside the `i128` range (products of `i64`s).
pub(crate) fn ratio_i128(n: i128, d: i128) -> BigRational {
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let (magnitude, d) = (n.unsigned_abs(), d.unsigned_abs());
    // 64-bit gcd and division when they fit (nearly always): 128-bit division is a slow call.
    let (magnitude, d) = match (u64::try_from(magnitude), u64::try_from(d)) {
        (Ok(m), Ok(d)) => {
            let g = num_integer::gcd(m, d).max(1);
            (u128::from(m / g), u128::from(d / g))
        }
        _ => {
            let g = num_integer::gcd(magnitude, d).max(1);
            (magnitude / g, d / g)
        }
    };
    let numer = BigInt::from(magnitude);
    BigRational::new_raw(if n < 0 { -numer } else { numer }, BigInt::from(d))
}

/// `a + b` in lowest terms. Integers (denominator 1) skip the gcd that `Ratio`'s addition runs:
/// its binary gcd with 1 walks every bit, which made a sum of large factorials cost
/// milliseconds.
fn add_exact(a: &BigRational, b: &BigRational) -> BigRational {
    if let (Some((an, ad)), Some((bn, bd))) = (small(a), small(b)) {
        return ratio_i128(an * bd + bn * ad, ad * bd);
    }
    if a.denom() == b.denom() {
        return reduced(a.numer() + b.numer(), a.denom().clone());
    }
    reduced(
        a.numer() * b.denom() + b.numer() * a.denom(),
        a.denom() * b.denom(),
    )
}

fn bits(r: &BigRational) -> u64 {
    r.numer().bits() + r.denom().bits()
}

fn checked(v: Complex64) -> EvalResult {
    if v.re.is_finite() && v.im.is_finite() {
        Ok(Value::Approx(v))
    } else if v.re.is_nan() || v.im.is_nan() {
        Err(EvalError::Undefined)
    } else {
        Err(EvalError::TooLarge)
    }
}

pub fn rational_to_f64(r: &BigRational) -> f64 {
    r.to_f64().unwrap_or(f64::NAN)
}

impl Value {
    pub fn int(n: i64) -> Value {
        Value::Exact(BigRational::from_integer(n.into()))
    }

    pub fn complex(&self) -> Complex64 {
        match self {
            Value::Exact(r) => Complex64::new(rational_to_f64(r), 0.0),
            Value::Approx(c) => *c,
        }
    }

    pub fn exact(&self) -> Option<&BigRational> {
        match self {
            Value::Exact(r) => Some(r),
            Value::Approx(_) => None,
        }
    }

    /// Whether this is exactly zero (not an approximation that happens to be 0.0).
    pub fn is_exact_zero(&self) -> bool {
        matches!(self, Value::Exact(r) if r.is_zero())
    }

    pub fn is_zero(&self) -> bool {
        match self {
            Value::Exact(r) => r.is_zero(),
            Value::Approx(c) => c.norm() == 0.0,
        }
    }

    /// The value as a real number, if it is one (imaginary part negligible).
    pub fn real(&self) -> Option<f64> {
        let c = self.complex();
        (c.im.abs() <= 1e-12 * c.re.abs().max(1.0)).then_some(c.re)
    }

    fn exact_or(r: BigRational) -> EvalResult {
        if bits(&r) > MAX_BITS {
            checked(Complex64::new(rational_to_f64(&r), 0.0))
        } else {
            Ok(Value::Exact(r))
        }
    }

    pub fn add(&self, other: &Value) -> EvalResult {
        match (self, other) {
            (Value::Exact(a), Value::Exact(b)) => Value::exact_or(add_exact(a, b)),
            _ => checked(self.complex() + other.complex()),
        }
    }

    pub fn neg(&self) -> Value {
        match self {
            Value::Exact(a) => Value::Exact(-a),
            Value::Approx(c) => Value::Approx(-c),
        }
    }

    pub fn sub(&self, other: &Value) -> EvalResult {
        self.add(&other.neg())
    }

    pub fn mul(&self, other: &Value) -> EvalResult {
        // An exact zero times any finite value is an exact zero: `0\pi` approximated made an
        // answer approximate, and so stretched by a tolerance (`123456789112 + 0\pi` for
        // 123456789012: red team).
        let finite = |v: &Value| v.complex().is_finite();
        if (self.is_exact_zero() && finite(other)) || (other.is_exact_zero() && finite(self)) {
            return Ok(Value::int(0));
        }
        match (self, other) {
            (Value::Exact(a), Value::Exact(b)) => {
                if let (Some((an, ad)), Some((bn, bd))) = (small(a), small(b)) {
                    return Value::exact_or(ratio_i128(an * bn, ad * bd));
                }
                Value::exact_or(reduced(a.numer() * b.numer(), a.denom() * b.denom()))
            }
            _ => checked(self.complex() * other.complex()),
        }
    }

    pub fn div(&self, other: &Value) -> EvalResult {
        if other.is_zero() {
            return Err(EvalError::Undefined);
        }
        match (self, other) {
            (Value::Exact(a), Value::Exact(b)) => {
                if let (Some((an, ad)), Some((bn, bd))) = (small(a), small(b)) {
                    return Value::exact_or(ratio_i128(an * bd, ad * bn));
                }
                Value::exact_or(reduced(a.numer() * b.denom(), a.denom() * b.numer()))
            }
            _ => checked(self.complex() / other.complex()),
        }
    }

    pub fn pow(&self, exponent: &Value) -> EvalResult {
        // Any nonzero finite value to the exact power 0 is exactly 1 (`e^{0}`, `\pi^0`).
        if exponent.is_exact_zero() && !self.is_zero() && self.complex().is_finite() {
            return Ok(Value::int(1));
        }
        if let (Value::Exact(base), Value::Exact(e)) = (self, exponent) {
            if let Some(v) = exact_pow(base, e)? {
                return Ok(v);
            }
        }
        let base = self.complex();
        let e = exponent.complex();
        if base == Complex64::new(0.0, 0.0) {
            return if e.re > 0.0 {
                Ok(Value::int(0))
            } else {
                Err(EvalError::Undefined)
            };
        }
        // Real powers of positive reals, and odd roots of negative reals, stay real.
        if base.im == 0.0 && e.im == 0.0 {
            if base.re > 0.0 {
                return checked(Complex64::new(base.re.powf(e.re), 0.0));
            }
            if let Value::Exact(r) = exponent {
                let odd_denominator =
                    r.denom().bits() <= 32 && (r.denom() % BigInt::from(2)) == BigInt::one();
                if odd_denominator {
                    let magnitude = (-base.re).powf(e.re);
                    let odd_numerator = (r.numer() % BigInt::from(2)) != BigInt::zero();
                    let sign = if odd_numerator { -1.0 } else { 1.0 };
                    return checked(Complex64::new(sign * magnitude, 0.0));
                }
            }
        }
        checked(base.powc(e))
    }
}

/// `base^e` exactly, when the result is rational and within the caps; `Ok(None)` when it must be
/// approximated; `Err` when it is undefined (`0^-1`).
fn exact_pow(base: &BigRational, e: &BigRational) -> Result<Option<Value>, EvalError> {
    if base.is_zero() {
        return if e.is_positive() {
            Ok(Some(Value::int(0)))
        } else {
            Err(EvalError::Undefined)
        };
    }
    if base.is_one() {
        return Ok(Some(Value::int(1)));
    }
    if *base == -BigRational::one() && e.is_integer() {
        let odd = (e.numer() % BigInt::from(2)) != BigInt::zero();
        return Ok(Some(Value::int(if odd { -1 } else { 1 })));
    }
    // Root first (exact only for perfect powers), then the integer power.
    let root_index = e.denom().to_u32().filter(|&q| q <= 64);
    let Some(q) = root_index else {
        return Ok(None);
    };
    let rooted = if q == 1 {
        base.clone()
    } else {
        if base.is_negative() && q % 2 == 0 {
            return Ok(None);
        }
        match (exact_root(base.numer(), q), exact_root(base.denom(), q)) {
            (Some(n), Some(d)) => BigRational::new(n, d),
            _ => return Ok(None),
        }
    };
    let p = e.numer().abs();
    let Some(p) = p.to_u64() else {
        return Ok(None);
    };
    if p.saturating_mul(bits(&rooted)) > MAX_BITS {
        return Ok(None);
    }
    // Numerator and denominator separately: they stay coprime, so no gcd is needed (Ratio's own
    // pow reduces at every squaring, which is quadratic in the bit length).
    let numer = num_traits::pow(rooted.numer().clone(), p as usize);
    let denom = num_traits::pow(rooted.denom().clone(), p as usize);
    let powered = BigRational::new_raw(numer, denom);
    let result = if e.is_negative() {
        reduced(powered.denom().clone(), powered.numer().clone())
    } else {
        powered
    };
    Ok(Some(Value::Exact(result)))
}

/// The exact `q`-th root of an integer, if it is a perfect power.
fn exact_root(n: &BigInt, q: u32) -> Option<BigInt> {
    let root = if n.is_negative() {
        -(-n).nth_root(q)
    } else {
        n.nth_root(q)
    };
    (num_traits::pow(root.clone(), q as usize) == *n).then_some(root)
}

/// `n!` exactly up to [`MAX_FACTORIAL`], else through the gamma function (which overflows).
pub fn factorial(v: &Value) -> EvalResult {
    if let Value::Exact(r) = v {
        if r.is_integer() {
            let n = r.numer().to_i64().ok_or(EvalError::TooLarge)?;
            if n < 0 {
                return Err(EvalError::Undefined);
            }
            if n as u64 > MAX_FACTORIAL {
                return Err(EvalError::TooLarge);
            }
            return Ok(Value::Exact(BigRational::from_integer(product(
                1, n as u64,
            ))));
        }
    }
    let x = v.real().ok_or(EvalError::Unsupported)?;
    checked(Complex64::new(gamma(x + 1.0), 0.0))
}

/// `n!!` exactly up to [`MAX_FACTORIAL`] (`0!! = (-1)!! = 1`). At other real `x` (probe points),
/// the continuation `2^{(x+1)/2} Γ(x/2+1) / √π`, which is `x!!` at every odd `x`: it agrees
/// with the closed forms of `(2n-1)!!` (`(2n)! / (2^n n!)`) at any `n`, which is what lets
/// the two be compared by probing.
pub fn double_factorial(v: &Value) -> EvalResult {
    if let Value::Exact(r) = v {
        if r.is_integer() {
            let n = r.numer().to_i64().ok_or(EvalError::TooLarge)?;
            if n < -1 {
                return Err(EvalError::Undefined);
            }
            if n as u64 > MAX_FACTORIAL {
                return Err(EvalError::TooLarge);
            }
            let mut acc = BigInt::one();
            let mut k = n;
            while k > 1 {
                acc *= k;
                k -= 2;
            }
            return Ok(Value::Exact(BigRational::from_integer(acc)));
        }
    }
    let x = v.real().ok_or(EvalError::Unsupported)?;
    let value = 2f64.powf((x + 1.0) / 2.0) * gamma(x / 2.0 + 1.0) / std::f64::consts::PI.sqrt();
    checked(Complex64::new(value, 0.0))
}

/// `lo * (lo+1) * ... * hi` by binary splitting: balanced operands make big multiplications
/// fast (3000! in tens of microseconds instead of milliseconds).
fn product(lo: u64, hi: u64) -> BigInt {
    if hi < lo {
        return BigInt::one();
    }
    if hi - lo < 16 {
        let mut acc = BigInt::from(lo);
        for k in lo + 1..=hi {
            acc *= k;
        }
        return acc;
    }
    let mid = lo + (hi - lo) / 2;
    product(lo, mid) * product(mid + 1, hi)
}

/// The gamma function for real arguments (Lanczos approximation, g = 7).
pub fn gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x));
    }
    let x = x - 1.0;
    let mut acc = COEFFICIENTS[0];
    let t = x + 7.5;
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        acc += c / (x + i as f64);
    }
    (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * acc
}

/// `C(n, k)` exactly for integers, else through gamma.
pub fn binomial(n: &Value, k: &Value) -> EvalResult {
    if let (Value::Exact(n), Value::Exact(k)) = (n, k) {
        if n.is_integer() && k.is_integer() {
            let n = n.numer().to_i64().ok_or(EvalError::TooLarge)?;
            let k = k.numer().to_i64().ok_or(EvalError::TooLarge)?;
            if k < 0 || (n >= 0 && k > n) {
                return Ok(Value::int(0));
            }
            if k as u64 > MAX_FACTORIAL {
                return Err(EvalError::TooLarge);
            }
            // C(n, k) = C(n, n - k) for n >= 0: the shorter product.
            let k = if n >= 0 { k.min(n - k) } else { k };
            // In integers: after step j, `acc` is C(n, j + 1), so each division is exact (in
            // rationals, a gcd a step made C(10^18, 3000) take 110 s).
            let mut acc = BigInt::one();
            for j in 0..k {
                // In i128: `n - j` overflows i64 for n near i64::MIN.
                acc = acc * BigInt::from(i128::from(n) - i128::from(j)) / BigInt::from(j + 1);
            }
            return Value::exact_or(BigRational::from_integer(acc));
        }
    }
    let (n, k) = (
        n.real().ok_or(EvalError::Unsupported)?,
        k.real().ok_or(EvalError::Unsupported)?,
    );
    checked(Complex64::new(
        gamma(n + 1.0) / (gamma(k + 1.0) * gamma(n - k + 1.0)),
        0.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64, d: i64) -> Value {
        Value::Exact(BigRational::new(n.into(), d.into()))
    }

    #[test]
    fn binomials_are_exact_integers_either_way_round() {
        let c = |n: i64, k: i64| binomial(&q(n, 1), &q(k, 1)).unwrap();
        assert_eq!(c(10, 3), q(120, 1));
        assert_eq!(c(10, 7), q(120, 1));
        assert_eq!(c(5, 0), q(1, 1));
        assert_eq!(c(0, 0), q(1, 1));
        assert_eq!(c(4, 5), q(0, 1));
        assert_eq!(c(-3, 2), q(6, 1));
        assert_eq!(c(-3, 3), q(-10, 1));
        assert_eq!(c(60, 30), q(118_264_581_564_861_424, 1));
        // n - j past i64::MIN: (-2^63)(-2^63 - 1) / 2.
        let least = binomial(&q(i64::MIN, 1), &q(2, 1)).unwrap();
        let n = BigInt::from(i64::MIN);
        let expected = &n * (&n - 1) / 2;
        assert_eq!(least, Value::Exact(BigRational::from_integer(expected)));
    }

    #[test]
    fn exact_powers_and_roots() {
        assert_eq!(q(4, 9).pow(&q(1, 2)).unwrap(), q(2, 3));
        assert_eq!(q(2, 1).pow(&q(-3, 1)).unwrap(), q(1, 8));
        assert!(matches!(q(2, 1).pow(&q(1, 2)).unwrap(), Value::Approx(_)));
        assert_eq!(q(-8, 1).pow(&q(1, 3)).unwrap(), q(-2, 1));
    }

    #[test]
    fn huge_powers_overflow_fast() {
        let start = std::time::Instant::now();
        let r = q(9, 1).pow(&q(387_420_489, 1));
        assert_eq!(r, Err(EvalError::TooLarge));
        assert!(start.elapsed().as_millis() < 50);
    }

    #[test]
    fn factorials_are_capped() {
        assert_eq!(factorial(&q(5, 1)).unwrap(), q(120, 1));
        assert_eq!(factorial(&q(100_000, 1)), Err(EvalError::TooLarge));
        assert!((gamma(5.0) - 24.0).abs() < 1e-9);
    }
}
