//! Instructions parsed once per task, not once per sample: the samples of one prompt (a GRPO
//! group's completions, an evaluation's repeats) carry the same task, and parsing it (kwargs
//! read into their types, keyword matchers and case-folded words built) was ~7% of IFEval's
//! grading time. Each grading thread keeps its own table, bounded in tasks and bytes; an entry is used only for a
//! task equal, field by field, to the one it was parsed from, so a hash that collides costs a
//! comparison, never another task's instructions. Tasks whose instructions hold a regex are
//! not kept (the regex cache bounds those).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{parse_instructions, regex_cache, Instruction};
use crate::contract::InstructionsTask;

/// Parsed tasks a thread keeps; past this, or past [`BYTES_KEPT`], the table starts again empty
/// (a client that sends only new tasks pays one hash a sample).
const TASKS_KEPT: usize = 1024;

/// The most bytes of tasks (prompts, ids and kwargs, roughly) a thread keeps: IFEval's 541
/// tasks take 144 KB. Without it, 1024 tasks with a megabyte-long prompt each held a gigabyte
/// per grading thread; `serve` may grade on up to `--max-requests` threads at once.
const BYTES_KEPT: usize = 256 << 10;

/// A task larger than this is parsed afresh each time and never kept.
const TASK_BYTES_KEPT: usize = 8 << 10;

/// What parsing gives for a task: its instructions, or the error naming the first bad one.
pub type Parsed = Arc<Result<Vec<Instruction>, String>>;

/// The fields that parsing reads (mode and scoring are applied after).
struct Key {
    instruction_id_list: Vec<String>,
    kwargs: Vec<Map<String, Value>>,
    prompt: Option<String>,
}

impl Key {
    /// Field by field, kwargs in their order (the same task sent again lists them alike; in
    /// another order it is only a miss). `serde_json`'s own `==` on maps looks every key up by a
    /// keyed hash: that and hashing the prompt cost as much as parsing the task.
    fn matches(&self, task: &InstructionsTask) -> bool {
        self.instruction_id_list == task.instruction_id_list
            && self.kwargs.len() == task.kwargs.len()
            && self.kwargs.iter().zip(&task.kwargs).all(|(a, b)| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1 == y.1)
            })
            && self.prompt == task.prompt
    }
}

/// Tasks are hashed with a per-process random seed (a client cannot make its tasks collide on
/// purpose) by foldhash, not SipHash, which took 1.6% of IFEval's grading.
#[derive(Default)]
struct Table {
    hasher: foldhash::quality::RandomState,
    entries: HashMap<u64, Vec<(Key, Parsed)>, foldhash::fast::RandomState>,
    len: usize,
    bytes: usize,
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
}

/// `parse_instructions(task)`, from this thread's table when an equal task was parsed before.
pub fn parsed_instructions(task: &InstructionsTask) -> Parsed {
    let bytes = task_bytes(task);
    if bytes > TASK_BYTES_KEPT {
        return Arc::new(parse_instructions(task));
    }
    TABLE.with_borrow_mut(|table| {
        let hash = table.hasher.hash_one(TaskHash(task));
        if let Some(found) = table
            .entries
            .get(&hash)
            .and_then(|bucket| bucket.iter().find(|(key, _)| key.matches(task)))
        {
            return found.1.clone();
        }
        let regexes_before = regex_cache::handed_out();
        let parsed: Parsed = Arc::new(parse_instructions(task));
        // A task whose instructions hold a regex (a keyword written as one, a section
        // splitter) is not kept: a client's pattern can compile to megabytes, which the byte
        // count here does not see (red team: 64 such tasks of 8 KB held 2.5 GB more).
        if regex_cache::handed_out() != regexes_before {
            return parsed;
        }
        if table.len >= TASKS_KEPT || table.bytes + bytes > BYTES_KEPT {
            table.entries.clear();
            table.len = 0;
            table.bytes = 0;
        }
        let key = Key {
            instruction_id_list: task.instruction_id_list.clone(),
            kwargs: task.kwargs.clone(),
            prompt: task.prompt.clone(),
        };
        table
            .entries
            .entry(hash)
            .or_default()
            .push((key, parsed.clone()));
        table.len += 1;
        table.bytes += bytes;
        parsed
    })
}

/// About the bytes a kept copy of the task's ids, kwargs and prompt takes.
fn task_bytes(task: &InstructionsTask) -> usize {
    fn value_bytes(value: &Value) -> usize {
        16 + match value {
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(value_bytes).sum(),
            Value::Object(map) => map_bytes(map),
            _ => 0,
        }
    }
    fn map_bytes(map: &Map<String, Value>) -> usize {
        map.iter().map(|(k, v)| 16 + k.len() + value_bytes(v)).sum()
    }
    let ids: usize = task
        .instruction_id_list
        .iter()
        .map(|id| 16 + id.len())
        .sum();
    let kwargs: usize = task.kwargs.iter().map(map_bytes).sum();
    ids + kwargs + task.prompt.as_ref().map_or(0, String::len)
}

/// Hashes the ids and kwargs (the prompt, often a kilobyte, is only compared). Equal tasks hash
/// alike except in ways that only cost a miss: kwargs whose keys come in another order, or a
/// `0.0` against a `-0.0`.
struct TaskHash<'a>(&'a InstructionsTask);

impl Hash for TaskHash<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.instruction_id_list.hash(state);
        state.write_usize(self.0.kwargs.len());
        for map in &self.0.kwargs {
            hash_map(map, state);
        }
    }
}

fn hash_map<H: Hasher>(map: &Map<String, Value>, state: &mut H) {
    state.write_usize(map.len());
    for (key, value) in map {
        key.hash(state);
        hash_value(value, state);
    }
}

fn hash_value<H: Hasher>(value: &Value, state: &mut H) {
    match value {
        Value::Null => state.write_u8(0),
        Value::Bool(b) => {
            state.write_u8(1);
            b.hash(state);
        }
        Value::Number(n) => {
            state.write_u8(2);
            if let Some(u) = n.as_u64() {
                state.write_u64(u);
            } else if let Some(i) = n.as_i64() {
                state.write_i64(i);
            } else if let Some(f) = n.as_f64() {
                state.write_u64(f.to_bits());
            }
        }
        Value::String(s) => {
            state.write_u8(3);
            s.hash(state);
        }
        Value::Array(items) => {
            state.write_u8(4);
            state.write_usize(items.len());
            for item in items {
                hash_value(item, state);
            }
        }
        Value::Object(map) => {
            state.write_u8(5);
            hash_map(map, state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::InstructionsMode;
    use crate::instructions::strict_task as task;

    fn describe(parsed: &Parsed) -> String {
        format!("{:?}", parsed.as_ref())
    }

    #[test]
    fn an_equal_task_gets_the_same_instructions_and_any_difference_its_own() {
        let words =
            |n: u32, relation: &str| format!(r#"{{"relation": "{relation}", "num_words": {n}}}"#);
        let base = task(
            &["length_constraints:number_words"],
            &[&words(5, "at least")],
            None,
        );
        let first = parsed_instructions(&base);
        assert!(Arc::ptr_eq(&first, &parsed_instructions(&base.clone())));
        // Mode and scoring are not parsing's business.
        let mut loose = base.clone();
        loose.mode = InstructionsMode::Loose;
        assert!(Arc::ptr_eq(&first, &parsed_instructions(&loose)));

        let variants = [
            task(
                &["length_constraints:number_words"],
                &[&words(6, "at least")],
                None,
            ),
            task(
                &["length_constraints:number_words"],
                &[&words(5, "less than")],
                None,
            ),
            task(
                &["length_constraints:number_words"],
                &[&words(5, "at least")],
                Some("a prompt"),
            ),
            task(&["length_constraints:number_words"], &[], None),
            task(
                &["length_constraints:number_sentences"],
                &[r#"{"relation": "at least", "num_sentences": 5}"#],
                None,
            ),
        ];
        let key = Key {
            instruction_id_list: base.instruction_id_list.clone(),
            kwargs: base.kwargs.clone(),
            prompt: base.prompt.clone(),
        };
        assert!(key.matches(&base));
        for variant in &variants {
            // Compared, not only hashed: a hash that collides must still miss.
            assert!(!key.matches(variant), "{variant:?}");
            let parsed = parsed_instructions(variant);
            assert!(!Arc::ptr_eq(&first, &parsed), "{variant:?}");
            assert_eq!(
                describe(&parsed),
                describe(&Arc::new(parse_instructions(variant)))
            );
        }
    }

    #[test]
    fn errors_are_kept_as_parsing_gives_them_and_the_table_stays_bounded() {
        let bad = task(&["no:such_instruction"], &[], None);
        assert_eq!(
            describe(&parsed_instructions(&bad)),
            describe(&Arc::new(parse_instructions(&bad)))
        );
        for n in 0..(TASKS_KEPT + 10) {
            let kwargs = format!(r#"{{"relation": "at least", "num_words": {n}}}"#);
            let task = task(&["length_constraints:number_words"], &[&kwargs], None);
            assert_eq!(
                describe(&parsed_instructions(&task)),
                describe(&Arc::new(parse_instructions(&task)))
            );
        }
        TABLE.with_borrow(|table| {
            assert!(table.len <= TASKS_KEPT);
            assert_eq!(
                table.len,
                table.entries.values().map(Vec::len).sum::<usize>()
            );
        });
    }

    #[test]
    fn tasks_holding_a_regex_are_not_kept() {
        let regex_keyword = task(
            &["keywords:existence"],
            &[r#"{"keywords": ["\\w{20}"]}"#],
            None,
        );
        let first = parsed_instructions(&regex_keyword);
        assert!(first.is_ok(), "{first:?}");
        assert!(!Arc::ptr_eq(&first, &parsed_instructions(&regex_keyword)));
        let plain_keyword = task(
            &["keywords:existence"],
            &[r#"{"keywords": ["word"]}"#],
            None,
        );
        let first = parsed_instructions(&plain_keyword);
        assert!(Arc::ptr_eq(&first, &parsed_instructions(&plain_keyword)));
    }

    #[test]
    fn long_tasks_are_parsed_but_their_bytes_stay_bounded() {
        let id = ["length_constraints:number_words"];
        let kwargs = [r#"{"relation": "at least", "num_words": 3}"#];
        // Too long to keep: parsed each time, never kept.
        let huge = task(&id, &kwargs, Some(&"x".repeat(TASK_BYTES_KEPT + 1)));
        let first = parsed_instructions(&huge);
        assert!(!Arc::ptr_eq(&first, &parsed_instructions(&huge)));
        assert!(first.is_ok());
        // Kept, but never more than the byte budget in all.
        for n in 0..(2 * BYTES_KEPT / TASK_BYTES_KEPT + 4) {
            let prompt = format!("{n}{}", "y".repeat(TASK_BYTES_KEPT - 200));
            let kept = task(&id, &kwargs, Some(&prompt));
            assert!(parsed_instructions(&kept).is_ok());
            TABLE.with_borrow(|table| assert!(table.bytes <= BYTES_KEPT, "{}", table.bytes));
        }
        let kept = task(&id, &kwargs, Some("a short prompt"));
        let first = parsed_instructions(&kept);
        assert!(Arc::ptr_eq(&first, &parsed_instructions(&kept)));
    }
}
