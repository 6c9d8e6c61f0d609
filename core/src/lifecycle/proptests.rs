//! Properties of the resolver that must hold for any input.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::model::{EmploymentStatus, Lifecycle, SourceUser};

const CONNS: [&str; 3] = ["ukg", "azure", "google"];

fn status() -> impl Strategy<Value = EmploymentStatus> {
    proptest::sample::select(EmploymentStatus::ALL.to_vec())
}

/// A record drawing its keys from small pools, so records collide and match often.
fn record() -> impl Strategy<Value = SourceUser> {
    (
        0u8..40,
        proptest::option::of(0u8..12),
        proptest::option::of(0u8..12),
        proptest::option::of(0u8..3),
        status(),
        proptest::bool::weighted(0.1),
        proptest::option::of(0u8..4),
    )
        .prop_map(|(id, email, emp, domain, status, guest, person)| SourceUser {
            source_id: format!("r{id}"),
            email: email
                .map(|e| format!("p{e}@{}", ["acme.com", "ACME.com", "gmail.com"][usize::from(domain.unwrap_or(0))])),
            employee_id: emp.map(|e| format!("E{e}")),
            person_id: person.map(|p| format!("P{p}")),
            status,
            guest,
            role: Some(format!("role-{}", id % 3)),
            ..SourceUser::default()
        })
}

/// Three snapshots with unique source ids within each.
fn snapshots() -> impl Strategy<Value = Vec<Vec<SourceUser>>> {
    proptest::collection::vec(proptest::collection::vec(record(), 0..25), 3).prop_map(|snaps| {
        snaps
            .into_iter()
            .map(|users| {
                let mut seen = HashSet::new();
                users.into_iter().filter(|u| seen.insert(u.source_id.clone())).collect()
            })
            .collect()
    })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        proptest::sample::subsequence(CONNS.to_vec(), 0..=3).prop_shuffle(),
        proptest::bool::ANY,
        proptest::bool::ANY,
        proptest::bool::ANY,
    )
        .prop_map(|(sources, any_active, leave_past, emp_first)| Policy {
            sources: sources.into_iter().map(str::to_owned).collect(),
            mode: if any_active { Mode::AnyActive } else { Mode::Precedence },
            domains: vec!["acme.com".into()],
            match_on: if emp_first {
                vec![MatchKey::EmployeeId, MatchKey::Email]
            } else {
                vec![MatchKey::Email, MatchKey::EmployeeId]
            },
            on_leave: if leave_past { OnLeave::Past } else { OnLeave::Current },
            attributes: BTreeMap::new(),
        })
}

fn run(snaps: &[Vec<SourceUser>], policy: &Policy, prior: &[Person]) -> Vec<Person> {
    let views: Vec<Snapshot<'_>> = snaps.iter().zip(CONNS).map(|(u, c)| Snapshot { connection: c, users: u }).collect();
    let mut people = resolve(&views, policy, prior);
    people.sort_by(|a, b| a.key.cmp(&b.key));
    people
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn independent_of_listing_order(snaps in snapshots(), policy in policy(), seed in any::<u64>()) {
        let mut shuffled = snaps.clone();
        let mut rng = fastrand::Rng::with_seed(seed);
        for users in &mut shuffled {
            rng.shuffle(users);
        }
        prop_assert_eq!(run(&snaps, &policy, &[]), run(&shuffled, &policy, &[]));
    }

    #[test]
    fn every_record_belongs_to_exactly_one_person(snaps in snapshots(), policy in policy()) {
        let people = run(&snaps, &policy, &[]);
        let mut owned: Vec<(String, String)> = people.iter().flat_map(|p| p.records.iter().map(|r| (r.connection.clone(), r.source_id.clone()))).collect();
        let total = owned.len();
        owned.sort();
        owned.dedup();
        prop_assert_eq!(owned.len(), total, "a record is in two people");
        let listed: usize = snaps.iter().map(Vec::len).sum();
        prop_assert_eq!(total, listed, "a record was dropped");
        let keys: HashSet<&str> = people.iter().map(|p| p.key.as_str()).collect();
        prop_assert_eq!(keys.len(), people.len(), "keys are unique");
    }

    #[test]
    fn resolving_again_changes_nothing(snaps in snapshots(), policy in policy()) {
        let first = run(&snaps, &policy, &[]);
        let second = run(&snaps, &policy, &first);
        prop_assert!(diff(&first, &second).is_empty());
        let lifecycles = |v: &[Person]| v.iter().map(|p| (p.key.clone(), p.lifecycle, p.decided_by.clone())).collect::<Vec<_>>();
        prop_assert_eq!(lifecycles(&first), lifecycles(&second));
    }

    #[test]
    fn nobody_is_current_without_a_source_of_truth_saying_so(snaps in snapshots(), policy in policy()) {
        for p in run(&snaps, &policy, &[]) {
            if p.lifecycle == Lifecycle::Current {
                let decider = p.decided_by.as_deref().expect("a current person has a deciding source");
                prop_assert!(policy.sources.iter().any(|s| s == decider));
                let says_employed = p.records.iter().any(|r| r.connection == decider
                    && (r.status == EmploymentStatus::Active || (r.status == EmploymentStatus::OnLeave && policy.on_leave == OnLeave::Current)));
                prop_assert!(says_employed, "current without an active record in {}: {:?}", decider, p);
            }
            if let Some(d) = &p.decided_by {
                prop_assert!(policy.sources.contains(d), "decided by a source that is not a source of truth");
            }
        }
    }
}
