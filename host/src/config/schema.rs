//! JSON Schemas: of the whole configuration file, and of each connector's credentials. The same
//! text is checked in under `schemas/` (a test fails when they drift).

use roster_core::credentials::schema_of;
use roster_core::{ConnectorDescriptor, connectors};
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use super::{LifecycleConfig, SafetyConfig};

/// The shape of `roster.toml`, for the schema only: `connections` is filled in from the
/// registered connectors.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "only its schema is used")]
struct RosterConfig {
    /// Named connections, each `connector = "<id>"` plus that connector's settings.
    connections: std::collections::BTreeMap<String, Value>,
    /// Which connections are the sources of truth and how they decide.
    lifecycle: Option<LifecycleConfig>,
    /// Thresholds that hold a change instead of applying it.
    safety: Option<SafetyConfig>,
}

/// Pretty JSON with a trailing newline, as the checked-in files hold it.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// A connector's credentials schema.
pub fn credentials(descriptor: &ConnectorDescriptor) -> Value {
    descriptor.credentials_schema().to_value()
}

/// The schema of the whole configuration file.
pub fn config() -> Value {
    let mut root = schema_of::<RosterConfig>().to_value();
    let mut defs: Map<String, Value> = root.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut one_of = Vec::new();
    for d in connectors() {
        let mut schema = credentials(d);
        // Hoist the credentials' own definitions to the root, where their `$ref`s point.
        if let Some(Value::Object(own)) = schema.as_object_mut().and_then(|s| s.remove("$defs")) {
            defs.extend(own);
        }
        if let Some(s) = schema.as_object_mut() {
            s.remove("$schema");
            let props = s.entry("properties").or_insert_with(|| json!({}));
            if let Some(props) = props.as_object_mut() {
                props.insert(
                    "connector".into(),
                    json!({ "const": d.id, "description": format!("{} ({})", d.display_name, d.description) }),
                );
            }
            let required = s.entry("required").or_insert_with(|| json!([]));
            if let Some(required) = required.as_array_mut() {
                required.insert(0, json!("connector"));
            }
        }
        one_of.push(schema);
    }
    if let Some(props) = root.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "connections".into(),
            json!({
                "description": "Named connections, each `connector = \"<id>\"` plus that connector's settings.",
                "type": "object",
                "propertyNames": { "pattern": "^[a-z0-9_-]+$" },
                "additionalProperties": { "oneOf": one_of }
            }),
        );
    }
    if let Some(required) = root.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|r| r != "connections");
    }
    if !defs.is_empty()
        && let Some(r) = root.as_object_mut()
    {
        r.insert("$defs".into(), Value::Object(defs));
    }
    root
}
