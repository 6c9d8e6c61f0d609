//! Reading `roster.toml` and checking it, collecting every problem before giving up.

use std::path::{Path, PathBuf};

use roster_core::{ConnectContext, ConnectorDescriptor, SecretScope, UnknownConnector, find_connector};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::lines::Lines;
use super::validate::{self, Written};
use super::{Config, ConfigError, Connection, LifecycleConfig, Problem, SafetyConfig, Severity};

/// The top-level tables of the file.
pub(super) const SECTIONS: [&str; 3] = ["connections", "lifecycle", "safety"];

/// How a connector id is looked up: the registry, or a test's own list.
pub(super) type Lookup<'l> = &'l dyn Fn(&str) -> Result<&'static ConnectorDescriptor, UnknownConnector>;

/// Every problem found so far, with the lines of their key paths.
pub(super) struct Collector<'a> {
    file: PathBuf,
    pub(super) lines: Lines<'a>,
    problems: Vec<Problem>,
    /// Key paths left out because they were wrong: what they would have said is unknown, so no
    /// later check may draw conclusions from their absence.
    dropped: Vec<String>,
}

impl<'a> Collector<'a> {
    pub(super) fn new(file: &Path, text: &'a str) -> Self {
        Self { file: file.to_path_buf(), lines: Lines::new(text), problems: Vec::new(), dropped: Vec::new() }
    }

    /// Records that `path` was reported and left out.
    pub(super) fn drop_key(&mut self, path: &str) {
        self.dropped.push(path.to_owned());
    }

    /// Whether `path`, or a table holding it, was reported and left out (so it is not known to
    /// be absent or empty).
    pub(super) fn was_dropped(&self, path: &str) -> bool {
        self.dropped
            .iter()
            .any(|d| path.strip_prefix(d.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('.')))
    }

    /// The problems, errors first, each group in line order.
    pub(super) fn into_problems(self) -> Vec<Problem> {
        let mut problems = self.problems;
        problems.sort_by_key(|p| (p.severity == Severity::Warning, p.line));
        problems
    }

    /// A problem at `path`, on `line` (or the line of `path` when `None`).
    pub(super) fn push_at(&mut self, severity: Severity, path: &str, line: Option<usize>, message: impl Into<String>) {
        let line = line.or_else(|| if path.is_empty() { None } else { self.lines.line_of(path) });
        self.problems.push(Problem {
            severity,
            file: self.file.clone(),
            line,
            column: None,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    pub(super) fn error(&mut self, path: &str, message: impl Into<String>) {
        self.push_at(Severity::Error, path, None, message);
    }

    pub(super) fn warning(&mut self, path: &str, message: impl Into<String>) {
        self.push_at(Severity::Warning, path, None, message);
    }

    /// Deserializes one section, reporting every problem in it: a key that fails is reported,
    /// dropped, and the rest tried again, so one typo does not hide the next.
    fn section<T: DeserializeOwned + Default>(&mut self, name: &str, value: Option<&toml::Value>) -> T {
        let Some(value) = value else { return T::default() };
        if !value.is_table() {
            self.error(name, format!("expected a table: [{name}]"));
            self.drop_key(name);
            return T::default();
        }
        let mut value = value.clone();
        loop {
            match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(v) => return v,
                Err(e) => {
                    // `match_on[2]` is reported as `lifecycle.match_on` at the line of its third
                    // item, like every other list entry.
                    let (keys, index) = keys_of(e.path());
                    let path =
                        std::iter::once(name).chain(keys.iter().map(String::as_str)).collect::<Vec<_>>().join(".");
                    let line = index.and_then(|i| self.lines.line_of_item(&path, i));
                    self.push_at(Severity::Error, &path, line, e.into_inner().message());
                    let Some(first) = keys.first() else {
                        self.drop_key(name);
                        return T::default();
                    };
                    if value.as_table_mut().and_then(|table| table.remove(first)).is_none() {
                        self.drop_key(name);
                        return T::default();
                    }
                    self.drop_key(&format!("{name}.{first}"));
                }
            }
        }
    }
}

/// The table keys of a serde error path, up to the first list index (returned apart) or key
/// serde could not name.
fn keys_of(path: &serde_path_to_error::Path) -> (Vec<String>, Option<usize>) {
    let mut keys = Vec::new();
    for segment in path {
        match segment {
            Segment::Map { key } => keys.push(key.clone()),
            Segment::Seq { index } => return (keys, Some(*index)),
            Segment::Enum { .. } | Segment::Unknown => break,
        }
    }
    (keys, None)
}

/// Loads the configuration at `path` and builds every connection (no network: reaching the
/// vendors is `check`'s job). When anything is wrong, every problem found is returned at once.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &find_connector)
}

/// [`load`], finding connectors with `lookup`.
pub(super) fn load_with(path: &Path, lookup: Lookup<'_>) -> Result<Config, ConfigError> {
    let file = path.to_path_buf();
    let problem = |line, column, message: String| Problem {
        severity: Severity::Error,
        file: file.clone(),
        line,
        column,
        path: String::new(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::single(problem(
            None,
            None,
            if e.kind() == std::io::ErrorKind::NotFound {
                "no such configuration file; pass `--config PATH`, or try roster against local sandboxes: \
                 run `roster sandbox > roster.toml` in one terminal, then `roster sync` in another"
                    .to_owned()
            } else {
                format!("cannot read the configuration file: {e}")
            },
        ))
    })?;
    let mut c = Collector::new(path, &text);
    let table = match text.parse::<toml::Table>() {
        Ok(table) => table,
        Err(first) => {
            // The recovering parser finds every syntax error, not only the first.
            let (_, mut errors) = toml::de::DeTable::parse_recoverable(&text);
            if errors.is_empty() {
                errors.push(first);
            }
            let mut problems: Vec<Problem> = errors
                .iter()
                .map(|e| {
                    let (line, column) = e.span().map(|s| c.lines.position(s.start)).unzip();
                    problem(line, column, format!("TOML syntax error: {}", e.message().trim()))
                })
                .collect();
            problems.dedup_by_key(|p| p.line);
            return Err(ConfigError { problems });
        }
    };
    for key in table.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
        let hint = validate::did_you_mean(key, SECTIONS);
        c.error(key, format!("unknown key `{key}`{hint}; expected one of {}", SECTIONS.join(", ")));
    }
    let mut lifecycle = table.get("lifecycle").cloned();
    if let Some(value) = lifecycle.as_mut() {
        validate::attributes_table(&mut c, value);
    }
    let lifecycle: LifecycleConfig = c.section("lifecycle", lifecycle.as_ref());
    let safety: SafetyConfig = c.section("safety", table.get("safety"));
    let base_dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let (connections, written) = connections(&mut c, table.get("connections"), &base_dir, lookup);
    validate::lifecycle(&mut c, &lifecycle, &written);

    let problems = c.into_problems();
    if problems.iter().any(|p| p.severity == Severity::Error) {
        return Err(ConfigError { problems });
    }
    Ok(Config { path: file, connections, lifecycle, safety, warnings: problems })
}

/// Builds every `[connections.NAME]`, reporting the problems of all of them. Returns the
/// connections that built and every connection written in the file (built or not, with its
/// connector when the id is known), which the lifecycle checks refer to.
fn connections(
    c: &mut Collector<'_>,
    value: Option<&toml::Value>,
    base_dir: &Path,
    lookup: Lookup<'_>,
) -> (Vec<Connection>, Vec<Written>) {
    let (mut out, mut written) = (Vec::new(), Vec::new());
    let Some(value) = value else { return (out, written) };
    let Some(table) = value.as_table() else {
        c.error("connections", "expected a table of connections, e.g. [connections.ukg]");
        c.drop_key("connections");
        return (out, written);
    };
    let ctx = ConnectContext { base_dir: base_dir.to_path_buf(), ..ConnectContext::now() };
    // `{ file = ".." }` secrets are relative to the configuration file, not the working directory.
    let scope = SecretScope::new(base_dir);
    for (name, value) in table {
        let at = format!("connections.{name}");
        let descriptor = connector_of(c, &at, value, lookup);
        written.push(Written { name: name.clone(), descriptor });
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            c.error(&at, format!("connection name `{name}` may only use a-z, 0-9, `-` and `_`"));
            continue;
        }
        let (Some(descriptor), Some(settings)) = (descriptor, value.as_table()) else { continue };
        let schema = descriptor.credentials_schema();
        let mut credentials = settings.clone();
        credentials.remove("connector");
        for key in validate::unknown_keys(schema.as_value(), &credentials) {
            let known = validate::property_names(schema.as_value());
            let hint = validate::did_you_mean(&key, known.iter().map(String::as_str));
            c.error(
                &format!("{at}.{key}"),
                format!("unknown key `{key}`{hint}; `{}` connections take {}", descriptor.id, known.join(", ")),
            );
            // Reported here, at its own line; the rest is still checked below.
            credentials.remove(&key);
        }
        for secret in validate::inline_secrets(&schema, &credentials) {
            c.warning(
                &format!("{at}.{secret}"),
                "secret written inline in the file; prefer { env = \"VARIABLE\" } or { file = \"path\" }",
            );
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
    (out, written)
}

/// The connector a connection's table names, reporting what is wrong with it.
fn connector_of(
    c: &mut Collector<'_>,
    at: &str,
    value: &toml::Value,
    lookup: Lookup<'_>,
) -> Option<&'static ConnectorDescriptor> {
    let Some(settings) = value.as_table() else {
        c.error(at, "expected a table with `connector = \"...\"` and its settings");
        return None;
    };
    let Some(connector) = settings.get("connector") else {
        c.error(at, "missing required key `connector` (e.g. connector = \"ukg-pro\"; see `roster connectors`)");
        return None;
    };
    let Some(id) = connector.as_str() else {
        c.error(&format!("{at}.connector"), "expected a string, e.g. connector = \"ukg-pro\"");
        return None;
    };
    match lookup(id) {
        Ok(d) => Some(d),
        Err(e) => {
            let hint = validate::did_you_mean(id, e.known.iter().copied());
            c.error(
                &format!("{at}.connector"),
                format!("unknown connector `{id}`{hint}; known connectors: {}", e.known.join(", ")),
            );
            None
        }
    }
}
