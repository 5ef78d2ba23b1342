//! `assert` tests prepared once per task.
//!
//! Parsing, instrumenting and compiling a task's tests (and its prompt prefix) inside the
//! sandbox cost a HumanEval sample 1–8 ms, the same for every sample of the task. The Python
//! harness therefore sends back the compiled form (marshalled code objects, as hex) from the first
//! sample's run, and later samples of the task (GRPO groups, pass@k) get it ready-made.
//!
//! Trust: the record is accepted only as the *first* record of a run, which the harness writes
//! before the candidate's code has been compiled, so a candidate cannot plant tests for later
//! samples. The bytes are marshal data made by the sandbox's own CPython from the task's code.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

/// Entries are dropped all at once beyond this many bytes of hex (tests with big literal inputs
/// run to a few hundred KB; benchmarks hold hundreds of tasks).
const MAX_CACHED_BYTES: usize = 64 << 20;

/// A task's tests in compiled form, and the test names the host reports.
#[derive(Debug)]
pub struct PreparedTests {
    pub hex: String,
    pub names: Vec<String>,
}

impl PreparedTests {
    /// Reads a `prepared` record; `None` if it is malformed.
    pub fn from_record(record: &Map<String, Value>) -> Option<PreparedTests> {
        let hex = record.get("hex")?.as_str()?;
        let valid_hex = !hex.is_empty()
            && hex.len().is_multiple_of(2)
            && hex.bytes().all(|b| b.is_ascii_hexdigit());
        let names = record
            .get("names")?
            .as_array()?
            .iter()
            .map(|name| name.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?;
        valid_hex.then(|| PreparedTests {
            hex: hex.to_string(),
            names,
        })
    }
}

struct Entry {
    test_code: String,
    prefix: String,
    prepared: Arc<PreparedTests>,
}

#[derive(Default)]
struct State {
    entries: HashMap<u64, Entry>,
    bytes: usize,
}

/// Prepared tests by task (test code and prefix), shared by all grading threads.
#[derive(Default)]
pub struct PreparedCache {
    state: Mutex<State>,
}

fn key(test_code: &str, prefix: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (test_code, prefix).hash(&mut hasher);
    hasher.finish()
}

impl PreparedCache {
    pub fn get(&self, test_code: &str, prefix: &str) -> Option<Arc<PreparedTests>> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = state.entries.get(&key(test_code, prefix))?;
        // The hash only finds the slot; the task must match exactly.
        (entry.test_code == test_code && entry.prefix == prefix).then(|| entry.prepared.clone())
    }

    pub fn insert(&self, test_code: &str, prefix: &str, prepared: PreparedTests) {
        let size = prepared.hex.len() + test_code.len() + prefix.len();
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.bytes + size > MAX_CACHED_BYTES {
            state.entries.clear();
            state.bytes = 0;
        }
        let entry = Entry {
            test_code: test_code.to_string(),
            prefix: prefix.to_string(),
            prepared: Arc::new(prepared),
        };
        if let Some(old) = state.entries.insert(key(test_code, prefix), entry) {
            state.bytes -= old.prepared.hex.len() + old.test_code.len() + old.prefix.len();
        }
        state.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prepared(hex: &str) -> PreparedTests {
        PreparedTests {
            hex: hex.into(),
            names: vec!["assert f(1) == 2".into()],
        }
    }

    #[test]
    fn a_hit_needs_the_same_tests_and_prefix() {
        let cache = PreparedCache::default();
        cache.insert("assert f(1) == 2", "def g(): pass\n", prepared("00ff"));
        assert_eq!(
            cache
                .get("assert f(1) == 2", "def g(): pass\n")
                .unwrap()
                .hex,
            "00ff"
        );
        assert!(cache.get("assert f(1) == 2", "").is_none());
        assert!(cache.get("assert f(1) == 3", "def g(): pass\n").is_none());
    }

    #[test]
    fn records_with_bad_hex_or_names_are_refused() {
        let good = json!({"k": "prepared", "hex": "0a1B", "names": ["a"]});
        assert!(PreparedTests::from_record(good.as_object().unwrap()).is_some());
        for bad in [
            json!({"hex": "0a1", "names": ["a"]}),
            json!({"hex": "zz", "names": ["a"]}),
            json!({"hex": "0a", "names": [1]}),
            json!({"hex": "0a"}),
        ] {
            assert!(PreparedTests::from_record(bad.as_object().unwrap()).is_none());
        }
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = PreparedCache::default();
        let big = "0".repeat(MAX_CACHED_BYTES / 3);
        for i in 0..10 {
            cache.insert(&format!("assert {i}"), "", prepared(&big));
        }
        let state = cache.state.lock().unwrap();
        assert!(state.bytes <= MAX_CACHED_BYTES);
        assert!(state.entries.len() <= 3);
    }
}
