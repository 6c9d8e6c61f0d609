use std::path::Path;

use roster_core::{Capabilities, ConnectContext, Connector, ConnectorDescriptor, ConnectorKind, CredentialsError};

use super::*;

/// A connector that cannot be a lifecycle source, like an application directory would be.
struct Directory;

/// No settings.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoSettings {}

impl ConnectorKind for Directory {
    const ID: &'static str = "directory";
    const DISPLAY_NAME: &'static str = "Test Directory";
    const DESCRIPTION: &'static str = "Accounts of an application, never a source of truth.";
    const CAPABILITIES: Capabilities = Capabilities {
        lifecycle_source: false,
        reports_terminated: false,
        effective_dates: false,
        incremental_sync: false,
    };
    type Credentials = NoSettings;

    fn connect(_: NoSettings, _: &ConnectContext) -> Result<Box<dyn Connector>, CredentialsError> {
        Err(CredentialsError::at("", "only its descriptor is under test"))
    }
}

static DIRECTORY: ConnectorDescriptor = ConnectorDescriptor::of::<Directory>();

fn written(names: &[(&str, Option<&'static ConnectorDescriptor>)]) -> Vec<Written> {
    names.iter().map(|(n, d)| Written { name: (*n).to_owned(), descriptor: *d }).collect()
}

fn problems(toml: &str, connections: &[Written]) -> Vec<String> {
    let table: toml::Table = toml.parse().unwrap();
    let config: LifecycleConfig =
        table.get("lifecycle").cloned().map_or_else(Default::default, |v| v.try_into().unwrap());
    let mut c = Collector::new(Path::new("roster.toml"), toml);
    lifecycle(&mut c, &config, connections);
    c.into_problems().iter().map(ToString::to_string).collect()
}

#[test]
fn a_source_must_be_a_connection_that_can_decide() {
    let toml = "[lifecycle]\nsources = [\n  \"hr\",\n  \"apps\",\n  \"hr\",\n  \"workday\",\n]\n";
    let got = problems(toml, &written(&[("hr", None), ("apps", Some(&DIRECTORY))]));
    assert_eq!(
        got,
        [
            "roster.toml:4: lifecycle.sources: `apps` is a Test Directory connection, which cannot be a lifecycle source of truth (see `roster connectors`)",
            "roster.toml:5: lifecycle.sources: `hr` is listed twice",
            "roster.toml:6: lifecycle.sources: `workday` is not a connection (configured connections: hr, apps)",
        ]
    );
}

#[test]
fn attributes_domains_and_match_keys_are_checked() {
    let toml = "[lifecycle]\nsources = [\"hr\"]\ndomains = [\"acme.com\", \"@acme.org\"]\nmatch_on = []\n\n[lifecycle.attributes]\nrole = [\"hr\", \"azur\"]\n";
    let got = problems(toml, &written(&[("hr", None), ("azure", None)]));
    assert_eq!(
        got,
        [
            "roster.toml:3: lifecycle.domains: `@acme.org` is not an email domain (write it like `acme.com`, without `@`)",
            "roster.toml:4: lifecycle.match_on: must name at least one key: \"email\" or \"employee_id\"",
            "roster.toml:7: lifecycle.attributes.role: `azur` is not a connection (did you mean `azure`?) (configured connections: hr, azure)",
        ]
    );
}

#[test]
fn no_sources_is_a_warning() {
    let got = problems("[connections.hr]\nconnector = \"x\"\n", &written(&[("hr", None)]));
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("roster.toml: warning: lifecycle: no sources of truth"), "{got:?}");
}

#[test]
fn unknown_keys_and_inline_secrets_follow_the_schema() {
    let schema = schemars::json_schema!({
        "additionalProperties": false,
        "properties": {
            "user": { "type": "string" },
            "password": { "writeOnly": true },
            "key": { "writeOnly": true },
            "oauth": { "properties": { "secret": { "writeOnly": true } } }
        }
    });
    let table: toml::Table =
        "user = \"u\"\npassword = \"inline\"\nkey = { env = \"K\" }\noauth = { secret = \"s\" }\ncolour = 1\n"
            .parse()
            .unwrap();
    assert_eq!(unknown_keys(schema.as_value(), &table), ["colour"]);
    assert_eq!(inline_secrets(&schema, &table), ["oauth.secret", "password"]);
    assert!(unknown_keys(&serde_json::json!({ "properties": {} }), &table).is_empty(), "open schemas take anything");
}

#[test]
fn suggestions_are_close_names_only() {
    assert_eq!(did_you_mean("lifecycel", ["connections", "lifecycle", "safety"]), " (did you mean `lifecycle`?)");
    assert_eq!(did_you_mean("ukg", ["entra-id", "ukg-pro"]), " (did you mean `ukg-pro`?)");
    assert_eq!(did_you_mean("workday", ["entra-id", "ukg-pro"]), "");
    assert_eq!(edit_distance("kitten", "sitting"), 3);
}
