//! Matching source records into people.
//!
//! Records are grouped by union-find: first the records one source says are one person (the same
//! `person_id`), then by each key of `match_on` in order. One guard keeps a bad key from chaining
//! strangers together: two groups are never merged when they hold *different* people of the same
//! connection (a shared placeholder employee id like `0` would otherwise make one giant person).
//! Records are processed in a canonical order, so the result does not depend on input order.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash};

use super::policy::MatchKey;
use crate::model::SourceUser;

/// One record to match: the index of its connection and the record.
#[derive(Debug, Clone, Copy)]
pub struct Rec<'a> {
    /// Index of the connection in the resolver's snapshot list (its precedence for attributes).
    pub conn: usize,
    /// The record.
    pub user: &'a SourceUser,
}

impl<'a> Rec<'a> {
    /// Who this record is within its own connection: the source's person id, else the record.
    fn identity(&self) -> (usize, &'a str) {
        (self.conn, self.user.person_id.as_deref().unwrap_or(&self.user.source_id))
    }
}

/// Union-find over records, each group also a circular list of its members (`next`), so that
/// the guard can walk two groups without any list being allocated.
struct Groups<'r, 'a> {
    records: &'r [Rec<'a>],
    parent: Vec<usize>,
    next: Vec<usize>,
    size: Vec<usize>,
}

impl<'r, 'a> Groups<'r, 'a> {
    fn new(records: &'r [Rec<'a>]) -> Self {
        Self {
            records,
            parent: (0..records.len()).collect(),
            next: (0..records.len()).collect(),
            size: vec![1; records.len()],
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// The members of the group `i` is in, starting with `i`.
    fn members(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let mut at = Some(i);
        std::iter::from_fn(move || {
            let here = at?;
            let next = self.next[here];
            at = (next != i).then_some(next);
            Some(here)
        })
    }

    /// Merges the groups of `a` and `b` unless they hold different people of one connection.
    fn union(&mut self, a: usize, b: usize, guarded: bool) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        if guarded {
            let conflict = self.members(ra).any(|x| {
                let (cx, ix) = self.records[x].identity();
                self.members(rb).any(|y| {
                    let (cy, iy) = self.records[y].identity();
                    cx == cy && ix != iy
                })
            });
            if conflict {
                return false;
            }
        }
        let (keep, gone) = if self.size[ra] >= self.size[rb] { (ra, rb) } else { (rb, ra) };
        self.parent[gone] = keep;
        self.size[keep] += self.size[gone];
        // Splicing two circular lists is swapping one successor of each.
        self.next.swap(keep, gone);
        true
    }

    /// The groups, each sorted, ordered by their first member.
    fn into_groups(self) -> Vec<Vec<usize>> {
        let mut placed = vec![false; self.records.len()];
        let mut out = Vec::new();
        for i in 0..self.records.len() {
            if placed[i] {
                continue;
            }
            // `i` is the first member of its group: every smaller one was placed already.
            let mut group: Vec<usize> = self.members(i).collect();
            group.sort_unstable();
            for &m in &group {
                placed[m] = true;
            }
            out.push(group);
        }
        out
    }
}

/// A matching key as compared: trimmed and lowercase; `None` when blank. Borrowed when the value
/// is already in that form, which is most of them: a million records then cost no allocation.
pub(super) fn normalise(value: &str) -> Option<Cow<'_, str>> {
    let t = trim(value);
    if t.is_empty() {
        None
    } else if t.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Some(Cow::Owned(t.to_lowercase()))
    } else {
        Some(Cow::Borrowed(t))
    }
}

/// `value` without leading and trailing whitespace. Most values start and end with a visible
/// ASCII character, which no Unicode whitespace is: those are returned without scanning.
pub(super) fn trim(value: &str) -> &str {
    match (value.as_bytes().first(), value.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        _ => value.trim(),
    }
}

/// The normalised matching keys of one kind for a record.
pub fn keys(user: &SourceUser, kind: MatchKey) -> impl Iterator<Item = Cow<'_, str>> {
    let (emails, employee_id) = match kind {
        MatchKey::Email => (Some(user.emails()), None),
        MatchKey::EmployeeId => (None, user.employee_id.as_deref()),
    };
    emails.into_iter().flatten().chain(employee_id).filter_map(normalise)
}

/// Groups `records` into people. Returns groups of indices into `records`, each group sorted and
/// the groups ordered by their first member; `records` should be in canonical order (by
/// connection, then source id) for the result to be independent of how sources listed them.
pub fn match_records(records: &[Rec<'_>], match_on: &[MatchKey]) -> Vec<Vec<usize>> {
    let mut groups = Groups::new(records);
    // Records the source itself ties together (one person, several companies).
    for (i, _, first) in shared_keys(records, |r| r.user.person_id.is_some().then_some(r.identity()).into_iter()) {
        groups.union(first, i, false);
    }
    for &kind in match_on {
        for (i, _, first) in shared_keys(records, |r| keys(r.user, kind)) {
            groups.union(first, i, true);
        }
    }
    groups.into_groups()
}

/// Two independently and randomly seeded hashers as one 128-bit hash. Equal hashes are taken as
/// equal keys: for the ten million keys of the largest tenants, two different keys collide with
/// a probability below 10^-24, and as the seeds change with every run, nobody can choose
/// addresses that collide. Comparing hashes instead of keys spares a cache miss or two per
/// comparison (the key's bytes live elsewhere), which is most of matching's time at a million
/// records.
pub(super) struct Hash128 {
    high: foldhash::quality::RandomState,
    low: foldhash::quality::RandomState,
}

impl Hash128 {
    pub(super) fn new() -> Self {
        Self { high: foldhash::quality::RandomState::default(), low: foldhash::quality::RandomState::default() }
    }

    pub(super) fn hash(&self, key: &impl Hash) -> u128 {
        (u128::from(self.high.hash_one(key)) << 64) | u128::from(self.low.hash_one(key))
    }
}

/// Every record that has a key an earlier record has, as `(record, the key's place among the
/// record's keys, the first record with the key)`, in the order of records and then of their
/// keys: the order in which merging them one by one gives the same groups as walking the records
/// with a map from each key to its first record.
///
/// A map from keys to records costs a cache miss or two per record at a million records (and so
/// does reading a key again to compare it). Instead, every key is hashed ([`Hash128`]) in one
/// pass over the records, in memory order, and the hashes are sorted: records that share a key
/// are neighbours.
fn shared_keys<'a, K, I>(records: &[Rec<'a>], keys_of: impl Fn(&Rec<'a>) -> I) -> Vec<(usize, usize, usize)>
where
    K: Hash,
    I: Iterator<Item = K>,
{
    let hash128 = Hash128::new();
    let mut by_hash: Vec<(u128, usize, usize)> = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        by_hash.extend(keys_of(r).enumerate().map(|(pos, key)| (hash128.hash(&key), i, pos)));
    }
    by_hash.sort_unstable();
    let mut shared = Vec::new();
    for run in by_hash.chunk_by(|a, b| a.0 == b.0) {
        let first = run[0].1;
        shared.extend(run[1..].iter().map(|&(_, i, pos)| (i, pos, first)));
    }
    shared.sort_unstable();
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, email: Option<&str>, emp: Option<&str>, person: Option<&str>) -> SourceUser {
        SourceUser {
            source_id: id.into(),
            email: email.map(Into::into),
            employee_id: emp.map(Into::into),
            person_id: person.map(Into::into),
            ..SourceUser::default()
        }
    }

    fn groups_of(records: &[(usize, SourceUser)], match_on: &[MatchKey]) -> Vec<Vec<String>> {
        let recs: Vec<Rec<'_>> = records.iter().map(|(c, u)| Rec { conn: *c, user: u }).collect();
        match_records(&recs, match_on)
            .into_iter()
            .map(|g| g.into_iter().map(|i| format!("{}:{}", records[i].0, records[i].1.source_id)).collect())
            .collect()
    }

    #[test]
    fn matches_by_email_alias_and_employee_id_case_insensitively() {
        let mut alias = user("g1", Some("ann.lee@acme.com"), None, None);
        alias.aliases = vec!["ALEE@acme.com".into()];
        let records = vec![
            (0, user("u1", Some("alee@ACME.com"), Some("E1"), None)),
            (1, alias),
            (2, user("a1", None, Some("e1"), None)),
            (2, user("a2", Some("bob@acme.com"), Some("E2"), None)),
        ];
        assert_eq!(
            groups_of(&records, &[MatchKey::Email, MatchKey::EmployeeId]),
            vec![vec!["0:u1", "1:g1", "2:a1"], vec!["2:a2"]]
        );
        // Without employee ids, the record that has only an employee id stays alone.
        assert_eq!(groups_of(&records, &[MatchKey::Email]), vec![vec!["0:u1", "1:g1"], vec!["2:a1"], vec!["2:a2"]]);
    }

    #[test]
    fn person_id_ties_records_of_one_source() {
        let records = vec![
            (0, user("C1/E1", Some("x@acme.com"), Some("7"), Some("P1"))),
            (0, user("C2/E9", Some("x@acme.com"), Some("7"), Some("P1"))),
        ];
        assert_eq!(groups_of(&records, &[MatchKey::Email]), vec![vec!["0:C1/E1", "0:C2/E9"]]);
    }

    #[test]
    fn never_merges_two_people_of_one_connection() {
        // A placeholder employee id shared by strangers must not chain them into one person.
        let records = vec![
            (0, user("u1", Some("a@acme.com"), Some("0"), None)),
            (0, user("u2", Some("b@acme.com"), Some("0"), None)),
            (1, user("x1", Some("a@acme.com"), Some("0"), None)),
        ];
        assert_eq!(
            groups_of(&records, &[MatchKey::Email, MatchKey::EmployeeId]),
            vec![vec!["0:u1", "1:x1"], vec!["0:u2"]]
        );
    }

    #[test]
    fn keys_are_trimmed_and_lowercase_whatever_the_whitespace_or_script() {
        let norm = |v: &str| normalise(v).map(Cow::into_owned);
        assert_eq!(norm("ann@acme.com"), Some("ann@acme.com".into()));
        assert!(matches!(normalise("ann@acme.com"), Some(Cow::Borrowed(_))), "nothing to change, nothing allocated");
        assert_eq!(norm(" Ann@ACME.com\t"), Some("ann@acme.com".into()));
        // Unicode whitespace (no-break space, ideographic space) and non-ASCII capitals.
        assert_eq!(norm("\u{a0}ÅSA@acme.com\u{3000}"), Some("åsa@acme.com".into()));
        assert_eq!(norm("\u{a0} \t"), None);
        assert_eq!(norm(""), None);
        assert_eq!(trim("x"), "x");
        assert_eq!(trim("\u{2003}x\u{2003}"), "x");
    }

    #[test]
    fn records_sharing_keys_merge_in_record_order() {
        // Three records of three connections with one email, and a fourth only by employee id:
        // all one person, whichever order the hashes sort in.
        let records = vec![
            (0, user("u1", Some("a@acme.com"), Some("7"), None)),
            (1, user("x1", Some("A@acme.com"), None, None)),
            (2, user("g1", Some(" a@acme.com "), None, None)),
            (3, user("h1", None, Some("7"), None)),
        ];
        let recs: Vec<Rec<'_>> = records.iter().map(|(c, u)| Rec { conn: *c, user: u }).collect();
        assert_eq!(shared_keys(&recs, |r| keys(r.user, MatchKey::Email)), vec![(1, 0, 0), (2, 0, 0)]);
        assert_eq!(shared_keys(&recs, |r| keys(r.user, MatchKey::EmployeeId)), vec![(3, 0, 0)]);
        assert_eq!(
            groups_of(&records, &[MatchKey::Email, MatchKey::EmployeeId]),
            vec![vec!["0:u1", "1:x1", "2:g1", "3:h1"]]
        );
    }
}
