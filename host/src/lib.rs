//! roster-host: the `roster` command. Reads the TOML configuration, syncs connections into a
//! `SQLite` store, resolves who is authoritative for each person and prints the result.
//!
//! The binary is thin (`main.rs`); everything here is a library so tests can drive it.

// Each connector crate is named once, so the linker keeps it and its `inventory` registration.
use roster_entra_id as _;
use roster_google_workspace as _;
use roster_ukg_pro as _;

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod error;
pub mod output;
pub mod store;
pub mod sync;

use std::path::PathBuf;

use anyhow::Result;

use cli::{Cli, Command};

/// Runs one command.
pub async fn run(cli: Cli) -> Result<()> {
    let db = || -> PathBuf {
        cli.db.clone().unwrap_or_else(|| cli.config.parent().map_or_else(PathBuf::new, PathBuf::from).join("roster.db"))
    };
    match cli.command {
        Command::Connectors { format } => commands::connectors(format),
        Command::Schema { name } => commands::schema(&name),
        Command::Validate => commands::validate(&cli.config),
        Command::Check { connections, format } => commands::check(&cli.config, &connections, format).await,
        Command::Sync { connections, force } => {
            let config = load(&cli.config)?;
            let selected = sync::select(&config, &connections)?;
            let mut store = store::open(&db())?;
            sync::run(&config, &mut store, &selected, force).await
        }
        Command::Users { lifecycle, format } => commands::users(&db(), lifecycle, format),
        Command::Demo { people, seed } => demo::run(people, seed, cli.db.clone()).await,
        Command::Sandbox { people, port, seed } => commands::sandbox(people, port, seed).await,
    }
}

/// Loads the configuration; its warnings are logged (`-v` shows each, `roster validate` lists them).
pub fn load(path: &std::path::Path) -> Result<config::Config> {
    let config = config::load(path)?;
    for w in &config.warnings {
        tracing::info!("{w}");
    }
    if !config.warnings.is_empty() {
        tracing::warn!("{} has {} warning(s); `roster validate` lists them", path.display(), config.warnings.len());
    }
    Ok(config)
}
