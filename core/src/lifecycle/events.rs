//! Events: what changed for a person between two resolutions.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::person::Person;
use super::{HashMap, new_map};
use crate::model::Lifecycle;
use crate::parallel::extend_in_runs;

/// What happened to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Became current for the first time.
    Joined,
    /// Was current, is not any more.
    Left,
    /// Became current again after having left.
    Rejoined,
    /// Stayed current with another role or department.
    Moved,
}

impl EventKind {
    /// The name used in JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Joined => "joined",
            Self::Left => "left",
            Self::Rejoined => "rejoined",
            Self::Moved => "moved",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an event compares, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonState {
    /// Lifecycle (`None`: not tracked).
    pub lifecycle: Option<Lifecycle>,
    /// Job title.
    pub role: Option<CompactString>,
    /// Department.
    pub department: Option<CompactString>,
}

impl PersonState {
    fn of(p: Option<&Person>) -> Self {
        Self {
            lifecycle: p.map(|p| p.lifecycle),
            role: p.and_then(|p| p.role.clone()),
            department: p.and_then(|p| p.department.clone()),
        }
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The person's stable key.
    pub person: CompactString,
    /// Their email, for people reading the event.
    pub email: Option<CompactString>,
    /// The connection whose say caused it.
    pub decided_by: Option<String>,
    /// Before.
    pub before: PersonState,
    /// After.
    pub after: PersonState,
}

/// Whether two attribute values say the same thing: sources differ in case and spacing
/// (`ENGINEERING` as a UKG org code, `Engineering` in Entra), which is not a move. Values are
/// compared as they are first, then without regard to ASCII case, and lowercased into new
/// strings only when one of them is not ASCII: lowercasing every value made four strings for
/// each of a million people who kept their role and department.
fn same(a: Option<&str>, b: Option<&str>) -> bool {
    fn trimmed(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    match (trimmed(a), trimmed(b)) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a == b
                || a.eq_ignore_ascii_case(b)
                || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
        }
        _ => false,
    }
}

/// Where each person of `people` is, by key.
fn by_key(people: &[Person]) -> HashMap<&str, usize> {
    let mut map = new_map(people.len());
    map.extend(people.iter().enumerate().map(|(i, p)| (p.key.as_str(), i)));
    map
}

/// Below this many people, events are found on one thread: starting others costs more.
const PARALLEL_FROM: usize = 50_000;

/// The events that going from `before` to `after` fires, in `after`'s order (then people who are
/// no longer tracked). People are compared on every core: a sync of a million people after a
/// day's changes compares a million pairs, each read at random.
pub fn diff(before: &[Person], after: &[Person]) -> Vec<Event> {
    let old = by_key(before);
    // Which of `before` are still tracked: marked as they are found, on any thread.
    let found: Vec<AtomicBool> = before.iter().map(|_| AtomicBool::new(false)).collect();
    let mut events = Vec::new();
    extend_in_runs(&mut events, after.len(), PARALLEL_FROM, |run, out| {
        for p in &after[run] {
            let was = old.get(p.key.as_str()).map(|&i| {
                found[i].store(true, Ordering::Relaxed);
                &before[i]
            });
            out.extend(event(was, p));
        }
    });
    for (w, found) in before.iter().zip(found) {
        if w.lifecycle == Lifecycle::Current && !found.into_inner() {
            events.push(Event {
                kind: EventKind::Left,
                person: w.key.clone(),
                email: w.email.clone(),
                decided_by: None,
                before: PersonState::of(Some(w)),
                after: PersonState::of(None),
            });
        }
    }
    events
}

/// The event going from `was` (`None`: not tracked) to `p` fires, if any.
fn event(was: Option<&Person>, p: &Person) -> Option<Event> {
    let was_current = was.is_some_and(|w| w.lifecycle == Lifecycle::Current);
    let is_current = p.lifecycle == Lifecycle::Current;
    let kind = match (was_current, is_current) {
        (false, true) if was.is_some_and(|w| w.was_current) => EventKind::Rejoined,
        (false, true) => EventKind::Joined,
        (true, false) => EventKind::Left,
        (true, true) => was
            .filter(|w| {
                !same(w.role.as_deref(), p.role.as_deref()) || !same(w.department.as_deref(), p.department.as_deref())
            })
            .map(|_| EventKind::Moved)?,
        (false, false) => return None,
    };
    Some(Event {
        kind,
        person: p.key.clone(),
        email: p.email.clone(),
        decided_by: p.decided_by.as_deref().map(str::to_owned),
        before: PersonState::of(was),
        after: PersonState::of(Some(p)),
    })
}

/// People whose lifecycle differs between two resolutions, with one lifecycle before and one
/// after (`None`: not tracked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition<'a> {
    /// Lifecycle before (`None`: not tracked yet).
    pub from: Option<Lifecycle>,
    /// Lifecycle after (`None`: no longer tracked).
    pub to: Option<Lifecycle>,
    /// The people who make it, as `after` has them (as `before` had them when no longer tracked),
    /// in `after`'s order.
    pub people: Vec<&'a Person>,
}

/// Every change of lifecycle from `before` to `after`, grouped by (from, to) in the order of
/// [`Lifecycle::ALL`] with "not tracked" last. People whose lifecycle did not change are in none.
pub fn transitions<'a>(before: &'a [Person], after: &'a [Person]) -> Vec<Transition<'a>> {
    let old = by_key(before);
    let mut found = vec![false; before.len()];
    let mut groups: std::collections::BTreeMap<(u8, u8), Transition<'a>> = std::collections::BTreeMap::new();
    let rank = |l: Option<Lifecycle>| l.map_or(u8::MAX, |l| l as u8);
    let mut add = |from: Option<Lifecycle>, to: Option<Lifecycle>, p: &'a Person| {
        groups
            .entry((rank(from), rank(to)))
            .or_insert_with(|| Transition { from, to, people: Vec::new() })
            .people
            .push(p);
    };
    for p in after {
        let from = old.get(p.key.as_str()).map(|&i| {
            found[i] = true;
            before[i].lifecycle
        });
        if from != Some(p.lifecycle) {
            add(from, Some(p.lifecycle), p);
        }
    }
    for (w, _) in before.iter().zip(found).filter(|(_, found)| !found) {
        add(Some(w.lifecycle), None, w);
    }
    groups.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{policy, run, user};
    use super::*;
    use crate::model::{EmploymentStatus as S, SourceUser};

    #[test]
    fn values_differing_only_in_case_or_spacing_are_the_same() {
        for (a, b, want) in [
            (Some("Engineering"), Some("Engineering"), true),
            (Some("ENGINEERING"), Some(" engineering "), true),
            (Some("Ärzte"), Some("ÄRZTE"), true),
            (Some("ärzte"), Some("ÄRZTE"), true),
            (Some("Ärzte"), Some("Arzte"), false),
            (Some("Sales"), Some("Sales EMEA"), false),
            (Some("  "), None, true),
            (None, None, true),
            (Some("Sales"), None, false),
            (Some(""), Some("Sales"), false),
        ] {
            assert_eq!(same(a, b), want, "{a:?} and {b:?}");
            assert_eq!(same(b, a), want, "{b:?} and {a:?}");
        }
    }

    #[test]
    fn events_of_many_people_are_found_on_every_core_in_order() {
        // Enough people to be compared on several threads.
        let n = 3 * PARALLEL_FROM;
        let hr = |changed: bool| -> Vec<SourceUser> {
            (0..n)
                .filter(|i| !(changed && i % 1000 == 7))
                .map(|i| {
                    let status = if changed && i % 1000 == 3 { S::Terminated } else { S::Active };
                    let role = if changed && i % 1000 == 5 { "Manager" } else { "Engineer" };
                    let u = user(&format!("u{i:06}"), &format!("p{i:06}@acme.com"), status);
                    SourceUser { role: Some(role.into()), ..u }
                })
                .chain(
                    (n..n + usize::from(changed) * 10)
                        .map(|i| user(&format!("u{i:06}"), &format!("p{i}@acme.com"), S::Active)),
                )
                .collect()
        };
        let p = policy(&["hr"]);
        let before = run(&[("hr", hr(false))], &p, &[]);
        let mut after = run(&[("hr", hr(true))], &p, &before);
        // A person no longer tracked at all.
        after.retain(|p| p.key != "hr:u000011");
        let events = diff(&before, &after);
        let count = |kind| events.iter().filter(|e| e.kind == kind).count();
        let thousands = n / 1000;
        // Terminated and absent people left, and so did the one no longer tracked (listed last).
        assert_eq!(count(EventKind::Left), 2 * thousands + 1);
        assert_eq!(count(EventKind::Moved), thousands);
        assert_eq!(count(EventKind::Joined), 10);
        assert_eq!(events.last().map(|e| (e.kind, e.person.as_str())), Some((EventKind::Left, "hr:u000011")));
        let place = by_key(&after);
        let places: Vec<usize> = events[..events.len() - 1].iter().map(|e| place[e.person.as_str()]).collect();
        assert!(places.is_sorted(), "events are in the order of the people after");
        let moved = events.iter().find(|e| e.kind == EventKind::Moved).unwrap();
        assert_eq!((moved.before.role.as_deref(), moved.after.role.as_deref()), (Some("Engineer"), Some("Manager")));
    }
}
