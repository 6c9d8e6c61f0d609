//! State in `SQLite`: each connection's last complete snapshot, the resolved people, events and
//! the applied policy. Schema changes go through migrations (`migrations/NNN_*.sql`).
//!
//! A snapshot is written in two steps so that several listings can run at once and a failed one
//! leaves nothing behind: pages go into a TEMP table of the writer's own connection (no lock on
//! the database), and only a complete listing is merged into `source_users` in one short
//! transaction that deletes rows no longer listed and writes only rows that changed.

mod snapshot;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use roster_core::SourceUser;
use roster_core::lifecycle::{Event, Person, Policy};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};

pub use snapshot::{SnapshotWriter, Staged};

/// How long a writer waits for another roster command holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(include_str!("migrations/001_initial.sql"))])
}

/// An open database.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Connection,
}

/// Opens (creating if needed, readable by its owner only) and migrates the database at `path`.
pub fn open(path: &Path) -> Result<Store> {
    let conn = connect(path)?;
    let mut conn = conn;
    migrations().to_latest(&mut conn).with_context(|| format!("cannot migrate the database `{}`", path.display()))?;
    Ok(Store { path: path.to_path_buf(), conn })
}

fn connect(path: &Path) -> Result<Connection> {
    let existed = path.exists();
    let conn = Connection::open(path).with_context(|| format!("cannot open the database `{}`", path.display()))?;
    #[cfg(unix)]
    if !existed {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make `{}` private", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = existed;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Explains `SQLite`'s "busy" as what it means to an admin.
pub fn busy_context(e: rusqlite::Error, path: &Path) -> anyhow::Error {
    if matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)) {
        anyhow::anyhow!(
            "database is busy: another roster command is writing to `{}`; try again when it is done",
            path.display()
        )
    } else {
        anyhow::Error::new(e).context(format!("database `{}`", path.display()))
    }
}

/// One connection's status, as `connections` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// Connection name.
    pub name: String,
    /// When the last sync ended.
    pub last_sync_at: Option<String>,
    /// `ok`, `failed` or `held`.
    pub last_outcome: Option<String>,
    /// The last error, when it failed.
    pub last_error: Option<String>,
    /// Users in the last complete snapshot.
    pub users: Option<i64>,
}

impl Store {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A writer for one connection's next snapshot, on its own `SQLite` connection.
    pub fn snapshot_writer(&self, connection: &str) -> Result<SnapshotWriter> {
        SnapshotWriter::new(connect(&self.path)?, self.path.clone(), connection)
    }

    /// Records a failed sync (the snapshot itself is untouched).
    pub fn record_failure(&self, connection: &str, connector: &str, error: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO connections (name, connector, last_sync_at, last_outcome, last_error) VALUES (?1, ?2, ?3, 'failed', ?4)
                 ON CONFLICT (name) DO UPDATE SET connector = ?2, last_sync_at = ?3, last_outcome = 'failed', last_error = ?4",
                params![connection, connector, now(), error],
            )
            .map_err(|e| busy_context(e, &self.path))?;
        Ok(())
    }

    /// Every connection's status.
    pub fn statuses(&self) -> Result<Vec<ConnectionStatus>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, last_sync_at, last_outcome, last_error, users FROM connections ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(ConnectionStatus {
                name: r.get(0)?,
                last_sync_at: r.get(1)?,
                last_outcome: r.get(2)?,
                last_error: r.get(3)?,
                users: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A connection's last complete snapshot, if it has one.
    pub fn snapshot(&self, connection: &str) -> Result<Option<Vec<SourceUser>>> {
        let synced: Option<Option<String>> = self
            .conn
            .query_row("SELECT last_success_at FROM connections WHERE name = ?1", [connection], |r| r.get(0))
            .optional()?;
        if synced.flatten().is_none() {
            return Ok(None);
        }
        let mut stmt =
            self.conn.prepare_cached("SELECT data FROM source_users WHERE connection = ?1 ORDER BY source_id")?;
        let rows = stmt.query_map([connection], |r| r.get::<_, String>(0))?;
        let mut users = Vec::new();
        for row in rows {
            users.push(serde_json::from_str(&row?).context("a stored source user is corrupt")?);
        }
        Ok(Some(users))
    }

    /// Every resolved person.
    pub fn people(&self) -> Result<Vec<Person>> {
        let mut out = Vec::new();
        self.for_each_person(None, |p| {
            out.push(p);
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams people (ordered by email, then key), optionally of one lifecycle, without holding
    /// them all in memory.
    pub fn for_each_person(&self, lifecycle: Option<&str>, mut f: impl FnMut(Person) -> Result<()>) -> Result<()> {
        let sql = "SELECT data FROM people WHERE (?1 IS NULL OR lifecycle = ?1) ORDER BY email IS NULL, email, key";
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query([lifecycle])?;
        while let Some(row) = rows.next()? {
            let data: String = row.get(0)?;
            f(serde_json::from_str(&data).context("a stored person is corrupt")?)?;
        }
        Ok(())
    }

    /// When people were last resolved (`None`: never).
    pub fn resolved_at(&self) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = 'resolved_at'", [], |r| r.get(0)).optional()?)
    }

    /// The policy the people were last resolved with.
    pub fn applied_policy(&self) -> Result<Option<Policy>> {
        let data: Option<String> =
            self.conn.query_row("SELECT data FROM policy WHERE id = 1", [], |r| r.get(0)).optional()?;
        data.map(|d| serde_json::from_str(&d).context("the stored policy is corrupt")).transpose()
    }

    /// Writes a resolution in one transaction: people that changed (and removes those no longer
    /// tracked), the events, the policy and the time.
    pub fn write_resolution(
        &mut self,
        prior: &[Person],
        people: &[Person],
        events: &[Event],
        policy: &Policy,
    ) -> Result<WriteStats> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| busy_context(e, &path))?;
        let at = now();
        let mut stats = WriteStats::default();
        {
            let old: std::collections::HashMap<&str, &Person> = prior.iter().map(|p| (p.key.as_str(), p)).collect();
            let mut upsert = tx.prepare(
                "INSERT INTO people (key, lifecycle, email, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET lifecycle = ?2, email = ?3, data = ?4",
            )?;
            for p in people {
                if old.get(p.key.as_str()).is_some_and(|o| *o == p) {
                    continue;
                }
                upsert.execute(params![
                    p.key,
                    p.lifecycle.as_str(),
                    p.email.as_deref().map(str::to_lowercase),
                    serde_json::to_string(p)?
                ])?;
                stats.people_written += 1;
            }
            let now: std::collections::HashSet<&str> = people.iter().map(|p| p.key.as_str()).collect();
            let mut delete = tx.prepare("DELETE FROM people WHERE key = ?1")?;
            for p in prior.iter().filter(|p| !now.contains(p.key.as_str())) {
                delete.execute([&p.key])?;
                stats.people_removed += 1;
            }
            let mut insert = tx.prepare(
                "INSERT INTO events (at, kind, person, email, decided_by, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for e in events {
                insert.execute(params![
                    at,
                    e.kind.as_str(),
                    e.person,
                    e.email,
                    e.decided_by,
                    serde_json::to_string(e)?
                ])?;
            }
        }
        tx.execute(
            "INSERT INTO policy (id, applied_at, data) VALUES (1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET applied_at = ?1, data = ?2
             WHERE data != ?2",
            params![at, serde_json::to_string(policy)?],
        )?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('resolved_at', ?1) ON CONFLICT (key) DO UPDATE SET value = ?1",
            [&at],
        )?;
        tx.commit().map_err(|e| busy_context(e, &path))?;
        Ok(stats)
    }
}

/// What a resolution wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// People inserted or changed.
    pub people_written: usize,
    /// People no longer tracked.
    pub people_removed: usize,
}

/// Now, as stored (RFC 3339, UTC, seconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
