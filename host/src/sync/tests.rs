//! `roster sync` end to end against fake connectors and a temporary database: independent
//! connections, failures that change nothing, thresholds that hold, the applied policy.

use std::sync::Arc;

use async_trait::async_trait;
use roster_core::lifecycle::{Mode, OnLeave};
use roster_core::{
    CheckReport, ConnectorError, EmploymentStatus, ErrorKind, Lifecycle, ListSummary, SourceUser, find_connector,
};

use super::*;
use crate::config::{LifecycleConfig, SafetyConfig};

/// A connector that lists fixed pages and can fail at one of them.
struct Fake {
    pages: Vec<Vec<SourceUser>>,
    fail_at: Option<usize>,
}

#[async_trait]
impl Connector for Fake {
    async fn check(&self) -> CheckReport {
        CheckReport::default()
    }

    async fn list_users(&self, sink: &mut PageSink) -> Result<ListSummary, ConnectorError> {
        for (i, page) in self.pages.iter().enumerate() {
            if self.fail_at == Some(i) {
                return Err(ConnectorError::new(ErrorKind::Unavailable, format!("page {i} failed")));
            }
            sink.send(page.clone()).await?;
        }
        Ok(ListSummary { users: sink.sent(), requests: self.pages.len() as u64 })
    }
}

pub(crate) fn person(id: &str, status: EmploymentStatus) -> SourceUser {
    SourceUser {
        source_id: id.into(),
        email: Some(format!("{id}@acme.com").into()),
        role: Some("Engineer".into()),
        status,
        ..SourceUser::default()
    }
}

pub(crate) fn staff(n: usize) -> Vec<SourceUser> {
    (0..n).map(|i| person(&format!("p{i:02}"), EmploymentStatus::Active)).collect()
}

pub(crate) fn fake(users: &[SourceUser], fail_at: Option<usize>) -> Arc<dyn Connector> {
    Arc::new(Fake { pages: users.chunks(4).map(<[SourceUser]>::to_vec).collect(), fail_at })
}

pub(crate) fn config(connections: Vec<(&str, Arc<dyn Connector>)>, sources: &[&str]) -> Config {
    let descriptor = find_connector("ukg-pro").unwrap();
    Config {
        path: "roster.toml".into(),
        connections: connections
            .into_iter()
            .map(|(name, connector)| Connection { name: name.into(), descriptor, connector })
            .collect(),
        lifecycle: LifecycleConfig {
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            domains: vec!["acme.com".into()],
            ..LifecycleConfig::default()
        },
        safety: SafetyConfig::default(),
        warnings: Vec::new(),
    }
}

pub(crate) async fn sync_all(config: &Config, store: &mut Store, force: bool) -> Result<()> {
    let selected: Vec<&Connection> = config.connections.iter().collect();
    run(config, store, &selected, force, &Ui { quiet: true }).await
}

fn exit_code(result: &Result<()>) -> u8 {
    result.as_ref().err().map_or(0, crate::error::exit_code)
}

pub(crate) fn events(store: &Store) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mut stmt = conn.prepare("SELECT kind, person FROM events ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<rusqlite::Result<_>>().unwrap()
}

#[tokio::test]
async fn a_failed_connection_keeps_its_snapshot_and_people_while_the_others_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = crate::store::open(&dir.path().join("roster.db")).unwrap();
    let (hr, apps) = (staff(10), vec![person("p00", EmploymentStatus::Active), person("x", EmploymentStatus::Active)]);
    let first = config(vec![("hr", fake(&hr, None)), ("apps", fake(&apps, None))], &["hr"]);
    assert_eq!(exit_code(&sync_all(&first, &mut store, false).await), 0);
    assert!(events(&store).is_empty(), "the first resolution is a baseline");
    let (snapshot, people) = (store.snapshot("hr").unwrap(), store.people().unwrap());

    // HR now lists everyone terminated, but fails at its second page; apps gains someone.
    let terminated: Vec<SourceUser> = hr.iter().map(|u| person(&u.source_id, EmploymentStatus::Terminated)).collect();
    let mut apps2 = apps.clone();
    apps2.push(person("y", EmploymentStatus::Active));
    let second = config(vec![("hr", fake(&terminated, Some(1))), ("apps", fake(&apps2, None))], &["hr"]);
    let result = sync_all(&second, &mut store, false).await;
    assert_eq!(exit_code(&result), 1);
    assert_eq!(
        format!("{:#}", result.unwrap_err()),
        "1 of 2 connections failed to sync: hr; their previous snapshots are kept\n  hr: page 1 failed"
    );

    assert_eq!(store.snapshot("hr").unwrap(), snapshot, "HR's snapshot is exactly as it was");
    assert_eq!(store.snapshot("apps").unwrap().unwrap().len(), 3, "apps synced regardless");
    let now = store.people().unwrap();
    assert!(people.iter().all(|p| now.contains(p)), "nobody HR decided changed");
    assert_eq!(now.len(), people.len() + 1, "y@acme.com, an orphan, joined the list");
    let hr_status = store.statuses().unwrap().into_iter().find(|s| s.name == "hr").unwrap();
    assert_eq!(hr_status.last_outcome.as_deref(), Some("failed"));
    assert!(hr_status.last_error.unwrap().contains("page 1 failed"));
}

#[tokio::test]
async fn thresholds_hold_changes_until_forced() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = crate::store::open(&dir.path().join("roster.db")).unwrap();
    let hr = staff(20);
    assert_eq!(exit_code(&sync_all(&config(vec![("hr", fake(&hr, None))], &["hr"]), &mut store, false).await), 0);

    // A listing 30% smaller: the snapshot is held.
    let shrunk = config(vec![("hr", fake(&hr[..14], None))], &["hr"]);
    assert_eq!(exit_code(&sync_all(&shrunk, &mut store, false).await), 3);
    assert_eq!(store.snapshot("hr").unwrap().unwrap().len(), 20);
    assert_eq!(store.pending_snapshot("hr").unwrap().unwrap().len(), 14, "the held listing is kept as pending");

    // Three of twenty terminated (15%): the snapshot goes in, the resolution is held.
    let mut leavers = hr.clone();
    for u in &mut leavers[..3] {
        u.status = EmploymentStatus::Terminated;
    }
    let people_before = store.people().unwrap();
    let result = sync_all(&config(vec![("hr", fake(&leavers, None))], &["hr"]), &mut store, false).await;
    assert_eq!(exit_code(&result), 3, "{result:?}");
    assert_eq!(store.people().unwrap(), people_before, "people and events were not changed");
    assert!(events(&store).is_empty());
    // What it would have done, by the numbers and by name.
    let held_config = config(vec![("hr", fake(&leavers, None))], &["hr"]);
    let Resolution::Held(text) =
        crate::engine::after_sync(&held_config, &mut store, false, &[], Vec::new(), &Ui { quiet: true }).unwrap()
    else {
        panic!("held again: the stored snapshot still makes three people leave")
    };
    assert!(text.contains("3 of 20 current people (15.0%) would leave"), "{text}");
    assert!(text.contains("current -> past") && text.contains("p00@acme.com, p01@acme.com, p02@acme.com"), "{text}");

    // The same data again, forced: three people left.
    let forced = sync_all(&config(vec![("hr", fake(&leavers, None))], &["hr"]), &mut store, true).await;
    assert_eq!(exit_code(&forced), 0, "{forced:?}");
    let left: Vec<(String, String)> = events(&store);
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|(kind, _)| kind == "left"));

    // One more leaver (1 of 17 current, under 10%) goes through without --force.
    leavers[5].status = EmploymentStatus::Terminated;
    assert_eq!(exit_code(&sync_all(&config(vec![("hr", fake(&leavers, None))], &["hr"]), &mut store, false).await), 0);
    assert_eq!(events(&store).len(), 4);
}

fn lifecycles(store: &Store) -> Vec<(String, Lifecycle, Option<String>)> {
    let mut people = Vec::new();
    store
        .for_each_person(None, |p| {
            people.push((p.email.unwrap().into(), p.lifecycle, p.decided_by.as_deref().map(str::to_owned)));
            Ok(())
        })
        .unwrap();
    people
}

#[tokio::test]
async fn a_changed_policy_changes_nothing_until_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = crate::store::open(&dir.path().join("roster.db")).unwrap();
    let hr = vec![person("a", EmploymentStatus::Active), person("b", EmploymentStatus::OnLeave)];
    let apps = vec![person("a", EmploymentStatus::Active), person("b", EmploymentStatus::Active)];
    let first = config(vec![("hr", fake(&hr, None)), ("apps", fake(&apps, None))], &["hr"]);
    sync_all(&first, &mut store, false).await.unwrap();
    let applied = store.applied_policy().unwrap().unwrap().0;
    assert_eq!(applied, first.policy(), "the first sync applies the configuration's policy");
    let by_hr = vec![
        ("a@acme.com".to_owned(), Lifecycle::Current, Some("hr".to_owned())),
        ("b@acme.com".to_owned(), Lifecycle::Current, Some("hr".to_owned())),
    ];
    assert_eq!(lifecycles(&store), by_hr);

    // The file now says apps decides, on-leave is past, any-active; apps no longer lists b.
    let mut changed = config(vec![("hr", fake(&hr, None)), ("apps", fake(&apps[..1], None))], &["apps"]);
    changed.lifecycle.on_leave = OnLeave::Past;
    changed.lifecycle.mode = Mode::AnyActive;
    assert_ne!(changed.policy(), applied);
    sync_all(&changed, &mut store, true).await.unwrap();
    assert_eq!(store.applied_policy().unwrap().unwrap().0, applied, "a sync never applies a policy");
    assert_eq!(lifecycles(&store), by_hr, "hr still decides: b on leave is current");

    // Preview shows what applying would do and changes nothing.
    let plan = crate::engine::plan::plan(&changed, &store).unwrap();
    assert_eq!(plan.transitions.len(), 1);
    assert_eq!((plan.transitions[0].from, plan.transitions[0].to), (Some(Lifecycle::Current), Some(Lifecycle::Past)));
    assert_eq!(plan.transitions[0].people[0].email.as_deref(), Some("b@acme.com"));
    assert_eq!(plan.events.len(), 1);
    assert_eq!(lifecycles(&store), by_hr);

    // Applying makes it the policy and records the event.
    let quiet = Ui { quiet: true };
    crate::engine::plan::apply(&changed, &mut store, None, true, &quiet).unwrap();
    assert_eq!(store.applied_policy().unwrap().unwrap().0, changed.policy());
    assert_eq!(
        lifecycles(&store),
        [
            ("a@acme.com".to_owned(), Lifecycle::Current, Some("apps".to_owned())),
            ("b@acme.com".to_owned(), Lifecycle::Past, Some("apps".to_owned())),
        ],
        "apps decides now: b is absent from its complete snapshot"
    );
    assert_eq!(events(&store), [("left".to_owned(), "hr:b".to_owned())]);

    // The same policy again changes nothing.
    sync_all(&changed, &mut store, false).await.unwrap();
    crate::engine::plan::apply(&changed, &mut store, None, false, &quiet).unwrap();
    assert_eq!(events(&store).len(), 1);
}

#[tokio::test]
async fn a_plan_is_applied_exactly_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = crate::store::open(&dir.path().join("roster.db")).unwrap();
    let quiet = Ui { quiet: true };
    let hr = vec![person("a", EmploymentStatus::Active), person("b", EmploymentStatus::Terminated)];
    let apps = vec![person("a", EmploymentStatus::Active), person("b", EmploymentStatus::Active)];
    let first = config(vec![("hr", fake(&hr, None)), ("apps", fake(&apps, None))], &["hr"]);
    sync_all(&first, &mut store, false).await.unwrap();
    let switched = config(vec![("hr", fake(&hr, None)), ("apps", fake(&apps, None))], &["apps"]);
    let plan_path = dir.path().join("plan.json");
    let plan = crate::engine::plan::plan(&switched, &store).unwrap();
    crate::engine::plan::save(&plan_path, &plan).unwrap();

    // The snapshot of apps changes: the plan no longer describes what applying would do.
    let apps_later = vec![person("a", EmploymentStatus::Active)];
    let later = config(vec![("hr", fake(&hr, None)), ("apps", fake(&apps_later, None))], &["hr"]);
    sync_all(&later, &mut store, true).await.unwrap();
    let err = crate::engine::plan::apply(&switched, &mut store, Some(&plan_path), false, &quiet).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("refusing to apply"), "{text}");
    assert!(text.contains("the snapshot of `apps` changed: 2 users taken at"), "{text}");
    assert_eq!(store.applied_policy().unwrap().unwrap().0, first.policy(), "nothing was applied");

    // The configuration changes after the plan: refused too, naming what changed.
    let plan = crate::engine::plan::plan(&switched, &store).unwrap();
    crate::engine::plan::save(&plan_path, &plan).unwrap();
    let mut edited = config(vec![("hr", fake(&hr, None)), ("apps", fake(&apps_later, None))], &["apps"]);
    edited.lifecycle.on_leave = OnLeave::Past;
    let err = crate::engine::plan::apply(&edited, &mut store, Some(&plan_path), false, &quiet).unwrap_err();
    assert!(format!("{err:#}").contains(r#"changed since (on_leave: "current" -> "past")"#), "{err:#}");

    // A fresh plan applies, exactly.
    crate::engine::plan::apply(&switched, &mut store, Some(&plan_path), false, &quiet).unwrap();
    assert_eq!(store.applied_policy().unwrap().unwrap().0, switched.policy());
    assert_eq!(lifecycles(&store)[1], ("b@acme.com".to_owned(), Lifecycle::Past, Some("apps".to_owned())));
    let err = crate::engine::plan::apply(&switched, &mut store, Some(&plan_path), false, &quiet).unwrap_err();
    assert!(format!("{err:#}").contains("a policy was applied since"), "a plan applies once: {err:#}");
}

#[test]
fn unknown_connection_names_are_bad_usage() {
    let c = config(vec![("hr", fake(&[], None)), ("apps", fake(&[], None))], &["hr"]);
    let err = select(&c, &["hr".into(), "workday".into(), "hr".into()]).unwrap_err();
    assert_eq!(crate::error::exit_code(&err), 2);
    assert_eq!(err.to_string(), "no connection named `workday` in roster.toml; configured connections: hr, apps");
    let picked: Vec<&str> =
        select(&c, &["apps".into(), "hr".into(), "apps".into()]).unwrap().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(picked, ["apps", "hr"], "in the order asked, each once");
    assert_eq!(select(&c, &[]).unwrap().len(), 2);
}
