//! Checks that need more than serde: `[lifecycle]` against the connections, keys a connector does
//! not take, secrets written inline.
//!
//! Only names that are not connections at all are errors in `[lifecycle.attributes]`: a
//! configured connection that is not a source of truth ("unchecked") still contributes
//! attributes, so `sources = ["ukg"]` with `role = ["ukg", "azure"]` is valid.

use std::collections::HashSet;

use roster_core::ConnectorDescriptor;
use roster_core::credentials::secret_properties;
use roster_core::lifecycle::{Attribute, MatchKey, Mode};
use serde_json::Value;

use super::LifecycleConfig;
use super::Severity::{Error, Warning};
use super::load::Collector;

/// A connection as written in the file, whether or not it could be built: a connection with a
/// wrong password is still a connection `[lifecycle]` may name.
#[derive(Debug)]
pub(super) struct Written {
    /// `NAME` of `[connections.NAME]`.
    pub(super) name: String,
    /// Its connector, when the id is known.
    pub(super) descriptor: Option<&'static ConnectorDescriptor>,
}

/// Reports and removes the entries of `[lifecycle.attributes]` serde would fail on, before it
/// sees them: its error path stops at `attributes` (the keys are an enum, not strings), so it
/// could neither say which entry is wrong nor drop that entry alone, and dropping the table would
/// hide the problems of the valid entries.
pub(super) fn attributes_table(c: &mut Collector<'_>, lifecycle: &mut toml::Value) {
    let Some(attributes) = lifecycle.get_mut("attributes").and_then(toml::Value::as_table_mut) else { return };
    let names = Attribute::ALL.map(Attribute::as_str);
    let mut wrong = Vec::new();
    for (key, value) in attributes.iter() {
        let path = format!("lifecycle.attributes.{key}");
        if !names.contains(&key.as_str()) {
            let hint = did_you_mean(key, names);
            c.error(&path, format!("unknown attribute `{key}`{hint}; expected one of {}", names.join(", ")));
        } else if let Some(items) = value.as_array() {
            let Some(i) = items.iter().position(|v| !v.is_str()) else { continue };
            let line = c.lines.line_of_item(&path, i);
            c.push_at(Error, &path, line, format!("expected connection names, like {key} = [\"ukg\", \"azure\"]"));
        } else {
            c.error(&path, format!("expected a list of connection names, like {key} = [\"ukg\", \"azure\"]"));
        }
        c.drop_key(&path);
        wrong.push(key.clone());
    }
    for key in wrong {
        attributes.remove(&key);
    }
}

/// Checks `[lifecycle]` against the connections written in the file.
pub(super) fn lifecycle(c: &mut Collector<'_>, lifecycle: &LifecycleConfig, written: &[Written]) {
    let find = |name: &str| written.iter().find(|w| w.name == name);
    let not_a_connection = |name: &str| {
        let names: Vec<&str> = written.iter().map(|w| w.name.as_str()).collect();
        let known = if names.is_empty() {
            "no connections are configured".to_owned()
        } else {
            format!("configured connections: {}", names.join(", "))
        };
        format!("`{name}` is not a connection{} ({known})", did_you_mean(name, names.iter().copied()))
    };

    let mut seen = HashSet::new();
    for (i, source) in lifecycle.sources.iter().enumerate() {
        let line = c.lines.line_of_item("lifecycle.sources", i);
        let error = |c: &mut Collector<'_>, message: String| c.push_at(Error, "lifecycle.sources", line, message);
        if !seen.insert(source) {
            error(c, format!("`{source}` is listed twice"));
            continue;
        }
        match find(source) {
            None => error(c, not_a_connection(source)),
            Some(Written { descriptor: Some(d), .. }) if !d.capabilities.lifecycle_source => error(
                c,
                format!(
                    "`{source}` is a {} connection, which cannot be a lifecycle source of truth \
                     (see `roster connectors`)",
                    d.display_name
                ),
            ),
            Some(_) => {}
        }
    }
    for (attribute, order) in &lifecycle.attributes {
        let path = format!("lifecycle.attributes.{attribute}");
        if order.is_empty() {
            c.warning(
                &path,
                format!(
                    "lists no connections, so `{attribute}` follows `sources`; name connections or remove the line"
                ),
            );
        }
        let mut seen = HashSet::new();
        for (i, name) in order.iter().enumerate() {
            let line = c.lines.line_of_item(&path, i);
            // Any connection may be named, source of truth or not: unchecked ones contribute
            // attributes too.
            if !seen.insert(name) {
                c.push_at(Error, &path, line, format!("`{name}` is listed twice"));
            } else if find(name).is_none() {
                c.push_at(Error, &path, line, not_a_connection(name));
            }
        }
    }
    domains(c, &lifecycle.domains);
    let mut seen = HashSet::new();
    if lifecycle.match_on.is_empty() {
        c.error("lifecycle.match_on", "must name at least one key: \"email\" or \"employee_id\"");
    }
    for (i, key) in lifecycle.match_on.iter().enumerate() {
        if !seen.insert(key) {
            let line = c.lines.line_of_item("lifecycle.match_on", i);
            c.push_at(Error, "lifecycle.match_on", line, format!("`{}` is listed twice", match_key_name(*key)));
        }
    }
    if written.is_empty() {
        if !c.was_dropped("connections") {
            // Without connections nobody is resolved, so "no sources of truth" would add nothing.
            c.warning(
                "connections",
                "nothing to sync: add a [connections.NAME] table for each system people come from \
                 (see `roster connectors`)",
            );
        }
    } else if lifecycle.sources.is_empty() && !c.was_dropped("lifecycle.sources") {
        // One warning for both modes. `any-active` reads as "active anywhere", but it asks only
        // the listed sources, so with none everyone is an orphan all the same.
        let mode = match lifecycle.mode {
            Mode::Precedence => "",
            Mode::AnyActive => " (`any-active` asks only the connections listed in `sources`)",
        };
        c.warning(
            if c.lines.line_of("lifecycle").is_some() { "lifecycle.sources" } else { "lifecycle" },
            format!(
                "no sources of truth: every person will be an orphan{mode}; name them in [lifecycle] sources = [\"...\"]"
            ),
        );
    }
}

/// Each of `[lifecycle] domains` must look like a domain; one written twice (domains are compared
/// ignoring case) is harmless but a sign of a slip. An empty list is legitimate: nobody is then
/// external by domain.
fn domains(c: &mut Collector<'_>, domains: &[String]) {
    let mut seen = HashSet::new();
    for (i, domain) in domains.iter().enumerate() {
        let line = c.lines.line_of_item("lifecycle.domains", i);
        let d = domain.trim();
        if d.is_empty() || d.contains('@') || !d.contains('.') || d.contains(char::is_whitespace) {
            c.push_at(
                Error,
                "lifecycle.domains",
                line,
                format!("`{domain}` is not an email domain (write it like `acme.com`, without `@`)"),
            );
        } else if !seen.insert(d.to_lowercase()) {
            c.push_at(Warning, "lifecycle.domains", line, format!("`{domain}` is listed twice (domains ignore case)"));
        }
    }
}

/// The name of a match key as written in TOML.
fn match_key_name(key: MatchKey) -> &'static str {
    match key {
        MatchKey::Email => "email",
        MatchKey::EmployeeId => "employee_id",
    }
}

/// The keys of `table` that `schema` does not allow (`additionalProperties: false`).
pub(super) fn unknown_keys(schema: &Value, table: &toml::Table) -> Vec<String> {
    if schema.get("additionalProperties") != Some(&Value::Bool(false)) {
        return Vec::new();
    }
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    table.keys().filter(|k| !props.contains_key(k.as_str())).cloned().collect()
}

/// The property names of an object schema.
pub(super) fn property_names(schema: &Value) -> Vec<String> {
    schema.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

/// The dotted paths of secrets (`writeOnly` properties) that hold a string: written into the file
/// itself rather than read from `{ env = .. }` or `{ file = .. }`.
pub(super) fn inline_secrets(schema: &schemars::Schema, table: &toml::Table) -> Vec<String> {
    secret_properties(schema)
        .into_iter()
        .filter(|path| {
            let mut parts = path.split('.');
            let mut value = parts.next().and_then(|first| table.get(first));
            for part in parts {
                value = value.and_then(|v| v.get(part));
            }
            value.is_some_and(toml::Value::is_str)
        })
        .collect()
}

/// ` (did you mean `x`?)` when one of `candidates` is a likely typo of `word`, else nothing.
pub(super) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            // `ukg` for `ukg-pro`: a prefix is as likely a slip as a typo.
            let prefix = word.len() >= 3 && c.starts_with(word);
            (if prefix { 0 } else { edit_distance(word, c) }, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
