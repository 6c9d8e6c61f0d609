//! The resolver's map of managers' emails, made beside matching.

use super::matching::Rec;
use super::{HashMap, HashSet, new_map, new_set};
use crate::model::ManagerRef;

/// The email of every record some record names as its manager by source id, by connection and
/// source id: how a manager's source id becomes an address.
///
/// Only managers are kept, a small share of the records (a tenth in a usual organisation; a map
/// of every record was 80 MB at a million people), and as copies of their own: a lookup then
/// reads these few megabytes, allocated together and often in cache, instead of comparing and
/// copying strings of a manager's record somewhere in gigabytes of snapshots (at 3 x 1M people
/// such lookups were a sixth of building people; now about a tenth).
pub(super) struct ManagerEmails {
    /// By connection index: source id to email.
    by_conn: Vec<HashMap<Box<str>, Box<str>>>,
}

impl ManagerEmails {
    /// The managers' emails among `records` (of `conns` connections).
    pub(super) fn of(records: &[Rec<'_>], conns: usize) -> Self {
        let mut by_conn: Vec<HashMap<Box<str>, Box<str>>> = (0..conns).map(|_| new_map(0)).collect();
        for own in records.chunk_by(|a, b| a.conn == b.conn) {
            let mut managers: HashSet<&str> = new_set(0);
            managers.extend(own.iter().filter_map(|r| match &r.user.manager {
                Some(ManagerRef::SourceId(id)) => Some(id.as_str()),
                _ => None,
            }));
            if managers.is_empty() {
                continue;
            }
            let map = &mut by_conn[own[0].conn];
            map.reserve(managers.len());
            map.extend(
                own.iter()
                    .filter(|r| managers.contains(r.user.source_id.as_str()))
                    .filter_map(|r| Some((Box::from(r.user.source_id.as_str()), Box::from(r.user.email.as_deref()?)))),
            );
        }
        Self { by_conn }
    }

    /// The email of connection `conn`'s record `source_id`, if it names a manager and has one.
    pub(super) fn get(&self, conn: usize, source_id: &str) -> Option<&str> {
        self.by_conn.get(conn)?.get(source_id).map(|e| &**e)
    }
}
