//! Writing one connection's snapshot: staged while the listing runs, merged only when complete.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use anyhow::{Context, Result};
use roster_core::SourceUser;
use rusqlite::{Connection, params};

use super::{busy_context, now};

/// Stages pages of one connection's listing, then commits or discards them.
#[derive(Debug)]
pub struct SnapshotWriter {
    conn: Connection,
    path: PathBuf,
    connection: String,
    staged: u64,
}

/// What a complete listing would change, before it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staged {
    /// Users in the new snapshot.
    pub users: u64,
    /// Users in the previous complete snapshot (`None`: the first sync).
    pub previous: Option<u64>,
}

impl Staged {
    /// How much smaller the new snapshot is, in percent of the previous one.
    #[expect(clippy::cast_precision_loss, reason = "a percentage of people counts")]
    pub fn drop_percent(&self) -> f64 {
        match self.previous {
            Some(prev) if prev > 0 && self.users < prev => (prev - self.users) as f64 * 100.0 / prev as f64,
            _ => 0.0,
        }
    }
}

fn hash(data: &str) -> i64 {
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    i64::from_ne_bytes(h.finish().to_ne_bytes())
}

impl SnapshotWriter {
    pub(super) fn new(conn: Connection, path: PathBuf, connection: &str) -> Result<Self> {
        conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS staging (source_id TEXT PRIMARY KEY, hash INTEGER NOT NULL, data TEXT NOT NULL) WITHOUT ROWID;
             DELETE FROM temp.staging;",
        )?;
        Ok(Self { conn, path, connection: connection.to_owned(), staged: 0 })
    }

    /// Stages one page (a record listed twice keeps its last copy).
    pub fn stage(&mut self, page: &[SourceUser]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert =
                tx.prepare_cached("INSERT OR REPLACE INTO temp.staging (source_id, hash, data) VALUES (?1, ?2, ?3)")?;
            for user in page {
                let data = serde_json::to_string(user)?;
                insert.execute(params![user.source_id, hash(&data), data])?;
            }
        }
        tx.commit()?;
        self.staged += page.len() as u64;
        Ok(())
    }

    /// Counts what the staged listing would replace.
    pub fn staged(&self) -> Result<Staged> {
        let users: i64 = self.conn.query_row("SELECT count(*) FROM temp.staging", [], |r| r.get(0))?;
        let previous: Option<i64> = self.conn.query_row(
            "SELECT CASE WHEN (SELECT last_success_at FROM connections WHERE name = ?1) IS NULL THEN NULL
                    ELSE (SELECT count(*) FROM source_users WHERE connection = ?1) END",
            [&self.connection],
            |r| r.get(0),
        )?;
        Ok(Staged { users: users.unsigned_abs(), previous: previous.map(i64::unsigned_abs) })
    }

    /// Replaces the connection's snapshot with the staged one, in one transaction: rows no longer
    /// listed are deleted, changed and new rows written, unchanged rows untouched. Returns the
    /// number of rows written or deleted.
    pub fn commit(mut self, connector: &str) -> Result<u64> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| busy_context(e, &path))?;
        let deleted = tx.execute(
            "DELETE FROM source_users WHERE connection = ?1 AND source_id NOT IN (SELECT source_id FROM temp.staging)",
            [&self.connection],
        )?;
        let written = tx.execute(
            "INSERT INTO source_users (connection, source_id, hash, data)
             SELECT ?1, s.source_id, s.hash, s.data FROM temp.staging s
             WHERE NOT EXISTS (SELECT 1 FROM source_users u WHERE u.connection = ?1 AND u.source_id = s.source_id AND u.hash = s.hash)
             ON CONFLICT (connection, source_id) DO UPDATE SET hash = excluded.hash, data = excluded.data",
            [&self.connection],
        )?;
        let at = now();
        let users: i64 = tx.query_row("SELECT count(*) FROM temp.staging", [], |r| r.get(0))?;
        tx.execute(
            "INSERT INTO connections (name, connector, last_sync_at, last_outcome, last_error, last_success_at, users)
             VALUES (?1, ?2, ?3, 'ok', NULL, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET connector = ?2, last_sync_at = ?3, last_outcome = 'ok', last_error = NULL,
                 last_success_at = ?3, users = ?4",
            params![self.connection, connector, at, users],
        )?;
        tx.commit().map_err(|e| busy_context(e, &path)).context("cannot commit the snapshot")?;
        self.conn.execute("DELETE FROM temp.staging", [])?;
        Ok((deleted + written) as u64)
    }
}
