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
pub(super) use crate::model::trim;
use crate::parallel::{extend_in_runs, for_each_in_runs, join, map_each};

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
///
/// Its arrays hold `u32`s, and each record's connection is copied beside them (`conn`): at three
/// million records, links of eight bytes and the guard reading `records` (sixteen bytes each)
/// made 120 MB of memory read at random, which no cache holds; now it is 48 MB.
struct UnionFind<'r, 'a> {
    records: &'r [Rec<'a>],
    conn: Vec<u32>,
    parent: Vec<u32>,
    next: Vec<u32>,
    size: Vec<u32>,
}

impl<'r, 'a> UnionFind<'r, 'a> {
    fn new(records: &'r [Rec<'a>]) -> Self {
        let all = || (0..records.len()).map(narrow);
        Self {
            records,
            conn: records.iter().map(|r| narrow(r.conn)).collect(),
            parent: all().collect(),
            next: all().collect(),
            size: vec![1; records.len()],
        }
    }

    fn find(&mut self, i: usize) -> usize {
        let mut i = narrow(i);
        while self.parent[widen(i)] != i {
            let up = self.parent[widen(self.parent[widen(i)])];
            self.parent[widen(i)] = up;
            i = up;
        }
        widen(i)
    }

    /// The members of the group `i` is in, starting with `i`.
    fn members(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let mut at = Some(i);
        std::iter::from_fn(move || {
            let here = at?;
            let next = widen(self.next[here]);
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
            // Connections are compared first: they are at hand, identities behind `records`.
            let conflict = self.members(ra).any(|x| {
                self.members(rb)
                    .any(|y| self.conn[x] == self.conn[y] && self.records[x].identity() != self.records[y].identity())
            });
            if conflict {
                return false;
            }
        }
        let (keep, gone) = if self.size[ra] >= self.size[rb] { (ra, rb) } else { (rb, ra) };
        self.parent[gone] = narrow(keep);
        self.size[keep] += self.size[gone];
        // Splicing two circular lists is swapping one successor of each.
        self.next.swap(keep, gone);
        true
    }

    /// The groups, each sorted, ordered by their first member.
    fn into_groups(self) -> Groups {
        let mut placed = vec![false; self.records.len()];
        let mut out = Groups { members: Vec::with_capacity(self.records.len()), ends: Vec::new() };
        for i in 0..self.records.len() {
            if placed[i] {
                continue;
            }
            // `i` is the first member of its group: every smaller one was placed already.
            let start = out.members.len();
            out.members.extend(self.members(i));
            out.members[start..].sort_unstable();
            for &m in &out.members[start..] {
                placed[m] = true;
            }
            out.ends.push(out.members.len());
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

/// The normalised matching keys of one kind for a record.
pub fn keys(user: &SourceUser, kind: MatchKey) -> impl Iterator<Item = Cow<'_, str>> {
    let (emails, employee_id) = match kind {
        MatchKey::Email => (Some(user.emails()), None),
        MatchKey::EmployeeId => (None, user.employee_id.as_deref()),
    };
    emails.into_iter().flatten().chain(employee_id).filter_map(normalise)
}

/// Records grouped into people: each group the sorted indices of its records, the groups ordered
/// by their first member. Held as one list of every group's members one after another (a
/// million people are then two allocations, not a million).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    /// Every group's members, group after group.
    members: Vec<usize>,
    /// Where each group ends in `members`.
    ends: Vec<usize>,
}

impl Groups {
    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The members of group `g`, if there is one.
    pub fn get(&self, g: usize) -> Option<&[usize]> {
        let end = *self.ends.get(g)?;
        Some(&self.members[self.start(g)..end])
    }

    /// Where group `g` starts in `members`: where the one before it ends.
    fn start(&self, g: usize) -> usize {
        g.checked_sub(1).map_or(0, |before| self.ends[before])
    }

    /// The groups `run`, in order; as many as the run is long, so that collecting them
    /// allocates once.
    ///
    /// # Panics
    ///
    /// When `run` goes past the last group, as slicing would.
    pub fn run(&self, run: std::ops::Range<usize>) -> impl ExactSizeIterator<Item = &[usize]> {
        run.map(move |g| &self.members[self.start(g)..self.ends[g]])
    }

    /// Every group, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[usize]> {
        self.run(0..self.len())
    }
}

/// Groups `records` into people. Returns groups of indices into `records`, each group sorted and
/// the groups ordered by their first member; `records` should be in canonical order (by
/// connection, then source id) for the result to be independent of how sources listed them.
pub fn match_records(records: &[Rec<'_>], match_on: &[MatchKey]) -> Groups {
    // Every kind of key hashed in one pass over the records: each record is read once, not once
    // a kind (at three million records, each pass took a tenth of a second). The hashes of every
    // kind are held at once, 20 bytes a key: 120 MB at three million records of two keys.
    let hasher = Hash128::new();
    let hash = || {
        SortedKeys::many(records.len(), 1 + match_on.len(), |i, kind, emit| {
            let r = &records[i];
            match kind.checked_sub(1) {
                // Records the source itself ties together (one person, several companies).
                None => {
                    if r.user.person_id.is_some() {
                        emit(hasher.hash(&r.identity()));
                    }
                }
                Some(k) => keys(r.user, match_on[k]).for_each(|key| emit(hasher.hash(&key))),
            }
        })
    };
    // The union-find's arrays are fresh memory (48 MB at three million records, 60-70 ms of
    // faulting pages in): made beside the hashing. Each kind's shared keys are found on a core of
    // their own; only merging groups goes in order, kind after kind.
    let (mut groups, sorted) = if records.len() >= PARALLEL_FROM {
        join(|| UnionFind::new(records), hash)
    } else {
        (UnionFind::new(records), hash())
    };
    for (kind, shared) in map_each(sorted, shared_keys).into_iter().enumerate() {
        for (i, first) in shared {
            groups.union(widen(first), widen(i), kind > 0);
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

/// Below this many records, keys are hashed on one thread: starting another costs more.
const PARALLEL_FROM: usize = 50_000;

/// The low 32 bits of a [`Hashed`] key: an index (of a record, or of a place in hashing order).
pub(super) const INDEX: u128 = 0xFFFF_FFFF;

/// A key as matching sorts it: the top 96 bits of its [`Hash128`] and, in the low 32 bits, an
/// index. One number of 16 bytes is half the memory of a hash beside an index, and a sort
/// compares it in one step. Ninety-six bits still leave two of ten million keys colliding with a
/// probability below 10^-15.
pub(super) type Hashed = u128;

/// `hash` with `index` in its low bits.
///
/// # Panics
///
/// With four billion records or keys or more (which no machine that runs this holds in memory).
fn hashed(hash: u128, index: usize) -> Hashed {
    (hash & !INDEX) | u128::from(narrow(index))
}

/// The index in the low bits of `key`.
pub(super) fn index_of(key: Hashed) -> usize {
    usize::try_from(key & INDEX).unwrap_or(usize::MAX)
}

/// Every record that has a key an earlier record has, among the records' `keys` of one kind, as
/// `(record, the first record with the key)`, in the order of records and then of their keys:
/// the order in which merging them one by one gives the same groups as walking the records with
/// a map from each key to its first record.
///
/// A map from keys to records costs a cache miss or two per record at a million records (and so
/// does reading a key again to compare it). Instead, every key is hashed ([`Hash128`]) in one
/// pass over the records, in memory order and on every core, and the hashes are sorted
/// ([`SortedKeys`], each a [`Hashed`] of its record): records that share a key are neighbours.
/// Each key is known by its place in the hashing order, which is the order of records and their
/// keys, so the shared ones are put back in that order by their place, not by sorting again.
fn shared_keys(keys: SortedKeys) -> Vec<(u32, u32)> {
    let SortedKeys { sorted, owner } = keys;
    let mut first_of = vec![u32::MAX; owner.len()];
    for run in sorted.chunk_by(|a, b| a & !INDEX == b & !INDEX) {
        let first = owner[index_of(run[0])];
        for &key in &run[1..] {
            first_of[index_of(key)] = first;
        }
    }
    drop(sorted);
    first_of.iter().zip(&owner).filter(|(first, _)| **first != u32::MAX).map(|(&first, &i)| (i, first)).collect()
}

/// The keys of many items, hashed on every core in one pass over the items in order and sorted
/// ([`sort_hashed`]): items that share a key are neighbours. Each entry's low bits are its place
/// in the hashing order (the order of the items and then of their keys); `owner` says whose
/// each place is.
pub(super) struct SortedKeys {
    /// Every key as a [`Hashed`] of its place, in order of the hashes (and of places among equal
    /// hashes).
    pub sorted: Vec<Hashed>,
    /// The item each place's key belongs to.
    pub owner: Vec<u32>,
}

impl SortedKeys {
    /// Hashes `keys_of(i)` for every item `i` in `0..len` with `hasher`.
    ///
    /// # Panics
    ///
    /// With four billion items or keys or more (which no machine that runs this holds in memory).
    pub(super) fn new<K: Hash, I: Iterator<Item = K>>(
        len: usize,
        hasher: &Hash128,
        keys_of: impl Fn(usize) -> I + Sync,
    ) -> Self {
        let mut one = Self::many(len, 1, |i, _, emit| keys_of(i).for_each(|key| emit(hasher.hash(&key))));
        one.pop().unwrap_or(Self { sorted: Vec::new(), owner: Vec::new() })
    }

    /// Sorted keys of `kinds` kinds at once, in one pass over the items: `hashes_of(i, kind,
    /// emit)` emits the hash of every key of that kind item `i` has.
    pub(super) fn many(
        len: usize,
        kinds: usize,
        hashes_of: impl Fn(usize, usize, &mut dyn FnMut(u128)) + Sync,
    ) -> Vec<Self> {
        // Each core hashes a run of items; the runs are kept apart, in order, by kind.
        let mut runs: Vec<Vec<Vec<Hashed>>> = Vec::new();
        extend_in_runs(&mut runs, len, PARALLEL_FROM, |run, runs| {
            let mut out: Vec<Vec<Hashed>> = (0..kinds).map(|_| Vec::with_capacity(run.len())).collect();
            for i in run {
                for (kind, out) in out.iter_mut().enumerate() {
                    hashes_of(i, kind, &mut |hash| out.push(hashed(hash, i)));
                }
            }
            runs.push(out);
        });
        let by_kind: Vec<Vec<Vec<Hashed>>> =
            (0..kinds).map(|kind| runs.iter_mut().map(|r| std::mem::take(&mut r[kind])).collect()).collect();
        // Each kind sorted on a core of its own: bucketing the keys is one pass on one core.
        map_each(by_kind, |runs| {
            let owner = runs.iter().flatten().map(|&key| narrow(index_of(key))).collect();
            Self { sorted: sort_hashed(runs), owner }
        })
    }

    /// The places whose key has the hash `hash`, in order: a binary search.
    pub(super) fn places(&self, hash: u128) -> impl Iterator<Item = usize> + '_ {
        let hash = hash & !INDEX;
        let start = self.sorted.partition_point(|&key| key & !INDEX < hash);
        self.sorted[start..].iter().take_while(move |&&key| key & !INDEX == hash).map(|&key| index_of(key))
    }
}

/// An index that fits in the low 32 bits of a [`Hashed`] key.
fn narrow(index: usize) -> u32 {
    u32::try_from(index).expect("fewer than 2^32 records and keys")
}

/// A `u32` index as a `usize` (every platform this runs on has 32 bits or more).
pub(super) fn widen(index: u32) -> usize {
    usize::try_from(index).unwrap_or(usize::MAX)
}

/// About this many keys go into a bucket of [`sort_hashed`]: sorted in the processor's cache.
const BUCKET: usize = 1024;

/// Sorts keys whose hashes are uniformly random, as [`Hash128`]'s are, each with its place in
/// `runs` (counted across them) as its index instead of the record's: one pass
/// puts them into buckets by the hash's top bits, in order of the buckets, and then each bucket,
/// small enough to be sorted in the processor's cache, is sorted (on every core). At a million
/// keys this is several times faster than sorting the whole with comparisons, most of which
/// would read memory no cache holds. The result is the same as `sort_unstable`'s.
fn sort_hashed(runs: Vec<Vec<Hashed>>) -> Vec<Hashed> {
    let len = runs.iter().map(Vec::len).sum::<usize>();
    let placed = || runs.iter().flatten().enumerate().map(|(place, &key)| hashed(key, place));
    if len < 4 * BUCKET {
        let mut items: Vec<_> = placed().collect();
        items.sort_unstable();
        return items;
    }
    let bits = (len / BUCKET).next_power_of_two().trailing_zeros().min(20);
    let bucket = |hash: u128| usize::try_from(hash >> (128 - bits)).unwrap_or(usize::MAX);
    let mut starts = vec![0_usize; (1 << bits) + 1];
    for key in placed() {
        starts[bucket(key) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut sorted: Vec<Hashed> = vec![0; len];
    let mut next = starts.clone();
    for key in placed() {
        let b = bucket(key);
        sorted[next[b]] = key;
        next[b] += 1;
    }
    drop(runs);
    let mut buckets = Vec::with_capacity(starts.len() - 1);
    let mut rest = sorted.as_mut_slice();
    for w in starts.windows(2) {
        let (this, tail) = rest.split_at_mut(w[1] - w[0]);
        buckets.push(this);
        rest = tail;
    }
    for_each_in_runs(buckets, 64, <[Hashed]>::sort_unstable);
    sorted
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

    fn shared(records: &[Rec<'_>], kind: MatchKey) -> Vec<(usize, usize)> {
        shared_keys(SortedKeys::new(records.len(), &Hash128::new(), |i| keys(records[i].user, kind)))
            .into_iter()
            .map(|(i, first)| (widen(i), widen(first)))
            .collect()
    }

    fn groups_of(records: &[(usize, SourceUser)], match_on: &[MatchKey]) -> Vec<Vec<String>> {
        let recs: Vec<Rec<'_>> = records.iter().map(|(c, u)| Rec { conn: *c, user: u }).collect();
        match_records(&recs, match_on)
            .iter()
            .map(|g| g.iter().map(|&i| format!("{}:{}", records[i].0, records[i].1.source_id)).collect())
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
        assert_eq!(shared(&recs, MatchKey::Email), vec![(1, 0), (2, 0)]);
        assert_eq!(shared(&recs, MatchKey::EmployeeId), vec![(3, 0)]);
        assert_eq!(
            groups_of(&records, &[MatchKey::Email, MatchKey::EmployeeId]),
            vec![vec!["0:u1", "1:x1", "2:g1", "3:h1"]]
        );
    }

    #[test]
    fn bucketed_sort_of_hashes_is_a_sort() {
        // Random hashes, a run of equal ones, and the extremes, in three runs as the cores make
        // them: the same order as sorting the whole, places numbered across the runs.
        // Records' indices in the low bits are replaced by places.
        let hasher = Hash128::new();
        let mut runs: Vec<Vec<Hashed>> =
            (0..3).map(|r| (0..7_000).map(|i| hashed(hasher.hash(&(r, i)), 7)).collect()).collect();
        runs[1].extend([u128::MAX, 0, 42 << 32, 42 << 32]);
        let mut want: Vec<Hashed> = runs.iter().flatten().enumerate().map(|(place, &k)| hashed(k, place)).collect();
        want.sort_unstable();
        assert_eq!(sort_hashed(runs), want);
        let (three, nine) = (3 << 32, 9 << 32);
        assert_eq!(sort_hashed(vec![vec![nine, three | 5], vec![three]]), vec![three | 1, three | 2, nine]);
        assert_eq!(index_of(hashed(u128::MAX, 12)), 12);
        assert_eq!(hashed(u128::MAX, 12) >> 32, u128::MAX >> 32, "the hash's top 96 bits are kept");
    }

    #[test]
    fn shared_keys_of_many_records_are_those_a_map_finds() {
        // Enough records to be hashed on several threads; every key is shared by a few of them.
        let users: Vec<SourceUser> = (0..60_000)
            .map(|i| user(&format!("{i}"), Some(&format!("p{}@acme.com", (i * 7919) % 20_000)), None, None))
            .collect();
        let recs: Vec<Rec<'_>> = users.iter().map(|u| Rec { conn: 0, user: u }).collect();
        let mut first_with: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let mut want = Vec::new();
        for (i, u) in users.iter().enumerate() {
            let first = *first_with.entry(u.email.as_deref().unwrap()).or_insert(i);
            if first != i {
                want.push((i, first));
            }
        }
        assert_eq!(want.len(), 40_000);
        assert_eq!(shared(&recs, MatchKey::Email), want);
    }

    #[test]
    fn groups_are_read_back_one_by_one_or_by_run() {
        let users = [
            user("1", Some("a@acme.com"), None, None),
            user("2", Some("b@acme.com"), None, None),
            user("3", Some("a@acme.com"), None, None),
        ];
        // Two connections: one never holds two records of one person.
        let recs: Vec<Rec<'_>> = users.iter().zip([0, 0, 1]).map(|(u, conn)| Rec { conn, user: u }).collect();
        let groups = match_records(&recs, &[MatchKey::Email]);
        assert_eq!((groups.len(), groups.is_empty()), (2, false));
        assert_eq!((groups.get(0), groups.get(1), groups.get(2)), (Some(&[0, 2][..]), Some(&[1][..]), None));
        assert_eq!(groups.run(1..2).collect::<Vec<_>>(), vec![&[1][..]]);
        assert!(match_records(&[], &[MatchKey::Email]).is_empty());
    }
}
