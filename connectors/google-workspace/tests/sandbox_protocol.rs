//! The sandbox answers the way Google does when asked directly, and its registry hook serves a
//! working connection.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use roster_core::http::HttpOptions;
use roster_core::sandbox::{Org, SandboxRequest};
use roster_core::{ConnectContext, collect_users, find_connector};
use roster_google_workspace::sandbox::{CLIENT_EMAIL, Directory, PRIVATE_KEY_ID, PRIVATE_KEY_PEM, Sandbox};
use roster_google_workspace::{ID, SCOPE};
use serde_json::{Value, json};

const STRANGER_KEY_PEM: &str = include_str!("keys/stranger-key.pem");
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).expect("a valid date")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// A JWT bearer assertion with these claims, signed by `pem`.
fn assertion(pem: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(PRIVATE_KEY_ID.into());
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("an RSA key");
    jsonwebtoken::encode(&header, claims, &key).expect("signed")
}

fn claims(sandbox: &Sandbox) -> Value {
    json!({
        "iss": CLIENT_EMAIL,
        "sub": sandbox.directory().admin_email,
        "scope": SCOPE,
        "aud": sandbox.token_uri(),
        "iat": now(),
        "exp": now() + 3600,
    })
}

async fn token_answer(sandbox: &Sandbox, assertion: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(sandbox.token_uri())
        .form(&[("grant_type", GRANT_TYPE), ("assertion", assertion)])
        .send()
        .await
        .expect("the sandbox answers");
    (response.status().as_u16(), serde_json::from_slice(&response.bytes().await.expect("a body")).expect("JSON"))
}

async fn get(url: String, token: Option<&str>) -> (u16, Value) {
    let request = reqwest::Client::new().get(url);
    let request = match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    };
    let response = request.send().await.expect("the sandbox answers");
    (response.status().as_u16(), serde_json::from_slice(&response.bytes().await.expect("a body")).expect("JSON"))
}

#[tokio::test]
async fn the_token_endpoint_verifies_the_grant_like_google() {
    let sandbox = Sandbox::start(Directory::from_org(&Org::generate(5, 3, today()))).await.unwrap();
    let (status, body) = token_answer(&sandbox, &assertion(PRIVATE_KEY_PEM, &claims(&sandbox))).await;
    assert_eq!((status, &body["token_type"], &body["expires_in"]), (200, &json!("Bearer"), &json!(3600)));
    assert!(body["access_token"].as_str().unwrap().starts_with("ya29."));

    let refused = |mut claims: Value, field: &str, value: Value| {
        claims[field] = value;
        claims
    };
    let base = claims(&sandbox);
    for (claims, pem, error, description) in [
        (base.clone(), STRANGER_KEY_PEM, "invalid_grant", "Invalid JWT Signature."),
        (
            refused(base.clone(), "iss", json!("other@x.iam.gserviceaccount.com")),
            PRIVATE_KEY_PEM,
            "invalid_grant",
            "account not found",
        ),
        (
            refused(base.clone(), "aud", json!("https://oauth2.googleapis.com/token")),
            PRIVATE_KEY_PEM,
            "invalid_grant",
            "audience",
        ),
        (refused(base.clone(), "exp", json!(now() + 7200)), PRIVATE_KEY_PEM, "invalid_grant", "short-lived token"),
        (refused(base.clone(), "iat", json!(now() - 4000)), PRIVATE_KEY_PEM, "invalid_grant", "reasonable timeframe"),
        (
            refused(base.clone(), "sub", json!("ghost@acme.example")),
            PRIVATE_KEY_PEM,
            "invalid_grant",
            "Invalid email or User ID",
        ),
        (
            refused(
                base.clone(),
                "scope",
                json!(format!("{SCOPE} https://www.googleapis.com/auth/admin.directory.user")),
            ),
            PRIVATE_KEY_PEM,
            "unauthorized_client",
            "not authorized",
        ),
        (refused(base.clone(), "scope", json!("")), PRIVATE_KEY_PEM, "invalid_scope", "Empty or missing scope"),
    ] {
        let (status, body) = token_answer(&sandbox, &assertion(pem, &claims)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (if error == "unauthorized_client" { 401 } else { 400 }, Some(error)),
            "{claims}"
        );
        assert!(body["error_description"].as_str().unwrap().contains(description), "{body}");
    }
    sandbox.set_delegation(false);
    let (status, body) = token_answer(&sandbox, &assertion(PRIVATE_KEY_PEM, &base)).await;
    assert_eq!((status, &body["error"]), (401, &json!("unauthorized_client")));
}

#[tokio::test]
async fn users_list_speaks_the_directory_api() {
    let sandbox = Sandbox::start(Directory::from_org(&Org::generate(130, 3, today()))).await.unwrap();
    let base = format!("{}/admin/directory/v1/users", sandbox.base_url());
    let (status, body) = get(format!("{base}?customer=my_customer"), None).await;
    assert_eq!((status, &body["error"]["errors"][0]["reason"]), (401, &json!("authError")));
    assert_eq!(body["error"]["status"], json!("UNAUTHENTICATED"));

    let (_, token) = token_answer(&sandbox, &assertion(PRIVATE_KEY_PEM, &claims(&sandbox))).await;
    let token = token["access_token"].as_str();
    let (status, body) = get(format!("{base}?customer=my_customer"), token).await;
    assert_eq!((status, &body["kind"]), (200, &json!("admin#directory#users")));
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 100, "the default page holds 100");
    assert!(users.iter().all(|u| u.get("customSchemas").is_none()), "basic projection has no custom schemas");
    assert!(users.iter().all(|u| u.as_object().unwrap().values().all(|v| !v.is_null())), "absent, never null");
    let next = body["nextPageToken"].as_str().unwrap();

    let (_, body) =
        get(format!("{base}?customer=my_customer&projection=full&maxResults=100&pageToken={next}"), token).await;
    let rest = body["users"].as_array().unwrap();
    assert_eq!(rest.len(), sandbox.directory().users.len() - 100);
    assert!(body.get("nextPageToken").is_none(), "the last page has no token");

    let (_, body) = get(format!("{base}?customer=my_customer&projection=full&maxResults=500"), token).await;
    assert!(body["users"].as_array().unwrap().iter().any(|u| u.get("customSchemas").is_some()), "full has them");

    for (query, reason) in [
        ("", "badRequest"),
        ("customer=C0other00", "badRequest"),
        ("domain=fabrikam.example", "badRequest"),
        ("customer=my_customer&maxResults=501", "invalid"),
        ("customer=my_customer&maxResults=0", "invalid"),
        ("customer=my_customer&projection=everything", "invalid"),
        ("customer=my_customer&pageToken=forged", "badRequest"),
    ] {
        let (status, body) = get(format!("{base}?{query}"), token).await;
        assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (400, Some(reason)), "{query}");
    }

    sandbox.set_admin(false);
    let (status, body) = get(format!("{base}?customer=my_customer"), token).await;
    assert_eq!((status, &body["error"]["errors"][0]["reason"]), (403, &json!("forbidden")));
    assert_eq!(body["error"]["status"], json!("PERMISSION_DENIED"));
}

#[tokio::test]
async fn the_registry_hook_serves_a_working_connection() {
    let org = Arc::new(Org::generate(40, 5, today()));
    let serve = find_connector(ID).unwrap().sandbox.unwrap();
    let running = serve(SandboxRequest { org: Arc::clone(&org), port: 0 }).await.unwrap();
    let toml = &running.connection_toml;
    assert!(toml.starts_with("connector = \"google-workspace\"\n# Sandbox-only"), "{toml}");
    assert!(!toml.contains("BEGIN PRIVATE KEY"), "the key is in a file, not in the table: {toml}");

    // The table is flat `key = value` lines; read it without a TOML parser.
    let mut credentials = serde_json::Map::new();
    for line in toml.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line.split_once(" = ").unwrap();
        let value = match value.strip_prefix("{ file = ").and_then(|v| v.strip_suffix(" }")) {
            Some(path) => json!({ "file": serde_json::from_str::<String>(path).unwrap() }),
            None => json!(value.trim_matches('"')),
        };
        if key != "connector" {
            credentials.insert(key.to_owned(), value);
        }
    }
    let key_file = std::path::PathBuf::from(credentials["service_account_key"]["file"].as_str().unwrap());
    assert!(key_file.is_absolute() && key_file.starts_with(std::env::temp_dir()), "{}", key_file.display());
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    assert_eq!(written["type"], json!("service_account"));
    assert_eq!(written["token_uri"], json!(format!("{}/token", running.base_url)));

    let ctx = ConnectContext { today: today(), http: HttpOptions::fast(), ..ConnectContext::now() };
    let connector = find_connector(ID).unwrap().connect(&Value::Object(credentials), &ctx).unwrap();
    let users = collect_users(&*connector).await.unwrap();
    assert!(users.len() > 30 && users.len() <= org.people.len() + 1, "{}", users.len());
    assert!(connector.check().await.is_ok());

    running.shutdown.send(()).unwrap();
    for _ in 0..100 {
        if !key_file.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the key file {} outlived its sandbox", key_file.display());
}
