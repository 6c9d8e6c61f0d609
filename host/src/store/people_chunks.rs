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
use std::collections::{HashMap, HashSet};
use std::ops::Range;

use anyhow::{Context, Result};
use roster_core::lifecycle::Person;
use roster_core::parallel::extend_in_runs;
use roster_core::{CompactString, Lifecycle};
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

/// What [`write`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Written {
    /// People new or different from the prior person of the same key.
    pub changed: usize,
    /// Prior people whose key no longer is anyone's.
    pub removed: usize,
    /// Stored chunks found unchanged without being encoded.
    pub kept: usize,
}

/// Stores `people` (in any order) in place of the stored ones, `prior` (as [`Store::people`]
/// read them, in listing order; or none): chunks stored as they would be written are left alone,
/// the others written, and stored chunks no longer cut are deleted. Returns how many people
/// changed and went, and how many chunks were left alone without being encoded.
///
/// A run of people equal, one for one, to the prior people of the stored chunk that begins
/// where the run does is that chunk unchanged: it is neither encoded nor looked at again when
/// people are counted. A resolution that changes a few of a million people then encodes and
/// counts their chunks only, not everyone (at a million people, encoding everyone took one and a
/// half to two seconds of both cores, and counting them by key two or three more). Other runs
/// are encoded and compared by hash.
pub(super) fn write(tx: &Transaction<'_>, prior: &[Person], people: &[Person]) -> Result<Written> {
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
    let stored_prior = stored_runs(tx, prior)?;
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
        let run = &people[run.clone()];
        if let (Some(was), Some(hash)) = (stored_prior.get(first.as_str()), stored.get(first))
            && prior[was.clone()].iter().eq(run.iter().copied())
        {
            return Ok(Chunk::unchanged(first.clone(), run.len(), *hash));
        }
        chunks::encode(run, |p| p.key.as_str(), first.clone(), &stored)
    };
    // Whether each part is a stored chunk unchanged.
    let mut kept = Vec::with_capacity(parts.len());
    chunks::encoded_ahead(&parts, encode, |chunks| -> Result<()> {
        for (chunk, (run, first)) in chunks.zip(&parts) {
            let chunk = chunk?;
            left.remove(first.as_str());
            kept.push(chunk.kept);
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
    let (changed, removed) = count_changes(prior, &people, &parts, &kept, &stored_prior);
    Ok(Written { changed, removed, kept: kept.iter().filter(|k| **k).count() })
}

/// How many of `people` are new or changed, and how many `prior` people went, leaving out the
/// parts `kept`: their people are the prior people of the chunk they begin (keys are unique, so
/// none of theirs is anywhere else).
fn count_changes(
    prior: &[Person],
    people: &[&Person],
    parts: &[(Range<usize>, String)],
    kept: &[bool],
    stored_prior: &HashMap<String, Range<usize>>,
) -> (usize, usize) {
    if prior.is_empty() {
        // A first resolution: everyone is new (and a million keys need no maps).
        return (people.len(), 0);
    }
    let mut prior_kept = vec![false; prior.len()];
    for ((_, first), _) in parts.iter().zip(kept).filter(|(_, k)| **k) {
        if let Some(was) = stored_prior.get(first) {
            prior_kept[was.clone()].fill(true);
        }
    }
    let others = || parts.iter().zip(kept).filter(|(_, k)| !**k).flat_map(|((run, _), _)| &people[run.clone()]);
    let old: HashMap<&str, &Person> =
        prior.iter().zip(&prior_kept).filter(|(_, k)| !**k).map(|(p, _)| (p.key.as_str(), p)).collect();
    let changed = others().filter(|p| !old.get(p.key.as_str()).is_some_and(|o| *o == **p)).count();
    let now: HashSet<&str> = others().map(|p| p.key.as_str()).collect();
    let removed = old.keys().filter(|key| !now.contains(*key)).count();
    (changed, removed)
}

/// Where each stored chunk's people lie in `prior`, by the chunk's first listing key, when
/// `prior` is what the chunks hold, one after another in their order (as [`Store::people`] reads
/// them): their counts add up to it and each chunk's first key is its first person's. Otherwise
/// (people read before another write, or none) nothing: every run is then encoded.
fn stored_runs(tx: &Transaction<'_>, prior: &[Person]) -> Result<HashMap<String, Range<usize>>> {
    let mut runs = HashMap::new();
    if prior.is_empty() {
        return Ok(runs);
    }
    let mut stmt = tx.prepare("SELECT first, people FROM people_chunks ORDER BY first")?;
    let mut rows = stmt.query([])?;
    let mut at: usize = 0;
    while let Some(row) = rows.next()? {
        let first: String = row.get(0)?;
        let len = usize::try_from(row.get::<_, i64>(1)?).unwrap_or(usize::MAX);
        let run = at..at.saturating_add(len);
        if len == 0 || run.end > prior.len() || listing_key(&prior[run.start]) != first {
            return Ok(HashMap::new());
        }
        at = run.end;
        runs.insert(first, run);
    }
    Ok(if at == prior.len() { runs } else { HashMap::new() })
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
    write(tx, &[], &people).map_err(|e| HookError::Hook(format!("{e:#}")))?;
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
        let is = |value: &Option<CompactString>| value.as_deref().is_some_and(|v| v.to_lowercase() == q);
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
                source_id: format!("u{}", 12 - i).into(),
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

    /// `people` written in one transaction over `prior`, and the stored people read back.
    fn write_over(store: &mut Store, prior: &[Person], people: &[Person]) -> (Written, Vec<Person>) {
        let tx = store.conn.transaction().unwrap();
        let written = write(&tx, prior, people).unwrap();
        tx.commit().unwrap();
        (written, store.people().unwrap())
    }

    #[test]
    fn chunks_of_unchanged_people_are_kept_unencoded_and_only_changes_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::store::open(&dir.path().join("roster.db")).unwrap();
        let hr = |n: usize, skip: usize| -> Vec<SourceUser> {
            (0..n)
                .filter(|i| *i != skip)
                .map(|i| SourceUser {
                    source_id: format!("u{i:04}").into(),
                    email: Some(format!("p{i:04}@acme.com").into()),
                    status: EmploymentStatus::Active,
                    ..SourceUser::default()
                })
                .collect()
        };
        let policy = Policy { sources: vec!["hr".into()], ..Policy::default() };
        let people =
            |users: &[SourceUser], prior: &[Person]| resolve(&[Snapshot { connection: "hr", users }], &policy, prior);
        let first = people(&hr(3000, usize::MAX), &[]);
        let (written, stored) = write_over(&mut store, &[], &first);
        assert_eq!((written.changed, written.removed, written.kept), (3000, 0, 0), "a first write");
        let chunks: i64 = store.conn.query_row("SELECT count(*) FROM people_chunks", [], |r| r.get(0)).unwrap();
        let chunks = usize::try_from(chunks).unwrap();
        assert!(chunks > 10, "{chunks} chunks");

        let (written, again) = write_over(&mut store, &stored, &people(&hr(3000, usize::MAX), &stored));
        assert_eq!((written.changed, written.removed, written.kept), (0, 0, chunks), "nothing changed");
        assert_eq!(again, stored);

        // One person absent from the listing (now past), one terminated, one new, one no longer
        // resolved at all: at most two chunks each are encoded.
        let mut users = hr(3001, 1234);
        users[2000].status = EmploymentStatus::Terminated;
        let mut after = people(&users, &again);
        after.retain(|p| p.key != "hr:u0100");
        let (written, stored) = write_over(&mut store, &again, &after);
        assert_eq!((written.changed, written.removed), (3, 1));
        assert!(written.kept >= chunks - 8, "{} of {chunks} chunks kept", written.kept);
        let mut want = after.clone();
        want.sort_by_key(listing_key);
        assert_eq!(stored, want, "the stored people are the ones written");

        // People that are not what the chunks hold (read before another write) keep nothing
        // unencoded, and are counted against in full.
        let (written, again) = write_over(&mut store, &first, &after);
        assert_eq!((written.changed, written.removed, written.kept), (3, 1, 0));
        assert_eq!(again, stored);
    }
}
