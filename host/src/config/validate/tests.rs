use std::path::Path;

use async_trait::async_trait;
use roster_core::{
    Capabilities, CheckReport, ConnectContext, Connector, ConnectorDescriptor, ConnectorError, ConnectorKind,
    CredentialsError, ListSummary, PageSink, Secret, UnknownConnector, find_connector,
};

use super::*;
use crate::config::load::load_with;

/// A connector that cannot be a lifecycle source, like an application directory would be.
struct Directory;

/// The directory's settings: one secret, so that writing it inline can be warned about.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DirectorySettings {
    /// API token.
    #[expect(dead_code, reason = "only its presence is under test")]
    token: Secret,
}

/// A connection that lists nobody: these tests never reach a vendor.
struct Idle;

#[async_trait]
impl Connector for Idle {
    async fn check(&self) -> CheckReport {
        CheckReport::default()
    }

    async fn list_users(&self, _: &mut PageSink) -> Result<ListSummary, ConnectorError> {
        Ok(ListSummary { users: 0, requests: 0 })
    }
}

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
    type Credentials = DirectorySettings;

    fn connect(_: DirectorySettings, _: &ConnectContext) -> Result<Box<dyn Connector>, CredentialsError> {
        Ok(Box::new(Idle))
    }
}

static DIRECTORY: ConnectorDescriptor = ConnectorDescriptor::of::<Directory>();

/// The registry, plus the test directory (registering it with `inventory` would show it to
/// every other test of the crate).
fn lookup(id: &str) -> Result<&'static ConnectorDescriptor, UnknownConnector> {
    if id == DIRECTORY.id {
        return Ok(&DIRECTORY);
    }
    find_connector(id).map_err(|mut e| {
        e.known.push(DIRECTORY.id);
        e.known.sort_unstable();
        e
    })
}

/// Every problem `load` reports for `toml`, as `roster validate` prints them, with UKG keys in
/// files beside it (`customer-key.txt`, `user-key.txt`) and the directory hidden.
fn load_problems(toml: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customer-key.txt"), "AB12C").unwrap();
    std::fs::write(dir.path().join("user-key.txt"), "ABCDEF123456").unwrap();
    let path = dir.path().join("roster.toml");
    std::fs::write(&path, toml).unwrap();
    let problems = match load_with(&path, &lookup) {
        Ok(config) => config.warnings,
        Err(e) => e.problems,
    };
    let prefix = format!("{}/", dir.path().display());
    problems.iter().map(|p| p.to_string().replace(&prefix, "")).collect()
}

const UKG: &str = "[connections.ukg]\nconnector = \"ukg-pro\"\nusername = \"roster-svc\"\npassword = \"pw\"\n\
                   customer_api_key = { file = \"customer-key.txt\" }\nuser_api_key = { file = \"user-key.txt\" }\n\
                   api_host = \"https://service4.ultipro.com\"\n";

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

/// Every check `roster validate` makes beyond serde's, in one file, each at its own line:
/// nothing found early hides what comes after.
#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let toml = format!(
        r#"{UKG}
[connections.apps]
connector = "directory"
token = {{ file = "customer-key.txt" }}

[connections.hr]
connector = "workday"

[lifecycle]
sources = [
  "ukg",
  "apps",
  "ukg",
  "azure",
]
mode = "any-active"
domains = ["acme.com", "ACME.COM", "@acme.org"]
match_on = ["email", "employee_id", "email"]

[lifecycle.attributes]
role = ["ukg", "apps", "hr", "azure"]
manger = ["ukg"]
department = "ukg"
first_name = []

[safety]
max_left_percent = 150
max_snapshot_drop_percent = "twenty"
"#
    );
    assert_eq!(
        load_problems(&toml),
        [
            "roster.toml:14: connections.hr.connector: unknown connector `workday`; known connectors: directory, entra-id, google-workspace, hr-file, ukg-pro",
            "roster.toml:19: lifecycle.sources: `apps` is a Test Directory connection, which cannot be a lifecycle source of truth (see `roster connectors`)",
            "roster.toml:20: lifecycle.sources: `ukg` is listed twice",
            "roster.toml:21: lifecycle.sources: `azure` is not a connection (configured connections: ukg, apps, hr)",
            "roster.toml:24: lifecycle.domains: `@acme.org` is not an email domain (write it like `acme.com`, without `@`)",
            "roster.toml:25: lifecycle.match_on: `email` is listed twice",
            "roster.toml:28: lifecycle.attributes.role: `azure` is not a connection (configured connections: ukg, apps, hr)",
            "roster.toml:29: lifecycle.attributes.manger: unknown attribute `manger` (did you mean `manager`?); expected one of email, employee_id, first_name, last_name, display_name, role, department, manager",
            "roster.toml:30: lifecycle.attributes.department: expected a list of connection names, like department = [\"ukg\", \"azure\"]",
            "roster.toml:34: safety.max_left_percent: must be a percentage from 0 to 100, found 150",
            "roster.toml:35: safety.max_snapshot_drop_percent: must be a percentage from 0 to 100, found \"twenty\"",
            "roster.toml:4: warning: connections.ukg.password: secret written inline in the file; prefer { env = \"VARIABLE\" } or { file = \"path\" }",
            "roster.toml:24: warning: lifecycle.domains: `ACME.COM` is listed twice (domains ignore case)",
            "roster.toml:31: warning: lifecycle.attributes.first_name: lists no connections, so `first_name` follows `sources`; name connections or remove the line",
        ]
    );
}

#[test]
fn a_key_that_fails_is_reported_at_its_item_and_hides_nothing_else() {
    let toml = format!(
        "{UKG}\n[lifecycle]\nsources = [\"ukg\", 3]\nmatch_on = [\n  \"email\",\n  \"phone\",\n]\non_leave = \"sometimes\"\n\n\
         [lifecycle.attributes]\nrole = [\"ukg\", \"nobody\"]\nemail = 1\ndisplay_name = [\n  \"ukg\",\n  7,\n]\n\n[safety]\nmax_left_percent = 12.5\nmax_snapshot_drop_percent = nan\n"
    );
    assert_eq!(
        load_problems(&toml),
        [
            "roster.toml:10: lifecycle.sources: invalid type: integer `3`, expected a string",
            "roster.toml:13: lifecycle.match_on: unknown variant `phone`, expected `email` or `employee_id`",
            "roster.toml:15: lifecycle.on_leave: unknown variant `sometimes`, expected `current` or `past`",
            "roster.toml:18: lifecycle.attributes.role: `nobody` is not a connection (configured connections: ukg)",
            "roster.toml:19: lifecycle.attributes.email: expected a list of connection names, like email = [\"ukg\", \"azure\"]",
            "roster.toml:22: lifecycle.attributes.display_name: expected connection names, like display_name = [\"ukg\", \"azure\"]",
            "roster.toml:27: safety.max_snapshot_drop_percent: must be a percentage from 0 to 100, found nan",
            // No "no sources of truth" and no "match_on must name a key": those keys were wrong,
            // not absent.
            "roster.toml:4: warning: connections.ukg.password: secret written inline in the file; prefer { env = \"VARIABLE\" } or { file = \"path\" }",
        ]
    );
}

#[test]
fn a_valid_file_loads_with_its_thresholds() {
    let toml = format!(
        "{UKG}\n[connections.apps]\nconnector = \"directory\"\ntoken = {{ file = \"user-key.txt\" }}\n\n\
         [lifecycle]\nsources = [\"ukg\"]\n\n[lifecycle.attributes]\nrole = [\"apps\", \"ukg\"]\n\n\
         [safety]\nmax_left_percent = 0\nmax_snapshot_drop_percent = 100.0\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customer-key.txt"), "AB12C").unwrap();
    std::fs::write(dir.path().join("user-key.txt"), "ABCDEF123456").unwrap();
    std::fs::write(dir.path().join("roster.toml"), toml).unwrap();
    let config = load_with(&dir.path().join("roster.toml"), &lookup).unwrap();
    assert_eq!(config.connections.len(), 2);
    assert!((config.safety.max_left_percent - 0.0).abs() < f64::EPSILON);
    assert!((config.safety.max_snapshot_drop_percent - 100.0).abs() < f64::EPSILON);
    assert_eq!(config.warnings.len(), 1, "the inline password: {:?}", config.warnings);
}

#[test]
fn unchecked_connections_may_give_attributes() {
    // DESIGN.md's example: `azure` is configured but not a source of truth; it still ranks for `role`.
    let toml = "[lifecycle]\nsources = [\"ukg\"]\n\n[lifecycle.attributes]\nrole = [\"ukg\", \"azure\"]\n";
    let got = problems(toml, &written(&[("ukg", None), ("apps", Some(&DIRECTORY)), ("azure", None)]));
    assert_eq!(got, Vec::<String>::new(), "and no domains is no warning either");
    let apps = "[lifecycle]\nsources = [\"ukg\"]\n\n[lifecycle.attributes]\ndepartment = [\"apps\"]\n";
    let got = problems(apps, &written(&[("ukg", None), ("apps", Some(&DIRECTORY))]));
    assert_eq!(got, Vec::<String>::new(), "a connection that cannot decide can still give attributes");
}

#[test]
fn any_active_without_sources_is_the_same_single_warning() {
    let got = problems("[lifecycle]\nmode = \"any-active\"\nsources = []\n", &written(&[("hr", None)]));
    assert_eq!(
        got,
        [
            "roster.toml:3: warning: lifecycle.sources: no sources of truth: every person will be an orphan (`any-active` asks only the connections listed in `sources`); name them in [lifecycle] sources = [\"...\"]"
        ]
    );
}

#[test]
fn a_file_without_connections_says_so_once() {
    assert_eq!(
        problems("", &[]),
        [
            "roster.toml: warning: connections: nothing to sync: add a [connections.NAME] table for each system people come from (see `roster connectors`)"
        ]
    );
}
