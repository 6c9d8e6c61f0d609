//! The resolver: snapshots and a policy in, people out. Pure and synchronous.
//!
//! Built for a million people a source: records are borrowed from the snapshots, never copied
//! until they become a person's own fields; matching keys are borrowed when they are already
//! lowercase; connection names are shared ([`Name`]) by every record, verdict and provenance
//! entry, and people share their sets of them and their traces (`shared.rs`); and the people
//! are built on every core (groups are independent once each has found the prior person it
//! continues).

use std::cmp::Reverse;
use std::time::Instant;

use compact_str::CompactString;

use super::HashSet;
use super::canonical::{Canonical, canonical_records};
use super::managers::ManagerEmails;
use super::matching::{Groups, Rec, match_records, normalise, trim};
use super::person::{Outcome, Person, PersonRecord, Rule, Said, Verdict};
use super::policy::{Attribute, Mode, OnLeave, Policy};
use super::prior::{PriorIndex, continued, settle_keys};
use super::shared::{Name, NameSet, Shared};
use crate::model::{EmploymentStatus, Lifecycle, ManagerRef, SourceUser};
use crate::parallel::{extend_in_runs, join};
use crate::prefetch::{TEXT_AHEAD, VALUES_AHEAD, prefetch_text_to_build, prefetch_value};

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
    let started = Instant::now();
    let names: Vec<Name> = snapshots.iter().map(|s| Name::from(s.connection)).collect();
    let Canonical { records, keys_distinct } = canonical_records(snapshots);
    // The managers' emails and the index of prior people need only the records: made on the
    // other core while matching, whose union-find runs on one (at 3 x 1M from a prior result,
    // 0.3-0.5 s after matching became about 0.2 s more of it).
    let matching = || (match_records(&records, &policy.match_on), started.elapsed());
    let beside = || {
        let index = (!prior.is_empty()).then(|| PriorIndex::new(prior, policy, &names, &records));
        (ManagerEmails::of(&records, names.len()), index)
    };
    let ((groups, matched), (email_of, prior_index)) =
        if records.len() >= PARALLEL_FROM { join(matching, beside) } else { (matching(), beside()) };
    let beside_done = started.elapsed();
    let ctx = Ctx::new(&names, policy, &email_of);
    // First every group finds the prior person it continues, so that continuing people keep their
    // keys whatever order the groups come in; then new people get keys nobody had.
    let (continues, claimed) = continued(prior_index.as_ref(), &records, &groups);

    let found = started.elapsed();
    let mut out = build_people(&ctx, &records, &groups, &continues, prior);
    let built = started.elapsed();
    drop(groups);
    // With no prior people everyone is new, keyed by their first record: with no record's
    // `connection:source_id` twice, no key is, and settling them (hashing and sorting a million
    // keys: 67-71 ms of a first 3 x 1M resolution) can be skipped.
    if !(prior.is_empty() && keys_distinct) {
        settle_keys(&mut out, &continues, prior);
    }

    // People no snapshot lists any more.
    let present: HashSet<&str> = snapshots.iter().map(|s| s.connection).collect();
    for (i, p) in prior.iter().enumerate() {
        if claimed[i] {
            continue;
        }
        let absent_from_truth =
            policy.sources.iter().any(|s| p.seen_in.contains(s.as_str()) && present.contains(s.as_str()));
        if absent_from_truth {
            out.push(ctx.tombstone(p));
        }
    }
    tracing::debug!(
        records = records.len(),
        people = out.len(),
        match_ms = matched.as_millis(),
        // What finding the managers' emails and indexing prior people took beyond matching,
        // beside it.
        beside_ms = beside_done.saturating_sub(matched).as_millis(),
        continue_ms = found.saturating_sub(beside_done).as_millis(),
        build_ms = built.saturating_sub(found).as_millis(),
        rest_ms = started.elapsed().saturating_sub(built).as_millis(),
        "resolved"
    );
    out
}

/// Below this many groups, people are built (and prior people looked up) on one thread: starting
/// another costs more.
pub(super) const PARALLEL_FROM: usize = 20_000;

/// Builds the person of every group, on every available core. New people get the key of their
/// first record for now ([`settle_keys`] makes it unique).
fn build_people(
    ctx: &Ctx<'_>,
    records: &[Rec<'_>],
    groups: &Groups,
    continues: &[Option<usize>],
    prior: &[Person],
) -> Vec<Person> {
    // The connection first in precedence for most attributes: their values nearly always come
    // from its records.
    let lead = ctx.order(Attribute::FirstName).first().copied().unwrap_or(0);
    // Likewise for the manager, whose email is looked up when it is named by source id.
    let manager_lead = ctx.order(Attribute::Manager).first().copied().unwrap_or(0);
    let build = |run: std::ops::Range<usize>, out: &mut Vec<Person>| {
        let ctx = ctx.with_own_names();
        let mut shared = Shared::default();
        let mut by_conn = ByConn::default();
        let mut recs: Vec<Rec<'_>> = Vec::new();
        let end = run.end;
        let people = groups.run(run.clone()).zip(&continues[run.clone()]).zip(run).map(|((group, found), g)| {
            // The records of the group `distance` ahead, if it is in this run.
            let ahead = |distance: usize| {
                groups.get(g + distance).filter(|_| g + distance < end).unwrap_or_default().iter().map(|&i| records[i])
            };
            for r in ahead(VALUES_AHEAD) {
                prefetch_value(r.user);
            }
            for r in ahead(TEXT_AHEAD) {
                prefetch_text_to_build(r.user, r.conn == lead);
                if r.conn == manager_lead {
                    ctx.email_of.ask_slot(manager_lead, r.user);
                }
            }
            for r in ahead(MANAGER_AHEAD).filter(|r| r.conn == manager_lead) {
                ctx.email_of.ask_text(manager_lead, r.user);
            }
            recs.clear();
            recs.extend(group.iter().map(|&i| records[i]));
            ctx.person(&mut shared, &mut by_conn, &recs, found.map(|i| &prior[i]))
        });
        out.extend(people);
    };
    let mut out = Vec::with_capacity(groups.len() + prior.len() / 16);
    extend_in_runs(&mut out, groups.len(), PARALLEL_FROM, build);
    out
}

/// How many groups ahead the text of a manager's email is asked for: its slot in
/// [`ManagerEmails`] was asked for [`TEXT_AHEAD`] groups ahead, and is in cache by now.
const MANAGER_AHEAD: usize = 3;

/// A person's records by connection, each connection's best employment status first.
#[derive(Default)]
struct ByConn<'u> {
    recs: Vec<Rec<'u>>,
}

impl<'u> ByConn<'u> {
    /// Holds `recs` instead of what it held (its memory is reused: one allocation a thread, not
    /// one a person).
    fn fill(&mut self, recs: &[Rec<'u>]) {
        self.recs.clear();
        self.recs.extend_from_slice(recs);
        // Stable: records of one status keep their canonical order.
        self.recs.sort_by_key(|r| (r.conn, Reverse(r.user.status.employment_rank())));
    }

    /// The records of connection `c`, best status first; empty when it has none.
    fn get(&self, c: usize) -> &[Rec<'u>] {
        let start = self.recs.partition_point(|r| r.conn < c);
        let end = start + self.recs[start..].partition_point(|r| r.conn == c);
        &self.recs[start..end]
    }

    /// The connections with a record, each once.
    fn conns(&self) -> impl Iterator<Item = usize> + '_ {
        self.recs.iter().enumerate().filter(|(i, r)| *i == 0 || self.recs[i - 1].conn != r.conn).map(|(_, r)| r.conn)
    }

    fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }
}

/// A trimmed value, `None` when blank.
fn nonempty(value: Option<&str>) -> Option<&str> {
    value.map(trim).filter(|v| !v.is_empty())
}

struct Ctx<'a> {
    names: Vec<Name>,
    policy: &'a Policy,
    /// The sources of truth in rank order: their names and the index of their snapshot, if any.
    sources: Vec<(Name, Option<usize>)>,
    /// Attribute precedence as connection indices, for every attribute (by its place in
    /// [`Attribute::ALL`]).
    attr_order: Vec<Vec<usize>>,
    /// Managers' emails, to turn a manager's source id into an address.
    email_of: &'a ManagerEmails,
}

impl<'a> Ctx<'a> {
    /// The same context with connection names of its own, for a thread: the names' reference
    /// counts then live on cache lines no other core writes (every person counts a dozen or so).
    fn with_own_names(&self) -> Self {
        let own = |n: &Name| Name::from(&**n);
        Self {
            names: self.names.iter().map(own).collect(),
            policy: self.policy,
            sources: self.sources.iter().map(|(n, c)| (own(n), *c)).collect(),
            attr_order: self.attr_order.clone(),
            email_of: self.email_of,
        }
    }

    fn new(names: &[Name], policy: &'a Policy, email_of: &'a ManagerEmails) -> Self {
        let idx = |name: &str| names.iter().position(|c| &**c == name);
        let attr_order = Attribute::ALL
            .iter()
            .map(|a| {
                let listed = policy.attributes.get(a).unwrap_or(&policy.sources);
                let mut order: Vec<usize> = listed.iter().filter_map(|n| idx(n)).collect();
                for s in &policy.sources {
                    if let Some(i) = idx(s).filter(|i| !order.contains(i)) {
                        order.push(i);
                    }
                }
                order.extend((0..names.len()).filter(|i| !order.contains(i)).collect::<Vec<_>>());
                order
            })
            .collect();
        let sources = policy
            .sources
            .iter()
            .map(|s| match idx(s) {
                Some(c) => (names[c].clone(), Some(c)),
                None => (Name::from(s.as_str()), None),
            })
            .collect();
        Self { names: names.to_vec(), policy, sources, attr_order, email_of }
    }

    fn order(&self, a: Attribute) -> &[usize] {
        &self.attr_order[a.index()]
    }

    /// The value of attribute `a`: the first nonblank one in attribute precedence, and the
    /// connection it came from (recorded in `from`).
    fn attribute(
        &self,
        by_conn: &ByConn<'_>,
        a: Attribute,
        get: fn(&SourceUser) -> Option<&str>,
        from: &mut [Option<usize>; Attribute::ALL.len()],
    ) -> Option<CompactString> {
        let (value, c) = self
            .order(a)
            .iter()
            .find_map(|&c| by_conn.get(c).iter().find_map(|r| nonempty(get(r.user))).map(|v| (v, c)))?;
        from[a.index()] = Some(c);
        Some(CompactString::from(value))
    }

    /// The connections that have listed a person: those `prior` was seen in, and those of
    /// `by_conn`. Shared with every other person of this thread seen in the same ones, and
    /// found without collecting the names first (nearly always it is a set handed out before).
    fn seen_in(&self, shared: &mut Shared, prior: Option<&Person>, by_conn: &ByConn<'_>) -> NameSet {
        let before = prior.map(|p| &p.seen_in);
        let conns = || by_conn.conns().map(|c| &*self.names[c]);
        let new = || conns().filter(|n| !before.is_some_and(|s| s.contains(n)));
        let len = before.map_or(0, NameSet::len) + new().count();
        let is_it = |set: &NameSet| {
            set.len() == len
                && before.is_none_or(|b| b.iter().all(|n| set.contains(n)))
                && conns().all(|n| set.contains(n))
        };
        shared.set(is_it, || {
            let own = |n: &str| self.names.iter().find(|o| &***o == n).cloned().unwrap_or_else(|| Name::from(n));
            before.into_iter().flatten().map(|n| own(n)).chain(new().map(own)).collect()
        })
    }

    /// The person of records `recs`, continuing `prior`; `shared` hands out the sets people of
    /// this thread share, `by_conn` is room to sort the records in.
    fn person(
        &self,
        shared: &mut Shared,
        by_conn: &mut ByConn<'a>,
        recs: &[Rec<'a>],
        prior: Option<&Person>,
    ) -> Person {
        by_conn.fill(recs);
        let by_conn = &*by_conn;
        let seen_in = self.seen_in(shared, prior, by_conn);

        let mut from = [None; Attribute::ALL.len()];
        let mut take = |a, get| self.attribute(by_conn, a, get, &mut from);
        let email = take(Attribute::Email, |u| u.email.as_deref());
        let employee_id = take(Attribute::EmployeeId, |u| u.employee_id.as_deref());
        let first_name = take(Attribute::FirstName, |u| u.first_name.as_deref());
        let last_name = take(Attribute::LastName, |u| u.last_name.as_deref());
        let display_name = take(Attribute::DisplayName, |u| u.display_name.as_deref());
        let role = take(Attribute::Role, |u| u.role.as_deref());
        let department = take(Attribute::Department, |u| u.department.as_deref());
        let manager = self
            .order(Attribute::Manager)
            .iter()
            .find_map(|&c| by_conn.get(c).iter().find_map(|r| r.user.manager.as_ref()).map(|m| (m, c)))
            .map(|(m, c)| {
                from[Attribute::Manager.index()] = Some(c);
                match m {
                    ManagerRef::Email(e) => e.clone(),
                    ManagerRef::SourceId(id) => {
                        self.email_of.get(c, id).map_or_else(|| id.clone(), CompactString::from)
                    }
                }
            });

        // Every other address, once whatever its case, in the order of the records.
        let mut seen: Vec<_> = email.as_deref().and_then(normalise).into_iter().collect();
        let mut aliases: Vec<CompactString> = Vec::new();
        for r in &by_conn.recs {
            for e in r.user.emails() {
                if let Some(norm) = normalise(e).filter(|n| !seen.contains(n)) {
                    seen.push(norm);
                    aliases.push(CompactString::from(trim(e)));
                }
            }
        }
        drop(seen);
        if aliases.len() > 1 {
            aliases.sort_by_cached_key(CompactString::to_lowercase);
        }

        let records: Vec<PersonRecord> = recs
            .iter()
            .map(|r| PersonRecord {
                connection: self.names[r.conn].clone(),
                source_id: r.user.source_id.clone(),
                status: r.user.status,
                raw_status: r.user.raw_status.clone(),
            })
            .collect();

        let all_emails: Vec<&str> =
            email.iter().map(CompactString::as_str).chain(aliases.iter().map(CompactString::as_str)).collect();
        let all_guest = recs.iter().all(|r| r.user.guest);
        let decision = self.decide(by_conn, &seen_in, &all_emails, all_guest, prior);
        drop(all_emails);
        let problems = recs.iter().any(|r| !r.user.problems.is_empty());
        let status = decision.status.or_else(|| {
            self.order(Attribute::Email).iter().find_map(|&c| by_conn.get(c).first().map(|r| r.user.status))
        });
        let key = prior.map_or_else(
            || {
                let mut key = CompactString::from(&*self.names[recs[0].conn]);
                key.push(':');
                key.push_str(&recs[0].user.source_id);
                key
            },
            |p| p.key.clone(),
        );
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
            decided_by: decision.decided_by.map(|c| self.names[c].clone()),
            rule: decision.rule,
            trace: shared.trace(decision.trace),
            review: decision.review || problems,
            provenance: shared.provenance(from, &self.names),
            records,
            seen_in,
        }
    }

    /// A prior person no snapshot lists any more, kept because a source of truth dropped them.
    fn tombstone(&self, p: &Person) -> Person {
        let emails: Vec<&str> = p.email.iter().chain(p.aliases.iter()).map(CompactString::as_str).collect();
        let decision = self.decide(&ByConn::default(), &p.seen_in, &emails, false, Some(p));
        Person {
            status: None,
            was_current: p.was_current || decision.lifecycle == Lifecycle::Current,
            lifecycle: decision.lifecycle,
            decided_by: decision.decided_by.map(|c| self.names[c].clone()),
            rule: decision.rule,
            trace: decision.trace.into(),
            review: decision.review,
            records: Vec::new(),
            ..p.clone()
        }
    }

    fn decide(
        &self,
        by_conn: &ByConn<'_>,
        seen_in: &NameSet,
        emails: &[&str],
        all_guest: bool,
        prior: Option<&Person>,
    ) -> Decision {
        // What each source of truth says, highest precedence first.
        let says: Vec<(Option<usize>, Say<'_>)> = self
            .sources
            .iter()
            .map(|(name, c)| match *c {
                None => (None, Say::NoSnapshot),
                Some(c) => match by_conn.get(c) {
                    [] if seen_in.contains(name) => (Some(c), Say::Absent),
                    [] => (Some(c), Say::NotListed),
                    recs => (Some(c), Say::Record(recs[0].user)),
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
                says.iter().position(|(_, say)| matches!(say, Say::Record(best) if self.counts_as_current(best.status)))
            })
            .flatten();
        let decider = active.or_else(|| says.iter().position(|(_, say)| matches!(say, Say::Record(_) | Say::Absent)));
        let mut decision = match decider.map(|i| &says[i]) {
            Some(&(Some(c), Say::Record(best))) if active.is_some() => {
                Decision::new(Lifecycle::Current, Some(c), Rule::Status { status: best.status })
                    .with_status(best.status)
            }
            Some(&(Some(c), Say::Record(best))) => self.by_record_status(c, best, prior),
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
        let by = decider.map(|d| self.sources[d].0.clone());
        says.iter()
            .enumerate()
            .map(|(i, (_, say))| {
                let (said, status, raw_status) = match say {
                    Say::Record(best) => (Said::Listed, Some(best.status), best.raw_status.clone()),
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
                Verdict { connection: self.sources[i].0.clone(), rank: i + 1, said, status, raw_status, outcome }
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

/// What one source of truth says about a person.
enum Say<'u> {
    /// It lists them; the record with the best employment status.
    Record(&'u SourceUser),
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
