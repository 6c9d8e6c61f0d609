//! Credentials: validated against their JSON Schema, then deserialized into the connector's type.
//!
//! Validation comes first because the schema finds every problem at once (a missing key and a
//! malformed one in the same run), where serde stops at the first. Messages never contain a
//! value: an inline secret that fails its pattern must not end up in an error.

use jsonschema::error::ValidationErrorKind;
use schemars::{JsonSchema, Schema, generate::SchemaSettings};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ConfigProblem, CredentialsError};

/// The JSON Schema of a credentials type, as checked in under `schemas/connectors/`.
pub fn schema_of<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>()
}

/// Validates `raw` against `T`'s schema, then deserializes it.
pub fn parse<T: DeserializeOwned + JsonSchema>(raw: &Value) -> Result<T, CredentialsError> {
    validate(&schema_of::<T>(), raw)?;
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(raw, &mut track);
    T::deserialize(de).map_err(|e| CredentialsError::at(path_string(&track.path()), e.to_string()))
}

fn path_string(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." { String::new() } else { s }
}

/// Checks `raw` against `schema`, reporting every problem.
pub fn validate(schema: &Schema, raw: &Value) -> Result<(), CredentialsError> {
    let validator = match jsonschema::validator_for(schema.as_value()) {
        Ok(v) => v,
        Err(e) => return Err(CredentialsError::at("", format!("the connector's schema is invalid: {}", e.masked()))),
    };
    let problems: Vec<ConfigProblem> = validator
        .iter_errors(raw)
        .map(|e| ConfigProblem { path: pointer_to_path(&e.instance_path().to_string()), message: describe(&e) })
        .collect();
    if problems.is_empty() { Ok(()) } else { Err(CredentialsError { problems }) }
}

/// `/a/b` -> `a.b`.
fn pointer_to_path(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".").replace("~1", "/").replace("~0", "~")
}

/// A message for one schema error that names what was expected and never repeats the value.
fn describe(e: &jsonschema::ValidationError<'_>) -> String {
    match e.kind() {
        ValidationErrorKind::Required { property } => {
            format!("missing required key `{}`", property.as_str().unwrap_or_default())
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let keys: Vec<String> = unexpected.iter().map(|k| format!("`{k}`")).collect();
            format!("unknown key {}", keys.join(", "))
        }
        ValidationErrorKind::Pattern { pattern } => format!("does not match the expected format `{pattern}`"),
        ValidationErrorKind::MinLength { .. } => "must not be empty".to_owned(),
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            // A secret: say which of its forms came closest.
            let inner: Vec<String> = context
                .iter()
                .flatten()
                .filter(|e| {
                    matches!(e.kind(), ValidationErrorKind::Pattern { .. } | ValidationErrorKind::MinLength { .. })
                })
                .map(describe)
                .collect();
            match inner.first() {
                Some(first) => first.clone(),
                None => r#"expected a string, { env = "VARIABLE" } or { file = "path" }"#.to_owned(),
            }
        }
        _ => e.masked_with("the value").to_string(),
    }
}

/// The dotted paths of every property in `schema` marked `writeOnly` (a secret).
pub fn secret_properties(schema: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    walk_properties(schema.as_value(), "", &mut |path, prop| {
        if prop.get("writeOnly").and_then(Value::as_bool) == Some(true) {
            out.push(path.to_owned());
        }
    });
    out
}

/// Properties whose name says "secret" (password, secret, key, token) but that are not marked
/// `writeOnly`: the test every connector's schema must pass. Names ending in `_id`, `_host` or
/// `_url` are addresses, not secrets.
pub fn unmarked_secret_like_properties(schema: &Schema) -> Vec<String> {
    const SECRET_WORDS: [&str; 5] = ["password", "secret", "key", "token", "credential"];
    const NOT_SECRET_SUFFIXES: [&str; 4] = ["_id", "_host", "_url", "_uri"];
    let mut out = Vec::new();
    walk_properties(schema.as_value(), "", &mut |path, prop| {
        let name = path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase();
        let looks_secret =
            SECRET_WORDS.iter().any(|w| name.contains(w)) && !NOT_SECRET_SUFFIXES.iter().any(|s| name.ends_with(s));
        if looks_secret && prop.get("writeOnly").and_then(Value::as_bool) != Some(true) {
            out.push(path.to_owned());
        }
    });
    out
}

fn walk_properties(schema: &Value, prefix: &str, f: &mut dyn FnMut(&str, &Value)) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    for (name, prop) in props {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        f(&path, prop);
        if prop.get("writeOnly").and_then(Value::as_bool) != Some(true) {
            walk_properties(prop, &path, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use serde::Deserialize;
    use serde_json::json;

    /// Sample credentials.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only the schema and the parse are under test")]
    struct Creds {
        /// The account.
        username: String,
        /// The password.
        password: Secret,
        /// A five-character key.
        #[schemars(schema_with = "five")]
        api_key: Secret,
        /// Where.
        api_host: Option<String>,
    }

    fn five(_: &mut schemars::SchemaGenerator) -> Schema {
        Secret::schema_with_pattern("^[A-Z0-9]{5}$", "A five-character key.")
    }

    #[test]
    fn reports_every_problem_without_values() {
        let raw = json!({ "password": "s3cr3t-value", "api_key": "toolong-secret", "colour": "blue" });
        let err = parse::<Creds>(&raw).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("missing required key `username`"), "{text}");
        assert!(text.contains("`api_key`: does not match the expected format `^[A-Z0-9]{5}$`"), "{text}");
        assert!(text.contains("unknown key `colour`"), "{text}");
        assert!(!text.contains("toolong-secret") && !text.contains("s3cr3t"), "values leak: {text}");
    }

    #[test]
    fn parses_valid_credentials() {
        let raw = json!({ "username": "svc", "password": "pw", "api_key": "AB12C" });
        let creds = parse::<Creds>(&raw).unwrap();
        assert_eq!((creds.username.as_str(), creds.api_key.expose()), ("svc", "AB12C"));
    }

    #[test]
    fn finds_secret_properties_and_unmarked_ones() {
        let schema = schema_of::<Creds>();
        assert_eq!(secret_properties(&schema), vec!["api_key", "password"]);
        assert!(unmarked_secret_like_properties(&schema).is_empty());

        let leaky = schemars::json_schema!({ "properties": { "client_secret": { "type": "string" }, "client_id": { "type": "string" } } });
        assert_eq!(unmarked_secret_like_properties(&leaky), vec!["client_secret"]);
    }
}
