//! The resolver's map of managers' emails, made beside matching.

use std::hash::BuildHasher;

use super::matching::{Rec, widen};
use super::{HashSet, new_set};
use crate::model::{ManagerRef, SourceUser};
use crate::prefetch::prefetch_read;

/// The email of every record some record names as its manager by source id, by connection and
/// source id: how a manager's source id becomes an address.
///
/// Only managers are kept, a small share of the records (a tenth in a usual organisation; a map
/// of every record was 80 MB at a million people), and as copies of their own: a lookup then
/// reads these few megabytes instead of comparing and copying strings of a manager's record
/// somewhere in gigabytes of snapshots (at 3 x 1M people such lookups were a sixth of building
/// people).
///
/// It is a table of its own rather than a `HashMap` so that a lookup can be asked for ahead, as
/// the records are ([`ManagerEmails::ask_slot`], then [`ManagerEmails::ask_text`]): with a
/// `HashMap` of boxed strings, each lookup waited for its table, its key and its email in turn
/// (perf put a tenth of building people in them: the table does not stay in cache while
/// gigabytes of records stream past).
pub(super) struct ManagerEmails {
    /// By connection index.
    tables: Vec<Table>,
}

impl ManagerEmails {
    /// The managers' emails among `records` (of `conns` connections).
    pub(super) fn of(records: &[Rec<'_>], conns: usize) -> Self {
        let mut tables: Vec<Table> = (0..conns).map(|_| Table::with_capacity(0)).collect();
        for own in records.chunk_by(|a, b| a.conn == b.conn) {
            let mut managers: HashSet<&str> = new_set(0);
            managers.extend(own.iter().filter_map(|r| manager_id(r.user)));
            if managers.is_empty() {
                continue;
            }
            let table = &mut tables[own[0].conn];
            *table = Table::with_capacity(managers.len());
            for r in own.iter().filter(|r| managers.contains(r.user.source_id.as_str())) {
                if let Some(email) = r.user.email.as_deref() {
                    table.insert(&r.user.source_id, email);
                }
            }
        }
        Self { tables }
    }

    /// The email of connection `conn`'s record `source_id`, if it names a manager and has one.
    pub(super) fn get(&self, conn: usize, source_id: &str) -> Option<&str> {
        self.tables.get(conn)?.get(source_id)
    }

    /// Asks for the place where the email of the manager `user` (of connection `conn`) names by
    /// source id is looked up, a few people before it is.
    pub(super) fn ask_slot(&self, conn: usize, user: &SourceUser) {
        if let (Some(table), Some(id)) = (self.tables.get(conn), manager_id(user)) {
            prefetch_read(&raw const table.slots[table.first_slot(table.hash(id))]);
        }
    }

    /// Asks for the text of the manager `user` names by source id, once its place is in cache
    /// ([`ManagerEmails::ask_slot`]).
    pub(super) fn ask_text(&self, conn: usize, user: &SourceUser) {
        if let (Some(table), Some(id)) = (self.tables.get(conn), manager_id(user))
            && let Some(slot) = table.probe(table.hash(id)).find(|s| s.id_len == len(id))
        {
            prefetch_read(table.text.as_ptr().wrapping_add(widen(slot.start)));
        }
    }
}

/// The source id `user` names their manager by, if they name one so.
fn manager_id(user: &SourceUser) -> Option<&str> {
    match &user.manager {
        Some(ManagerRef::SourceId(id)) => Some(id),
        _ => None,
    }
}

/// One connection's managers: open addressing with linear probing, at most half of the slots
/// filled, each slot the place of a manager's source id and email in `text`.
struct Table {
    /// A power of two many.
    slots: Vec<Slot>,
    /// Every manager's source id followed by its email, one after another.
    text: String,
    hasher: foldhash::fast::RandomState,
}

/// Where a manager's source id and email lie in [`Table::text`]; `tag` is the high half of the
/// id's hash, so that most slots of other ids are passed over without reading their text.
#[derive(Clone, Copy)]
struct Slot {
    tag: u32,
    start: u32,
    id_len: u32,
    email_len: u32,
}

/// A slot nobody holds.
const EMPTY: Slot = Slot { tag: 0, start: 0, id_len: u32::MAX, email_len: 0 };

impl Slot {
    fn is_free(&self) -> bool {
        self.id_len == EMPTY.id_len
    }
}

impl Table {
    fn with_capacity(managers: usize) -> Self {
        let slots = (managers * 2).next_power_of_two().max(2);
        Self { slots: vec![EMPTY; slots], text: String::new(), hasher: foldhash::fast::RandomState::default() }
    }

    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The slot where probing for `hash` starts.
    fn first_slot(&self, hash: u64) -> usize {
        // The hash's low bits, as many as the table has slots (a power of two): they fit a `usize`.
        let mask = u64::try_from(self.slots.len() - 1).unwrap_or(u64::MAX);
        usize::try_from(hash & mask).unwrap_or(0)
    }

    /// Every slot's index once, in the order probing for `hash` visits them.
    fn probing_order(&self, hash: u64) -> impl Iterator<Item = usize> {
        let start = self.first_slot(hash);
        (start..self.slots.len()).chain(0..start)
    }

    /// The slots held with `hash`'s tag, in probing order, up to the first free one.
    fn probe(&self, hash: u64) -> impl Iterator<Item = &Slot> {
        let tag = tag_of(hash);
        self.probing_order(hash).map(|i| &self.slots[i]).take_while(|s| !s.is_free()).filter(move |s| s.tag == tag)
    }

    fn id(&self, slot: &Slot) -> &str {
        let start = widen(slot.start);
        &self.text[start..start + widen(slot.id_len)]
    }

    fn get(&self, id: &str) -> Option<&str> {
        let slot = self.probe(self.hash(id)).find(|s| self.id(s) == id)?;
        let start = widen(slot.start) + widen(slot.id_len);
        Some(&self.text[start..start + widen(slot.email_len)])
    }

    /// Holds `email` for `id`, in place of what it held for `id` (the last record with an id
    /// wins, as inserting into a map does).
    ///
    /// # Panics
    ///
    /// When the managers' ids and emails come to 4 GiB or more, or the table is full (it is
    /// made with twice as many slots as there are managers).
    fn insert(&mut self, id: &str, email: &str) {
        let hash = self.hash(id);
        let slot = Slot { tag: tag_of(hash), start: len(&self.text), id_len: len(id), email_len: len(email) };
        let at = self
            .probing_order(hash)
            .find(|&i| {
                let held = &self.slots[i];
                held.is_free() || (held.tag == slot.tag && self.id(held) == id)
            })
            .expect("a table of managers' emails has twice as many slots as managers");
        self.text.push_str(id);
        self.text.push_str(email);
        self.slots[at] = slot;
    }
}

/// The tag of a slot for `hash`: its high half.
fn tag_of(hash: u64) -> u32 {
    u32::try_from(hash >> 32).unwrap_or(u32::MAX)
}

/// A length or place in a table's text as the `u32` its slots hold it in.
fn len(text: &str) -> u32 {
    u32::try_from(text.len()).expect("managers' ids and emails under 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn managed_by(id: &str, manager: &str, email: Option<&str>) -> SourceUser {
        SourceUser {
            source_id: id.into(),
            email: email.map(Into::into),
            manager: Some(ManagerRef::SourceId(manager.into())),
            ..SourceUser::default()
        }
    }

    #[test]
    fn finds_every_managers_email_and_nothing_else() {
        // Enough managers that probing runs past slots other ids hold.
        let users: Vec<SourceUser> = (0..5_000)
            .map(|i| {
                managed_by(
                    &format!("e{i}"),
                    &format!("e{}", i / 3),
                    (i % 7 != 0).then(|| format!("p{i}@acme.com")).as_deref(),
                )
            })
            .collect();
        let records: Vec<Rec<'_>> = users.iter().map(|user| Rec { conn: 1, user }).collect();
        let emails = ManagerEmails::of(&records, 2);
        for (i, user) in users.iter().enumerate() {
            let want = (i < 1_667 && i % 7 != 0).then(|| format!("p{i}@acme.com"));
            assert_eq!(emails.get(1, &format!("e{i}")), want.as_deref(), "e{i}");
            // Asking ahead changes nothing.
            emails.ask_slot(1, user);
            emails.ask_text(1, user);
        }
        assert_eq!(emails.get(0, "e1"), None, "another connection");
        assert_eq!(emails.get(2, "e1"), None, "no such connection");
        assert_eq!(emails.get(1, "e"), None);
    }

    #[test]
    fn the_last_record_with_an_id_wins() {
        let users = [
            managed_by("boss", "boss", Some("old@acme.com")),
            managed_by("boss", "boss", Some("new@acme.com")),
            managed_by("", "", Some("blank@acme.com")),
        ];
        let records: Vec<Rec<'_>> = users.iter().map(|user| Rec { conn: 0, user }).collect();
        let emails = ManagerEmails::of(&records, 1);
        assert_eq!(emails.get(0, "boss"), Some("new@acme.com"));
        assert_eq!(emails.get(0, ""), Some("blank@acme.com"), "an empty id is an id like any other");
    }
}
