//! JSON Schemas: of the whole configuration file, and of each connector's credentials. The same
//! text is checked in under `schemas/` (a host test fails when they drift).
//!
//! The configuration schema is generated from the config types, then `connections.*` is made
//! precise from the registry: a connection's table must be `connector = "<id>"` plus exactly that
//! connector's credentials, so an editor with the schema flags a wrong key in the right table.

use roster_core::credentials::schema_of;
use roster_core::lifecycle::Attribute;
use roster_core::{ConnectorDescriptor, connectors};
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use super::{LifecycleConfig, SafetyConfig};

// Only its schema is used: loading reads the three sections one by one, so that a problem in
// one does not hide the problems of the others. Its doc comment is the schema's description.
/// roster's configuration file (`roster.toml`): connections to the systems people come from, the
/// lifecycle policy that decides who is current, and safety thresholds.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "roster configuration")]
#[allow(dead_code, reason = "only its schema is used")]
struct RosterConfig {
    /// Named connections, `[connections.NAME]`: `connector = "<id>"` plus that connector's
    /// settings (`roster schema <id>`). Names use a-z, 0-9, `-` and `_`.
    connections: std::collections::BTreeMap<String, Value>,
    /// Which connections are the sources of truth, in what order, and how they decide.
    lifecycle: Option<LifecycleConfig>,
    /// Thresholds that hold a change instead of applying it.
    safety: Option<SafetyConfig>,
}

/// Pretty JSON (two spaces) with a trailing newline, as the checked-in files hold it.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// A connector's credentials schema (`schemas/connectors/<id>.credentials.schema.json`).
pub fn credentials(descriptor: &ConnectorDescriptor) -> Value {
    descriptor.credentials_schema().to_value()
}

/// The schema of the whole configuration file (`schemas/roster.config.schema.json`).
pub fn config() -> Value {
    let mut root = schema_of::<RosterConfig>().to_value();
    let mut defs: Map<String, Value> = root.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
    if let Some(attributes) = defs.get_mut("LifecycleConfig").and_then(|l| l.pointer_mut("/properties/attributes")) {
        attributes["propertyNames"] = json!({ "enum": Attribute::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>() });
    }

    let all = connectors();
    let mut cases = Vec::new();
    for d in &all {
        let mut schema = credentials(d);
        // The credentials' own definitions move to the root, renamed per connector so that two
        // connectors' `$defs` of the same name cannot collide.
        if let Some(Value::Object(own)) = schema.as_object_mut().and_then(|s| s.remove("$defs")) {
            for (name, mut def) in own {
                rename_refs(&mut def, d.id);
                defs.insert(format!("{}.{name}", d.id), def);
            }
        }
        rename_refs(&mut schema, d.id);
        if let Some(s) = schema.as_object_mut() {
            s.remove("$schema");
            let props = s.entry("properties").or_insert_with(|| json!({}));
            if let Some(props) = props.as_object_mut() {
                props.insert("connector".into(), json!({ "const": d.id }));
            }
            let required = s.entry("required").or_insert_with(|| json!([]));
            if let Some(required) = required.as_array_mut() {
                required.insert(0, json!("connector"));
            }
        }
        cases.push(json!({
            "if": { "properties": { "connector": { "const": d.id } }, "required": ["connector"] },
            "then": schema
        }));
    }
    let ids: Vec<&str> = all.iter().map(|d| d.id).collect();
    let described: Vec<String> = all.iter().map(|d| format!("`{}`: {}", d.id, d.display_name)).collect();
    if let Some(props) = root.get_mut("properties").and_then(Value::as_object_mut) {
        // TOML has no null: an optional table is absent, never `null`.
        for section in props.values_mut() {
            if let Some(Value::Array(any_of)) = section.get("anyOf") {
                let not_null: Vec<Value> =
                    any_of.iter().filter(|s| s.get("type") != Some(&json!("null"))).cloned().collect();
                if let ([only], Some(s)) = (not_null.as_slice(), section.as_object_mut()) {
                    let only = only.clone();
                    s.remove("anyOf");
                    s.extend(only.as_object().cloned().unwrap_or_default());
                }
            }
        }
        let description = props.get("connections").and_then(|c| c.get("description")).cloned();
        props.insert(
            "connections".into(),
            json!({
                "description": description,
                "type": "object",
                "propertyNames": { "pattern": "^[a-z0-9_-]+$" },
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "connector": {
                            "description": format!("The kind of system: {}.", described.join(", ")),
                            "enum": ids
                        }
                    },
                    "required": ["connector"],
                    "allOf": cases
                }
            }),
        );
    }
    if let Some(r) = root.as_object_mut() {
        // A file without connections is valid (and resolves nobody); `validate` warns instead.
        r.remove("required");
    }
    if let Some(r) = root.as_object_mut() {
        r.insert("$defs".into(), Value::Object(defs));
    }
    root
}

/// Points `#/$defs/X` references of connector `id`'s schema at `#/$defs/<id>.X`.
fn rename_refs(value: &mut Value, id: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if key == "$ref" => {
                        if let Some(name) = s.strip_prefix("#/$defs/") {
                            *s = format!("#/$defs/{id}.{name}");
                        }
                    }
                    _ => rename_refs(v, id),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, id)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_and_the_loader_agree_on_the_sections() {
        let schema = schema_of::<RosterConfig>().to_value();
        let mut keys: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, super::super::load::SECTIONS);
    }

    #[test]
    fn connector_refs_are_renamed_into_their_own_namespace() {
        let mut v = json!({ "properties": { "a": { "$ref": "#/$defs/Secret" }, "b": [{ "$ref": "#/$defs/X" }] } });
        rename_refs(&mut v, "ukg-pro");
        assert_eq!(v["properties"]["a"]["$ref"], "#/$defs/ukg-pro.Secret");
        assert_eq!(v["properties"]["b"][0]["$ref"], "#/$defs/ukg-pro.X");
    }
}
