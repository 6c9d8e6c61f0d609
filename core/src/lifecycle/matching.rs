//! Matching source records into people.
//!
//! Records are grouped by union-find: first the records one source says are one person (the same
//! `person_id`), then by each key of `match_on` in order. One guard keeps a bad key from chaining
//! strangers together: two groups are never merged when they hold *different* people of the same
//! connection (a shared placeholder employee id like `0` would otherwise make one giant person).
//! Records are processed in a canonical order, so the result does not depend on input order.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

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

impl Rec<'_> {
    /// Who this record is within its own connection: the source's person id, else the record.
    fn identity(&self) -> (usize, &str) {
        (self.conn, self.user.person_id.as_deref().unwrap_or(&self.user.source_id))
    }
}

struct Groups<'a> {
    parent: Vec<usize>,
    /// Per root: the distinct (connection, identity) pairs of its members.
    idents: Vec<Vec<(usize, &'a str)>>,
}

impl Groups<'_> {
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Merges the groups of `a` and `b` unless they hold different people of one connection.
    fn union(&mut self, a: usize, b: usize, guarded: bool) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        if guarded {
            let conflict =
                self.idents[ra].iter().any(|(ca, ia)| self.idents[rb].iter().any(|(cb, ib)| ca == cb && ia != ib));
            if conflict {
                return false;
            }
        }
        let (keep, gone) = if self.idents[ra].len() >= self.idents[rb].len() { (ra, rb) } else { (rb, ra) };
        let moved = std::mem::take(&mut self.idents[gone]);
        for id in moved {
            if !self.idents[keep].contains(&id) {
                self.idents[keep].push(id);
            }
        }
        self.parent[gone] = keep;
        true
    }
}

/// The normalised matching keys of one kind for a record.
pub fn keys(user: &SourceUser, kind: MatchKey) -> Vec<String> {
    let norm = |s: &str| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_lowercase())
    };
    match kind {
        MatchKey::Email => user.emails().filter_map(norm).collect(),
        MatchKey::EmployeeId => user.employee_id.as_deref().and_then(norm).into_iter().collect(),
    }
}

/// Groups `records` into people. Returns groups of indices into `records`, each group sorted and
/// the groups ordered by their first member; `records` should be in canonical order (by
/// connection, then source id) for the result to be independent of how sources listed them.
pub fn match_records(records: &[Rec<'_>], match_on: &[MatchKey]) -> Vec<Vec<usize>> {
    let mut groups =
        Groups { parent: (0..records.len()).collect(), idents: records.iter().map(|r| vec![r.identity()]).collect() };

    // Records the source itself ties together (one person, several companies).
    let mut by_identity: HashMap<(usize, &str), usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if r.user.person_id.is_some() {
            match by_identity.entry(r.identity()) {
                Entry::Occupied(e) => {
                    groups.union(*e.get(), i, false);
                }
                Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
    }

    for &kind in match_on {
        let mut first_with: HashMap<String, usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            for key in keys(r.user, kind) {
                match first_with.entry(key) {
                    Entry::Occupied(e) => {
                        groups.union(*e.get(), i, true);
                    }
                    Entry::Vacant(e) => {
                        e.insert(i);
                    }
                }
            }
        }
    }

    let mut by_root: HashMap<usize, usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in 0..records.len() {
        let root = groups.find(i);
        let slot = *by_root.entry(root).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[slot].push(i);
    }
    out
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
}
