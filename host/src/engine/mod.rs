//! The lifecycle engine in the host: stored snapshots and a policy in, people and events out,
//! guarded by the safety thresholds.
//!
//! Policy changes are explicit. `roster sync` resolves with the *applied* policy (the very first
//! resolution applies the configuration's); editing `[lifecycle]` changes nothing until
//! `roster apply` ([`plan`]). `roster preview` shows what applying would change, and can write it
//! down as a plan that `roster apply plan.json` applies exactly, or refuses when the data or the
//! policy moved since.

pub mod plan;
mod render;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use roster_core::lifecycle::{Event, EventKind, Person, Policy, Snapshot, diff, resolve};
use roster_core::{Lifecycle, SourceUser};

use crate::config::{Config, plural};
use crate::output::Ui;
use crate::store::{Committed, Run, RunCommand, SnapshotVersion, Store, Superseded};

pub use render::{changes_text, differences, lifecycle_name};

/// What [`after_sync`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// People and events were written.
    Written,
    /// Nothing to do: no snapshot yet, or nothing changed since the last resolution.
    Skipped,
    /// More current people would have moved to past than `max_left_percent` allows; nothing
    /// was written. The text says what was held and what it would have done.
    Held(String),
}

/// What is stored: the last complete snapshot of every configured connection that has one, the
/// people as last resolved, and the policy in force.
#[derive(Debug)]
pub struct State {
    /// (connection, users), in configuration order.
    pub snapshots: Vec<(String, Arc<Vec<SourceUser>>)>,
    /// The people as last resolved.
    pub prior: Vec<Person>,
    /// The applied policy and when it was applied.
    pub applied: Option<(Policy, String)>,
    /// When people were last resolved.
    pub resolved_at: Option<String>,
    /// The version of every stored snapshot.
    pub versions: Vec<SnapshotVersion>,
    /// Whether a snapshot changed since people were last resolved.
    pub stale: bool,
    /// The run the stored people came from.
    pub last_run: Option<i64>,
}

impl State {
    /// Loads everything a resolution needs, as of one moment.
    pub fn load(config: &Config, store: &Store) -> Result<Self> {
        Self::load_with(config, store, &[])
    }

    /// [`State::load`], taking the snapshots a sync has just committed from memory rather than
    /// reading them back, as long as the store still holds the versions committed (another
    /// roster process may have committed a newer one since; that one is read).
    pub fn load_with(config: &Config, store: &Store, fresh: &[Committed]) -> Result<Self> {
        store.consistent(|store| Self::read(config, store, fresh))
    }

    fn read(config: &Config, store: &Store, fresh: &[Committed]) -> Result<Self> {
        let versions = store.snapshot_versions()?;
        let mut snapshots = Vec::new();
        for c in &config.connections {
            let current = fresh.iter().find(|f| {
                f.connection == c.name && versions.iter().any(|v| v.connection == c.name && v.version == f.version)
            });
            if let Some(f) = current {
                snapshots.push((c.name.clone(), Arc::clone(&f.users)));
            } else if let Some(users) = store.snapshot(&c.name)? {
                snapshots.push((c.name.clone(), Arc::new(users)));
            }
        }
        Ok(Self {
            snapshots,
            prior: store.people()?,
            applied: store.applied_policy()?,
            resolved_at: store.resolved_at()?,
            versions,
            stale: store.is_stale()?,
            last_run: store.last_run()?,
        })
    }

    /// The connections with a snapshot, in configuration order.
    pub fn connections(&self) -> Vec<&str> {
        self.snapshots.iter().map(|(c, _)| c.as_str()).collect()
    }

    /// The people `policy` makes of the stored snapshots, continuing from the stored people.
    pub fn resolve(&self, policy: &Policy) -> Vec<Person> {
        self.resolve_with(policy, &[])
    }

    /// [`State::resolve`] with some connections' snapshots replaced (held listings).
    pub fn resolve_with(&self, policy: &Policy, replaced: &[(String, Vec<SourceUser>)]) -> Vec<Person> {
        let views: Vec<Snapshot<'_>> = self
            .snapshots
            .iter()
            .map(|(c, users)| {
                let users = replaced.iter().find(|(r, _)| r == c).map_or(users.as_slice(), |(_, u)| u.as_slice());
                Snapshot { connection: c, users }
            })
            .collect();
        resolve(&views, policy, &self.prior)
    }

    /// The events going from the stored people to `people` fires; none for the very first
    /// resolution, a baseline (syncing a company for the first time is not everyone joining).
    pub fn events(&self, people: &[Person]) -> Vec<Event> {
        if self.resolved_at.is_none() { Vec::new() } else { diff(&self.prior, people) }
    }
}

/// How many current people a change moves to past, against `max_left_percent`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LeftCheck {
    /// `left` events.
    pub left: usize,
    /// Current people before.
    pub current_before: usize,
    /// `left` in percent of `current_before`.
    pub left_percent: f64,
    /// The threshold.
    pub max_left_percent: f64,
}

impl LeftCheck {
    /// Counts `events` against the people before.
    pub fn new(prior: &[Person], events: &[Event], max_left_percent: f64) -> Self {
        let current_before = prior.iter().filter(|p| p.lifecycle == Lifecycle::Current).count();
        let left = events.iter().filter(|e| e.kind == EventKind::Left).count();
        #[expect(clippy::cast_precision_loss, reason = "a percentage of people counts")]
        let left_percent = if current_before == 0 { 0.0 } else { left as f64 * 100.0 / current_before as f64 };
        Self { left, current_before, left_percent, max_left_percent }
    }

    /// Whether the threshold holds the change.
    pub fn holds(&self) -> bool {
        self.left_percent > self.max_left_percent
    }

    /// `3 of 270 current people (1.1%) move to past`.
    pub fn describe(&self) -> String {
        format!(
            "{} of {} current {} ({:.1}%) would leave (stop being current), more than max_left_percent = {}",
            self.left,
            self.current_before,
            if self.current_before == 1 { "person" } else { "people" },
            self.left_percent,
            self.max_left_percent
        )
    }
}

/// Connections a policy names that the configuration no longer has. Resolving with such a policy
/// would read their people's absence as everyone leaving, so it is refused.
pub fn unconfigured(policy: &Policy, config: &Config) -> Vec<String> {
    let mut names: Vec<String> = policy
        .sources
        .iter()
        .chain(policy.attributes.values().flatten())
        .filter(|n| !config.connections.iter().any(|c| &c.name == *n))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Resolves people from the stored snapshots with the applied policy, when something changed
/// since the last time. `force` lets a change through `max_left_percent`. `held` are the
/// listings this sync's `max_snapshot_drop_percent` held: when anything is held, what they would
/// have changed is shown. `fresh` are the snapshots this sync committed, used as they are in
/// memory. Prints a summary to stderr.
pub fn after_sync(
    config: &Config,
    store: &mut Store,
    force: bool,
    held: &[String],
    mut fresh: Vec<Committed>,
    ui: &Ui,
) -> Result<Resolution> {
    let configured = config.policy();
    let (policy, applies) = match store.applied_policy()? {
        None => (configured, true),
        Some((applied, applied_at)) => {
            if applied != configured {
                ui.status(&format!(
                    "note: [lifecycle] in {} differs from the policy applied at {applied_at} ({}); it changes \
                     nothing until applied: `roster preview` shows what it would change, `roster apply` applies it",
                    config.path.display(),
                    differences(&applied, &configured)
                ));
            }
            (applied, false)
        }
    };
    let missing = unconfigured(&policy, config);
    if !missing.is_empty() {
        return Err(anyhow!(
            "people were not resolved: the applied policy names {}, which {} not configured in {} any more; \
             `roster preview` shows what the configuration's [lifecycle] would change, `roster apply` applies it",
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
            if missing.len() == 1 { "is" } else { "are" },
            config.path.display()
        ));
    }

    let mut with_snapshots = Vec::new();
    for c in &config.connections {
        if store.has_snapshot(&c.name)? {
            with_snapshots.push(c.name.as_str());
        }
    }
    if with_snapshots.is_empty() {
        ui.status("people: not resolved: no connection has a complete snapshot yet");
        return Ok(Resolution::Skipped);
    }
    if !applies && !store.needs_resolution(&with_snapshots)? {
        if !held.is_empty() {
            show_held_listings(config, store, &policy, held, *ui)?;
        }
        ui.status("people: unchanged, no snapshot changed since the last sync");
        return Ok(Resolution::Skipped);
    }

    if !held.is_empty() {
        show_held_listings(config, store, &policy, held, *ui)?;
    }
    // Read, resolve, write; when another roster command resolved people in between, again from
    // what it wrote (its events must not be recorded twice).
    let mut attempt = 0;
    let (state, people, events, written) = loop {
        let started = std::time::Instant::now();
        let mut state = State::load_with(config, store, &fresh)?;
        let loaded = started.elapsed();
        let people = state.resolve(&policy);
        let resolved = started.elapsed();
        let events = state.events(&people);
        tracing::debug!(
            load_ms = loaded.as_millis(),
            resolve_ms = resolved.saturating_sub(loaded).as_millis(),
            events_ms = started.elapsed().saturating_sub(resolved).as_millis(),
            "snapshots and people read, people resolved, events found"
        );
        let check = LeftCheck::new(&state.prior, &events, config.safety.max_left_percent);
        if check.holds() && !force {
            return Ok(Resolution::Held(format!(
                "held: {}; people and events were not changed. What the sync would have done:\n{}",
                check.describe(),
                changes_text(&state.prior, &people, &events, 5)
            )));
        }
        let run = Run {
            command: RunCommand::Sync,
            forced: force && check.holds(),
            policy: &policy,
            applies,
            based_on: state.last_run,
        };
        // Writing people needs no snapshot: their memory goes back first (at a million people a
        // snapshot is most of a gigabyte). Should the write be superseded, they are read again.
        // Freed here, not on a thread of their own beside the write: that was tried and gained
        // nothing (docs/performance.md), the freeing competing with the encoding for the cores.
        state.snapshots.clear();
        fresh.clear();
        let writing = std::time::Instant::now();
        match store.write_resolution(&state.prior, &people, &events, run, &with_snapshots) {
            Ok(written) => {
                tracing::debug!(write_ms = writing.elapsed().as_millis(), "resolution written");
                break (state, people, events, written);
            }
            Err(e) if e.is::<Superseded>() && attempt < 5 => {
                attempt += 1;
                tracing::info!("another roster command resolved people meanwhile; resolving again");
            }
            Err(e) => return Err(e),
        }
    };
    ui.status(&summary(&people, &events, state.resolved_at.is_none()));
    tracing::info!(
        "{} people written, {} removed, {} events",
        written.people_written,
        written.people_removed,
        written.events
    );
    Ok(Resolution::Written)
}

/// Shows what the held listings would change if they were accepted, so the admin can judge
/// whether the drop is real.
fn show_held_listings(config: &Config, store: &Store, policy: &Policy, held: &[String], ui: Ui) -> Result<()> {
    let mut replaced = Vec::new();
    for name in held {
        if let Some(users) = store.pending_snapshot(name)? {
            replaced.push((name.clone(), users));
        }
    }
    if replaced.is_empty() {
        return Ok(());
    }
    let state = State::load(config, store)?;
    let people = state.resolve_with(policy, &replaced);
    let events = diff(&state.prior, &people);
    ui.status(&format!(
        "with the held listing{} of {}, people would change like this:\n{}",
        plural(replaced.len()),
        held.join(", "),
        changes_text(&state.prior, &people, &events, 5)
    ));
    Ok(())
}

/// `people: 270 current, 30 past, ...; events: ...`.
pub fn summary(people: &[Person], events: &[Event], baseline: bool) -> String {
    let mut summary = String::from("people:");
    for l in Lifecycle::ALL {
        let _ = write!(summary, " {} {l},", people.iter().filter(|p| p.lifecycle == l).count());
    }
    summary.pop();
    if baseline {
        summary.push_str("; first resolution, a baseline: no events");
    } else {
        let count = |kind| events.iter().filter(|e| e.kind == kind).count();
        let _ = write!(
            summary,
            "; events: {} joined, {} left, {} rejoined, {} moved",
            count(EventKind::Joined),
            count(EventKind::Left),
            count(EventKind::Rejoined),
            count(EventKind::Moved)
        );
    }
    let review = people.iter().filter(|p| p.review).count();
    if review > 0 {
        let _ = write!(summary, "; {review} flagged for review");
    }
    summary
}
