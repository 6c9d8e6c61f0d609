//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use roster_core::Lifecycle;
use roster_core::lifecycle::EventKind;

/// roster: who works here, according to which source of truth.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, default_value = "roster.toml", value_name = "PATH")]
    pub config: PathBuf,
    /// The database (default: `roster.db` beside the configuration file).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the registered connectors and what they can do.
    Connectors {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print a JSON Schema: of a connector's credentials, or of the whole configuration file.
    Schema {
        /// A connector id, or `config`.
        name: String,
    },
    /// Report every problem of the configuration at once.
    Validate,
    /// Authenticate and probe every permission of each connection.
    Check {
        /// Connections to check (default: all).
        connections: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Take snapshots of each connection, then resolve people and record events.
    Sync {
        /// Connections to sync (default: all).
        connections: Vec<String>,
        /// Apply a change even when a safety threshold would hold it.
        #[arg(long)]
        force: bool,
    },
    /// Every connection at a glance: synced or not, when, how many people, the last error.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print a shell completion script (e.g. `roster completions bash > /etc/bash_completion.d/roster`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Show what applying the configuration's [lifecycle] would change. Changes nothing.
    Preview {
        /// Also write the plan to this file, for `roster apply PLAN`.
        #[arg(long, value_name = "PLAN")]
        out: Option<PathBuf>,
        /// Output format (JSON is the plan itself).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Apply the configuration's [lifecycle]; with a plan, exactly that plan or nothing.
    Apply {
        /// A plan written by `roster preview --out`.
        plan: Option<PathBuf>,
        /// Apply even when a safety threshold would hold it.
        #[arg(long)]
        force: bool,
    },
    /// Show every record of a person, which source decided and why, and where each attribute came from.
    Explain {
        /// An email address (primary or alias) or employee id.
        person: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List recorded events: who joined, left, rejoined or moved.
    Events {
        /// Only events at or after this date (`2026-11-01`) or time (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = parse_since)]
        since: Option<String>,
        /// Only events of these kinds.
        #[arg(long, value_enum, value_delimiter = ',')]
        kind: Vec<EventKindArg>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = EventsFormat::Table)]
        format: EventsFormat,
    },
    /// List the resolved people.
    Users {
        /// Only people of this lifecycle.
        #[arg(long, value_enum)]
        lifecycle: Option<LifecycleArg>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = UsersFormat::Table)]
        format: UsersFormat,
    },
    /// See roster work in seconds: sandboxes of every vendor, a generated company, the whole flow.
    Demo {
        /// People in the generated organisation.
        #[arg(long, default_value_t = 2000)]
        people: usize,
        /// Seed of the generated organisation.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Serve sandboxes of every vendor on loopback and print a configuration that points at them.
    Sandbox {
        /// People in the generated organisation.
        #[arg(long, default_value_t = 200)]
        people: usize,
        /// First loopback port (one per vendor, counting up); 0 picks free ports.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Seed of the generated organisation.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Table or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// JSON for programs.
    Json,
}

/// Formats of `roster users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsersFormat {
    /// A table for people.
    Table,
    /// One JSON array.
    Json,
    /// Comma-separated values with a header.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// Lifecycle values, as the CLI takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LifecycleArg {
    /// Current employees.
    Current,
    /// Past employees.
    Past,
    /// Outside the company.
    External,
    /// Known to no source of truth.
    Orphan,
}

impl From<LifecycleArg> for Lifecycle {
    fn from(arg: LifecycleArg) -> Self {
        match arg {
            LifecycleArg::Current => Self::Current,
            LifecycleArg::Past => Self::Past,
            LifecycleArg::External => Self::External,
            LifecycleArg::Orphan => Self::Orphan,
        }
    }
}

/// Formats of `roster events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsFormat {
    /// A table for people.
    Table,
    /// One JSON array.
    Json,
    /// Comma-separated values with a header.
    Csv,
}

/// Event kinds, as the CLI takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventKindArg {
    /// Became current for the first time.
    Joined,
    /// Was current, is not any more.
    Left,
    /// Became current again.
    Rejoined,
    /// Changed role or department while current.
    Moved,
}

impl From<EventKindArg> for EventKind {
    fn from(arg: EventKindArg) -> Self {
        match arg {
            EventKindArg::Joined => Self::Joined,
            EventKindArg::Left => Self::Left,
            EventKindArg::Rejoined => Self::Rejoined,
            EventKindArg::Moved => Self::Moved,
        }
    }
}

/// `--since`: a date (the start of that day, UTC) or an RFC 3339 time, as the stored UTC text
/// it is compared with.
fn parse_since(value: &str) -> Result<String, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(format!("{day}T00:00:00.000Z"));
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .map_err(|_| format!("`{value}` is not a date like 2026-11-01 or a time like 2026-11-01T09:30:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_or_a_time_and_compares_as_stored() {
        assert_eq!(parse_since("2026-11-01").unwrap(), "2026-11-01T00:00:00.000Z");
        assert_eq!(parse_since("2026-11-01T10:30:00+01:00").unwrap(), "2026-11-01T09:30:00.000Z");
        assert!(parse_since("yesterday").unwrap_err().contains("`yesterday` is not a date"));
    }
}
