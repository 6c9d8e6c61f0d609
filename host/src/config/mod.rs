//! The configuration file: connections, the lifecycle policy and safety thresholds.
//!
//! Loading is two steps, as in ripgrep: the raw TOML is checked and every problem collected
//! ([`load`]), then resolved into an immutable [`Config`] with live connections. Every problem
//! names the file, the TOML key path and its line.

mod lines;
mod load;
pub mod schema;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use roster_core::lifecycle::{Attribute, MatchKey, Mode, OnLeave, Policy};
use roster_core::{Connector, ConnectorDescriptor};
use schemars::JsonSchema;
use serde::Deserialize;

pub use load::load;

/// `[lifecycle]`: which sources of truth decide, in what order, and how.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Connection names of the sources of truth, highest precedence first. Connections not listed
    /// are "unchecked": they contribute accounts and attributes but never decide.
    #[serde(default)]
    pub sources: Vec<String>,
    /// `precedence`: the highest-ranked source of truth that knows a person decides.
    /// `any-active`: current while any listed source has them active.
    #[serde(default)]
    pub mode: Mode,
    /// The company's email domains; people with none of their addresses in them are `external`.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Keys to match people across connections on, in order.
    #[serde(default = "default_match_on")]
    pub match_on: Vec<MatchKey>,
    /// Whether people on leave count as `current` (the default) or `past`.
    #[serde(default)]
    pub on_leave: OnLeave,
    /// Per-attribute source precedence, e.g. `role = ["ukg", "azure"]`; an attribute not listed
    /// follows `sources`.
    #[serde(default)]
    pub attributes: BTreeMap<Attribute, Vec<String>>,
}

fn default_match_on() -> Vec<MatchKey> {
    vec![MatchKey::Email, MatchKey::EmployeeId]
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            mode: Mode::default(),
            domains: Vec::new(),
            match_on: default_match_on(),
            on_leave: OnLeave::default(),
            attributes: BTreeMap::new(),
        }
    }
}

/// `[safety]`: thresholds that hold a change instead of applying it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SafetyConfig {
    /// A change that moves more than this share (percent) of current people to past is held.
    #[serde(default = "default_left", deserialize_with = "percent")]
    #[schemars(range(min = 0, max = 100))]
    pub max_left_percent: f64,
    /// A snapshot that shrinks more than this share (percent) against the last one is held.
    #[serde(default = "default_drop", deserialize_with = "percent")]
    #[schemars(range(min = 0, max = 100))]
    pub max_snapshot_drop_percent: f64,
}

fn default_left() -> f64 {
    10.0
}

fn default_drop() -> f64 {
    20.0
}

/// A percentage from 0 to 100, written as a TOML integer or float. Checked while deserializing,
/// so a bad threshold is reported at its own key and line like any other type error, with the
/// value found (thresholds are not secrets); NaN and infinities are out of range too.
fn percent<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = toml::Value::deserialize(deserializer)?;
    let percent = match &value {
        toml::Value::Integer(i) => u8::try_from(*i).ok().filter(|p| *p <= 100).map(f64::from),
        toml::Value::Float(f) => Some(*f).filter(|f| (0.0..=100.0).contains(f)),
        _ => None,
    };
    percent.ok_or_else(|| serde::de::Error::custom(format!("must be a percentage from 0 to 100, found {value}")))
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self { max_left_percent: default_left(), max_snapshot_drop_percent: default_drop() }
    }
}

/// One configured connection, connected.
pub struct Connection {
    /// Its name (`[connections.NAME]`).
    pub name: String,
    /// Its connector.
    pub descriptor: &'static ConnectorDescriptor,
    /// The live connection.
    pub connector: std::sync::Arc<dyn Connector>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").field("name", &self.name).field("connector", &self.descriptor.id).finish()
    }
}

/// A loaded, valid configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// Connections in file order.
    pub connections: Vec<Connection>,
    /// The lifecycle policy.
    pub lifecycle: LifecycleConfig,
    /// Safety thresholds.
    pub safety: SafetyConfig,
    /// Warnings found while loading (inline secrets, no sources of truth).
    pub warnings: Vec<Problem>,
}

impl Config {
    /// The lifecycle policy the engine runs.
    pub fn policy(&self) -> Policy {
        Policy {
            sources: self.lifecycle.sources.clone(),
            mode: self.lifecycle.mode,
            domains: self.lifecycle.domains.iter().map(|d| d.trim().to_lowercase()).collect(),
            match_on: self.lifecycle.match_on.clone(),
            on_leave: self.lifecycle.on_leave,
            attributes: self.lifecycle.attributes.clone(),
        }
    }

    /// The directory of the config file (secrets' `file` paths and the default database are
    /// relative to it).
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new("."))
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The configuration cannot be used.
    Error,
    /// It works, but should change.
    Warning,
}

/// One problem in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// The file.
    pub file: PathBuf,
    /// The line of the key, when known.
    pub line: Option<usize>,
    /// The column, for syntax errors (a key's line is enough to find it).
    pub column: Option<usize>,
    /// The TOML key path (`connections.ukg.password`); empty for the file itself.
    pub path: String,
    /// What is wrong and what was expected; never a secret's value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if self.severity == Severity::Warning {
            f.write_str(": warning")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error (and warning) that made a configuration unusable. Exit status 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Errors first, then warnings, each group by line.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// A configuration that is unusable for one reason.
    pub(crate) fn single(problem: Problem) -> Self {
        Self { problems: vec![problem] }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One problem reads best on one line, like a compiler's (`roster.toml:3:7: ...`).
        if let [only] = self.problems.as_slice() {
            return write!(f, "{only}");
        }
        let errors = self.problems.iter().filter(|p| p.severity == Severity::Error).count();
        let warnings = self.problems.len() - errors;
        write!(f, "invalid configuration: {errors} error{}", plural(errors))?;
        if warnings > 0 {
            write!(f, ", {warnings} warning{}", plural(warnings))?;
        }
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// `s` unless there is exactly one.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
