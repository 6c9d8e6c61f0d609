//! `roster users`: the resolved people, streamed from the database.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, anyhow};
use roster_core::Lifecycle;

use crate::cli::UsersFormat;
use crate::output::{self, UserOut};

/// Prints the people (optionally of one lifecycle) ordered by email, then key. JSON, NDJSON and
/// CSV are written one person at a time, never holding everyone in memory; the table has to
/// measure its columns, so it does hold its rows.
pub fn users(db: &Path, lifecycle: Option<Lifecycle>, format: UsersFormat) -> Result<()> {
    // Reading must not create an empty database where none was.
    if !db.exists() {
        return Err(anyhow!("no database at {} yet: run `roster sync` first", db.display()));
    }
    let store = crate::store::open(db)?;
    if store.resolved_at()?.is_none() {
        return Err(anyhow!("nobody has been synced into {} yet: run `roster sync` first", db.display()));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        UsersFormat::Json => {
            let mut first = true;
            out.write_all(b"[")?;
            store.for_each_person(lifecycle, |p| {
                out.write_all(if first { b"\n  " } else { b",\n  " })?;
                first = false;
                serde_json::to_writer(&mut out, &UserOut::from(&p))?;
                Ok(())
            })?;
            out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
        }
        UsersFormat::Ndjson => store.for_each_person(lifecycle, |p| {
            serde_json::to_writer(&mut out, &UserOut::from(&p))?;
            out.write_all(b"\n")?;
            Ok(())
        })?,
        UsersFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(output::CSV_HEADER)?;
            store.for_each_person(lifecycle, |p| Ok(w.write_record(output::csv_row(&p))?))?;
            w.flush()?;
        }
        UsersFormat::Table => {
            let mut t = output::table(&["email", "name", "role", "department", "status", "lifecycle", "decided_by"]);
            let mut n = 0_usize;
            store.for_each_person(lifecycle, |p| {
                n += 1;
                t.add_row(output::table_row(&p));
                Ok(())
            })?;
            writeln!(out, "{t}\n{n} {}", if n == 1 { "person" } else { "people" })?;
        }
    }
    Ok(out.flush()?)
}
