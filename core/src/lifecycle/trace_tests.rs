//! Table-driven tests of the trace (what each source of truth said and what came of it), the
//! events two resolutions fire, and the transitions between them.

use super::tests::{ANN, Snaps, ann, one, policy, run, user};
use super::*;
use crate::model::{EmploymentStatus as S, Lifecycle as L, SourceUser};

/// A verdict as one line: `connection said[(status)] outcome[ by connection]`.
fn line(v: &Verdict) -> String {
    let said = match v.said {
        Said::Listed => "listed",
        Said::Absent => "absent",
        Said::NotListed => "not_listed",
        Said::NoSnapshot => "no_snapshot",
    };
    let status = v.status.map(|s| format!("({s})")).unwrap_or_default();
    let outcome = match &v.outcome {
        Outcome::Decided => "decided".to_owned(),
        Outcome::Outranked { by } => format!("outranked by {by}"),
        Outcome::NotActive { by } => format!("not_active by {by}"),
        Outcome::Silent => "silent".to_owned(),
        Outcome::External => "external".to_owned(),
    };
    format!("{} {said}{status} {outcome}", v.connection)
}

struct TraceCase {
    name: &'static str,
    sources: &'static [&'static str],
    mode: Mode,
    before: Snaps,
    after: Snaps,
    lifecycle: L,
    trace: &'static [&'static str],
}

fn prec(
    name: &'static str,
    sources: &'static [&'static str],
    before: Snaps,
    after: Snaps,
    lifecycle: L,
    trace: &'static [&'static str],
) -> TraceCase {
    TraceCase { name, sources, mode: Mode::Precedence, before, after, lifecycle, trace }
}

fn any(
    name: &'static str,
    sources: &'static [&'static str],
    before: Snaps,
    after: Snaps,
    lifecycle: L,
    trace: &'static [&'static str],
) -> TraceCase {
    TraceCase { mode: Mode::AnyActive, ..prec(name, sources, before, after, lifecycle, trace) }
}

#[test]
#[expect(clippy::too_many_lines, reason = "one table, one case per kind of verdict")]
fn the_trace_says_what_each_source_of_truth_said_and_what_came_of_it() {
    let uag = &["ukg", "azure", "google"];
    let ua = &["ukg", "azure"];
    let gmail = || vec![("ukg", vec![user("1", "ann@gmail.com", S::Active)]), ("azure", vec![])];
    let cases = [
        prec(
            "the first source that knows them decides",
            uag,
            ann(""),
            ann("ukg=terminated azure=active google="),
            L::Past,
            &["ukg listed(terminated) decided", "azure listed(active) outranked by ukg", "google not_listed silent"],
        ),
        prec(
            "a source that never listed them is silent",
            ua,
            ann(""),
            ann("ukg= azure=active"),
            L::Current,
            &["ukg not_listed silent", "azure listed(active) decided"],
        ),
        prec(
            "absence decides",
            ua,
            ann("ukg=active azure=active"),
            ann("ukg= azure=active"),
            L::Past,
            &["ukg absent decided", "azure listed(active) outranked by ukg"],
        ),
        prec(
            "no snapshot yet: the next source decides",
            &["okta", "ukg"],
            ann(""),
            ann("ukg=active"),
            L::Current,
            &["okta no_snapshot silent", "ukg listed(active) decided"],
        ),
        prec(
            "orphan: every source of truth is silent",
            ua,
            ann(""),
            ann("ukg= google=active"),
            L::Orphan,
            &["ukg not_listed silent", "azure no_snapshot silent"],
        ),
        prec(
            "dropped by every snapshot, kept as past",
            ua,
            ann("ukg=active"),
            ann("ukg="),
            L::Past,
            &["ukg absent decided", "azure no_snapshot silent"],
        ),
        prec("no sources of truth, no trace", &[], ann(""), ann("ukg=active"), L::Orphan, &[]),
        prec(
            "external: nobody is consulted",
            ua,
            vec![],
            gmail(),
            L::External,
            &["ukg listed(active) external", "azure not_listed external"],
        ),
        any(
            "external in any-active too",
            ua,
            vec![],
            gmail(),
            L::External,
            &["ukg listed(active) external", "azure not_listed external"],
        ),
        any(
            "a higher source without them active",
            ua,
            ann(""),
            ann("ukg=terminated azure=active"),
            L::Current,
            &["ukg listed(terminated) not_active by azure", "azure listed(active) decided"],
        ),
        any(
            "the highest active source decides",
            uag,
            ann(""),
            ann("ukg=active azure=active google=disabled"),
            L::Current,
            &[
                "ukg listed(active) decided",
                "azure listed(active) outranked by ukg",
                "google listed(disabled) outranked by ukg",
            ],
        ),
        any(
            "nobody active: precedence",
            ua,
            ann(""),
            ann("ukg=terminated azure=disabled"),
            L::Past,
            &["ukg listed(terminated) decided", "azure listed(disabled) outranked by ukg"],
        ),
        any(
            "a higher source that never listed them is silent, not 'not active'",
            ua,
            ann(""),
            ann("ukg= azure=active"),
            L::Current,
            &["ukg not_listed silent", "azure listed(active) decided"],
        ),
        any(
            "absent from a higher source, active in a lower",
            ua,
            ann("ukg=active azure=active"),
            ann("ukg= azure=active"),
            L::Current,
            &["ukg absent not_active by azure", "azure listed(active) decided"],
        ),
        any(
            "on leave above, active below, with on_leave = past",
            ua,
            ann(""),
            ann("ukg=on_leave azure=active"),
            L::Current,
            &["ukg listed(on_leave) not_active by azure", "azure listed(active) decided"],
        ),
    ];
    for c in cases {
        let leave = if c.name.contains("on_leave = past") { OnLeave::Past } else { OnLeave::Current };
        let p = Policy { mode: c.mode, on_leave: leave, ..policy(c.sources) };
        let prior = if c.before.is_empty() { Vec::new() } else { run(&c.before, &p, &[]) };
        let people = run(&c.after, &p, &prior);
        let person = one(&people);
        let lines: Vec<String> = person.trace.iter().map(line).collect();
        assert_eq!(
            (person.lifecycle, lines.iter().map(String::as_str).collect()),
            (c.lifecycle, c.trace.to_vec()),
            "{}",
            c.name
        );
        let ranks: Vec<usize> = person.trace.iter().map(|v| v.rank).collect();
        assert_eq!(ranks, (1..=c.sources.len()).collect::<Vec<_>>(), "{}: ranks", c.name);
        let decided: Vec<&str> =
            person.trace.iter().filter(|v| v.outcome == Outcome::Decided).map(|v| &*v.connection).collect();
        assert_eq!(decided, person.decided_by.iter().map(|d| &**d).collect::<Vec<_>>(), "{}", c.name);
    }
}

#[test]
fn verdicts_read_as_sentences() {
    let raw = |id: &str, status: S, raw: &str| SourceUser { raw_status: Some(raw.into()), ..user(id, ANN, status) };
    let snaps: Snaps =
        vec![("ukg", vec![raw("1", S::Terminated, "T")]), ("azure", vec![raw("x", S::Active, "active")])];
    let sources = &["ukg", "azure", "okta"];
    let text = |mode: Mode| -> Vec<String> {
        let people = run(&snaps, &Policy { mode, ..policy(sources) }, &[]);
        one(&people).trace.iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        text(Mode::Precedence),
        vec![
            "lists them as terminated (`T`): decided",
            "lists them as active: passed over, `ukg` ranks higher and decided",
            "has no complete snapshot yet: passed over, nothing to say",
        ]
    );
    assert_eq!(
        text(Mode::AnyActive)[0],
        "lists them as terminated (`T`): passed over, not active here (any-active), `azure` has them active"
    );

    let p = policy(&["ukg", "azure"]);
    let before = run(&ann("ukg=active azure="), &p, &[]);
    let after = run(&ann("ukg= azure="), &p, &before);
    assert_eq!(one(&after).trace[0].to_string(), "listed them before, not any more: decided");
    let outside = run(&[("ukg", vec![user("1", "x@gmail.com", S::Active)]), ("azure", vec![])], &p, &[]);
    assert_eq!(one(&outside).trace[1].to_string(), "has no record of them: not consulted, the person is external");
}

/// A resolved person as events and transitions see them.
fn person(key: &str, lifecycle: L, was_current: bool, role: Option<&str>, department: Option<&str>) -> Person {
    Person {
        key: key.into(),
        email: Some(compact_str::format_compact!("{key}@acme.com")),
        aliases: Vec::new(),
        employee_id: None,
        first_name: None,
        last_name: None,
        display_name: None,
        role: role.map(Into::into),
        department: department.map(Into::into),
        manager: None,
        status: None,
        lifecycle,
        decided_by: matches!(lifecycle, L::Current | L::Past).then(|| "ukg".into()),
        rule: Rule::NoSourceOfTruth,
        trace: Trace::default(),
        review: false,
        provenance: Provenance::default(),
        records: Vec::new(),
        seen_in: NameSet::default(),
        was_current: was_current || lifecycle == L::Current,
    }
}

fn at(key: &str, lifecycle: L) -> Person {
    person(key, lifecycle, false, Some("Engineer"), Some("R&D"))
}

#[test]
fn events_between_two_resolutions() {
    type Case = (&'static str, Vec<Person>, Vec<Person>, Vec<(EventKind, &'static str)>);
    use EventKind::{Joined, Left, Moved, Rejoined};
    let job = |key: &str, role: &str, dept: &str| person(key, L::Current, true, Some(role), Some(dept));
    let cases: Vec<Case> = vec![
        (
            "the first resolution against nothing: current people join",
            vec![],
            vec![at("a", L::Current), at("b", L::Past), at("c", L::Orphan), at("d", L::External)],
            vec![(Joined, "a")],
        ),
        ("a pre-hire starts", vec![at("a", L::Past)], vec![at("a", L::Current)], vec![(Joined, "a")]),
        ("an orphan becomes current", vec![at("a", L::Orphan)], vec![at("a", L::Current)], vec![(Joined, "a")]),
        (
            "someone who was current before comes back",
            vec![person("a", L::Past, true, None, None)],
            vec![at("a", L::Current)],
            vec![(Rejoined, "a")],
        ),
        ("current to past", vec![at("a", L::Current)], vec![at("a", L::Past)], vec![(Left, "a")]),
        ("current to external", vec![at("a", L::Current)], vec![at("a", L::External)], vec![(Left, "a")]),
        ("no longer tracked while current", vec![at("a", L::Current)], vec![], vec![(Left, "a")]),
        ("no longer tracked while past", vec![at("a", L::Past)], vec![], vec![]),
        ("past to orphan", vec![at("a", L::Past)], vec![at("a", L::Orphan)], vec![]),
        ("a new role", vec![job("a", "Engineer", "R&D")], vec![job("a", "Manager", "R&D")], vec![(Moved, "a")]),
        (
            "a new department",
            vec![job("a", "Engineer", "R&D")],
            vec![job("a", "Engineer", "Sales")],
            vec![(Moved, "a")],
        ),
        (
            "a role where there was none",
            vec![person("a", L::Current, true, None, None)],
            vec![at("a", L::Current)],
            vec![(Moved, "a")],
        ),
        (
            "case and spacing are not a move",
            vec![job("a", "Engineer", "ENGINEERING")],
            vec![job("a", " engineer ", "Engineering")],
            vec![],
        ),
        ("blank is no role", vec![person("a", L::Current, true, None, None)], vec![job("a", "  ", "")], vec![]),
        (
            "a new role while past is not a move",
            vec![person("a", L::Past, true, Some("Engineer"), None)],
            vec![person("a", L::Past, true, Some("Manager"), None)],
            vec![],
        ),
        (
            "leaving with a new role is only leaving",
            vec![job("a", "Engineer", "R&D")],
            vec![at("a", L::Past)],
            vec![(Left, "a")],
        ),
        (
            "after's order, then people no longer tracked",
            vec![at("gone", L::Current), at("b", L::Current), at("a", L::Past), at("same", L::Current)],
            vec![at("c", L::Current), at("same", L::Current), at("b", L::Past), at("a", L::Current)],
            vec![(Joined, "c"), (Left, "b"), (Joined, "a"), (Left, "gone")],
        ),
    ];
    for (name, before, after, expect) in cases {
        let got: Vec<(EventKind, String)> =
            diff(&before, &after).into_iter().map(|e| (e.kind, e.person.into())).collect();
        let expect: Vec<(EventKind, String)> = expect.into_iter().map(|(k, p)| (k, p.to_owned())).collect();
        assert_eq!(got, expect, "{name}");
    }
}

#[test]
fn an_event_carries_both_sides() {
    let before = vec![person("a", L::Current, true, Some("Engineer"), Some("R&D")), at("b", L::Current)];
    let after = vec![person("a", L::Current, true, Some("Manager"), Some("R&D"))];
    let events = diff(&before, &after);
    assert_eq!(events.len(), 2);
    let moved = &events[0];
    assert_eq!(
        (moved.kind, moved.email.as_deref(), moved.decided_by.as_deref()),
        (EventKind::Moved, Some("a@acme.com"), Some("ukg"))
    );
    assert_eq!((moved.before.role.as_deref(), moved.after.role.as_deref()), (Some("Engineer"), Some("Manager")));
    let left = &events[1];
    assert_eq!((left.kind, left.person.as_str(), left.decided_by.as_deref()), (EventKind::Left, "b", None));
    assert_eq!((left.before.lifecycle, left.after.lifecycle), (Some(L::Current), None));
    assert_eq!((left.after.role.as_deref(), left.email.as_deref()), (None, Some("b@acme.com")));
}

#[test]
fn events_through_the_resolver() {
    let p = policy(&["ukg"]);
    let job = |id: &str, email: &str, role: &str| SourceUser { role: Some(role.into()), ..user(id, email, S::Active) };
    let first = run(&[("ukg", vec![job("1", ANN, "Engineer"), user("2", "bob@acme.com", S::PreHire)])], &p, &[]);
    let kinds = |before: &[Person], after: &[Person]| -> Vec<(EventKind, Option<String>)> {
        diff(before, after).into_iter().map(|e| (e.kind, e.email.map(String::from))).collect()
    };
    assert_eq!(kinds(&[], &first), vec![(EventKind::Joined, Some(ANN.to_owned()))], "a pre-hire does not join");
    // The source reports the same title in another case: not a move; bob starts.
    let second = run(&[("ukg", vec![job("1", ANN, "ENGINEER"), user("2", "bob@acme.com", S::Active)])], &p, &first);
    assert_eq!(kinds(&first, &second), vec![(EventKind::Joined, Some("bob@acme.com".to_owned()))]);
    let third = run(&[("ukg", vec![job("1", ANN, "Manager"), user("2", "bob@acme.com", S::Terminated)])], &p, &second);
    assert_eq!(
        kinds(&second, &third),
        vec![(EventKind::Moved, Some(ANN.to_owned())), (EventKind::Left, Some("bob@acme.com".to_owned()))]
    );
    let fourth = run(&[("ukg", vec![job("1", ANN, "Manager"), user("2", "bob@acme.com", S::Active)])], &p, &third);
    assert_eq!(kinds(&third, &fourth), vec![(EventKind::Rejoined, Some("bob@acme.com".to_owned()))]);
}

#[test]
fn transitions_group_people_by_from_and_to() {
    let before = vec![
        at("a", L::Current),
        at("b", L::Current),
        at("c", L::Past),
        at("d", L::Orphan),
        at("same", L::Current),
        at("gone", L::Current),
        at("gone-orphan", L::Orphan),
        at("e", L::External),
    ];
    let after = vec![
        at("new", L::Orphan),
        at("b", L::Past),
        at("same", L::Current),
        at("a", L::Past),
        at("d", L::Current),
        at("c", L::Current),
        at("e", L::Past),
        at("new2", L::Current),
    ];
    let got: Vec<(Option<L>, Option<L>, Vec<&str>)> = transitions(&before, &after)
        .into_iter()
        .map(|t| (t.from, t.to, t.people.iter().map(|p| p.key.as_str()).collect()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(L::Current), Some(L::Past), vec!["b", "a"]),
            (Some(L::Current), None, vec!["gone"]),
            (Some(L::Past), Some(L::Current), vec!["c"]),
            (Some(L::External), Some(L::Past), vec!["e"]),
            (Some(L::Orphan), Some(L::Current), vec!["d"]),
            (Some(L::Orphan), None, vec!["gone-orphan"]),
            (None, Some(L::Current), vec!["new2"]),
            (None, Some(L::Orphan), vec!["new"]),
        ]
    );
    assert!(transitions(&after, &after).is_empty(), "nothing changed, no transition");
    let gone = transitions(&before, &[]);
    assert!(gone.iter().all(|t| t.to.is_none()), "people no longer tracked go to None");
    assert_eq!(gone.iter().map(|t| t.people.len()).sum::<usize>(), before.len());
}
