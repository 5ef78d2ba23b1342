//! Reading what a harness run reported, and turning it into per-test results.
//!
//! Only lines that start with the run's nonce are records; everything else on standard output is
//! the candidate's and is ignored. Records after the first `done` are ignored too (an `atexit`
//! hook or a finaliser of the candidate's could print after our harness finished). A test with no
//! record did not finish: the way the run ended (time limit, memory limit, exit, trap) says why.

use serde_json::{Map, Value};

use super::executor::{Ending, ExecOutcome};
use super::verdict::{TestOutcome, TestResult};

/// The records of one harness run, in order.
#[derive(Debug, Default)]
pub struct Records {
    pub list: Vec<Map<String, Value>>,
    pub done: bool,
    /// Why the first framed line that is not a JSON object could not be read: the nonce says
    /// our side wrote it, so it is our bug or a value we could not encode, never to be ignored.
    pub unreadable: Option<String>,
    /// The records held more arrays and objects than the budget: those from the first record
    /// over it on were not read, as if the output had been cut there.
    pub over_budget: bool,
}

/// What the records of one sample may cost to hold, all its runs together, in parsed values:
/// each value (a number, string, `true`...) is one, each array or object [`CONTAINER_COST`],
/// each string one more and one per 32 bytes of its text (see `json_cost_of`).
/// Parsed, a number is 32 bytes however short its text (`0,` is two bytes), ~70 with what
/// holding it takes (measured: 604 MiB of peak memory at 8M, 1,186 MiB at 16M), an array or
/// object ~170 bytes for one byte of text (`[`). Red teams filled four `call` runs' output
/// with forged records of arrays nested 120 deep (4.2 GB of the host's memory for one sample),
/// then, with arrays and objects bounded, of flat arrays of numbers (2.3 GB). Twelve million
/// is ~0.9 GB at most, and more than honest results hold: HumanEval+'s largest, HumanEval/130's,
/// return ~10M numbers in a few hundred lists over 125 cases, which grading holds as well.
pub const MAX_RECORD_COST: usize = 12 << 20;

/// An array's or object's cost in values: ~170 bytes parsed against a value's 32, rounded up so
/// that records of nothing but nested arrays are held to a million of them (~180 MB), as before
/// values were counted at all.
const CONTAINER_COST: usize = 16;

/// The records of `stdout` (see the module doc), reading no more than `budget` of cost (see
/// [`MAX_RECORD_COST`]) and taking what it read from it.
pub fn parse_records(stdout: &str, nonce: &str, budget: &mut usize) -> Records {
    let mut records = Records::default();
    for line in stdout.lines() {
        let Some(body) = line
            .strip_prefix(nonce)
            .and_then(|rest| rest.strip_prefix(' '))
        else {
            continue;
        };
        let cost = json_cost_of(body);
        if cost > *budget {
            records.over_budget = true;
            break;
        }
        *budget -= cost;
        let parsed = serde_json::from_str::<Value>(body).or_else(|error| {
            // A lone surrogate is written as an escape (`"\ud83d"`) by both JSON.stringify and
            // Python's `json`, in keys as in values, and the line would be lost: a candidate's
            // honest answer (a dict keyed by half an emoji) lost its case, and, the record
            // missing, every later case too (red team).
            well_formed_escapes(body).map_or(Err(error), |body| serde_json::from_str(&body))
        });
        let record = match parsed {
            Ok(Value::Object(record)) => record,
            Ok(_) => {
                records
                    .unreadable
                    .get_or_insert_with(|| "not a JSON object".into());
                continue;
            }
            Err(error) => {
                records.unreadable.get_or_insert_with(|| error.to_string());
                continue;
            }
        };
        if record.get("k").and_then(Value::as_str) == Some("done") {
            records.done = true;
            break;
        }
        records.list.push(record);
    }
    records
}

/// Whether an exception of this type says a program does not parse: Python's `SyntaxError` and
/// its subclasses (harness.py's `_SYNTAX_ERRORS`), JavaScript's `SyntaxError`.
pub fn is_syntax_error(type_name: &str) -> bool {
    matches!(type_name, "SyntaxError" | "IndentationError" | "TabError")
}

/// `json` with each escape of a lone surrogate (`\ud800`–`\udfff` not in a high-low pair)
/// replaced by one of U+FFFD, as Python's `errors="replace"` reads it; `None` if it has none.
/// Only a line that failed to parse is read again so, at no cost to the others.
fn well_formed_escapes(json: &str) -> Option<String> {
    fn unit_at(bytes: &[u8], at: usize) -> Option<u16> {
        let digits = bytes.get(at..at + 6)?;
        if &digits[..2] != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&digits[2..]).ok()?, 16).ok()
    }
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let (mut copied, mut at, mut in_string, mut changed) = (0, 0, false, false);
    while at < bytes.len() {
        match bytes[at] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let low_follows =
                    || unit_at(bytes, at + 6).is_some_and(|low| (0xDC00..0xE000).contains(&low));
                match unit_at(bytes, at) {
                    Some(0xD800..0xDC00) if low_follows() => at += 12,
                    Some(0xD800..0xE000) => {
                        out.push_str(&json[copied..at]);
                        out.push_str("\\ufffd");
                        at += 6;
                        copied = at;
                        changed = true;
                    }
                    // Any other escape is two bytes, `\uXXXX` six: skipping two is enough.
                    _ => at += 2,
                }
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    out.push_str(&json[copied..]);
    changed.then_some(out)
}

/// What `json` costs parsed, in values (see [`MAX_RECORD_COST`]): one for each value it
/// holds, counted as the commas and colons outside strings that come before all but its first;
/// [`CONTAINER_COST`] more for each array and object (its `[` and `{` outside strings); and for
/// each string (a key or a value) one more, and one per 32 bytes of its text: a string is a
/// value and a heap block of its own (red team: 11.7M one-letter strings, counted as values
/// only, held 1.2 GB). A scan of the text, before anything is built from it.
fn json_cost_of(json: &str) -> usize {
    let (mut values, mut containers, mut strings, mut string_bytes) = (1usize, 0usize, 0usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in json.as_bytes() {
        if in_string {
            string_bytes += 1;
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => {
                    in_string = true;
                    strings += 1;
                }
                b'[' | b'{' => containers += 1,
                b',' | b':' => values += 1,
                _ => {}
            }
        }
    }
    values + CONTAINER_COST * containers + strings + string_bytes / 32
}

impl Records {
    /// The first record of kind `kind`.
    pub fn first(&self, kind: &str) -> Option<&Map<String, Value>> {
        self.list.iter().find(|r| text(r, "k") == kind)
    }

    /// Records of kind `kind` by their index `i` (the first one wins).
    pub fn indexed(&self, kind: &str, count: usize) -> Vec<Option<&Map<String, Value>>> {
        let mut slots = vec![None; count];
        for record in self.list.iter().filter(|r| text(r, "k") == kind) {
            let index = record.get("i").and_then(Value::as_u64).unwrap_or(u64::MAX);
            if let Some(slot) = slots.get_mut(index as usize) {
                slot.get_or_insert(record);
            }
        }
        slots
    }
}

pub fn text<'a>(record: &'a Map<String, Value>, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or("")
}

/// What a run that stopped early means for the test that was running.
pub fn unfinished(outcome: &ExecOutcome, name: &str) -> TestResult {
    let (verdict, message) = match &outcome.ending {
        Ending::TimeLimit => (TestOutcome::TimeLimit, "time limit exceeded".to_string()),
        Ending::MemoryLimit => (
            TestOutcome::MemoryLimit,
            "memory limit exceeded".to_string(),
        ),
        Ending::OutputLimit => (
            TestOutcome::OutputLimit,
            "output limit exceeded".to_string(),
        ),
        _ if outcome.truncated => (
            TestOutcome::OutputLimit,
            "output limit exceeded".to_string(),
        ),
        Ending::Exit(code) => (
            TestOutcome::RuntimeError(format!("exit({code})")),
            format!("the program exited with status {code} before the test finished"),
        ),
        Ending::Exception { type_name, message } => (
            exception_outcome(type_name),
            format!("{type_name}: {message}"),
        ),
        Ending::Trap(message) => (
            TestOutcome::RuntimeError("trap".into()),
            format!("the WebAssembly machine trapped: {message}"),
        ),
        Ending::Finished => (
            TestOutcome::RuntimeError("incomplete".into()),
            "the program ended before the test finished".to_string(),
        ),
        Ending::Error(message) => (
            TestOutcome::RuntimeError("executor".into()),
            format!("executor error: {message}"),
        ),
    };
    TestResult::new(verdict, name, message)
}

/// An exception type as a verdict: `MemoryError` is the memory limit, the rest runtime errors.
pub fn exception_outcome(type_name: &str) -> TestOutcome {
    match type_name {
        "MemoryError" | "RangeError: out of memory" | "InternalError: out of memory" => {
            TestOutcome::MemoryLimit
        }
        other => TestOutcome::RuntimeError(other.to_string()),
    }
}

/// A test record of the harness as a test result: `v` is `pass`, `neutral` (passed without
/// calling the candidate), `fail` (wrong answer), `ended` (the candidate's instance stopped:
/// `why` says how, in the sandbox's words), or `error` (an exception, `type` and `msg`).
pub fn record_result(record: &Map<String, Value>, name: &str) -> TestResult {
    match text(record, "v") {
        "pass" => TestResult::new(TestOutcome::Passed, name, ""),
        "neutral" => TestResult::new(TestOutcome::Neutral, name, ""),
        "fail" => TestResult::new(TestOutcome::WrongAnswer, name, text(record, "msg")),
        "ended" => candidate_ended(text(record, "why"), name),
        _ => error_result(record, name),
    }
}

/// Why the candidate's instance could not answer (`call-peer`'s error texts) as a verdict: all
/// of them are the candidate's failures.
fn candidate_ended(why: &str, name: &str) -> TestResult {
    let (outcome, message) = match why {
        "time-limit" => (TestOutcome::TimeLimit, "time limit exceeded".to_string()),
        "memory-limit" => (
            TestOutcome::MemoryLimit,
            "memory limit exceeded".to_string(),
        ),
        "too-long" => (
            TestOutcome::OutputLimit,
            "the candidate's value is larger than the output limit".to_string(),
        ),
        _ => {
            let kind = match why.split_once(": ") {
                Some(("exited", code)) => format!("exit({code})"),
                Some(("raised", type_name)) => type_name.to_string(),
                Some(("trap", _)) => "trap".to_string(),
                _ => "ended".to_string(),
            };
            (
                TestOutcome::RuntimeError(kind),
                format!("the candidate's code stopped: {why}"),
            )
        }
    };
    TestResult::new(outcome, name, message)
}

/// A record's exception (`type`, `msg`) as a test result.
pub fn error_result(record: &Map<String, Value>, name: &str) -> TestResult {
    let type_name = text(record, "type");
    let message = format!("{type_name}: {}", text(record, "msg"));
    TestResult::new(exception_outcome(type_name), name, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_before_parsing_and_records_past_the_budget_are_not_read() {
        // {k, i, value: [1, [2, 3], {a: "..."}]}: 9 commas and colons, 4 containers and 6
        // short strings.
        assert_eq!(
            json_cost_of(r#"{"k":"case","i":0,"value":[1,[2,3],{"a":"[,{:"}]}"#),
            1 + 9 + 4 * CONTAINER_COST + 6
        );
        assert_eq!(json_cost_of(r#""a\"[{,:""#), 1 + 1);
        // A long string costs by its length.
        assert_eq!(
            json_cost_of(&format!("\"{}\"", "x".repeat(6400))),
            1 + 1 + 200
        );
        let nested = format!(
            "N1 {{\"k\":\"x\",\"v\":{}{}}}\n",
            "[".repeat(100),
            "]".repeat(100)
        );
        let flat = format!(
            "N1 {{\"k\":\"case\",\"i\":0,\"v\":[{}0]}}\n",
            "0,".repeat(100_000)
        );
        // {k, v: 100 arrays}: 1 + 2 colons + 1 comma, and 3 strings; {k, i, v: [100,001
        // numbers]}: 1 + 3 colons + 100,002 commas (an entry's comma and colon both count: an
        // estimate from above), and 4 strings.
        let nested_cost = 4 + 101 * CONTAINER_COST + 3;
        let flat_cost = 100_006 + 2 * CONTAINER_COST + 4;
        assert_eq!(json_cost_of(nested[3..].trim_end()), nested_cost);
        assert_eq!(json_cost_of(flat[3..].trim_end()), flat_cost);
        let out = format!("{flat}{}", nested.repeat(50));
        let mut budget = flat_cost + 9 * nested_cost + 1;
        let records = parse_records(&out, "N1", &mut budget);
        assert!(records.over_budget);
        // The flat case and the nine nested records that fit.
        assert_eq!(records.list.len(), 10);
        assert_eq!(budget, 1);
    }

    #[test]
    fn only_nonce_lines_before_done_count() {
        let out = "noise\nN1 {\"k\":\"test\",\"i\":0,\"v\":\"pass\"}\n{\"k\":\"done\"}\n\
                   X {\"k\":\"done\"}\nN1 {\"k\":\"done\"}\nN1 {\"k\":\"test\",\"i\":1,\"v\":\"pass\"}\n";
        let records = parse_records(out, "N1", &mut MAX_RECORD_COST.clone());
        assert!(records.done);
        assert_eq!(records.list.len(), 1);
        let slots = records.indexed("test", 2);
        assert!(slots[0].is_some() && slots[1].is_none());
    }

    #[test]
    fn a_stopped_run_names_the_reason() {
        let outcome = |ending| ExecOutcome {
            ending,
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
            elapsed_ms: 1.0,
        };
        assert_eq!(
            unfinished(&outcome(Ending::TimeLimit), "t").outcome,
            TestOutcome::TimeLimit
        );
        assert_eq!(
            unfinished(&outcome(Ending::MemoryLimit), "t").outcome,
            TestOutcome::MemoryLimit
        );
        let exit = unfinished(&outcome(Ending::Exit(0)), "t");
        assert_eq!(exit.outcome, TestOutcome::RuntimeError("exit(0)".into()));
        let oom = Ending::Exception {
            type_name: "MemoryError".into(),
            message: String::new(),
        };
        assert_eq!(
            unfinished(&outcome(oom), "t").outcome,
            TestOutcome::MemoryLimit
        );
    }

    #[test]
    fn a_record_with_a_lone_surrogate_escape_is_read_with_a_replacement() {
        let nonce = "N0";
        let out = concat!(
            "N0 {\"k\":\"case\",\"i\":0,\"value\":{\"\\ud83d\":1,\"x\\\\ud800\":\"\\ude00\"}}\n",
            "N0 {\"k\":\"case\",\"i\":1,\"value\":\"\\ud83d\\ude00 \\\\\\ud83d\"}\n",
            "N0 {\"k\":\"done\"}\n",
        );
        let records = parse_records(out, nonce, &mut MAX_RECORD_COST.clone());
        assert!(records.unreadable.is_none(), "{:?}", records.unreadable);
        assert_eq!(records.list.len(), 2);
        // Lone halves become U+FFFD; an escaped backslash before `ud800` is no escape; a pair
        // stays the character it makes.
        assert_eq!(
            records.list[0]["value"],
            serde_json::json!({"\u{fffd}": 1, "x\\ud800": "\u{fffd}"})
        );
        assert_eq!(records.list[1]["value"], "\u{1F600} \\\u{fffd}");
        assert_eq!(well_formed_escapes(r#"{"a":"\u0041\"\\"}"#), None);
    }
}
