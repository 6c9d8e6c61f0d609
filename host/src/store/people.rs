//! The resolved people and their events.

use anyhow::{Context, Result};
use roster_core::lifecycle::{Event, EventKind, Person, PersonState, Policy};
use rusqlite::{TransactionBehavior, params};
use serde::Serialize;

use super::{Store, busy_context, now, people_chunks};

/// The command that resolved people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunCommand {
    /// `roster sync`, with the applied policy.
    Sync,
    /// `roster apply`, with the configuration's policy.
    Apply,
}

impl RunCommand {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Apply => "apply",
        }
    }
}

/// One resolution, as `runs` records it.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// What resolved.
    pub command: RunCommand,
    /// Whether `--force` let it through a safety threshold.
    pub forced: bool,
    /// The policy it ran.
    pub policy: &'a Policy,
    /// Whether it makes `policy` the applied one (`apply`, and the very first resolution).
    pub applies: bool,
    /// The run the prior people came from ([`Store::last_run`] when they were read). If another
    /// command resolved people since, the write is refused with [`Superseded`]: its events were
    /// computed against people that are no longer the stored ones.
    pub based_on: Option<i64>,
}

/// Another roster command resolved people between this one's reading and writing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("another roster command resolved people meanwhile")]
pub struct Superseded;

/// One recorded event, as `roster events` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// When it was recorded (RFC 3339, UTC).
    pub at: String,
    /// `joined`, `left`, `rejoined` or `moved`.
    pub kind: EventKind,
    /// The person's email when it was recorded.
    pub email: Option<String>,
    /// The person's stable key.
    pub person: String,
    /// The connection whose say caused it.
    pub decided_by: Option<String>,
    /// Lifecycle, role and department before.
    pub before: PersonState,
    /// And after.
    pub after: PersonState,
    /// The command that recorded it (`sync` or `apply`).
    pub command: Option<String>,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events recorded at or after this time (RFC 3339 or a date, compared as text).
    pub since: Option<String>,
    /// Only these kinds (all when empty).
    pub kinds: Vec<EventKind>,
    /// Only this person's.
    pub person: Option<String>,
}

/// What a resolution wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// People inserted or changed.
    pub people_written: usize,
    /// People no longer tracked.
    pub people_removed: usize,
    /// Events recorded.
    pub events: usize,
}

impl Store {
    /// Writes a resolution in one transaction: the people that changed (removing those no longer
    /// tracked), the events, the run that recorded them, and the bookkeeping that says people are
    /// up to date with the snapshots of `connections`. A run that `applies` stores its policy as
    /// the applied one. `prior` are the people as [`Store::people`] read them for the run
    /// `run.based_on`: the people are compared with them, and chunks of people equal to them
    /// left as they are without being encoded.
    pub fn write_resolution(
        &mut self,
        prior: &[Person],
        people: &[Person],
        events: &[Event],
        run: Run<'_>,
        connections: &[&str],
    ) -> Result<WriteStats> {
        let path = self.path.clone();
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| busy_context(e, &path))?;
        let last: Option<i64> = tx.query_row("SELECT max(id) FROM runs", [], |r| r.get(0))?;
        if last != run.based_on {
            return Err(Superseded.into());
        }
        let at = now();
        let mut stats = WriteStats { events: events.len(), ..WriteStats::default() };
        {
            let started = std::time::Instant::now();
            let written = people_chunks::write(&tx, prior, people)?;
            tracing::debug!(chunks_ms = started.elapsed().as_millis(), kept = written.kept, "people chunks written");
            stats.people_written = written.changed;
            stats.people_removed = written.removed;
            tx.execute(
                "INSERT INTO runs (at, command, forced, policy, people, events) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    at,
                    run.command.as_str(),
                    run.forced,
                    serde_json::to_string(run.policy)?,
                    i64::try_from(people.len()).unwrap_or(i64::MAX),
                    i64::try_from(events.len()).unwrap_or(i64::MAX)
                ],
            )?;
            let run_id = tx.last_insert_rowid();
            let mut insert = tx.prepare(
                "INSERT INTO events (at, kind, person, email, decided_by, before, after, run)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for e in events {
                insert.execute(params![
                    at,
                    e.kind.as_str(),
                    e.person.as_str(),
                    e.email.as_deref(),
                    e.decided_by,
                    serde_json::to_string(&e.before)?,
                    serde_json::to_string(&e.after)?,
                    run_id
                ])?;
            }
        }
        if run.applies {
            tx.execute(
                "INSERT INTO policy (id, applied_at, data) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET applied_at = ?1, data = ?2",
                params![at, serde_json::to_string(run.policy)?],
            )?;
        }
        let mut meta =
            tx.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2")?;
        meta.execute(params!["resolved_at", at])?;
        meta.execute(params!["resolved_connections", serde_json::to_string(connections)?])?;
        drop(meta);
        tx.execute("DELETE FROM meta WHERE key = 'stale'", [])?;
        let committing = std::time::Instant::now();
        tx.commit().map_err(|e| busy_context(e, &path))?;
        tracing::debug!(commit_ms = committing.elapsed().as_millis(), "people committed");
        Ok(stats)
    }
}

impl Store {
    /// The last resolution's run id (`None`: people were never resolved).
    pub fn last_run(&self) -> Result<Option<i64>> {
        Ok(self.conn.query_row("SELECT max(id) FROM runs", [], |r| r.get(0))?)
    }

    /// Streams recorded events, oldest first.
    pub fn for_each_event(&self, filter: &EventFilter, mut f: impl FnMut(StoredEvent) -> Result<()>) -> Result<()> {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        let mut stmt = self.conn.prepare(
            "SELECT e.at, e.kind, e.email, e.person, e.decided_by, e.before, e.after, r.command
             FROM events e LEFT JOIN runs r ON r.id = e.run
             WHERE (?1 IS NULL OR e.at >= ?1) AND (?2 IS NULL OR e.person = ?2)
               AND (?3 IS NULL OR e.kind IN (SELECT value FROM json_each(?3)))
             ORDER BY e.at, e.id",
        )?;
        let kinds = (!kinds.is_empty()).then(|| serde_json::to_string(&kinds)).transpose()?;
        let mut rows = stmt.query(params![filter.since, filter.person, kinds])?;
        while let Some(r) = rows.next()? {
            let kind: String = r.get(1)?;
            let before: String = r.get(5)?;
            let after: String = r.get(6)?;
            f(StoredEvent {
                at: r.get(0)?,
                kind: serde_json::from_value(serde_json::Value::String(kind.clone()))
                    .with_context(|| format!("a stored event has the unknown kind `{kind}`"))?,
                email: r.get(2)?,
                person: r.get(3)?,
                decided_by: r.get(4)?,
                before: serde_json::from_str(&before).context("a stored event is corrupt")?,
                after: serde_json::from_str(&after).context("a stored event is corrupt")?,
                command: r.get(7)?,
            })?;
        }
        Ok(())
    }
}
