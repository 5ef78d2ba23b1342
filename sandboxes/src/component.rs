//! Components a user of the crate brings (e.g. grader plugins): compiled once into the cache,
//! then called one export at a time, each call in a fresh instance with the run's limits.
//!
//! The crate does not know what a component is for. A [`ComponentCall`] names a compiled file,
//! an export and its string arguments; the export's result comes back as plain JSON
//! ([`to_json`]): records as objects, lists and tuples as arrays, `option` as its value or null,
//! `result` as `{"ok": v}` / `{"err": v}`, variants as `{"case": v}`, enum cases as strings.
//!
//! Compiled code is native code: a component is loaded only from the directory that holds the
//! compiled runtimes (private to this user), and only when its recorded digest matches, as the
//! runtimes are (see [`crate::cache`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use wasmtime::component::Val;

use crate::cache::sha256_hex;
use crate::setup::SetupError;

/// A call of one export of a compiled component, in place of a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentCall {
    /// The compiled component, as [`compile_component`] returned it.
    pub compiled: PathBuf,
    /// The export to call: a function of the component's world taking `args.len()` strings.
    pub function: String,
    pub args: Vec<String>,
}

/// Compiles `component` (the bytes of a WebAssembly component) for this crate's engine into
/// `cache_dir`, once per distinct bytes and engine settings, and returns the compiled file.
pub fn compile_component(cache_dir: &Path, component: &[u8]) -> Result<PathBuf, SetupError> {
    crate::cache::ensure_private_dir(cache_dir)?;
    let engine =
        crate::engine::new_engine().map_err(|error| SetupError::Wasmtime(format!("{error:#}")))?;
    let key = sha256_hex(component);
    let compiled = crate::setup::compiled_dir(cache_dir).join(format!(
        // The whole digest: a file named by a prefix could be another component's.
        "component-{}-{}.cwasm",
        key,
        crate::engine::codegen_key(&engine)
    ));
    if crate::cache::verify_digest(&compiled).is_ok() {
        return Ok(compiled);
    }
    if !is_component(component) {
        return Err(SetupError::Wasmtime(
            "not a WebAssembly component (a core module, or not WebAssembly at all): build it \
             with a component toolchain (componentize-py, cargo component, jco, wit-bindgen)"
                .into(),
        ));
    }
    let bytes = engine
        .precompile_component(component)
        .map_err(|error| SetupError::Wasmtime(format!("compiling the component: {error:#}")))?;
    crate::cache::write_with_digest(&compiled, &bytes).map_err(|source| SetupError::Io {
        context: format!("writing {}", compiled.display()),
        source,
    })?;
    Ok(compiled)
}

/// The binary format's preamble: the magic bytes, then a version and a layer, which is 1 for
/// components (0 for core modules).
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// A component result as plain JSON (see the module doc). Non-finite floats become null:
/// JSON has no spelling for them.
pub fn to_json(value: &Val) -> Value {
    let boxed = |value: &Option<Box<Val>>| value.as_deref().map_or(Value::Null, to_json);
    match value {
        Val::Bool(b) => json!(b),
        Val::S8(n) => json!(n),
        Val::U8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::S64(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::Float32(x) => {
            serde_json::Number::from_f64(f64::from(*x)).map_or(Value::Null, Value::Number)
        }
        Val::Float64(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        Val::Char(c) => json!(c.to_string()),
        Val::String(s) => json!(s),
        Val::List(items) | Val::Tuple(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), to_json(value)))
                .collect::<Map<_, _>>(),
        ),
        Val::Variant(case, value) => json!({ case.clone(): boxed(value) }),
        Val::Enum(case) => json!(case),
        Val::Option(value) => boxed(value),
        Val::Result(Ok(value)) => json!({ "ok": boxed(value) }),
        Val::Result(Err(value)) => json!({ "err": boxed(value) }),
        Val::Flags(names) => json!(names),
        other => json!({ "unsupported": format!("{other:?}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_plain_json() {
        let verdict = Val::Result(Ok(Some(Box::new(Val::Record(vec![
            ("reward".into(), Val::Float64(0.5)),
            (
                "status".into(),
                Val::Option(Some(Box::new(Val::Enum("no-answer".into())))),
            ),
            ("details-json".into(), Val::Option(None)),
            (
                "tags".into(),
                Val::List(vec![Val::String("a".into()), Val::Char('b')]),
            ),
            ("nan".into(), Val::Float32(f32::NAN)),
        ])))));
        assert_eq!(
            to_json(&verdict),
            json!({"ok": {"reward": 0.5, "status": "no-answer", "details-json": null,
                          "tags": ["a", "b"], "nan": null}})
        );
        let error = Val::Result(Err(Some(Box::new(Val::String("bad task".into())))));
        assert_eq!(to_json(&error), json!({"err": "bad task"}));
        let variant = Val::Variant("some".into(), Some(Box::new(Val::U8(3))));
        assert_eq!(to_json(&variant), json!({"some": 3}));
    }

    #[test]
    fn only_components_compile() {
        let dir = std::env::temp_dir().join(format!("sandboxes-component-{}", std::process::id()));
        let error = compile_component(&dir, b"\0asm\x01\0\0\0").unwrap_err();
        assert!(
            error.to_string().contains("not a WebAssembly component"),
            "{error}"
        );
        let error = compile_component(&dir, b"hello").unwrap_err();
        assert!(
            error.to_string().contains("not a WebAssembly component"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
