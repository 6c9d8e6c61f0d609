//! What sandboxes share: a generated organisation, and the hook a connector registers to serve an
//! emulator of its vendor.
//!
//! Every vendor emulator serves the *same* [`Org`] in its own shapes, so that a demo or a
//! cross-source test sees one company through several systems, the way a real one is.

pub mod faults;

use std::sync::Arc;

use chrono::{Days, NaiveDate};

use crate::connector::BoxFuture;
use crate::model::EmploymentStatus;

/// One person of a generated organisation, as HR knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPerson {
    /// The employee number people and other systems know (`100042`).
    pub employee_number: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Preferred given name, when it differs.
    pub preferred_name: Option<String>,
    /// Work email.
    pub email: String,
    /// Other addresses of the same mailbox.
    pub aliases: Vec<String>,
    /// Job title.
    pub job_title: String,
    /// Stable job code.
    pub job_code: String,
    /// Department.
    pub department: String,
    /// Index of the manager in [`Org::people`].
    pub manager: Option<usize>,
    /// What HR says.
    pub status: EmploymentStatus,
    /// Most recent hire date (in the future for pre-hires).
    pub hire_date: NaiveDate,
    /// Termination date (in the past for leavers, in the future for pending terminations).
    pub termination_date: Option<NaiveDate>,
    /// Index of the company (legal entity) in [`Org::companies`].
    pub company: usize,
}

/// A company (legal entity) of the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgCompany {
    /// Short code (`ACME`).
    pub code: String,
    /// Name.
    pub name: String,
}

/// A deterministic, generated organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// The company's email domain.
    pub domain: String,
    /// Legal entities.
    pub companies: Vec<OrgCompany>,
    /// Everyone HR knows, current and past.
    pub people: Vec<OrgPerson>,
    /// The day the organisation was generated for.
    pub today: NaiveDate,
}

const FIRST: &[&str] = &[
    "Amara", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kavya", "Liam", "Maya",
    "Noah", "Olivia", "Pedro", "Qing", "Rosa", "Samuel", "Tara", "Umar", "Vera", "William", "Ximena", "Yusuf", "Zoe",
    "Aisha", "Bruno", "Carmen", "Dmitri", "Emeka", "Fatima", "Gustavo", "Hannah", "Ivan", "Julia", "Kenji", "Leila",
    "Mateo", "Nadia", "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Ursula",
];
const LAST: &[&str] = &[
    "Adeyemi",
    "Baker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Murphy",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Wong",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Andersson",
    "Bianchi",
    "Chen",
    "Diaz",
    "Evans",
    "Ferreira",
    "Gomez",
    "Hughes",
    "Ito",
    "Johansson",
    "Kim",
    "Larsen",
    "Moreau",
    "Nguyen",
    "O'Brien",
];
const DEPARTMENTS: &[(&str, &[(&str, &str)])] = &[
    (
        "Engineering",
        &[("ENG1", "Software Engineer"), ("ENG2", "Senior Software Engineer"), ("ENG3", "Engineering Manager")],
    ),
    (
        "Sales",
        &[("SAL1", "Account Executive"), ("SAL2", "Sales Development Representative"), ("SAL3", "Sales Director")],
    ),
    ("Finance", &[("FIN1", "Accountant"), ("FIN2", "Financial Analyst"), ("FIN3", "Controller")]),
    ("People", &[("HR01", "HR Business Partner"), ("HR02", "Recruiter"), ("HR03", "Head of People")]),
    ("Support", &[("SUP1", "Support Specialist"), ("SUP2", "Support Team Lead"), ("SUP3", "Head of Support")]),
];

impl Org {
    /// Generates `people` people for `today`, the same every time for the same arguments.
    ///
    /// About 85% are active, 4% on leave, 3% pre-hires, 7% terminated (most of them within the
    /// last year), 1% with a pending termination; one in ten has an email alias, one in fifty
    /// works for the second company, a handful have a preferred name.
    pub fn generate(people: usize, seed: u64, today: NaiveDate) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let domain = "acme.example".to_owned();
        let companies = vec![
            OrgCompany { code: "ACME".into(), name: "Acme Corporation".into() },
            OrgCompany { code: "ACMEUK".into(), name: "Acme UK Ltd".into() },
        ];
        let mut used_emails = std::collections::HashSet::new();
        let mut taken: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(people);
        for i in 0..people {
            let first = FIRST[rng.usize(..FIRST.len())];
            let last = LAST[rng.usize(..LAST.len())];
            let local = format!("{}.{}", first.to_lowercase(), last.to_lowercase().replace('\'', ""));
            // The n-th person with this name gets `first.lastN` (no number for the first). A count
            // per name instead of trying 2, 3, ... in turn: at a million people a name is shared by
            // hundreds, and trying each number again made generation quadratic.
            let n = taken.entry(local.clone()).and_modify(|n| *n += 1).or_insert(1u32);
            let email = if *n == 1 { format!("{local}@{domain}") } else { format!("{local}{n}@{domain}") };
            used_emails.insert(email.clone());
            let (department, jobs) = DEPARTMENTS[rng.usize(..DEPARTMENTS.len())];
            let (job_code, job_title) = jobs[rng.usize(..jobs.len())];
            let roll = rng.u32(..1000);
            let hired_days_ago = u64::from(rng.u32(30..3650));
            let mut hire_date = today - Days::new(hired_days_ago);
            let mut termination_date = None;
            let status = match roll {
                0..850 => EmploymentStatus::Active,
                850..890 => EmploymentStatus::OnLeave,
                890..920 => {
                    hire_date = today + Days::new(u64::from(rng.u32(1..60)));
                    EmploymentStatus::PreHire
                }
                920..990 => {
                    let ago = u64::from(rng.u32(1..400)).min(hired_days_ago.saturating_sub(1)).max(1);
                    termination_date = Some(today - Days::new(ago));
                    EmploymentStatus::Terminated
                }
                _ => {
                    termination_date = Some(today + Days::new(u64::from(rng.u32(1..30))));
                    EmploymentStatus::Active
                }
            };
            let aliases = if rng.u32(..10) == 0 {
                vec![format!("{}{}@{domain}", &first[..1].to_lowercase(), last.to_lowercase().replace('\'', ""))]
            } else {
                Vec::new()
            };
            let aliases = aliases.into_iter().filter(|a| used_emails.insert(a.clone())).collect();
            out.push(OrgPerson {
                employee_number: format!("{}", 100_000 + i),
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                preferred_name: (rng.u32(..40) == 0).then(|| first[..first.len().min(3)].to_owned()),
                email,
                aliases,
                job_title: job_title.to_owned(),
                job_code: job_code.to_owned(),
                department: department.to_owned(),
                // Managers are people hired earlier in the list, so the chart has no cycles.
                manager: (i > 0).then(|| rng.usize(..i.min(1 + i / 8))),
                status,
                hire_date,
                termination_date,
                company: usize::from(rng.u32(..50) == 0),
            });
        }
        Self { domain, companies, people: out, today }
    }
}

/// What a connector's sandbox hook is asked to serve.
#[derive(Debug, Clone)]
pub struct SandboxRequest {
    /// The organisation to serve.
    pub org: Arc<Org>,
    /// The loopback port to listen on; 0 for any free port.
    pub port: u16,
}

/// A running vendor emulator.
#[derive(Debug)]
pub struct RunningSandbox {
    /// Where it listens (`http://127.0.0.1:PORT`).
    pub base_url: String,
    /// The body of a `[connections.NAME]` table that points at it, `connector` line included.
    pub connection_toml: String,
    /// Stops the server when dropped or sent to.
    pub shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Binds a listener on 127.0.0.1 for a sandbox (`port` 0 picks a free one) and says where it is.
pub async fn bind_loopback(port: u16) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("cannot read the sandbox's address: {e}"))?;
    Ok((listener, addr))
}

/// The hook a connector registers to serve its emulator.
pub type SandboxFn = fn(SandboxRequest) -> BoxFuture<'static, Result<RunningSandbox, String>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_varied() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let a = Org::generate(2000, 7, today);
        assert_eq!(a, Org::generate(2000, 7, today));
        let count = |s| a.people.iter().filter(|p| p.status == s).count();
        assert!(count(EmploymentStatus::Active) > 1500);
        for s in [EmploymentStatus::OnLeave, EmploymentStatus::PreHire, EmploymentStatus::Terminated] {
            assert!(count(s) > 10, "{s} is represented");
        }
        let emails: std::collections::HashSet<_> = a.people.iter().map(|p| &p.email).collect();
        assert_eq!(emails.len(), a.people.len(), "emails are unique");
        assert!(a.people.iter().all(|p| p.manager.is_none_or(|m| m < a.people.len())));
        assert!(a.people.iter().filter(|p| p.status == EmploymentStatus::PreHire).all(|p| p.hire_date > today));
    }
}
