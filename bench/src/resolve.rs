//! Resolution alone: three snapshots of N people each (UKG Pro, Entra ID, Google Workspace),
//! made by each connector's own mapping from the rows its sandbox would serve, without HTTP;
//! then `roster_core::lifecycle::resolve` timed on them, first with no prior people (a first
//! sync) and then continuing from that result (every later sync).

use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use chrono::NaiveDate;
use roster_core::SourceUser;
use roster_core::lifecycle::{Policy, Snapshot, resolve};
use roster_core::sandbox::Org;
use serde_json::json;

use crate::mem;
use crate::protocol::Measured;

/// Builds the snapshots, then measures both resolutions.
pub(crate) fn run(people: usize, seed: u64) -> Result<Vec<Measured>> {
    let today = chrono::Utc::now().date_naive();
    let org = Org::generate(people, seed, today);
    let snapshots =
        [("ukg", stored(ukg(&org, today)?)), ("azure", stored(entra(&org, today)?)), ("google", stored(google(&org)?))];
    let policy = Policy { sources: vec!["ukg".into()], domains: vec![org.domain.clone()], ..Policy::default() };
    drop(org);
    let views: Vec<Snapshot<'_>> = snapshots.iter().map(|(c, users)| Snapshot { connection: c, users }).collect();
    let records: u64 = snapshots.iter().map(|(_, u)| u.len() as u64).sum();

    // What building the snapshots took is not what resolving costs: the peak starts here.
    mem::reset_peak();
    let started = Instant::now();
    let first = resolve(&views, &policy, &[]);
    let first_wall = started.elapsed().as_secs_f64();
    let first_peak = mem::peak_rss();

    mem::reset_peak();
    let started = Instant::now();
    let again = resolve(&views, &policy, &first);
    let again_wall = started.elapsed().as_secs_f64();
    if again.len() != first.len() {
        return Err(anyhow!(
            "resolving the same snapshots again made {} people instead of {}",
            again.len(),
            first.len()
        ));
    }
    let measured = |label: &str, wall_secs, peak_rss| Measured {
        label: Some(label.to_owned()),
        wall_secs,
        units: records,
        peak_rss,
        ..Measured::default()
    };
    Ok(vec![measured("first", first_wall, first_peak), measured("again", again_wall, mem::peak_rss())])
}

/// A snapshot as the host hands it to the resolver: read back from the store in source-id order,
/// each record allocated as it is read (so records that come one after another in that order sit
/// near one another in memory, as they do in `roster sync`).
fn stored(mut users: Vec<SourceUser>) -> Vec<SourceUser> {
    users.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    // The copy is the point: its strings are allocated in source-id order.
    users.clone()
}

/// UKG Pro's rows for the organisation, through the connector's row types and join.
fn ukg(org: &Org, today: NaiveDate) -> Result<Vec<SourceUser>> {
    use roster_ukg_pro::mapping::{MapOptions, map_all};
    use roster_ukg_pro::models::{EmploymentRow, PersonRow};
    let tenant = roster_ukg_pro::sandbox::Tenant::from_org(org);
    let persons: Vec<PersonRow> =
        tenant.person_details.into_iter().map(serde_json::from_value).collect::<Result<_, _>>()?;
    let employment: Vec<EmploymentRow> =
        tenant.employment_details.into_iter().map(serde_json::from_value).collect::<Result<_, _>>()?;
    map_all(persons, employment, MapOptions { today, department_org_level: 1 }).context("ukg rows do not map")
}

/// Entra ID's users for the organisation, in Graph's shape, through the connector's mapping.
fn entra(org: &Org, today: NaiveDate) -> Result<Vec<SourceUser>> {
    use roster_entra_id::models::GraphUser;
    let tenant = roster_entra_id::sandbox::Tenant::from_org(org);
    tenant
        .users
        .iter()
        .map(|u| {
            let graph = json!({
                "id": u.id,
                "displayName": u.display_name,
                "givenName": u.given_name,
                "surname": u.surname,
                "mail": u.mail,
                "userPrincipalName": u.user_principal_name,
                "accountEnabled": u.account_enabled,
                "jobTitle": u.job_title,
                "department": u.department,
                "employeeId": u.employee_id,
                "employeeHireDate": u.employee_hire_date.map(|d| format!("{d}T00:00:00Z")),
                "userType": u.user_type,
            });
            let user: GraphUser = serde_json::from_value(graph)?;
            roster_entra_id::mapping::map_user(&user, today).map_err(anyhow::Error::new)
        })
        .collect()
}

/// Google Workspace's users for the organisation, through the connector's mapping.
fn google(org: &Org) -> Result<Vec<SourceUser>> {
    use roster_google_workspace::models::GoogleUser;
    let directory = roster_google_workspace::sandbox::Directory::from_org(org);
    directory
        .users
        .into_iter()
        .map(|u| {
            let user: GoogleUser = serde_json::from_value(u)?;
            roster_google_workspace::mapping::map_user(&user).map_err(anyhow::Error::new)
        })
        .collect()
}
