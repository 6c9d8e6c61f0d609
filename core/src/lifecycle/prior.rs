//! Which prior person each group of records continues, so that people keep their keys and
//! their history from one resolution to the next; and keys for new people that no prior person
//! had.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use compact_str::CompactString;

use super::matching::{Groups, Hash128, Hashed, INDEX, Rec, SortedKeys, index_of, keys, normalise, widen};
use super::person::Person;
use super::policy::{MatchKey, Policy};
use super::resolve::PARALLEL_FROM;
use super::shared::Name;
use super::{HashSet, new_set};
use crate::parallel::{extend_in_runs, for_each_in_runs, join};

/// For every group, the index of the prior person it continues, if any; and for every prior
/// person, whether a group continues them. `index` is the prior people's [`PriorIndex`], `None`
/// when there are none.
pub(super) fn continued(
    index: Option<&PriorIndex<'_>>,
    records: &[Rec<'_>],
    groups: &Groups,
) -> (Vec<Option<usize>>, Vec<bool>) {
    let Some(prior_index) = index else {
        return (vec![None; groups.len()], Vec::new());
    };
    let mut claimed = vec![false; prior_index.prior.len()];
    let find = |group: &[usize], claimed: Option<&[bool]>| prior_index.find(group, records, claimed);
    // Who each group would continue were nobody claimed yet, looked up on every core; then,
    // in order, a group continues that person unless an earlier group did, and only then
    // looks again past the claimed ones (a rare split or merge). The same as looking each
    // group up in order: the first unclaimed match is the first match when that is unclaimed.
    let mut first_match = Vec::with_capacity(groups.len());
    extend_in_runs(&mut first_match, groups.len(), PARALLEL_FROM, |run, out| {
        out.extend(groups.run(run).map(|group| find(group, None)));
    });
    let continues = groups
        .iter()
        .zip(first_match)
        .map(|(group, first)| {
            let found = match first {
                Some(i) if claimed[i] => find(group, Some(&claimed)),
                first => first,
            };
            if let Some(i) = found {
                claimed[i] = true;
            }
            found
        })
        .collect();
    (continues, claimed)
}

/// Finds the prior person a group of records continues: by one of its records, else by a
/// matching key.
///
/// Built without maps: a map of the prior people's records (millions of them) cost a cache miss
/// per insert and per lookup, most of continuing from a prior result. Instead the prior
/// people's records and the current ones are hashed ([`Hash128`]) and sorted on every core, as
/// matching sorts keys, and one merge of the two sorted lists says which prior person each
/// current record was. The prior people's keys are only needed for groups none of whose
/// records was anyone's (new people, mostly), so they are hashed and sorted when a lookup first
/// needs them, and looked up by binary search.
///
/// It needs the records but not how they are grouped, so the resolver builds it while matching
/// runs (whose union-find leaves the other core idle).
pub(super) struct PriorIndex<'p> {
    prior: &'p [Person],
    policy: &'p Policy,
    hasher: Hash128,
    /// For every current record, the prior person one of whose records it is ([`NOBODY`]: none).
    of_record: Vec<AtomicU32>,
    /// The prior people's keys of each kind of `match_on`, in its order.
    by_key: OnceLock<Vec<(MatchKey, SortedKeys)>>,
}

/// No prior person.
const NOBODY: u32 = u32::MAX;

impl<'p> PriorIndex<'p> {
    pub(super) fn new(prior: &'p [Person], policy: &'p Policy, names: &[Name], records: &[Rec<'_>]) -> Self {
        let hasher = Hash128::new();
        // Only records of a connection with a snapshot can be found again.
        let prior_records = |i: usize| {
            prior[i]
                .records
                .iter()
                .filter_map(|r| names.iter().position(|n| *n == r.connection).map(|c| (c, r.source_id.as_str())))
        };
        let (before, now) = join(
            || SortedKeys::new(prior.len(), &hasher, prior_records),
            || {
                SortedKeys::new(records.len(), &hasher, |i| {
                    std::iter::once((records[i].conn, records[i].user.source_id.as_str()))
                })
            },
        );
        Self { prior, policy, hasher, of_record: merge(&before, &now, records.len()), by_key: OnceLock::new() }
    }

    /// The prior people's keys, hashed and sorted the first time they are needed.
    fn by_key(&self) -> &[(MatchKey, SortedKeys)] {
        self.by_key.get_or_init(|| {
            self.policy
                .match_on
                .iter()
                .map(|&kind| {
                    let keys_of = |i: usize| {
                        let p = &self.prior[i];
                        let (emails, employee_id) = match kind {
                            MatchKey::Email => (Some(p.email.iter().chain(&p.aliases)), None),
                            MatchKey::EmployeeId => (None, p.employee_id.as_ref()),
                        };
                        emails.into_iter().flatten().chain(employee_id).filter_map(|v| normalise(v))
                    };
                    (kind, SortedKeys::new(self.prior.len(), &self.hasher, keys_of))
                })
                .collect()
        })
    }

    /// The first prior person one of the group's records was, else the first who had one of
    /// their keys, passing over the `claimed` ones.
    fn find(&self, group: &[usize], records: &[Rec<'_>], claimed: Option<&[bool]>) -> Option<usize> {
        let unclaimed = |i: usize| claimed.is_none_or(|claimed| !claimed[i]);
        let by_record = group
            .iter()
            .map(|&r| self.of_record[r].load(Ordering::Relaxed))
            .filter(|&p| p != NOBODY)
            .map(widen)
            .find(|&p| unclaimed(p));
        by_record.or_else(|| {
            let by_key = self.by_key();
            group.iter().find_map(|&r| {
                by_key.iter().find_map(|(kind, sorted)| {
                    keys(records[r].user, *kind).find_map(|k| {
                        // The first prior person with the key, as a map filled in order keeps.
                        let first = sorted.places(self.hasher.hash(&k)).next()?;
                        Some(widen(sorted.owner[first])).filter(|&p| unclaimed(p))
                    })
                })
            })
        })
    }
}

/// Which prior person each current record was, from the prior people's records and the current
/// ones, both hashed and sorted: a merge of the two lists, in parts of the hash space on every
/// core (the writes land all over the result, each a cache miss: 0.33 s on one core at 3 x 1M).
/// A record two prior people had (which the resolver does not make) was the last one's, as a
/// map filled in order keeps. `now` holds one key a record, so a place is a record's index.
fn merge(before: &SortedKeys, now: &SortedKeys, records: usize) -> Vec<AtomicU32> {
    // The hash space in parts by its top four bits: where each part begins in both lists.
    const PARTS: u128 = 16;
    debug_assert_eq!(now.owner.len(), records, "one key a record");
    let of_record: Vec<AtomicU32> = (0..records).map(|_| AtomicU32::new(NOBODY)).collect();
    let hash = |key: Hashed| key & !INDEX;
    let bounds = |list: &[Hashed]| -> Vec<usize> {
        (0..=PARTS).map(|p| if p == PARTS { list.len() } else { list.partition_point(|&k| k >> 124 < p) }).collect()
    };
    let (old_at, new_at) = (bounds(&before.sorted), bounds(&now.sorted));
    let parts: Vec<usize> = (0..old_at.len() - 1).collect();
    for_each_in_runs(parts, 2, |p| {
        let old = &before.sorted[old_at[p]..old_at[p + 1]];
        let new = &now.sorted[new_at[p]..new_at[p + 1]];
        let (mut a, mut b) = (0, 0);
        while a < old.len() && b < new.len() {
            let (ha, hb) = (hash(old[a]), hash(new[b]));
            match ha.cmp(&hb) {
                std::cmp::Ordering::Less => a += 1,
                std::cmp::Ordering::Greater => b += 1,
                std::cmp::Ordering::Equal => {
                    // Equal hashes are ordered by place: the last is the last prior person with it.
                    let last = a + old[a..].iter().take_while(|&&key| hash(key) == ha).count() - 1;
                    let person = before.owner[index_of(old[last])];
                    while b < new.len() && hash(new[b]) == ha {
                        of_record[index_of(new[b])].store(person, Ordering::Relaxed);
                        b += 1;
                    }
                    a = last + 1;
                }
            }
        }
    });
    of_record
}

/// Makes new people's keys unique: a new person keeps the `connection:source_id` of their first
/// record unless that was a key known before (it would carry someone's history over) or an
/// earlier person of this resolution has it; then `#2`, `#3`, ... is appended. Continuing people
/// keep their prior keys, which are unique already.
pub(super) fn settle_keys(people: &mut [Person], continues: &[Option<usize>], prior: &[Person]) {
    // Continuing people have distinct prior people's keys, which are unique: only the new ones'
    // keys can clash, with each other or with a key known before. Keys are compared by their
    // hashes, sorted on every core, as matching compares keys: putting a million keys in a set
    // took 0.2-0.3 s of one core.
    let is_new = |i: usize| continues.get(i).is_some_and(Option::is_none);
    let hasher = Hash128::new();
    let new = SortedKeys::new(people.len(), &hasher, |i| is_new(i).then(|| people[i].key.as_str()).into_iter());
    let old = (!new.sorted.is_empty() && !prior.is_empty())
        .then(|| SortedKeys::new(prior.len(), &hasher, |i| std::iter::once(prior[i].key.as_str())));
    // The new people's keys merged with the known ones, a run of new people with one key at a
    // time: all of them are renamed when the key was known before, else all but the first
    // (places are in people's order).
    let mut known = old.iter().flat_map(|old| &old.sorted).map(|key| key & !INDEX).peekable();
    let mut clashing = Vec::new();
    for run in new.sorted.chunk_by(|a, b| a & !INDEX == b & !INDEX) {
        let hash = run[0] & !INDEX;
        while known.next_if(|&k| k < hash).is_some() {}
        let keeps = usize::from(known.peek() != Some(&hash));
        clashing.extend(run[keeps..].iter().map(|&key| widen(new.owner[index_of(key)])));
    }
    clashing.sort_unstable();
    if clashing.is_empty() {
        return;
    }
    // Rare (a split person, a source listing one id twice): owned keys from here on.
    let mut taken: HashSet<CompactString> = new_set(people.len() + prior.len());
    taken.extend(people.iter().map(|p| p.key.clone()).chain(prior.iter().map(|p| p.key.clone())));
    for i in clashing {
        let key = fresh_key(&people[i].key, |k| taken.contains(k));
        taken.insert(key.clone());
        people[i].key = key;
    }
}

/// `base#2`, `base#3`, ...: the first that is not taken.
fn fresh_key(base: &str, taken: impl Fn(&str) -> bool) -> CompactString {
    // At most one candidate per known key can be taken, so the search ends.
    let mut n = 2_u64;
    loop {
        let key = compact_str::format_compact!("{base}#{n}");
        if !taken(&key) {
            return key;
        }
        n += 1;
    }
}
