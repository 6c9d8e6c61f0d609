//! Tenants large enough that the resolver hashes keys and looks up and builds people on
//! several threads: the result must be the one a small tenant's single thread gives.

use compact_str::format_compact;

use super::tests::{policy, run, user};
use super::*;
use crate::model::{EmploymentStatus as S, Lifecycle as L, SourceUser};

#[test]
fn a_tenant_large_enough_to_be_resolved_on_every_core_resolves_as_a_small_one() {
    // 30,000 people in two connections: above the sizes from which keys are hashed and people
    // are looked up and built on several threads.
    const N: usize = 30_000;
    let p = Policy { match_on: vec![MatchKey::Email, MatchKey::EmployeeId], ..policy(&["ukg"]) };
    let email = |i: usize| format!("person{i}@acme.com");
    let ukg: Vec<SourceUser> = (0..N)
        .map(|i| SourceUser {
            employee_id: Some(format_compact!("E{i}")),
            ..user(&format!("u{i:05}"), &email(i), S::Active)
        })
        .collect();
    // Azure lists everyone, every third by employee id only (no address): still one person.
    let azure: Vec<SourceUser> = (0..N)
        .map(|i| {
            let address = if i.is_multiple_of(3) { String::new() } else { email(i) };
            let mut u = user(&format!("a{i:05}"), &address, S::Active);
            u.employee_id = Some(format_compact!("e{i}"));
            u
        })
        .collect();
    let first = run(&[("ukg", ukg.clone()), ("azure", azure.clone())], &p, &[]);
    assert_eq!(first.len(), N, "one person per pair of records");
    assert!(first.iter().all(|x| x.records.len() == 2 && x.lifecycle == L::Current));
    let again = run(&[("ukg", ukg.clone()), ("azure", azure.clone())], &p, &first);
    assert_eq!(again, first, "nothing changed, nothing differs");
    // A listing out of order by one pair, anywhere (at both ends, and where the runs in which
    // its order is checked on two cores meet), is put in order first: the same people.
    for at in [0, N / 2 - 1, N / 2, N - 2] {
        let mut swapped = ukg.clone();
        swapped.swap(at, at + 1);
        let people = run(&[("ukg", swapped), ("azure", azure.clone())], &p, &[]);
        assert!(people == first, "records {at} and {} swapped", at + 1);
    }

    // Every seventh person's HR record now has someone else's address: two groups would continue
    // the same prior person, one by the HR record and one by the Azure record. The group that
    // comes first (HR's) continues them; the Azure record becomes a new person with a key of its
    // own, exactly as when groups are looked up one by one.
    let split = |i: usize| i.is_multiple_of(7);
    let ukg: Vec<SourceUser> = ukg
        .into_iter()
        .enumerate()
        .map(|(i, u)| {
            if split(i) {
                SourceUser { email: Some(format_compact!("new{i}@acme.com")), employee_id: None, ..u }
            } else {
                u
            }
        })
        .collect();
    let after = run(&[("ukg", ukg), ("azure", azure)], &p, &first);
    let splits = (0..N).filter(|&i| split(i)).count();
    assert_eq!(after.len(), N + splits);
    let key_of = |id: &str| &after.iter().find(|x| x.records.iter().any(|r| r.source_id == id)).unwrap().key;
    for i in (0..N).filter(|&i| split(i)).take(50) {
        assert_eq!(key_of(&format!("u{i:05}")), &first[i].key, "HR's record keeps the person's key");
        assert_eq!(key_of(&format!("a{i:05}")), &format!("azure:a{i:05}"), "the Azure record is someone new");
    }
    let keys: std::collections::HashSet<&str> = after.iter().map(|x| x.key.as_str()).collect();
    assert_eq!(keys.len(), after.len(), "every key once");
}

#[test]
fn records_relisted_under_new_ids_are_found_again_by_their_keys() {
    // HR renumbers every record (a migration of its ids): each person is found again by email,
    // or by employee id where the address changed too, and keeps their key and history. Enough
    // people that prior people are looked up on every core.
    const N: usize = 30_000;
    let p = Policy { match_on: vec![MatchKey::Email, MatchKey::EmployeeId], ..policy(&["ukg"]) };
    let hr = |prefix: &str, renamed: bool| -> Vec<SourceUser> {
        (0..N)
            .map(|i| {
                let email =
                    if renamed && i % 5 == 0 { format!("renamed{i}@acme.com") } else { format!("p{i}@acme.com") };
                SourceUser {
                    employee_id: Some(format_compact!("E{i}")),
                    ..user(&format!("{prefix}{i:05}"), &email, S::Active)
                }
            })
            .collect()
    };
    let first = run(&[("ukg", hr("old", false))], &p, &[]);
    let again = run(&[("ukg", hr("new", true))], &p, &first);
    assert_eq!(again.len(), N);
    let key_of = |people: &[Person], id: &str| {
        people.iter().find(|x| x.employee_id.as_deref() == Some(id)).map(|x| x.key.clone()).unwrap()
    };
    for i in [0, 1, 5, 12_345, N - 1] {
        let id = format!("E{i}");
        assert_eq!(key_of(&again, &id), key_of(&first, &id), "{id} keeps their key");
    }
    assert!(diff(&first, &again).iter().all(|e| e.kind != EventKind::Joined), "nobody joined");
}

#[test]
fn an_id_listed_twice_anywhere_in_a_large_listing_still_gives_every_person_a_key_of_their_own() {
    // A first resolution skips settling keys when no id repeats; the check runs on two cores, so
    // the repeat is put at both ends and where their runs meet.
    const N: usize = 30_000;
    let p = policy(&["ukg"]);
    let listing: Vec<SourceUser> =
        (0..N).map(|i| user(&format!("u{i:05}"), &format!("person{i}@acme.com"), S::Active)).collect();
    let distinct = run(&[("ukg", listing.clone())], &p, &[]);
    assert!(distinct.iter().enumerate().all(|(i, x)| x.key == format!("ukg:u{i:05}")));
    for at in [0, N / 2 - 1, N / 2, N - 1] {
        let mut twice = listing.clone();
        twice.insert(at + 1, user(&format!("u{at:05}"), "someone.else@acme.com", S::Active));
        let people = run(&[("ukg", twice)], &p, &[]);
        assert_eq!(people.len(), N + 1, "the repeat is someone else (another address)");
        let keys: std::collections::HashSet<&str> = people.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(keys.len(), people.len(), "id {at} listed twice: every key once");
        assert!(keys.contains(format!("ukg:u{at:05}#2").as_str()), "id {at}: the second takes `#2`");
    }
}
