//! The connector against its sandbox over real HTTP on loopback, connected the way an admin's
//! configuration is: through the registry, with schema validation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use roster_core::http::HttpOptions;
use roster_core::sandbox::{Org, SandboxRequest};
use roster_core::{
    ConnectContext, Connector, ConnectorError, EmploymentStatus, ErrorKind, PageSink, SourceUser, collect_users,
    find_connector,
};
use roster_entra_id::ID;
use roster_entra_id::sandbox::{CLIENT_SECRET, Endpoint, Sandbox, SandboxUser, Tenant};
use serde_json::{Value, json};

/// More than two pages of 999.
const PEOPLE: usize = 2100;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).expect("a valid date")
}

async fn sandbox() -> Sandbox {
    Sandbox::start(Tenant::from_org(&Org::generate(PEOPLE, 7, today()))).await.expect("the sandbox starts")
}

fn connect(credentials: &Value) -> Box<dyn Connector> {
    let ctx = ConnectContext { today: today(), http: HttpOptions::fast(), ..ConnectContext::now() };
    let connector = find_connector(ID).expect("entra-id is registered");
    connector.connect(credentials, &ctx).expect("the credentials are valid")
}

fn with(sandbox: &Sandbox, key: &str, value: &str) -> Value {
    let mut credentials = sandbox.credentials();
    credentials[key] = json!(value);
    credentials
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
    sandbox.tenant().users.len().div_ceil(999) as u64
}

#[tokio::test]
async fn lists_every_page_with_one_cached_token() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    let (pages, result) = list_pages(&*connector).await;
    let total = sandbox.tenant().users.len();
    assert_eq!(result.unwrap(), total as u64);
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [999, 999, total - 1998], "sent as they arrive");
    assert_eq!(sandbox.requests(Endpoint::Users), 3);
    assert_eq!(sandbox.requests(Endpoint::Token), 1, "one token for a multi-page listing");

    let users: Vec<SourceUser> = pages.into_iter().flatten().collect();
    let count = |s| users.iter().filter(|u| u.status == s).count();
    assert!(count(EmploymentStatus::Disabled) > 0);
    assert!(count(EmploymentStatus::PreHire) > 0);
    assert!(count(EmploymentStatus::Active) > 1500);
    assert_eq!(count(EmploymentStatus::Unknown), 0, "$select asks for accountEnabled");
    let guests: Vec<_> = users.iter().filter(|u| u.guest).collect();
    assert_eq!(guests.len(), 2);
    assert!(guests.iter().all(|g| g.email.as_deref().is_some_and(|e| !e.ends_with("@acme.example"))));
    assert!(users.iter().all(|u| u.email.is_some() && u.problems.is_empty()), "mail null falls back to the UPN");

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
    assert_eq!(users.len(), sandbox.tenant().users.len());
    assert_eq!(sandbox.requests(Endpoint::Token), 2);
    assert_eq!(sandbox.requests(Endpoint::Users), pages_of(&sandbox) + 1, "page 2 was retried once");
}

#[tokio::test]
async fn a_second_401_fails_the_listing() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.fail_next(Endpoint::Users, 401, 2, None);
    let err = collect_users(&*connector).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(err.message().contains("InvalidAuthenticationToken"), "{err}");
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

#[tokio::test]
async fn honours_retry_after_on_429() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.fail_next(Endpoint::Users, 429, 1, Some(1));
    let started = Instant::now();
    let users = collect_users(&*connector).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(users.len(), sandbox.tenant().users.len());
    assert_eq!(sandbox.requests(Endpoint::Users), pages_of(&sandbox) + 1);
}

#[tokio::test]
async fn retries_through_503() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.fail_next(Endpoint::Users, 503, 2, None);
    sandbox.fail_next(Endpoint::Token, 503, 1, None);
    assert_eq!(collect_users(&*connector).await.unwrap().len(), sandbox.tenant().users.len());
    assert_eq!(sandbox.requests(Endpoint::Users), pages_of(&sandbox) + 2);
    assert_eq!(sandbox.requests(Endpoint::Token), 2);
}

/// Checks and lists with one wrong setting, returning the kinds and texts seen.
async fn refused(sandbox: &Sandbox, credentials: &Value) -> (ErrorKind, String, String) {
    let connector = connect(credentials);
    let report = connector.check().await;
    assert!(!report.is_ok());
    let token = report.probes[0].result.as_ref().expect_err("the token probe fails");
    let users = report.probes[1].result.as_ref().expect_err("the users probe is skipped");
    assert!(users.message().contains("not probed"), "{users}");
    let listed = collect_users(&*connector).await.expect_err("the listing fails");
    assert_eq!(listed.kind(), token.kind());
    assert_eq!(sandbox.requests(Endpoint::Users), 0);
    let texts = format!("{token:?} {token} {users} {listed} {listed:?}");
    for secret in [CLIENT_SECRET, credentials["client_secret"].as_str().expect("an inline secret")] {
        assert!(!texts.contains(secret), "a secret leaks: {texts}");
    }
    (token.kind(), token.to_string(), listed.to_string())
}

#[tokio::test]
async fn wrong_secret_unknown_tenant_and_unknown_app_say_which_field() {
    let sandbox = sandbox().await;
    let (kind, check, list) = refused(&sandbox, &with(&sandbox, "client_secret", "Wrong8Q~secret.value")).await;
    assert_eq!(kind, ErrorKind::Unauthenticated);
    for text in [&check, &list] {
        assert!(text.contains("refused the client secret (AADSTS7000215") && text.contains("check client_secret"));
    }

    let (kind, check, list) = refused(&sandbox, &with(&sandbox, "tenant_id", "fabrikam.example")).await;
    assert_eq!(kind, ErrorKind::NotFound);
    for text in [&check, &list] {
        assert!(text.contains("does not know the tenant") && text.contains("check tenant_id"), "{text}");
    }

    let other_app = "99999999-8888-4777-8666-555555555555";
    let (kind, check, list) = refused(&sandbox, &with(&sandbox, "client_id", other_app)).await;
    assert_eq!(kind, ErrorKind::Unauthenticated);
    for text in [&check, &list] {
        assert!(text.contains("does not know the application") && text.contains("check client_id"), "{text}");
    }
}

#[tokio::test]
async fn a_rotated_secret_fails_the_renewal_with_the_secret_message() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    collect_users(&*connector).await.unwrap();
    sandbox.set_client_secret("Rotated8Q~new.secret.value");
    sandbox.expire_tokens();
    let err = collect_users(&*connector).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(err.message().contains("check client_secret"), "{err}");
}

#[tokio::test]
async fn check_names_the_missing_permission() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    let report = connector.check().await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.probes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["token", "users"]);

    sandbox.set_user_read_all(false);
    let report = connector.check().await;
    assert!(report.probes[0].result.is_ok());
    let users = &report.probes[1];
    assert!(users.requires.contains("User.Read.All"), "{}", users.requires);
    let err = users.result.as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.message().contains("grant the application permission User.Read.All with admin consent"), "{err}");
    assert!(err.message().contains("App registrations > your app > API permissions"), "{err}");
    let listed = collect_users(&*connector).await.unwrap_err();
    assert_eq!(listed.kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn a_failing_page_fails_the_listing() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.fail_page(Some((2, 500)));
    let (pages, result) = list_pages(&*connector).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().starts_with("GET /v1.0/users page 2: "), "{err}");
    assert_eq!(pages.len(), 1, "page 1 was sent before page 2 failed; the caller discards it");
    let retries = u64::try_from(HttpOptions::fast().max_retries).unwrap();
    assert_eq!(sandbox.requests(Endpoint::Users), 1 + 1 + retries);
}

#[tokio::test]
async fn a_repeating_next_link_is_an_invalid_response() {
    let sandbox = sandbox().await;
    let connector = connect(&sandbox.credentials());
    sandbox.repeat_next_link(true);
    let err = collect_users(&*connector).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.message().contains("same next-page cursor twice"), "{err}");
    assert_eq!(sandbox.requests(Endpoint::Users), 2);
}

/// The sandbox answers the way Graph does when asked directly.
#[tokio::test]
async fn the_sandbox_speaks_graph() {
    let sandbox = Sandbox::start(Tenant::from_org(&Org::generate(12, 3, today()))).await.unwrap();
    let base = sandbox.base_url();
    let http = reqwest::Client::new();
    let get = |url: String, token: Option<&str>| {
        let request = http.get(url);
        let request = match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).unwrap())
        }
    };
    let (status, body) = get(format!("{base}/v1.0/users"), None).await;
    assert_eq!((status, &body["error"]["code"]), (401, &json!("InvalidAuthenticationToken")));

    let creds = sandbox.credentials();
    let token = http
        .post(format!("{base}/{}/oauth2/v2.0/token", creds["tenant_id"].as_str().unwrap()))
        .form(&[
            ("client_id", creds["client_id"].as_str().unwrap()),
            ("client_secret", CLIENT_SECRET),
            ("scope", &format!("{base}/.default")),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token: Value = serde_json::from_slice(&token).unwrap();
    assert_eq!((&token["token_type"], &token["expires_in"]), (&json!("Bearer"), &json!(3599)));
    let token = token["access_token"].as_str();

    let (status, body) = get(format!("{base}/v1.0/users?$top=5"), token).await;
    assert_eq!(status, 200);
    assert_eq!(body["@odata.context"], json!(format!("{base}/v1.0/$metadata#users")));
    assert_eq!(body["value"].as_array().unwrap().len(), 5);
    let first = body["value"][0].as_object().unwrap();
    for omitted in ["accountEnabled", "department", "employeeId"] {
        assert!(!first.contains_key(omitted), "{omitted} without $select");
    }
    let next = body["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{base}/v1.0/users?$top=5&$skiptoken=")), "{next}");

    let (_, body) = get(format!("{base}/v1.0/users?$select=id,accountEnabled"), token).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 16, "the default page holds 100");
    assert_eq!(body["value"][0].as_object().unwrap().len(), 2);
    assert!(body.get("@odata.nextLink").is_none());

    for (query, code) in [
        ("$top=1000", "Request_UnsupportedQuery"),
        ("$filter=accountEnabled eq true", "Request_UnsupportedQuery"),
        ("$select=id,ssn", "Request_BadRequest"),
        ("$skiptoken=forged", "Request_BadRequest"),
    ] {
        let (status, body) = get(format!("{base}/v1.0/users?{query}"), token).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{query}");
    }
}

#[tokio::test]
async fn the_registry_hook_serves_a_working_connection() {
    let org = Arc::new(Org::generate(40, 5, today()));
    let serve = find_connector(ID).unwrap().sandbox.unwrap();
    let running = serve(SandboxRequest { org, port: 0 }).await.unwrap();
    assert!(running.connection_toml.starts_with("connector = \"entra-id\"\n"), "{}", running.connection_toml);
    // The table is flat `key = "value"` lines; read it without a TOML parser.
    let mut credentials = serde_json::Map::new();
    for line in running.connection_toml.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line.split_once(" = ").unwrap();
        if key != "connector" {
            credentials.insert(key.to_owned(), json!(value.trim_matches('"')));
        }
    }
    assert_eq!(credentials["graph_base_url"], json!(running.base_url));
    let users = collect_users(&*connect(&Value::Object(credentials))).await.unwrap();
    assert_eq!(users.len(), 44, "40 people, 2 guests, 2 contractors");
}

#[tokio::test]
async fn an_empty_directory_is_a_complete_empty_listing() {
    let sandbox = Sandbox::start(Tenant::new("contoso.example", Vec::new())).await.expect("the sandbox starts");
    let connector = connect(&with(&sandbox, "tenant_id", "contoso.example"));
    let (pages, result) = list_pages(&*connector).await;
    assert_eq!((pages.len(), result.expect("an empty page is a complete listing")), (0, 0));
    assert_eq!(sandbox.requests(Endpoint::Users), 1);
}

#[tokio::test]
async fn hand_built_users_map_like_recorded_ones() {
    let mut disabled = SandboxUser::member("2b0c6f3e-9d1a-4c7b-8e5f-0a1b2c3d4e5f", "ines@contoso.example");
    disabled.account_enabled = false;
    let mut no_mailbox = SandboxUser::member("3c1d7a4f-0e2b-4d8c-9f6a-1b2c3d4e5f6a", "kiosk@contoso.example");
    no_mailbox.mail = None;
    let sandbox = Sandbox::start(Tenant::new("contoso.example", vec![disabled, no_mailbox])).await.expect("starts");
    let users = collect_users(&*connect(&sandbox.credentials())).await.expect("lists");
    assert_eq!(users[0].status, EmploymentStatus::Disabled);
    assert_eq!(users[0].raw_status.as_deref(), Some("accountEnabled=false"));
    assert_eq!(users[1].email.as_deref(), Some("kiosk@contoso.example"));
}
