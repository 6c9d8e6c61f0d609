//! Properties of the resolver that must hold for any input.

use std::collections::{BTreeMap, HashSet};

use compact_str::format_compact;
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
            source_id: format_compact!("r{id}"),
            email: email.map(|e| {
                format_compact!("p{e}@{}", ["acme.com", "ACME.com", "gmail.com"][usize::from(domain.unwrap_or(0))])
            }),
            employee_id: emp.map(|e| format_compact!("E{e}")),
            person_id: person.map(|p| format_compact!("P{p}")),
            status,
            guest,
            role: Some(format_compact!("role-{}", id % 3)),
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
        proptest::bool::weighted(0.15),
        proptest::option::of(proptest::sample::subsequence(CONNS.to_vec(), 1..=3).prop_shuffle()),
    )
        .prop_map(|(sources, any_active, leave_past, emp_first, no_domains, role_order)| Policy {
            sources: sources.into_iter().map(str::to_owned).collect(),
            mode: if any_active { Mode::AnyActive } else { Mode::Precedence },
            domains: if no_domains { Vec::new() } else { vec!["acme.com".into()] },
            match_on: if emp_first {
                vec![MatchKey::EmployeeId, MatchKey::Email]
            } else {
                vec![MatchKey::Email, MatchKey::EmployeeId]
            },
            on_leave: if leave_past { OnLeave::Past } else { OnLeave::Current },
            attributes: role_order
                .map(|order| BTreeMap::from([(Attribute::Role, order.into_iter().map(str::to_owned).collect())]))
                .unwrap_or_default(),
        })
}

/// Which of the three connections have a complete snapshot (mostly all of them).
fn present() -> impl Strategy<Value = [bool; 3]> {
    proptest::array::uniform3(proptest::bool::weighted(0.85))
}

fn run(snaps: &[Vec<SourceUser>], policy: &Policy, prior: &[Person]) -> Vec<Person> {
    run_present(snaps, [true; 3], policy, prior)
}

/// Resolves with only the connections `present` marks among the snapshots, sorted by key.
fn run_present(snaps: &[Vec<SourceUser>], present: [bool; 3], policy: &Policy, prior: &[Person]) -> Vec<Person> {
    let views: Vec<Snapshot<'_>> = snaps
        .iter()
        .zip(CONNS)
        .zip(present)
        .filter(|(_, here)| *here)
        .map(|((u, c), _)| Snapshot { connection: c, users: u })
        .collect();
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
        let mut owned: Vec<(String, String)> = people.iter().flat_map(|p| p.records.iter().map(|r| (r.connection.to_string(), r.source_id.to_string()))).collect();
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
                let says_employed = p.records.iter().any(|r| *r.connection == *decider
                    && (r.status == EmploymentStatus::Active || (r.status == EmploymentStatus::OnLeave && policy.on_leave == OnLeave::Current)));
                prop_assert!(says_employed, "current without an active record in {}: {:?}", decider, p);
            }
            if let Some(d) = &p.decided_by {
                prop_assert!(policy.sources.iter().any(|s| **s == **d), "decided by a source that is not a source of truth");
            }
        }
    }
}

/// Whether `status` makes someone current under `policy`.
fn counts_as_current(policy: &Policy, status: EmploymentStatus) -> bool {
    status == EmploymentStatus::Active || (status == EmploymentStatus::OnLeave && policy.on_leave == OnLeave::Current)
}

/// The trace has one verdict per source of truth in rank order, each saying what the person's
/// records and history say, and `decided_by` is the one verdict that decided.
fn trace_agrees(p: &Person, policy: &Policy, present: [bool; 3]) -> Result<(), TestCaseError> {
    let names: Vec<&str> = p.trace.iter().map(|v| &*v.connection).collect();
    prop_assert_eq!(names, policy.sources.iter().map(String::as_str).collect::<Vec<_>>());
    let winners: Vec<usize> = (0..p.trace.len()).filter(|&i| p.trace[i].outcome == Outcome::Decided).collect();
    prop_assert!(winners.len() <= 1, "two verdicts decided: {:?}", p.trace);
    let decider = winners.first().copied();
    prop_assert_eq!(p.decided_by.as_deref(), decider.map(|i| &*p.trace[i].connection), "{:?}", p);
    for (i, v) in p.trace.iter().enumerate() {
        prop_assert_eq!(v.rank, i + 1);
        let has_snapshot = CONNS.iter().zip(present).any(|(c, here)| here && **c == *v.connection);
        let best = p
            .records
            .iter()
            .filter(|r| r.connection == v.connection)
            .map(|r| r.status)
            .max_by_key(|s| s.employment_rank());
        let said = match (has_snapshot, best.is_some(), p.seen_in.contains(&v.connection)) {
            (false, _, _) => Said::NoSnapshot,
            (true, true, _) => Said::Listed,
            (true, false, true) => Said::Absent,
            (true, false, false) => Said::NotListed,
        };
        prop_assert_eq!((v.said, v.status), (said, best), "verdict {} of {:?}", i, p);
        let speaks = matches!(v.said, Said::Listed | Said::Absent);
        match &v.outcome {
            Outcome::Decided => prop_assert!(speaks),
            Outcome::Outranked { by } => {
                prop_assert!(speaks && decider.is_some_and(|d| d < i) && Some(by) == p.decided_by.as_ref());
            }
            Outcome::NotActive { by } => {
                prop_assert_eq!(policy.mode, Mode::AnyActive);
                prop_assert!(speaks && decider.is_some_and(|d| d > i) && Some(by) == p.decided_by.as_ref());
                prop_assert!(!v.status.is_some_and(|s| counts_as_current(policy, s)), "active, yet passed over");
            }
            Outcome::Silent => prop_assert!(!speaks, "a source that spoke is silent: {:?}", v),
            Outcome::External => prop_assert_eq!(p.lifecycle, Lifecycle::External),
        }
    }
    Ok(())
}

/// The lifecycle, rule and `decided_by` are what the rules make of the trace. `prior` is what the
/// person was before (found by key), for `pre_hire` and `unknown`.
fn rules_hold(p: &Person, policy: &Policy, prior: &[Person]) -> Result<(), TestCaseError> {
    let before = prior.iter().find(|b| b.key == p.key).map(|b| b.lifecycle);
    if p.lifecycle == Lifecycle::External {
        prop_assert!(p.decided_by.is_none(), "external, yet decided: {:?}", p);
        prop_assert!(p.trace.iter().all(|v| v.outcome == Outcome::External), "{:?}", p.trace);
        prop_assert!(matches!(p.rule, Rule::ExternalDomain { .. } | Rule::Guest), "{:?}", p.rule);
        return Ok(());
    }
    let listed_active = |v: &&Verdict| v.said == Said::Listed && v.status.is_some_and(|s| counts_as_current(policy, s));
    let speaks = |v: &&Verdict| matches!(v.said, Said::Listed | Said::Absent);
    let active = if policy.mode == Mode::AnyActive { p.trace.iter().find(listed_active) } else { None };
    let Some(decider) = active.or_else(|| p.trace.iter().find(speaks)) else {
        prop_assert_eq!((p.lifecycle, &p.rule, &p.decided_by), (Lifecycle::Orphan, &Rule::NoSourceOfTruth, &None));
        return Ok(());
    };
    prop_assert_eq!(p.decided_by.as_ref(), Some(&decider.connection), "{:?}", p);
    let kept = match before {
        Some(l @ (Lifecycle::Current | Lifecycle::Past)) => l,
        _ => Lifecycle::Past,
    };
    let expect = match (decider.said, decider.status) {
        (Said::Listed, Some(s)) if counts_as_current(policy, s) => (Lifecycle::Current, Rule::Status { status: s }),
        (Said::Listed, Some(EmploymentStatus::PreHire)) => {
            let l = if before == Some(Lifecycle::Current) { Lifecycle::Current } else { Lifecycle::Past };
            (l, p.rule.clone())
        }
        (Said::Listed, Some(EmploymentStatus::Unknown)) => {
            prop_assert!(p.review, "an unmapped status is flagged");
            (kept, p.rule.clone())
        }
        (Said::Listed, Some(s)) => (Lifecycle::Past, Rule::Status { status: s }),
        _ => (Lifecycle::Past, Rule::Absent),
    };
    prop_assert_eq!((p.lifecycle, &p.rule), (expect.0, &expect.1), "{:?}", p);
    Ok(())
}

/// What `transitions` should hold: every person of `after` whose lifecycle is not the one
/// `before` had under their key, then everyone of `before` no longer tracked.
fn changed<'a>(before: &'a [Person], after: &'a [Person]) -> Vec<(Option<Lifecycle>, Option<Lifecycle>, &'a Person)> {
    let was = |key: &str| before.iter().find(|b| b.key == key).map(|b| b.lifecycle);
    let mut out: Vec<_> = after
        .iter()
        .filter(|p| was(&p.key) != Some(p.lifecycle))
        .map(|p| (was(&p.key), Some(p.lifecycle), p))
        .collect();
    out.extend(before.iter().filter(|b| after.iter().all(|p| p.key != b.key)).map(|b| (Some(b.lifecycle), None, b)));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn a_first_resolution_follows_the_rules(snaps in snapshots(), here in present(), policy in policy()) {
        for p in run_present(&snaps, here, &policy, &[]) {
            trace_agrees(&p, &policy, here)?;
            rules_hold(&p, &policy, &[])?;
        }
    }

    #[test]
    fn the_trace_agrees_after_a_prior(
        prev in snapshots(), prev_here in present(), snaps in snapshots(), here in present(), policy in policy()
    ) {
        let prior = run_present(&prev, prev_here, &policy, &[]);
        for p in run_present(&snaps, here, &policy, &prior) {
            trace_agrees(&p, &policy, here)?;
        }
    }

    #[test]
    fn the_rules_hold_after_a_prior(
        prev in snapshots(), prev_here in present(), snaps in snapshots(), here in present(), policy in policy()
    ) {
        let prior = run_present(&prev, prev_here, &policy, &[]);
        for p in run_present(&snaps, here, &policy, &prior) {
            rules_hold(&p, &policy, &prior)?;
        }
    }

    #[test]
    fn independent_of_record_order_with_a_prior(
        prev in snapshots(), snaps in snapshots(), here in present(), policy in policy(), seed in any::<u64>()
    ) {
        let prior = run(&prev, &policy, &[]);
        let mut shuffled = snaps.clone();
        let mut rng = fastrand::Rng::with_seed(seed);
        for users in &mut shuffled {
            rng.shuffle(users);
        }
        prop_assert_eq!(run_present(&snaps, here, &policy, &prior), run_present(&shuffled, here, &policy, &prior));
    }

    #[test]
    fn resolving_twice_is_resolving_once(
        prev in snapshots(), prev_here in present(), snaps in snapshots(), here in present(), policy in policy(),
        with_prior in proptest::bool::weighted(0.75),
    ) {
        let prior = if with_prior { run_present(&prev, prev_here, &policy, &[]) } else { Vec::new() };
        let once = run_present(&snaps, here, &policy, &prior);
        let twice = run_present(&snaps, here, &policy, &once);
        prop_assert_eq!(&once, &twice);
    }

    #[test]
    fn transitions_partition_the_people_whose_lifecycle_changed(
        prev in snapshots(), prev_here in present(), snaps in snapshots(), here in present(), policy in policy()
    ) {
        let before = run_present(&prev, prev_here, &policy, &[]);
        let after = run_present(&snaps, here, &policy, &before);
        let groups = transitions(&before, &after);
        let rank = |l: Option<Lifecycle>| l.map_or(usize::MAX, |l| l as usize);
        let order: Vec<(usize, usize)> = groups.iter().map(|t| (rank(t.from), rank(t.to))).collect();
        prop_assert!(order.windows(2).all(|w| w[0] < w[1]), "groups out of order or repeated: {:?}", order);
        let mut got: Vec<(Option<Lifecycle>, Option<Lifecycle>, *const Person)> = Vec::new();
        for t in &groups {
            prop_assert!(!t.people.is_empty(), "an empty group");
            got.extend(t.people.iter().map(|p| (t.from, t.to, std::ptr::from_ref::<Person>(p))));
        }
        let mut want: Vec<_> = changed(&before, &after).into_iter().map(|(f, t, p)| (f, t, std::ptr::from_ref(p))).collect();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
        // Every join, leave and return is a transition into or out of current, and back.
        let into_or_out: usize = groups
            .iter()
            .filter(|t| (t.from == Some(Lifecycle::Current)) != (t.to == Some(Lifecycle::Current)))
            .map(|t| t.people.len())
            .sum();
        let events = diff(&before, &after).into_iter().filter(|e| e.kind != EventKind::Moved).count();
        prop_assert_eq!(events, into_or_out);
    }

    #[test]
    fn any_active_makes_current_everyone_precedence_does(snaps in snapshots(), here in present(), policy in policy()) {
        let under = |mode: Mode| -> Vec<Person> { run_present(&snaps, here, &Policy { mode, ..policy.clone() }, &[]) };
        let (precedence, any_active) = (under(Mode::Precedence), under(Mode::AnyActive));
        let keys = |v: &[Person]| v.iter().map(|p| p.key.clone()).collect::<Vec<_>>();
        prop_assert_eq!(keys(&precedence), keys(&any_active), "the same people either way");
        for (p, a) in precedence.iter().zip(&any_active) {
            prop_assert!(p.lifecycle != Lifecycle::Current || a.lifecycle == Lifecycle::Current, "{:?} / {:?}", p, a);
        }
    }

    #[test]
    fn keys_stay_unique_after_a_prior(prev in snapshots(), snaps in snapshots(), policy in policy()) {
        let prior = run(&prev, &policy, &[]);
        let people = run(&snaps, &policy, &prior);
        let keys: HashSet<&str> = people.iter().map(|p| p.key.as_str()).collect();
        prop_assert_eq!(keys.len(), people.len(), "duplicate keys");
        // With unique keys, resolving again fires nothing.
        let again = run(&snaps, &policy, &people);
        prop_assert!(diff(&people, &again).is_empty() && transitions(&people, &again).is_empty());
    }
}
