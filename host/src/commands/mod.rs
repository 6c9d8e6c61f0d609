//! The subcommands other than `sync` (see [`crate::sync`]).

mod check;
pub mod events;
pub mod explain;
mod sandbox;
pub mod status;
mod users;

use std::path::Path;

use anyhow::{Result, anyhow};
use roster_core::{connectors as registered, find_connector};

pub use check::check;
pub use events::events;
pub use explain::explain;
pub use sandbox::sandbox;
pub use status::status;
pub use users::users;

use crate::cli::Format;
use crate::config::{plural, schema};
use crate::error::UsageError;
use crate::output;

/// `roster connectors`: every registered connector and what it can do.
pub fn connectors(format: Format) -> Result<()> {
    let all = registered();
    if format == Format::Json {
        let list: Vec<_> = all
            .iter()
            .map(|d| {
                serde_json::json!({
                    "id": d.id,
                    "name": d.display_name,
                    "description": d.description,
                    "capabilities": d.capabilities,
                    "sandbox": d.sandbox.is_some(),
                })
            })
            .collect();
        return output::print(&serde_json::to_string_pretty(&list)?);
    }
    let mut t = output::table(&["id", "name", "lifecycle source", "capabilities", "description"]);
    for d in all {
        let c = d.capabilities;
        let caps: Vec<&str> = [
            (c.reports_terminated, "reports terminated"),
            (c.effective_dates, "effective dates"),
            (c.incremental_sync, "incremental sync"),
            (d.sandbox.is_some(), "sandbox"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        t.add_row(vec![
            d.id,
            d.display_name,
            if c.lifecycle_source { "yes" } else { "no" },
            &caps.join(", "),
            d.description,
        ]);
    }
    output::print(&t.to_string())
}

/// `roster schema <connector>|config`: the same JSON as the files under `schemas/`.
pub fn schema(name: &str) -> Result<()> {
    let value = if name == "config" {
        schema::config()
    } else {
        let d = find_connector(name).map_err(|e| anyhow!(UsageError(format!("{e}, or `config`"))))?;
        schema::credentials(d)
    };
    output::print(schema::to_text(&value).trim_end())
}

/// `roster validate`: every problem of the configuration at once. Errors make it fail with exit
/// status 2 (printed by `main`, warnings included); warnings alone are printed and pass.
pub fn validate(path: &Path) -> Result<()> {
    let config = crate::config::load(path)?;
    for w in &config.warnings {
        eprintln!("{w}");
    }
    let n = config.connections.len();
    eprintln!(
        "{}: valid ({n} connection{}, {} warning{})",
        path.display(),
        plural(n),
        config.warnings.len(),
        plural(config.warnings.len())
    );
    Ok(())
}

/// `roster completions <shell>`: a completion script for the shell, on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "roster", &mut out);
    output::print(String::from_utf8_lossy(&out).trim_end())
}
