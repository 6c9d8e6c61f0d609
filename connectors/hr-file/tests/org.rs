//! A generated organisation (the one every sandbox serves) exported as a file in each format and
//! read back through the registry, the way `roster sync` reads it: every person, with the status
//! HR means, and not one value of the SSN, birth date and home address columns.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test by panicking")]

mod common;

use common::export;
use roster_core::sandbox::Org;
use roster_core::{ConnectContext, EmploymentStatus, ManagerRef, collect_users, find_connector};
use roster_hr_file::ID;
use roster_hr_file::credentials::Format;

fn org() -> Org {
    Org::generate(300, 7, common::today())
}

/// Connects through the registry with `path = "<file>"` relative to `dir`, as a `roster.toml`
/// beside the export would.
fn connect(dir: &std::path::Path, file: &str) -> Box<dyn roster_core::Connector> {
    let toml = export::settings(std::path::Path::new(file));
    let value: toml::Value = toml::from_str(&toml).unwrap();
    let raw = serde_json::to_value(value).unwrap();
    let ctx = ConnectContext { today: common::today(), base_dir: dir.to_path_buf(), ..ConnectContext::now() };
    find_connector(ID).unwrap().connect(&raw, &ctx).unwrap()
}

#[test]
fn every_format_reads_back_the_organisation_and_none_of_its_pii() {
    let org = org();
    let rows = export::rows(&org);
    for (format, file) in
        [(Format::Csv, "people.csv"), (Format::Json, "people.json"), (Format::Ndjson, "people.ndjson")]
    {
        let dir = tempfile::tempdir().unwrap();
        export::write(&dir.path().join(file), format, &rows);
        let connector = connect(dir.path(), file);
        let users = common::runtime().block_on(collect_users(&*connector)).unwrap();

        assert_eq!(users.len(), org.people.len(), "{file}: every person");
        for (person, user) in org.people.iter().zip(&users) {
            assert_eq!(user.source_id, person.employee_number, "{file}: in file order");
            assert_eq!(user.status, person.status, "{file}: {} ({:?})", user.source_id, user.raw_status);
            assert_eq!(user.email.as_deref(), Some(person.email.as_str()), "{file}");
            assert_eq!(user.aliases, person.aliases, "{file}");
            assert_eq!(user.hire_date, Some(person.hire_date), "{file}");
            assert_eq!(user.termination_date, person.termination_date, "{file}");
            let manager = person.manager.map(|m| ManagerRef::SourceId(org.people[m].employee_number.as_str().into()));
            assert_eq!(user.manager, manager, "{file}");
            assert!(user.problems.is_empty(), "{file}: {:?}", user.problems);
        }
        let statuses: std::collections::BTreeSet<_> = users.iter().map(|u| u.status).collect();
        assert!(
            statuses.is_superset(&[EmploymentStatus::PreHire, EmploymentStatus::Terminated].into()),
            "{file}: the organisation has pre-hires and leavers: {statuses:?}"
        );

        let kept = serde_json::to_string(&users).unwrap();
        for i in 0..rows.len() {
            for decoy in [export::decoy_ssn(i), export::decoy_birth_date(i), export::decoy_address(i)] {
                assert!(!kept.contains(&decoy), "{file}: `{decoy}` from a column nobody mapped was kept");
            }
        }
    }
}

#[test]
fn the_check_of_a_good_export_passes_every_probe() {
    let org = org();
    let dir = tempfile::tempdir().unwrap();
    export::write(&dir.path().join("people.csv"), Format::Csv, &export::rows(&org));
    let connector = connect(dir.path(), "people.csv");
    let report = common::runtime().block_on(connector.check());
    let names: Vec<_> = report.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["file", "columns", "statuses"]);
    assert!(report.is_ok(), "{report:?}");
    let columns = report.probes[1].result.as_ref().unwrap();
    assert_eq!(columns, "every mapped column is there (12 of the file's 15)");
}
