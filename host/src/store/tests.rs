//! The store's promises: a listing that does not finish changes nothing, an unchanged row is
//! never rewritten, a shrinking snapshot is held, a busy database says so.

use std::time::Duration;

use roster_core::lifecycle::{Policy, Snapshot, resolve};
use roster_core::{EmploymentStatus, Lifecycle, SourceUser};

use super::*;

mod older_databases;

fn user(id: &str, status: EmploymentStatus) -> SourceUser {
    SourceUser { source_id: id.into(), email: Some(format!("{id}@acme.com").into()), status, ..SourceUser::default() }
}

fn users(n: usize) -> Vec<SourceUser> {
    (0..n).map(|i| user(&format!("u{i:03}"), EmploymentStatus::Active)).collect()
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("roster.db")).unwrap();
    (dir, store)
}

fn sync(store: &Store, pages: &[&[SourceUser]], max_drop: f64, force: bool) -> Commit {
    let mut w = store.snapshot_writer("hr", "ukg-pro").unwrap();
    for page in pages {
        w.stage(page.to_vec());
    }
    w.commit(max_drop, force).unwrap().0
}

/// Counts every write to `table` from now on, through triggers the store knows nothing of;
/// [`writes`] reads the count.
fn count_writes_to(store: &Store, table: &str) {
    let count = |op: &str| {
        format!(
            "CREATE TRIGGER count_{table}_{op} AFTER {op} ON {table} BEGIN UPDATE writes SET n = n + 1 WHERE of = '{table}'; END;"
        )
    };
    store
        .conn
        .execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS writes (of TEXT PRIMARY KEY, n INTEGER NOT NULL);
             INSERT INTO writes VALUES ('{table}', 0);
             {} {} {}",
            count("INSERT"),
            count("UPDATE"),
            count("DELETE")
        ))
        .unwrap();
}

/// Counts every write to `snapshot_chunks`.
fn count_writes(store: &Store) {
    count_writes_to(store, "snapshot_chunks");
}

fn chunks_stored(store: &Store) -> i64 {
    store.conn.query_row("SELECT count(*) FROM snapshot_chunks", [], |r| r.get(0)).unwrap()
}

/// Writes to `snapshot_chunks` since [`count_writes`].
fn writes(store: &Store) -> i64 {
    writes_to(store, "snapshot_chunks")
}

fn writes_to(store: &Store, table: &str) -> i64 {
    store.conn.query_row("SELECT n FROM writes WHERE of = ?1", [table], |r| r.get(0)).unwrap()
}

fn sync_run(policy: &Policy, applies: bool) -> Run<'_> {
    Run { command: RunCommand::Sync, forced: false, policy, applies, based_on: None }
}

fn resolve_and_write(store: &mut Store, policy: &Policy) {
    let snapshot = store.snapshot("hr").unwrap().unwrap();
    let prior = store.people().unwrap();
    let people = resolve(&[Snapshot { connection: "hr", users: &snapshot }], policy, &prior);
    let run = Run { based_on: store.last_run().unwrap(), ..sync_run(policy, true) };
    store.write_resolution(&prior, &people, &[], run, &["hr"]).unwrap();
}

#[test]
fn a_listing_that_does_not_finish_changes_nothing() {
    let (_dir, mut store) = temp_store();
    let first = users(10);
    assert_eq!(
        sync(&store, &[&first[..5], &first[5..]], 20.0, false),
        Commit::Replaced { users: 10, records_changed: 10 }
    );
    let policy = Policy { sources: vec!["hr".into()], ..Policy::default() };
    resolve_and_write(&mut store, &policy);
    let people_before = store.people().unwrap();

    // Half a listing of other people, then the listing fails: the writer is dropped unmerged.
    let mut w = store.snapshot_writer("hr", "ukg-pro").unwrap();
    w.stage(users(3).into_iter().map(|u| user(&u.source_id, EmploymentStatus::Terminated)).collect());
    drop(w);
    store.record_unsuccessful("hr", "ukg-pro", SyncOutcome::Failed, "page 2 failed").unwrap();

    assert_eq!(store.snapshot("hr").unwrap().unwrap(), first, "the previous snapshot is exactly as it was");
    assert_eq!(store.people().unwrap(), people_before, "people are exactly as they were");
    let status = &store.statuses().unwrap()[0];
    assert_eq!(
        (status.last_outcome.as_deref(), status.last_error.as_deref(), status.users),
        (Some("failed"), Some("page 2 failed"), Some(10))
    );
    assert!(status.last_success_at.is_some());
    assert!(!store.needs_resolution(&["hr"]).unwrap(), "nothing to resolve again");
}

#[test]
fn unchanged_records_are_not_rewritten() {
    let (_dir, store) = temp_store();
    count_writes(&store);
    let mut list = users(50);
    assert_eq!(sync(&store, &[&list], 20.0, false), Commit::Replaced { users: 50, records_changed: 50 });
    let first = writes(&store);
    assert_eq!(first, chunks_stored(&store), "a first listing writes each chunk once");

    assert_eq!(sync(&store, &[&list], 20.0, false), Commit::Replaced { users: 50, records_changed: 0 });
    assert_eq!(writes(&store), first, "an identical listing writes nothing");

    list[7].role = Some("Controller".into());
    list.remove(3);
    list.push(user("new", EmploymentStatus::PreHire));
    assert_eq!(
        sync(&store, &[&list], 20.0, false),
        Commit::Replaced { users: 50, records_changed: 3 },
        "one update, one removal, one addition"
    );
    assert_eq!(store.snapshot("hr").unwrap().unwrap().len(), 50);
}

#[test]
fn a_large_listing_rewrites_only_the_chunks_that_changed() {
    // Chunks are encoded on a second thread a batch at a time: many batches, in order.
    let (_dir, store) = temp_store();
    count_writes(&store);
    let mut list: Vec<SourceUser> =
        (0..50_000).rev().map(|i| user(&format!("u{i:05}"), EmploymentStatus::Active)).collect();
    sync(&store, &[&list], 20.0, false);
    let chunks = chunks_stored(&store);
    assert!(chunks > 100, "{chunks} chunks for 50,000 records");
    assert_eq!(sync(&store, &[&list], 20.0, false), Commit::Replaced { users: 50_000, records_changed: 0 });
    assert_eq!(writes(&store), chunks, "an identical listing writes nothing");

    list[100].role = Some("Controller".into());
    let removed = list.remove(40_000).source_id;
    list.push(user("u99999", EmploymentStatus::PreHire));
    assert_eq!(sync(&store, &[&list], 20.0, false), Commit::Replaced { users: 50_000, records_changed: 3 });
    // Each change rewrites its chunk, and a removal or an addition that ends a run the chunk
    // after it too: at most six of the hundreds of chunks.
    let rewritten = writes(&store) - chunks;
    assert!((3..=6).contains(&rewritten), "{rewritten} chunk writes for three changed records");
    list.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    assert_eq!(store.snapshot("hr").unwrap().unwrap(), list);
    for u in [&list[0], &list[12_345], &list[list.len() - 1]] {
        assert_eq!(store.source_user("hr", &u.source_id).unwrap().as_ref(), Some(u), "one record, from its chunk");
    }
    assert_eq!(store.source_user("hr", &removed).unwrap(), None, "removed");
    assert_eq!(store.source_user("hr", "a").unwrap(), None, "before the first chunk");
}

#[test]
fn the_content_hash_is_stable() {
    // FNV-1a's published test vectors: stored hashes must mean the same in every build.
    assert_eq!(content_hash(""), i64::from_ne_bytes(0xcbf2_9ce4_8422_2325_u64.to_ne_bytes()));
    assert_eq!(content_hash("a"), i64::from_ne_bytes(0xaf63_dc4c_8601_ec8c_u64.to_ne_bytes()));
}

#[test]
fn a_committed_snapshot_reaches_the_database_file_without_waiting_for_the_next_commit() {
    let (dir, store) = temp_store();
    let listing = users(2_000);
    sync(&store, &[&listing], 100.0, false);
    store.writers.wait_for_checkpoints();
    // The database file alone, without its WAL: what a checkpoint copied into it.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("roster.db"), copy.path().join("roster.db")).unwrap();
    let file = rusqlite::Connection::open(copy.path().join("roster.db")).unwrap();
    let records: i64 = file
        .query_row("SELECT coalesce(sum(records), 0) FROM snapshot_chunks WHERE connection = 'hr'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(records, 2_000);
}

#[test]
fn a_shrinking_snapshot_is_held_unless_forced() {
    let (_dir, store) = temp_store();
    let list = users(100);
    sync(&store, &[&list], 20.0, false);
    let held = sync(&store, &[&list[..70]], 20.0, false);
    assert_eq!(held, Commit::Held(Staged { users: 70, previous: Some(100) }));
    assert_eq!(store.snapshot("hr").unwrap().unwrap().len(), 100, "nothing was replaced");
    assert_eq!(store.pending_snapshot("hr").unwrap().map(|p| p.len()), Some(70), "the held listing is kept");
    let status = store.statuses().unwrap().remove(0);
    assert_eq!(status.pending_users, Some(70));
    assert_eq!(store.snapshot_versions().unwrap()[0].version, 1, "the snapshot in force did not change");

    assert_eq!(sync(&store, &[&list[..85]], 20.0, false), Commit::Replaced { users: 85, records_changed: 15 });
    assert_eq!(store.pending_snapshot("hr").unwrap(), None, "an accepted listing clears the held one");
    assert_eq!(store.snapshot_versions().unwrap()[0].version, 2);
    assert_eq!(sync(&store, &[&list[..10]], 20.0, true), Commit::Replaced { users: 10, records_changed: 75 });
}

#[test]
fn an_empty_first_snapshot_is_a_snapshot() {
    let (_dir, store) = temp_store();
    assert!(!store.has_snapshot("hr").unwrap());
    assert_eq!(sync(&store, &[], 20.0, false), Commit::Replaced { users: 0, records_changed: 0 });
    assert_eq!(store.snapshot("hr").unwrap(), Some(Vec::new()));
    assert!(store.needs_resolution(&["hr"]).unwrap());
}

#[test]
fn resolution_is_needed_when_snapshots_or_their_set_change() {
    let (_dir, mut store) = temp_store();
    sync(&store, &[&users(5)], 20.0, false);
    assert!(store.needs_resolution(&["hr"]).unwrap(), "never resolved");
    resolve_and_write(&mut store, &Policy::default());
    assert!(!store.needs_resolution(&["hr"]).unwrap());
    assert!(store.needs_resolution(&["hr", "azure"]).unwrap(), "another connection has a snapshot now");
    sync(&store, &[&users(5)], 20.0, false);
    assert!(!store.needs_resolution(&["hr"]).unwrap(), "an identical listing changes nothing");
    sync(&store, &[&users(6)], 20.0, false);
    assert!(store.needs_resolution(&["hr"]).unwrap());
}

#[test]
fn people_are_listed_by_email_then_key_and_those_without_email_last() {
    let (_dir, mut store) = temp_store();
    let mut list = vec![
        user("b", EmploymentStatus::Active),
        user("A", EmploymentStatus::Terminated),
        user("c", EmploymentStatus::Active),
    ];
    list.push(SourceUser { source_id: "z".into(), status: EmploymentStatus::Active, ..SourceUser::default() });
    sync(&store, &[&list], 20.0, false);
    resolve_and_write(&mut store, &Policy { sources: vec!["hr".into()], ..Policy::default() });

    let mut all = Vec::new();
    store
        .for_each_person(None, |p| {
            all.push(p.email.unwrap_or_default());
            Ok(())
        })
        .unwrap();
    assert_eq!(all, ["A@acme.com", "b@acme.com", "c@acme.com", ""], "case-insensitive, no email last");
    let mut past = Vec::new();
    store
        .for_each_person(Some(Lifecycle::Past), |p| {
            past.push(p.email.unwrap_or_default());
            Ok(())
        })
        .unwrap();
    assert_eq!(past, ["A@acme.com"]);
}

#[test]
fn the_applied_policy_is_stored_once() {
    let (_dir, mut store) = temp_store();
    assert!(store.applied_policy().unwrap().is_none());
    sync(&store, &[&users(2)], 20.0, false);
    let policy = Policy { sources: vec!["hr".into()], ..Policy::default() };
    resolve_and_write(&mut store, &policy);
    assert_eq!(store.applied_policy().unwrap().map(|(p, _)| p), Some(policy));
}

#[test]
fn a_second_writer_waits_then_says_the_database_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.db");
    let mut store = open_with_timeout(&path, Duration::from_millis(200)).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let started = std::time::Instant::now();
    let err = store.write_resolution(&[], &[], &[], sync_run(&Policy::default(), false), &[]).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(150), "it waited for the other writer first");
    assert_eq!(
        format!("{err:#}"),
        format!("database is busy: another roster command is writing to {}; try again when it is done", path.display())
    );
    other.execute_batch("ROLLBACK").unwrap();
    store.write_resolution(&[], &[], &[], sync_run(&Policy::default(), false), &[]).unwrap();

    // A write based on people another command has since replaced is refused.
    let err = store.write_resolution(&[], &[], &[], sync_run(&Policy::default(), false), &[]).unwrap_err();
    assert!(err.is::<Superseded>(), "{err:#}");
}

#[cfg(unix)]
#[test]
fn the_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _store) = temp_store();
    let mode = std::fs::metadata(dir.path().join("roster.db")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn snapshot_versions_change_only_with_the_data() {
    let (_dir, store) = temp_store();
    assert!(store.snapshot_versions().unwrap().is_empty());
    sync(&store, &[&users(5)], 20.0, false);
    sync(&store, &[&users(5)], 20.0, false);
    let v = store.snapshot_versions().unwrap();
    assert_eq!(
        (v[0].connection.as_str(), v[0].version, v[0].users),
        ("hr", 1, 5),
        "an identical listing is the same version"
    );
    sync(&store, &[&users(6)], 20.0, false);
    assert_eq!(store.snapshot_versions().unwrap()[0].version, 2);
}

#[test]
fn people_are_found_by_email_alias_or_employee_id_in_any_case() {
    let (_dir, mut store) = temp_store();
    let mut ann = user("ann", EmploymentStatus::Active);
    ann.employee_id = Some("E100".into());
    ann.aliases = vec!["Ann.Lee@acme.com".into()];
    let mut writer = store.snapshot_writer("hr", "ukg-pro").unwrap();
    writer.stage(vec![ann, user("bob", EmploymentStatus::Active)]);
    writer.commit(20.0, false).unwrap();
    resolve_and_write(&mut store, &Policy { sources: vec!["hr".into()], ..Policy::default() });

    let found = |q: &str| store.find_people(q).unwrap().into_iter().map(|p| p.key).collect::<Vec<_>>();
    assert_eq!(found("ANN@acme.com"), ["hr:ann"]);
    assert_eq!(found("e100"), ["hr:ann"]);
    assert_eq!(found(" ann.lee@ACME.com "), ["hr:ann"]);
    assert_eq!(found("bob@acme.com"), ["hr:bob"]);
    assert!(found("lee@acme.com").is_empty(), "a part of an address is not the address");
    assert!(found("%").is_empty());
}

#[test]
fn events_are_listed_by_time_kind_and_person() {
    use roster_core::lifecycle::{Event, EventKind, PersonState};
    let (_dir, mut store) = temp_store();
    let state = |l| PersonState { lifecycle: Some(l), role: None, department: None };
    let event = |kind, person: &str| Event {
        kind,
        person: person.into(),
        email: Some(format!("{person}@acme.com").into()),
        decided_by: Some("hr".into()),
        before: state(Lifecycle::Past),
        after: state(Lifecycle::Current),
    };
    let policy = Policy::default();
    let run = Run { command: RunCommand::Apply, forced: false, policy: &policy, applies: true, based_on: None };
    store.write_resolution(&[], &[], &[event(EventKind::Joined, "a"), event(EventKind::Left, "b")], run, &[]).unwrap();

    let list = |filter: EventFilter| {
        let mut out = Vec::new();
        store
            .for_each_event(&filter, |e| {
                out.push((e.kind, e.person, e.command));
                Ok(())
            })
            .unwrap();
        out
    };
    let apply = Some("apply".to_owned());
    assert_eq!(
        list(EventFilter::default()),
        [(EventKind::Joined, "a".into(), apply.clone()), (EventKind::Left, "b".into(), apply.clone())]
    );
    assert_eq!(
        list(EventFilter { kinds: vec![EventKind::Left], ..EventFilter::default() }),
        [(EventKind::Left, "b".into(), apply.clone())]
    );
    assert_eq!(list(EventFilter { person: Some("a".into()), ..EventFilter::default() }).len(), 1);
    assert!(list(EventFilter { since: Some("2999-01-01T00:00:00.000Z".into()), ..EventFilter::default() }).is_empty());
    assert_eq!(list(EventFilter { since: Some("2000-01-01T00:00:00.000Z".into()), ..EventFilter::default() }).len(), 2);
}

#[test]
fn many_people_are_listed_in_order_counted_and_found_from_their_chunks() {
    let (_dir, mut store) = temp_store();
    // Emails out of key order, mixed case, people without one, aliases and employee ids.
    let mut many: Vec<SourceUser> = (0..20_000)
        .map(|i| {
            let mut u = user(
                &format!("u{i:05}"),
                if i % 7 == 0 { EmploymentStatus::Terminated } else { EmploymentStatus::Active },
            );
            u.email = (i % 50 != 0)
                .then(|| roster_core::compact_str::format_compact!("{}.{i}@Acme.com", ["zoe", "Ann", "bob"][i % 3]));
            u.employee_id = Some(format!("E{i}").into());
            u
        })
        .collect();
    many[12_345].aliases = vec!["Old.Name@acme.com".into()];
    sync(&store, &[&many], 20.0, false);
    let policy = Policy { sources: vec!["hr".into()], ..Policy::default() };
    resolve_and_write(&mut store, &policy);
    let chunks: i64 = store.conn.query_row("SELECT count(*) FROM people_chunks", [], |r| r.get(0)).unwrap();
    assert!(chunks > 50, "{chunks} chunks of 20,000 people");

    // An error of the caller's (a closed pipe, say) is passed on as it is.
    let err = store.for_each_person(None, |_| Err(anyhow::anyhow!("broken pipe"))).unwrap_err();
    assert_eq!(format!("{err:#}"), "broken pipe");
    let mut listed = Vec::new();
    store
        .for_each_person(None, |p| {
            listed.push((p.email.map(|e| e.to_lowercase()), p.key));
            Ok(())
        })
        .unwrap();
    let mut want = listed.clone();
    want.sort_by(|a, b| (a.0.is_none(), &a.0, &a.1).cmp(&(b.0.is_none(), &b.0, &b.1)));
    assert_eq!(listed.len(), many.len());
    assert_eq!(listed, want, "by lowercase email, people without one last, then key");
    let people = store.people().unwrap();
    let past = people.iter().filter(|p| p.lifecycle == Lifecycle::Past).count();
    let mut listed_past = 0;
    store
        .for_each_person(Some(Lifecycle::Past), |p| {
            assert_eq!(p.lifecycle, Lifecycle::Past);
            listed_past += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(listed_past, past);
    assert_eq!(store.lifecycle_counts().unwrap(), [many.len() - past, past, 0, 0]);

    let found = |q: &str| store.find_people(q).unwrap().into_iter().map(|p| p.key).collect::<Vec<_>>();
    assert_eq!(found("ann.4@ACME.com"), ["hr:u00004"]);
    assert_eq!(found("zoe.19998@acme.com"), ["hr:u19998"], "an email in the last chunk with one");
    assert_eq!(found("e7"), ["hr:u00007"]);
    assert_eq!(found("E150"), ["hr:u00150"], "the employee id of someone without an email");
    assert_eq!(found("old.name@acme.com"), ["hr:u12345"]);
    assert!(found("ann.4@acme.co").is_empty());
    let check: String = store.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");

    // The same people again write nothing; one changed person rewrites a chunk or two.
    count_writes_to(&store, "people_chunks");
    let people_writes = |store: &Store| writes_to(store, "people_chunks");
    resolve_and_write(&mut store, &policy);
    assert_eq!(people_writes(&store), 0, "nothing changed, nothing written");
    many[9_000].status = EmploymentStatus::Terminated;
    sync(&store, &[&many], 20.0, false);
    resolve_and_write(&mut store, &policy);
    assert!((1..=2).contains(&people_writes(&store)), "{} chunk writes for one changed person", people_writes(&store));
    assert_eq!(store.find_people("E9000").unwrap()[0].lifecycle, Lifecycle::Past);
    assert_eq!(store.people().unwrap().len(), many.len());
}

#[test]
fn the_committed_snapshot_is_the_stored_one_whatever_the_listing_order() {
    let (_dir, store) = temp_store();
    sync(
        &store,
        &[&[
            user("a", EmploymentStatus::Active),
            user("m", EmploymentStatus::Active),
            user("z", EmploymentStatus::Active),
        ]],
        100.0,
        false,
    );

    // Out of order, across pages, `k` listed twice (the last copy wins); `a` and `z`, the first
    // and last stored ids, are gone.
    let mut w = store.snapshot_writer("hr", "ukg-pro").unwrap();
    w.stage(vec![user("q", EmploymentStatus::Active), user("k", EmploymentStatus::Active)]);
    w.stage(vec![
        user("m", EmploymentStatus::Active),
        user("k", EmploymentStatus::Terminated),
        user("b", EmploymentStatus::OnLeave),
    ]);
    let (commit, committed) = w.commit(100.0, false).unwrap();
    // Deleted a and z; inserted b, k and q; m unchanged.
    assert_eq!(commit, Commit::Replaced { users: 4, records_changed: 5 });
    let committed = committed.expect("a replaced snapshot is handed back");
    let stored = store.snapshot("hr").unwrap().unwrap();
    assert_eq!(*committed.users, stored);
    let ids: Vec<&str> = stored.iter().map(|u| u.source_id.as_str()).collect();
    assert_eq!(ids, ["b", "k", "m", "q"]);
    assert_eq!(stored[1].status, EmploymentStatus::Terminated, "the last copy of a record listed twice");
    let version = store.snapshot_versions().unwrap()[0].version;
    assert_eq!(committed.version, version);
}

#[test]
fn a_damaged_chunk_is_named_as_such() {
    let (_dir, mut store) = temp_store();
    sync(&store, &[&users(300)], 20.0, false);
    resolve_and_write(&mut store, &Policy { sources: vec!["hr".into()], ..Policy::default() });
    store
        .conn
        .execute(
            "UPDATE snapshot_chunks SET data = x'ffffff7f0102' WHERE rowid = (SELECT min(rowid) FROM snapshot_chunks)",
            [],
        )
        .unwrap();
    store
        .conn
        .execute("UPDATE people_chunks SET data = x'00' WHERE rowid = (SELECT min(rowid) FROM people_chunks)", [])
        .unwrap();
    let err = format!("{:#}", store.snapshot("hr").unwrap_err());
    assert!(err.contains("a stored user of `hr` is corrupt") && err.contains("cannot be decompressed"), "{err}");
    let err = format!("{:#}", store.people().unwrap_err());
    assert!(err.contains("a stored person is corrupt") && err.contains("cannot be decompressed"), "{err}");
    let err = format!("{:#}", store.for_each_person(None, |_| Ok(())).unwrap_err());
    assert!(err.contains("a stored person is corrupt") && err.contains("cannot be decompressed"), "{err}");
    // The counts live beside the chunks: `roster status` still reads.
    assert_eq!(store.lifecycle_counts().unwrap().iter().sum::<usize>(), 300);
}
