//! The connector against the UKG Pro sandbox over real HTTP on loopback, connected the way an
//! admin's config is: through the registry, with a credentials table.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use roster_core::http::HttpOptions;
use roster_core::sandbox::{Org, SandboxRequest};
use roster_core::{
    ConnectContext, Connector, ConnectorError, EmploymentStatus, ErrorKind, ManagerRef, SecretScope, SourceUser,
    collect_users, find_connector,
};
use roster_ukg_pro::sandbox::{self, Sandbox, Tenant};
use roster_ukg_pro::{Endpoint, ID};
use serde_json::{Value, json};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).expect("a valid date")
}

fn ctx() -> ConnectContext {
    ConnectContext { today: today(), http: HttpOptions::fast(), ..ConnectContext::now() }
}

fn connect_with(credentials: &Value, ctx: &ConnectContext) -> Box<dyn Connector> {
    let descriptor = find_connector(ID).expect("the connector is registered");
    descriptor.connect(credentials, ctx).expect("valid credentials connect")
}

/// The sandbox's valid credentials with `page_size` set.
fn credentials(sandbox: &Sandbox, page_size: u32) -> Value {
    let mut c = sandbox.credentials();
    c["page_size"] = json!(page_size);
    c
}

async fn org_sandbox(people: usize) -> (Org, Sandbox) {
    let org = Org::generate(people, 11, today());
    let sandbox = Sandbox::start(Tenant::from_org(&org)).await.expect("the sandbox starts");
    (org, sandbox)
}

async fn list(sandbox: &Sandbox, page_size: u32) -> Result<Vec<SourceUser>, ConnectorError> {
    collect_users(&*connect_with(&credentials(sandbox, page_size), &ctx())).await
}

/// Every person of `org` came through, with the status, ids and manager HR gave them.
fn assert_matches_org(org: &Org, users: &[SourceUser]) {
    assert_eq!(users.len(), org.people.len());
    for (i, p) in org.people.iter().enumerate() {
        let u = users
            .iter()
            .find(|u| u.employee_id.as_deref() == Some(&p.employee_number))
            .expect("every person of the org is listed");
        let company = sandbox::company_id(p.company);
        assert_eq!(u.source_id, format!("{company}/{}", sandbox::employee_id(i)));
        assert_eq!((u.status, u.email.as_deref()), (p.status, Some(p.email.as_str())), "{}", p.employee_number);
        assert_eq!(u.hire_date, Some(p.hire_date));
        assert_eq!(u.termination_date, p.termination_date);
        assert_eq!(u.department.as_deref(), Some(p.department.to_uppercase().as_str()));
        let manager = p.manager.map(|m| ManagerRef::SourceId(format!("{company}/{}", sandbox::employee_id(m)).into()));
        assert_eq!(u.manager, manager);
        assert!(u.problems.is_empty(), "{:?}", u.problems);
    }
}

#[tokio::test]
async fn pages_with_link_headers() {
    let (org, sandbox) = org_sandbox(23).await;
    let users = list(&sandbox, 5).await.unwrap();
    assert_matches_org(&org, &users);
    for endpoint in Endpoint::ALL {
        assert_eq!(sandbox.requests(endpoint), 5, "{endpoint:?}");
    }
}

#[tokio::test]
async fn person_pages_reach_the_sink_as_they_arrive() {
    let (org, sandbox) = org_sandbox(23).await;
    let connector = connect_with(&credentials(&sandbox, 5), &ctx());
    let (mut sink, mut rx) = roster_core::PageSink::channel(1);
    let (summary, pages) = tokio::join!(
        async {
            let summary = connector.list_users(&mut sink).await;
            drop(sink);
            summary
        },
        async {
            let mut sizes = Vec::new();
            while let Some(page) = rx.recv().await {
                sizes.push(page.len());
            }
            sizes
        }
    );
    assert_eq!(pages, [5, 5, 5, 5, 3], "one mapped page per person-details page");
    let summary = summary.unwrap();
    assert_eq!((summary.users, summary.requests), (org.people.len() as u64, 10));
}

#[tokio::test]
async fn pages_without_link_headers() {
    let (org, sandbox) = org_sandbox(23).await;
    sandbox.set_link_headers(false);
    let users = list(&sandbox, 5).await.unwrap();
    assert_matches_org(&org, &users);
    assert_eq!(sandbox.requests(Endpoint::PersonDetails), 5, "the short page 5 ends the listing");
}

#[tokio::test]
async fn a_tenant_that_is_an_exact_multiple_of_the_page_size() {
    // With Link headers, page 5 says there is no next page.
    let (org, sandbox) = org_sandbox(25).await;
    assert_matches_org(&org, &list(&sandbox, 5).await.unwrap());
    assert_eq!(sandbox.requests(Endpoint::PersonDetails), 5);

    // Without them, a full page 5 is no end: page 6 is asked for, and is empty.
    let (org, sandbox) = org_sandbox(25).await;
    sandbox.set_link_headers(false);
    assert_matches_org(&org, &list(&sandbox, 5).await.unwrap());
    assert_eq!(sandbox.requests(Endpoint::PersonDetails), 6);
    assert_eq!(sandbox.requests(Endpoint::EmploymentDetails), 6);
}

#[tokio::test]
async fn a_generated_org_maps_back_to_what_hr_said() {
    // Person and employment rows come in different orders; pages of 7 split them differently.
    let (org, sandbox) = org_sandbox(400).await;
    let users = list(&sandbox, 7).await.unwrap();
    assert_matches_org(&org, &users);
    for status in [EmploymentStatus::OnLeave, EmploymentStatus::PreHire, EmploymentStatus::Terminated] {
        assert!(users.iter().any(|u| u.status == status), "{status} is represented");
    }
    let letters: std::collections::BTreeSet<_> = users.iter().filter_map(|u| u.raw_status.as_deref()).collect();
    assert_eq!(letters.into_iter().collect::<String>(), "ALORST");
}

#[tokio::test]
async fn an_empty_tenant_is_a_complete_empty_listing() {
    let sandbox = Sandbox::start(Tenant::default()).await.unwrap();
    assert!(list(&sandbox, 100).await.unwrap().is_empty());
    assert_eq!(sandbox.requests(Endpoint::PersonDetails), 1);
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let (org, sandbox) = org_sandbox(12).await;
    // No Retry-After: the client backs off on its own.
    sandbox.fail_next(Endpoint::PersonDetails, 429, 2, None);
    assert_matches_org(&org, &list(&sandbox, 5).await.unwrap());
    assert_eq!(sandbox.requests(Endpoint::PersonDetails), 3 + 2);

    // Retry-After: 1 is honoured.
    sandbox.fail_next(Endpoint::EmploymentDetails, 429, 1, Some(1));
    let started = Instant::now();
    assert_matches_org(&org, &list(&sandbox, 5).await.unwrap());
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn a_failure_in_the_middle_fails_the_listing() {
    let (_, sandbox) = org_sandbox(12).await;
    sandbox.fail_at_page(Endpoint::PersonDetails, 2, 500);
    let err = list(&sandbox, 5).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().starts_with("person-details page 2: ukg failed with HTTP 500"), "{err}");
    assert_eq!(sandbox.requests(Endpoint::PersonDetails), 1 + 5, "page 1, then page 2 and its 4 retries");
}

#[tokio::test]
async fn a_failing_first_person_page_fetched_beside_the_last_employment_page_fails_the_listing() {
    let (_, sandbox) = org_sandbox(12).await;
    sandbox.fail_at_page(Endpoint::PersonDetails, 1, 500);
    let err = list(&sandbox, 5).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().starts_with("person-details page 1: ukg failed with HTTP 500"), "{err}");
    assert_eq!(sandbox.requests(Endpoint::EmploymentDetails), 3, "employment-details was read to its end");
    assert_eq!(sandbox.requests(Endpoint::PersonDetails), 5, "page 1 and its 4 retries");
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_naming_it() {
    let (_, sandbox) = org_sandbox(3).await;
    let mut creds = sandbox.credentials();
    creds["password"] = json!("Wrong-Password-9931");
    let connector = connect_with(&creds, &ctx());

    let err = collect_users(&*connector).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(err.to_string().contains("ukg refused the credentials: check Account User Name"), "{err}");
    let report = connector.check().await;
    let text = format!("{err:?} {report:?} {err} {}", report_text(&report));
    assert!(!text.contains("Wrong-Password-9931") && !text.contains(sandbox::PASSWORD), "{text}");
    assert!(report_text(&report).contains("not a missing permission"), "{}", report_text(&report));
    // The listing stopped at employment-details, its first call; the check asked each endpoint once.
    assert_eq!(sandbox.requests(Endpoint::EmploymentDetails), 1 + 1, "a refusal is not retried");
    assert_eq!(sandbox.requests(Endpoint::PersonDetails), 1);
}

fn report_text(report: &roster_core::CheckReport) -> String {
    report
        .probes
        .iter()
        .map(|p| match &p.result {
            Ok(ok) => format!("{}: ok: {ok}", p.name),
            Err(e) => format!("{}: {}: {e}", p.name, e.kind()),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn check_is_all_green_with_both_permissions() {
    let (_, sandbox) = org_sandbox(3).await;
    let report = connect_with(&sandbox.credentials(), &ctx()).check().await;
    // The sandbox refuses any request that carries the User API key: green means it was not sent.
    assert!(report.is_ok(), "{}", report_text(&report));
    let probes: Vec<_> = report.probes.iter().map(|p| (p.name.as_str(), p.requires.as_str())).collect();
    assert_eq!(
        probes,
        [
            ("person-details", r#"Web Service permission "Employee Person Details" (View)"#),
            ("employment-details", r#"Web Service permission "Personnel Integration" (View)"#),
        ]
    );
}

#[tokio::test]
async fn check_names_the_missing_permission() {
    let (_, sandbox) = org_sandbox(3).await;
    let connector = connect_with(&sandbox.credentials(), &ctx());

    sandbox.revoke(Endpoint::EmploymentDetails);
    let report = connector.check().await;
    assert!(report.probes[0].result.is_ok());
    let err = report.probes[1].result.as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains(r#""Personnel Integration" (View)"#), "{err}");
    assert!(err.to_string().contains("Service Account Administration"), "{err}");
    let listing = collect_users(&*connector).await.unwrap_err();
    assert!(listing.to_string().contains("Personnel Integration"), "{listing}");

    sandbox.grant(Endpoint::EmploymentDetails);
    sandbox.revoke(Endpoint::PersonDetails);
    let report = connector.check().await;
    let err = report.probes[0].result.as_ref().unwrap_err();
    assert!(err.to_string().contains(r#""Employee Person Details" (View)"#), "{err}");
    assert!(report.probes[1].result.is_ok());

    // A 401 from one endpoint while the other answers is a permission too.
    sandbox.grant(Endpoint::PersonDetails);
    sandbox.fail_next(Endpoint::PersonDetails, 401, 1, None);
    let report = connector.check().await;
    let err = report.probes[0].result.as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("Employee Person Details"), "{err}");

    // 403 from both: the credentials or both permissions.
    sandbox.revoke(Endpoint::PersonDetails);
    sandbox.revoke(Endpoint::EmploymentDetails);
    let text = report_text(&connector.check().await);
    for needle in ["credentials are wrong", "Employee Person Details", "Personnel Integration"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[tokio::test]
async fn check_reports_other_failures_as_they_are() {
    let (_, sandbox) = org_sandbox(3).await;
    sandbox.fail_next(Endpoint::EmploymentDetails, 404, 1, None);
    let report = connect_with(&sandbox.credentials(), &ctx()).check().await;
    assert!(report.probes[0].result.is_ok());
    let err = report.probes[1].result.as_ref().unwrap_err();
    assert!(err.kind() == ErrorKind::NotFound && err.to_string().contains("API Host URL"), "{err}");

    // Nothing listens on the sandbox's port once it is dropped.
    let creds = sandbox.credentials();
    drop(sandbox);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let report = connect_with(&creds, &ctx()).check().await;
    for probe in &report.probes {
        let err = probe.result.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
        assert!(err.to_string().contains("refused the connection"), "{err}");
    }
}

#[tokio::test]
async fn a_repeating_page_is_an_invalid_response() {
    let (_, sandbox) = org_sandbox(10).await;
    sandbox.repeat_pages(Endpoint::EmploymentDetails);
    let err = list(&sandbox, 2).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("employment-details: page 2 repeats"), "{err}");
}

#[tokio::test]
async fn pages_are_bounded() {
    let (_, sandbox) = org_sandbox(10).await;
    let mut ctx = ctx();
    ctx.http.max_pages = 3;
    let err = collect_users(&*connect_with(&credentials(&sandbox, 2), &ctx)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("more than 3 pages"), "{err}");
}

#[tokio::test]
async fn a_body_that_is_not_rows_is_an_invalid_response() {
    let (_, sandbox) = org_sandbox(3).await;
    sandbox.set_rows(Endpoint::PersonDetails, vec![json!("900-00-1234")]);
    let err = list(&sandbox, 5).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().starts_with("person-details page 1: the answer is not a JSON array"), "{err}");
    assert!(!err.to_string().contains("900-00-1234"), "the body is never quoted: {err}");
}

#[tokio::test]
async fn sandbox_pii_appears_nowhere_in_the_output() {
    let (org, sandbox) = org_sandbox(60).await;
    let users = list(&sandbox, 25).await.unwrap();
    let output = format!("{}{users:?}", serde_json::to_string(&users).unwrap());
    let tenant = Tenant::from_org(&org);
    let mut checked = 0;
    for row in &tenant.person_details {
        for key in ["ssn", "birthDate", "addressLine1"] {
            let value = row[key].as_str().unwrap();
            assert!(!output.contains(value), "{key} `{value}` leaked");
            checked += 1;
        }
    }
    assert_eq!(checked, 180);
}

#[tokio::test]
async fn bad_credentials_report_every_problem_without_values() {
    let sandbox = Sandbox::start(Tenant::default()).await.unwrap();
    let descriptor = find_connector(ID).unwrap();

    // Inline values: the schema finds everything at once.
    let creds = json!({
        "password": "Inline-Secret-551", "customer_api_key": "TOOLONG99", "user_api_key": "short-key",
        "api_host": sandbox.base_url(), "colour": "blue"
    });
    let text = descriptor.connect(&creds, &ctx()).err().unwrap().to_string();
    for needle in ["missing required key `username`", "`customer_api_key`", "`user_api_key`", "unknown key `colour`"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    for secret in ["Inline-Secret-551", "TOOLONG99", "short-key"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    // Values from the environment: checked once resolved, still without values.
    let scope = SecretScope {
        base_dir: std::env::temp_dir(),
        env: Some(
            [("UKG_CK", "AB1"), ("UKG_UK", "ABCDEFGHIJKL-X"), ("UKG_PW", "pw")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
        ),
    };
    let creds = json!({
        "username": "svc", "password": { "env": "UKG_PW" }, "customer_api_key": { "env": "UKG_CK" },
        "user_api_key": { "env": "UKG_UK" }, "api_host": "http://ukg.example.com", "page_size": 0
    });
    let err = scope.enter(|| descriptor.connect(&creds, &ctx())).err().unwrap();
    let paths: Vec<_> = err.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["page_size"], "the schema speaks first: {err}");
    let creds = json!({
        "username": "svc", "password": { "env": "UKG_PW" }, "customer_api_key": { "env": "UKG_CK" },
        "user_api_key": { "env": "UKG_UK" }, "api_host": "http://ukg.example.com"
    });
    let err = scope.enter(|| descriptor.connect(&creds, &ctx())).err().unwrap();
    let paths: Vec<_> = err.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["customer_api_key", "user_api_key", "api_host"], "{err}");
    let text = err.to_string();
    assert!(text.contains("`UKG_CK`") && text.contains("requires HTTPS"), "{text}");
    assert!(!text.contains("AB1\"") && !text.contains("ABCDEFGHIJKL"), "values leak: {text}");
}

#[tokio::test]
async fn the_registry_hook_serves_an_org() {
    let org = std::sync::Arc::new(Org::generate(30, 5, today()));
    let serve = find_connector(ID).unwrap().sandbox.unwrap();
    let running = serve(SandboxRequest { org: org.clone(), port: 0 }).await.unwrap();
    assert!(running.connection_toml.starts_with("connector = \"ukg-pro\"\n"), "{}", running.connection_toml);
    assert!(running.connection_toml.contains(&format!("api_host = \"{}\"", running.base_url)));
    assert!(running.connection_toml.contains("Sandbox-only credentials"));
    let creds = json!({
        "username": sandbox::USERNAME, "password": sandbox::PASSWORD, "customer_api_key": sandbox::CUSTOMER_API_KEY,
        "user_api_key": sandbox::USER_API_KEY, "api_host": format!("{}/services/EmployeePerson", running.base_url)
    });
    let users = collect_users(&*connect_with(&creds, &ctx())).await.unwrap();
    assert_matches_org(&org, &users);
}

#[tokio::test]
async fn recorded_payloads_list_over_http_as_they_map() {
    let options = roster_ukg_pro::mapping::MapOptions { today: today(), department_org_level: 1 };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let rows = |key: &str| raw[key].as_array().unwrap().clone();
        let expected = roster_ukg_pro::mapping::map_all(
            serde_json::from_value(raw["person_details"].clone()).unwrap(),
            serde_json::from_value(raw["employment_details"].clone()).unwrap(),
            options,
        )
        .unwrap();
        let sandbox =
            Sandbox::start(Tenant::from_rows(rows("person_details"), rows("employment_details"))).await.unwrap();
        sandbox.set_link_headers(false);
        assert_eq!(list(&sandbox, 2).await.unwrap(), expected, "{}", path.display());
    }
}
