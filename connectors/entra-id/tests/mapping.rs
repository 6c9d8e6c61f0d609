//! Snapshots of the mapping, one per recorded payload in `fixtures/`.

use chrono::NaiveDate;
use roster_entra_id::mapping::map_user;
use roster_entra_id::models::UsersPage;

#[test]
fn every_fixture_maps_as_recorded() {
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    insta::glob!("fixtures/*.json", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let page: UsersPage = serde_json::from_str(&text).unwrap();
        let users: Vec<_> = page.value.unwrap().iter().map(|u| map_user(u, today).unwrap()).collect();
        insta::assert_json_snapshot!(users);
    });
}
