//! Events: what changed for a person between two resolutions.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::person::Person;
use crate::model::Lifecycle;

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
    pub role: Option<String>,
    /// Department.
    pub department: Option<String>,
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
    pub person: String,
    /// Their email, for people reading the event.
    pub email: Option<String>,
    /// The connection whose say caused it.
    pub decided_by: Option<String>,
    /// Before.
    pub before: PersonState,
    /// After.
    pub after: PersonState,
}

/// Whether two attribute values say the same thing: sources differ in case and spacing
/// (`ENGINEERING` as a UKG org code, `Engineering` in Entra), which is not a move.
fn same(a: Option<&str>, b: Option<&str>) -> bool {
    let norm = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_lowercase);
    norm(a) == norm(b)
}

/// The events that going from `before` to `after` fires, in `after`'s order (then people who are
/// no longer tracked).
pub fn diff(before: &[Person], after: &[Person]) -> Vec<Event> {
    let old: HashMap<&str, &Person> = before.iter().map(|p| (p.key.as_str(), p)).collect();
    let mut events = Vec::new();
    for p in after {
        let was = old.get(p.key.as_str()).copied();
        let was_current = was.is_some_and(|w| w.lifecycle == Lifecycle::Current);
        let is_current = p.lifecycle == Lifecycle::Current;
        let kind = match (was_current, is_current) {
            (false, true) if was.is_some_and(|w| w.was_current) => Some(EventKind::Rejoined),
            (false, true) => Some(EventKind::Joined),
            (true, false) => Some(EventKind::Left),
            (true, true) => was
                .filter(|w| {
                    !same(w.role.as_deref(), p.role.as_deref())
                        || !same(w.department.as_deref(), p.department.as_deref())
                })
                .map(|_| EventKind::Moved),
            (false, false) => None,
        };
        if let Some(kind) = kind {
            events.push(Event {
                kind,
                person: p.key.clone(),
                email: p.email.clone(),
                decided_by: p.decided_by.as_deref().map(str::to_owned),
                before: PersonState::of(was),
                after: PersonState::of(Some(p)),
            });
        }
    }
    let now: std::collections::HashSet<&str> = after.iter().map(|p| p.key.as_str()).collect();
    for w in before.iter().filter(|w| w.lifecycle == Lifecycle::Current && !now.contains(w.key.as_str())) {
        events.push(Event {
            kind: EventKind::Left,
            person: w.key.clone(),
            email: w.email.clone(),
            decided_by: None,
            before: PersonState::of(Some(w)),
            after: PersonState::of(None),
        });
    }
    events
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
    let old: HashMap<&str, &Person> = before.iter().map(|p| (p.key.as_str(), p)).collect();
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
        let from = old.get(p.key.as_str()).map(|w| w.lifecycle);
        if from != Some(p.lifecycle) {
            add(from, Some(p.lifecycle), p);
        }
    }
    let now: std::collections::HashSet<&str> = after.iter().map(|p| p.key.as_str()).collect();
    for w in before.iter().filter(|w| !now.contains(w.key.as_str())) {
        add(Some(w.lifecycle), None, w);
    }
    groups.into_values().collect()
}
