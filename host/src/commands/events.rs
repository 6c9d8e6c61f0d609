//! `roster events`: who joined, left, rejoined or moved, and when.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use roster_core::CompactString;
use roster_core::lifecycle::{EventKind, PersonState};

use crate::cli::EventsFormat;
use crate::output;
use crate::store::{EventFilter, StoredEvent};

/// The CSV columns.
pub const CSV_HEADER: [&str; 12] = [
    "at",
    "kind",
    "email",
    "person",
    "decided_by",
    "lifecycle_before",
    "lifecycle_after",
    "role_before",
    "role_after",
    "department_before",
    "department_after",
    "command",
];

fn csv_row(e: &StoredEvent) -> [String; 12] {
    let s = |v: Option<&str>| v.unwrap_or_default().to_owned();
    let l = |st: &PersonState| st.lifecycle.map(|l| l.as_str().to_owned()).unwrap_or_default();
    [
        e.at.clone(),
        e.kind.as_str().to_owned(),
        s(e.email.as_deref()),
        e.person.clone(),
        s(e.decided_by.as_deref()),
        l(&e.before),
        l(&e.after),
        s(e.before.role.as_deref()),
        s(e.after.role.as_deref()),
        s(e.before.department.as_deref()),
        s(e.after.department.as_deref()),
        s(e.command.as_deref()),
    ]
}

/// What changed, in a few words: `past -> current`, or for a move `role: A -> B`.
pub fn change(e: &StoredEvent) -> String {
    let (b, a) = (&e.before, &e.after);
    if e.kind != EventKind::Moved {
        return format!(
            "{} -> {}",
            crate::engine::lifecycle_name(b.lifecycle),
            crate::engine::lifecycle_name(a.lifecycle)
        );
    }
    let v = |x: &Option<CompactString>| x.as_deref().unwrap_or("-").to_owned();
    let mut parts = Vec::new();
    if b.role != a.role {
        parts.push(format!("role: {} -> {}", v(&b.role), v(&a.role)));
    }
    if b.department != a.department {
        parts.push(format!("department: {} -> {}", v(&b.department), v(&a.department)));
    }
    parts.join("; ")
}

/// The events as a table: time, kind, who, deciding connection, what changed.
pub fn table(events: &[StoredEvent]) -> comfy_table::Table {
    let mut t = output::table(&["at", "kind", "who", "decided_by", "change"]);
    for e in events {
        t.add_row(vec![
            e.at.clone(),
            e.kind.as_str().to_owned(),
            e.email.clone().unwrap_or_else(|| e.person.clone()),
            e.decided_by.clone().unwrap_or_default(),
            change(e),
        ]);
    }
    t
}

/// `roster events`: JSON and CSV stream from the database one event at a time.
pub fn events(db: &Path, filter: &EventFilter, format: EventsFormat) -> Result<()> {
    let store = crate::open_existing(db)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        EventsFormat::Json => {
            let mut first = true;
            out.write_all(b"[")?;
            store.for_each_event(filter, |e| {
                out.write_all(if first { b"\n  " } else { b",\n  " })?;
                first = false;
                serde_json::to_writer(&mut out, &e)?;
                Ok(())
            })?;
            out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
        }
        EventsFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(CSV_HEADER)?;
            store.for_each_event(filter, |e| Ok(w.write_record(csv_row(&e))?))?;
            w.flush()?;
        }
        EventsFormat::Table => {
            let mut all = Vec::new();
            store.for_each_event(filter, |e| {
                all.push(e);
                Ok(())
            })?;
            if all.is_empty() {
                writeln!(
                    out,
                    "no events{}",
                    if filter.since.is_some() || !filter.kinds.is_empty() { " match" } else { " recorded yet" }
                )?;
            } else {
                writeln!(out, "{}\n{} event{}", table(&all), all.len(), crate::config::plural(all.len()))?;
            }
        }
    }
    Ok(out.flush()?)
}
