//! The published JSON schema of a [`Task`](super::Task) (`GET /openapi.json`).
//!
//! `Task` is parsed by hand (dispatch on `kind`, so that an unknown kind reaches the registry),
//! so its schema cannot be derived; it is assembled here from the derived schemas of the types
//! that do the parsing: each built-in kind's struct, and the shaping graders' `Params`. Each
//! branch is that type's object with a `kind` property added, so the document says exactly what
//! the parser accepts (unknown fields included: they are refused, `additionalProperties: false`).

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::{CodeTask, FormatTask, InstructionsTask, MathTask, Task};
use crate::shaping::{language_consistency, length, repetition};

/// `(kind, the schema of its fields, the schemas they refer to)` for every built-in kind.
type Branch = (
    &'static str,
    fn() -> RefOr<Schema>,
    fn(&mut Vec<(String, RefOr<Schema>)>),
);

fn branches() -> [Branch; 7] {
    [
        ("math", MathTask::schema, MathTask::schemas),
        ("code", CodeTask::schema, CodeTask::schemas),
        ("format", FormatTask::schema, FormatTask::schemas),
        (
            "instructions",
            InstructionsTask::schema,
            InstructionsTask::schemas,
        ),
        (
            language_consistency::KIND,
            language_consistency::Params::schema,
            language_consistency::Params::schemas,
        ),
        (
            length::KIND,
            length::Params::schema,
            length::Params::schemas,
        ),
        (
            repetition::KIND,
            repetition::Params::schema,
            repetition::Params::schemas,
        ),
    ]
}

/// The kinds whose fields the schema documents (the registry's built-ins).
pub fn documented_kinds() -> Vec<&'static str> {
    branches().iter().map(|(kind, _, _)| *kind).collect()
}

/// One kind's object: its fields' schema with `kind` added as a required constant.
fn with_kind(kind: &str, fields: RefOr<Schema>) -> RefOr<Schema> {
    let kind_schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([kind]))
        .description(Some(format!("`{kind}`")))
        .build();
    match fields {
        RefOr::T(Schema::Object(mut object)) => {
            object
                .properties
                .insert("kind".to_string(), kind_schema.into());
            object.required.insert(0, "kind".to_string());
            object.title = Some(kind.to_string());
            RefOr::T(Schema::Object(object))
        }
        // Every branch type is a plain struct, so this is not reached; a future one that is not
        // still gets a usable (if looser) schema rather than a panic.
        other => RefOr::T(Schema::AllOf(
            utoipa::openapi::schema::AllOfBuilder::new()
                .item(
                    ObjectBuilder::new()
                        .property("kind", kind_schema)
                        .required("kind"),
                )
                .item(other)
                .build(),
        )),
    }
}

impl PartialSchema for Task {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "What correct means, by `kind`. A kind the registry does not know is an `error` \
             result that lists the kinds there are (`GET /v1/graders`).",
        ));
        for (kind, fields, _) in branches() {
            one_of = one_of.item(with_kind(kind, fields()));
        }
        RefOr::T(Schema::OneOf(one_of.build()))
    }
}

impl ToSchema for Task {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Task")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (_, _, referenced) in branches() {
            referenced(schemas);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_fields_and_a_kind_constant() {
        let RefOr::T(Schema::OneOf(one_of)) = Task::schema() else {
            panic!("a task is one of several objects");
        };
        assert_eq!(one_of.items.len(), documented_kinds().len());
        let text = serde_json::to_value(&one_of).unwrap();
        let math = &text["oneOf"][0];
        assert_eq!(math["properties"]["kind"]["enum"][0], "math");
        assert_eq!(math["required"][0], "kind");
        assert!(math["properties"]["answer"].is_object(), "{math}");
        assert_eq!(math["additionalProperties"], false, "{math}");
    }
}
