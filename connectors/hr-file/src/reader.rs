//! Reading an export one row at a time: only the mapped columns, never the whole file in memory.
//!
//! The key design decision: a row is one optional string per mapped field ([`Row`]), read
//! straight from the file. Columns nobody mapped (national ids, birth dates, home addresses) are
//! skipped by the CSV reader's index and by `IgnoredAny` in JSON; they never become a value of
//! ours. The cost: a JSON value roster does map must be a string, number, boolean, null or (for
//! aliases) an array of strings; objects there are reported as problems of the row.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use roster_core::CompactString;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::credentials::{Field, Format, Settings};

/// One record: a value per field of [`Field::ALL`], and where it was in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// `line N` (CSV, NDJSON) or `record N` (JSON), for messages.
    pub at: String,
    /// The values, indexed by [`Field::index`]; blank values are `None`. Most values are short
    /// enough to be stored inline, without a heap allocation.
    pub values: Vec<Option<CompactString>>,
    /// What could not be read into a value (a JSON object where a string was expected).
    pub problems: Vec<String>,
}

impl Row {
    fn new(at: String) -> Self {
        Self { at, values: vec![None; Field::ALL.len()], problems: Vec::new() }
    }

    /// The value of `field`.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.values[field.index()].as_deref()
    }

    /// Takes the value of `field` out of the row, leaving `None`.
    pub fn take(&mut self, field: Field) -> Option<CompactString> {
        self.values[field.index()].take()
    }

    fn set(&mut self, field: Field, value: &str) {
        let value = value.trim();
        if !value.is_empty() {
            self.values[field.index()] = Some(CompactString::from(value));
        }
    }
}

/// Why the file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// It cannot be opened or read.
    Io(std::io::Error),
    /// Mapped columns are missing from its header (CSV) or first record (JSON).
    MissingColumns {
        /// The `[columns]` entries whose column is missing, as `key = "column"`.
        missing: Vec<String>,
        /// The columns the file has.
        found: Vec<String>,
    },
    /// It is not well formed where this says.
    Malformed(String),
    /// The consumer stopped the reading (a callback's own error, already reported).
    Stopped(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::MissingColumns { missing, found } => write!(
                f,
                "mapped columns missing: {}; the file has: {}",
                missing.join(", "),
                if found.is_empty() { "no columns".to_owned() } else { found.join(", ") }
            ),
            Self::Malformed(message) | Self::Stopped(message) => f.write_str(message),
        }
    }
}

/// Reads every row of the file in order, calling `each` on it; stops at the first error, or when
/// `each` returns one.
pub fn read_rows(settings: &Settings, each: &mut dyn FnMut(Row) -> Result<(), String>) -> Result<(), ReadError> {
    let file = File::open(&settings.path).map_err(ReadError::Io)?;
    let reader = BufReader::with_capacity(256 * 1024, file);
    match settings.format {
        Format::Csv => read_csv(settings, reader, each),
        Format::Ndjson => read_ndjson(settings, reader, each),
        Format::Json => read_json(settings, reader, each),
    }
}

/// The columns of the file: the CSV header, or the keys of the first JSON record.
pub fn columns_of(settings: &Settings) -> Result<Vec<String>, ReadError> {
    let file = File::open(&settings.path).map_err(ReadError::Io)?;
    let reader = BufReader::new(file);
    match settings.format {
        Format::Csv => {
            let mut csv = csv_reader(settings, reader);
            let header = csv.headers().map_err(|e| csv_error(&e))?;
            Ok(header.iter().map(|h| h.trim().to_owned()).collect())
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_reader(reader);
            let mut first = None;
            let read = de.deserialize_seq(FirstOf(&mut first));
            // Once the first record's keys are in, the rest of the file is not this probe's
            // business: FirstOf stops there, with an error that is not one.
            match (read, first) {
                (_, Some(keys)) => Ok(keys),
                (Ok(()), None) => Ok(Vec::new()),
                (Err(e), None) => Err(json_error(&e, "the file")),
            }
        }
        Format::Ndjson => {
            for (n, line) in reader.lines().enumerate() {
                let at = format!("line {}", n + 1);
                let line = line.map_err(|e| ReadError::Malformed(format!("cannot read {at}: {e}")))?;
                if !line.trim().is_empty() {
                    let mut de = serde_json::Deserializer::from_str(&line);
                    return Keys.deserialize(&mut de).map_err(|e| json_error(&e, &at));
                }
            }
            Ok(Vec::new())
        }
    }
}

fn csv_reader<R: std::io::Read>(settings: &Settings, reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().delimiter(settings.delimiter).has_headers(true).flexible(false).from_reader(reader)
}

/// A CSV error in words an admin can act on, naming the line.
fn csv_error(e: &csv::Error) -> ReadError {
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            format!(
                "line {line} has {len} fields where the header has {expected_len}: a wrong delimiter, a value \
                 with the delimiter in it but no quotes, or a file cut off (truncated) mid-row"
            )
        }
        csv::ErrorKind::Utf8 { pos, .. } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            format!("line {line} is not UTF-8 text: export the file as UTF-8")
        }
        _ => match e.position() {
            Some(p) => format!("line {}: {e}", p.line()),
            None => e.to_string(),
        },
    };
    ReadError::Malformed(message)
}

fn read_csv(
    settings: &Settings,
    reader: impl std::io::Read,
    each: &mut dyn FnMut(Row) -> Result<(), String>,
) -> Result<(), ReadError> {
    let mut csv = csv_reader(settings, reader);
    let header: Vec<String> = csv.headers().map_err(|e| csv_error(&e))?.iter().map(|h| h.trim().to_owned()).collect();
    let mut indices = Vec::with_capacity(settings.columns.len());
    let mut missing = Vec::new();
    for (field, column) in &settings.columns {
        match header.iter().position(|h| h == column) {
            Some(i) => indices.push((*field, i)),
            None => missing.push(format!("{} = \"{column}\"", field.key())),
        }
    }
    if !missing.is_empty() {
        return Err(ReadError::MissingColumns { missing, found: header });
    }
    let mut record = csv::StringRecord::new();
    while csv.read_record(&mut record).map_err(|e| csv_error(&e))? {
        let line = record.position().map_or(0, csv::Position::line);
        let mut row = Row::new(format!("line {line}"));
        for &(field, i) in &indices {
            if let Some(value) = record.get(i) {
                row.set(field, value);
            }
        }
        each(row).map_err(ReadError::Stopped)?;
    }
    Ok(())
}

fn json_error(e: &serde_json::Error, at: &str) -> ReadError {
    if e.is_io() {
        return ReadError::Malformed(format!("cannot read {at}: {e}"));
    }
    ReadError::Malformed(format!("{at}: not valid JSON: {e}"))
}

fn read_ndjson(
    settings: &Settings,
    reader: impl BufRead,
    each: &mut dyn FnMut(Row) -> Result<(), String>,
) -> Result<(), ReadError> {
    for (n, line) in reader.lines().enumerate() {
        let at = format!("line {}", n + 1);
        let line = line.map_err(|e| ReadError::Malformed(format!("cannot read {at}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(&line);
        let row = RowSeed { settings, at: at.clone() }.deserialize(&mut de).map_err(|e| json_error(&e, &at))?;
        de.end().map_err(|e| json_error(&e, &at))?;
        each(row).map_err(ReadError::Stopped)?;
    }
    Ok(())
}

fn read_json(
    settings: &Settings,
    reader: impl std::io::Read,
    each: &mut dyn FnMut(Row) -> Result<(), String>,
) -> Result<(), ReadError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut stopped = None;
    let result = de.deserialize_seq(EachRow { settings, each, stopped: &mut stopped });
    if let Some(message) = stopped {
        return Err(ReadError::Stopped(message));
    }
    result.map_err(|e| json_error(&e, "the file"))?;
    de.end().map_err(|e| json_error(&e, "the file"))
}

/// Visits the top-level array one record at a time: the file is never held whole.
struct EachRow<'a> {
    settings: &'a Settings,
    each: &'a mut dyn FnMut(Row) -> Result<(), String>,
    stopped: &'a mut Option<String>,
}

impl<'de> Visitor<'de> for EachRow<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0usize;
        loop {
            n += 1;
            let seed = RowSeed { settings: self.settings, at: format!("record {n}") };
            let Some(row) = seq.next_element_seed(seed)? else { return Ok(()) };
            if let Err(message) = (self.each)(row) {
                *self.stopped = Some(message.clone());
                return Err(de::Error::custom(message));
            }
        }
    }
}

/// Reads the keys of the first record of the top-level array, then stops reading.
struct FirstOf<'a>(&'a mut Option<Vec<String>>);

impl<'de> Visitor<'de> for FirstOf<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.0 = seq.next_element_seed(Keys)?;
        match self.0 {
            // Stops serde_json here instead of reading (and checking) the whole file.
            Some(_) => Err(de::Error::custom("the first record is all the columns probe reads")),
            None => Ok(()),
        }
    }
}

/// The keys of one JSON record. Its values are skipped unread, as in [`RowSeed`]: the columns
/// probe does not read a national id either.
struct Keys;

impl<'de> DeserializeSeed<'de> for Keys {
    type Value = Vec<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<String>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Keys {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            keys.push(key);
        }
        Ok(keys)
    }
}

/// One JSON record: mapped keys into the row, every other key skipped unread.
struct RowSeed<'a> {
    settings: &'a Settings,
    at: String,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Row;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Row, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Row;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
        let mut row = Row::new(self.at);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let mut fields = self.settings.columns.iter().filter(|(_, c)| *c == key).map(|(f, _)| *f).peekable();
            if fields.peek().is_none() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = match map.next_value::<Scalar>()? {
                Scalar::Text(text) => text,
                Scalar::List(items) => items.join(&self.settings.aliases_separator),
                Scalar::Null => continue,
                Scalar::Other => {
                    row.problems.push(format!("`{key}` is not a string, number or list of strings"));
                    continue;
                }
            };
            for field in fields {
                row.set(field, &value);
            }
        }
        Ok(row)
    }
}

/// A mapped JSON value.
enum Scalar {
    Text(String),
    List(Vec<String>),
    Null,
    Other,
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean, null or list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        let mut items = Vec::new();
        let mut other = false;
        while let Some(item) = seq.next_element::<Scalar>()? {
            match item {
                Scalar::Text(t) => items.push(t),
                Scalar::Null => {}
                Scalar::List(_) | Scalar::Other => other = true,
            }
        }
        Ok(if other { Scalar::Other } else { Scalar::List(items) })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// Whether `path` exists and can be opened, and how large it is.
pub fn probe_file(path: &Path) -> Result<u64, std::io::Error> {
    let file = File::open(path)?;
    Ok(file.metadata()?.len())
}
