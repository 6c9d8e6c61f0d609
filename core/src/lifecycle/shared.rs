//! The parts of a person that many people have alike: connection names, the connections that
//! have listed them ([`NameSet`]), the connection each attribute came from ([`Provenance`]) and
//! what each source of truth said ([`Trace`]).
//!
//! They are shared, not owned: people with the same set hold one copy of it, and nearly everyone
//! has one of a few (a million people of one source share a handful). Owned by each person (a
//! `BTreeSet`, a `BTreeMap`, a `Vec`) they cost about 500 bytes and four allocations a person,
//! nearly half of what a resolved person weighed. The resolver hands them out from a cache per
//! thread ([`Shared`]), so that cloning them does not make the cores take turns at one reference
//! count; people read back from their stored JSON share them through a cache of the reading
//! thread (`READ`).

use std::borrow::Borrow;
use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::person::Verdict;
use super::policy::Attribute;
use super::{HashSet, new_set};

/// A connection's name as people carry it: shared by every record, verdict and provenance entry
/// that names the connection, where a million people would otherwise hold millions of copies.
pub type Name = Arc<str>;

thread_local! {
    /// What people read on this thread share: stored people are read one by one, and would
    /// otherwise hold a copy of every connection name and set each (about 700 bytes a person).
    static READ: RefCell<Shared> = RefCell::new(Shared::default());
}

/// Reads a connection name, shared with the names read before it on this thread.
///
/// # Errors
///
/// When the value is not a string.
pub(super) fn read_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Name, D::Error> {
    let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
    Ok(READ.with_borrow_mut(|read| read.name(&name)))
}

/// Reads a list into a vector of its exact length. A vector read element by element grows to
/// hold four at least (serde does not know the length ahead), where most people have one record.
///
/// # Errors
///
/// When the value is not a list of `T`.
pub(super) fn read_exact<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
    let mut list = Vec::<T>::deserialize(deserializer)?;
    list.shrink_to_fit();
    Ok(list)
}

/// [`read_name`] for an optional name.
///
/// # Errors
///
/// When the value is neither a string nor null.
pub(super) fn read_some_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Name>, D::Error> {
    let name = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    Ok(name.map(|name| READ.with_borrow_mut(|read| read.name(&name))))
}

/// Connection names, each once, in name order (a person's `seen_in`). Cloning it is cheap: the
/// names are shared.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct NameSet(Arc<[Name]>);

impl NameSet {
    /// Whether `name` is in the set.
    pub fn contains(&self, name: &str) -> bool {
        self.0.binary_search_by(|n| (**n).cmp(name)).is_ok()
    }

    /// The names, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Name> {
        self.0.iter()
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Name> for NameSet {
    fn from_iter<I: IntoIterator<Item = Name>>(names: I) -> Self {
        let mut names: Vec<Name> = names.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        Self(names.into())
    }
}

impl<'a> IntoIterator for &'a NameSet {
    type Item = &'a Name;
    type IntoIter = std::slice::Iter<'a, Name>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for NameSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for NameSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for NameSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let set: Self = READ.with_borrow_mut(|read| names.iter().map(|n| read.name(n)).collect());
        Ok(READ.with_borrow_mut(|read| read.set(|s| *s == set, || set.clone())))
    }
}

/// How many attributes have a provenance.
const ATTRIBUTES: usize = Attribute::ALL.len();

/// Which connection each of a person's attributes came from; an attribute nobody has is absent.
/// Cloning it is cheap: the names are shared.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Provenance(Option<Arc<[Option<Name>; ATTRIBUTES]>>);

impl Provenance {
    /// The connection attribute `a` came from.
    pub fn get(&self, a: Attribute) -> Option<&Name> {
        self.0.as_ref()?[a.index()].as_ref()
    }

    /// Every attribute that has a value and where it came from, in [`Attribute::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Attribute, &Name)> {
        self.0
            .iter()
            .flat_map(|from| Attribute::ALL.into_iter().zip(from.iter()).filter_map(|(a, c)| Some((a, c.as_ref()?))))
    }

    /// How many attributes have a value.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether no attribute has a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FromIterator<(Attribute, Name)> for Provenance {
    fn from_iter<I: IntoIterator<Item = (Attribute, Name)>>(entries: I) -> Self {
        let mut from: [Option<Name>; ATTRIBUTES] = Default::default();
        let mut any = false;
        for (a, c) in entries {
            from[a.index()] = Some(c);
            any = true;
        }
        Self(any.then(|| Arc::new(from)))
    }
}

impl fmt::Debug for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Provenance {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Provenance {
    /// Read entry by entry into the attributes' places: read into a map first, a provenance took
    /// a quarter of reading a stored person.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = Provenance;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from attributes to connection names")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Provenance, A::Error> {
                let mut from: [Option<Name>; ATTRIBUTES] = Default::default();
                let mut any = false;
                while let Some((a, c)) = entries.next_entry::<Attribute, std::borrow::Cow<'de, str>>()? {
                    from[a.index()] = Some(READ.with_borrow_mut(|read| read.name(&c)));
                    any = true;
                }
                let provenance = Provenance(any.then(|| Arc::new(from)));
                Ok(READ.with_borrow_mut(|read| read.provenance_that(|p| *p == provenance, || provenance.clone())))
            }
        }

        deserializer.deserialize_map(Entries)
    }
}

/// What each source of truth said about a person and what came of it, in rank order: the trace
/// `roster explain` prints. Cloning it is cheap: the verdicts are shared.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Trace(Arc<[Verdict]>);

impl Deref for Trace {
    type Target = [Verdict];

    fn deref(&self) -> &[Verdict] {
        &self.0
    }
}

impl Borrow<[Verdict]> for Trace {
    fn borrow(&self) -> &[Verdict] {
        &self.0
    }
}

impl From<Vec<Verdict>> for Trace {
    fn from(verdicts: Vec<Verdict>) -> Self {
        Self(verdicts.into())
    }
}

impl<'a> IntoIterator for &'a Trace {
    type Item = &'a Verdict;
    type IntoIter = std::slice::Iter<'a, Verdict>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Trace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Trace {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let verdicts = Vec::<Verdict>::deserialize(deserializer)?;
        Ok(READ.with_borrow_mut(|read| read.trace(verdicts)))
    }
}

/// One thread's cache of the names, sets and traces it has handed out (resolving) or read (from
/// stored people), so that people with the same ones share them. A handful cover nearly
/// everyone; past [`Shared::MOST`] of a kind, new ones are made for each person instead of
/// remembered (a cache searched for each person must stay small).
pub(super) struct Shared {
    names: Vec<Name>,
    sets: Vec<NameSet>,
    provenances: Vec<Provenance>,
    traces: HashSet<Trace>,
}

impl Default for Shared {
    fn default() -> Self {
        Self { names: Vec::new(), sets: Vec::new(), provenances: Vec::new(), traces: new_set(0) }
    }
}

impl Shared {
    /// The most sets and provenances remembered, each searched one by one.
    const MOST: usize = 64;

    /// The most traces remembered, found by hash: they vary more (a vendor's raw statuses).
    const MOST_TRACES: usize = 4096;

    /// The name `name`, one made before when there is one.
    fn name(&mut self, name: &str) -> Name {
        if let Some(known) = self.names.iter().find(|n| ***n == *name) {
            return known.clone();
        }
        let new = Name::from(name);
        if self.names.len() < Self::MOST {
            self.names.push(new.clone());
        }
        new
    }

    /// The cached set that `is_it`, or the one `make` builds when none is.
    pub(super) fn set(&mut self, is_it: impl Fn(&NameSet) -> bool, make: impl FnOnce() -> NameSet) -> NameSet {
        if let Some(set) = self.sets.iter().find(|s| is_it(s)) {
            return set.clone();
        }
        let set = make();
        if self.sets.len() < Self::MOST {
            self.sets.push(set.clone());
        }
        set
    }

    /// The provenance of attributes from connections `from` (by index into `names`).
    pub(super) fn provenance(&mut self, from: [Option<usize>; ATTRIBUTES], names: &[Name]) -> Provenance {
        let is_it = |p: &Provenance| {
            Attribute::ALL.iter().all(|&a| match (p.get(a), from[a.index()]) {
                (None, None) => true,
                (Some(n), Some(c)) => Arc::ptr_eq(n, &names[c]) || **n == *names[c],
                _ => false,
            })
        };
        self.provenance_that(is_it, || {
            Attribute::ALL.into_iter().filter_map(|a| Some((a, names[from[a.index()]?].clone()))).collect()
        })
    }

    /// The cached provenance that `is_it`, or the one `make` builds when none is.
    fn provenance_that(
        &mut self,
        is_it: impl Fn(&Provenance) -> bool,
        make: impl FnOnce() -> Provenance,
    ) -> Provenance {
        if let Some(p) = self.provenances.iter().find(|p| is_it(p)) {
            return p.clone();
        }
        let p = make();
        if self.provenances.len() < Self::MOST {
            self.provenances.push(p.clone());
        }
        p
    }

    /// A trace of `verdicts`: one handed out before when it has the same ones.
    pub(super) fn trace(&mut self, verdicts: Vec<Verdict>) -> Trace {
        if let Some(trace) = self.traces.get(verdicts.as_slice()) {
            return trace.clone();
        }
        let trace = Trace::from(verdicts);
        if self.traces.len() < Self::MOST_TRACES {
            self.traces.insert(trace.clone());
        }
        trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_set_is_sorted_once_and_round_trips() {
        let set: NameSet = ["ukg", "azure", "ukg"].into_iter().map(Name::from).collect();
        assert_eq!(set.iter().map(|n| &**n).collect::<Vec<_>>(), ["azure", "ukg"]);
        assert!(set.contains("ukg") && set.contains("azure") && !set.contains("google"));
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["azure","ukg"]"#);
        assert_eq!(serde_json::from_str::<NameSet>(r#"["ukg","azure"]"#).unwrap(), set);
        assert_eq!(format!("{set:?}"), r#"{"azure", "ukg"}"#);
        assert!(NameSet::default().is_empty());
    }

    #[test]
    fn a_provenance_reads_and_writes_as_a_map_in_attribute_order() {
        let p: Provenance =
            [(Attribute::Role, Name::from("azure")), (Attribute::Email, Name::from("ukg"))].into_iter().collect();
        assert_eq!(p.get(Attribute::Role).map(|c| &**c), Some("azure"));
        assert_eq!(p.get(Attribute::Manager), None);
        assert_eq!(p.len(), 2);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"email":"ukg","role":"azure"}"#);
        assert_eq!(serde_json::from_str::<Provenance>(&json).unwrap(), p);
        assert_eq!(serde_json::from_str::<Provenance>("{}").unwrap(), Provenance::default());
        assert!(Provenance::default().is_empty());
        assert_eq!(serde_json::from_str::<Provenance>(r#"{"role":"ukg","role":"azure"}"#).unwrap().len(), 1);
        assert!(serde_json::from_str::<Provenance>(r#"{"salary":"ukg"}"#).is_err(), "an attribute nobody has");
        assert!(serde_json::from_str::<Provenance>(r#"["ukg"]"#).is_err(), "not a map");
    }

    #[test]
    fn the_cache_hands_out_one_copy_of_each_set() {
        let names: Vec<Name> = ["ukg", "azure"].into_iter().map(Name::from).collect();
        let mut shared = Shared::default();
        let mut from = [None; ATTRIBUTES];
        from[Attribute::Email.index()] = Some(0);
        from[Attribute::Role.index()] = Some(1);
        let (a, b) = (shared.provenance(from, &names), shared.provenance(from, &names));
        assert!(Arc::ptr_eq(a.0.as_ref().unwrap(), b.0.as_ref().unwrap()), "one copy");
        assert_eq!(a.get(Attribute::Role).map(|c| &**c), Some("azure"));
        assert_eq!(shared.provenance([None; ATTRIBUTES], &names), Provenance::default());

        let both = |s: &NameSet| s.len() == 2 && s.contains("ukg") && s.contains("azure");
        let make = || ["azure", "ukg"].into_iter().map(Name::from).collect();
        let (a, b) = (shared.set(both, make), shared.set(both, || unreachable!("cached")));
        assert!(Arc::ptr_eq(&a.0, &b.0), "one copy");
        let other = shared.set(|s| s.len() == 1 && s.contains("ukg"), || [Name::from("ukg")].into_iter().collect());
        assert_eq!(other.len(), 1);
        // Past the cache's bound, sets are still right, just not shared.
        for i in 0..Shared::MOST * 2 {
            let name = format!("c{i:03}");
            let set = shared.set(|s| s.contains(&name), || [Name::from(name.as_str())].into_iter().collect());
            assert!(set.contains(&name));
        }
        assert_eq!(shared.sets.len(), Shared::MOST);
    }

    #[test]
    fn what_is_read_on_one_thread_is_shared() {
        // Stored people are read one by one: the second reads the first's names and sets.
        let read = || {
            let set: NameSet = serde_json::from_str(r#"["ukg","azure"]"#).unwrap();
            let p: Provenance = serde_json::from_str(r#"{"email":"ukg","role":"azure"}"#).unwrap();
            let trace: Trace = serde_json::from_str(
                r#"[{"connection":"ukg","rank":1,"said":"listed","status":"active","raw_status":"A","outcome":"decided"},
                    {"connection":"azure","rank":2,"said":"listed","outcome":"outranked","by":"ukg"}]"#,
            )
            .unwrap();
            (set, p, trace)
        };
        let (a, b) = (read(), read());
        assert!(Arc::ptr_eq(&a.0.0, &b.0.0), "one set");
        assert!(Arc::ptr_eq(a.1.0.as_ref().unwrap(), b.1.0.as_ref().unwrap()), "one provenance");
        assert!(Arc::ptr_eq(&a.2.0, &b.2.0), "one trace");
        let ukg = a.1.get(Attribute::Email).unwrap();
        assert!(Arc::ptr_eq(ukg, &a.2[0].connection), "one name everywhere");
        assert!(Arc::ptr_eq(ukg, a.0.iter().find(|n| &***n == "ukg").unwrap()));
        assert_eq!(a.2[1].outcome, super::super::person::Outcome::Outranked { by: Name::from("ukg") });
        assert_eq!(serde_json::to_string(&a.1).unwrap(), r#"{"email":"ukg","role":"azure"}"#);
    }

    #[test]
    fn a_trace_is_shared_when_it_says_the_same() {
        use super::super::person::{Outcome, Said};
        use crate::model::EmploymentStatus;
        let verdict = |raw: &str| Verdict {
            connection: Name::from("ukg"),
            rank: 1,
            said: Said::Listed,
            status: Some(EmploymentStatus::Active),
            raw_status: Some(raw.into()),
            outcome: Outcome::Decided,
        };
        let mut shared = Shared::default();
        let (a, b, other) =
            (shared.trace(vec![verdict("A")]), shared.trace(vec![verdict("A")]), shared.trace(vec![verdict("L")]));
        assert!(Arc::ptr_eq(&a.0, &b.0), "one copy");
        assert!(!Arc::ptr_eq(&a.0, &other.0));
        assert_eq!(other[0].raw_status.as_deref(), Some("L"));
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.starts_with(r#"[{"connection":"ukg","rank":1"#), "{json}");
        assert_eq!(serde_json::from_str::<Trace>(&json).unwrap(), a);
    }
}
