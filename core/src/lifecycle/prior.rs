//! Which prior person each group of records continues, so that people keep their keys and
//! their history from one resolution to the next; and keys for new people that no prior person
//! had.

use super::matching::{Groups, Hash128, Rec, keys, normalise};
use super::person::Person;
use super::policy::{MatchKey, Policy};
use super::resolve::PARALLEL_FROM;
use super::shared::Name;
use super::{HashMap, HashSet, new_map, new_set};
use crate::parallel::{extend_in_runs, join};

/// For every group, the index of the prior person it continues, if any; and for every prior
/// person, whether a group continues them.
pub(super) fn continued(
    prior: &[Person],
    policy: &Policy,
    names: &[Name],
    records: &[Rec<'_>],
    groups: &Groups,
) -> (Vec<Option<usize>>, Vec<bool>) {
    let mut claimed = vec![false; prior.len()];
    if prior.is_empty() {
        return (vec![None; groups.len()], claimed);
    }
    let prior_index = PriorIndex::new(prior, policy, names);
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
/// matching key. Keys are looked up by their [`Hash128`], so that a lookup reads no string but
/// the one looked up.
struct PriorIndex {
    hasher: Hash128,
    by_record: HashMap<u128, usize>,
    by_key: Vec<(MatchKey, HashMap<u128, usize>)>,
}

impl PriorIndex {
    fn new(prior: &[Person], policy: &Policy, names: &[Name]) -> Self {
        let hasher = Hash128::new();
        // The two kinds of lookup are built side by side.
        let (by_record, by_key) = join(
            || {
                // Sized for every record at once: growing a map of millions moves every entry.
                let mut by_record = new_map(prior.iter().map(|p| p.records.len()).sum());
                for (i, p) in prior.iter().enumerate() {
                    for r in &p.records {
                        // Only records of a connection with a snapshot can be found again.
                        if let Some(c) = names.iter().position(|n| *n == r.connection) {
                            by_record.insert(hasher.hash(&(c, r.source_id.as_str())), i);
                        }
                    }
                }
                by_record
            },
            || {
                let mut by_key: Vec<_> = policy.match_on.iter().map(|&kind| (kind, new_map(prior.len()))).collect();
                for (i, p) in prior.iter().enumerate() {
                    for (kind, map) in &mut by_key {
                        let (emails, employee_id) = match kind {
                            MatchKey::Email => (Some(p.email.iter().chain(&p.aliases)), None),
                            MatchKey::EmployeeId => (None, p.employee_id.as_ref()),
                        };
                        for k in emails.into_iter().flatten().chain(employee_id).filter_map(|v| normalise(v)) {
                            map.entry(hasher.hash(&k)).or_insert(i);
                        }
                    }
                }
                by_key
            },
        );
        Self { hasher, by_record, by_key }
    }

    /// The first prior person one of the group's records was, else the first who had one of
    /// their keys, passing over the `claimed` ones.
    fn find(&self, group: &[usize], records: &[Rec<'_>], claimed: Option<&[bool]>) -> Option<usize> {
        let recs = group.iter().map(|&i| records[i]);
        let known = |map: &HashMap<u128, usize>, hash: u128| {
            map.get(&hash).copied().filter(|&i| claimed.is_none_or(|claimed| !claimed[i]))
        };
        recs.clone()
            .find_map(|r| known(&self.by_record, self.hasher.hash(&(r.conn, r.user.source_id.as_str()))))
            .or_else(|| {
                recs.clone().find_map(|r| {
                    self.by_key
                        .iter()
                        .find_map(|(kind, map)| keys(r.user, *kind).find_map(|k| known(map, self.hasher.hash(&k))))
                })
            })
    }
}

/// Makes new people's keys unique: a new person keeps the `connection:source_id` of their first
/// record unless that was a key known before (it would carry someone's history over) or an
/// earlier person of this resolution has it; then `#2`, `#3`, ... is appended. Continuing people
/// keep their prior keys, which are unique already.
pub(super) fn settle_keys(people: &mut [Person], continues: &[Option<usize>], prior: &[Person]) {
    let mut reserved: HashSet<&str> = new_set(prior.len());
    reserved.extend(prior.iter().map(|p| p.key.as_str()));
    let mut used: HashSet<&str> = new_set(people.len());
    let mut clashing = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let is_new = continues.get(i).is_some_and(Option::is_none);
        if (is_new && reserved.contains(p.key.as_str())) || !used.insert(p.key.as_str()) {
            clashing.push(i);
        }
    }
    if clashing.is_empty() {
        return;
    }
    // Rare (a split person, a source listing one id twice): owned keys from here on.
    let mut taken: HashSet<String> = new_set(used.len() + reserved.len());
    taken.extend(used.into_iter().chain(reserved).map(str::to_owned));
    for i in clashing {
        let key = fresh_key(&people[i].key, |k| taken.contains(k));
        taken.insert(key.clone());
        people[i].key = key;
    }
}

/// `base#2`, `base#3`, ...: the first that is not taken.
fn fresh_key(base: &str, taken: impl Fn(&str) -> bool) -> String {
    // At most one candidate per known key can be taken, so the search ends.
    let mut n = 2_u64;
    loop {
        let key = format!("{base}#{n}");
        if !taken(&key) {
            return key;
        }
        n += 1;
    }
}
