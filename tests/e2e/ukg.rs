//! Syncing a UKG Pro tenant and listing its people, as an admin would.

use std::collections::BTreeSet;

use roster_core::EmploymentStatus;
use roster_tests::Workdir;
use roster_ukg_pro::Endpoint;
use roster_ukg_pro::sandbox::{PASSWORD, Sandbox, Tenant};
use serde_json::Value;

use super::{org, runtime};

/// `roster.toml` for one UKG connection as the sandbox prints it, small pages so listings page.
fn config(sandbox: &Sandbox, domain: &str, extra: &str) -> String {
    format!(
        "[connections.ukg]\n{}page_size = 25\n{extra}\n[lifecycle]\nsources = [\"ukg\"]\ndomains = [\"{domain}\"]\n",
        sandbox.connection_toml()
    )
}

fn people(work: &Workdir) -> Vec<Value> {
    let run = work.roster(&["users", "--format", "json"]).expect_code(0);
    run.json().as_array().expect("users --format json prints an array").clone()
}

fn by_email<'a>(people: &'a [Value], email: &str) -> &'a Value {
    people.iter().find(|p| p["email"] == email).unwrap_or_else(|| panic!("{email} is listed"))
}

#[test]
fn sync_lists_every_employee_with_status_and_lifecycle() {
    let rt = runtime();
    let org = org(120);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let work = Workdir::new();
    work.config(&config(&sandbox, &org.domain, ""));

    let sync = work.roster(&["sync"]).expect_code(0);
    assert!(sync.stderr.contains("ukg"), "sync reports the connection: {}", sync.stderr);

    let people = people(&work);
    assert_eq!(people.len(), org.people.len(), "one person per employee");
    let keys: BTreeSet<&str> = people[0].as_object().unwrap().keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "email",
        "aliases",
        "employee_id",
        "first_name",
        "last_name",
        "display_name",
        "role",
        "department",
        "manager",
        "status",
        "lifecycle",
        "decided_by",
        "records",
    ]
    .into();
    assert_eq!(keys, expected, "exactly the keys DESIGN.md lists");

    for person in &org.people {
        let p = by_email(&people, &person.email);
        let (status, lifecycle) = match person.status {
            EmploymentStatus::Active => ("active", "current"),
            EmploymentStatus::OnLeave => ("on_leave", "current"),
            EmploymentStatus::Terminated => ("terminated", "past"),
            EmploymentStatus::PreHire => ("pre_hire", "past"),
            other => unreachable!("the generator makes no {other}"),
        };
        assert_eq!((p["status"].as_str(), p["lifecycle"].as_str()), (Some(status), Some(lifecycle)), "{p:#}");
        assert_eq!(p["decided_by"], "ukg");
        assert_eq!(p["employee_id"], person.employee_number.as_str());
        assert_eq!(p["role"], person.job_title.as_str());
        let records = p["records"].as_array().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["connection"], "ukg");
        assert!(records[0]["raw_status"].as_str().is_some_and(|s| s.len() == 1), "the UKG letter is kept: {p:#}");
        // UKG's supervisorID names no company, so managers are found within the person's company.
        if let Some(m) = person.manager.filter(|&m| org.people[m].company == person.company) {
            assert_eq!(p["manager"], org.people[m].email.as_str(), "managers are shown by email");
        }
    }
    assert!(sandbox.requests(Endpoint::PersonDetails) >= 5, "120 people in pages of 25");
}

#[test]
fn a_sync_that_fails_half_way_changes_nothing() {
    let rt = runtime();
    let org = org(80);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let work = Workdir::new();
    work.config(&config(&sandbox, &org.domain, ""));
    work.roster(&["sync"]).expect_code(0);
    let before = people(&work);

    // The vendor now lists fewer people, but fails in the middle of the listing.
    let mut rows = Tenant::from_org(&org);
    rows.person_details.truncate(40);
    sandbox.set_rows(Endpoint::PersonDetails, rows.person_details);
    // Not a 500: roster retries those for about a minute before giving up (the connector's own
    // tests cover that with fast retries); a refusal fails at once.
    sandbox.fail_at_page(Endpoint::PersonDetails, 2, 400);
    let failed = work.roster(&["sync"]).expect_code(1);
    assert!(failed.stderr.contains("person-details page 2"), "names where it failed: {}", failed.stderr);
    assert_eq!(people(&work), before, "the previous snapshot and people stay exactly as they were");
}

#[test]
fn people_who_vanish_from_a_complete_snapshot_become_past() {
    let rt = runtime();
    let org = org(60);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let work = Workdir::new();
    work.config(&config(&sandbox, &org.domain, ""));
    work.roster(&["sync"]).expect_code(0);

    // Someone current disappears from both endpoints (deleted in UKG, not terminated).
    let gone = org.people.iter().position(|p| p.status == EmploymentStatus::Active).unwrap();
    let mut tenant = Tenant::from_org(&org);
    tenant.person_details.remove(gone);
    let internal_id = roster_ukg_pro::sandbox::employee_id(gone);
    tenant.employment_details.retain(|row| row["employeeID"] != internal_id.as_str());
    assert_eq!(tenant.employment_details.len(), org.people.len() - 1);
    sandbox.set_rows(Endpoint::PersonDetails, tenant.person_details);
    sandbox.set_rows(Endpoint::EmploymentDetails, tenant.employment_details);
    work.roster(&["sync"]).expect_code(0);

    let people = people(&work);
    assert_eq!(people.len(), org.people.len(), "the person is kept");
    let p = by_email(&people, &org.people[gone].email);
    assert_eq!((p["lifecycle"].as_str(), p["decided_by"].as_str()), (Some("past"), Some("ukg")), "{p:#}");
    assert_eq!(p["records"], Value::Array(vec![]), "no source lists them any more");
}

#[test]
fn throttling_is_retried_and_the_sync_completes() {
    let rt = runtime();
    let org = org(30);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    sandbox.fail_next(Endpoint::EmploymentDetails, 429, 2, Some(0));
    sandbox.fail_next(Endpoint::PersonDetails, 503, 1, None);
    let work = Workdir::new();
    work.config(&config(&sandbox, &org.domain, ""));
    work.roster(&["sync"]).expect_code(0);
    assert_eq!(people(&work).len(), 30);
}

#[test]
fn users_are_listed_in_every_format_and_by_lifecycle() {
    let rt = runtime();
    let org = org(50);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let work = Workdir::new();
    work.config(&config(&sandbox, &org.domain, ""));
    work.roster(&["sync"]).expect_code(0);

    let all = people(&work);
    let past: Vec<Value> = work
        .roster(&["users", "--lifecycle", "past", "--format", "json"])
        .expect_code(0)
        .json()
        .as_array()
        .unwrap()
        .clone();
    assert!(!past.is_empty() && past.len() < all.len());
    assert!(past.iter().all(|p| p["lifecycle"] == "past"));

    let ndjson = work.roster(&["users", "--format", "ndjson"]).expect_code(0).stdout;
    let lines: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, all, "ndjson holds the same objects, one per line");

    let csv = work.roster(&["users", "--format", "csv"]).expect_code(0).stdout;
    let mut rows = csv.lines();
    let header = rows.next().unwrap();
    assert!(header.starts_with("email,aliases,employee_id,first_name,last_name"), "{header}");
    assert_eq!(rows.count(), all.len());

    let table = work.roster(&["users"]).expect_code(0).stdout;
    assert!(table.contains(&org.people[0].email), "{table}");
}

#[test]
fn wrong_credentials_and_missing_permissions_are_named() {
    let rt = runtime();
    let org = org(10);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let work = Workdir::new();
    work.config(&config(&sandbox, &org.domain, ""));

    let ok = work.roster(&["check"]).expect_code(0);
    assert!(
        ok.stdout.contains("Employee Person Details") && ok.stdout.contains("Personnel Integration"),
        "{}",
        ok.stdout
    );

    sandbox.revoke(Endpoint::EmploymentDetails);
    let missing = work.roster(&["check"]).expect_code(1);
    let text = format!("{}{}", missing.stdout, missing.stderr);
    assert!(text.contains("Personnel Integration"), "{text}");
    sandbox.grant(Endpoint::EmploymentDetails);

    sandbox.set_wrong_credentials(true);
    let refused = work.roster(&["check"]).expect_code(1);
    let text = format!("{}{}", refused.stdout, refused.stderr);
    assert!(text.contains("refused the credentials"), "{text}");
    let failed = work.roster(&["sync"]).expect_code(1);
    let text = format!("{text}{}{}", failed.stdout, failed.stderr);
    assert!(!text.contains(PASSWORD), "the password never appears: {text}");
}

#[test]
fn secrets_come_from_the_environment() {
    let rt = runtime();
    let org = org(10);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let inline = config(&sandbox, &org.domain, "");
    let from_env = inline.replace(&format!("password = \"{PASSWORD}\""), "password = { env = \"UKG_PASSWORD\" }");
    assert_ne!(inline, from_env);
    let mut work = Workdir::new();
    work.config(&from_env);

    let missing = work.roster(&["sync"]).expect_code(2);
    assert!(missing.stderr.contains("UKG_PASSWORD"), "names the variable: {}", missing.stderr);
    assert!(missing.stderr.contains("connections.ukg.password"), "names the key: {}", missing.stderr);

    work.env("UKG_PASSWORD", PASSWORD);
    work.roster(&["sync"]).expect_code(0);
    assert_eq!(people(&work).len(), 10);
}
