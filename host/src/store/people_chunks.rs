//! How resolved people are stored: in chunks ([`super::chunks`]) in the order `roster users` lists
//! them (by lowercase primary email, people without one last, then by key), each run of people
//! cut where a person's key says, with how many of each lifecycle it holds.
//!
//! The order serves the reads: a listing reads chunks in order, a filtered one skips chunks
//! without that lifecycle, counting adds up the chunks' counts, and a person is found by email in
//! the chunks where that email sorts. The cost: a person found by employee id or alias is looked
//! for in every chunk's text (decoding only the chunks that mention it), which at a million
//! people reads the whole table, about a second. A row per person with three indexes cost a
//! B-tree insert per person and index: at 100k people, 0.65-0.9 s of a 2 s sync.

use std::collections::HashSet;
use std::ops::Range;

use anyhow::{Context, Result};
use roster_core::Lifecycle;
use roster_core::lifecycle::Person;
use rusqlite::{Transaction, params};

use super::Store;
use super::chunks::{self, Chunk};

/// Where a person sorts: `0`, their lowercase email, `\u{1}` and their key; `1` and their key
/// when they have no email. Compared byte by byte (as `SQLite` compares text), that orders by
/// email, then key, people without an email last.
fn listing_key(p: &Person) -> String {
    match &p.email {
        Some(email) => format!("0{}\u{1}{}", email.to_lowercase(), p.key),
        None => format!("1{}", p.key),
    }
}

/// The people of a run, by lifecycle, in the order of [`Lifecycle::ALL`] (and of the table's
/// columns).
fn counts(people: &[&Person]) -> [i64; 4] {
    let mut counts = [0; 4];
    for p in people {
        if let Some(i) = Lifecycle::ALL.iter().position(|l| *l == p.lifecycle) {
            counts[i] += 1;
        }
    }
    counts
}

/// Stores `people` (in any order) in place of the stored ones: chunks stored as they would be
/// written are left alone, the others written, and stored chunks no longer cut are deleted.
pub(super) fn write(tx: &Transaction<'_>, people: &[Person]) -> Result<()> {
    let mut order: Vec<(String, &Person)> = people.iter().map(|p| (listing_key(p), p)).collect();
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let people: Vec<&Person> = order.iter().map(|&(_, p)| p).collect();
    let parts: Vec<(Range<usize>, String)> = chunks::runs(people.iter().map(|p| p.key.as_str()))
        .into_iter()
        .map(|run| {
            let first = std::mem::take(&mut order[run.start].0);
            (run, first)
        })
        .collect();
    drop(order);
    let stored = chunks::stored(&mut tx.prepare("SELECT first, hash FROM people_chunks")?.query([])?)?;
    // Stored chunks not cut again: removed at the end.
    let mut left: HashSet<&str> = stored.keys().map(String::as_str).collect();
    let mut upsert = tx.prepare(
        "INSERT INTO people_chunks (first, people, current, past, external, orphan, hash, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (first) DO UPDATE SET people = excluded.people, current = excluded.current,
             past = excluded.past, external = excluded.external, orphan = excluded.orphan,
             hash = excluded.hash, data = excluded.data",
    )?;
    let encode = |(run, first): &(Range<usize>, String)| -> serde_json::Result<Chunk> {
        chunks::encode(&people[run.clone()], |p| p.key.as_str(), first.clone(), &stored)
    };
    chunks::encoded_ahead(&parts, encode, |chunks| -> Result<()> {
        for (chunk, (run, first)) in chunks.zip(&parts) {
            let chunk = chunk?;
            left.remove(first.as_str());
            let Some(data) = &chunk.data else { continue };
            let [current, past, external, orphan] = counts(&people[run.clone()]);
            upsert.execute(params![first, chunk.records, current, past, external, orphan, chunk.hash, data])?;
        }
        Ok(())
    })?;
    let mut delete = tx.prepare("DELETE FROM people_chunks WHERE first = ?1")?;
    for first in left {
        delete.execute([first])?;
    }
    Ok(())
}

/// Migration 005's hook: moves the rows of `people` into chunks, then drops the table.
pub(super) fn rows_into_chunks(tx: &Transaction<'_>) -> rusqlite_migration::HookResult {
    use rusqlite_migration::HookError;
    let mut people = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT data FROM people")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let person: Person = serde_json::from_str(&row.get::<_, String>(0)?)
                .map_err(|e| HookError::Hook(format!("a stored person is corrupt: {e}")))?;
            people.push(person);
        }
    }
    write(tx, &people).map_err(|e| HookError::Hook(format!("{e:#}")))?;
    tx.execute_batch("DROP TABLE people")?;
    Ok(())
}

impl Store {
    /// Every resolved person, in listing order (the resolver's `prior`).
    pub fn people(&self) -> Result<Vec<Person>> {
        let total: i64 = self.conn.query_row("SELECT coalesce(sum(people), 0) FROM people_chunks", [], |r| r.get(0))?;
        let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or_default());
        let mut stmt = self.conn.prepare("SELECT data FROM people_chunks ORDER BY first")?;
        chunks::decode_rows(&mut stmt.query([])?, &mut out).context("a stored person is corrupt")?;
        Ok(out)
    }

    /// Streams people ordered by email (people without one last), then key, optionally of one
    /// lifecycle, a chunk at a time: a million people never sit in memory together. A filtered
    /// listing skips the chunks that hold nobody of that lifecycle.
    pub fn for_each_person(&self, lifecycle: Option<Lifecycle>, mut f: impl FnMut(Person) -> Result<()>) -> Result<()> {
        // The lifecycles' names are the names of the columns that count them.
        let filter = lifecycle.map_or("1".to_owned(), |l| format!("{} > 0", l.as_str()));
        let mut stmt = self.conn.prepare(&format!("SELECT data FROM people_chunks WHERE {filter} ORDER BY first"))?;
        let mut rows = stmt.query([])?;
        let mut chunk = Vec::new();
        while let Some(row) = rows.next()? {
            chunks::decode_into::<Person>(row.get_ref(0)?.as_blob()?, &mut chunk)
                .context("a stored person is corrupt")?;
            for p in chunk.drain(..) {
                if lifecycle.is_none_or(|l| l == p.lifecycle) {
                    f(p)?;
                }
            }
        }
        Ok(())
    }

    /// How many people there are of each lifecycle, in the order of [`Lifecycle::ALL`].
    pub fn lifecycle_counts(&self) -> Result<[usize; 4]> {
        let sums: [i64; 4] = self.conn.query_row(
            "SELECT coalesce(sum(current), 0), coalesce(sum(past), 0), coalesce(sum(external), 0),
                    coalesce(sum(orphan), 0)
             FROM people_chunks",
            [],
            |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
        )?;
        Ok(sums.map(|n| usize::try_from(n).unwrap_or_default()))
    }

    /// People whose primary email, alias or employee id is `query` (any case): usually one.
    /// A primary email is looked up in the chunks where it sorts; failing that, every chunk
    /// whose text mentions the query is read, and people whose employee id or primary email is
    /// the query are returned, or else those with it as an alias.
    pub fn find_people(&self, query: &str) -> Result<Vec<Person>> {
        let q = query.trim().to_lowercase();
        let is = |value: &Option<String>| value.as_deref().is_some_and(|v| v.to_lowercase() == q);
        let mut people: Vec<Person> = Vec::new();
        // Chunks from the last one starting before the email's first place to the first one
        // starting after its last.
        let mut stmt = self.conn.prepare(
            "SELECT data FROM people_chunks
             WHERE first >= coalesce((SELECT max(first) FROM people_chunks WHERE first <= ?1), '') AND first < ?2
             ORDER BY first",
        )?;
        let mut rows = stmt.query([format!("0{q}\u{1}"), format!("0{q}\u{2}")])?;
        while let Some(row) = rows.next()? {
            chunks::decode_into(row.get_ref(0)?.as_blob()?, &mut people).context("a stored person is corrupt")?;
        }
        people.retain(|p| is(&p.email));
        if !people.is_empty() {
            return Ok(people);
        }

        // The query as it appears in the chunks' JSON text.
        let quoted = serde_json::to_string(&q)?;
        let needle = &quoted[1..quoted.len() - 1];
        let (mut primary, mut alias) = (Vec::new(), Vec::new());
        let mut stmt = self.conn.prepare("SELECT data FROM people_chunks ORDER BY first")?;
        let mut rows = stmt.query([])?;
        let mut chunk = Vec::new();
        while let Some(row) = rows.next()? {
            let text = chunks::decompress(row.get_ref(0)?.as_blob()?).context("a stored person is corrupt")?;
            if !text.to_lowercase().contains(needle) {
                continue;
            }
            chunks::parse_into::<Person>(&text, &mut chunk).context("a stored person is corrupt")?;
            for p in chunk.drain(..) {
                if is(&p.employee_id) || is(&p.email) {
                    primary.push(p);
                } else if p.aliases.iter().any(|a| a.to_lowercase() == q) {
                    alias.push(p);
                }
            }
        }
        Ok(if primary.is_empty() { alias } else { primary })
    }
}
