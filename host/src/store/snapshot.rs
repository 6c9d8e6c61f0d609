//! Writing one connection's snapshot: staged while the listing runs, merged only when complete.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use roster_core::SourceUser;
use rusqlite::{Connection, TransactionBehavior, params};

use super::{busy_context, content_hash, now};

/// Stages the pages of one connection's listing, then merges them into its snapshot or, when
/// dropped unmerged, discards them (the TEMP table dies with its connection).
#[derive(Debug)]
pub struct SnapshotWriter {
    conn: Connection,
    path: PathBuf,
    connection: String,
    connector: String,
    commit_lock: Arc<Mutex<()>>,
    received: u64,
}

/// The size of a complete listing against the snapshot it would replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staged {
    /// Users in the new listing.
    pub users: u64,
    /// Users in the previous complete snapshot (`None`: the first sync).
    pub previous: Option<u64>,
}

impl Staged {
    /// How much smaller the new snapshot is, in percent of the previous one (0 when it grew).
    #[expect(clippy::cast_precision_loss, reason = "a percentage of people counts")]
    pub fn drop_percent(&self) -> f64 {
        match self.previous {
            Some(prev) if prev > 0 && self.users < prev => (prev - self.users) as f64 * 100.0 / prev as f64,
            _ => 0.0,
        }
    }
}

/// What [`SnapshotWriter::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The snapshot was replaced.
    Replaced {
        /// Users in the new snapshot.
        users: u64,
        /// Rows inserted, updated or deleted; 0 when nothing changed.
        rows_changed: u64,
    },
    /// The snapshot shrank more than allowed; the previous one is kept.
    Held(Staged),
}

impl SnapshotWriter {
    pub(super) fn new(
        conn: Connection,
        path: PathBuf,
        connection: &str,
        connector: &str,
        commit_lock: Arc<Mutex<()>>,
    ) -> Result<Self> {
        // One transaction for the whole listing. It writes only the TEMP schema, so it takes no
        // lock on the database and other listings stage at the same time. Rows are appended in
        // the order they arrive and sorted by id once, at the end (`index_staging`): keeping a
        // table of whole rows sorted while records arrive in the vendor's order costs a random
        // B-tree insert, and page splits, per record.
        conn.execute_batch(
            "DROP TABLE IF EXISTS temp.staging;
             CREATE TEMP TABLE staging (source_id TEXT NOT NULL, hash INTEGER NOT NULL, data TEXT NOT NULL);
             BEGIN;",
        )
        .map_err(|e| busy_context(e, &path))?;
        Ok(Self {
            conn,
            path,
            connection: connection.to_owned(),
            connector: connector.to_owned(),
            commit_lock,
            received: 0,
        })
    }

    /// Stages one page. A record listed twice keeps its last copy.
    pub fn stage(&mut self, page: &[SourceUser]) -> Result<()> {
        let mut insert =
            self.conn.prepare_cached("INSERT INTO temp.staging (source_id, hash, data) VALUES (?1, ?2, ?3)")?;
        for user in page {
            let data = serde_json::to_string(user)?;
            insert.execute(params![user.source_id, content_hash(&data), data])?;
        }
        self.received += page.len() as u64;
        Ok(())
    }

    /// Replaces the connection's snapshot with the staged listing, in one write transaction:
    /// rows no longer listed are deleted, new and changed rows written, unchanged rows left
    /// alone. Unless `force`, a listing that shrank more than `max_drop_percent` against the
    /// previous snapshot is held instead, and nothing changes.
    pub fn commit(self, max_drop_percent: f64, force: bool) -> Result<Commit> {
        let Self { mut conn, path, connection, connector, commit_lock, received } = self;
        conn.execute_batch("COMMIT").context("cannot finish staging the listing")?;
        // Still the TEMP schema only: no lock on the database yet.
        let users = index_staging(&conn, received).context("cannot sort the staged listing")?;
        if users < received {
            tracing::warn!(
                "{connection}: the listing sent {} records twice; the last copy of each is kept",
                received - users
            );
        }
        // In-process merges take turns; other processes are waited for by the busy timeout.
        let _turn = commit_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| busy_context(e, &path))?;
        let previous: Option<i64> = tx.query_row(
            "SELECT CASE WHEN (SELECT last_success_at FROM connections WHERE name = ?1) IS NULL THEN NULL
                    ELSE (SELECT count(*) FROM source_users WHERE connection = ?1) END",
            [&connection],
            |r| r.get(0),
        )?;
        let staged = Staged { users, previous: previous.map(i64::unsigned_abs) };
        if !force && staged.drop_percent() > max_drop_percent {
            // Kept as pending beside the snapshot in force (which stays as it is).
            tx.execute("DELETE FROM pending_users WHERE connection = ?1", [&connection])?;
            tx.execute(
                "INSERT INTO pending_users (connection, source_id, data)
                 SELECT ?1, source_id, data FROM temp.staging",
                [&connection],
            )?;
            tx.execute(
                "UPDATE connections SET pending_at = ?2, pending_users = ?3 WHERE name = ?1",
                params![connection, now(), i64::try_from(staged.users).unwrap_or(i64::MAX)],
            )?;
            tx.commit().map_err(|e| busy_context(e, &path)).context("cannot keep the held listing")?;
            return Ok(Commit::Held(staged));
        }

        let at = now();
        let users_row = i64::try_from(staged.users).unwrap_or(i64::MAX);
        // The connection's row first: snapshot rows reference it.
        tx.execute(
            "INSERT INTO connections (name, connector, last_sync_at, last_outcome, last_error, last_success_at, users)
             VALUES (?1, ?2, ?3, 'ok', NULL, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET connector = ?2, last_sync_at = ?3, last_outcome = 'ok',
                 last_error = NULL, last_success_at = ?3, users = ?4",
            params![connection, connector, at, users_row],
        )?;
        let deleted = tx.execute(
            "DELETE FROM source_users
             WHERE connection = ?1 AND source_id NOT IN (SELECT source_id FROM temp.staging)",
            [&connection],
        )?;
        let written = tx.execute(
            "INSERT INTO source_users (connection, source_id, hash, data)
             SELECT ?1, s.source_id, s.hash, s.data FROM temp.staging s
             WHERE NOT EXISTS (
                 SELECT 1 FROM source_users u
                 WHERE u.connection = ?1 AND u.source_id = s.source_id AND u.hash = s.hash AND u.data = s.data
             )
             ON CONFLICT (connection, source_id) DO UPDATE SET hash = excluded.hash, data = excluded.data",
            [&connection],
        )?;
        let rows_changed = (deleted + written) as u64;
        tx.execute("DELETE FROM pending_users WHERE connection = ?1", [&connection])?;
        tx.execute("UPDATE connections SET pending_at = NULL, pending_users = NULL WHERE name = ?1", [&connection])?;
        if rows_changed > 0 || staged.previous.is_none() {
            // A new version: plans made on the previous one no longer apply.
            tx.execute(
                "UPDATE connections SET snapshot_version = snapshot_version + 1 WHERE name = ?1",
                [&connection],
            )?;
            // People must be resolved again; cleared when they are.
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('stale', ?1) ON CONFLICT (key) DO UPDATE SET value = ?1",
                [&at],
            )?;
        }
        tx.commit().map_err(|e| busy_context(e, &path)).context("cannot commit the snapshot")?;
        Ok(Commit::Replaced { users: staged.users, rows_changed })
    }
}

/// Indexes the staged rows by source id, keeps only the last copy of a record listed twice, and
/// returns how many records the listing holds.
fn index_staging(conn: &Connection, received: u64) -> rusqlite::Result<u64> {
    conn.execute_batch("CREATE INDEX temp.staging_by_id ON staging (source_id)")?;
    let users: i64 = conn.query_row("SELECT count(DISTINCT source_id) FROM temp.staging", [], |r| r.get(0))?;
    let users = users.unsigned_abs();
    if users < received {
        // Rows were appended in listing order, so the highest rowid is the last copy.
        conn.execute(
            "DELETE FROM temp.staging WHERE rowid NOT IN (SELECT max(rowid) FROM temp.staging GROUP BY source_id)",
            [],
        )?;
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_hash_is_stable() {
        // FNV-1a's published test vectors: stored hashes must mean the same in every build.
        assert_eq!(content_hash(""), i64::from_ne_bytes(0xcbf2_9ce4_8422_2325_u64.to_ne_bytes()));
        assert_eq!(content_hash("a"), i64::from_ne_bytes(0xaf63_dc4c_8601_ec8c_u64.to_ne_bytes()));
    }

    #[test]
    fn drop_percent_only_counts_shrinking() {
        let staged = |users, previous| Staged { users, previous };
        assert!((staged(75, Some(100)).drop_percent() - 25.0).abs() < f64::EPSILON);
        assert!(staged(120, Some(100)).drop_percent().abs() < f64::EPSILON);
        assert!(staged(0, None).drop_percent().abs() < f64::EPSILON, "a first sync has nothing to shrink from");
        assert!(staged(0, Some(0)).drop_percent().abs() < f64::EPSILON);
    }
}
