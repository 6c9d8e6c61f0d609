//! Secrets: values that must never be printed by accident.
//!
//! A [`Secret`] is written in TOML in one of three ways:
//! ```toml
//! password = "inline"                      # works, but `roster validate` warns
//! password = { env = "UKG_PASSWORD" }      # read from the environment
//! password = { file = "ukg-password.txt" } # read from a file, relative to the config file
//! ```
//! The value is resolved while the credentials are deserialized, so a missing variable or an
//! unreadable file is reported at its key path. `Debug`, `Display` and `Serialize` all print
//! `[redacted]`; the only way to the value is [`Secret::expose`]. Its JSON Schema is marked
//! `writeOnly`, which is how the host (and a test) know which keys hold secrets.
//!
//! The cost of resolving during deserialization is that the file base directory and the
//! environment come from a scope set by the caller ([`SecretScope::enter`]) rather than from an
//! argument: serde gives derive-based types no way to pass context down.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What `Debug`, `Display` and `Serialize` print instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// Where a secret's value came from. Names of variables and files are not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    /// Written into the configuration file itself.
    Inline,
    /// Read from this environment variable.
    Env(String),
    /// Read from this file.
    File(PathBuf),
}

/// A credential: a password, an API key, a client secret, a private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    origin: SecretOrigin,
}

impl Secret {
    /// A secret given directly (tests, sandboxes).
    pub fn new(value: impl Into<String>) -> Self {
        Self { value: value.into(), origin: SecretOrigin::Inline }
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where the value came from.
    pub fn origin(&self) -> &SecretOrigin {
        &self.origin
    }

    /// The JSON Schema of a secret whose value must match `pattern` (checked on inline values by
    /// the schema, and on resolved values by the connector).
    pub fn schema_with_pattern(pattern: &str, description: &str) -> Schema {
        secret_schema(Some(pattern), Some(description))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Secret").field(&format_args!("{REDACTED}")).finish()
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

fn secret_schema(pattern: Option<&str>, description: Option<&str>) -> Schema {
    let mut inline = json_schema!({ "type": "string", "minLength": 1 });
    if let Some(pattern) = pattern {
        inline.insert("pattern".into(), pattern.into());
    }
    let mut schema = json_schema!({
        "writeOnly": true,
        "oneOf": [
            inline,
            {
                "type": "object",
                "description": "read from an environment variable",
                "properties": { "env": { "type": "string", "minLength": 1 } },
                "required": ["env"],
                "additionalProperties": false
            },
            {
                "type": "object",
                "description": "read from a file, relative to the configuration file",
                "properties": { "file": { "type": "string", "minLength": 1 } },
                "required": ["file"],
                "additionalProperties": false
            }
        ]
    });
    if let Some(description) = description {
        schema.insert("description".into(), description.into());
    }
    schema
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn inline_schema() -> bool {
        // Inlined so that every secret property carries `writeOnly` itself.
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        secret_schema(None, None)
    }
}

/// Where `{ file = .. }` paths are relative to, and where `{ env = .. }` names are looked up,
/// while credentials are deserialized on this thread.
#[derive(Debug, Clone, Default)]
pub struct SecretScope {
    /// Base directory of relative `file` paths (the configuration file's directory).
    pub base_dir: PathBuf,
    /// When set, environment look-ups use this map instead of the process environment (tests).
    pub env: Option<HashMap<String, String>>,
}

thread_local! {
    static SCOPE: RefCell<Option<SecretScope>> = const { RefCell::new(None) };
}

impl SecretScope {
    /// A scope that reads the process environment and resolves files against `base_dir`.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        Self { base_dir: base_dir.into(), env: None }
    }

    /// Runs `f` with this scope in force on this thread.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Reset(Option<SecretScope>);
        impl Drop for Reset {
            fn drop(&mut self) {
                let previous = self.0.take();
                SCOPE.with(|s| *s.borrow_mut() = previous);
            }
        }
        let previous = SCOPE.with(|s| s.borrow_mut().replace(self.clone()));
        let _reset = Reset(previous);
        f()
    }

    fn current() -> SecretScope {
        SCOPE.with(|s| s.borrow().clone()).unwrap_or_default()
    }

    fn env_var(&self, name: &str) -> Result<String, String> {
        let value = match &self.env {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        match value {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(format!("environment variable `{name}` is empty")),
            None => Err(format!("environment variable `{name}` is not set")),
        }
    }

    fn read_file(&self, path: &Path) -> Result<(String, PathBuf), String> {
        let full = if path.is_absolute() { path.to_path_buf() } else { self.base_dir.join(path) };
        match std::fs::read_to_string(&full) {
            Ok(text) => {
                let trimmed = text.trim_end_matches(['\r', '\n']);
                if trimmed.is_empty() {
                    Err(format!("secret file `{}` is empty", full.display()))
                } else {
                    Ok((trimmed.to_owned(), full))
                }
            }
            Err(e) => Err(format!("cannot read secret file `{}`: {e}", full.display())),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a string, { env = "VARIABLE" } or { file = "path" }"#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                if v.is_empty() {
                    return Err(E::custom("is empty"));
                }
                Ok(Secret::new(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        r#"expected { env = "VARIABLE" } or { file = "path" }, found an empty table"#,
                    ));
                };
                let target: String = map.next_value()?;
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "expected only one of `env` or `file`, found also `{extra}`"
                    )));
                }
                let scope = SecretScope::current();
                match key.as_str() {
                    "env" => {
                        let value = scope.env_var(&target).map_err(de::Error::custom)?;
                        Ok(Secret { value, origin: SecretOrigin::Env(target) })
                    }
                    "file" => {
                        let (value, full) = scope.read_file(Path::new(&target)).map_err(de::Error::custom)?;
                        Ok(Secret { value, origin: SecretOrigin::File(full) })
                    }
                    other => {
                        Err(de::Error::custom(format!("unknown secret source `{other}`, expected `env` or `file`")))
                    }
                }
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_with(var: &str, value: &str, dir: &Path) -> SecretScope {
        SecretScope { base_dir: dir.to_path_buf(), env: Some(HashMap::from([(var.to_owned(), value.to_owned())])) }
    }

    #[test]
    fn debug_display_and_serialize_redact() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(s.to_string(), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""[redacted]""#);
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn resolves_inline_env_and_file() {
        let dir = std::env::temp_dir().join(format!("roster-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw.txt"), "from-file\n").unwrap();
        let scope = scope_with("PW", "from-env", &dir);
        let parse = |json: &str| scope.enter(|| serde_json::from_str::<Secret>(json));

        assert_eq!(parse(r#""inline""#).unwrap().expose(), "inline");
        let env = parse(r#"{"env":"PW"}"#).unwrap();
        assert_eq!((env.expose(), env.origin()), ("from-env", &SecretOrigin::Env("PW".into())));
        let file = parse(r#"{"file":"pw.txt"}"#).unwrap();
        assert_eq!(file.expose(), "from-file", "a trailing newline is not part of the secret");
        assert_eq!(file.origin(), &SecretOrigin::File(dir.join("pw.txt")));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn explains_what_is_missing() {
        let scope = scope_with("OTHER", "x", Path::new("/nonexistent-roster-dir"));
        let err = |json: &str| scope.enter(|| serde_json::from_str::<Secret>(json)).unwrap_err().to_string();
        assert!(err(r#"{"env":"UKG_PASSWORD"}"#).starts_with("environment variable `UKG_PASSWORD` is not set"));
        assert!(err(r#"{"file":"k.json"}"#).starts_with("cannot read secret file `/nonexistent-roster-dir/k.json`"));
        assert!(err(r#"{"vault":"x"}"#).starts_with("unknown secret source `vault`"));
        assert!(err(r#"{"env":"A","file":"b"}"#).starts_with("expected only one of"));
        assert!(err(r#""""#).starts_with("is empty"));
    }

    #[test]
    fn schema_is_write_only() {
        let schema = schemars::schema_for!(Secret);
        assert_eq!(schema.get("writeOnly"), Some(&serde_json::Value::Bool(true)));
    }
}
