//! Every fixture export mapped, as an insta snapshot: one per `tests/fixtures/*.toml` (the
//! connection's settings) and the file it names. Decoy columns (SSN, birth date, home address)
//! are in every fixture and must appear nowhere in what roster keeps.

mod common;

use std::path::Path;

const DECOYS: [&str; 8] =
    ["123-45-6789", "987-65-4321", "1980-01-01", "1979-03-03", "Springfield", "Hill Rd", "AB123456C", "1970-01-01"];

#[test]
fn fixtures_map_as_snapshotted() {
    insta::glob!("fixtures/*.toml", |path: &Path| {
        let toml = std::fs::read_to_string(path).unwrap();
        let connector = common::connect(&toml, path.parent().unwrap());
        let users = common::list(&connector).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json = serde_json::to_string(&users).unwrap();
        for decoy in DECOYS {
            assert!(!json.contains(decoy), "{}: `{decoy}` from an unmapped column was kept", path.display());
        }
        insta::assert_json_snapshot!(users);
    });
}

#[test]
fn every_fixture_passes_its_check_but_for_the_statuses_it_leaves_unmapped() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let probes = |name: &str| common::check(&common::connect(&std::fs::read_to_string(dir.join(name)).unwrap(), &dir));
    let csv = probes("semicolon.toml");
    assert!(csv[0].starts_with("file: ok ") && csv[0].contains("semicolon.csv is readable"), "{csv:?}");
    assert_eq!(csv[1], "columns: ok every mapped column is there (11 of the file's 14)");
    assert!(
        csv[2].starts_with("statuses: error status values with no entry in [statuses]: `Retired` (1 row)"),
        "{csv:?}"
    );
    let json = probes("array.toml");
    assert!(json[2].contains("`?` (1 row)"), "{json:?}");
    let ndjson = probes("lines.toml");
    assert!(ndjson[2].contains("`(empty)` (1 row)") && !ndjson[2].contains("ACTIVE"), "{ndjson:?}");
}
