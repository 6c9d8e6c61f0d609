//! Snapshots of the mapping, one per recorded `users.list` page in `fixtures/`.

use roster_google_workspace::mapping::map_user;
use roster_google_workspace::models::UsersPage;

#[test]
fn every_fixture_maps_as_recorded() {
    insta::glob!("fixtures/*.json", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let page: UsersPage = serde_json::from_str(&text).unwrap();
        let users: Vec<_> = page.users.unwrap_or_default().iter().map(|u| map_user(u).unwrap()).collect();
        insta::assert_json_snapshot!(users);
    });
}
