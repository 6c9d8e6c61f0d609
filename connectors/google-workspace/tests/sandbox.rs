//! The connector against its sandbox over real HTTP on loopback, connected the way an admin's
//! configuration is: through the registry, with schema validation.

use std::time::Duration;

use chrono::NaiveDate;
use roster_core::http::HttpOptions;
use roster_core::sandbox::Org;
use roster_core::{
    ConnectContext, Connector, ConnectorError, EmploymentStatus, ErrorKind, ManagerRef, PageSink, SourceUser,
    collect_users, find_connector,
};
use roster_google_workspace::ID;
use roster_google_workspace::sandbox::{CLIENT_ID, Directory, Endpoint, PRIVATE_KEY_PEM, Sandbox};
use serde_json::{Value, json};

/// A private key the sandbox has never seen (a second, unrelated test key).
const STRANGER_KEY_PEM: &str = include_str!("keys/stranger-key.pem");

/// More than two pages of 500, once the deleted leavers are gone.
const PEOPLE: usize = 1150;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).expect("a valid date")
}

async fn sandbox() -> Sandbox {
    Sandbox::start(Directory::from_org(&Org::generate(PEOPLE, 7, today()))).await.expect("the sandbox starts")
}

fn connect(credentials: &Value) -> Box<dyn Connector> {
    let ctx = ConnectContext { today: today(), http: HttpOptions::fast(), ..ConnectContext::now() };
    let connector = find_connector(ID).expect("google-workspace is registered");
    connector.connect(credentials, &ctx).expect("the credentials are valid")
}

fn with(sandbox: &Sandbox, key: &str, value: &str) -> Value {
    let mut credentials = sandbox.credentials();
    credentials[key] = json!(value);
    credentials
}

/// The sandbox's credentials with the key file's `private_key` replaced.
fn signed_by(sandbox: &Sandbox, pem: &str) -> Value {
    let mut key: Value = serde_json::from_str(&sandbox.service_account_key_json()).expect("the key file is JSON");
    key["private_key"] = json!(pem);
    with(sandbox, "service_account_key", &key.to_string())
}

/// Lists into a sink, returning the pages as they arrived and the listing's outcome.
async fn list_pages(connector: &dyn Connector) -> (Vec<Vec<SourceUser>>, Result<u64, ConnectorError>) {
    let (mut sink, mut rx) = PageSink::channel(8);
    let listing = async move { connector.list_users(&mut sink).await.map(|s| s.users) };
    let receiving = async {
        let mut pages = Vec::new();
        while let Some(page) = rx.recv().await {
            pages.push(page);
        }
        pages
    };
    let (result, pages) = tokio::join!(listing, receiving);
    (pages, result)
}

fn pages_of(sandbox: &Sandbox) -> u64 {
    sandbox.directory().users.len().div_ceil(500) as u64
}

/// Every text an error can show, checked for key material, tokens and assertions.
fn assert_no_secrets(texts: &str) {
    for line in PRIVATE_KEY_PEM.lines().chain(STRANGER_KEY_PEM.lines()).filter(|l| !l.starts_with("-----")) {
        assert!(!texts.contains(line), "key material leaks: {texts}");
    }
    assert!(!texts.contains("ya29."), "an access token leaks: {texts}");
    assert!(!texts.contains("eyJ"), "a signed assertion leaks: {texts}");
}

#[tokio::test]
async fn lists_every_page_with_one_cached_token() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    let (pages, result) = list_pages(&*connector).await;
    let total = sandbox.directory().users.len();
    assert_eq!(result.unwrap(), total as u64);
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [500, 500, total - 1000], "sent as they arrive");
    assert_eq!(sandbox.requests(Endpoint::Users), 3);
    assert_eq!(sandbox.requests(Endpoint::Token), 1, "one token for a multi-page listing");

    let users: Vec<SourceUser> = pages.into_iter().flatten().collect();
    let count = |s| users.iter().filter(|u| u.status == s).count();
    assert!(count(EmploymentStatus::Disabled) > 10);
    assert!(count(EmploymentStatus::Active) > 1000);
    assert_eq!(count(EmploymentStatus::Disabled) + count(EmploymentStatus::Active), total, "nothing unknown");
    assert!(users.iter().any(|u| u.raw_status.as_deref() == Some("archived")));
    assert!(users.iter().any(|u| u.raw_status.as_deref() == Some("suspended: ADMIN")));
    assert!(users.iter().all(|u| u.email.is_some() && u.problems.is_empty()));
    assert_eq!(users.iter().filter(|u| u.employee_id.is_some()).count(), total - 1, "all but the IT admin");
    assert!(users.iter().filter(|u| u.role.is_some() && u.department.is_some()).count() == total - 1);
    assert!(users.iter().any(|u| matches!(&u.manager, Some(ManagerRef::Email(e)) if e.ends_with("@acme.example"))));
    assert!(users.iter().any(|u| !u.aliases.is_empty()));

    // A second listing reuses the token.
    assert_eq!(collect_users(&*connector).await.unwrap().len(), total);
    assert_eq!(sandbox.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn renews_the_token_once_when_it_dies_mid_listing() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.expire_tokens_at_page(2);
    let users = collect_users(&*connector).await.unwrap();
    assert_eq!(users.len(), sandbox.directory().users.len());
    assert_eq!(sandbox.requests(Endpoint::Token), 2);
    assert_eq!(sandbox.requests(Endpoint::Users), pages_of(&sandbox) + 1, "page 2 was asked twice");
}

#[tokio::test]
async fn a_second_401_fails_the_listing() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.fail_next(Endpoint::Users, 401, 2);
    let err = collect_users(&*connector).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(err.message().contains("google refused the access token (authError"), "{err}");
    assert_eq!((sandbox.requests(Endpoint::Token), sandbox.requests(Endpoint::Users)), (2, 2));
}

#[tokio::test]
async fn a_token_is_renewed_before_it_runs_out() {
    let sandbox = sandbox().await;
    sandbox.set_token_lifetime(Duration::from_secs(1));
    let connector = connect(&sandbox.credentials());
    collect_users(&*connector).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    collect_users(&*connector).await.unwrap();
    assert_eq!(sandbox.requests(Endpoint::Token), 2);
    assert_eq!(sandbox.requests(Endpoint::Users), 2 * pages_of(&sandbox), "no 401 on the way");
}

/// Checks and lists with credentials the token endpoint refuses, returning the kind and the
/// texts seen.
async fn refused(sandbox: &Sandbox, credentials: &Value) -> (ErrorKind, String) {
    let connector = connect(credentials);
    let report = connector.check().await;
    assert!(!report.is_ok());
    let token = report.probes[0].result.as_ref().expect_err("the token probe fails");
    let users = report.probes[1].result.as_ref().expect_err("the users probe is skipped");
    assert!(users.message().contains("not probed"), "{users}");
    let listed = collect_users(&*connector).await.expect_err("the listing fails");
    assert_eq!((listed.kind(), listed.to_string()), (token.kind(), token.to_string()));
    assert!(!token.is_retryable());
    assert_eq!(sandbox.requests(Endpoint::Users), 0);
    assert_eq!(sandbox.requests(Endpoint::Token), 2, "one per attempt, never retried");
    assert_no_secrets(&format!("{token:?} {token} {users:?} {listed} {listed:?} {report:?}"));
    (token.kind(), token.to_string())
}

#[tokio::test]
async fn a_key_the_sandbox_does_not_know_is_invalid_grant() {
    let sandbox = sandbox().await;
    let (kind, text) = refused(&sandbox, &signed_by(&sandbox, STRANGER_KEY_PEM)).await;
    assert_eq!(kind, ErrorKind::Unauthenticated);
    assert!(text.contains("(invalid_grant: Invalid JWT Signature.)"), "{text}");
    assert!(text.contains("check service_account_key"), "{text}");
    assert!(text.starts_with("requesting an access token for roster-sandbox@"), "{text}");
}

#[tokio::test]
async fn revoked_delegation_is_unauthorized_client_naming_the_client_id() {
    let sandbox = sandbox().await;
    sandbox.set_delegation(false);
    let (kind, text) = refused(&sandbox, &sandbox.credentials()).await;
    assert_eq!(kind, ErrorKind::PermissionDenied);
    assert!(text.contains(&format!("(client ID {CLIENT_ID})")), "{text}");
    assert!(text.contains("not authorised for domain-wide delegation"), "{text}");
    assert!(text.contains("Admin console > Security > API controls > Domain-wide delegation"), "{text}");
    assert!(text.contains("admin.directory.user.readonly"), "{text}");
}

#[tokio::test]
async fn an_unknown_admin_email_is_invalid_grant_naming_admin_email() {
    let sandbox = sandbox().await;
    let (kind, text) = refused(&sandbox, &with(&sandbox, "admin_email", "nobody@acme.example")).await;
    assert_eq!(kind, ErrorKind::Unauthenticated);
    assert!(text.contains("Invalid email or User ID") && text.contains("check admin_email"), "{text}");
}

#[tokio::test]
async fn an_admin_who_is_not_an_admin_is_permission_denied_and_not_retried() {
    let sandbox = sandbox().await;
    sandbox.set_admin(false);
    let connector = connect(&sandbox.credentials());
    let report = connector.check().await;
    assert!(report.probes[0].result.is_ok(), "the token is still issued");
    let probe = &report.probes[1];
    assert_eq!(probe.name, "users.list");
    assert!(probe.requires.contains("Users > Read"), "{}", probe.requires);
    let err = probe.result.as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(sandbox.requests(Endpoint::Users), 1);

    let err = collect_users(&*connector).await.unwrap_err();
    assert_eq!((err.kind(), err.is_retryable()), (ErrorKind::PermissionDenied, false));
    assert_eq!(sandbox.requests(Endpoint::Users), 2, "a final answer is not retried");
    let text = err.to_string();
    assert!(text.starts_with("GET /admin/directory/v1/users page 1 (customer=my_customer): "), "{text}");
    assert!(text.contains("(forbidden: Not Authorized to access this resource/api)"), "{text}");
    assert!(text.contains("admin_email is not an admin") && text.contains("Admin roles"), "{text}");

    sandbox.set_admin(true);
    assert!(connector.check().await.is_ok());
}

#[tokio::test]
async fn throttling_is_retried_until_it_passes() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.fail_next_with_reason(Endpoint::Users, 403, "userRateLimitExceeded", 2);
    assert_eq!(collect_users(&*connector).await.unwrap().len(), sandbox.directory().users.len());
    assert_eq!(sandbox.requests(Endpoint::Users), pages_of(&sandbox) + 2);

    sandbox.fail_next_with_reason(Endpoint::Users, 403, "quotaExceeded", 1);
    collect_users(&*connector).await.unwrap();
    sandbox.fail_next(Endpoint::Users, 429, 1);
    collect_users(&*connector).await.unwrap();
    assert_eq!(sandbox.requests(Endpoint::Users), 3 * pages_of(&sandbox) + 4);
    assert_eq!(sandbox.requests(Endpoint::Token), 1);
}

#[tokio::test]
async fn outages_are_retried_until_they_pass() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.fail_next(Endpoint::Token, 503, 1);
    sandbox.fail_next(Endpoint::Users, 503, 2);
    assert_eq!(collect_users(&*connector).await.unwrap().len(), sandbox.directory().users.len());
    assert_eq!(sandbox.requests(Endpoint::Users), pages_of(&sandbox) + 2);
    assert_eq!(sandbox.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn a_failing_page_fails_the_listing() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.fail_page(Some((2, 500)));
    let (pages, result) = list_pages(&*connector).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().starts_with("GET /admin/directory/v1/users page 2 (customer=my_customer): "), "{err}");
    assert_eq!(pages.len(), 1, "page 1 was sent before page 2 failed; the caller discards it");
    let retries = u64::try_from(HttpOptions::fast().max_retries).unwrap();
    assert_eq!(sandbox.requests(Endpoint::Users), 1 + 1 + retries);
}

#[tokio::test]
async fn a_repeating_page_token_is_an_invalid_response() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.repeat_page_token(true);
    let err = collect_users(&*connector).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.message().contains("same next-page cursor twice"), "{err}");
    assert_eq!(sandbox.requests(Endpoint::Users), 2);
}

fn person(id: &str, email: &str) -> Value {
    json!({ "id": id, "primaryEmail": email, "name": { "fullName": email }, "suspended": false })
}

#[tokio::test]
async fn a_domain_instead_of_the_customer() {
    let users = vec![
        person("100000000000000000011", "ines@contoso.example"),
        person("100000000000000000012", "kenji@contoso-labs.example"),
        person("100000000000000000013", "leila@contoso-labs.example"),
    ];
    let directory =
        Directory::new("contoso.example", users).with_domain("contoso-labs.example").with_domain("empty.example");
    let sandbox = Sandbox::start(directory).await.unwrap();

    let all = collect_users(&*connect(&sandbox.credentials())).await.unwrap();
    assert_eq!(all.len(), 4, "the customer lists every domain, admin included");
    let labs = collect_users(&*connect(&with(&sandbox, "domain", "contoso-labs.example"))).await.unwrap();
    let emails: Vec<_> = labs.iter().filter_map(|u| u.email.as_deref()).collect();
    assert_eq!(emails, ["kenji@contoso-labs.example", "leila@contoso-labs.example"]);

    let connector = connect(&with(&sandbox, "domain", "empty.example"));
    let (pages, result) = list_pages(&*connector).await;
    assert_eq!((pages.len(), result.expect("an empty page is a complete listing")), (0, 0));

    let err = collect_users(&*connect(&with(&sandbox, "domain", "fabrikam.example"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(err.message().contains("(domain=fabrikam.example)") && err.message().contains("check `domain`"), "{err}");
    let err = collect_users(&*connect(&with(&sandbox, "customer", "C0wrong00"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(err.message().contains("check `customer`"), "{err}");
}

#[tokio::test]
async fn no_key_material_or_token_in_any_error_or_debug() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    collect_users(&*connector).await.unwrap();
    let mut texts = Vec::new();
    sandbox.fail_next(Endpoint::Users, 401, 2);
    let err = collect_users(&*connector).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    sandbox.fail_next_with_reason(Endpoint::Users, 403, "insufficientPermissions", 1);
    let err = collect_users(&*connector).await.unwrap_err();
    assert!(err.message().contains("lacks the scope"), "{err}");
    texts.push(format!("{err} {err:?} {:?}", connector.check().await));
    sandbox.set_delegation(false);
    sandbox.expire_tokens();
    let err = collect_users(&*connector).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    assert_no_secrets(&texts.join(" "));
}
