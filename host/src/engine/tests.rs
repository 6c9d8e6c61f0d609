//! What an admin reads: preview, explain and events, pinned as insta snapshots over a small
//! company whose every person stands for one rule. Timestamps are replaced by `[at]`.

use std::sync::Arc;

use roster_core::lifecycle::Mode;
use roster_core::{Connector, EmploymentStatus as S, SourceUser};

use crate::commands::{events, explain};
use crate::config::Config;
use crate::output::Ui;
use crate::store::{EventFilter, Store, StoredEvent};
use crate::sync::tests::{config, fake, person, sync_all};

fn with(id: &str, status: S, role: &str, department: &str) -> SourceUser {
    SourceUser {
        role: Some(role.into()),
        department: Some(department.into()),
        raw_status: Some(status.as_str().to_uppercase().into()),
        ..person(id, status)
    }
}

/// HR and an identity provider, as they are after the first sync.
fn hr() -> Vec<SourceUser> {
    vec![
        with("ann", S::Active, "Engineer", "Engineering"),
        with("bob", S::Terminated, "Accountant", "Finance"),
        with("cy", S::OnLeave, "Designer", "Product"),
        with("dee", S::Active, "Recruiter", "People"),
        SourceUser { email: Some("eve@partner.com".into()), ..with("eve", S::Active, "Contractor", "Product") },
    ]
}

fn idp() -> Vec<SourceUser> {
    let account = |id: &str, status: S| SourceUser {
        source_id: roster_core::compact_str::format_compact!("idp-{id}"),
        raw_status: Some(roster_core::compact_str::format_compact!("accountEnabled={}", status == S::Active)),
        ..person(id, status)
    };
    vec![account("ann", S::Active), account("bob", S::Active), account("cy", S::Disabled), account("fay", S::Active)]
}

fn connections(hr: &[SourceUser], idp: &[SourceUser]) -> Vec<(&'static str, Arc<dyn Connector>)> {
    vec![("hr", fake(hr, None)), ("idp", fake(idp, None))]
}

/// Replaces every stored timestamp in `text` by `[at]`.
fn redact(store: &Store, text: &str) -> String {
    let mut times: Vec<String> = Vec::new();
    store
        .for_each_event(&EventFilter::default(), |e| {
            times.push(e.at);
            Ok(())
        })
        .unwrap();
    times.extend(store.applied_policy().unwrap().map(|(_, at)| at));
    times.extend(store.snapshot_versions().unwrap().into_iter().map(|v| v.taken_at));
    times.extend(store.resolved_at().unwrap());
    let mut text = text.to_owned();
    for t in times {
        text = text.replace(&t, "[at]");
    }
    text
}

/// A company synced twice under `sources = ["hr"]` (dee moves to another team in between), with
/// the file then switched to `any-active` over hr and idp: bob, terminated in HR but still active
/// in the identity provider, and fay, whom HR does not know, become current.
async fn company(dir: &std::path::Path) -> (Config, Store) {
    let mut store = crate::store::open(&dir.join("roster.db")).unwrap();
    sync_all(&config(connections(&hr(), &idp()), &["hr"]), &mut store, false).await.unwrap();
    let mut later = hr();
    later[3] = with("dee", S::Active, "Head of Recruiting", "People");
    sync_all(&config(connections(&later, &idp()), &["hr"]), &mut store, false).await.unwrap();
    let mut switched = config(connections(&later, &idp()), &["hr", "idp"]);
    switched.lifecycle.mode = Mode::AnyActive;
    (switched, store)
}

#[tokio::test]
async fn preview_shows_transitions_people_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let (switched, store) = company(dir.path()).await;
    let text = crate::engine::plan::preview_table(&switched, &store).unwrap();
    insta::assert_snapshot!("preview", redact(&store, &text));

    let plan = crate::engine::plan::plan(&switched, &store).unwrap();
    let mut json = serde_json::to_value(&plan).unwrap();
    json["made_at"] = "[at]".into();
    insta::assert_json_snapshot!(
        "preview_plan",
        serde_json::from_str::<serde_json::Value>(&redact(&store, &json.to_string())).unwrap()
    );
}

#[tokio::test]
async fn explain_and_events_after_applying() {
    let dir = tempfile::tempdir().unwrap();
    let (switched, mut store) = company(dir.path()).await;
    crate::engine::plan::apply(&switched, &mut store, None, true, &Ui { quiet: true }).unwrap();

    let mut all: Vec<StoredEvent> = Vec::new();
    store
        .for_each_event(&EventFilter::default(), |e| {
            all.push(e);
            Ok(())
        })
        .unwrap();
    insta::assert_snapshot!("events", redact(&store, &events::table(&all).to_string()));

    let applied = store.applied_policy().unwrap();
    for (name, query) in [("explain_offboarding_gap", "bob@acme.com"), ("explain_external", "EVE@partner.com")] {
        let people = store.find_people(query).unwrap();
        assert_eq!(people.len(), 1, "{query}");
        let x = explain::Explanation::of(&store, &people[0], applied.as_ref().map(|(p, _)| p)).unwrap();
        insta::assert_snapshot!(name, redact(&store, &explain::text(&x, applied.as_ref())));
        if name == "explain_offboarding_gap" {
            let json = serde_json::to_string(&x).unwrap();
            insta::assert_json_snapshot!(
                "explain_offboarding_gap_json",
                serde_json::from_str::<serde_json::Value>(&redact(&store, &json)).unwrap()
            );
        }
    }
}

#[test]
fn a_snapshot_kept_in_memory_stands_in_only_while_the_store_has_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::open(&dir.path().join("roster.db")).unwrap();
    let config = config(connections(&hr(), &idp()), &["hr"]);
    let commit = |users: Vec<SourceUser>| {
        let mut writer = store.snapshot_writer("hr", "ukg-pro").unwrap();
        writer.stage(users);
        writer.commit(100.0, true).unwrap().1.expect("replaced")
    };
    let ours = commit(hr());
    let state = crate::engine::State::load_with(&config, &store, std::slice::from_ref(&ours)).unwrap();
    assert!(Arc::ptr_eq(&state.snapshots[0].1, &ours.users), "the committed snapshot is used as it is in memory");

    // Another roster process commits a newer listing of `hr`: ours no longer stands in for it.
    let theirs = commit(hr().into_iter().take(2).collect());
    let state = crate::engine::State::load_with(&config, &store, std::slice::from_ref(&ours)).unwrap();
    assert_eq!(state.snapshots[0].1.len(), 2, "the store's newer snapshot is read");
    assert_eq!(*state.snapshots[0].1, *theirs.users);
}
