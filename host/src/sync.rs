//! `roster sync`: take snapshots, then resolve people with the policy and record events.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use roster_core::lifecycle::{EventKind, Snapshot, diff, resolve};
use roster_core::{Connector, Lifecycle, PageSink, SourceUser};

use crate::config::{Config, Connection};
use crate::error::{Held, UsageError};
use crate::store::{SnapshotWriter, Staged, Store};

/// How one connection's sync ended.
#[derive(Debug)]
pub enum Outcome {
    /// A complete snapshot replaced the previous one.
    Synced {
        /// Users listed.
        users: u64,
        /// Rows written or deleted (0 when nothing changed).
        rows_changed: u64,
        /// How long it took.
        elapsed: Duration,
    },
    /// The listing or its storage failed; the previous snapshot is untouched.
    Failed(String),
    /// The snapshot shrank beyond `max_snapshot_drop_percent`; nothing was replaced.
    Held(Staged),
}

/// Picks the connections named on the command line (all, in file order, when none are).
pub fn select<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c Connection>> {
    if names.is_empty() {
        return Ok(config.connections.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            config.connections.iter().find(|c| &c.name == n).ok_or_else(|| {
                let known: Vec<&str> = config.connections.iter().map(|c| c.name.as_str()).collect();
                anyhow!(UsageError(format!("no connection named `{n}`; configured connections: {}", known.join(", "))))
            })
        })
        .collect()
}

/// Syncs `selected` concurrently, each independently, then resolves. Prints progress to stderr.
pub async fn run(config: &Config, store: &mut Store, selected: &[&Connection], force: bool) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in selected.iter().enumerate() {
        let writer = store.snapshot_writer(&c.name)?;
        tasks.spawn(sync_one(
            i,
            c.connector.clone(),
            writer,
            c.descriptor.id,
            config.safety.max_snapshot_drop_percent,
            force,
        ));
    }
    let mut outcomes: Vec<Option<Outcome>> = selected.iter().map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, outcome) = done.context("a sync task panicked")?;
        outcomes[i] = Some(outcome);
    }

    let (mut failed, mut held, mut changed) = (Vec::new(), Vec::new(), false);
    for (c, outcome) in selected.iter().zip(outcomes) {
        let outcome = outcome.ok_or_else(|| anyhow!("the sync of `{}` never finished", c.name))?;
        match outcome {
            Outcome::Synced { users, rows_changed, elapsed } => {
                eprintln!("{}: {users} users in {:.1} s ({rows_changed} rows changed)", c.name, elapsed.as_secs_f64());
                changed |= rows_changed > 0;
            }
            Outcome::Failed(error) => {
                eprintln!("{}: failed: {error}", c.name);
                store.record_failure(&c.name, c.descriptor.id, &error)?;
                failed.push(c.name.clone());
            }
            Outcome::Held(staged) => {
                let text = format!(
                    "{}: held: the snapshot shrank {:.1}% (from {} to {} users), more than max_snapshot_drop_percent = {}; \
                     the previous snapshot is kept; if the drop is real, run `roster sync {} --force`",
                    c.name,
                    staged.drop_percent(),
                    staged.previous.unwrap_or_default(),
                    staged.users,
                    config.safety.max_snapshot_drop_percent,
                    c.name
                );
                eprintln!("{text}");
                store.record_failure(&c.name, c.descriptor.id, &text)?;
                held.push(c.name.clone());
            }
        }
    }

    let policy_changed = store.applied_policy()?.as_ref() != Some(&config.policy());
    if changed || policy_changed || store.resolved_at()?.is_none() {
        resolve_people(config, store, force)?;
    } else {
        eprintln!("nothing changed; people are as they were");
    }

    if !failed.is_empty() {
        return Err(anyhow!(
            "{} of {} connections failed to sync: {}",
            failed.len(),
            selected.len(),
            failed.join(", ")
        ));
    }
    if !held.is_empty() {
        return Err(anyhow!(Held(format!("a safety threshold held the snapshot of {}", held.join(", ")))));
    }
    Ok(())
}

async fn sync_one(
    index: usize,
    connector: Arc<dyn Connector>,
    writer: SnapshotWriter,
    connector_id: &'static str,
    max_drop_percent: f64,
    force: bool,
) -> (usize, Outcome) {
    let started = Instant::now();
    let (mut sink, mut rx) = PageSink::channel(4);
    let staging = tokio::task::spawn_blocking(move || -> Result<SnapshotWriter> {
        let mut writer = writer;
        while let Some(page) = rx.blocking_recv() {
            writer.stage(&page).context("cannot stage the listing in the database")?;
        }
        Ok(writer)
    });
    let listed = connector.list_users(&mut sink).await;
    drop(sink);
    let writer = match staging.await {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return (index, Outcome::Failed(format!("{e:#}"))),
        Err(e) => return (index, Outcome::Failed(format!("the storage task failed: {e}"))),
    };
    let summary = match listed {
        Ok(s) => s,
        Err(e) => return (index, Outcome::Failed(format!("{:#}", anyhow::Error::new(e)))),
    };
    let committed = tokio::task::spawn_blocking(move || -> Result<Outcome> {
        let staged = writer.staged()?;
        if staged.drop_percent() > max_drop_percent && !force {
            return Ok(Outcome::Held(staged));
        }
        let rows_changed = writer.commit(connector_id)?;
        Ok(Outcome::Synced { users: summary.users, rows_changed, elapsed: started.elapsed() })
    })
    .await;
    let outcome = match committed {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => Outcome::Failed(format!("{e:#}")),
        Err(e) => Outcome::Failed(format!("the storage task failed: {e}")),
    };
    (index, outcome)
}

/// The last complete snapshot of every configured connection that has one, in file order.
pub fn load_snapshots<'c>(config: &'c Config, store: &Store) -> Result<Vec<(&'c str, Vec<SourceUser>)>> {
    let mut snapshots = Vec::new();
    for c in &config.connections {
        if let Some(users) = store.snapshot(&c.name)? {
            snapshots.push((c.name.as_str(), users));
        }
    }
    Ok(snapshots)
}

/// Resolves every person from the stored snapshots with the configuration's policy, checks
/// `max_left_percent`, and writes people and events. The first resolution of a database is a
/// baseline: it fires no events.
pub fn resolve_people(config: &Config, store: &mut Store, force: bool) -> Result<()> {
    let policy = config.policy();
    let snapshots = load_snapshots(config, store)?;
    let views: Vec<Snapshot<'_>> = snapshots.iter().map(|(c, u)| Snapshot { connection: c, users: u }).collect();
    let prior = store.people()?;
    let baseline = store.resolved_at()?.is_none();
    let people = resolve(&views, &policy, &prior);
    let events = if baseline { Vec::new() } else { diff(&prior, &people) };

    let count = |kind| events.iter().filter(|e| e.kind == kind).count();
    let was_current = prior.iter().filter(|p| p.lifecycle == Lifecycle::Current).count();
    #[expect(clippy::cast_precision_loss, reason = "a percentage of people counts")]
    let left_percent = if was_current == 0 { 0.0 } else { count(EventKind::Left) as f64 * 100.0 / was_current as f64 };
    if left_percent > config.safety.max_left_percent && !force {
        return Err(anyhow!(Held(format!(
            "held: {} of {was_current} current people ({left_percent:.1}%) would move to past, more than \
             max_left_percent = {}; nothing was changed; check the sources, then run `roster sync --force` to accept it",
            count(EventKind::Left),
            config.safety.max_left_percent
        ))));
    }
    let stats = store.write_resolution(&prior, &people, &events, &policy)?;

    let mut summary = String::from("people:");
    for l in Lifecycle::ALL {
        let _ = write!(summary, " {} {l},", people.iter().filter(|p| p.lifecycle == l).count());
    }
    summary.pop();
    if baseline {
        summary.push_str("; first resolution: a baseline, no events");
    } else {
        let _ = write!(
            summary,
            "; events: {} joined, {} left, {} rejoined, {} moved",
            count(EventKind::Joined),
            count(EventKind::Left),
            count(EventKind::Rejoined),
            count(EventKind::Moved)
        );
    }
    let _ = write!(summary, " ({} people written)", stats.people_written + stats.people_removed);
    eprintln!("{summary}");
    Ok(())
}
