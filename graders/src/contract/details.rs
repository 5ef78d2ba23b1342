//! A verdict's and a result's `details`, shared: a [`super::GradeResult`] repeats its primary
//! component's details at the top level, and a copy of the map (its entries, its index and
//! every key and value) cost about 5% of `verifier grade`'s CPU on format rewards; now the two
//! hold one map. A grader whose details take few values can hand out prebuilt ones (the
//! format grader's `tag_count`: building its four-entry map was another 5%).
//!
//! On the wire it is the plain JSON object it always was (and the OpenAPI schema says so:
//! the fields that hold it are documented as a `Map`).

use std::ops::Deref;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Readable details of a result or component (an empty map when there are none). Read it as a
/// [`Map`] (it derefs to one); build it from a map with `.into()`.
#[derive(Debug, Clone, Default)]
pub struct Details(
    /// `None` when empty, so that the results that have none allocate nothing.
    Option<Arc<Map<String, Value>>>,
);

impl Details {
    /// Whether `self` and `other` are the same shared map (not merely equal ones).
    pub fn shares_map_with(&self, other: &Details) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Sets `key` (as `Map::insert`), copying the map first if another holder shares it.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match &mut self.0 {
            Some(map) => Arc::make_mut(map).insert(key, value),
            None => {
                let mut map = Map::new();
                map.insert(key, value);
                self.0 = Some(Arc::new(map));
                None
            }
        }
    }
}

impl From<Map<String, Value>> for Details {
    fn from(map: Map<String, Value>) -> Details {
        Details((!map.is_empty()).then(|| Arc::new(map)))
    }
}

impl Deref for Details {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl PartialEq for Details {
    fn eq(&self, other: &Details) -> bool {
        **self == **other
    }
}

impl Serialize for Details {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Details, D::Error> {
        Map::deserialize(deserializer).map(Details::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_are_the_plain_object_on_the_wire() {
        let Value::Object(map) = json!({"reason": "no tags", "n": 2}) else {
            unreachable!()
        };
        let details = Details::from(map.clone());
        assert_eq!(serde_json::to_value(&details).unwrap(), Value::Object(map));
        let back: Details = serde_json::from_str(r#"{"reason":"no tags","n":2}"#).unwrap();
        assert_eq!(back, details);
        assert_eq!(details["n"], 2);
        assert!(Details::default().is_empty());
        assert_eq!(Details::from(Map::new()), Details::default());
    }

    #[test]
    fn inserting_into_a_shared_map_copies_it_first() {
        let mut first = Details::default();
        assert_eq!(first.insert("a".into(), Value::from(1)), None);
        let mut second = first.clone();
        assert_eq!(
            second.insert("a".into(), Value::from(2)),
            Some(Value::from(1))
        );
        second.insert("b".into(), Value::from(3));
        assert_eq!(first["a"], 1);
        assert_eq!(first.len(), 1);
        assert_eq!(
            (second["a"].clone(), second["b"].clone()),
            (2.into(), 3.into())
        );
    }

    #[test]
    fn only_clones_share_a_map() {
        let mut map = Map::new();
        map.insert("k".into(), Value::Bool(true));
        let details = Details::from(map.clone());
        assert!(details.shares_map_with(&details.clone()));
        assert!(!details.shares_map_with(&Details::from(map)));
        assert!(!Details::default().shares_map_with(&Details::default()));
    }
}
