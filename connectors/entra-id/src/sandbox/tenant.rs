//! The directory a sandbox serves: users in Graph's shape, built from a generated [`Org`] or by
//! hand.

use chrono::NaiveDate;
use roster_core::EmploymentStatus;
use roster_core::sandbox::Org;
use serde_json::{Map, Value, json};

/// Graph's `user` properties the sandbox knows; `$select` of anything else is refused.
pub(super) const PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "userPrincipalName",
    "accountEnabled",
    "jobTitle",
    "department",
    "employeeId",
    "employeeType",
    "employeeHireDate",
    "userType",
    "businessPhones",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
];

/// What Graph v1.0 returns for a user when there is no `$select`: note that `accountEnabled`,
/// `department` and `employeeId` are not among them.
pub(super) const DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// One user of the sandbox directory, with the properties Graph would return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxUser {
    /// Object id (a GUID).
    pub id: String,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `surname`.
    pub surname: Option<String>,
    /// `mail`; `None` is served as `null`.
    pub mail: Option<String>,
    /// `userPrincipalName`.
    pub user_principal_name: String,
    /// `accountEnabled`.
    pub account_enabled: bool,
    /// `jobTitle`.
    pub job_title: Option<String>,
    /// `department`.
    pub department: Option<String>,
    /// `employeeId`.
    pub employee_id: Option<String>,
    /// `employeeType`.
    pub employee_type: Option<String>,
    /// `employeeHireDate`, served as midnight UTC.
    pub employee_hire_date: Option<NaiveDate>,
    /// `userType`: `Member` or `Guest`.
    pub user_type: String,
}

impl SandboxUser {
    /// An enabled member whose mail is its user principal name.
    pub fn member(id: impl Into<String>, upn: impl Into<String>) -> Self {
        let upn = upn.into();
        Self {
            id: id.into(),
            mail: Some(upn.clone()),
            user_principal_name: upn,
            account_enabled: true,
            user_type: "Member".into(),
            ..Self::default()
        }
    }

    /// Every property this user has, as Graph spells it.
    pub(super) fn to_graph(&self) -> Map<String, Value> {
        let json = json!({
            "id": self.id,
            "displayName": self.display_name,
            "givenName": self.given_name,
            "surname": self.surname,
            "mail": self.mail,
            "userPrincipalName": self.user_principal_name,
            "accountEnabled": self.account_enabled,
            "jobTitle": self.job_title,
            "department": self.department,
            "employeeId": self.employee_id,
            "employeeType": self.employee_type,
            "employeeHireDate": self.employee_hire_date.map(|d| format!("{d}T00:00:00Z")),
            "userType": self.user_type,
            "businessPhones": [],
            "mobilePhone": null,
            "officeLocation": null,
            "preferredLanguage": null,
        });
        match json {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// A sandbox directory: its identity and its users, in listing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The directory (tenant) ID.
    pub tenant_id: String,
    /// The company's verified domain; the token endpoint accepts it in place of the GUID.
    pub domain: String,
    /// The users, in the order `/v1.0/users` lists them.
    pub users: Vec<SandboxUser>,
}

/// The sandbox's directory (tenant) ID: fake, fixed.
pub const TENANT_ID: &str = "5e1f3c2a-7b9d-4e6f-8a1b-2c3d4e5f6a7b";

impl Tenant {
    /// A tenant with hand-built users.
    pub fn new(domain: impl Into<String>, users: Vec<SandboxUser>) -> Self {
        Self { tenant_id: TENANT_ID.into(), domain: domain.into(), users }
    }

    /// The `*.onmicrosoft.com` domain every tenant has from the start; guests' UPNs live there.
    pub fn initial_domain(&self) -> String {
        let label: String =
            self.domain.split('.').next().unwrap_or("tenant").chars().filter(char::is_ascii_alphanumeric).collect();
        format!("{label}.onmicrosoft.com")
    }

    /// The organisation as its Entra directory sees it, the way real ones look: everyone HR
    /// knows has an account; terminated people are disabled, except every fifth, left enabled
    /// by a forgotten offboarding; pre-hires are enabled with a hire date ahead; two people have
    /// no mailbox (`mail` null, the UPN is their address); one active person in a hundred still
    /// has the address of their old name (HR has the new one; the employee id ties them); two
    /// partner guests are invited; and contractors HR does not know (one per 200 people, at
    /// least two) have accounts of the company's domain.
    pub fn from_org(org: &Org) -> Self {
        let mut tenant = Self::new(org.domain.clone(), Vec::with_capacity(org.people.len() + 2));
        let mut terminated = 0usize;
        let mut without_mailbox = 0usize;
        for (i, person) in org.people.iter().enumerate() {
            let enabled = if person.status == EmploymentStatus::Terminated {
                terminated += 1;
                terminated.is_multiple_of(5)
            } else {
                true
            };
            // A name change HR has and the directory does not (yet): the old address stays.
            let address = if person.status == EmploymentStatus::Active && i % 100 == 42 {
                format!("{}.{}-old@{}", person.first_name.to_lowercase(), person.last_name.to_lowercase(), org.domain)
            } else {
                person.email.clone()
            };
            let mut user = SandboxUser::member(object_id(i), address);
            if enabled && person.status == EmploymentStatus::Active && i % 11 == 3 && without_mailbox < 2 {
                without_mailbox += 1;
                user.mail = None;
            }
            user.display_name =
                Some(format!("{} {}", person.preferred_name.as_ref().unwrap_or(&person.first_name), person.last_name));
            user.given_name = Some(person.first_name.clone());
            user.surname = Some(person.last_name.clone());
            user.account_enabled = enabled;
            user.job_title = Some(person.job_title.clone());
            user.department = Some(person.department.clone());
            user.employee_id = Some(person.employee_number.clone());
            user.employee_type = Some("Employee".into());
            user.employee_hire_date = Some(person.hire_date);
            tenant.users.push(user);
        }
        let contractors = (org.people.len() / 200).max(2);
        for n in 0..contractors {
            let (first, last) = CONTRACTORS[n % CONTRACTORS.len()];
            let suffix = if n < CONTRACTORS.len() { String::new() } else { (n / CONTRACTORS.len() + 1).to_string() };
            let address = format!("{}.{}{suffix}.ext@{}", first.to_lowercase(), last.to_lowercase(), org.domain);
            let mut user = SandboxUser::member(object_id(org.people.len() + 2 + n), address);
            user.display_name = Some(format!("{first} {last} (Contractor)"));
            user.given_name = Some(first.into());
            user.surname = Some(last.into());
            user.job_title = Some("Contractor".into());
            user.employee_type = Some("Contractor".into());
            tenant.users.push(user);
        }
        let initial = tenant.initial_domain();
        for (n, (first, last, partner)) in
            [("Robin", "Okoro", "partner.example"), ("Sasha", "Lindqvist", "auditors.example")].into_iter().enumerate()
        {
            let address = format!("{}.{}@{partner}", first.to_lowercase(), last.to_lowercase());
            let mut guest = SandboxUser::member(object_id(org.people.len() + n), address.replace('@', "_"));
            guest.user_principal_name = format!("{}#EXT#@{initial}", guest.user_principal_name);
            guest.mail = Some(address);
            guest.display_name = Some(format!("{first} {last} (Guest)"));
            guest.given_name = Some(first.into());
            guest.surname = Some(last.into());
            guest.user_type = "Guest".into();
            tenant.users.push(guest);
        }
        tenant
    }
}

/// Contractors the directory has and HR does not.
const CONTRACTORS: [(&str, &str); 6] = [
    ("Jonas", "Berg"),
    ("Priya", "Raman"),
    ("Tomasz", "Wolski"),
    ("Lucia", "Ferri"),
    ("Kwame", "Mensah"),
    ("Elena", "Sokolova"),
];

/// A GUID-shaped object id, the same for the same index.
fn object_id(index: usize) -> String {
    let n = index as u64 + 1;
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        mixed >> 32,
        (mixed >> 16) & 0xffff,
        mixed & 0xfff,
        n >> 48 & 0xfff,
        n
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_as_entra_sees_it() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let org = Org::generate(300, 11, today);
        let tenant = Tenant::from_org(&org);
        assert_eq!(tenant.users.len(), 300 + 2 + 2, "everyone, two guests, two contractors");
        let contractors = tenant.users.iter().filter(|u| u.employee_type.as_deref() == Some("Contractor")).count();
        assert_eq!(contractors, 2);
        let renamed = tenant.users.iter().filter(|u| u.user_principal_name.contains("-old@")).count();
        assert!(renamed > 0, "someone's directory address predates their name change");
        let disabled = tenant.users.iter().filter(|u| !u.account_enabled).count();
        let terminated = org.people.iter().filter(|p| p.status == EmploymentStatus::Terminated).count();
        assert!(disabled > 0 && disabled < terminated, "some leavers stay enabled: {disabled} of {terminated}");
        assert_eq!(tenant.users.iter().filter(|u| u.mail.is_none()).count(), 2);
        let guests: Vec<_> = tenant.users.iter().filter(|u| u.user_type == "Guest").collect();
        assert_eq!(guests.len(), 2);
        assert!(guests.iter().all(|g| g.user_principal_name.contains("#EXT#@acme.onmicrosoft.com")));
        assert!(tenant.users.iter().any(|u| u.employee_hire_date.is_some_and(|d| d > today) && u.account_enabled));
        let ids: std::collections::HashSet<_> = tenant.users.iter().map(|u| &u.id).collect();
        assert_eq!(ids.len(), tenant.users.len());
        assert!(crate::credentials::is_guid(&tenant.users[0].id), "{}", tenant.users[0].id);
    }
}
