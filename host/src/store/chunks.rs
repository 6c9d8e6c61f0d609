//! Records stored a chunk at a time: a snapshot of a million records is about eight thousand rows,
//! not a million, and a chunk whose records did not change is not written again.
//!
//! A chunk is a run of records in id order, stored as JSON lines compressed with LZ4
//! ([`compress`]): one record a line, as `serde_json` writes it (`json.rs` writes the same bytes
//! faster; neither ever writes a raw newline, inside a string or out). Where runs end depends on
//! the records' ids alone, as backup tools cut files by their content: a run ends after a record
//! whose id hashes to a multiple of [`AVERAGE`], or after [`MAX`] records without one. Adding or
//! removing a record therefore changes the chunk it falls in (and, where it ends a run, the one
//! after) and leaves every other chunk as it was, so an unchanged snapshot writes nothing and a
//! changed one writes the chunks that changed.
//!
//! The cost is at the other end: reading one record reads its chunk, and one changed record
//! rewrites its chunk (about [`AVERAGE`] records). The store reads snapshots whole (to resolve)
//! and a record alone only for `roster explain`, so the trade pays: at 100k people, a row per
//! record took 0.3-0.4 s to merge into `SQLite`, most of it a B-tree insert per record.
//!
//! Hashes are XXH3, a published algorithm whose values do not change between builds: chunks
//! are cut and compared across runs of different versions of roster.

use std::collections::HashSet;
use std::ops::Range;

use anyhow::Context;
use roster_core::parallel::{extend_in_runs, made_ahead};
use roster_core::prefetch::ask_ahead;
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use super::json::JsonLine;

/// A run ends after a record whose id hashes to a multiple of this: runs average this many
/// records (about 50 KB of a UKG snapshot).
pub(super) const AVERAGE: u64 = 128;

/// A run also ends after this many records. Without a cut for eight times the average, which
/// happens to one run in three thousand, a chunk is cut by count: such a cut moves when a record
/// is added before it, so it is kept rare.
pub(super) const MAX: usize = 1024;

/// Where the runs of records with these ids, in order, begin and end.
pub(super) fn runs<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for id in ids {
        end += 1;
        if ends_run(id, end - start) {
            runs.push(start..end);
            start = end;
        }
    }
    if start < end {
        runs.push(start..end);
    }
    runs
}

/// Whether a run of `len` records whose last has `id` ends there.
pub(super) fn ends_run(id: &str, len: usize) -> bool {
    xxh3_64(id.as_bytes()).is_multiple_of(AVERAGE) || len >= MAX
}

/// One line of a chunk, by its hashes: enough to tell which records a write changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Line {
    /// Of the whole line: equal lines are the same record, unchanged.
    text: u64,
    /// Of the record's id: a record whose text changed but whose id did not was updated.
    id: u64,
}

/// One run of records, encoded to be stored.
#[derive(Debug)]
pub(super) struct Chunk {
    /// The id of its first record: chunks are stored under it, and found by it.
    pub first: String,
    /// Records in it.
    pub records: i64,
    /// XXH3-128 of the records' JSON lines: a stored chunk with the same first id and hash holds
    /// the same records.
    pub hash: [u8; 16],
    /// The JSON lines, compressed ([`compress`]); `None` when the chunk is stored as it is and
    /// need not be written (nor compressed).
    pub data: Option<Vec<u8>>,
    /// Known to be stored as it is without being encoded ([`Chunk::unchanged`]).
    pub kept: bool,
    lines: Vec<Line>,
}

impl Chunk {
    /// A chunk known to hold what is stored under `first` (`hash`) without being encoded: its
    /// records are equal to the ones read from there. Nothing of it is written.
    pub(super) fn unchanged(first: String, records: usize, hash: [u8; 16]) -> Self {
        Self {
            first,
            records: i64::try_from(records).unwrap_or(i64::MAX),
            hash,
            data: None,
            kept: true,
            lines: Vec::new(),
        }
    }
}

/// The hashes of the chunks stored, by their first id: what a write compares its chunks with.
pub(super) type Stored = std::collections::HashMap<String, [u8; 16]>;

/// Reads the stored chunks' hashes from a query of (first id, hash) rows. A hash of the wrong
/// size (which roster never writes) matches nothing, so its chunk is written again.
pub(super) fn stored(rows: &mut rusqlite::Rows<'_>) -> rusqlite::Result<Stored> {
    let mut stored = Stored::new();
    while let Some(row) = rows.next()? {
        let hash = row.get_ref(1)?.as_blob()?.try_into().unwrap_or_default();
        stored.insert(row.get(0)?, hash);
    }
    Ok(stored)
}

/// Encodes a non-empty run of records, to be stored under `first`; `id` names each record.
/// Unless `stored` holds the same chunk under `first` already, its lines are compressed to be
/// written.
pub(super) fn encode<T: JsonLine>(
    records: &[T],
    id: impl Fn(&T) -> &str,
    first: String,
    stored: &Stored,
) -> serde_json::Result<Chunk> {
    let mut text = Vec::with_capacity(records.len() * 1024);
    let mut lines = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        // Within a run only: a run's first records (a tenth of its 128, on average) are not asked
        // for ahead.
        ask_ahead(records, i, T::prefetch, T::prefetch_text);
        if !text.is_empty() {
            text.push(b'\n');
        }
        let start = text.len();
        record.write_json(&mut text)?;
        lines.push(Line { text: xxh3_64(&text[start..]), id: xxh3_64(id(record).as_bytes()) });
    }
    let hash = xxh3_128(&text).to_le_bytes();
    let data = (stored.get(&first) != Some(&hash)).then(|| compress(&text));
    Ok(Chunk { first, records: i64::try_from(records.len()).unwrap_or(i64::MAX), hash, data, kept: false, lines })
}

/// Compresses a chunk's JSON lines with LZ4 (its block format, the text's length first).
///
/// Records of one connection repeat their keys and much of their values (a person names their
/// connection in their trace, provenance and records), so LZ4 stores a chunk of people in about
/// a twelfth of its text and one of source records in about a third, at several hundred
/// megabytes a second. Storing the text itself had `SQLite` write a million people's 780 MB
/// twice (to the WAL, then to the database file): seconds, against a fraction of one for
/// compressing them. The cost: `sqlite3` shows a chunk as bytes, not text.
pub(super) fn compress(text: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(text)
}

/// A stored chunk's JSON lines, decompressed and checked to be UTF-8.
pub(super) fn decompress(data: &[u8]) -> Result<String, CorruptChunk> {
    // A chunk holds at most `MAX` records and no record is near a megabyte: a larger length is
    // damage, refused before anything is allocated for it.
    const LARGEST: usize = MAX << 20;
    let (len, _) = lz4_flex::block::uncompressed_size(data).map_err(|e| CorruptChunk(e.to_string()))?;
    if len > LARGEST {
        return Err(CorruptChunk(format!("it claims to hold {len} bytes")));
    }
    let text = lz4_flex::block::decompress_size_prepended(data).map_err(|e| CorruptChunk(e.to_string()))?;
    String::from_utf8(text).map_err(|e| CorruptChunk(e.to_string()))
}

/// A stored chunk that cannot be read: the database was damaged, or written by something else.
#[derive(Debug, thiserror::Error)]
#[error("a stored chunk cannot be decompressed: {0}")]
pub(super) struct CorruptChunk(String);

/// Chunks encoded in one batch by [`encoded_ahead`]: about half a megabyte of records.
const CHUNKS_A_BATCH: usize = 4;

/// Encodes `parts` in order on every core, a few batches ahead of `consume`, which takes the
/// chunks in order on this thread (and writes them to `SQLite`). Encoding is most of a write's
/// work: serialising a million people takes seconds of a core, while `SQLite` stores their
/// compressed chunks in a fraction of that.
pub(super) fn encoded_ahead<P: Sync, R>(
    parts: &[P],
    encode: impl Fn(&P) -> serde_json::Result<Chunk> + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = serde_json::Result<Chunk>>) -> R,
) -> R {
    made_ahead(parts, CHUNKS_A_BATCH, encode, consume)
}

/// The records of a stored chunk, appended to `out`.
pub(super) fn decode_into<T: serde::de::DeserializeOwned>(data: &[u8], out: &mut Vec<T>) -> anyhow::Result<()> {
    parse_into(&decompress(data)?, out)?;
    Ok(())
}

/// Chunks decoded at once by [`decode_rows`] and [`for_each_batch`]: about eight thousand
/// records.
const DECODED_A_BATCH: usize = 64;

/// The records of every chunk a query returns (its first column), appended to `out` in order:
/// a batch of chunks at a time, decoded on every core. Parsing is what reading costs: a million
/// people took five seconds of one core. Only a batch of compressed chunks is held at once, and
/// only half a batch's records twice (the second core's, until they are appended).
pub(super) fn decode_rows<T: serde::de::DeserializeOwned + Send>(
    rows: &mut rusqlite::Rows<'_>,
    out: &mut Vec<T>,
) -> anyhow::Result<()> {
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(DECODED_A_BATCH);
    while next_batch(rows, &mut batch)? {
        decode_batch(&batch, |_| true, out)?;
    }
    Ok(())
}

/// Has `each` take the records of every chunk a query returns (its first column), in order, a
/// batch of chunks at a time decoded on every core; only lines that `keep` keeps are parsed. A
/// listing of a million people need not hold them all, nor parse them on one core. A chunk that
/// cannot be decoded is an error in the context `corrupt`; errors of `each` are its own.
pub(super) fn for_each_batch<T: serde::de::DeserializeOwned + Send>(
    rows: &mut rusqlite::Rows<'_>,
    corrupt: &str,
    keep: impl Fn(&str) -> bool + Sync,
    mut each: impl FnMut(Vec<T>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(DECODED_A_BATCH);
    while next_batch(rows, &mut batch)? {
        let mut records = Vec::new();
        decode_batch(&batch, &keep, &mut records).context(corrupt.to_owned())?;
        each(records)?;
    }
    Ok(())
}

/// Reads the next batch of chunks from `rows` into `batch`; false when there were none left.
fn next_batch(rows: &mut rusqlite::Rows<'_>, batch: &mut Vec<Vec<u8>>) -> rusqlite::Result<bool> {
    batch.clear();
    while batch.len() < DECODED_A_BATCH {
        let Some(row) = rows.next()? else { break };
        batch.push(row.get(0)?);
    }
    Ok(!batch.is_empty())
}

/// Decodes `batch` on every core, appending the records of the lines `keep` keeps to `out`.
fn decode_batch<T: serde::de::DeserializeOwned + Send>(
    batch: &[Vec<u8>],
    keep: impl Fn(&str) -> bool + Sync,
    out: &mut Vec<T>,
) -> anyhow::Result<()> {
    let failed = std::sync::Mutex::new(None);
    extend_in_runs(out, batch.len(), 2, |run, out| {
        for data in &batch[run] {
            let decoded = decompress(data).map_err(anyhow::Error::new).and_then(|text| {
                for line in text.split('\n').filter(|line| keep(line)) {
                    out.push(serde_json::from_str(line)?);
                }
                Ok(())
            });
            if let Err(e) = decoded {
                failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                return;
            }
        }
    });
    match failed.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The records of a chunk's decompressed JSON lines, appended to `out`.
pub(super) fn parse_into<T: serde::de::DeserializeOwned>(text: &str, out: &mut Vec<T>) -> serde_json::Result<()> {
    for line in text.split('\n') {
        out.push(serde_json::from_str(line)?);
    }
    Ok(())
}

/// Which records a write changed, from the lines of the chunks it wrote and of the stored chunks
/// they replaced: a record in a chunk left as it was is unchanged, and is in neither.
#[derive(Debug, Default)]
pub(super) struct Changes {
    written: Vec<Line>,
    replaced: Vec<Line>,
}

impl Changes {
    /// A chunk was written.
    pub(super) fn written(&mut self, chunk: &Chunk) {
        self.written.extend_from_slice(&chunk.lines);
    }

    /// A stored chunk was replaced or removed; `id` reads a record's id from its line.
    pub(super) fn replaced(
        &mut self,
        data: &[u8],
        id: impl Fn(&str) -> serde_json::Result<String>,
    ) -> anyhow::Result<()> {
        for line in decompress(data)?.split('\n') {
            self.replaced.push(Line { text: xxh3_64(line.as_bytes()), id: xxh3_64(id(line)?.as_bytes()) });
        }
        Ok(())
    }

    /// Records added, updated or removed. A record whose chunk was cut anew, but which is itself
    /// as it was, is not counted.
    pub(super) fn count(&self) -> u64 {
        if self.replaced.is_empty() {
            return self.written.len() as u64;
        }
        let before: HashSet<u64> = self.replaced.iter().map(|l| l.text).collect();
        let after: HashSet<u64> = self.written.iter().map(|l| l.text).collect();
        let ids_after: HashSet<u64> = self.written.iter().map(|l| l.id).collect();
        let added_or_updated = self.written.iter().filter(|l| !before.contains(&l.text)).count();
        let removed = self.replaced.iter().filter(|l| !after.contains(&l.text) && !ids_after.contains(&l.id)).count();
        (added_or_updated + removed) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Rec {
        id: String,
        text: String,
    }

    impl JsonLine for Rec {
        fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
            serde_json::to_writer(out, self)
        }
    }

    fn rec(i: usize, text: &str) -> Rec {
        Rec { id: format!("id{i:06}"), text: text.into() }
    }

    fn id_of(line: &str) -> serde_json::Result<String> {
        serde_json::from_str::<Rec>(line).map(|r| r.id)
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("id{i:06}")).collect()
    }

    #[test]
    fn runs_cover_every_record_in_order_and_none_is_longer_than_max() {
        let ids = ids(100_000);
        let runs = runs(ids.iter().map(String::as_str));
        assert_eq!(runs.first().map(|r| r.start), Some(0));
        assert_eq!(runs.last().map(|r| r.end), Some(ids.len()));
        assert!(runs.windows(2).all(|w| w[0].end == w[1].start), "contiguous");
        assert!(runs.iter().all(|r| !r.is_empty() && r.len() <= MAX));
        let average = ids.len() / runs.len();
        assert!((64..=256).contains(&average), "runs average {average} records");
        assert!(super::runs(std::iter::empty()).is_empty());
    }

    #[test]
    fn adding_a_record_changes_the_runs_around_it_only() {
        let mut ids = ids(20_000);
        let before = runs(ids.iter().map(String::as_str));
        ids.insert(10_000, "id010000a".into());
        let after = runs(ids.iter().map(String::as_str));
        let starts = |runs: &[Range<usize>], ids: &[String]| -> HashSet<String> {
            runs.iter().map(|r| ids[r.start].clone()).collect()
        };
        let mut without = ids.clone();
        without.remove(10_000);
        let (old, new) = (starts(&before, &without), starts(&after, &ids));
        // Runs are found by their first id: all but the one or two around the new record remain.
        assert!(old.symmetric_difference(&new).count() <= 2, "{:?}", old.symmetric_difference(&new));
    }

    /// Encodes `records` as a new chunk (nothing stored) under its first record's id.
    fn enc(records: &[Rec]) -> Chunk {
        encode(records, |r| &r.id, records[0].id.clone(), &Stored::new()).unwrap()
    }

    fn data(chunk: &Chunk) -> &[u8] {
        chunk.data.as_deref().expect("a chunk not stored is compressed")
    }

    #[test]
    fn a_chunk_decodes_to_its_records() {
        let records = vec![rec(1, "a\nb"), rec(2, "\"quoted\""), rec(3, "")];
        let chunk = enc(&records);
        assert_eq!((chunk.first.as_str(), chunk.records), ("id000001", 3));
        let text = decompress(data(&chunk)).unwrap();
        assert_eq!(text.lines().count(), 3, "a newline in a value is escaped");
        let mut back = Vec::new();
        decode_into::<Rec>(data(&chunk), &mut back).unwrap();
        assert_eq!(back, records);
        assert_eq!(enc(&records).hash, chunk.hash, "the same records, the same hash");
        assert_ne!(enc(&records[..2]).hash, chunk.hash);
    }

    #[test]
    fn a_chunk_stored_as_it_is_is_not_compressed_again() {
        let records = vec![rec(1, "a"), rec(2, "b")];
        let stored = Stored::from([("id000001".to_owned(), enc(&records).hash)]);
        let same = encode(&records, |r| &r.id, "id000001".into(), &stored).unwrap();
        assert!(same.data.is_none(), "nothing to write");
        let changed = [rec(1, "a"), rec(2, "B")];
        assert!(encode(&changed, |r| &r.id, "id000001".into(), &stored).unwrap().data.is_some());
        assert!(encode(&records, |r| &r.id, "id000000".into(), &stored).unwrap().data.is_some(), "stored elsewhere");
    }

    #[test]
    fn repeated_records_compress_and_damage_is_an_error_not_a_panic() {
        let records: Vec<Rec> = (0..128).map(|i| rec(i, "Software Engineer, ENGINEERING, ukg")).collect();
        let chunk = enc(&records);
        let text_len = decompress(data(&chunk)).unwrap().len();
        assert!(data(&chunk).len() * 4 < text_len, "{} bytes for {text_len}", data(&chunk).len());

        let mut cut = data(&chunk).to_vec();
        cut.truncate(cut.len() / 2);
        assert!(decompress(&cut).is_err(), "a truncated chunk");
        let mut huge = data(&chunk).to_vec();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decompress(&huge).unwrap_err().to_string();
        assert!(err.contains("claims to hold 4294967295 bytes"), "{err}");
        assert!(decompress(b"").is_err());
        assert!(decompress(&compress(&[0xff, 0xfe])).is_err(), "not UTF-8");
    }

    #[test]
    fn changes_count_records_not_lines_cut_anew() {
        let old = enc(&[rec(1, "a"), rec(2, "b"), rec(3, "c"), rec(4, "d")]);
        // 2 updated, 3 removed, 5 added; 1 and 4 as they were, in chunks cut differently.
        let new = [enc(&[rec(1, "a"), rec(2, "B")]), enc(&[rec(4, "d"), rec(5, "e")])];
        let mut changes = Changes::default();
        changes.replaced(data(&old), id_of).unwrap();
        for chunk in &new {
            changes.written(chunk);
        }
        assert_eq!(changes.count(), 3);

        let mut first = Changes::default();
        first.written(&old);
        assert_eq!(first.count(), 4, "with nothing replaced, every record written is new");
        let mut gone = Changes::default();
        gone.replaced(data(&old), id_of).unwrap();
        assert_eq!(gone.count(), 4, "every record removed");
    }
}
