//! The account a sandbox serves: users as Google's JSON objects, built from a generated [`Org`]
//! or by hand. Users are kept as JSON so that a hand-built user has exactly the fields a test
//! gives it, and absent fields stay absent.

use chrono::{Days, NaiveDate};
use roster_core::EmploymentStatus;
use roster_core::sandbox::Org;
use serde_json::{Map, Value, json};

/// The sandbox account's customer ID: fake, fixed.
pub const CUSTOMER_ID: &str = "C03r0st3r";

/// A Google Workspace account: its customer ID, domains, the admin roster impersonates, and its
/// users in `users.list` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    /// The customer ID (`my_customer` also names it).
    pub customer_id: String,
    /// The account's domains, the primary one first.
    pub domains: Vec<String>,
    /// The admin's primary email: the `sub` token requests must name.
    pub admin_email: String,
    /// Every user, as Google's JSON objects.
    pub users: Vec<Value>,
}

impl Directory {
    /// An account on `domain` with these hand-built users, after its admin (`admin@<domain>`,
    /// a super admin, listed first like every user of the account).
    pub fn new(domain: impl Into<String>, users: Vec<Value>) -> Self {
        let domain = domain.into();
        let admin_email = format!("admin@{domain}");
        let mut all = vec![admin_user(&admin_email)];
        all.extend(users);
        Self { customer_id: CUSTOMER_ID.into(), domains: vec![domain], admin_email, users: all }
    }

    /// Adds a secondary domain (users of it can then be listed with `domain=`).
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domains.push(domain.into());
        self
    }

    /// The organisation as its Google Workspace account sees it, the way real ones look: an IT
    /// admin account HR does not know; everyone current (on leave included) active; pre-hires
    /// already created and active; of the people who left, most suspended (`ADMIN`), some deleted
    /// (absent), a few archived, and every fifth still active — an offboarding nobody finished.
    /// Some users carry phones and a custom schema, which roster must ignore.
    pub fn from_org(org: &Org) -> Self {
        let mut directory = Self::new(org.domain.clone(), Vec::with_capacity(org.people.len()));
        let mut leavers = 0usize;
        for (i, person) in org.people.iter().enumerate() {
            let (suspended, archived) = if person.status == EmploymentStatus::Terminated {
                leavers += 1;
                match leavers % 10 {
                    0 | 5 => (false, false),
                    1 | 4 | 7 => continue,
                    9 => (false, true),
                    _ => (true, false),
                }
            } else {
                (false, false)
            };
            let created = person.hire_date.min(org.today) - Days::new(14);
            let mut user = json!({
                "kind": "admin#directory#user",
                "id": user_id(i + 1),
                "etag": format!("\"sbx-user-{i}\""),
                "primaryEmail": person.email,
                "name": {
                    "givenName": person.first_name,
                    "familyName": person.last_name,
                    "fullName": format!("{} {}", person.first_name, person.last_name),
                },
                "isAdmin": false,
                "isDelegatedAdmin": false,
                "creationTime": timestamp(created),
                "agreedToTerms": true,
                "suspended": suspended,
                "archived": archived,
                "changePasswordAtNextLogin": false,
                "ipWhitelisted": false,
                "emails": [{ "address": person.email, "primary": true }],
                "organizations": [{
                    "title": person.job_title,
                    "department": person.department,
                    "primary": true,
                    "customType": "",
                    "costCenter": format!("CC-{}", person.job_code),
                }],
                "externalIds": [{ "value": person.employee_number, "type": "organization" }],
                "customerId": CUSTOMER_ID,
                "orgUnitPath": if suspended || archived { "/Former employees" } else { "/" },
                "isMailboxSetup": true,
                "includeInGlobalAddressList": true,
            });
            if let Some(map) = user.as_object_mut() {
                if person.hire_date <= org.today {
                    map.insert("lastLoginTime".into(), json!(timestamp(org.today - Days::new(1 + (i as u64 % 20)))));
                }
                if suspended {
                    map.insert("suspensionReason".into(), json!("ADMIN"));
                }
                if !person.aliases.is_empty() {
                    map.insert("aliases".into(), json!(person.aliases));
                }
                if let Some(manager) = person.manager.and_then(|m| org.people.get(m)) {
                    map.insert("relations".into(), json!([{ "value": manager.email, "type": "manager" }]));
                }
                if i % 7 == 2 {
                    map.insert(
                        "phones".into(),
                        json!([{ "value": format!("+1 555 01{:02}", i % 100), "type": "work" }]),
                    );
                    map.insert(
                        "customSchemas".into(),
                        json!({ "EmployeeDetails": { "EmployeeType": "Full time", "BirthDate": "1990-01-01" } }),
                    );
                }
            }
            directory.users.push(user);
        }
        directory
    }

    /// Whether `domain` is one of the account's.
    pub(super) fn has_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// The user whose primary email is `email`.
    pub(super) fn user(&self, email: &str) -> Option<&Map<String, Value>> {
        self.users
            .iter()
            .filter_map(Value::as_object)
            .find(|u| u.get("primaryEmail").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case(email)))
    }
}

/// The account's super admin.
fn admin_user(email: &str) -> Value {
    json!({
        "kind": "admin#directory#user",
        "id": user_id(0),
        "etag": "\"sbx-admin\"",
        "primaryEmail": email,
        "name": { "givenName": "Workspace", "familyName": "Admin", "fullName": "Workspace Admin" },
        "isAdmin": true,
        "isDelegatedAdmin": false,
        "suspended": false,
        "archived": false,
        "customerId": CUSTOMER_ID,
        "orgUnitPath": "/IT",
    })
}

/// A 21-digit numeric id like Google's, the same for the same index and unique across indexes
/// (multiplying by a number coprime with 10 permutes the residues).
fn user_id(index: usize) -> String {
    const MODULUS: u128 = 100_000_000_000_000_000_000;
    let n = (index as u128 + 1) * 3_141_592_653 % MODULUS;
    format!("1{n:020}")
}

/// An RFC 3339 timestamp at 09:00 UTC, as Google writes `creationTime`.
fn timestamp(day: NaiveDate) -> String {
    format!("{day}T09:00:00.000Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_as_google_sees_it() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let org = Org::generate(400, 11, today);
        let directory = Directory::from_org(&org);
        let leavers = org.people.iter().filter(|p| p.status == EmploymentStatus::Terminated).count();
        let flag = |u: &Value, f: &str| u[f].as_bool() == Some(true);
        let suspended = directory.users.iter().filter(|u| flag(u, "suspended")).count();
        let archived = directory.users.iter().filter(|u| flag(u, "archived")).count();
        let deleted = org.people.len() + 1 - directory.users.len();
        let still_active = leavers - suspended - archived - deleted;
        assert!(
            suspended > deleted && deleted > 0 && archived > 0 && still_active > 0,
            "{suspended} {deleted} {archived} {still_active}"
        );
        assert!(suspended + deleted > leavers / 2, "most leavers are suspended or gone");
        let ids: std::collections::HashSet<_> = directory.users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), directory.users.len());
        assert!(ids.iter().all(|id| id.len() == 21 && id.bytes().all(|b| b.is_ascii_digit())));
        assert_eq!(directory.users[0]["primaryEmail"], json!("admin@acme.example"));
        let pre_hire = org.people.iter().find(|p| p.status == EmploymentStatus::PreHire).unwrap();
        let user = directory.user(&pre_hire.email).unwrap();
        assert_eq!((user["suspended"].as_bool(), user.contains_key("lastLoginTime")), (Some(false), false));
    }
}
