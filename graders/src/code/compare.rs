//! Host-side comparison: return values and standard output are judged here, outside the
//! candidate's interpreter, so that no object the candidate built can take part in the comparison
//! (an "always equal" object, a patched `__eq__`, a monkeypatched comparison helper).
//!
//! Values arrive as *tagged plain JSON* written by our harness: `null`, booleans, strings, numbers
//! and lists as themselves; tuples as `{"$tuple": [...]}`; integers beyond ±2^53 as
//! `{"$int": "digits"}`; non-finite floats as `{"$float": "nan"|"inf"|"-inf"}`; sets as
//! `{"$set": [...]}`; dicts with string keys as objects, other dicts (and those with a key
//! starting with `$`, which equal the object that spells them) as
//! `{"$dict": [[key, value], ...]}`; bytes as `{"$bytes": "hex"}`; complex numbers as
//! `{"$complex": [re, im]}`. Types are checked: a boolean never equals a number, a string never
//! equals a list. An expected tuple wants a tuple; an expected JSON array takes a list, or, in
//! strict mode only, a tuple (a task written in JSON cannot say tuple), while Python's `==`
//! (evalplus's, `compare: "python"`) never takes a tuple for a list: `[4, 6] != (4, 6)`.

use serde_json::{Map, Value};

use super::verdict::excerpt;

/// Float tolerance: `|got - expected| <= abs + rel * |expected|`, used where the expected value
/// is a float; `python` is Python's `==` (see [`python_equal`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tolerance {
    pub abs: f64,
    pub rel: f64,
    pub python: bool,
}

impl Tolerance {
    pub const EXACT: Tolerance = Tolerance {
        abs: 0.0,
        rel: 0.0,
        python: false,
    };
}

/// Python's `==` between a result and a separately built expected value, as evalplus evaluates
/// `out == exp`: `true`/`false` equal `1`/`0`, an integer equals the float of the same value,
/// a list never equals a tuple, and NaN equals nothing (two objects, so no identity shortcut).
pub fn python_equal(expected: &Value, got: &Value) -> bool {
    let python = Tolerance {
        python: true,
        ..Tolerance::EXACT
    };
    values_equal(expected, got, python)
}

/// evalplus's comparison of a function's cases, judged in order (`unsafe_execute`): its `atol`
/// is the task's, else 0 until a case returns and its expected value [`is_floats`], and 1e-6
/// from then on, for that case and every later one, as its loop keeps the variable.
pub struct Evalplus {
    atol: std::cell::Cell<f64>,
}

impl Evalplus {
    pub fn new(task_atol: Option<f64>) -> Evalplus {
        Evalplus {
            // The grader refuses a negative or non-finite tolerance before any case is judged.
            atol: std::cell::Cell::new(task_atol.unwrap_or(0.0)),
        }
    }

    /// The next case's verdict: [`evalplus_equal`] under the `atol` in force.
    pub fn equal(&self, expected: &Value, got: &Value) -> bool {
        if self.atol.get() == 0.0 && is_floats(expected) {
            self.atol.set(1e-6);
        }
        evalplus_equal(expected, got, self.atol.get())
    }
}

/// evalplus's comparison of one case (`unsafe_execute`): `out == exp`, or, when that fails and
/// `atol` is not 0, the same type at the top, the same length for a list or tuple, and
/// `np.allclose(out, exp, rtol=1e-07, atol=atol)`: every number of two equally shaped arrays of
/// numbers within `atol + 1e-7 * |exp|`, integers included; anything `np.allclose` cannot take
/// (strings, dicts, sets, ragged lists, integers past 64 bits) fails, as its error
/// does there. (Complex numbers fail here where numpy would compare them; no data set we know
/// returns one.) [`Evalplus`] keeps the `atol` from case to case.
pub fn evalplus_equal(expected: &Value, got: &Value, atol: f64) -> bool {
    if python_equal(expected, got) {
        return true;
    }
    if atol == 0.0 || python_type(expected) != python_type(got) {
        return false;
    }
    match (numeric_array(expected), numeric_array(got)) {
        (Some(exp), Some(out)) => {
            exp.shape == out.shape
                && exp.values.iter().zip(&out.values).all(|(&e, &o)| {
                    if e.is_infinite() || o.is_infinite() {
                        return e == o;
                    }
                    (o - e).abs() <= atol + 1e-7 * e.abs()
                })
        }
        _ => false,
    }
}

/// The Python type a tagged plain value stands for, as `type(x)` tells them apart.
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Number(_) => match as_number(value) {
            Some(Number::Float(_)) => "float",
            _ => "int",
        },
        Value::Object(map) => match as_number(value) {
            Some(Number::Float(_)) => "float",
            Some(Number::Int(_)) => "int",
            None => match map.keys().next().map(String::as_str) {
                Some("$tuple") if map.len() == 1 => "tuple",
                Some("$set") if map.len() == 1 => "set",
                Some("$bytes") if map.len() == 1 => "bytes",
                Some("$complex") if map.len() == 1 => "complex",
                _ => "dict",
            },
        },
    }
}

/// `np.asarray(x, dtype=float)` where it succeeds: the numbers in order and the shape.
struct NumericArray {
    values: Vec<f64>,
    shape: Vec<usize>,
}

fn numeric_array(value: &Value) -> Option<NumericArray> {
    fn number(value: &Value) -> Option<f64> {
        match value {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => match as_number(value)? {
                Number::Float(f) => Some(f),
                // Past 64 bits numpy makes an object array, which `np.allclose` cannot take.
                Number::Int(digits) => match (digits.parse::<i64>(), digits.parse::<u64>()) {
                    (Ok(i), _) => Some(i as f64),
                    (_, Ok(u)) => Some(u as f64),
                    _ => None,
                },
            },
        }
    }
    fn fill(value: &Value, depth: usize, shape: &[usize], values: &mut Vec<f64>) -> Option<()> {
        match sequence_items(value) {
            Some(items) => {
                if shape.get(depth) != Some(&items.len()) {
                    return None;
                }
                items
                    .iter()
                    .try_for_each(|item| fill(item, depth + 1, shape, values))
            }
            None if depth == shape.len() => {
                values.push(number(value)?);
                Some(())
            }
            None => None,
        }
    }
    // The shape along the first elements; every other element must agree with it.
    let mut shape = Vec::new();
    let mut first = Some(value);
    while let Some(list) = first.and_then(sequence_items) {
        shape.push(list.len());
        first = list.first();
    }
    let mut values = Vec::new();
    fill(value, 0, &shape, &mut values)?;
    Some(NumericArray { values, shape })
}

/// evalplus's `is_floats`: a float, or a non-empty list or tuple of floats only.
fn is_floats(value: &Value) -> bool {
    let is_float = |value: &Value| matches!(as_number(value), Some(Number::Float(_)));
    match sequence_items(value) {
        Some(items) => !items.is_empty() && items.iter().all(is_float),
        None => is_float(value),
    }
}

/// The items of a list or a tuple.
fn sequence_items(value: &Value) -> Option<&Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(map) => tagged(map, "$tuple"),
        _ => None,
    }
}

/// A number in its wire shapes: an integer (exact, at any size, as its decimal digits) or a float.
enum Number {
    Int(String),
    Float(f64),
}

fn as_number(value: &Value) -> Option<Number> {
    match value {
        // `is_f64` is true for numbers written with a fraction or exponent; serde keeps every
        // other JSON number as an exact i64 or u64.
        Value::Number(n) if n.is_f64() => Some(Number::Float(n.as_f64()?)),
        Value::Number(n) => Some(Number::Int(n.to_string())),
        Value::Object(map) if map.len() == 1 => {
            if let Some(Value::String(digits)) = map.get("$int") {
                return Some(Number::Int(canonical_digits(digits)));
            }
            match map.get("$float").and_then(Value::as_str)? {
                "nan" => Some(Number::Float(f64::NAN)),
                "inf" => Some(Number::Float(f64::INFINITY)),
                "-inf" => Some(Number::Float(f64::NEG_INFINITY)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Digits without a `+` or leading zeros (`-0` is `0`), so equal integers have equal text.
fn canonical_digits(digits: &str) -> String {
    let (negative, magnitude) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits.strip_prefix('+').unwrap_or(digits)),
    };
    let magnitude = magnitude.trim_start_matches('0');
    match (negative, magnitude.is_empty()) {
        (_, true) => "0".into(),
        (true, false) => format!("-{magnitude}"),
        (false, false) => magnitude.into(),
    }
}

/// The exact decimal digits of an integral, finite float (`2.0**60` is `1152921504606846976`).
fn integral_digits(float: f64) -> Option<String> {
    (float.is_finite() && float.fract() == 0.0).then(|| canonical_digits(&format!("{float:.0}")))
}

/// Numbers compare as Python's `==` does: an integer and a float exactly (a float `2**60` is
/// not `2**60 + 1`), never through a float conversion. The tolerance applies only where the
/// expected value is a float (evalplus's rule): an integer result is matched exactly.
fn numbers_equal(expected: &Value, got: &Value, tolerance: Tolerance) -> Option<bool> {
    let as_number = |value: &Value| match value {
        Value::Bool(b) if tolerance.python => Some(Number::Int(u8::from(*b).to_string())),
        _ => as_number(value),
    };
    let within = |a: f64, b: f64| {
        a.is_finite() && b.is_finite() && (a - b).abs() <= tolerance.abs + tolerance.rel * a.abs()
    };
    Some(match (as_number(expected)?, as_number(got)?) {
        (Number::Int(a), Number::Int(b)) => a == b,
        (Number::Int(a), Number::Float(b)) => integral_digits(b).is_some_and(|b| a == b),
        (Number::Float(a), Number::Int(b)) => {
            let tolerant = !tolerance.python && (tolerance.abs > 0.0 || tolerance.rel > 0.0);
            integral_digits(a).is_some_and(|a| a == b)
                || tolerant && b.parse::<f64>().is_ok_and(|b| within(a, b))
        }
        (Number::Float(a), Number::Float(b)) => {
            (!tolerance.python && a.is_nan() && b.is_nan()) || a == b || within(a, b)
        }
    })
}

/// True when the candidate's value `got` equals `expected`.
pub fn values_equal(expected: &Value, got: &Value, tolerance: Tolerance) -> bool {
    if let Some(equal) = numbers_equal(expected, got, tolerance) {
        return equal;
    }
    match (expected, got) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => items_equal(a, b, tolerance),
        // JSON cannot say tuple, so a strict task's array takes one; Python's `==` does not.
        (Value::Array(a), Value::Object(b)) if !tolerance.python => {
            tagged(b, "$tuple").is_some_and(|b| items_equal(a, b, tolerance))
        }
        (Value::Object(a), got) if tagged(a, "$tuple").is_some() => {
            match (tagged(a, "$tuple"), got) {
                (Some(a), Value::Object(b)) => {
                    tagged(b, "$tuple").is_some_and(|b| items_equal(a, b, tolerance))
                }
                _ => false,
            }
        }
        (Value::Object(a), Value::Object(b)) => match (tagged(a, "$set"), tagged(b, "$set")) {
            (Some(x), Some(y)) => multiset_equal(x, y, tolerance),
            _ => match (tagged(a, "$dict"), tagged(b, "$dict")) {
                (Some(x), Some(y)) => multiset_equal(x, y, tolerance),
                // A dict whose string keys start with `$` travels as `$dict`, so that no key
                // reads as a tag; it equals the object that spells it (red team: an expected
                // `{"$a": 1}` could never be matched).
                (None, Some(y)) if !is_tag(a) => {
                    object_spelt_by(a, y, |ours, theirs| values_equal(ours, theirs, tolerance))
                }
                (Some(x), None) if !is_tag(b) => {
                    object_spelt_by(b, x, |ours, theirs| values_equal(theirs, ours, tolerance))
                }
                _ => objects_equal(a, b, tolerance),
            },
        },
        _ => false,
    }
}

fn objects_equal(a: &Map<String, Value>, b: &Map<String, Value>, tolerance: Tolerance) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(key, x)| b.get(key).is_some_and(|y| values_equal(x, y, tolerance)))
}

/// The tags of tagged plain JSON (see the module doc).
const TAGS: &[&str] = &[
    "$int",
    "$float",
    "$tuple",
    "$set",
    "$frozenset",
    "$dict",
    "$bytes",
    "$bytearray",
    "$complex",
    "$handle",
    "$type",
];

/// Whether an object is one of the tagged forms rather than a dict.
fn is_tag(map: &Map<String, Value>) -> bool {
    map.len() == 1 && map.keys().all(|key| TAGS.contains(&key.as_str()))
}

/// Whether `pairs` (a `$dict`'s) spell `object`: every key a string, none repeated, as many as
/// the object's, and `equal(object's value, pair's value)` for each. Read in place: a copy of
/// the pairs (as many values as a run's output holds) was memory outside the record budget
/// (red team: 0.4-0.5 GB more for one sample).
fn object_spelt_by(
    object: &Map<String, Value>,
    pairs: &[Value],
    equal: impl Fn(&Value, &Value) -> bool,
) -> bool {
    if object.len() != pairs.len() {
        return false;
    }
    let mut keys = std::collections::HashSet::with_capacity(pairs.len());
    pairs
        .iter()
        .all(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(key), value]) => {
                keys.insert(key.as_str()) && object.get(key).is_some_and(|ours| equal(ours, value))
            }
            _ => false,
        })
}

fn items_equal(a: &[Value], b: &[Value], tolerance: Tolerance) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y, tolerance))
}

fn tagged<'a>(map: &'a Map<String, Value>, tag: &str) -> Option<&'a Vec<Value>> {
    if map.len() != 1 {
        return None;
    }
    map.get(tag)?.as_array()
}

/// Order-insensitive equality (sets, non-string-keyed dicts); quadratic, fine for test sizes.
fn multiset_equal(a: &[Value], b: &[Value], tolerance: Tolerance) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let found = (0..b.len()).find(|&j| !used[j] && values_equal(x, &b[j], tolerance));
        found.map(|j| used[j] = true).is_some()
    })
}

/// Judges standard output: line by line in full, trailing white space of each line and trailing
/// empty lines ignored; with a tolerance, tokens that both parse as numbers compare within it.
/// Returns a short explanation of the first difference.
pub fn stdout_matches(
    expected: &str,
    got: &str,
    float_tolerance: Option<f64>,
) -> Result<(), String> {
    let expected_lines = significant_lines(expected);
    let got_lines = significant_lines(got);
    for (index, (e, g)) in expected_lines.iter().zip(&got_lines).enumerate() {
        if !line_matches(e, g, float_tolerance) {
            // Cut before quoting: a 16 MiB line of control characters quoted whole was ~100 MB
            // and ~0.75 s of host CPU a case, for a message cut to 300 characters (red team).
            return Err(format!(
                "line {}: expected {:?}, got {:?}",
                index + 1,
                excerpt(e, LINE_EXCERPT_CHARS),
                excerpt(g, LINE_EXCERPT_CHARS)
            ));
        }
    }
    if expected_lines.len() != got_lines.len() {
        return Err(format!(
            "expected {} lines, got {}",
            expected_lines.len(),
            got_lines.len()
        ));
    }
    Ok(())
}

/// Characters of each differing line quoted in a wrong answer's message.
const LINE_EXCERPT_CHARS: usize = 120;

fn significant_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn line_matches(expected: &str, got: &str, float_tolerance: Option<f64>) -> bool {
    if expected == got {
        return true;
    }
    let Some(tolerance) = float_tolerance else {
        return false;
    };
    let e: Vec<&str> = expected.split_whitespace().collect();
    let g: Vec<&str> = got.split_whitespace().collect();
    // Only a token written as a float (`0.5`, `1e-3`) is matched within the tolerance; an
    // integer token must match exactly.
    let float_token = |token: &str| token.contains(['.', 'e', 'E']);
    e.len() == g.len()
        && e.iter().zip(&g).all(|(a, b)| {
            a == b
                || float_token(a)
                    && match (a.parse::<f64>(), b.parse::<f64>()) {
                        (Ok(x), Ok(y)) => {
                            x.is_finite()
                                && y.is_finite()
                                && (x - y).abs() <= tolerance * x.abs().max(1.0)
                        }
                        _ => false,
                    }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eq(e: Value, g: Value) -> bool {
        values_equal(&e, &g, Tolerance::EXACT)
    }

    #[test]
    fn a_dollar_keyed_dict_equals_the_object_that_spells_it() {
        let sent = json!({"$dict": [["$a", 1], ["b", [2]]]});
        assert!(eq(json!({"$a": 1, "b": [2]}), sent.clone()));
        assert!(eq(sent.clone(), json!({"$a": 1, "b": [2]})));
        assert!(!eq(json!({"$a": 1}), sent));
        assert!(!eq(json!({"$a": 2}), json!({"$dict": [["$a", 1]]})));
        // Repeated or non-string keys spell no object.
        assert!(!eq(
            json!({"$a": 1, "b": 1}),
            json!({"$dict": [["$a", 1], ["$a", 1]]})
        ));
        assert!(!eq(json!({"1": 2}), json!({"$dict": [[1, 2]]})));
        // Repeated keys and non-string keys spell no object; a tag is not a dict.
        assert!(!eq(
            json!({"$a": 1}),
            json!({"$dict": [["$a", 1], ["$a", 1]]})
        ));
        assert!(!eq(json!({"1": 1}), json!({"$dict": [[1, 1]]})));
        assert!(!eq(json!({"$int": "5"}), json!({"$dict": [["$int", "5"]]})));
    }

    #[test]
    fn types_are_checked() {
        assert!(eq(json!(1), json!(1)));
        assert!(eq(json!(1), json!(1.0)));
        assert!(!eq(json!(true), json!(1)));
        assert!(!eq(json!(1), json!(true)));
        assert!(!eq(json!("1"), json!(1)));
        assert!(!eq(json!([1]), json!(1)));
        assert!(!eq(json!(null), json!(0)));
        assert!(eq(json!({"a": [1, "x"]}), json!({"a": [1, "x"]})));
        assert!(!eq(json!({"a": 1}), json!({"a": 1, "b": 2})));
    }

    #[test]
    fn big_ints_sets_and_special_floats() {
        let big = json!({"$int": "123456789012345678901234567890"});
        assert!(eq(big.clone(), big.clone()));
        assert!(!eq(big, json!({"$int": "123456789012345678901234567891"})));
        assert!(eq(json!({"$set": [1, 2, 3]}), json!({"$set": [3, 1, 2]})));
        assert!(!eq(json!({"$set": [1, 2]}), json!({"$set": [1, 1]})));
        assert!(eq(json!({"$float": "nan"}), json!({"$float": "nan"})));
        assert!(!eq(json!({"$float": "inf"}), json!(1e308)));
    }

    #[test]
    fn integers_are_exact_before_any_float_path() {
        // 2**60 + 1 against the float 2**60 (as Python's `==`: False), both ways.
        let big = json!(1152921504606846977u64);
        let float = json!(1.152921504606847e18);
        assert!(!eq(big.clone(), float.clone()));
        assert!(!eq(float.clone(), big));
        assert!(eq(json!(1152921504606846976u64), float.clone()));
        assert!(eq(json!({"$int": "1152921504606846976"}), float));
        assert!(eq(json!(-0), json!({"$int": "-0"})));
        // A tolerance applies where the expected value is a float, never to an integer.
        let loose = Tolerance {
            abs: 0.5,
            ..Tolerance::EXACT
        };
        let python = Tolerance {
            python: true,
            ..Tolerance::EXACT
        };
        assert!(values_equal(&json!([1, 0]), &json!([true, false]), python));
        assert!(values_equal(&json!(1.0), &json!(true), python));
        assert!(!values_equal(&json!(2), &json!(true), python));
        assert!(!eq(json!(1), json!(true)));
        assert!(!values_equal(&json!(3), &json!(3.2), loose));
        assert!(!values_equal(&json!(3), &json!(4), loose));
        assert!(values_equal(&json!(3.0), &json!(3.2), loose));
        assert!(values_equal(&json!(3.0), &json!(3), loose));
        assert!(stdout_matches("3\n", "3.0000001\n", Some(1e-3)).is_err());
        assert!(stdout_matches("3.0\n", "3.0000001\n", Some(1e-3)).is_ok());
    }

    #[test]
    fn floats_within_tolerance() {
        let tol = Tolerance {
            abs: 1e-6,
            ..Tolerance::EXACT
        };
        assert!(values_equal(&json!(0.1), &json!(0.1000000001), tol));
        assert!(!values_equal(&json!(0.1), &json!(0.1001), tol));
        assert!(!eq(json!(0.1), json!(0.1000000001)));
        assert!(values_equal(
            &json!([1.0, 2.0]),
            &json!([1.0000001, 2]),
            Tolerance {
                abs: 1e-3,
                ..Tolerance::EXACT
            }
        ));
    }

    #[test]
    fn a_tuple_is_a_tuple_and_only_a_strict_json_array_takes_one() {
        let tuple = json!({"$tuple": [4, 6]});
        let python = Tolerance {
            python: true,
            ..Tolerance::EXACT
        };
        for tolerance in [Tolerance::EXACT, python] {
            assert!(values_equal(&tuple, &tuple, tolerance));
            assert!(!values_equal(&tuple, &json!([4, 6]), tolerance));
            assert!(!values_equal(&tuple, &json!({"$tuple": [4, 7]}), tolerance));
            assert!(!values_equal(&tuple, &json!({"$set": [4, 6]}), tolerance));
            assert!(!values_equal(&json!({"$tuple": []}), &json!([]), tolerance));
        }
        // Python's `==`: `[4, 6] != (4, 6)`, nested too; a strict task's JSON array takes either.
        assert!(!values_equal(&json!([4, 6]), &tuple, python));
        assert!(!values_equal(&json!([[4, 6]]), &json!([tuple]), python));
        assert!(eq(json!([4, 6]), tuple.clone()));
        assert!(eq(json!([[4, 6]]), json!([tuple])));
        assert!(!eq(json!([4, 7]), tuple));
    }

    #[test]
    fn python_comparison_is_evalplus_allclose() {
        let n = |x: f64| json!(x);
        // atol, plus 1e-7 relative: 1 + 5e-7 is outside 1e-6 + 1e-7 of 1, 1000 + 5e-5 is not.
        assert!(evalplus_equal(&n(1.0), &n(1.0 + 1e-6), 1e-6));
        assert!(!evalplus_equal(&n(1.0), &n(1.0 + 5e-6), 1e-6));
        assert!(evalplus_equal(&n(1000.0), &n(1000.0 + 5e-5), 1e-6));
        assert!(!evalplus_equal(&n(1000.0), &n(1000.0 * (1.0 + 5e-7)), 1e-6));
        // Without an atol, `==` only.
        assert!(!evalplus_equal(&n(1.0), &n(1.0 + 1e-9), 0.0));
        // NaN equals nothing, in `==` and in `np.allclose`; the infinities equal themselves.
        let nan = json!({"$float": "nan"});
        assert!(!evalplus_equal(&nan, &nan, 0.0));
        assert!(!evalplus_equal(
            &json!([nan, 1.0]),
            &json!([nan, 1.0]),
            1e-6
        ));
        let inf = json!({"$float": "inf"});
        assert!(evalplus_equal(
            &json!([inf, 1.0]),
            &json!([inf, 1.0000001]),
            1e-6
        ));
        assert!(!evalplus_equal(&inf, &n(1e308), 1e-6));
        // The same type at the top: an int for a float is `==` or nothing.
        assert!(evalplus_equal(&n(3.0), &json!(3), 0.5));
        assert!(!evalplus_equal(&n(3.1), &json!(3), 0.5));
        assert!(!evalplus_equal(
            &json!([1.0]),
            &json!({"$tuple": [1.0]}),
            1e-6
        ));
        // np.allclose takes integers and nested sequences of one shape, lists or tuples...
        assert!(evalplus_equal(&json!([1, 2]), &json!([1.0000001, 2]), 1e-6));
        assert!(evalplus_equal(
            &json!([[1, 2]]),
            &json!([{"$tuple": [1, 2.0000001]}]),
            1e-6
        ));
        assert!(evalplus_equal(
            &json!([true, 2.0]),
            &json!([1, 2.0000001]),
            1e-6
        ));
        assert!(evalplus_equal(&json!([]), &json!([]), 1e-6));
        // ...and fails on what it cannot take: dicts, sets, strings, ragged lists, huge ints.
        assert!(!evalplus_equal(
            &json!({"a": 1.0}),
            &json!({"a": 1.0000005}),
            1e-6
        ));
        let set = json!({"$set": [1.0, 2.0]});
        assert!(!evalplus_equal(
            &set,
            &json!({"$set": [1.0000005, 2.0]}),
            1e-6
        ));
        assert!(!evalplus_equal(
            &json!(["a", 1.0]),
            &json!(["a", 1.0000005]),
            1e-6
        ));
        assert!(!evalplus_equal(
            &json!([[1.0], [2.0, 3.0]]),
            &json!([[1.0], [2.0, 3.1]]),
            1.0
        ));
        // 2**70 and 2**70 + 1 are one double, but numpy holds them as objects and raises.
        let big = json!([{"$int": "1180591620717411303424"}]);
        let next = json!([{"$int": "1180591620717411303425"}]);
        assert!(!evalplus_equal(&big, &next, 1e-6));
        let within_64_bits = json!([{"$int": "9007199254740993"}]);
        assert!(evalplus_equal(
            &within_64_bits,
            &json!([9007199254740992u64]),
            1e-6
        ));
        let huge = json!([{"$int": "1".repeat(400)}]);
        assert!(evalplus_equal(&huge, &huge, 1e-6));
        assert!(!evalplus_equal(
            &huge,
            &json!([{"$int": "2".repeat(400)}]),
            1e300
        ));
        // But `==` first, whatever the types: a dict equal as a dict passes.
        assert!(evalplus_equal(
            &json!({"a": [1, 2]}),
            &json!({"a": [1, 2]}),
            0.0
        ));
    }

    #[test]
    fn floats_are_read_exactly() {
        // Python's repr of two neighbouring doubles; serde_json's default parser read both as
        // one (red team), so a result one ulp off compared equal with no tolerance.
        let expected: Value = serde_json::from_str("[0, 0.1208899598058064]").unwrap();
        let got: Value = serde_json::from_str("[0, 0.12088995980580641]").unwrap();
        assert!(!eq(expected.clone(), got.clone()));
        assert!(!evalplus_equal(&expected, &got, 0.0));
        assert_eq!(expected[1].as_f64(), Some(0.1208899598058064));
    }

    #[test]
    fn evalplus_keeps_its_atol_from_case_to_case() {
        // 1e-6 from the first case whose expected value is floats, for every later case.
        let cases = Evalplus::new(None);
        assert!(!cases.equal(&json!([1, 2]), &json!([1.0000001, 2])));
        assert!(cases.equal(&json!(0.5), &json!(0.5000001)));
        assert!(cases.equal(&json!([1, 2]), &json!([1.0000001, 2])));
        // The task's atol from the start.
        let cases = Evalplus::new(Some(1e-3));
        assert!(cases.equal(&json!([1, 2]), &json!([1.0005, 2])));
        assert!(!cases.equal(&json!([1, 2]), &json!([1.005, 2])));
    }

    #[test]
    fn stdout_is_compared_in_full() {
        assert!(stdout_matches("1\n2\n", "1  \n2\n\n\n", None).is_ok());
        // open-r1's zip() compare would accept this prefix.
        let err = stdout_matches("1\n2\n3\n", "1\n2\n", None).unwrap_err();
        assert!(err.contains("expected 3 lines, got 2"), "{err}");
        assert!(stdout_matches("1\n", "1\n2\n", None).is_err());
        assert!(stdout_matches("0.333333", "0.3333331", Some(1e-5)).is_ok());
        assert!(stdout_matches("0.333333", "0.3333331", None).is_err());
        assert!(stdout_matches(" a b", "a b", None).is_err());
    }

    #[test]
    fn a_wrong_line_is_quoted_in_part() {
        let flood = "\u{1}".repeat(1 << 20);
        let err = stdout_matches("3\n", &format!("{flood}\n"), None).unwrap_err();
        assert!(
            err.starts_with("line 1: expected \"3\", got \"\\u{1}"),
            "{err}"
        );
        assert!(err.contains("chars cut"), "{err}");
        assert!(err.len() < 1_000, "{} bytes", err.len());
    }
}
