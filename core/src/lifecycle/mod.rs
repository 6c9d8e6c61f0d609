//! Source precedence and lifecycle resolution: pure functions, no I/O.
//!
//! [`resolve`] turns the connections' latest complete snapshots and a [`Policy`] into people;
//! [`diff`] turns two resolutions into events. Both are plain synchronous functions so they can
//! be tested exhaustively and run on a million people without a runtime.

mod canonical;
mod events;
mod managers;
mod matching;
#[cfg(test)]
mod mode_tests;
mod person;
mod policy;
mod prior;
#[cfg(test)]
mod proptests;
mod resolve;
#[cfg(test)]
mod scale_tests;
mod shared;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trace_tests;

pub use events::{Event, EventKind, PersonState, Transition, diff, transitions};
pub use matching::{Groups, Rec, keys, match_records};
pub use person::{Outcome, Person, PersonRecord, Rule, Said, Verdict};
pub use policy::{Attribute, MatchKey, Mode, OnLeave, Policy};
pub use resolve::{Snapshot, resolve};
pub use shared::{Name, NameSet, Provenance, Trace};

/// The resolver's hash maps, keyed by millions of emails, ids and names: foldhash is several times
/// faster than the standard library's `SipHash` on short strings, and still seeded per process.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The resolver's hash sets, with the same hasher as its maps.
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// A [`HashMap`] with room for `capacity` entries.
fn new_map<K, V>(capacity: usize) -> HashMap<K, V> {
    HashMap::with_capacity_and_hasher(capacity, foldhash::fast::RandomState::default())
}

/// A [`HashSet`] with room for `capacity` entries.
fn new_set<K>(capacity: usize) -> HashSet<K> {
    HashSet::with_capacity_and_hasher(capacity, foldhash::fast::RandomState::default())
}
