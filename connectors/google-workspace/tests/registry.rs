//! The connector as the host finds it: registration, capabilities, the credentials schema, and
//! what an admin sees for a wrong configuration.

use roster_core::credentials::{parse, secret_properties, unmarked_secret_like_properties};
use roster_core::{ConnectContext, SecretScope, find_connector};
use roster_google_workspace::sandbox::PRIVATE_KEY_PEM;
use roster_google_workspace::{GoogleWorkspaceCredentials, ID};
use serde_json::{Value, json};

/// A line of the sandbox key's base64 body: if it shows up anywhere, the key leaked.
fn key_fragment() -> &'static str {
    PRIVATE_KEY_PEM.lines().nth(5).expect("the key has a body")
}

fn key_json() -> String {
    json!({
        "type": "service_account",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": PRIVATE_KEY_PEM,
        "client_email": "roster@acme-project.iam.gserviceaccount.com",
        "client_id": "100000000000000000042",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
    .to_string()
}

#[test]
fn registered_with_its_capabilities() {
    let d = find_connector(ID).unwrap();
    assert_eq!((d.id, d.display_name), ("google-workspace", "Google Workspace"));
    let c = d.capabilities;
    assert!(c.lifecycle_source);
    assert!(!c.reports_terminated && !c.effective_dates && !c.incremental_sync);
    assert!(d.sandbox.is_some());
}

#[test]
fn schema_marks_the_key_and_documents_every_field() {
    let schema = find_connector(ID).unwrap().credentials_schema();
    assert_eq!(secret_properties(&schema), ["service_account_key"]);
    assert!(unmarked_secret_like_properties(&schema).is_empty());
    let props = schema.get("properties").unwrap().as_object().unwrap();
    for (key, title) in [
        ("service_account_key", "Service account key (JSON)"),
        ("admin_email", "Admin email to impersonate"),
        ("customer", "Customer ID"),
        ("domain", "Domain"),
        ("api_base_url", "Admin SDK API base URL"),
    ] {
        assert_eq!(props[key]["title"], json!(title), "{key}");
    }
    assert_eq!(props.len(), 5);
    assert!(props.values().all(|p| p["description"].as_str().is_some_and(|d| d.len() > 20)));
    assert_eq!(props["customer"]["default"], json!("my_customer"));
    assert_eq!(props["api_base_url"]["default"], json!("https://admin.googleapis.com"));
    assert_eq!(schema.get("required").unwrap(), &json!(["service_account_key", "admin_email"]));
}

#[test]
fn a_wrong_configuration_reports_every_problem_without_the_key() {
    let ctx = ConnectContext::now();
    let connect = |raw: Value| find_connector(ID).unwrap().connect(&raw, &ctx).map(|_| ()).unwrap_err().to_string();

    let text = connect(json!({ "service_account_key": "google-key.json", "admin": "x" }));
    assert!(text.contains("missing required key `admin_email`"), "{text}");
    assert!(text.contains("unknown key `admin`"), "{text}");
    assert!(text.contains("`service_account_key`: does not match the expected format"), "{text}");

    let mut broken: Value = serde_json::from_str(&key_json()).unwrap();
    broken["private_key"] = PRIVATE_KEY_PEM.replace("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY").into();
    let text = connect(json!({
        "service_account_key": broken.to_string(),
        "admin_email": "admin@acme.example",
        "customer": "my_customer",
        "domain": "acme.example",
        "api_base_url": "http://admin.googleapis.com",
    }));
    assert!(text.contains("`service_account_key`: the key file's `private_key` is in PKCS#1 form"), "{text}");
    assert!(text.contains("`domain`: `customer` and `domain` are both set"), "{text}");
    assert!(text.contains("`api_base_url`: `http://admin.googleapis.com` uses plain HTTP"), "{text}");
    assert!(!text.contains(key_fragment()), "{text}");
}

#[test]
fn the_key_is_read_from_a_file_and_never_shown() {
    let dir = std::env::temp_dir().join(format!("roster-gw-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("google-key.json"), key_json()).unwrap();
    let raw = json!({ "service_account_key": { "file": "google-key.json" }, "admin_email": "admin@acme.example" });
    let creds: GoogleWorkspaceCredentials = SecretScope::new(&dir).enter(|| parse(&raw)).unwrap();
    let debug = format!("{creds:?}");
    assert!(!debug.contains(key_fragment()) && !debug.contains("BEGIN PRIVATE KEY"), "{debug}");
    let connected = SecretScope::new(&dir).enter(|| find_connector(ID).unwrap().connect(&raw, &ConnectContext::now()));
    assert!(connected.is_ok(), "the key file is read and checked");
    std::fs::remove_dir_all(&dir).ok();
}
