//! The resolved people and their events.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use roster_core::Lifecycle;
use roster_core::lifecycle::{Event, Person, Policy};
use rusqlite::{TransactionBehavior, params};

use super::{Store, busy_context, now};

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
    /// Every resolved person, in no particular order (the resolver's `prior`).
    pub fn people(&self) -> Result<Vec<Person>> {
        let mut stmt = self.conn.prepare("SELECT data FROM people")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let data: String = row.get(0)?;
            out.push(serde_json::from_str(&data).context("a stored person is corrupt")?);
        }
        Ok(out)
    }

    /// Streams people ordered by email (people without one last), then key, optionally of one
    /// lifecycle, one at a time: a million people never sit in memory together. Both queries
    /// walk an index, so `SQLite` does not sort either.
    pub fn for_each_person(&self, lifecycle: Option<Lifecycle>, mut f: impl FnMut(Person) -> Result<()>) -> Result<()> {
        let filter = lifecycle.map(Lifecycle::as_str);
        for sql in [
            "SELECT data FROM people WHERE (?1 IS NULL OR lifecycle = ?1) AND email IS NOT NULL ORDER BY email, key",
            "SELECT data FROM people WHERE (?1 IS NULL OR lifecycle = ?1) AND email IS NULL ORDER BY key",
        ] {
            let mut stmt = self.conn.prepare(sql)?;
            let mut rows = stmt.query([filter])?;
            while let Some(row) = rows.next()? {
                let data: String = row.get(0)?;
                f(serde_json::from_str(&data).context("a stored person is corrupt")?)?;
            }
        }
        Ok(())
    }

    /// Writes a resolution in one transaction: the people that changed (removing those no longer
    /// tracked), the events, and the bookkeeping that says people are up to date with the
    /// snapshots of `connections`. `apply` stores a policy as the applied one (the first
    /// resolution applies the configuration's).
    pub fn write_resolution(
        &mut self,
        prior: &[Person],
        people: &[Person],
        events: &[Event],
        apply: Option<&Policy>,
        connections: &[&str],
    ) -> Result<WriteStats> {
        let path = self.path.clone();
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| busy_context(e, &path))?;
        let at = now();
        let mut stats = WriteStats { events: events.len(), ..WriteStats::default() };
        {
            let old: HashMap<&str, &Person> = prior.iter().map(|p| (p.key.as_str(), p)).collect();
            let mut upsert = tx.prepare(
                "INSERT INTO people (key, lifecycle, email, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET lifecycle = ?2, email = ?3, data = ?4",
            )?;
            for p in people {
                if old.get(p.key.as_str()).is_some_and(|o| *o == p) {
                    continue;
                }
                let email = p.email.as_deref().map(str::to_lowercase);
                upsert.execute(params![p.key, p.lifecycle.as_str(), email, serde_json::to_string(p)?])?;
                stats.people_written += 1;
            }
            let now: HashSet<&str> = people.iter().map(|p| p.key.as_str()).collect();
            let mut delete = tx.prepare("DELETE FROM people WHERE key = ?1")?;
            for p in prior.iter().filter(|p| !now.contains(p.key.as_str())) {
                delete.execute([&p.key])?;
                stats.people_removed += 1;
            }
            let mut insert = tx.prepare(
                "INSERT INTO events (at, kind, person, email, decided_by, before, after)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for e in events {
                insert.execute(params![
                    at,
                    e.kind.as_str(),
                    e.person,
                    e.email,
                    e.decided_by,
                    serde_json::to_string(&e.before)?,
                    serde_json::to_string(&e.after)?
                ])?;
            }
        }
        if let Some(policy) = apply {
            tx.execute(
                "INSERT INTO policy (id, applied_at, data) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET applied_at = ?1, data = ?2",
                params![at, serde_json::to_string(policy)?],
            )?;
        }
        let mut meta =
            tx.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2")?;
        meta.execute(params!["resolved_at", at])?;
        meta.execute(params!["resolved_connections", serde_json::to_string(connections)?])?;
        drop(meta);
        tx.execute("DELETE FROM meta WHERE key = 'stale'", [])?;
        tx.commit().map_err(|e| busy_context(e, &path))?;
        Ok(stats)
    }
}
