//! Every rule of the resolver as a row of a table, each resolved in both modes (`precedence` and
//! `any-active`), with what each mode must decide.

use super::tests::{ANN, Snaps, ann, one, policy, run, user};
use super::*;
use crate::model::{EmploymentStatus as S, Lifecycle as L, SourceUser};

type Expect = (L, Option<&'static str>);

fn current(by: &'static str) -> Expect {
    (L::Current, Some(by))
}

fn past(by: &'static str) -> Expect {
    (L::Past, Some(by))
}

const EXTERNAL: Expect = (L::External, None);
const ORPHAN: Expect = (L::Orphan, None);

/// One rule, resolved in both modes: `before` (when not empty) is resolved first, with the same
/// policy, and is the prior of `after`.
struct Row {
    name: &'static str,
    sources: &'static [&'static str],
    domains: &'static [&'static str],
    on_leave: OnLeave,
    before: Snaps,
    after: Snaps,
    precedence: Expect,
    any_active: Expect,
    review: bool,
}

impl Row {
    fn new(name: &'static str, sources: &'static [&'static str], before: Snaps, after: Snaps) -> Self {
        Self {
            name,
            sources,
            domains: &["acme.com"],
            on_leave: OnLeave::Current,
            before,
            after,
            precedence: ORPHAN,
            any_active: ORPHAN,
            review: false,
        }
    }

    /// Expects the same in both modes.
    fn both(self, expect: Expect) -> Self {
        self.modes(expect, expect)
    }

    fn modes(self, precedence: Expect, any_active: Expect) -> Self {
        Self { precedence, any_active, ..self }
    }

    fn leave_past(self) -> Self {
        Self { on_leave: OnLeave::Past, ..self }
    }

    fn review(self) -> Self {
        Self { review: true, ..self }
    }

    fn domains(self, domains: &'static [&'static str]) -> Self {
        Self { domains, ..self }
    }

    fn check(&self) {
        for (mode, expect) in [(Mode::Precedence, self.precedence), (Mode::AnyActive, self.any_active)] {
            let p = Policy {
                mode,
                on_leave: self.on_leave,
                domains: self.domains.iter().map(|d| (*d).to_owned()).collect(),
                ..policy(self.sources)
            };
            let prior = if self.before.is_empty() { Vec::new() } else { run(&self.before, &p, &[]) };
            let people = run(&self.after, &p, &prior);
            let person = one(&people);
            assert_eq!(
                (person.lifecycle, person.decided_by.as_deref(), person.review),
                (expect.0, expect.1, self.review),
                "{} ({mode:?}): {person:#?}",
                self.name
            );
        }
    }
}

#[test]
fn every_rule_in_both_modes() {
    let ua = &["ukg", "azure"];
    let rows = [
        // on_leave
        Row::new("on leave is active", ua, ann(""), ann("ukg=on_leave azure=disabled")).both(current("ukg")),
        Row::new("on leave in a lower source", ua, ann(""), ann("ukg=terminated azure=on_leave"))
            .modes(past("ukg"), current("azure")),
        Row::new("on_leave = past: not active", ua, ann(""), ann("ukg=on_leave azure=disabled"))
            .leave_past()
            .both(past("ukg")),
        Row::new("on_leave = past, active in a lower source", ua, ann(""), ann("ukg=on_leave azure=active"))
            .leave_past()
            .modes(past("ukg"), current("azure")),
        // orphan
        Row::new("only an unchecked source knows them", ua, ann(""), ann("ukg= azure= google=active")).both(ORPHAN),
        Row::new("no source of truth has a snapshot", ua, ann(""), ann("google=active")).both(ORPHAN),
        // pre_hire
        Row::new("a new pre-hire is not current yet", ua, ann(""), ann("ukg=pre_hire")).both(past("ukg")),
        Row::new("pre-hire in HR, account already active", ua, ann(""), ann("ukg=pre_hire azure=active"))
            .modes(past("ukg"), current("azure")),
        Row::new("a current person's new pre-hire record (transfer)", ua, ann("ukg=active"), ann("ukg=pre_hire/C2"))
            .both(current("ukg")),
        Row::new("a rehire who left is not current yet", ua, ann("ukg=terminated"), ann("ukg=pre_hire"))
            .both(past("ukg")),
        // unknown
        Row::new("unknown keeps current", ua, ann("ukg=active"), ann("ukg=unknown")).both(current("ukg")).review(),
        Row::new("unknown keeps past", ua, ann("ukg=terminated"), ann("ukg=unknown")).both(past("ukg")).review(),
        Row::new(
            "unknown with nothing active below",
            ua,
            ann("ukg=active azure=active"),
            ann("ukg=unknown azure=disabled"),
        )
        .both(current("ukg"))
        .review(),
        Row::new("unknown with no history", ua, ann(""), ann("ukg=unknown azure=disabled")).both(past("ukg")).review(),
        // absent
        Row::new("absent from the only snapshot", ua, ann("ukg=active"), ann("ukg=")).both(past("ukg")),
        Row::new("absent from HR, disabled in the IdP", ua, ann("ukg=active azure=active"), ann("ukg= azure=disabled"))
            .both(past("ukg")),
        Row::new("absent from HR, active in the IdP", ua, ann("ukg=active azure=active"), ann("ukg= azure=active"))
            .modes(past("ukg"), current("azure")),
        Row::new("never listed is not absent", ua, ann("ukg= azure=active"), ann("ukg= azure=active"))
            .both(current("azure")),
        Row::new(
            "absent from an unchecked source",
            &["ukg"],
            ann("ukg=active google=active"),
            ann("ukg=active google="),
        )
        .both(current("ukg")),
        Row::new(
            "absent from an unchecked source, terminated",
            &["ukg"],
            ann("ukg=active google=active"),
            ann("ukg=terminated google="),
        )
        .both(past("ukg")),
        // a source of truth without any snapshot
        Row::new("no snapshot: the next source decides", &["okta", "ukg"], ann(""), ann("ukg=active"))
            .both(current("ukg")),
        Row::new("no snapshot, next terminated", &["okta", "ukg"], ann(""), ann("ukg=terminated azure=active"))
            .both(past("ukg")),
    ];
    for row in &rows {
        row.check();
    }
}

#[test]
fn company_domains_in_both_modes() {
    let alias =
        |id: &str, email: &str, alias: &str| SourceUser { aliases: vec![alias.into()], ..user(id, email, S::Active) };
    let emp = |u: SourceUser| SourceUser { employee_id: Some("E7".into()), ..u };
    let mut guest = user("g", "ann@acme.com", S::Active);
    guest.guest = true;
    let rows = [
        Row::new(
            "outside every company domain",
            &["ukg"],
            vec![],
            vec![("ukg", vec![user("1", "ann@gmail.com", S::Active)])],
        )
        .both(EXTERNAL),
        Row::new(
            "one in-domain alias is enough",
            &["ukg"],
            vec![],
            vec![("ukg", vec![alias("1", "ann@gmail.com", ANN)])],
        )
        .both(current("ukg")),
        Row::new(
            "an in-domain address from an unchecked connection is enough",
            &["ukg"],
            vec![],
            vec![
                ("ukg", vec![emp(user("1", "ann@gmail.com", S::Active))]),
                ("google", vec![emp(user("g", ANN, S::Active))]),
            ],
        )
        .both(current("ukg")),
        Row::new(
            "domains compare case-insensitively",
            &["ukg"],
            vec![],
            vec![("ukg", vec![user("1", "Ann@ACME.Com", S::Active)])],
        )
        .both(current("ukg")),
        Row::new(
            "external even when HR says terminated",
            &["ukg"],
            vec![],
            vec![("ukg", vec![user("1", "x@gmail.com", S::Terminated)])],
        )
        .both(EXTERNAL),
        // An HR record without any address is not "outside the company": nothing says so.
        Row::new(
            "no address at all is not external",
            &["ukg"],
            vec![],
            vec![("ukg", vec![emp(user("1", "", S::Active))])],
        )
        .both(current("ukg")),
        Row::new(
            "no domains: nobody is external by domain",
            &["ukg"],
            vec![],
            vec![("ukg", vec![user("1", "ann@gmail.com", S::Active)])],
        )
        .domains(&[])
        .both(current("ukg")),
        Row::new("no domains: guests still are", &["azure"], vec![], vec![("azure", vec![guest])])
            .domains(&[])
            .both(EXTERNAL),
    ];
    for row in &rows {
        row.check();
    }
}

#[test]
fn people_who_vanish_in_both_modes() {
    for mode in [Mode::Precedence, Mode::AnyActive] {
        let p = Policy { mode, ..policy(&["ukg", "azure"]) };
        // An orphan nobody lists any more is no longer tracked.
        let before = run(&ann("ukg= azure= google=active"), &p, &[]);
        assert_eq!(one(&before).lifecycle, L::Orphan);
        assert!(run(&ann("ukg= azure= google="), &p, &before).is_empty(), "{mode:?}");
        // Someone a source of truth dropped is kept as past, with the same key.
        let before = run(&ann("ukg=active azure=active google=active"), &p, &[]);
        let after = run(&ann("ukg= azure= google="), &p, &before);
        let gone = one(&after);
        assert_eq!((gone.lifecycle, gone.decided_by.as_deref(), &gone.rule), (L::Past, Some("ukg"), &Rule::Absent));
        assert_eq!((&gone.key, gone.was_current, gone.records.len()), (&before[0].key, true, 0), "{mode:?}");
        // Seen only by an unchecked source, which dropped them: not tracked, even though a source of
        // truth has a snapshot.
        let before = run(&ann("ukg= google=active"), &p, &[]);
        assert!(run(&ann("ukg= google="), &p, &before).is_empty(), "{mode:?}");
    }
}
