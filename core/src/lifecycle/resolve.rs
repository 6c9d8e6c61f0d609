//! The resolver: snapshots and a policy in, people out. Pure and synchronous.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::matching::{Rec, keys, match_records};
use super::person::{Outcome, Person, PersonRecord, Rule, Said, Verdict};
use super::policy::{Attribute, MatchKey, Mode, OnLeave, Policy};
use crate::model::{EmploymentStatus, Lifecycle, ManagerRef, SourceUser};

/// One connection's latest complete snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// Connection name.
    pub connection: &'a str,
    /// Every user it listed.
    pub users: &'a [SourceUser],
}

/// Resolves every person.
///
/// `snapshots` are the latest complete snapshots, in configuration order (which breaks ties in
/// attribute precedence after the policy's own order). `prior` is the previous result, which
/// gives people their stable keys, remembers where they were seen, and is kept for people whose
/// status cannot be read. People who vanished from every snapshot are kept as `past` when a
/// source of truth they were seen in no longer lists them, and dropped otherwise.
pub fn resolve(snapshots: &[Snapshot<'_>], policy: &Policy, prior: &[Person]) -> Vec<Person> {
    let conns: Vec<&str> = snapshots.iter().map(|s| s.connection).collect();
    let mut records: Vec<Rec<'_>> =
        snapshots.iter().enumerate().flat_map(|(conn, s)| s.users.iter().map(move |user| Rec { conn, user })).collect();
    records.sort_by(|a, b| (a.conn, &a.user.source_id).cmp(&(b.conn, &b.user.source_id)));
    let groups = match_records(&records, &policy.match_on);

    let ctx = Ctx::new(&conns, policy, &records);
    let prior_index = PriorIndex::new(prior, policy);
    // First every group finds the prior person it continues, so that continuing people keep their
    // keys whatever order the groups come in; then new people get keys nobody had.
    let mut claimed = vec![false; prior.len()];
    let continues: Vec<Option<usize>> = groups
        .iter()
        .map(|group| {
            let recs: Vec<Rec<'_>> = group.iter().map(|&i| records[i]).collect();
            let found = prior_index.find(&conns, &recs, &claimed);
            if let Some(i) = found {
                claimed[i] = true;
            }
            found
        })
        .collect();
    let reserved: HashSet<&str> = prior.iter().map(|p| p.key.as_str()).collect();
    let mut keys_used: HashSet<String> = HashSet::with_capacity(groups.len());
    let mut out = Vec::with_capacity(groups.len() + prior.len() / 16);
    for (group, found) in groups.iter().zip(continues) {
        let recs: Vec<Rec<'_>> = group.iter().map(|&i| records[i]).collect();
        let mut person = ctx.person(&recs, found.map(|i| &prior[i]));
        if found.is_none() {
            person.key = fresh_key(&format!("{}:{}", conns[recs[0].conn], recs[0].user.source_id), |k| {
                reserved.contains(k) || keys_used.contains(k)
            });
        }
        keys_used.insert(person.key.clone());
        out.push(person);
    }

    // People no snapshot lists any more.
    let present: HashSet<&str> = conns.iter().copied().collect();
    for (i, p) in prior.iter().enumerate() {
        if claimed[i] || keys_used.contains(&p.key) {
            continue;
        }
        let absent_from_truth = policy.sources.iter().any(|s| p.seen_in.contains(s) && present.contains(s.as_str()));
        if absent_from_truth {
            out.push(ctx.tombstone(p));
        }
    }
    out
}

/// `base`, or `base#2`, `base#3`, ... when taken: a new person never takes the key of someone
/// known before (that key would carry their history over).
fn fresh_key(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
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

struct Ctx<'a> {
    conns: &'a [&'a str],
    policy: &'a Policy,
    /// Attribute precedence as connection indices, for every attribute.
    attr_order: BTreeMap<Attribute, Vec<usize>>,
    /// Email of every record, to turn a manager's source id into an address.
    email_of: HashMap<(usize, &'a str), &'a str>,
}

impl<'a> Ctx<'a> {
    fn new(conns: &'a [&'a str], policy: &'a Policy, records: &[Rec<'a>]) -> Self {
        let idx = |name: &str| conns.iter().position(|c| *c == name);
        let attr_order = Attribute::ALL
            .iter()
            .map(|&a| {
                let listed = policy.attributes.get(&a).unwrap_or(&policy.sources);
                let mut order: Vec<usize> = listed.iter().filter_map(|n| idx(n)).collect();
                for s in &policy.sources {
                    if let Some(i) = idx(s).filter(|i| !order.contains(i)) {
                        order.push(i);
                    }
                }
                order.extend((0..conns.len()).filter(|i| !order.contains(i)).collect::<Vec<_>>());
                (a, order)
            })
            .collect();
        let needs_managers = records.iter().any(|r| matches!(r.user.manager, Some(ManagerRef::SourceId(_))));
        let email_of = if needs_managers {
            records
                .iter()
                .filter_map(|r| Some(((r.conn, r.user.source_id.as_str()), r.user.email.as_deref()?)))
                .collect()
        } else {
            HashMap::new()
        };
        Self { conns, policy, attr_order, email_of }
    }

    fn person(&self, recs: &[Rec<'a>], prior: Option<&Person>) -> Person {
        // The records of each connection, best employment status first.
        let mut by_conn: BTreeMap<usize, Vec<&SourceUser>> = BTreeMap::new();
        for r in recs {
            by_conn.entry(r.conn).or_default().push(r.user);
        }
        for users in by_conn.values_mut() {
            users.sort_by_key(|u| std::cmp::Reverse(u.status.employment_rank()));
        }

        let mut seen_in: BTreeSet<String> = prior.map(|p| p.seen_in.clone()).unwrap_or_default();
        seen_in.extend(by_conn.keys().map(|&c| self.conns[c].to_owned()));

        let attr = |a: Attribute, get: &dyn Fn(&SourceUser) -> Option<String>| -> Option<(String, usize)> {
            self.attr_order[&a].iter().find_map(|c| by_conn.get(c)?.iter().find_map(|u| get(u)).map(|v| (v, *c)))
        };
        let nonempty = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let mut provenance = BTreeMap::new();
        let mut take = |a: Attribute, get: &dyn Fn(&SourceUser) -> Option<String>| {
            attr(a, get).map(|(v, c)| {
                provenance.insert(a, self.conns[c].to_owned());
                v
            })
        };
        let email = take(Attribute::Email, &|u| nonempty(&u.email));
        let employee_id = take(Attribute::EmployeeId, &|u| nonempty(&u.employee_id));
        let first_name = take(Attribute::FirstName, &|u| nonempty(&u.first_name));
        let last_name = take(Attribute::LastName, &|u| nonempty(&u.last_name));
        let display_name = take(Attribute::DisplayName, &|u| nonempty(&u.display_name));
        let role = take(Attribute::Role, &|u| nonempty(&u.role));
        let department = take(Attribute::Department, &|u| nonempty(&u.department));
        let manager = attr(Attribute::Manager, &|u| u.manager.is_some().then(String::new)).and_then(|(_, c)| {
            let m = by_conn[&c].iter().find_map(|u| u.manager.as_ref())?;
            provenance.insert(Attribute::Manager, self.conns[c].to_owned());
            Some(match m {
                ManagerRef::Email(e) => e.clone(),
                ManagerRef::SourceId(id) => {
                    self.email_of.get(&(c, id.as_str())).map_or_else(|| id.clone(), |e| (*e).to_owned())
                }
            })
        });

        let mut aliases: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = email.iter().map(|e| e.to_lowercase()).collect();
        for users in by_conn.values() {
            for u in users {
                for e in u.emails() {
                    let e = e.trim();
                    if !e.is_empty() && seen.insert(e.to_lowercase()) {
                        aliases.push(e.to_owned());
                    }
                }
            }
        }
        aliases.sort_by_key(|a| a.to_lowercase());

        let records: Vec<PersonRecord> = recs
            .iter()
            .map(|r| PersonRecord {
                connection: self.conns[r.conn].to_owned(),
                source_id: r.user.source_id.clone(),
                status: r.user.status,
                raw_status: r.user.raw_status.clone(),
            })
            .collect();

        let all_emails: Vec<&str> =
            email.iter().map(String::as_str).chain(aliases.iter().map(String::as_str)).collect();
        let all_guest = recs.iter().all(|r| r.user.guest);
        let decision = self.decide(&by_conn, &seen_in, &all_emails, all_guest, prior);
        let problems = recs.iter().any(|r| !r.user.problems.is_empty());
        let status = decision
            .status
            .or_else(|| self.attr_order[&Attribute::Email].iter().find_map(|c| by_conn.get(c).map(|u| u[0].status)));
        let key =
            prior.map_or_else(|| format!("{}:{}", self.conns[recs[0].conn], recs[0].user.source_id), |p| p.key.clone());
        Person {
            key,
            email,
            aliases,
            employee_id,
            first_name,
            last_name,
            display_name,
            role,
            department,
            manager,
            status,
            was_current: prior.is_some_and(|p| p.was_current) || decision.lifecycle == Lifecycle::Current,
            lifecycle: decision.lifecycle,
            decided_by: decision.decided_by.map(|c| self.conns[c].to_owned()),
            rule: decision.rule,
            trace: decision.trace,
            review: decision.review || problems,
            provenance,
            records,
            seen_in,
        }
    }

    /// A prior person no snapshot lists any more, kept because a source of truth dropped them.
    fn tombstone(&self, p: &Person) -> Person {
        let emails: Vec<&str> = p.email.iter().chain(p.aliases.iter()).map(String::as_str).collect();
        let decision = self.decide(&BTreeMap::new(), &p.seen_in, &emails, false, Some(p));
        Person {
            status: None,
            was_current: p.was_current || decision.lifecycle == Lifecycle::Current,
            lifecycle: decision.lifecycle,
            decided_by: decision.decided_by.map(|c| self.conns[c].to_owned()),
            rule: decision.rule,
            trace: decision.trace,
            review: decision.review,
            records: Vec::new(),
            ..p.clone()
        }
    }

    fn decide(
        &self,
        by_conn: &BTreeMap<usize, Vec<&SourceUser>>,
        seen_in: &BTreeSet<String>,
        emails: &[&str],
        all_guest: bool,
        prior: Option<&Person>,
    ) -> Decision {
        // What each source of truth says, highest precedence first.
        let says: Vec<(Option<usize>, Say<'_>)> = self
            .policy
            .sources
            .iter()
            .map(|s| match self.conns.iter().position(|n| n == s) {
                None => (None, Say::NoSnapshot),
                Some(c) => match by_conn.get(&c) {
                    Some(users) => (Some(c), Say::Record(users)),
                    None if seen_in.contains(s) => (Some(c), Say::Absent),
                    None => (Some(c), Say::NotListed),
                },
            })
            .collect();

        if let Some(rule) = self.external(emails, all_guest && !by_conn.is_empty()) {
            let mut d = Decision::new(Lifecycle::External, None, rule);
            d.trace = self.trace(&says, None, true);
            return d;
        }

        let active = (self.policy.mode == Mode::AnyActive)
            .then(|| {
                says.iter()
                    .position(|(_, say)| matches!(say, Say::Record(users) if self.counts_as_current(users[0].status)))
            })
            .flatten();
        let decider = active.or_else(|| says.iter().position(|(_, say)| matches!(say, Say::Record(_) | Say::Absent)));
        let mut decision = match decider.map(|i| &says[i]) {
            Some(&(Some(c), Say::Record(users))) if active.is_some() => {
                Decision::new(Lifecycle::Current, Some(c), Rule::Status { status: users[0].status })
                    .with_status(users[0].status)
            }
            Some(&(Some(c), Say::Record(users))) => self.by_record_status(c, users[0], prior),
            Some(&(Some(c), Say::Absent)) => Decision::new(Lifecycle::Past, Some(c), Rule::Absent),
            _ => Decision::new(Lifecycle::Orphan, None, Rule::NoSourceOfTruth),
        };
        decision.trace = self.trace(&says, decider, false);
        decision
    }

    /// Why a person is external, if they are: none of their addresses is in the company's
    /// domains, or every account of theirs is a guest account.
    fn external(&self, emails: &[&str], all_guest: bool) -> Option<Rule> {
        if !self.policy.domains.is_empty() && !emails.is_empty() {
            let inside =
                emails.iter().any(|e| e.rsplit_once('@').is_some_and(|(_, d)| self.policy.is_company_domain(d)));
            if !inside {
                let domain = emails[0].rsplit_once('@').map_or(emails[0], |(_, d)| d).to_lowercase();
                return Some(Rule::ExternalDomain { domain });
            }
        }
        all_guest.then_some(Rule::Guest)
    }

    /// What each source of truth said and what came of it, given the rank of the one that
    /// decided.
    fn trace(&self, says: &[(Option<usize>, Say<'_>)], decider: Option<usize>, external: bool) -> Vec<Verdict> {
        let by = decider.map(|d| self.policy.sources[d].clone());
        says.iter()
            .enumerate()
            .map(|(i, (_, say))| {
                let (said, status, raw_status) = match say {
                    Say::Record(users) => (Said::Listed, Some(users[0].status), users[0].raw_status.clone()),
                    Say::Absent => (Said::Absent, None, None),
                    Say::NotListed => (Said::NotListed, None, None),
                    Say::NoSnapshot => (Said::NoSnapshot, None, None),
                };
                let outcome = match (&by, decider) {
                    _ if external => Outcome::External,
                    (_, Some(d)) if d == i => Outcome::Decided,
                    (Some(by), Some(d)) if matches!(said, Said::Listed | Said::Absent) => {
                        if i < d {
                            Outcome::NotActive { by: by.clone() }
                        } else {
                            Outcome::Outranked { by: by.clone() }
                        }
                    }
                    _ => Outcome::Silent,
                };
                Verdict { connection: self.policy.sources[i].clone(), rank: i + 1, said, status, raw_status, outcome }
            })
            .collect()
    }

    fn counts_as_current(&self, status: EmploymentStatus) -> bool {
        status == EmploymentStatus::Active
            || (status == EmploymentStatus::OnLeave && self.policy.on_leave == OnLeave::Current)
    }

    fn by_record_status(&self, c: usize, user: &SourceUser, prior: Option<&Person>) -> Decision {
        let status = user.status;
        let decision = match status {
            EmploymentStatus::Active | EmploymentStatus::OnLeave => {
                let lifecycle = if self.counts_as_current(status) { Lifecycle::Current } else { Lifecycle::Past };
                Decision::new(lifecycle, Some(c), Rule::Status { status })
            }
            EmploymentStatus::Disabled | EmploymentStatus::Terminated => {
                Decision::new(Lifecycle::Past, Some(c), Rule::Status { status })
            }
            EmploymentStatus::PreHire => {
                // Not current yet; someone already current (a transfer) stays so.
                let lifecycle = match prior.map(|p| p.lifecycle) {
                    Some(Lifecycle::Current) => Lifecycle::Current,
                    _ => Lifecycle::Past,
                };
                Decision::new(lifecycle, Some(c), Rule::PreHire { hire_date: user.hire_date })
            }
            EmploymentStatus::Unknown => {
                // Only a lifecycle a source of truth gave can be kept: an orphan or external person
                // whom a source of truth now lists with a status nobody mapped is not current.
                let lifecycle = match prior.map(|p| p.lifecycle) {
                    Some(Lifecycle::Current) => Lifecycle::Current,
                    _ => Lifecycle::Past,
                };
                let mut d =
                    Decision::new(lifecycle, Some(c), Rule::UnknownStatus { raw_status: user.raw_status.clone() });
                d.review = true;
                d
            }
        };
        decision.with_status(status)
    }
}

enum Say<'u> {
    Record(&'u [&'u SourceUser]),
    Absent,
    NotListed,
    NoSnapshot,
}

struct Decision {
    lifecycle: Lifecycle,
    decided_by: Option<usize>,
    rule: Rule,
    review: bool,
    status: Option<EmploymentStatus>,
    trace: Vec<Verdict>,
}

impl Decision {
    fn new(lifecycle: Lifecycle, decided_by: Option<usize>, rule: Rule) -> Self {
        Self { lifecycle, decided_by, rule, review: false, status: None, trace: Vec::new() }
    }

    fn with_status(mut self, status: EmploymentStatus) -> Self {
        self.status = Some(status);
        self
    }
}

/// Finds the prior person a group of records continues.
struct PriorIndex<'p> {
    kinds: Vec<MatchKey>,
    by_record: HashMap<(&'p str, &'p str), usize>,
    by_key: HashMap<String, usize>,
}

impl<'p> PriorIndex<'p> {
    fn new(prior: &'p [Person], policy: &Policy) -> Self {
        let mut by_record = HashMap::new();
        let mut by_key = HashMap::new();
        for (i, p) in prior.iter().enumerate() {
            for r in &p.records {
                by_record.insert((r.connection.as_str(), r.source_id.as_str()), i);
            }
            for kind in &policy.match_on {
                let user = SourceUser {
                    email: p.email.clone(),
                    aliases: p.aliases.clone(),
                    employee_id: p.employee_id.clone(),
                    ..SourceUser::default()
                };
                for k in keys(&user, *kind) {
                    by_key.entry(format!("{kind:?}:{k}")).or_insert(i);
                }
            }
        }
        Self { kinds: policy.match_on.clone(), by_record, by_key }
    }

    fn find(&self, conns: &[&str], recs: &[Rec<'_>], claimed: &[bool]) -> Option<usize> {
        recs.iter()
            .find_map(|r| {
                self.by_record.get(&(conns[r.conn], r.user.source_id.as_str())).copied().filter(|&i| !claimed[i])
            })
            .or_else(|| {
                recs.iter().find_map(|r| {
                    self.kinds.iter().find_map(|kind| {
                        keys(r.user, *kind)
                            .into_iter()
                            .find_map(|k| self.by_key.get(&format!("{kind:?}:{k}")).copied().filter(|&i| !claimed[i]))
                    })
                })
            })
    }
}
