//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use roster_core::Lifecycle;

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
