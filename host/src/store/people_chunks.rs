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

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use anyhow::{Context, Result};
use roster_core::Lifecycle;
use roster_core::lifecycle::Person;
use roster_core::parallel::extend_in_runs;
use rusqlite::{Transaction, params};

use super::Store;
use super::chunks::{self, Chunk};

/// Where a person sorts: `0`, their lowercase email, `\u{1}` and their key; `1` and their key
/// when they have no email. Compared byte by byte (as `SQLite` compares text), that orders by
/// email, then key, people without an email last.
fn listing_key(p: &Person) -> String {
    let mut key = Vec::new();
    key.extend(listing_bytes(lowercase_email(p).as_deref(), &p.key));
    String::from_utf8(key).unwrap_or_default()
}

/// A person's email in lowercase, borrowed when it is lowercase already (most are).
fn lowercase_email(p: &Person) -> Option<Cow<'_, str>> {
    p.email.as_deref().map(|email| {
        if email.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            Cow::Owned(email.to_lowercase())
        } else {
            Cow::Borrowed(email)
        }
    })
}

/// The bytes of a listing key ([`listing_key`]), from the lowercase email and the key.
fn listing_bytes<'a>(email: Option<&'a str>, key: &'a str) -> impl Iterator<Item = u8> + 'a {
    let head: &[u8] = match email {
        Some(email) => email.as_bytes(),
        None => &[],
    };
    let (mark, separator): (&[u8], &[u8]) = if email.is_some() { (b"0", b"\x01") } else { (b"1", b"") };
    mark.iter().chain(head).chain(separator).chain(key.as_bytes()).copied()
}

/// `people` in listing order. Sorted by the first 32 bytes of the listing keys read into two
/// integers, whole emails and keys compared only where those are equal, and no key allocated:
/// sorting a million people by their key strings took 0.4-0.7 s, two scattered strings read for
/// each comparison.
fn in_listing_order(people: &[Person]) -> Vec<&Person> {
    let mut emails: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(people.len());
    extend_in_runs(&mut emails, people.len(), PARALLEL_FROM, |run, out| {
        out.extend(people[run].iter().map(lowercase_email));
    });
    let mut order: Vec<([u128; 2], usize)> = Vec::with_capacity(people.len());
    extend_in_runs(&mut order, people.len(), PARALLEL_FROM, |run, out| {
        out.extend(run.map(|i| {
            let mut prefix = [0_u8; 32];
            let mut at = 0;
            let (mark, email): (u8, &[u8]) = match &emails[i] {
                Some(email) => (b'0', email.as_bytes()),
                None => (b'1', &[]),
            };
            for part in [&[mark][..], email, if mark == b'0' { b"\x01" } else { b"" }, people[i].key.as_bytes()] {
                let n = part.len().min(32 - at);
                prefix[at..at + n].copy_from_slice(&part[..n]);
                at += n;
            }
            let (high, low) = prefix.split_at(16);
            let half = |bytes: &[u8]| u128::from_be_bytes(bytes.try_into().unwrap_or_default());
            ([half(high), half(low)], i)
        }));
    });
    order.sort_unstable_by(|(pa, a), (pb, b)| {
        pa.cmp(pb).then_with(|| {
            listing_cmp((emails[*a].as_deref(), &people[*a].key), (emails[*b].as_deref(), &people[*b].key))
        })
    });
    order.into_iter().map(|(_, i)| &people[i]).collect()
}

/// Below this many people, listing keys are read on one thread.
const PARALLEL_FROM: usize = 50_000;

/// How two listing keys compare, given their lowercase emails and keys, as their bytes would.
/// That is by email, then by key, as long as the shorter email is not followed in the longer by
/// a byte below `\x02` (no address has one; compared byte by byte if one does).
fn listing_cmp(a: (Option<&str>, &str), b: (Option<&str>, &str)) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Greater, Less};
    match (a.0, b.0) {
        (Some(ea), Some(eb)) => {
            let (short, long) = if ea.len() <= eb.len() { (ea, eb) } else { (eb, ea) };
            if long.len() > short.len() && long.starts_with(short) && long.as_bytes()[short.len()] < 2 {
                return listing_bytes(a.0, a.1).cmp(listing_bytes(b.0, b.1));
            }
            ea.cmp(eb).then_with(|| a.1.cmp(b.1))
        }
        (Some(_), None) => Less,
        (None, Some(_)) => Greater,
        (None, None) => a.1.cmp(b.1),
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
    let started = std::time::Instant::now();
    let people = in_listing_order(people);
    tracing::debug!(order_ms = started.elapsed().as_millis(), "people put in listing order");
    let parts: Vec<(Range<usize>, String)> = chunks::runs(people.iter().map(|p| p.key.as_str()))
        .into_iter()
        .map(|run| {
            let first = listing_key(people[run.start]);
            (run, first)
        })
        .collect();
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
    /// lifecycle, a batch of chunks at a time: a million people never sit in memory together. A
    /// filtered listing skips the chunks that hold nobody of that lifecycle, and parses only the
    /// lines that say it (a tenth of the people, when it asks who left).
    pub fn for_each_person(&self, lifecycle: Option<Lifecycle>, mut f: impl FnMut(Person) -> Result<()>) -> Result<()> {
        // The lifecycles' names are the names of the columns that count them.
        let filter = lifecycle.map_or("1".to_owned(), |l| format!("{} > 0", l.as_str()));
        let mut stmt = self.conn.prepare(&format!("SELECT data FROM people_chunks WHERE {filter} ORDER BY first"))?;
        // As `serde_json` writes a person's lifecycle: a line without it is someone else. A value
        // that holds these characters has its quotes escaped, so it cannot be mistaken for it.
        let says = lifecycle.map(|l| format!("\"lifecycle\":\"{}\"", l.as_str()));
        let keep = |line: &str| says.as_deref().is_none_or(|says| line.contains(says));
        chunks::for_each_batch(&mut stmt.query([])?, "a stored person is corrupt", keep, |people: Vec<Person>| {
            for p in people {
                if lifecycle.is_none_or(|l| l == p.lifecycle) {
                    f(p)?;
                }
            }
            Ok(())
        })
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

#[cfg(test)]
mod tests {
    use roster_core::lifecycle::{Policy, Snapshot, resolve};
    use roster_core::{EmploymentStatus, SourceUser};

    use super::*;

    #[test]
    fn people_are_ordered_as_their_listing_keys_are() {
        // Emails sharing their first 32 bytes and more, in mixed case and beyond ASCII, people
        // without one, and emails that begin with another and go on with a byte below `\x02`.
        let emails = [
            Some("alexander.johnson1@acme.com"),
            Some("Alexander.Johnson@acme.com"),
            Some("alexander.johnson@acme.co"),
            Some("ÅSA.Lind@acme.com"),
            Some("åsa.lind@acme.com"),
            Some("zoe@acme.com"),
            None,
            None,
            Some("alexander.johnson1@acme.com"),
            Some("alexandra.konstantinopoulou@acme.example"),
            Some("alexandra.konstantinopoulou@acme.example\u{1}b"),
            Some("alexandra.konstantinopoulou@acme.example\u{0}"),
        ];
        let users: Vec<SourceUser> = emails
            .iter()
            .enumerate()
            .map(|(i, email)| SourceUser {
                source_id: format!("u{}", 12 - i),
                email: email.map(Into::into),
                status: EmploymentStatus::Active,
                ..SourceUser::default()
            })
            .collect();
        let policy = Policy { sources: vec!["hr".into()], match_on: Vec::new(), ..Policy::default() };
        let people = resolve(&[Snapshot { connection: "hr", users: &users }], &policy, &[]);
        assert_eq!(people.len(), emails.len());
        let mut want: Vec<String> = people.iter().map(listing_key).collect();
        want.sort();
        let got: Vec<String> = in_listing_order(&people).into_iter().map(listing_key).collect();
        assert_eq!(got, want);
        let alexander = people.iter().find(|p| p.key == "hr:u11").unwrap();
        assert_eq!(listing_key(alexander), "0alexander.johnson@acme.com\u{1}hr:u11");
    }
}
