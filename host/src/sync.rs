//! `roster sync`: take a snapshot of each connection, then resolve people and record events.
//!
//! Connections are independent: each lists concurrently into memory and commits only a complete
//! listing, so a failure of one changes nothing of its previous snapshot and does not stop the
//! others. The committed listings are handed to the resolution as they are, not read back.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use roster_core::{Connector, PageSink};

use crate::config::{Config, Connection, plural};
use crate::engine::{self, Resolution};
use crate::error::{Held, UsageError};
use crate::output::Ui;
use crate::progress::Progress;
use crate::store::{Commit, Committed, SnapshotWriter, Staged, Store, SyncOutcome};

/// How one connection's sync ended.
#[derive(Debug)]
enum Outcome {
    /// A complete snapshot replaced the previous one (and is kept for the resolution).
    Synced { users: u64, records_changed: u64, elapsed: Duration, snapshot: Option<Committed> },
    /// The listing or its storage failed; the previous snapshot is untouched.
    Failed { error: String, elapsed: Duration },
    /// The snapshot shrank beyond `max_snapshot_drop_percent`; nothing was replaced.
    Held(Staged),
}

/// Picks the connections named on the command line: all of them, in file order, when none are.
/// An unknown name is bad usage (exit status 2).
pub fn select<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c Connection>> {
    if names.is_empty() {
        return Ok(config.connections.iter().collect());
    }
    let known: Vec<&str> = config.connections.iter().map(|c| c.name.as_str()).collect();
    let mut unknown = Vec::new();
    let mut selected: Vec<&Connection> = Vec::new();
    for n in names {
        match config.connections.iter().find(|c| &c.name == n) {
            Some(c) if !selected.iter().any(|s| s.name == c.name) => selected.push(c),
            Some(_) => {}
            None => unknown.push(format!("`{n}`")),
        }
    }
    if !unknown.is_empty() {
        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
        return Err(anyhow!(UsageError(format!(
            "no connection named {} in {}; configured connections: {known}",
            unknown.join(", "),
            config.path.display()
        ))));
    }
    Ok(selected)
}

/// Syncs `selected` concurrently, each independently, then resolves people. Prints a line per
/// connection and a summary to stderr. Fails (exit 1) when a connection failed, after committing
/// the others; returns [`Held`] (exit 3) when a safety threshold held a change.
pub async fn run(config: &Config, store: &mut Store, selected: &[&Connection], force: bool, ui: &Ui) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut index_of = HashMap::new();
    let progress = Progress::new(*ui);
    let mut bars = Vec::new();
    for (i, c) in selected.iter().enumerate() {
        let writer = store.snapshot_writer(&c.name, c.descriptor.id)?;
        tracing::info!("{}: listing users", c.name);
        let bar = progress.connection(&c.name);
        bars.push(bar.clone());
        let task = sync_one(c.connector.clone(), writer, config.safety.max_snapshot_drop_percent, force, bar);
        index_of.insert(tasks.spawn(task).id(), i);
    }

    // Indices into `selected`, so that the summary lists connections in file order.
    let (mut failed, mut held) = (Vec::new(), Vec::new());
    let mut reasons: HashMap<usize, String> = HashMap::new();
    let mut fresh = Vec::new();
    // Reported as each finishes, so a slow tenant does not hide the others' results.
    while let Some(done) = tasks.join_next_with_id().await {
        let (id, outcome) = match done {
            Ok((id, outcome)) => (id, outcome),
            Err(e) => {
                let error = if e.is_panic() { "the sync crashed (a bug: please report it)" } else { "cancelled" };
                (e.id(), Outcome::Failed { error: error.to_owned(), elapsed: Duration::ZERO })
            }
        };
        let i = index_of[&id];
        let c = selected[i];
        bars[i].finish_and_clear();
        match outcome {
            Outcome::Synced { users, records_changed, elapsed, snapshot } => {
                progress.println(&format!(
                    "{}: {users} user{} in {:.1} s ({})",
                    c.name,
                    plural(usize::try_from(users).unwrap_or(usize::MAX)),
                    elapsed.as_secs_f64(),
                    if records_changed == 0 {
                        "no changes".to_owned()
                    } else {
                        format!("{records_changed} records changed")
                    }
                ));
                fresh.extend(snapshot);
            }
            Outcome::Failed { error, elapsed } => {
                progress.println(&format!(
                    "{}: failed after {:.1} s: {error}; the previous snapshot is kept",
                    c.name,
                    elapsed.as_secs_f64()
                ));
                store.record_unsuccessful(&c.name, c.descriptor.id, SyncOutcome::Failed, &error)?;
                reasons.insert(i, error);
                failed.push(i);
            }
            Outcome::Held(staged) => {
                let text = format!(
                    "held: the listing has {} users, {:.1}% fewer than the {} of the last snapshot, more than \
                     max_snapshot_drop_percent = {}; the previous snapshot is kept",
                    staged.users,
                    staged.drop_percent(),
                    staged.previous.unwrap_or_default(),
                    config.safety.max_snapshot_drop_percent,
                );
                progress
                    .println(&format!("{}: {text}; if the drop is real, run `roster sync {} --force`", c.name, c.name));
                store.record_unsuccessful(&c.name, c.descriptor.id, SyncOutcome::Held, &text)?;
                held.push(i);
            }
        }
    }

    let held_names: Vec<String> = held.iter().map(|&i| selected[i].name.clone()).collect();
    let resolution_held = match engine::after_sync(config, store, force, &held_names, fresh, ui)? {
        Resolution::Held(message) => {
            ui.status(&message);
            true
        }
        Resolution::Written | Resolution::Skipped => false,
    };

    ending(selected, failed, &reasons, held, resolution_held)
}

/// How a sync ends: an error naming every failed connection and why (exit 1), or [`Held`]
/// naming what a safety threshold held (exit 3), or success.
fn ending(
    selected: &[&Connection],
    mut failed: Vec<usize>,
    reasons: &HashMap<usize, String>,
    held: Vec<usize>,
    resolution_held: bool,
) -> Result<()> {
    let names = |mut indices: Vec<usize>| {
        indices.sort_unstable();
        indices.iter().map(|&i| selected[i].name.as_str()).collect::<Vec<_>>().join(", ")
    };
    let mut what_held = Vec::new();
    if !held.is_empty() {
        what_held.push(format!("the snapshot{} of {}", plural(held.len()), names(held)));
    }
    if resolution_held {
        what_held.push("the resolution of people".to_owned());
    }
    let what_held = what_held.join(" and ");
    if !failed.is_empty() {
        let also = if what_held.is_empty() { String::new() } else { format!("; a safety threshold held {what_held}") };
        failed.sort_unstable();
        let mut why = String::new();
        for &i in &failed {
            let _ = write!(why, "\n  {}: {}", selected[i].name, reasons.get(&i).map_or("", String::as_str));
        }
        return Err(anyhow!(
            "{} of {} connection{} failed to sync: {}{also}; their previous snapshots are kept{why}",
            failed.len(),
            selected.len(),
            plural(selected.len()),
            names(failed.clone())
        ));
    }
    if !what_held.is_empty() {
        return Err(anyhow!(Held(format!(
            "a safety threshold held {what_held}; nothing was lost: check the sources, then run \
             `roster sync --force` to accept the change"
        ))));
    }
    Ok(())
}

/// Lists one connection into its writer, then commits (or holds) the snapshot.
async fn sync_one(
    connector: Arc<dyn Connector>,
    writer: SnapshotWriter,
    max_drop_percent: f64,
    force: bool,
    bar: indicatif::ProgressBar,
) -> Outcome {
    let started = Instant::now();
    let failed = |error: String| Outcome::Failed { error, elapsed: started.elapsed() };
    let (mut sink, mut rx) = PageSink::channel(4);
    let mut writer = writer;
    // The listing and the gathering of its pages run side by side; a page waits in the channel
    // only while the writer takes the one before.
    let listing = async move {
        let listed = connector.list_users(&mut sink).await;
        drop(sink);
        listed
    };
    let gathering = async {
        while let Some(page) = rx.recv().await {
            bar.inc(page.len() as u64);
            writer.stage(page);
        }
    };
    let (listed, ()) = tokio::join!(listing, gathering);
    tracing::debug!(listing_ms = started.elapsed().as_millis(), "listing ended");
    if let Err(e) = listed {
        // The writer is dropped here with the pages it gathered: nothing of them was written.
        return failed(format!("{:#}", anyhow::Error::new(e)));
    }
    let committed = tokio::task::spawn_blocking(move || writer.commit(max_drop_percent, force)).await;
    tracing::debug!(committed_ms = started.elapsed().as_millis(), "snapshot committed");
    match committed {
        Ok(Ok((Commit::Replaced { users, records_changed }, snapshot))) => {
            Outcome::Synced { users, records_changed, elapsed: started.elapsed(), snapshot }
        }
        Ok(Ok((Commit::Held(staged), _))) => Outcome::Held(staged),
        Ok(Err(e)) => failed(format!("{e:#}")),
        Err(e) => failed(format!("the storage task failed: {e}")),
    }
}

#[cfg(test)]
pub(crate) mod tests;
