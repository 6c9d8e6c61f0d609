//! A listing against files that go wrong: each fails naming the file and where, or keeps the
//! person with a problem; never a shorter listing that reads as people who left.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test by panicking")]

mod common;

use std::fmt::Write as _;
use std::path::Path;

use roster_core::{Connector, EmploymentStatus, ErrorKind, PageSink};
use tempfile::TempDir;

const SETTINGS: &str = "path = \"people.csv\"\n[columns]\nsource_id = \"Id\"\nstatus = \"Status\"\nemail = \"Email\"\n";

fn with_file(name: &str, contents: &str, settings: &str) -> (TempDir, roster_hr_file::HrFileConnector) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), contents).unwrap();
    let connector = common::connect(settings, dir.path());
    (dir, connector)
}

fn failure(name: &str, contents: &str, settings: &str) -> (ErrorKind, String) {
    let (_dir, connector) = with_file(name, contents, settings);
    let e = common::list(&connector).expect_err("the listing fails");
    (e.kind(), e.to_string())
}

#[test]
fn a_missing_file_is_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let connector = common::connect(SETTINGS, dir.path());
    let e = common::list(&connector).unwrap_err();
    let file = dir.path().join("people.csv");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains(&format!("cannot read the HR file `{}`", file.display())), "{e}");
    let probes = common::check(&connector);
    assert_eq!(probes.len(), 1, "nothing else is probed without the file: {probes:?}");
    assert!(probes[0].starts_with("file: error cannot read the HR file"), "{probes:?}");
}

#[test]
fn a_missing_column_is_named_with_the_columns_the_file_has() {
    let (kind, message) = failure("people.csv", "Id,State,Email\n1,active,a@acme.example\n", SETTINGS);
    assert_eq!(kind, ErrorKind::Config);
    assert!(
        message.ends_with("mapped columns missing: status = \"Status\"; the file has: Id, State, Email"),
        "{message}"
    );
}

#[test]
fn the_check_names_the_missing_columns_and_the_ones_the_file_has() {
    let (_dir, connector) = with_file("people.csv", "Id,State,Mail\n1,active,a@acme.example\n", SETTINGS);
    let probes = common::check(&connector);
    assert_eq!(probes.len(), 2, "no status check without the status column: {probes:?}");
    assert!(probes[0].starts_with("file: ok "), "{probes:?}");
    assert!(
        probes[1]
            .ends_with("mapped columns missing: status = \"Status\", email = \"Email\"; the file has: Id, State, Mail"),
        "{probes:?}"
    );
}

#[test]
fn a_malformed_row_fails_the_listing_naming_its_line() {
    let csv = "Id,Status,Email\n1,active,a@acme.example\n2,active\n3,active,c@acme.example\n";
    let (kind, message) = failure("people.csv", csv, SETTINGS);
    assert_eq!(kind, ErrorKind::InvalidResponse);
    assert!(
        message.contains("people.csv") && message.contains("line 3 has 2 fields where the header has 3"),
        "{message}"
    );

    let latin1 = b"Id,Status,Email\n1,active,a@acme.example\n2,active,b\xe9@acme.example\n".to_vec();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.csv"), latin1).unwrap();
    let e = common::list(&common::connect(SETTINGS, dir.path())).unwrap_err();
    assert!(e.to_string().ends_with("line 3 is not UTF-8 text: export the file as UTF-8"), "{e}");

    let json = "[{\"Id\": 1, \"Status\": \"active\"}, {\"Id\": 2, \"Status\": \"act";
    let (kind, message) = failure("people.json", json, &SETTINGS.replace("people.csv", "people.json"));
    assert_eq!(kind, ErrorKind::InvalidResponse);
    assert!(message.contains("people.json") && message.contains("not valid JSON"), "{message}");

    let ndjson = "{\"Id\": 1, \"Status\": \"active\"}\n{\"Id\": 2 \"Status\": \"active\"}\n";
    let (_, message) = failure("people.ndjson", ndjson, &SETTINGS.replace("people.csv", "people.ndjson"));
    assert!(message.contains("line 2: not valid JSON"), "{message}");
}

#[test]
fn a_row_without_a_source_id_fails_the_listing() {
    let csv = "Id,Status,Email\n1,active,a@acme.example\n ,active,b@acme.example\n";
    let (kind, message) = failure("people.csv", csv, SETTINGS);
    assert_eq!(kind, ErrorKind::InvalidResponse);
    assert!(message.contains("line 3 has no value in the source id column `Id`"), "{message}");
    let json = "[{\"Id\": 1, \"Status\": \"active\"}, {\"Status\": \"active\"}]";
    let (_, message) = failure("people.json", json, &SETTINGS.replace("people.csv", "people.json"));
    assert!(message.contains("record 2 has no value in the source id column `Id`"), "{message}");
}

#[test]
fn records_roster_cannot_make_sense_of_are_kept_as_unknown() {
    let csv = "Id,Status,Email\n1,Retired,a@acme.example\n2,,b@acme.example\n3,active,c@acme.example\n";
    let (_dir, connector) = with_file("people.csv", csv, SETTINGS);
    let users = common::list(&connector).unwrap();
    let statuses: Vec<_> = users.iter().map(|u| (u.source_id.as_str(), u.status, u.problems.len())).collect();
    assert_eq!(
        statuses,
        [("1", EmploymentStatus::Unknown, 1), ("2", EmploymentStatus::Unknown, 1), ("3", EmploymentStatus::Active, 0)]
    );
}

#[test]
fn a_date_not_in_the_date_format_is_a_problem_of_the_person_who_is_kept() {
    let settings = format!("date_format = \"%d.%m.%Y\"\n{SETTINGS}hire_date = \"Hired\"\n");
    let csv = "Id,Status,Email,Hired\n1,active,a@acme.example,2019-02-01\n2,active,b@acme.example,01.02.2019\n";
    let (_dir, connector) = with_file("people.csv", csv, &settings);
    let users = common::list(&connector).unwrap();
    assert_eq!(users.len(), 2, "nobody is dropped");
    assert_eq!((users[0].status, users[0].hire_date), (EmploymentStatus::Active, None));
    assert_eq!(users[0].problems, ["Hired `2019-02-01` is not a date in date_format `%d.%m.%Y`"]);
    assert_eq!(users[1].hire_date, chrono::NaiveDate::from_ymd_opt(2019, 2, 1));
    assert!(users[1].problems.is_empty(), "{:?}", users[1].problems);
}

#[test]
fn a_byte_order_mark_and_windows_line_ends_are_read_as_spreadsheets_write_them() {
    let csv = "\u{feff}Id,Status,Email\r\n1,active,a@acme.example\r\n2,Active ,b@acme.example\r\n";
    let (_dir, connector) = with_file("people.csv", csv, SETTINGS);
    let users = common::list(&connector).unwrap();
    let read: Vec<_> = users.iter().map(|u| (u.source_id.as_str(), u.status, u.email.as_deref())).collect();
    assert_eq!(
        read,
        [
            ("1", EmploymentStatus::Active, Some("a@acme.example")),
            ("2", EmploymentStatus::Active, Some("b@acme.example"))
        ]
    );
    assert!(common::check(&connector).iter().all(|p| p.contains(": ok ")), "{:?}", common::check(&connector));
}

#[test]
fn a_json_document_that_is_not_an_array_is_refused() {
    let (kind, message) =
        failure("people.json", "{\"Id\": 1, \"Status\": \"active\"}", &SETTINGS.replace("people.csv", "people.json"));
    assert_eq!(kind, ErrorKind::InvalidResponse);
    assert!(message.contains("expected an array of records"), "{message}");
}

/// Rows of a generated export, with a decoy column.
fn big_csv(rows: usize) -> String {
    let mut csv = String::from("Id,Status,Email,SSN\n");
    for i in 0..rows {
        let status = if i % 10 == 0 { "terminated" } else { "active" };
        let _ = writeln!(csv, "{i},{status},person{i}@acme.example,{:09}", i * 7);
    }
    csv
}

#[test]
fn a_large_file_streams_in_bounded_pages() {
    const ROWS: usize = 50_000;
    let (_dir, connector) = with_file("people.csv", &big_csv(ROWS), SETTINGS);
    let rt = common::runtime();
    let (largest, pages, users) = rt.block_on(async {
        let (mut sink, mut rx) = PageSink::channel(2);
        let listing = tokio::spawn(async move { connector.list_users(&mut sink).await });
        let (mut largest, mut pages, mut users) = (0, 0, 0);
        while let Some(page) = rx.recv().await {
            largest = largest.max(page.len());
            pages += 1;
            users += page.len();
        }
        let summary = listing.await.unwrap().unwrap();
        assert_eq!(summary.users, ROWS as u64);
        (largest, pages, users)
    });
    assert_eq!(users, ROWS, "every row arrives");
    assert_eq!(largest, roster_hr_file::connector::PAGE_SIZE, "pages are bounded");
    assert_eq!(pages, ROWS.div_ceil(roster_hr_file::connector::PAGE_SIZE));
}

#[test]
fn a_consumer_that_stops_reading_stops_the_listing() {
    let (_dir, connector) = with_file("people.csv", &big_csv(20_000), SETTINGS);
    let rt = common::runtime();
    let e = rt.block_on(async {
        let (mut sink, mut rx) = PageSink::channel(1);
        let listing = tokio::spawn(async move { connector.list_users(&mut sink).await });
        let first = rx.recv().await.unwrap();
        assert!(!first.is_empty());
        drop(rx);
        listing.await.unwrap().unwrap_err()
    });
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
}

#[test]
fn relative_paths_are_relative_to_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("exports")).unwrap();
    std::fs::write(dir.path().join("exports/people.csv"), "Id,Status,Email\n1,active,a@acme.example\n").unwrap();
    let connector = common::connect(&SETTINGS.replace("people.csv", "exports/people.csv"), dir.path());
    assert_eq!(common::list(&connector).unwrap().len(), 1);
    assert!(Path::new(&dir.path().join("exports/people.csv")).exists());
}
