//! Snapshots of the mapping over recorded UKG payloads (invented people), one per fixture.
//!
//! Each fixture is `{"person_details": [...], "employment_details": [...]}` in UKG's own shapes.
//! Besides the snapshot, every fixture is checked for PII leaking into the output: the values of
//! the PII keys it carries (SSN, national id, birth date, address...) must appear nowhere.

use chrono::NaiveDate;
use roster_ukg_pro::mapping::{MapOptions, map_all};
use roster_ukg_pro::models::{EmploymentRow, PersonRow};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    person_details: Vec<PersonRow>,
    employment_details: Vec<EmploymentRow>,
}

/// Keys whose values are PII roster must never carry, lowercased.
const PII_KEYS: [&str; 12] = [
    "ssn",
    "nationalid",
    "birthdate",
    "gender",
    "addressline1",
    "addressline2",
    "addresscity",
    "addresszipcode",
    "address",
    "homephone",
    "emergencycontacts",
    "salary",
];

/// Every string or number below the PII keys of `value`.
fn pii_values(value: &Value, under_pii: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pii_values(v, under_pii || PII_KEYS.contains(&k.to_lowercase().as_str()), out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| pii_values(v, under_pii, out)),
        Value::String(s) if under_pii => out.push(s.clone()),
        Value::Number(n) if under_pii => out.push(n.to_string()),
        _ => {}
    }
}

#[test]
fn mapping_snapshots() {
    let options = MapOptions { today: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(), department_org_level: 1 };
    insta::glob!("fixtures/*.json", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let fixture: Fixture = serde_json::from_str(&text).unwrap();
        let rows = fixture.person_details.len().max(fixture.employment_details.len());
        let users = map_all(fixture.person_details, fixture.employment_details, options).unwrap();
        assert!(users.len() >= rows, "no record is dropped");

        let output = serde_json::to_string(&users).unwrap();
        let mut pii = Vec::new();
        pii_values(&serde_json::from_str(&text).unwrap(), false, &mut pii);
        // Values too short to be told apart from ordinary text (a gender letter) are skipped.
        for value in pii.into_iter().filter(|v| v.len() >= 4) {
            assert!(!output.contains(&value), "PII value `{value}` leaked into the mapping of {}", path.display());
        }
        insta::assert_json_snapshot!(users);
    });
}

#[test]
fn the_department_level_is_configurable() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/two_companies.json")).unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    let options = MapOptions { today: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(), department_org_level: 2 };
    let users = map_all(fixture.person_details, fixture.employment_details, options).unwrap();
    let departments: Vec<_> = users.iter().map(|u| u.department.as_deref()).collect();
    assert_eq!(departments, [Some("HQ"), Some("UK"), Some("UK")]);
}
