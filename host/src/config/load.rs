//! Reading and checking `roster.toml`, collecting every problem.

use std::path::{Path, PathBuf};

use roster_core::credentials::secret_properties;
use roster_core::{ConnectContext, SecretScope, find_connector};
use serde::de::DeserializeOwned;

use super::lines::Lines;
use super::{Config, ConfigError, Connection, LifecycleConfig, Problem, SafetyConfig, Severity};

const SECTIONS: [&str; 3] = ["connections", "lifecycle", "safety"];

struct Collector<'a> {
    file: PathBuf,
    lines: Lines<'a>,
    problems: Vec<Problem>,
}

impl Collector<'_> {
    fn push(&mut self, severity: Severity, path: &str, message: impl Into<String>) {
        let line = if path.is_empty() { None } else { self.lines.line_of(path) };
        self.problems.push(Problem {
            severity,
            file: self.file.clone(),
            line,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, path, message);
    }

    /// Deserializes one section, reporting every problem in it: a key that fails is reported,
    /// dropped, and the rest tried again (so one typo does not hide the next).
    fn section<T: DeserializeOwned + Default>(&mut self, name: &str, value: Option<&toml::Value>) -> T {
        let Some(value) = value else { return T::default() };
        let mut value = value.clone();
        loop {
            match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(v) => return v,
                Err(e) => {
                    let inner = e.path().to_string();
                    let path = if inner == "." { name.to_owned() } else { format!("{name}.{inner}") };
                    self.error(&path, e.into_inner().message().to_owned());
                    let first = inner.split(['.', '[']).next().unwrap_or_default().to_owned();
                    let removed = value.as_table_mut().and_then(|table| table.remove(&first));
                    if removed.is_none() {
                        return T::default();
                    }
                }
            }
        }
    }
}

/// Loads the configuration at `path`, connecting every connection (no network: that is
/// `check`'s job). Returns every problem at once when there are errors.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.to_path_buf();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                "no such file; pass --config PATH, or try roster with `roster sandbox > roster.toml`"
            } else {
                "cannot be read"
            };
            return Err(ConfigError {
                problems: vec![Problem {
                    severity: Severity::Error,
                    file,
                    line: None,
                    path: String::new(),
                    message: format!("{hint} ({e})"),
                }],
            });
        }
    };
    let mut c = Collector { file: file.clone(), lines: Lines::new(&text), problems: Vec::new() };
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let (line, col) = e.span().map_or((None, 0), |s| {
                let line = c.lines.line_at(s.start);
                let line_start = text[..s.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
                (Some(line), s.start - line_start + 1)
            });
            let message = format!(
                "TOML syntax error{}: {}",
                if col > 0 { format!(" at column {col}") } else { String::new() },
                e.message().trim()
            );
            return Err(ConfigError {
                problems: vec![Problem { severity: Severity::Error, file, line, path: String::new(), message }],
            });
        }
    };

    for key in table.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
        c.error(key, format!("unknown key `{key}`; expected one of {}", SECTIONS.join(", ")));
    }
    let lifecycle: LifecycleConfig = c.section("lifecycle", table.get("lifecycle"));
    let safety: SafetyConfig = c.section("safety", table.get("safety"));
    for (key, v) in
        [("max_left_percent", safety.max_left_percent), ("max_snapshot_drop_percent", safety.max_snapshot_drop_percent)]
    {
        if !(0.0..=100.0).contains(&v) {
            c.error(&format!("safety.{key}"), format!("must be a percentage from 0 to 100, found {v}"));
        }
    }
    let base_dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let connections = connections(&mut c, table.get("connections"), &base_dir);
    let written: Vec<String> = table
        .get("connections")
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    check_lifecycle(&mut c, &lifecycle, &connections, &written);

    let has_errors = c.problems.iter().any(|p| p.severity == Severity::Error);
    c.problems.sort_by_key(|p| (p.severity == Severity::Warning, p.line));
    if has_errors {
        return Err(ConfigError { problems: c.problems });
    }
    Ok(Config { path: file, connections, lifecycle, safety, warnings: c.problems })
}

fn connections(c: &mut Collector<'_>, value: Option<&toml::Value>, base_dir: &Path) -> Vec<Connection> {
    let Some(value) = value else { return Vec::new() };
    let Some(table) = value.as_table() else {
        c.error("connections", "expected a table of connections, e.g. [connections.ukg]");
        return Vec::new();
    };
    let ctx = ConnectContext::now();
    let scope = SecretScope::new(base_dir);
    let mut out = Vec::new();
    for (name, value) in table {
        let at = format!("connections.{name}");
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            c.error(&at, format!("connection name `{name}` may only use a-z, 0-9, `-` and `_`"));
            continue;
        }
        let Some(settings) = value.as_table() else {
            c.error(&at, "expected a table with `connector = \"...\"` and its settings");
            continue;
        };
        let Some(connector) = settings.get("connector") else {
            c.error(&at, "missing required key `connector` (e.g. connector = \"ukg-pro\"; see `roster connectors`)");
            continue;
        };
        let Some(id) = connector.as_str() else {
            c.error(&format!("{at}.connector"), "expected a string, e.g. connector = \"ukg-pro\"");
            continue;
        };
        let descriptor = match find_connector(id) {
            Ok(d) => d,
            Err(e) => {
                c.error(&format!("{at}.connector"), e.to_string());
                continue;
            }
        };
        let mut credentials = settings.clone();
        credentials.remove("connector");
        for secret in secret_properties(&descriptor.credentials_schema()) {
            if credentials.get(&secret).is_some_and(toml::Value::is_str) {
                c.push(
                    Severity::Warning,
                    &format!("{at}.{secret}"),
                    "secret written inline in the file; prefer { env = \"VARIABLE\" } or { file = \"path\" }",
                );
            }
        }
        let raw = match serde_json::to_value(&credentials) {
            Ok(v) => v,
            Err(e) => {
                c.error(&at, format!("cannot read the settings: {e}"));
                continue;
            }
        };
        match scope.enter(|| descriptor.connect(&raw, &ctx)) {
            Ok(connector) => out.push(Connection { name: name.clone(), descriptor, connector: connector.into() }),
            Err(e) => {
                for p in e.problems {
                    let path = if p.path.is_empty() { at.clone() } else { format!("{at}.{}", p.path) };
                    c.error(&path, p.message);
                }
            }
        }
    }
    out
}

/// Checks `[lifecycle]` against the connections written in the file (`written`), whether or not
/// they loaded: a connection with a bad password is still a connection.
fn check_lifecycle(c: &mut Collector<'_>, lifecycle: &LifecycleConfig, connections: &[Connection], written: &[String]) {
    let names: Vec<&str> = written.iter().map(String::as_str).collect();
    let known = || {
        if names.is_empty() {
            "no connections are configured".to_owned()
        } else {
            format!("configured connections: {}", names.join(", "))
        }
    };
    let mut seen = std::collections::HashSet::new();
    for source in &lifecycle.sources {
        if !seen.insert(source) {
            c.error("lifecycle.sources", format!("`{source}` is listed twice"));
        }
        match connections.iter().find(|x| &x.name == source) {
            None if names.contains(&source.as_str()) => {}
            None => c.error("lifecycle.sources", format!("`{source}` is not a connection ({})", known())),
            Some(x) if !x.descriptor.capabilities.lifecycle_source => c.error(
                "lifecycle.sources",
                format!("`{source}` uses connector `{}`, which cannot be a lifecycle source of truth", x.descriptor.id),
            ),
            Some(_) => {}
        }
    }
    for (attribute, order) in &lifecycle.attributes {
        for name in order {
            if !names.contains(&name.as_str()) {
                c.error(
                    &format!("lifecycle.attributes.{attribute}"),
                    format!("`{name}` is not a connection ({})", known()),
                );
            }
        }
    }
    for domain in &lifecycle.domains {
        if domain.trim().is_empty() || domain.contains('@') || !domain.contains('.') {
            c.error("lifecycle.domains", format!("`{domain}` is not an email domain (write `acme.com`, without `@`)"));
        }
    }
    if lifecycle.match_on.is_empty() {
        c.error("lifecycle.match_on", "must name at least one key: \"email\" or \"employee_id\"");
    }
    if lifecycle.sources.is_empty() && !connections.is_empty() {
        c.push(Severity::Warning, "lifecycle.sources", "no sources of truth: every person will be an orphan");
    }
}
