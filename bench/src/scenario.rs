//! A scenario process (`--scenario NAME`): runs one measurement and prints it as one JSON line.
//!
//! Syncs run the host library exactly as `roster sync` does: load `roster.toml`, open the store,
//! `sync::run` every connection (which lists, stages, commits and resolves), close the store.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use roster_host::output::Ui;

use crate::protocol::{Measured, emit};
use crate::{Args, Scenario, floor, mem, resolve};

pub(crate) fn main(scenario: Scenario, args: &Args) -> Result<()> {
    let people = args.people.context("--scenario needs --people")?;
    // `RUST_LOG=roster_core=debug,roster_host=debug` shows the steps' timings, on stderr (which
    // the table leaves alone).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    }
    let measured = if scenario == Scenario::Resolve {
        resolve::run(people, args.seed)?
    } else {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let dir = args.dir.as_deref().context("--scenario needs --dir");
        runtime.block_on(async {
            match scenario {
                Scenario::Floor => {
                    floor::run(args.url.as_deref().context("the floor needs --url")?, people).await.map(|m| vec![m])
                }
                Scenario::Resync => second_sync(dir?, CONFIG).await.map(|m| vec![m]),
                Scenario::Change => second_sync(dir?, BEFORE).await.map(|m| vec![m]),
                _ => first_sync(dir?).await.map(|m| vec![m]),
            }
        })?
    };
    emit(&measured)
}

/// `roster sync` of every connection into a new database.
async fn first_sync(dir: &Path) -> Result<Measured> {
    let wall = sync(dir, CONFIG).await?;
    let peak_rss = mem::peak_rss();
    let db = rusqlite::Connection::open(dir.join("roster.db"))?;
    // A new database: every row in it was written by this sync.
    let count = |tables: &[&str]| -> Result<u64> {
        let mut n = 0;
        for t in tables {
            let rows: i64 = db.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
            n += rows.unsigned_abs();
        }
        Ok(n)
    };
    Ok(Measured {
        wall_secs: wall.as_secs_f64(),
        units: users(&db)?,
        peak_rss,
        rows_written: Some(count(&DATA_TABLES)?),
        bookkeeping_rows: Some(count(&BOOKKEEPING_TABLES)?),
        requests: None,
        ..Measured::default()
    })
}

/// The configuration of the synced tenants, in the scenario's directory.
pub(crate) const CONFIG: &str = "roster.toml";

/// `change`: the configuration of the same tenant the day before, without the day's hires.
pub(crate) const BEFORE: &str = "before.toml";

/// A first sync of the tenants `first` configures, then the one measured, of [`CONFIG`]'s: the
/// same tenants again with nothing changed (`resync`), or after a day's changes (`change`).
async fn second_sync(dir: &Path, first: &str) -> Result<Measured> {
    sync(dir, first).await.context("the first sync failed")?;
    let db = rusqlite::Connection::open(dir.join("roster.db"))?;
    db.execute_batch(&count_writes_sql())?;
    mem::reset_peak();
    let wall = sync(dir, CONFIG).await?;
    let peak_rss = mem::peak_rss();
    let written = |kind: &str| -> Result<u64> {
        let n: i64 = db.query_row("SELECT n FROM bench_writes WHERE kind = ?1", [kind], |r| r.get(0))?;
        Ok(n.unsigned_abs())
    };
    Ok(Measured {
        wall_secs: wall.as_secs_f64(),
        units: users(&db)?,
        peak_rss,
        rows_written: Some(written("data")?),
        bookkeeping_rows: Some(written("bookkeeping")?),
        ..Measured::default()
    })
}

/// Tables that hold people's data and their history.
const DATA_TABLES: [&str; 6] = ["snapshot_chunks", "pending_chunks", "people_chunks", "events", "runs", "policy"];
/// Tables that hold when things happened (`connections.last_sync_at`, `meta`).
const BOOKKEEPING_TABLES: [&str; 2] = ["connections", "meta"];

/// Triggers that count every row inserted, updated or deleted, by kind of table. Installed after
/// the first sync so that they cost that sync nothing.
fn count_writes_sql() -> String {
    let mut sql = String::from(
        "CREATE TABLE bench_writes (kind TEXT PRIMARY KEY, n INTEGER NOT NULL);
         INSERT INTO bench_writes VALUES ('data', 0), ('bookkeeping', 0);\n",
    );
    let tables = DATA_TABLES.iter().map(|t| (t, "data")).chain(BOOKKEEPING_TABLES.iter().map(|t| (t, "bookkeeping")));
    for (table, kind) in tables {
        for op in ["INSERT", "UPDATE", "DELETE"] {
            let _ = writeln!(
                sql,
                "CREATE TRIGGER bench_{table}_{op} AFTER {op} ON {table} \
                 BEGIN UPDATE bench_writes SET n = n + 1 WHERE kind = '{kind}'; END;"
            );
        }
    }
    sql
}

/// Users in every connection's snapshot.
fn users(db: &rusqlite::Connection) -> Result<u64> {
    let n: i64 = db.query_row("SELECT coalesce(sum(users), 0) FROM connections", [], |r| r.get(0))?;
    Ok(n.unsigned_abs())
}

/// What `roster sync` does with the configuration `config`, timed from reading it to closing the
/// database.
async fn sync(dir: &Path, config: &str) -> Result<Duration> {
    let started = Instant::now();
    let config = roster_host::config::load(&dir.join(config))?;
    let mut store = roster_host::store::open(&dir.join("roster.db"))?;
    let selected: Vec<_> = config.connections.iter().collect();
    roster_host::sync::run(&config, &mut store, &selected, false, &Ui { quiet: true }).await?;
    drop(store);
    Ok(started.elapsed())
}
