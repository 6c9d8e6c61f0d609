//! Writing one connection's snapshot: the listing is gathered in memory while it runs and merged
//! into the stored snapshot only when complete, writing only the chunks that changed
//! ([`super::chunks`]).

use std::collections::HashSet;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use roster_core::SourceUser;
use roster_core::parallel::{drop_aside, extend_in_runs};
use roster_core::prefetch::{ask_ahead, prefetch_record_text, prefetch_value};
use rusqlite::{Connection, TransactionBehavior, params};

use super::chunks::{self, Changes, Chunk};
use super::{Writers, busy_context, now};

/// Gathers the pages of one connection's listing, then merges them into its snapshot or, when
/// dropped unmerged, discards them: nothing is written before the listing is complete.
///
/// The listing is held in memory rather than staged in the database: it is needed in memory
/// anyway to resolve people right after, and a sorted listing is cut into chunks and compared
/// with the stored ones by their hashes, with no temporary table to fill, sort and read back (at
/// a million people that was 12.5 of a 48 s sync).
#[derive(Debug)]
pub struct SnapshotWriter {
    conn: Connection,
    path: PathBuf,
    connection: String,
    connector: String,
    writers: Arc<Writers>,
    /// The listing's pages as they came: gathered into one vector, a million records were moved
    /// again each time it doubled (550 MB copied, and the old and new buffers held at once).
    pages: Vec<Vec<SourceUser>>,
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
        /// Records added, updated or removed; 0 when nothing changed.
        records_changed: u64,
    },
    /// The snapshot shrank more than allowed; the previous one is kept.
    Held(Staged),
}

/// A committed snapshot as it now stands in the store, kept in memory for the resolution that
/// follows (which then need not read it back).
#[derive(Debug)]
pub struct Committed {
    /// The connection.
    pub connection: String,
    /// Its snapshot version after the commit: the snapshot may stand in for the stored one only
    /// while the store still has this version.
    pub version: i64,
    /// The snapshot's users, in source-id order, as stored.
    pub users: Arc<Vec<SourceUser>>,
}

impl SnapshotWriter {
    pub(super) fn new(
        conn: Connection,
        path: PathBuf,
        connection: &str,
        connector: &str,
        writers: Arc<Writers>,
    ) -> Self {
        Self {
            conn,
            path,
            connection: connection.to_owned(),
            connector: connector.to_owned(),
            writers,
            pages: Vec::new(),
        }
    }

    /// Adds one page of the listing. A record listed twice keeps its last copy.
    pub fn stage(&mut self, page: Vec<SourceUser>) {
        if !page.is_empty() {
            self.pages.push(page);
        }
    }

    /// Replaces the connection's snapshot with the listing, in one write transaction: chunks no
    /// longer cut are deleted, new and changed chunks written, unchanged chunks left alone. Unless
    /// `force`, a listing that shrank more than `max_drop_percent` against the previous snapshot
    /// is held instead, and nothing changes. Returns what it did, and the snapshot when it was
    /// replaced.
    pub fn commit(self, max_drop_percent: f64, force: bool) -> Result<(Commit, Option<Committed>)> {
        let Self { mut conn, path, connection, connector, writers, pages } = self;
        let received: usize = pages.iter().map(Vec::len).sum();
        let started = std::time::Instant::now();
        let users = in_id_order(pages);
        let runs = chunks::runs(users.iter().map(|u| u.source_id.as_str()));
        let ordered = started.elapsed();
        if users.len() < received {
            tracing::warn!(
                "{connection}: the listing sent {} records twice; the last copy of each is kept",
                received - users.len()
            );
        }
        // In-process merges take turns; other processes are waited for by the busy timeout.
        let turn = writers.commit_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| busy_context(e, &path))?;
        let previous: Option<i64> = tx.query_row(
            "SELECT CASE WHEN (SELECT last_success_at FROM connections WHERE name = ?1) IS NULL THEN NULL
                    ELSE (SELECT coalesce(sum(records), 0) FROM snapshot_chunks WHERE connection = ?1) END",
            [&connection],
            |r| r.get(0),
        )?;
        let staged = Staged { users: users.len() as u64, previous: previous.map(i64::unsigned_abs) };
        if !force && staged.drop_percent() > max_drop_percent {
            // Kept as pending beside the snapshot in force (which stays as it is).
            tx.execute("DELETE FROM pending_chunks WHERE connection = ?1", [&connection])?;
            let mut insert = tx.prepare(
                "INSERT INTO pending_chunks (connection, first_id, records, hash, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            chunks::encoded_ahead(
                &runs,
                |run| encode_users(&users[run.clone()], &chunks::Stored::new()),
                |chunks| -> Result<()> {
                    for chunk in chunks {
                        let chunk = chunk?;
                        insert.execute(params![connection, chunk.first, chunk.records, chunk.hash, chunk.data])?;
                    }
                    Ok(())
                },
            )?;
            drop(insert);
            tx.execute(
                "UPDATE connections SET pending_at = ?2, pending_users = ?3 WHERE name = ?1",
                params![connection, now(), i64::try_from(staged.users).unwrap_or(i64::MAX)],
            )?;
            tx.commit().map_err(|e| busy_context(e, &path)).context("cannot keep the held listing")?;
            drop(turn);
            writers.checkpoint_aside(conn);
            return Ok((Commit::Held(staged), None));
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
        let merging = std::time::Instant::now();
        let records_changed = merge(&tx, &connection, &users, &runs)?;
        let merged = merging.elapsed();
        tx.execute("DELETE FROM pending_chunks WHERE connection = ?1", [&connection])?;
        tx.execute("UPDATE connections SET pending_at = NULL, pending_users = NULL WHERE name = ?1", [&connection])?;
        if records_changed > 0 || staged.previous.is_none() {
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
        let version: i64 =
            tx.query_row("SELECT snapshot_version FROM connections WHERE name = ?1", [&connection], |r| r.get(0))?;
        let committing = std::time::Instant::now();
        tx.commit().map_err(|e| busy_context(e, &path)).context("cannot commit the snapshot")?;
        tracing::debug!(
            order_ms = ordered.as_millis(),
            merge_ms = merged.as_millis(),
            commit_ms = committing.elapsed().as_millis(),
            "{connection}: snapshot merged"
        );
        drop(turn);
        if records_changed > 0 {
            writers.checkpoint_aside(conn);
        }
        let commit = Commit::Replaced { users: staged.users, records_changed };
        Ok((commit, Some(Committed { connection, version, users: Arc::new(users) })))
    }
}

/// The listing in source-id order, with only the last copy of a record listed twice, each record
/// copied anew in that order.
///
/// Indices are sorted, not the records (a record is a few hundred bytes to move), and the copies
/// are made in order, all before the listing is freed: their strings then lie in memory in
/// source-id order, the order in which the resolver reads them. Resolving a million people whose
/// strings were scattered in the vendor's order took 5.8 s instead of 2.4 s (every field a cache
/// miss). Large listings are copied on every core, each thread a contiguous run of the order
/// (so each run's strings lie together), and the listing is freed on a thread of its own. The
/// copy reads the listing in an order unrelated to where its records lie, so each record is
/// asked for ahead, as the resolver asks for them ([`ask_ahead`]; ordering 100k
/// records: a median of 57 ms without, 46 ms with, eight runs each alternately).
fn in_id_order(pages: Vec<Vec<SourceUser>>) -> Vec<SourceUser> {
    let at = |place: Place| &pages[place.page()][place.index()];
    // Sorted by the ids' first 16 bytes, read once into an integer, and whole ids compared only
    // where those are equal: sorting by the strings themselves read two scattered ids for each
    // comparison (a fifth of committing 100k people). Copies of one record keep their listing
    // order, so that the last one listed is last.
    let mut order: Vec<(u128, Place)> = pages
        .iter()
        .enumerate()
        .flat_map(|(p, page)| page.iter().enumerate().map(move |(i, u)| (id_prefix(&u.source_id), Place::new(p, i))))
        .collect();
    let received = order.len();
    order.sort_unstable_by(|&(pa, a), &(pb, b)| {
        pa.cmp(&pb).then_with(|| at(a).source_id.cmp(&at(b).source_id)).then(a.cmp(&b))
    });
    let mut kept: Vec<(u128, Place)> = Vec::with_capacity(order.len());
    for (prefix, place) in order {
        match kept.last_mut() {
            // Different prefixes are different ids: the records are read only when they match.
            Some(last) if last.0 == prefix && at(last.1).source_id == at(place).source_id => last.1 = place,
            _ => kept.push((prefix, place)),
        }
    }
    let mut copies = Vec::with_capacity(kept.len());
    extend_in_runs(&mut copies, kept.len(), PARALLEL_COPY_FROM, |run, copies| {
        copies.extend(run.map(|k| {
            ask_ahead(&kept, k, |&(_, p)| prefetch_value(at(p)), |&(_, p)| prefetch_record_text(at(p)));
            at(kept[k].1).clone()
        }));
    });
    if received >= PARALLEL_COPY_FROM {
        // Millions of strings to free: the merge need not wait for that.
        drop_aside(pages);
    }
    copies
}

/// Where a staged record is: its page in the high 32 bits, its index in the page in the low 32,
/// so that places compare in listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Place(u64);

impl Place {
    fn new(page: usize, index: usize) -> Self {
        // Neither reaches 2^32: a page is a vector of records in memory.
        let part = |n: usize| u64::from(u32::try_from(n).expect("fewer than 2^32 pages and records a page"));
        Self(part(page) << 32 | part(index))
    }

    fn page(self) -> usize {
        usize::try_from(self.0 >> 32).unwrap_or(usize::MAX)
    }

    fn index(self) -> usize {
        usize::try_from(self.0 & u64::from(u32::MAX)).unwrap_or(usize::MAX)
    }
}

/// Below this many records, a listing is copied on one thread: starting others costs more.
const PARALLEL_COPY_FROM: usize = 20_000;

/// The first 16 bytes of `id` as a big-endian number, zero-padded: ids whose prefixes differ
/// compare as the ids do.
fn id_prefix(id: &str) -> u128 {
    let mut bytes = [0_u8; 16];
    let n = id.len().min(16);
    bytes[..n].copy_from_slice(&id.as_bytes()[..n]);
    u128::from_be_bytes(bytes)
}

/// Merges the sorted listing, cut into `runs`, into the stored snapshot: writes the chunks that
/// are not stored as they are, removes stored chunks no longer cut, and returns how many records
/// that added, updated or removed. Chunks are encoded on a second thread while `SQLite` writes.
fn merge(tx: &rusqlite::Transaction<'_>, connection: &str, users: &[SourceUser], runs: &[Range<usize>]) -> Result<u64> {
    // A few thousand (first id, hash) pairs at a million records.
    let stored = chunks::stored(
        &mut tx.prepare("SELECT first_id, hash FROM snapshot_chunks WHERE connection = ?1")?.query([connection])?,
    )?;
    // Stored chunks not cut again: removed at the end.
    let mut left: HashSet<&str> = stored.keys().map(String::as_str).collect();
    let mut read = tx.prepare("SELECT data FROM snapshot_chunks WHERE connection = ?1 AND first_id = ?2")?;
    let mut upsert = tx.prepare(
        "INSERT INTO snapshot_chunks (connection, first_id, records, hash, data) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (connection, first_id) DO UPDATE SET
             records = excluded.records, hash = excluded.hash, data = excluded.data",
    )?;
    let mut changes = Changes::default();
    let mut replaced = |first: &str, changes: &mut Changes| -> Result<()> {
        let data: Vec<u8> = read.query_row(params![connection, first], |r| r.get(0))?;
        changes.replaced(&data, stored_id).with_context(|| format!("a stored chunk of `{connection}` is corrupt"))
    };
    chunks::encoded_ahead(
        runs,
        |run| encode_users(&users[run.clone()], &stored),
        |chunks| -> Result<()> {
            for chunk in chunks {
                let chunk = chunk?;
                let was_stored = left.remove(chunk.first.as_str());
                // Stored as it is.
                let Some(data) = &chunk.data else { continue };
                if was_stored {
                    replaced(&chunk.first, &mut changes)?;
                }
                changes.written(&chunk);
                upsert.execute(params![connection, chunk.first, chunk.records, chunk.hash, data])?;
            }
            Ok(())
        },
    )?;
    // Stored chunks that begin at an id no longer beginning one.
    let mut delete = tx.prepare("DELETE FROM snapshot_chunks WHERE connection = ?1 AND first_id = ?2")?;
    for first in left {
        replaced(first, &mut changes)?;
        delete.execute(params![connection, first])?;
    }
    Ok(changes.count())
}

/// Migration 004's hook: moves the rows of `source_users` and `pending_users` into chunks, cut as
/// a sync cuts them, then drops both tables.
pub(super) fn rows_into_chunks(tx: &rusqlite::Transaction<'_>) -> rusqlite_migration::HookResult {
    use rusqlite_migration::HookError;
    for (rows, into) in [("source_users", "snapshot_chunks"), ("pending_users", "pending_chunks")] {
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {into} (connection, first_id, records, hash, data) VALUES (?1, ?2, ?3, ?4, ?5)"
        ))?;
        let mut write = |connection: &str, run: &mut Vec<SourceUser>| -> rusqlite_migration::HookResult {
            if !run.is_empty() {
                let chunk = encode_users(run, &chunks::Stored::new())
                    .map_err(|e| HookError::Hook(format!("cannot encode a chunk: {e}")))?;
                insert.execute(params![connection, chunk.first, chunk.records, chunk.hash, chunk.data])?;
                run.clear();
            }
            Ok(())
        };
        // Binary collation: the byte order `in_id_order` sorts by.
        let mut stmt = tx.prepare(&format!("SELECT connection, data FROM {rows} ORDER BY connection, source_id"))?;
        let mut stored = stmt.query([])?;
        let (mut connection, mut run) = (String::new(), Vec::new());
        while let Some(row) = stored.next()? {
            let of: String = row.get(0)?;
            if of != connection {
                write(&connection, &mut run)?;
                connection = of;
            }
            let user: SourceUser = serde_json::from_str(&row.get::<_, String>(1)?)
                .map_err(|e| HookError::Hook(format!("a stored user of `{connection}` is corrupt: {e}")))?;
            let ends = chunks::ends_run(&user.source_id, run.len() + 1);
            run.push(user);
            if ends {
                write(&connection, &mut run)?;
            }
        }
        write(&connection, &mut run)?;
        drop(stored);
        drop(stmt);
        drop(insert);
        tx.execute_batch(&format!("DROP TABLE {rows}"))?;
    }
    Ok(())
}

fn encode_users(users: &[SourceUser], stored: &chunks::Stored) -> serde_json::Result<Chunk> {
    let first = users.first().map(|u| u.source_id.to_string()).unwrap_or_default();
    chunks::encode(users, |u| u.source_id.as_str(), first, stored)
}

/// The source id of a stored record's line, read without the rest of the record.
fn stored_id(line: &str) -> serde_json::Result<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        source_id: String,
    }
    serde_json::from_str::<Id>(line).map(|r| r.source_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_ordered_by_whole_ids_keeping_the_last_copy() {
        let user = |id: &str, name: &str| SourceUser {
            source_id: id.into(),
            first_name: Some(name.into()),
            ..SourceUser::default()
        };
        // Ids sharing a 16-byte prefix, ids shorter than it, a prefix of another id, repeats.
        let listing = [
            user("C1/ABCDEFGHIJKLMN-2", "a"),
            user("C1/B", "b"),
            user("C1/ABCDEFGHIJKLMN-1", "c"),
            user("C1/", "d"),
            user("C1/B", "e"),
            user("C1/ABCDEFGHIJKLMN", "f"),
            user("C1/ABCDEFGHIJKLMN-2", "g"),
        ];
        let ordered: Vec<(roster_core::CompactString, roster_core::CompactString)> =
            in_id_order(vec![listing[..3].to_vec(), listing[3..].to_vec()])
                .into_iter()
                .map(|u| (u.source_id, u.first_name.unwrap_or_default()))
                .collect();
        let want = [
            ("C1/", "d"),
            ("C1/ABCDEFGHIJKLMN", "f"),
            ("C1/ABCDEFGHIJKLMN-1", "c"),
            ("C1/ABCDEFGHIJKLMN-2", "g"),
            ("C1/B", "e"),
        ];
        assert_eq!(ordered, want.map(|(id, name)| (id.into(), name.into())));
    }

    #[test]
    fn a_large_listing_is_copied_in_order_on_every_core() {
        let n = PARALLEL_COPY_FROM * 2 + 7;
        let user = |i: usize, copy: &str| SourceUser {
            source_id: format!("C1/{i:07}").into(),
            role: Some(copy.into()),
            ..SourceUser::default()
        };
        // Listed backwards in pages of 1,000, every tenth record listed again later.
        let mut listing: Vec<SourceUser> = (0..n).rev().map(|i| user(i, "first")).collect();
        listing.extend((0..n).step_by(10).map(|i| user(i, "again")));
        let ordered = in_id_order(listing.chunks(1_000).map(<[SourceUser]>::to_vec).collect());
        assert_eq!(ordered.len(), n);
        for (i, u) in ordered.iter().enumerate() {
            assert_eq!(u.source_id, format!("C1/{i:07}"));
            assert_eq!(u.role.as_deref(), Some(if i % 10 == 0 { "again" } else { "first" }), "{i}");
        }
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
