//! State in `SQLite`: each connection's last complete snapshot and sync status, the resolved
//! people, events and the applied policy. Schema changes go through migrations
//! (`migrations/NNN_name.sql`).
//!
//! A snapshot is written in two steps, so that several listings can run at once and a failed one
//! leaves nothing behind: while the listing runs, its pages are gathered in memory; only a
//! complete listing is then merged into `snapshot_chunks` in one write transaction that writes
//! only the chunks of records that changed ([`SnapshotWriter`], and the `chunks` module).

mod chunks;
mod json;
mod people;
mod people_chunks;
mod snapshot;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use roster_core::SourceUser;
use roster_core::lifecycle::Policy;
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};

pub use people::{EventFilter, Run, RunCommand, StoredEvent, Superseded, WriteStats};
pub use snapshot::{Commit, Committed, SnapshotWriter, Staged};

/// How long a writer waits for another roster command that holds the database.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("migrations/001_initial.sql")),
        M::up(include_str!("migrations/002_history.sql")),
        M::up(include_str!("migrations/003_one_people_order_index.sql")),
        M::up_with_hook(include_str!("migrations/004_snapshot_chunks.sql"), snapshot::rows_into_chunks),
        M::up_with_hook(include_str!("migrations/005_people_chunks.sql"), people_chunks::rows_into_chunks),
    ])
}

/// An open, migrated database.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Connection,
    busy_timeout: Duration,
    writers: Arc<Writers>,
}

impl Drop for Store {
    /// Waits for the checkpoints the snapshot writers left running, so that this connection,
    /// closing last, finds the WAL copied as far as they got.
    fn drop(&mut self) {
        self.writers.wait_for_checkpoints();
    }
}

/// What the snapshot writers of one store share.
#[derive(Debug, Default)]
struct Writers {
    /// Snapshot merges of one process take turns here rather than in `SQLite`'s busy loop.
    commit_lock: Mutex<()>,
    /// Checkpoints running beside the rest of a sync ([`Writers::checkpoint_aside`]), waited for
    /// when the store is dropped.
    checkpoints: Mutex<Vec<JoinHandle<()>>>,
}

impl Writers {
    /// Copies what `conn` just committed from the WAL into the database file, on a thread of its
    /// own.
    ///
    /// Left to `SQLite`, a snapshot's pages stay in the WAL until the next commit that finds it
    /// over 1,000 pages, the people's write or the snapshot's own commit when it is that large,
    /// which then copies them on the sync's main thread with two `fsync`s (47-80 ms of a 100k
    /// sync, 0.38 s of a 1M one). Copied here right after the snapshot's commit, they go to disk
    /// while people are resolved, which needs no disk, and the people's write begins a new WAL.
    /// PASSIVE: it neither waits for nor holds up any reader or writer, and what it cannot copy
    /// yet (another checkpoint running, a reader of older pages) is copied by a later commit of
    /// the store's own connection, whose automatic checkpoints stay on.
    fn checkpoint_aside(&self, conn: Connection) {
        let checkpoint = move || {
            let started = std::time::Instant::now();
            let copied = conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
            match copied {
                Ok((pages, copied)) => {
                    tracing::debug!(pages, copied, checkpoint_ms = started.elapsed().as_millis(), "WAL checkpointed");
                }
                // Nothing is lost: the pages are committed in the WAL, and copied by a later one.
                Err(e) => tracing::debug!("no checkpoint beside the sync: {e}"),
            }
        };
        // Should no thread start, the closure and the connection are dropped without it.
        if let Ok(running) = std::thread::Builder::new().name("roster-checkpoint".to_owned()).spawn(checkpoint) {
            self.checkpoints.lock().unwrap_or_else(PoisonError::into_inner).push(running);
        }
    }

    /// Returns once the checkpoints started so far have ended.
    fn wait_for_checkpoints(&self) {
        let running = std::mem::take(&mut *self.checkpoints.lock().unwrap_or_else(PoisonError::into_inner));
        for checkpoint in running {
            // One that panicked copied less: a later checkpoint copies the rest.
            let _ = checkpoint.join();
        }
    }
}

/// Opens (creating it, readable by its owner only) and migrates the database at `path`.
pub fn open(path: &Path) -> Result<Store> {
    open_with_timeout(path, BUSY_TIMEOUT)
}

/// [`open`], waiting at most `busy_timeout` for another writer.
pub fn open_with_timeout(path: &Path, busy_timeout: Duration) -> Result<Store> {
    let mut conn = connect(path, busy_timeout)?;
    migrations()
        .to_latest(&mut conn)
        .map_err(|e| match e {
            rusqlite_migration::Error::RusqliteError { err, .. } => busy_context(err, path),
            other => anyhow::Error::new(other),
        })
        .with_context(|| format!("cannot bring the database `{}` up to date", path.display()))?;
    Ok(Store { path: path.to_path_buf(), conn, busy_timeout, writers: Arc::default() })
}

fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection> {
    create_private(path)?;
    let conn = Connection::open(path).with_context(|| format!("cannot open the database `{}`", path.display()))?;
    let setup = || -> rusqlite::Result<()> {
        conn.busy_timeout(busy_timeout)?;
        // 16 KiB pages for a new database (an existing one keeps its own): a person's row is about
        // 800 bytes and a snapshot row 400, and a sync of 100k people wrote and read 4 KiB pages
        // one system call each (committing a snapshot 1.05 -> 0.78 s, writing people 1.3 -> 1.0 s).
        // It must come before WAL is turned on, after which the page size is fixed.
        conn.pragma_update(None, "page_size", 16_384)?;
        // WAL: readers (`roster users`) never wait for a sync, and a sync never waits for them.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Snapshots and people are written a chunk (about 100 KB) at a time, each page once, so a
        // transaction that spills dirty pages to the WAL early writes nothing twice: a small
        // cache costs no time, and leaves memory to the people being resolved.
        conn.pragma_update(None, "cache_size", -8_192)?;
        conn.pragma_update(None, "foreign_keys", "ON")
    };
    setup().map_err(|e| busy_context(e, path))?;
    Ok(conn)
}

/// Creates the database file with mode 0600 when it does not exist: it holds people's names and
/// emails. `SQLite` gives its `-wal` and `-shm` files the same mode.
fn create_private(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot create the database `{}`", path.display()))),
    }
}

/// Explains `SQLite`'s "busy" as what it means to an admin; other errors name the database.
pub fn busy_context(e: rusqlite::Error, path: &Path) -> anyhow::Error {
    if matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)) {
        anyhow::anyhow!(
            "database is busy: another roster command is writing to {}; try again when it is done",
            path.display()
        )
    } else {
        anyhow::Error::new(e).context(format!("database {}", path.display()))
    }
}

/// How the last sync of a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// A complete snapshot replaced the previous one.
    Ok,
    /// The listing or its storage failed; the previous snapshot is kept.
    Failed,
    /// A safety threshold held the new snapshot; the previous one is kept.
    Held,
}

impl SyncOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Held => "held",
        }
    }
}

/// One connection's sync status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// Connection name.
    pub name: String,
    /// Its connector id.
    pub connector: String,
    /// When the last sync ended (RFC 3339).
    pub last_sync_at: Option<String>,
    /// How it ended: `ok`, `failed` or `held`.
    pub last_outcome: Option<String>,
    /// Why it failed or was held.
    pub last_error: Option<String>,
    /// When the last complete snapshot was taken.
    pub last_success_at: Option<String>,
    /// Users in the last complete snapshot.
    pub users: Option<i64>,
    /// When a listing a safety threshold held was taken (kept as pending).
    pub pending_at: Option<String>,
    /// Users in that held listing.
    pub pending_users: Option<i64>,
}

/// Which version of a connection's snapshot people were resolved from: a plan records these, so
/// that `roster apply plan.json` can tell whether the data changed since.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotVersion {
    /// Connection name.
    pub connection: String,
    /// Goes up by one each time the snapshot changes.
    pub version: i64,
    /// When it was last taken.
    pub taken_at: String,
    /// Users in it.
    pub users: i64,
}

impl Store {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A writer for one connection's next snapshot, on its own `SQLite` connection so that
    /// listings can be committed from the tasks that ran them.
    pub fn snapshot_writer(&self, connection: &str, connector: &str) -> Result<SnapshotWriter> {
        let conn = connect(&self.path, self.busy_timeout)?;
        // Its commit leaves the WAL to a checkpoint beside the resolution that follows
        // ([`Writers::checkpoint_aside`]). Left on, a snapshot of over 1,000 pages (16 MB; about
        // 150k UKG records) would be copied by the commit itself (0.38 s of a 1M sync).
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(|e| busy_context(e, &self.path))?;
        Ok(SnapshotWriter::new(conn, self.path.clone(), connection, connector, Arc::clone(&self.writers)))
    }

    /// Records a sync that failed or was held. The snapshot itself is untouched.
    pub fn record_unsuccessful(
        &self,
        connection: &str,
        connector: &str,
        outcome: SyncOutcome,
        error: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO connections (name, connector, last_sync_at, last_outcome, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET connector = ?2, last_sync_at = ?3, last_outcome = ?4, last_error = ?5",
                params![connection, connector, now(), outcome.as_str(), error],
            )
            .map_err(|e| busy_context(e, &self.path))?;
        Ok(())
    }

    /// Every connection's status, by name.
    pub fn statuses(&self) -> Result<Vec<ConnectionStatus>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, connector, last_sync_at, last_outcome, last_error, last_success_at, users,
                    pending_at, pending_users
             FROM connections ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ConnectionStatus {
                name: r.get(0)?,
                connector: r.get(1)?,
                last_sync_at: r.get(2)?,
                last_outcome: r.get(3)?,
                last_error: r.get(4)?,
                last_success_at: r.get(5)?,
                users: r.get(6)?,
                pending_at: r.get(7)?,
                pending_users: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether `connection` has a complete snapshot (possibly empty).
    pub fn has_snapshot(&self, connection: &str) -> Result<bool> {
        let at: Option<Option<String>> = self
            .conn
            .query_row("SELECT last_success_at FROM connections WHERE name = ?1", [connection], |r| r.get(0))
            .optional()?;
        Ok(at.flatten().is_some())
    }

    /// A connection's last complete snapshot, if it has one.
    pub fn snapshot(&self, connection: &str) -> Result<Option<Vec<SourceUser>>> {
        if !self.has_snapshot(connection)? {
            return Ok(None);
        }
        self.users_of("snapshot_chunks", connection).map(Some)
    }

    /// The version of every connection's snapshot, by name.
    pub fn snapshot_versions(&self) -> Result<Vec<SnapshotVersion>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, snapshot_version, last_success_at, users FROM connections
             WHERE last_success_at IS NOT NULL ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SnapshotVersion {
                connection: r.get(0)?,
                version: r.get(1)?,
                taken_at: r.get(2)?,
                users: r.get::<_, Option<i64>>(3)?.unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The listing a safety threshold held for `connection`, if one is pending.
    pub fn pending_snapshot(&self, connection: &str) -> Result<Option<Vec<SourceUser>>> {
        let pending: Option<Option<String>> = self
            .conn
            .query_row("SELECT pending_at FROM connections WHERE name = ?1", [connection], |r| r.get(0))
            .optional()?;
        if pending.flatten().is_none() {
            return Ok(None);
        }
        self.users_of("pending_chunks", connection).map(Some)
    }

    /// One record of a connection's snapshot: read from the one chunk that can hold it.
    pub fn source_user(&self, connection: &str, source_id: &str) -> Result<Option<SourceUser>> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM snapshot_chunks WHERE connection = ?1 AND first_id <= ?2
                 ORDER BY first_id DESC LIMIT 1",
                [connection, source_id],
                |r| r.get(0),
            )
            .optional()?;
        let mut users = Vec::new();
        if let Some(data) = data {
            chunks::decode_into(&data, &mut users)
                .with_context(|| format!("a stored user of `{connection}` is corrupt"))?;
        }
        Ok(users.into_iter().find(|u: &SourceUser| u.source_id == source_id))
    }

    /// Every record of `table`'s chunks of `connection`, in source-id order.
    fn users_of(&self, table: &str, connection: &str) -> Result<Vec<SourceUser>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT data FROM {table} WHERE connection = ?1 ORDER BY first_id"))?;
        let records: i64 = self.conn.query_row(
            &format!("SELECT coalesce(sum(records), 0) FROM {table} WHERE connection = ?1"),
            [connection],
            |r| r.get(0),
        )?;
        let mut users = Vec::with_capacity(usize::try_from(records).unwrap_or_default());
        chunks::decode_rows(&mut stmt.query([connection])?, &mut users)
            .with_context(|| format!("a stored user of `{connection}` is corrupt"))?;
        Ok(users)
    }

    /// When people were last resolved (`None`: never).
    pub fn resolved_at(&self) -> Result<Option<String>> {
        self.meta("resolved_at")
    }

    /// Whether people must be resolved again: never resolved, a snapshot changed since, or the
    /// set of connections with snapshots is not the one they were resolved from.
    pub fn needs_resolution(&self, connections: &[&str]) -> Result<bool> {
        if self.resolved_at()?.is_none() || self.meta("stale")?.is_some() {
            return Ok(true);
        }
        let resolved: Vec<String> =
            self.meta("resolved_connections")?.map(|v| serde_json::from_str(&v)).transpose()?.unwrap_or_default();
        Ok(!resolved.iter().map(String::as_str).eq(connections.iter().copied()))
    }

    /// The lifecycle policy in force and when it was applied (`None`: never resolved).
    pub fn applied_policy(&self) -> Result<Option<(Policy, String)>> {
        let row: Option<(String, String)> = self
            .conn
            .query_row("SELECT data, applied_at FROM policy WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(data, at)| Ok((serde_json::from_str(&data).context("the stored policy is corrupt")?, at))).transpose()
    }

    /// Runs `f` in one read transaction, so that everything it reads is from one moment even while
    /// another roster command writes (WAL gives a read transaction a fixed view).
    pub fn consistent<R>(&self, f: impl FnOnce(&Self) -> Result<R>) -> Result<R> {
        self.conn.execute_batch("BEGIN DEFERRED").map_err(|e| busy_context(e, &self.path))?;
        let result = f(self);
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        self.conn.execute_batch(end).map_err(|e| busy_context(e, &self.path))?;
        result
    }

    /// Whether a snapshot changed since people were last resolved (a resolution was held).
    pub fn is_stale(&self) -> Result<bool> {
        Ok(self.meta("stale")?.is_some())
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }
}

/// A stable 64-bit FNV-1a hash of a row's JSON: it is stored, so it must not change between
/// builds the way `std`'s hasher may.
pub fn content_hash(data: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// Now, as stored (RFC 3339, UTC, milliseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
