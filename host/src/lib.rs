//! roster-host: the `roster` command. Reads the TOML configuration, syncs connections into a
//! `SQLite` store, resolves which source of truth decides for each person, and prints the result.
//!
//! The key design decision: the configuration is parsed first and resolved into an immutable
//! [`config::Config`] with live connections second, collecting *every* problem on the way; only a
//! valid configuration reaches a command. The binary is thin (`main.rs`); everything is a library
//! so tests can drive it, and errors that decide the exit status are types ([`error`]).

// Each connector crate is named once, so that the linker keeps it and its `inventory`
// registration with it. Linking a new connector is one line here (and one in Cargo.toml).
use roster_entra_id as _;
use roster_google_workspace as _;
use roster_hr_file as _;
use roster_ukg_pro as _;

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod engine;
pub mod error;
pub mod output;
pub mod progress;
pub mod store;
pub mod sync;

use std::path::{Path, PathBuf};

use anyhow::Result;

use cli::{Cli, Command};
use output::Ui;

/// Runs one command.
pub async fn run(cli: Cli) -> Result<()> {
    let ui = Ui { quiet: cli.quiet };
    let db = db_path(&cli.config, cli.db.as_deref());
    match cli.command {
        Command::Connectors { format } => commands::connectors(format),
        Command::Schema { name } => commands::schema(&name),
        Command::Validate => commands::validate(&cli.config),
        Command::Check { connections, format } => {
            let config = load(&cli.config)?;
            commands::check(&config, &connections, format).await
        }
        Command::Sync { connections, force } => {
            let config = load(&cli.config)?;
            let selected = sync::select(&config, &connections)?;
            let mut store = store::open(&db)?;
            sync::run(&config, &mut store, &selected, force, &ui).await
        }
        Command::Status { format } => {
            let config = load(&cli.config)?;
            commands::status(&config, &db, format)
        }
        Command::Completions { shell } => commands::completions(shell),
        Command::Preview { out, format } => {
            let config = load(&cli.config)?;
            let store = open_existing(&db)?;
            engine::plan::preview(&config, &store, out.as_deref(), format, &ui)
        }
        Command::Apply { plan, force } => {
            let config = load(&cli.config)?;
            let mut store = open_existing(&db)?;
            engine::plan::apply(&config, &mut store, plan.as_deref(), force, &ui)
        }
        Command::Explain { person, format } => commands::explain(&db, &person, format),
        Command::Events { since, kind, format } => {
            let filter = store::EventFilter { since, kinds: kind.into_iter().map(Into::into).collect(), person: None };
            commands::events(&db, &filter, format)
        }
        Command::Users { lifecycle, format } => commands::users(&db, lifecycle.map(Into::into), format),
        Command::Demo { people, seed } => demo::run(people, seed, cli.db.clone(), &ui).await,
        Command::Sandbox { people, port, seed } => commands::sandbox(people, port, seed, &ui).await,
    }
}

/// `--db`, else `roster.db` beside the configuration file.
pub fn db_path(config: &Path, db: Option<&Path>) -> PathBuf {
    db.map_or_else(|| config.parent().map_or_else(PathBuf::new, Path::to_path_buf).join("roster.db"), Path::to_path_buf)
}

/// Opens the database for a command that reads what `sync` stored: a missing database is not
/// created (an empty one would only hide the mistake).
pub fn open_existing(db: &Path) -> Result<store::Store> {
    if !db.exists() {
        return Err(anyhow::anyhow!("no database at {} yet: run `roster sync` first", db.display()));
    }
    store::open(db)
}

/// Loads the configuration for a command other than `validate`: its warnings are logged (one
/// line at the default level, each with `-v`; `roster validate` lists them).
pub fn load(path: &Path) -> Result<config::Config> {
    let config = config::load(path)?;
    for w in &config.warnings {
        tracing::info!("{w}");
    }
    if !config.warnings.is_empty() {
        tracing::warn!(
            "{} has {} warning{}; `roster validate` lists them",
            path.display(),
            config.warnings.len(),
            config::plural(config.warnings.len())
        );
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_sits_beside_the_configuration() {
        assert_eq!(db_path(Path::new("roster.toml"), None), Path::new("roster.db"));
        assert_eq!(db_path(Path::new("/etc/roster/roster.toml"), None), Path::new("/etc/roster/roster.db"));
        assert_eq!(db_path(Path::new("/etc/roster/roster.toml"), Some(Path::new("x.db"))), Path::new("x.db"));
    }
}
