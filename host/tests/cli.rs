//! The `roster` binary as an admin meets it: registered connectors, schemas, configuration errors
//! and exit codes. (Syncing vendor sandboxes end to end is in the workspace `tests/` crate; the
//! sync itself is unit-tested against fake connectors in `src/sync/tests.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;

use roster_core::connectors;
use roster_core::credentials::unmarked_secret_like_properties;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn roster(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("ROSTER_TEST_SECRET")
        .output()
        .expect("run roster");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// Linking a connector changes this snapshot: review it, then accept with
/// `INSTA_UPDATE=always cargo test -p roster-host --test cli` (or `cargo insta review`).
#[test]
fn every_connector_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    let out = roster(dir.path(), &["connectors", "--format", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let registered: Vec<_> = list
        .iter()
        .map(|c| serde_json::json!({ "id": c["id"], "name": c["name"], "capabilities": c["capabilities"] }))
        .collect();
    insta::assert_json_snapshot!("registered_connectors", registered);
}

#[test]
fn checked_in_schemas_match_the_code() {
    let mut expected = vec![(schemas_dir().join("roster.config.schema.json"), roster_host::config::schema::config())];
    for d in connectors() {
        expected.push((
            schemas_dir().join(format!("connectors/{}.credentials.schema.json", d.id)),
            roster_host::config::schema::credentials(d),
        ));
    }
    let update = std::env::var_os("ROSTER_UPDATE_SCHEMAS").is_some();
    let mut drifted = Vec::new();
    for (path, schema) in &expected {
        let text = roster_host::config::schema::to_text(schema);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &text).unwrap();
        } else if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
            drifted.push(path.display().to_string());
        }
    }
    // A schema file whose connector is no longer linked is drift too.
    for entry in std::fs::read_dir(schemas_dir().join("connectors")).unwrap() {
        let path = entry.unwrap().path();
        if !expected.iter().any(|(p, _)| *p == path) {
            drifted.push(format!("{} (no such connector is linked)", path.display()));
        }
    }
    assert!(
        drifted.is_empty(),
        "the checked-in schemas differ from the code: {drifted:?}\n\
         run `ROSTER_UPDATE_SCHEMAS=1 cargo test -p roster-host` (and delete schemas of connectors that are gone), \
         then review and commit the result"
    );
}

#[test]
fn schema_command_prints_the_checked_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let ukg = roster(dir.path(), &["schema", "ukg-pro"]);
    assert_eq!(ukg.code, Some(0), "{}", ukg.stderr);
    assert_eq!(
        ukg.stdout,
        std::fs::read_to_string(schemas_dir().join("connectors/ukg-pro.credentials.schema.json")).unwrap()
    );
    let config = roster(dir.path(), &["schema", "config"]);
    assert_eq!(config.stdout, std::fs::read_to_string(schemas_dir().join("roster.config.schema.json")).unwrap());
    let unknown = roster(dir.path(), &["schema", "workday"]);
    assert_eq!(unknown.code, Some(2));
    assert_eq!(
        unknown.stderr,
        "error: unknown connector `workday`; known connectors: entra-id, google-workspace, hr-file, ukg-pro, or `config`\n"
    );
}

#[test]
fn every_secret_is_marked_write_only() {
    for d in connectors() {
        let unmarked = unmarked_secret_like_properties(&d.credentials_schema());
        assert!(unmarked.is_empty(), "{}: secret-looking properties not marked writeOnly: {unmarked:?}", d.id);
    }
}

/// What an editor with the checked-in schema says about a configuration.
fn schema_errors(toml: &str) -> Vec<String> {
    let text = std::fs::read_to_string(schemas_dir().join("roster.config.schema.json")).expect("the checked-in schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let config: toml::Table = toml.parse().expect("the test configuration is TOML");
    let config = serde_json::to_value(config).expect("TOML converts to JSON");
    validator.iter_errors(&config).map(|e| format!("{}: {}", e.instance_path(), e.masked())).collect()
}

#[test]
fn the_config_schema_checks_each_connection_against_its_connector() {
    let valid = format!("{UKG}\n[lifecycle]\nsources = [\"ukg\"]\n\n[lifecycle.attributes]\nrole = [\"ukg\"]\n");
    assert_eq!(schema_errors(&valid), Vec::<String>::new());

    // A UKG key in an Entra connection, a bad UKG key format, an unknown connector, a typo.
    let wrong = format!(
        "{}\n[connections.azure]\nconnector = \"entra-id\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
         api_host = \"https://x\"\n\n[connections.hr]\nconnector = \"workday\"\n\n[lifecycle.attributes]\ntitle = [\"ukg\"]\n",
        UKG.replace("AB12C", "AB12")
    );
    let errors = schema_errors(&wrong);
    let at = |path: &str| errors.iter().any(|e| e.starts_with(path));
    assert!(at("/connections/azure"), "{errors:#?}");
    assert!(at("/connections/ukg/customer_api_key"), "{errors:#?}");
    assert!(at("/connections/hr/connector"), "{errors:#?}");
    assert!(at("/lifecycle/attributes"), "{errors:#?}");
    assert_eq!(errors.len(), 5, "{errors:#?}");
    assert!(errors.iter().all(|e| !e.contains("AB12")), "values stay out of messages: {errors:#?}");
}

/// What `roster validate` says about a config, with the temporary directory hidden.
fn validate(config: Option<&str>) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    if let Some(config) = config {
        std::fs::write(dir.path().join("roster.toml"), config).expect("write roster.toml");
    }
    let out = roster(dir.path(), &["validate"]);
    (out.code, out.stderr.replace(&dir.path().display().to_string(), "<dir>"))
}

const UKG: &str = r#"
[connections.ukg]
connector = "ukg-pro"
username = "roster-svc"
password = { env = "ROSTER_TEST_SECRET" }
customer_api_key = "AB12C"
user_api_key = "ABCDEF123456"
api_host = "https://service4.ultipro.com"
"#;

#[test]
fn config_errors_name_the_file_the_line_and_the_key() {
    let with_inline_password = UKG.replace("{ env = \"ROSTER_TEST_SECRET\" }", "\"pw\"");
    let cases: [(&str, Option<String>); 10] = [
        ("missing_file", None),
        (
            "syntax_error",
            Some("[connections.ukg\nconnector = \"ukg-pro\"\n\n[lifecycle]\nsources = [\"ukg\",\n".into()),
        ),
        ("unknown_top_level_key", Some(format!("{with_inline_password}\n[lifecycel]\nsources = [\"ukg\"]\n"))),
        (
            "unknown_key_in_connection",
            Some(
                with_inline_password.replace("api_host", "colour = \"blue\"\napi_hots")
                    + "\n[lifecycle]\nsources = [\"ukg\"]\n",
            ),
        ),
        ("unknown_connector", Some("[connections.hr]\nconnector = \"workday\"\n".into())),
        ("missing_env_var", Some(format!("{UKG}\n[lifecycle]\nsources = [\"ukg\"]\n"))),
        (
            "secret_file_missing",
            Some(UKG.replace("{ env = \"ROSTER_TEST_SECRET\" }", "{ file = \"secrets/ukg-password.txt\" }")),
        ),
        (
            "source_is_not_a_connection",
            Some(with_inline_password.clone() + "\n[lifecycle]\nsources = [\"ukg\", \"workday\"]\n"),
        ),
        (
            "several_problems_at_once",
            Some(
                UKG.replace("customer_api_key = \"AB12C\"", "customer_api_key = \"TOO-LONG-KEY\"")
                    + "\n[connections.Azure]\nconnector = \"entra\"\n"
                    + "\n[lifecycle]\nsources = [\"azure\"]\nmode = \"majority\"\nsorces = []\n\n[safety]\nmax_left_percent = 150\n",
            ),
        ),
        (
            "lifecycle_problems_at_once",
            Some(
                with_inline_password.clone()
                    + "\n[connections.azure]\nconnector = \"entra-id\"\ntenant_id = \"contoso.onmicrosoft.com\"\n\
                       client_id = \"00000000-0000-0000-0000-000000000000\"\nclient_secret = \"pw\"\n\
                       \n[connections.hr]\nconnector = \"workday\"\n\
                       \n[lifecycle]\nsources = [\"ukg\", \"workday\", \"ukg\"]\nmode = \"any-active\"\n\
                       domains = [\"acme.com\", \"ACME.com\", \"acme\"]\nmatch_on = [\"email\", \"email\"]\n\
                       \n[lifecycle.attributes]\nrole = [\"ukg\", \"azure\", \"hr\", \"bamboo\"]\ntitle = [\"ukg\"]\n\
                       \n[safety]\nmax_left_percent = -1\nmax_snapshot_drop_percent = \"20%\"\n",
            ),
        ),
    ];
    for (name, config) in cases {
        let (code, stderr) = validate(config.as_deref());
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(!stderr.contains("TOO-LONG-KEY") && !stderr.contains("\"pw\""), "{name}: a secret leaked: {stderr}");
        insta::assert_snapshot!(format!("config_error_{name}"), stderr);
    }
}

#[test]
fn a_valid_config_with_inline_secrets_passes_with_warnings() {
    let (code, stderr) = validate(Some(
        &(UKG.replace("{ env = \"ROSTER_TEST_SECRET\" }", "\"pw\"")
            + "\n[lifecycle]\nsources = [\"ukg\"]\ndomains = [\"ACME.com\"]\n"),
    ));
    assert_eq!(code, Some(0), "{stderr}");
    insta::assert_snapshot!("valid_config_with_inline_secrets", stderr);
}

#[test]
fn bad_usage_and_invalid_configs_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(roster(dir.path(), &["frobnicate"]).code, Some(2));
    assert_eq!(roster(dir.path(), &["users", "--format", "xml"]).code, Some(2));
    assert_eq!(roster(dir.path(), &["-v", "-q", "connectors"]).code, Some(2));
    for command in [&["sync"][..], &["check"], &["validate"]] {
        assert_eq!(roster(dir.path(), command).code, Some(2), "{command:?} without a configuration file");
    }
    std::fs::write(dir.path().join("roster.toml"), "[connections.ukg]\nconnector = \"ukg-pro\"\n").unwrap();
    for command in [&["sync"][..], &["check"]] {
        let out = roster(dir.path(), command);
        assert_eq!(out.code, Some(2), "{command:?} with an invalid configuration");
        assert!(out.stderr.contains("connections.ukg: missing required key `username`"), "{}", out.stderr);
    }
    assert!(!dir.path().join("roster.db").exists(), "an invalid configuration creates no database");

    std::fs::write(dir.path().join("roster.toml"), UKG.replace("{ env = \"ROSTER_TEST_SECRET\" }", "\"pw\"")).unwrap();
    let out = roster(dir.path(), &["sync", "workday", "ukg"]);
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr.lines().last(),
        Some("error: no connection named `workday` in roster.toml; configured connections: ukg")
    );
}

#[test]
fn users_before_any_sync_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = roster(dir.path(), &["users"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr, "error: no database at roster.db yet: run `roster sync` first\n");
    assert!(!dir.path().join("roster.db").exists(), "listing creates no database");
}
