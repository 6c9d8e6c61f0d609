//! Table-driven tests of every lifecycle rule.

use std::collections::BTreeMap;

use compact_str::CompactString;

use super::*;
use crate::model::{EmploymentStatus as S, Lifecycle as L, ManagerRef, SourceUser};

pub(super) fn user(id: &str, email: &str, status: S) -> SourceUser {
    SourceUser {
        source_id: id.into(),
        email: (!email.is_empty()).then(|| email.into()),
        status,
        raw_status: Some(status.as_str().into()),
        ..SourceUser::default()
    }
}

pub(super) fn policy(sources: &[&str]) -> Policy {
    Policy {
        sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        domains: vec!["acme.com".into()],
        ..Policy::default()
    }
}

/// Resolves `snaps` (connection, users) under `policy` after `prior`.
pub(super) fn run(snaps: &[(&str, Vec<SourceUser>)], policy: &Policy, prior: &[Person]) -> Vec<Person> {
    let snapshots: Vec<Snapshot<'_>> = snaps.iter().map(|(c, u)| Snapshot { connection: c, users: u }).collect();
    resolve(&snapshots, policy, prior)
}

/// Snapshots, connection by connection, with their users.
pub(super) type Snaps = Vec<(&'static str, Vec<SourceUser>)>;

/// The one person most tables are about.
pub(super) const ANN: &str = "ann@acme.com";

/// Snapshots of [`ANN`] written `conn=status conn=`: each connection lists one record of her with
/// that status (source id `conn-1`, or `ID` with `conn=status/ID`), or, with nothing after `=`, has
/// a complete snapshot that does not list her. Connections not written have no snapshot.
pub(super) fn ann(spec: &'static str) -> Snaps {
    spec.split_whitespace()
        .map(|part| {
            let (conn, rest) = part.split_once('=').expect("conn=status");
            if rest.is_empty() {
                return (conn, Vec::new());
            }
            let (status, id) = rest.split_once('/').map_or((rest, format!("{conn}-1")), |(s, id)| (s, id.to_owned()));
            (conn, vec![user(&id, ANN, status.parse().expect("a status"))])
        })
        .collect()
}

pub(super) fn one(people: &[Person]) -> &Person {
    assert_eq!(people.len(), 1, "expected one person: {people:#?}");
    &people[0]
}

struct Case {
    name: &'static str,
    snaps: Vec<(&'static str, Vec<SourceUser>)>,
    sources: &'static [&'static str],
    mode: Mode,
    on_leave: OnLeave,
    expect: (L, Option<&'static str>),
}

fn case(
    name: &'static str,
    sources: &'static [&'static str],
    snaps: Vec<(&'static str, Vec<SourceUser>)>,
    expect: (L, Option<&'static str>),
) -> Case {
    Case { name, snaps, sources, mode: Mode::Precedence, on_leave: OnLeave::Current, expect }
}

#[test]
#[expect(clippy::too_many_lines, reason = "one table, one case per rule")]
fn one_person_per_rule() {
    let a = "ann@acme.com";
    let mut guest = user("g1", "vendor@partner.com", S::Active);
    guest.guest = true;
    let mut member_guest_domain = user("g2", "ann@acme.com", S::Active);
    member_guest_domain.guest = true;
    let cases = vec![
        case(
            "active in the source of truth",
            &["ukg"],
            vec![("ukg", vec![user("1", a, S::Active)])],
            (L::Current, Some("ukg")),
        ),
        case(
            "on leave counts as current",
            &["ukg"],
            vec![("ukg", vec![user("1", a, S::OnLeave)])],
            (L::Current, Some("ukg")),
        ),
        Case {
            on_leave: OnLeave::Past,
            ..case(
                "on leave as past when configured",
                &["ukg"],
                vec![("ukg", vec![user("1", a, S::OnLeave)])],
                (L::Past, Some("ukg")),
            )
        },
        case("terminated", &["ukg"], vec![("ukg", vec![user("1", a, S::Terminated)])], (L::Past, Some("ukg"))),
        case(
            "disabled account",
            &["azure"],
            vec![("azure", vec![user("1", a, S::Disabled)])],
            (L::Past, Some("azure")),
        ),
        case(
            "pre-hire is not current yet",
            &["ukg"],
            vec![("ukg", vec![user("1", a, S::PreHire)])],
            (L::Past, Some("ukg")),
        ),
        case(
            "unknown status with no history",
            &["ukg"],
            vec![("ukg", vec![user("1", a, S::Unknown)])],
            (L::Past, Some("ukg")),
        ),
        case(
            "the highest-ranked source decides",
            &["ukg", "azure"],
            vec![("ukg", vec![user("1", a, S::Terminated)]), ("azure", vec![user("x", a, S::Active)])],
            (L::Past, Some("ukg")),
        ),
        case(
            "a lower source decides when the higher has no record",
            &["ukg", "azure"],
            vec![("ukg", vec![]), ("azure", vec![user("x", a, S::Active)])],
            (L::Current, Some("azure")),
        ),
        case(
            "unchecked sources do not decide",
            &["ukg"],
            vec![("ukg", vec![]), ("azure", vec![user("x", a, S::Active)])],
            (L::Orphan, None),
        ),
        case("no source of truth at all", &[], vec![("ukg", vec![user("1", a, S::Active)])], (L::Orphan, None)),
        case(
            "outside email domain",
            &["ukg"],
            vec![("ukg", vec![user("1", "ann@gmail.com", S::Active)])],
            (L::External, None),
        ),
        case("guest account", &["azure"], vec![("azure", vec![guest])], (L::External, None)),
        case(
            "a guest matched to an employee record is not external",
            &["ukg"],
            vec![("ukg", vec![user("1", a, S::Active)]), ("azure", vec![member_guest_domain])],
            (L::Current, Some("ukg")),
        ),
        case(
            "two records in one source: employed in either is employed",
            &["ukg"],
            vec![(
                "ukg",
                vec![
                    SourceUser { person_id: Some("P1".into()), ..user("C1/1", a, S::Terminated) },
                    SourceUser { person_id: Some("P1".into()), ..user("C2/7", a, S::Active) },
                ],
            )],
            (L::Current, Some("ukg")),
        ),
        Case {
            mode: Mode::AnyActive,
            ..case(
                "any-active: active anywhere listed is current",
                &["ukg", "azure"],
                vec![("ukg", vec![user("1", a, S::Terminated)]), ("azure", vec![user("x", a, S::Active)])],
                (L::Current, Some("azure")),
            )
        },
        Case {
            mode: Mode::AnyActive,
            ..case(
                "any-active: inactive everywhere falls back to precedence",
                &["ukg", "azure"],
                vec![("ukg", vec![user("1", a, S::Terminated)]), ("azure", vec![user("x", a, S::Disabled)])],
                (L::Past, Some("ukg")),
            )
        },
    ];
    for c in cases {
        let p = Policy { mode: c.mode, on_leave: c.on_leave, ..policy(c.sources) };
        let people = run(&c.snaps, &p, &[]);
        let person = one(&people);
        assert_eq!((person.lifecycle, person.decided_by.as_deref()), c.expect, "{}: {person:#?}", c.name);
    }
}

#[test]
fn unknown_status_keeps_the_previous_lifecycle_and_flags_review() {
    let p = policy(&["ukg"]);
    let before = run(&[("ukg", vec![user("1", "ann@acme.com", S::Active)])], &p, &[]);
    let mut odd = user("1", "ann@acme.com", S::Unknown);
    odd.raw_status = Some("X".into());
    let after = run(&[("ukg", vec![odd])], &p, &before);
    let person = one(&after);
    assert_eq!(person.lifecycle, L::Current);
    assert!(person.review);
    assert_eq!(person.rule, Rule::UnknownStatus { raw_status: Some("X".into()) });
    assert!(diff(&before, &after).is_empty(), "keeping the lifecycle fires nothing");
}

#[test]
fn absence_from_a_complete_snapshot_after_being_seen_means_past() {
    let p = policy(&["ukg"]);
    let before =
        run(&[("ukg", vec![user("1", "ann@acme.com", S::Active), user("2", "bob@acme.com", S::Active)])], &p, &[]);
    let after = run(&[("ukg", vec![user("2", "bob@acme.com", S::Active)])], &p, &before);
    assert_eq!(after.len(), 2, "the person who vanished is kept");
    let ann = after.iter().find(|x| x.email.as_deref() == Some("ann@acme.com")).unwrap();
    assert_eq!((ann.lifecycle, ann.decided_by.as_deref(), &ann.rule), (L::Past, Some("ukg"), &Rule::Absent));
    assert!(ann.records.is_empty() && ann.status.is_none());
    assert_eq!(ann.key, before[0].key, "same person, same key");

    let events = diff(&before, &after);
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].kind, events[0].email.as_deref()), (EventKind::Left, Some("ann@acme.com")));

    // Still past on the next run, and back with `rejoined` when they return.
    let later = run(&[("ukg", vec![user("2", "bob@acme.com", S::Active)])], &p, &after);
    assert!(diff(&after, &later).is_empty());
    let back =
        run(&[("ukg", vec![user("9", "ann@acme.com", S::Active), user("2", "bob@acme.com", S::Active)])], &p, &later);
    let events = diff(&later, &back);
    assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Rejoined]);
}

#[test]
fn absence_from_a_source_that_is_not_a_source_of_truth_drops_the_person() {
    let p = policy(&["ukg"]);
    let before = run(&[("ukg", vec![]), ("azure", vec![user("x", "old@acme.com", S::Active)])], &p, &[]);
    assert_eq!(one(&before).lifecycle, L::Orphan);
    let after = run(&[("ukg", vec![]), ("azure", vec![])], &p, &before);
    assert!(after.is_empty(), "an orphan nobody lists any more is no longer tracked");
}

#[test]
fn absence_outranks_a_lower_source() {
    // Left according to HR, still enabled in the identity provider: HR decides.
    let p = policy(&["ukg", "azure"]);
    let snaps = |ukg: Vec<SourceUser>| vec![("ukg", ukg), ("azure", vec![user("x", "ann@acme.com", S::Active)])];
    let before = run(&snaps(vec![user("1", "ann@acme.com", S::Active)]), &p, &[]);
    let after = run(&snaps(vec![]), &p, &before);
    let ann = one(&after);
    assert_eq!((ann.lifecycle, ann.decided_by.as_deref(), &ann.rule), (L::Past, Some("ukg"), &Rule::Absent));
    assert_eq!(ann.records.len(), 1, "the identity-provider account is still listed");
}

#[test]
fn pre_hires_become_current_on_their_start_date_with_joined() {
    let p = policy(&["ukg"]);
    let baseline = run(&[("ukg", vec![user("2", "bob@acme.com", S::Active)])], &p, &[]);
    let hired = run(
        &[("ukg", vec![user("2", "bob@acme.com", S::Active), user("1", "new@acme.com", S::PreHire)])],
        &p,
        &baseline,
    );
    assert!(diff(&baseline, &hired).is_empty(), "a pre-hire fires nothing yet");
    let started =
        run(&[("ukg", vec![user("2", "bob@acme.com", S::Active), user("1", "new@acme.com", S::Active)])], &p, &hired);
    let events = diff(&hired, &started);
    assert_eq!(
        events.iter().map(|e| (e.kind, e.email.as_deref())).collect::<Vec<_>>(),
        vec![(EventKind::Joined, Some("new@acme.com"))]
    );
}

#[test]
fn role_and_department_changes_fire_moved() {
    let p = policy(&["ukg"]);
    let before = run(
        &[("ukg", vec![SourceUser { role: Some("Engineer".into()), ..user("1", "ann@acme.com", S::Active) }])],
        &p,
        &[],
    );
    let after = run(
        &[("ukg", vec![SourceUser { role: Some("Manager".into()), ..user("1", "ann@acme.com", S::Active) }])],
        &p,
        &before,
    );
    let events = diff(&before, &after);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Moved);
    assert_eq!(
        (events[0].before.role.as_deref(), events[0].after.role.as_deref()),
        (Some("Engineer"), Some("Manager"))
    );
}

#[test]
fn attributes_follow_their_own_precedence_and_remember_where_they_came_from() {
    let mut p = policy(&["ukg", "azure"]);
    p.attributes = BTreeMap::from([(Attribute::Role, vec!["azure".to_owned(), "ukg".to_owned()])]);
    let ukg = SourceUser {
        role: Some("HR title".into()),
        department: Some("ENG".into()),
        employee_id: Some("7".into()),
        ..user("1", "ann@acme.com", S::Active)
    };
    let azure = SourceUser {
        role: Some("IdP title".into()),
        first_name: Some("Ann".into()),
        ..user("x", "ANN@acme.com", S::Active)
    };
    let google = SourceUser { aliases: vec!["a.lee@acme.com".into()], ..user("g", "ann@acme.com", S::Active) };
    let people = run(&[("ukg", vec![ukg]), ("azure", vec![azure]), ("google", vec![google])], &p, &[]);
    let ann = one(&people);
    assert_eq!(ann.role.as_deref(), Some("IdP title"));
    assert_eq!(ann.department.as_deref(), Some("ENG"));
    assert_eq!(ann.first_name.as_deref(), Some("Ann"), "a source lower in precedence fills what the higher lacks");
    assert_eq!(&**ann.provenance.get(Attribute::Role).unwrap(), "azure");
    assert_eq!(&**ann.provenance.get(Attribute::Department).unwrap(), "ukg");
    assert_eq!(&**ann.provenance.get(Attribute::FirstName).unwrap(), "azure");
    assert_eq!(ann.email.as_deref(), Some("ann@acme.com"));
    assert_eq!(ann.aliases, vec!["a.lee@acme.com"], "addresses that differ only in case are one address");
    assert_eq!(ann.records.len(), 3);
}

#[test]
fn managers_by_source_id_become_email_addresses() {
    let p = policy(&["ukg"]);
    let boss = user("C/1", "boss@acme.com", S::Active);
    let ann =
        SourceUser { manager: Some(ManagerRef::SourceId("C/1".into())), ..user("C/2", "ann@acme.com", S::Active) };
    let lost =
        SourceUser { manager: Some(ManagerRef::SourceId("C/404".into())), ..user("C/3", "cy@acme.com", S::Active) };
    let people = run(&[("ukg", vec![boss, ann, lost])], &p, &[]);
    let manager_of = |e: &str| people.iter().find(|x| x.email.as_deref() == Some(e)).unwrap().manager.clone();
    assert_eq!(manager_of("ann@acme.com").as_deref(), Some("boss@acme.com"));
    assert_eq!(manager_of("cy@acme.com").as_deref(), Some("C/404"), "an unknown manager keeps the source's id");
}

#[test]
fn the_result_does_not_depend_on_listing_order() {
    let p = policy(&["ukg", "azure"]);
    let ukg = vec![
        user("1", "ann@acme.com", S::Active),
        user("2", "bob@acme.com", S::Terminated),
        user("3", "cy@acme.com", S::OnLeave),
    ];
    let azure = vec![
        user("z", "cy@acme.com", S::Active),
        user("y", "bob@acme.com", S::Active),
        user("x", "dee@acme.com", S::Active),
    ];
    let forward = run(&[("ukg", ukg.clone()), ("azure", azure.clone())], &p, &[]);
    let mut rev_ukg = ukg;
    rev_ukg.reverse();
    let mut rev_azure = azure;
    rev_azure.reverse();
    let backward = run(&[("ukg", rev_ukg), ("azure", rev_azure)], &p, &[]);
    let sorted = |mut v: Vec<Person>| {
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    };
    assert_eq!(sorted(forward), sorted(backward));
}

#[test]
fn unchecked_sources_contribute_accounts_and_attributes() {
    let p = policy(&["ukg"]);
    let ukg = SourceUser { employee_id: Some("E1".into()), ..user("1", ANN, S::Active) };
    let google = SourceUser {
        first_name: Some("Ann".into()),
        department: Some("Sales".into()),
        aliases: vec!["a.lee@acme.com".into()],
        raw_status: Some("suspended=false".into()),
        ..user("g1", ANN, S::Active)
    };
    let people = run(&[("ukg", vec![ukg]), ("google", vec![google])], &p, &[]);
    let ann = one(&people);
    assert_eq!((ann.lifecycle, ann.decided_by.as_deref()), (L::Current, Some("ukg")));
    assert_eq!(ann.aliases, vec!["a.lee@acme.com"]);
    assert_eq!((ann.first_name.as_deref(), ann.department.as_deref()), (Some("Ann"), Some("Sales")));
    assert_eq!(&**ann.provenance.get(Attribute::FirstName).unwrap(), "google");
    assert_eq!(&**ann.provenance.get(Attribute::EmployeeId).unwrap(), "ukg");
    assert_eq!(
        &**ann.provenance.get(Attribute::Email).unwrap(),
        "ukg",
        "the source of truth ranks first for every attribute"
    );
    let google_record = ann.records.iter().find(|r| &*r.connection == "google").expect("the google account is listed");
    assert_eq!(
        (google_record.source_id.as_str(), google_record.status, google_record.raw_status.as_deref()),
        ("g1", S::Active, Some("suspended=false"))
    );
    assert_eq!(ann.seen_in.iter().map(|s| &**s).collect::<Vec<_>>(), vec!["google", "ukg"]);
}

#[test]
fn attribute_precedence_names_its_connection() {
    // Snapshots in configuration order google, azure, ukg; ukg is the only source of truth.
    let ukg = SourceUser {
        role: Some("HR title".into()),
        employee_id: Some("E1".into()),
        manager: Some(ManagerRef::Email("boss@acme.com".into())),
        ..user("1", ANN, S::Active)
    };
    let azure = SourceUser {
        role: Some("IdP title".into()),
        department: Some("IdP dept".into()),
        first_name: Some("Ann".into()),
        display_name: Some("Ann Lee".into()),
        ..user("x", ANN, S::Active)
    };
    let google = SourceUser {
        first_name: Some("Annie".into()),
        last_name: Some("Lee".into()),
        role: Some("  ".into()),
        ..user("g", ANN, S::Active)
    };
    let snaps: Snaps = vec![("google", vec![google]), ("azure", vec![azure.clone()]), ("ukg", vec![ukg.clone()])];
    let role_first = |order: &[&str]| Policy {
        attributes: BTreeMap::from([(Attribute::Role, order.iter().map(|s| (*s).to_owned()).collect())]),
        ..policy(&["ukg"])
    };
    let people = run(&snaps, &role_first(&["azure", "ukg"]), &[]);
    let ann = one(&people);
    let got: Vec<(Attribute, Option<&str>, Option<&str>)> = [
        (Attribute::Email, ann.email.as_deref()),
        (Attribute::EmployeeId, ann.employee_id.as_deref()),
        (Attribute::FirstName, ann.first_name.as_deref()),
        (Attribute::LastName, ann.last_name.as_deref()),
        (Attribute::DisplayName, ann.display_name.as_deref()),
        (Attribute::Role, ann.role.as_deref()),
        (Attribute::Department, ann.department.as_deref()),
        (Attribute::Manager, ann.manager.as_deref()),
    ]
    .into_iter()
    .map(|(a, v)| (a, v, ann.provenance.get(a).map(|s| &**s)))
    .collect();
    assert_eq!(
        got,
        vec![
            (Attribute::Email, Some(ANN), Some("ukg")),
            (Attribute::EmployeeId, Some("E1"), Some("ukg")),
            // Not configured: the sources of truth, then the others in configuration order.
            (Attribute::FirstName, Some("Annie"), Some("google")),
            (Attribute::LastName, Some("Lee"), Some("google")),
            (Attribute::DisplayName, Some("Ann Lee"), Some("azure")),
            // Configured: azure first although it is not a source of truth.
            (Attribute::Role, Some("IdP title"), Some("azure")),
            (Attribute::Department, Some("IdP dept"), Some("azure")),
            (Attribute::Manager, Some("boss@acme.com"), Some("ukg")),
        ]
    );
    assert_eq!(ann.provenance.len(), Attribute::ALL.len(), "every present attribute names its connection");

    // The first-ranked connection has no role: the next one gives it. A blank role is no role, and
    // a connection without a snapshot in the list is skipped.
    let no_role = SourceUser { role: None, ..azure };
    let snaps: Snaps = vec![("google", snaps[0].1.clone()), ("azure", vec![no_role]), ("ukg", vec![ukg])];
    for order in [&["azure", "ukg"][..], &["okta", "azure", "google"], &["google"]] {
        let people = run(&snaps, &role_first(order), &[]);
        let ann = one(&people);
        assert_eq!(
            (ann.role.as_deref(), ann.provenance.get(Attribute::Role).map(|s| &**s)),
            (Some("HR title"), Some("ukg")),
            "role order {order:?}"
        );
    }

    // An attribute nobody has is absent from the provenance too.
    let people = run(&[("ukg", vec![user("1", ANN, S::Active)])], &policy(&["ukg"]), &[]);
    let ann = one(&people);
    assert_eq!(ann.provenance.iter().map(|(a, _)| a).collect::<Vec<_>>(), vec![Attribute::Email]);
}

#[test]
fn a_split_person_gets_a_key_of_its_own() {
    // ann's record 5 gives her the key `ukg:5`. Then HR lists her under a new record 3, and record
    // 5 now belongs to bob: ann keeps her key (matched by email), and bob must get another one.
    let p = policy(&["ukg"]);
    let before = run(&[("ukg", vec![user("5", ANN, S::Active)])], &p, &[]);
    assert_eq!(one(&before).key, "ukg:5");
    let after = run(&[("ukg", vec![user("3", ANN, S::Active), user("5", "bob@acme.com", S::Active)])], &p, &before);
    let keys: Vec<(&str, Option<&str>)> = after.iter().map(|x| (x.key.as_str(), x.email.as_deref())).collect();
    assert_ne!(keys[0].0, keys[1].0, "two people share a key: {keys:?}");
    let events: Vec<(EventKind, Option<CompactString>)> =
        diff(&before, &after).into_iter().map(|e| (e.kind, e.email)).collect();
    assert_eq!(events, vec![(EventKind::Joined, Some("bob@acme.com".into()))], "bob joined");

    // ann moved from record 5 to record 7 and keeps `ukg:5`; a new record 5 (bob) sorts before
    // hers, takes `ukg:5` as a new person, and ann is renamed `ukg:7`: she "joins", bob does not.
    let moved = run(&[("ukg", vec![user("7", ANN, S::Active)])], &p, &before);
    assert_eq!(one(&moved).key, "ukg:5");
    let after = run(&[("ukg", vec![user("5", "bob@acme.com", S::Active), user("7", ANN, S::Active)])], &p, &moved);
    let ann = after.iter().find(|x| x.email.as_deref() == Some(ANN)).unwrap();
    assert_eq!(ann.key, "ukg:5", "ann keeps her key: {after:#?}");
    let events: Vec<(EventKind, Option<CompactString>)> =
        diff(&moved, &after).into_iter().map(|e| (e.kind, e.email)).collect();
    assert_eq!(events, vec![(EventKind::Joined, Some("bob@acme.com".into()))], "bob joined");
}

#[test]
fn an_unknown_status_does_not_keep_orphan_or_external() {
    let p = policy(&["ukg"]);
    // An orphan account (only google knows ann) that HR now lists with a status nobody mapped.
    let before = run(&[("ukg", vec![]), ("google", vec![user("g", ANN, S::Active)])], &p, &[]);
    assert_eq!(one(&before).lifecycle, L::Orphan);
    let after =
        run(&[("ukg", vec![user("1", ANN, S::Unknown)]), ("google", vec![user("g", ANN, S::Active)])], &p, &before);
    let ann = one(&after);
    assert_eq!((ann.lifecycle, ann.decided_by.as_deref(), ann.review), (L::Past, Some("ukg"), true), "{ann:#?}");
    // An outside address that gains a company alias, with a status nobody mapped.
    let before = run(&[("ukg", vec![user("1", "ann@gmail.com", S::Active)])], &p, &[]);
    assert_eq!(one(&before).lifecycle, L::External);
    let odd = SourceUser { aliases: vec![ANN.into()], ..user("1", "ann@gmail.com", S::Unknown) };
    let after = run(&[("ukg", vec![odd])], &p, &before);
    let ann = one(&after);
    assert_eq!((ann.lifecycle, ann.decided_by.as_deref(), ann.review), (L::Past, Some("ukg"), true), "{ann:#?}");
}
