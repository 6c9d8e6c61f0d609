//! The connector as the host finds it: registration, capabilities, the credentials schema, and
//! what an admin sees for a wrong configuration.

use roster_core::credentials::{parse, secret_properties, unmarked_secret_like_properties};
use roster_core::{ConnectContext, find_connector};
use roster_entra_id::{EntraIdCredentials, ID};
use serde_json::json;

#[test]
fn registered_with_its_capabilities() {
    let d = find_connector(ID).unwrap();
    assert_eq!((d.id, d.display_name), ("entra-id", "Microsoft Entra ID"));
    let c = d.capabilities;
    assert!(c.lifecycle_source && c.effective_dates);
    assert!(!c.reports_terminated && !c.incremental_sync);
    assert!(d.sandbox.is_some());
}

#[test]
fn schema_marks_the_secret_and_documents_every_field() {
    let schema = find_connector(ID).unwrap().credentials_schema();
    assert_eq!(secret_properties(&schema), ["client_secret"]);
    assert!(unmarked_secret_like_properties(&schema).is_empty());
    let props = schema.get("properties").unwrap().as_object().unwrap();
    for (key, title) in [
        ("tenant_id", "Directory (tenant) ID"),
        ("client_id", "Application (client) ID"),
        ("client_secret", "Client secret value"),
        ("authority_host", "Authority host"),
        ("graph_base_url", "Microsoft Graph base URL"),
    ] {
        assert_eq!(props[key]["title"], json!(title), "{key}");
    }
    assert_eq!(props.len(), 5);
    assert!(props.values().all(|p| p["description"].as_str().is_some_and(|d| d.len() > 20)));
    assert_eq!(props["authority_host"]["default"], json!("https://login.microsoftonline.com"));
    assert_eq!(props["graph_base_url"]["default"], json!("https://graph.microsoft.com"));
    let required = schema.get("required").unwrap();
    assert_eq!(required, &json!(["tenant_id", "client_id", "client_secret"]));
}

#[test]
fn a_wrong_configuration_reports_every_problem_without_the_secret() {
    let ctx = ConnectContext::now();
    let connect = |raw| find_connector(ID).unwrap().connect(&raw, &ctx).map(|_| ()).unwrap_err().to_string();

    let text = connect(json!({ "client_id": "app", "client_secret": "Sup3r~secret", "tenant": "x" }));
    assert!(text.contains("missing required key `tenant_id`"), "{text}");
    assert!(text.contains("unknown key `tenant`"), "{text}");
    assert!(text.contains("`client_id`: does not match the expected format"), "{text}");
    assert!(!text.contains("Sup3r~secret"), "{text}");

    let text = connect(json!({
        "tenant_id": "common",
        "client_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "client_secret": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e",
        "graph_base_url": "http://graph.microsoft.com",
    }));
    assert!(text.contains("`tenant_id`: `common` is not a tenant"), "{text}");
    assert!(text.contains("`client_secret`: this looks like the secret's Secret ID"), "{text}");
    assert!(text.contains("`graph_base_url`: `http://graph.microsoft.com` uses plain HTTP"), "{text}");
    assert!(!text.contains("9e0f1a2b3c4e"), "{text}");
}

#[test]
fn debug_never_shows_the_secret() {
    let creds: EntraIdCredentials = parse(&json!({
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "client_secret": "Sup3r~secret.value",
    }))
    .unwrap();
    let debug = format!("{creds:?}");
    assert!(!debug.contains("Sup3r"), "{debug}");
    assert_eq!(creds.authority_host, "https://login.microsoftonline.com");
}
