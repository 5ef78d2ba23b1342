//! Results written as JSON straight into a byte buffer: the fixed keys and punctuation as literal
//! bytes, only values that vary through serde_json. The derived `Serialize` writes every key
//! through serde_json's escaping loop and every piece through a separate `write_all`: 19% of
//! the instructions of `verifier grade` on format samples (callgrind, 2026-12-03). The output is
//! byte for byte the derived one (the tests below hold them equal), which stays the definition
//! of the wire format and what the OpenAPI schema describes.

use serde::Serialize;

use super::{ComponentResult, GradeResult};

impl GradeResult {
    /// Appends this result as one JSON object, exactly as `serde_json::to_writer` would.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        value(out, &self.id);
        out.extend_from_slice(b",\"reward\":");
        float(out, self.reward);
        out.extend_from_slice(b",\"status\":\"");
        // Status names are plain ASCII words: nothing to escape.
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b'"');
        if let Some(error) = &self.error {
            out.extend_from_slice(b",\"error\":");
            value(out, error);
        }
        // Where the primary component's details were written: the top level's are usually the
        // same map, copied as bytes rather than written again.
        let mut primary_details = None;
        if !self.components.is_empty() {
            out.extend_from_slice(b",\"components\":[");
            for (i, component) in self.components.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let details = component.write_json_noting_details(out);
                if i == 0 && component.details.shares_map_with(&self.details) {
                    primary_details = details;
                }
            }
            out.push(b']');
        }
        if !self.details.is_empty() {
            out.extend_from_slice(b",\"details\":");
            match primary_details {
                Some(written) => out.extend_from_within(written),
                None => value(out, &*self.details),
            }
        }
        if let Some(group_id) = &self.group_id {
            out.extend_from_slice(b",\"group_id\":");
            value(out, group_id);
        }
        out.extend_from_slice(b",\"elapsed_us\":");
        value(out, &self.elapsed_us);
        if self.cached {
            out.extend_from_slice(b",\"cached\":true");
        }
        out.push(b'}');
    }
}

impl ComponentResult {
    /// Appends this component as one JSON object, exactly as `serde_json::to_writer` would.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_noting_details(out);
    }

    /// [`ComponentResult::write_json`], returning where in `out` its details were written.
    fn write_json_noting_details(&self, out: &mut Vec<u8>) -> Option<std::ops::Range<usize>> {
        let mut details = None;
        out.extend_from_slice(b"{\"name\":");
        value(out, &self.name);
        out.extend_from_slice(b",\"weight\":");
        float(out, self.weight);
        out.extend_from_slice(b",\"reward\":");
        float(out, self.reward);
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b'"');
        if !self.details.is_empty() {
            out.extend_from_slice(b",\"details\":");
            let start = out.len();
            value(out, &*self.details);
            details = Some(start..out.len());
        }
        if let Some(error) = &self.error {
            out.extend_from_slice(b",\"error\":");
            value(out, error);
        }
        out.push(b'}');
        details
    }
}

/// A reward or weight as serde_json writes it. Nearly all are one of a few values (0, 1, the
/// quarters of `tag_count`), written from this table; shortest-form formatting of each float
/// was 3% of `grade`'s CPU on format rewards.
fn float(out: &mut Vec<u8>, number: f64) {
    const COMMON: [(f64, &[u8]); 5] = [
        (0.0, b"0.0"),
        (1.0, b"1.0"),
        (0.25, b"0.25"),
        (0.5, b"0.5"),
        (0.75, b"0.75"),
    ];
    // Compared bit for bit: -0.0 is not 0.0 here (serde_json writes "-0.0").
    match COMMON
        .iter()
        .find(|(common, _)| common.to_bits() == number.to_bits())
    {
        Some((_, text)) => out.extend_from_slice(text),
        None => value(out, &number),
    }
}

/// One value as serde_json writes it (strings escaped, floats as serde_json prints them,
/// non-finite ones as `null`).
fn value(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    // Writing plain data (numbers, strings, JSON values) into a Vec cannot fail.
    serde_json::to_writer(&mut *out, value).expect("plain values serialise");
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::contract::{Details, Status};

    fn details(value: Value) -> Details {
        match value {
            Value::Object(map) => Details::from(map),
            _ => unreachable!("objects only"),
        }
    }

    fn component(
        name: &str,
        status: Status,
        error: Option<&str>,
        detail: Value,
    ) -> ComponentResult {
        ComponentResult {
            name: name.into(),
            weight: 0.5,
            reward: 1.0 / 3.0,
            status,
            details: details(detail),
            error: error.map(str::to_string),
        }
    }

    /// Every optional field absent and present, strings that need escaping, awkward numbers.
    fn results() -> Vec<GradeResult> {
        let plain = GradeResult::error(Value::Null, "line 3: \"bad\"\n\u{1}\\ é 𝄞");
        let mut full = GradeResult {
            id: json!({"k": [1, "two", null, 2.5e-300]}),
            reward: 0.75,
            status: Status::Partial,
            error: None,
            components: vec![
                component("format:r1", Status::Correct, None, json!({})),
                component(
                    "weird \"name\"\t</script>",
                    Status::Error,
                    Some("failed: \u{7f} \u{2028}"),
                    json!({"reason": "x", "n": -0.0, "nested": {"a": [true, false]}}),
                ),
            ],
            details: details(json!({"reason": "text follows </answer>", "big": 1e300})),
            group_id: Some(json!("g-1")),
            elapsed_us: u64::MAX,
            cached: true,
        };
        // The top level's details are the very map of the primary component's, as in graded
        // results (written once, then copied as bytes).
        let mut shared = full.clone();
        shared.components[0].details = shared.details.clone();
        let mut out = vec![plain, full.clone(), shared];
        for status in Status::ALL {
            full.status = status;
            full.cached = false;
            full.group_id = None;
            full.reward = -12345.678e-9;
            full.id = json!(-17);
            full.components.truncate(1);
            full.details = Details::default();
            out.push(full.clone());
        }
        out[3].reward = f64::NAN;
        out[4].components[0].weight = f64::INFINITY;
        out[5].components.clear();
        out
    }

    #[test]
    fn common_floats_are_written_as_serde_writes_them() {
        for number in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.25,
            0.5,
            0.75,
            1.5,
            1e300,
            1.0 / 3.0,
            f64::NAN,
        ] {
            let mut written = Vec::new();
            float(&mut written, number);
            assert_eq!(written, serde_json::to_vec(&number).unwrap(), "{number}");
        }
    }

    #[test]
    fn written_exactly_as_serde_writes_it() {
        for result in results() {
            let mut written = Vec::new();
            result.write_json(&mut written);
            let derived = serde_json::to_vec(&result).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(derived).unwrap()
            );
        }
    }
}
