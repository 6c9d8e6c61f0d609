//! The JSON of values many people share, written once and then copied ([`SHARED`]).

use std::cell::RefCell;

use roster_core::lifecycle::{NameSet, Provenance, Trace};

thread_local! {
    /// The JSON of the values people share, as this thread last wrote them.
    pub(super) static SHARED: RefCell<Shared> = RefCell::default();
}

/// The JSON of a few recent traces, provenances and `seen_in` sets, which most people share with
/// many others (the resolver makes one value for each distinct one): copied, not written again.
/// They are half of a person's JSON: copying them took encoding 100k people's chunks from a
/// median of 130 to 99 ms (six runs each, alternately).
#[derive(Default)]
pub(super) struct Shared {
    pub traces: Recent<Trace>,
    pub provenances: Recent<Provenance>,
    pub seen_in: Recent<NameSet>,
}

/// How many values of each kind [`Shared`] keeps: people of a handful of kinds (current, past,
/// on leave...) come one after another in any order.
const RECENT: usize = 8;

/// The last [`RECENT`] values of one kind written, each with its JSON. Values are compared by
/// content (for the same shared value, by pointer first), and kept alive by the clone held here.
pub(super) struct Recent<T> {
    written: Vec<(T, Vec<u8>)>,
    /// The entry the next new value replaces, once all are taken.
    next: usize,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self { written: Vec::with_capacity(RECENT), next: 0 }
    }
}

impl<T: PartialEq + Clone> Recent<T> {
    /// Appends `value`'s JSON to `out`: copied when it is one of the recent values, else made
    /// by `write` and kept.
    pub(super) fn write(
        &mut self,
        out: &mut Vec<u8>,
        value: &T,
        write: impl FnOnce(&mut Vec<u8>, &T) -> serde_json::Result<()>,
    ) -> serde_json::Result<()> {
        if let Some((_, json)) = self.written.iter().find(|(known, _)| known == value) {
            out.extend_from_slice(json);
            return Ok(());
        }
        let start = out.len();
        write(out, value)?;
        let entry = (value.clone(), out[start..].to_vec());
        if self.written.len() < RECENT {
            self.written.push(entry);
        } else {
            self.written[self.next] = entry;
            self.next = (self.next + 1) % RECENT;
        }
        Ok(())
    }
}
