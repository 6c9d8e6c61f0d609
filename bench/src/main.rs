//! `roster-bench`: how fast roster syncs, resolves and re-syncs sandbox tenants of 1k, 100k and 1M
//! people, against the targets of docs/performance.md.
//!
//! The key design decision: every scenario runs in a process of its own, and the vendor sandboxes
//! in yet another, so that a scenario's peak RSS (`VmHWM`) is the product's alone: not the
//! sandbox's copy of the tenant, not the scenario before it. The bench re-executes itself with
//! hidden flags for both (`--serve` for the sandboxes, `--scenario` for a measurement) and talks
//! to them with one JSON line each way. What is measured is the product: a `roster.toml`
//! written to a temporary directory, `roster_host::config::load`, `roster_host::store::open` and
//! `roster_host::sync::run`, exactly what `roster sync` runs. The cost: two processes share the
//! machine's cores, the sandbox's work (serialising pages) competes with the sync's, and both the
//! floor and the syncs pay it.
//!
//! ```text
//! cargo run --release -p roster-bench -- [--sizes 1000,100000,1000000]
//!     [--only ukg,entra,google,floor,resolve,resync,change,ratelimit] [--rate R] [--repeat N]
//! ```

mod floor;
mod mem;
mod orchestrate;
mod protocol;
mod proxy;
mod report;
mod resolve;
mod scenario;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

// The allocator of the `roster` binary (host/src/main.rs), so a scenario measures what it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What one row of the table measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Scenario {
    /// Full sync of UKG Pro over loopback HTTP: both endpoints, join, map, store, resolve.
    Ukg,
    /// The floor: the same UKG pages over the same HTTP, bodies discarded.
    Floor,
    /// Full sync of Entra ID.
    Entra,
    /// Full sync of Google Workspace.
    Google,
    /// Resolution alone: three sources of N people each.
    Resolve,
    /// A second sync of UKG Pro, Entra ID and Google Workspace with nothing changed.
    Resync,
    /// A second UKG Pro sync after a day's changes: one person in two thousand hired since.
    Change,
    /// A UKG Pro sync against a sandbox that admits R requests per second.
    Ratelimit,
}

impl Scenario {
    /// Every scenario, in table order (the floor right after the sync it is the floor of).
    const ALL: [Self; 8] =
        [Self::Ukg, Self::Floor, Self::Entra, Self::Google, Self::Resolve, Self::Resync, Self::Change, Self::Ratelimit];

    fn name(self) -> &'static str {
        match self {
            Self::Ukg => "ukg",
            Self::Floor => "floor",
            Self::Entra => "entra",
            Self::Google => "google",
            Self::Resolve => "resolve",
            Self::Resync => "resync",
            Self::Change => "change",
            Self::Ratelimit => "ratelimit",
        }
    }

    /// The vendor sandboxes the scenario syncs against.
    fn vendors(self) -> &'static [Vendor] {
        match self {
            Self::Ukg | Self::Floor | Self::Change | Self::Ratelimit => &[Vendor::Ukg],
            Self::Entra => &[Vendor::Entra],
            Self::Google => &[Vendor::Google],
            Self::Resync => &[Vendor::Ukg, Vendor::Entra, Vendor::Google],
            Self::Resolve => &[],
        }
    }
}

/// A vendor sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Vendor {
    /// UKG Pro.
    Ukg,
    /// Entra ID.
    Entra,
    /// Google Workspace.
    Google,
}

impl Vendor {
    /// The connector id.
    fn id(self) -> &'static str {
        match self {
            Self::Ukg => roster_ukg_pro::ID,
            Self::Entra => roster_entra_id::ID,
            Self::Google => roster_google_workspace::ID,
        }
    }

    /// The connection name in the generated `roster.toml` (as `roster demo` names them).
    fn connection(self) -> &'static str {
        match self {
            Self::Ukg => "ukg",
            Self::Entra => "azure",
            Self::Google => "google",
        }
    }
}

/// How the results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A table for a terminal.
    Table,
    /// A Markdown table, as docs/performance.md holds it.
    Markdown,
    /// One JSON object per row (the smoke test reads it).
    Json,
}

/// Benchmarks roster against sandbox tenants and prints a table of wall time, people per second,
/// peak RSS, rows written, the ratio to the HTTP floor, and whether each target is met.
#[derive(Debug, Parser)]
#[command(name = "roster-bench", version)]
struct Args {
    /// Tenant sizes, in people.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 100_000, 1_000_000])]
    sizes: Vec<usize>,
    /// Run only these scenarios (default: all).
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Vec<Scenario>,
    /// Requests per second the rate-limited sandbox admits.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// How long the rate-limited sync should take at the allowed rate: its page size is chosen
    /// so that the listing needs about `rate * rate_seconds` requests at every size.
    #[arg(long, default_value_t = 10)]
    rate_seconds: u64,
    /// Seed of the generated organisation.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Stop a scenario that takes longer than this many seconds (sandbox start-up excluded).
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Run every scenario this many times, in turn, and report the run with the median wall
    /// time (with the range of all runs); the floor ratio is the median of each round's ratio.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
    repeat: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Internal: run this one scenario in this process and print its measurements as JSON.
    #[arg(long, hide = true)]
    scenario: Option<Scenario>,
    /// Internal: serve these vendors' sandboxes until stdin closes.
    #[arg(long, hide = true, value_delimiter = ',', value_enum)]
    serve: Vec<Vendor>,
    /// Internal: put the rate-limiting proxy in front of the UKG Pro sandbox.
    #[arg(long, hide = true)]
    rate_limit: bool,
    /// Internal: people in the tenant.
    #[arg(long, hide = true)]
    people: Option<usize>,
    /// Internal: the scenario's directory (its `roster.toml` and database).
    #[arg(long, hide = true)]
    dir: Option<PathBuf>,
    /// Internal: the UKG Pro sandbox's base URL, for the floor.
    #[arg(long, hide = true)]
    url: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if let Some(scenario) = args.scenario {
        scenario::main(scenario, &args)
    } else if !args.serve.is_empty() {
        serve::main(&args)
    } else {
        orchestrate::main(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
