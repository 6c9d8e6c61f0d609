//! The conformance kit against an export file, once per format.
//!
//! There is no vendor to emulate: the kit's "sandbox" here is the kit's organisation written as an
//! export file in a temporary directory, and a fault is the file rewritten the way it can go
//! wrong. The cases about the file's content apply: the baseline, a file cut off half-way, a file
//! that is not JSON from some record on (JSON and NDJSON: both are the kit's JSON faults), an
//! unmappable status and a missing source id. The cases about HTTP (429s, 5xx, slow answers,
//! 401s, huge bodies, tokens) and about paging (repeating or empty first pages) cannot happen to
//! a file read front to back, and are skipped with that reason. A CSV cut off or malformed is
//! tested in `tests/listing.rs`: the kit's messages are about JSON.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test by panicking")]

mod common;

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use common::export;
use roster_core::sandbox::Org;
use roster_core::testkit::{Fault, FaultySandbox, PAGE_SIZE, Unsupported};
use roster_core::{ConnectContext, Connector};
use roster_hr_file::credentials::Format;
use roster_hr_file::{Credentials, HrFileConnector, ID};
use tempfile::TempDir;

/// A file format the kit runs against.
trait Kind: Send + Sync + 'static {
    const FORMAT: Format;
    const FILE: &'static str;
}

struct Csv;
impl Kind for Csv {
    const FORMAT: Format = Format::Csv;
    const FILE: &'static str = "people.csv";
}

struct Json;
impl Kind for Json {
    const FORMAT: Format = Format::Json;
    const FILE: &'static str = "people.json";
}

struct Ndjson;
impl Kind for Ndjson {
    const FORMAT: Format = Format::Ndjson;
    const FILE: &'static str = "people.ndjson";
}

/// The kit's organisation as an export file of format `K`.
struct ExportFile<K> {
    dir: TempDir,
    rows: export::Rows,
    faults: AtomicU64,
    kind: PhantomData<K>,
}

impl<K: Kind> ExportFile<K> {
    fn path(&self) -> PathBuf {
        self.dir.path().join(K::FILE)
    }

    /// The index of the first record of `page`.
    fn first_of(&self, page: u32) -> Result<usize, Unsupported> {
        let row = (page as usize - 1) * PAGE_SIZE;
        if row < self.rows.len() { Ok(row) } else { Err(Unsupported(format!("the file has no page {page}"))) }
    }

    /// Writes the file again with `bytes` in place, counting a fault served.
    fn rewrite(&self, bytes: &[u8]) {
        std::fs::write(self.path(), bytes).unwrap();
        self.faults.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl<K: Kind> FaultySandbox for ExportFile<K> {
    const CONNECTOR: &'static str = ID;

    async fn start(org: &Org) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let file = Self { dir, rows: export::rows(org), faults: AtomicU64::new(0), kind: PhantomData };
        export::write(&file.path(), K::FORMAT, &file.rows);
        Ok(file)
    }

    fn connect(&self, ctx: &ConnectContext) -> Result<Box<dyn Connector>, String> {
        // Through the registry, as an admin's configuration connects: the schema is checked.
        let value: toml::Value = toml::from_str(&export::settings(&self.path())).map_err(|e| e.to_string())?;
        let raw = serde_json::to_value(value).map_err(|e| e.to_string())?;
        let descriptor = roster_core::find_connector(ID).map_err(|e| e.to_string())?;
        descriptor.connect(&raw, ctx).map_err(|e| e.to_string())?;
        // The same settings again, for a connection whose pages are the kit's size: the registry's
        // has pages of 1,000, and the kit needs a fault at page 2 to strike mid-listing.
        let credentials: Credentials = roster_core::credentials::parse(&raw).map_err(|e| e.to_string())?;
        let settings = credentials.resolve(&ctx.base_dir).map_err(|e| e.to_string())?;
        Ok(Box::new(HrFileConnector::new(settings, ctx.today).with_page_size(PAGE_SIZE)))
    }

    fn expected_source_ids(&self) -> BTreeSet<String> {
        self.rows.iter().map(|r| r[0].clone()).collect()
    }

    fn inject(&self, fault: &Fault, page: u32) -> Result<(), Unsupported> {
        if fault.answers().is_some() && !matches!(fault, Fault::Truncated | Fault::Malformed) {
            return Err(Unsupported(format!("{fault} is an HTTP answer; the file is read from disk")));
        }
        match fault {
            Fault::Truncated | Fault::Malformed if K::FORMAT == Format::Csv => {
                return Err(Unsupported(
                    "the kit's cut-off and malformed answers are JSON; tests/listing.rs covers a CSV's".into(),
                ));
            }
            Fault::Truncated => {
                // Cut off in the middle of the page's first record.
                let row = self.first_of(page)?;
                let (bytes, starts) = export::render(K::FORMAT, &self.rows);
                let end = starts.get(row + 1).copied().unwrap_or(bytes.len());
                self.rewrite(&bytes[..usize::midpoint(starts[row], end)]);
            }
            Fault::Malformed => {
                // From the page's first record on, an HTML error page, as a failed download leaves.
                let row = self.first_of(page)?;
                let (mut bytes, starts) = export::render(K::FORMAT, &self.rows);
                bytes.truncate(starts[row]);
                bytes.extend_from_slice(b"<html><body><h1>502 Bad Gateway</h1></body></html>\n");
                self.rewrite(&bytes);
            }
            Fault::UnmappableRecord => {
                let mut rows = self.rows.clone();
                rows[self.first_of(page)?][1] = "Z".into();
                self.rewrite(&export::render(K::FORMAT, &rows).0);
            }
            Fault::MissingSourceId => {
                let mut rows = self.rows.clone();
                rows[self.first_of(page)?][0] = String::new();
                self.rewrite(&export::render(K::FORMAT, &rows).0);
            }
            Fault::RepeatingPage | Fault::EmptyFirstPage => {
                return Err(Unsupported("a file is read once, front to back: it has no pages to repeat".into()));
            }
            Fault::TokenExpiresMidListing => {
                return Err(Unsupported("a file needs no access token".into()));
            }
            other => return Err(Unsupported(format!("no way to inject {other} into a file"))),
        }
        Ok(())
    }

    fn faults_served(&self) -> u64 {
        self.faults.load(Ordering::Relaxed)
    }
}

mod csv {
    roster_core::conformance_tests!(super::ExportFile<super::Csv>);
}

mod json {
    roster_core::conformance_tests!(super::ExportFile<super::Json>);
}

mod ndjson {
    roster_core::conformance_tests!(super::ExportFile<super::Ndjson>);
}

/// The kit's skips are notes, not failures: make sure the cases that apply to a file do run, and
/// pass, for every format.
#[tokio::test]
async fn the_cases_about_a_files_content_run_for_every_format() {
    use roster_core::testkit::{Verdict, cases, run_case};
    let applies = |name: &str| matches!(name, "baseline" | "unmappable_record" | "missing_source_id");
    let json_only = |name: &str| matches!(name, "truncated_json" | "malformed_json");
    for case in cases::all() {
        let verdicts = [
            ("csv", run_case::<ExportFile<Csv>>(&case).await),
            ("json", run_case::<ExportFile<Json>>(&case).await),
            ("ndjson", run_case::<ExportFile<Ndjson>>(&case).await),
        ];
        for (format, verdict) in verdicts {
            let runs = applies(case.name) || (json_only(case.name) && format != "csv");
            let verdict = verdict.unwrap_or_else(|e| panic!("{format}, {}: {e}", case.name));
            assert_eq!(verdict == Verdict::Passed, runs, "{format}, {}: {verdict:?}", case.name);
        }
    }
}
