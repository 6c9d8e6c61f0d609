//! The `roster` binary as an admin meets it: registered connectors, schemas, config errors and
//! exit codes. (Syncing real sandboxes is in the workspace `tests/` crate.)

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

#[test]
fn every_connector_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    let out = roster(dir.path(), &["connectors", "--format", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    insta::assert_json_snapshot!("registered_connectors", list);
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
    for (path, schema) in expected {
        let text = roster_host::config::schema::to_text(&schema);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            drifted.push(path.display().to_string());
        }
    }
    assert!(
        drifted.is_empty(),
        "generated schemas differ from the checked-in files: {drifted:?}\nrun `ROSTER_UPDATE_SCHEMAS=1 cargo test -p roster-host --test cli` and commit the result"
    );
}

#[test]
fn schema_command_prints_the_checked_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let ukg = roster(dir.path(), &["schema", "ukg-pro"]);
    assert_eq!(
        ukg.stdout,
        std::fs::read_to_string(schemas_dir().join("connectors/ukg-pro.credentials.schema.json")).unwrap()
    );
    let config = roster(dir.path(), &["schema", "config"]);
    assert_eq!(config.stdout, std::fs::read_to_string(schemas_dir().join("roster.config.schema.json")).unwrap());
    let unknown = roster(dir.path(), &["schema", "workday"]);
    assert_eq!(unknown.code, Some(2));
    assert!(
        unknown.stderr.contains("unknown connector `workday`; known connectors: entra-id, google-workspace, ukg-pro"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn every_secret_is_marked_write_only() {
    for d in connectors() {
        let unmarked = unmarked_secret_like_properties(&d.credentials_schema());
        assert!(unmarked.is_empty(), "{}: secret-looking properties not marked writeOnly: {unmarked:?}", d.id);
    }
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
    let cases: [(&str, Option<String>); 9] = [
        ("missing_file", None),
        ("syntax_error", Some("[connections.ukg\nconnector = \"ukg-pro\"\n".into())),
        ("unknown_top_level_key", Some(format!("{UKG}\n[lifecycel]\nsources = [\"ukg\"]\n"))),
        ("unknown_key_in_connection", Some(UKG.replace("api_host", "colour = \"blue\"\napi_host"))),
        ("unknown_connector", Some("[connections.hr]\nconnector = \"workday\"\n".into())),
        ("missing_env_var", Some(format!("{UKG}\n[lifecycle]\nsources = [\"ukg\"]\n"))),
        (
            "secret_file_missing",
            Some(UKG.replace("{ env = \"ROSTER_TEST_SECRET\" }", "{ file = \"secrets/ukg-password.txt\" }")),
        ),
        (
            "source_is_not_a_connection",
            Some(
                UKG.replace("{ env = \"ROSTER_TEST_SECRET\" }", "\"pw\"")
                    + "\n[lifecycle]\nsources = [\"ukg\", \"workday\"]\n",
            ),
        ),
        (
            "several_problems_at_once",
            Some(
                UKG.replace("customer_api_key = \"AB12C\"", "customer_api_key = \"TOO-LONG-KEY\"").replace(
                    "api_host = \"https://service4.ultipro.com\"",
                    "api_host = \"http://service4.ultipro.com\"",
                ) + "\n[lifecycle]\nsources = [\"azure\"]\nmode = \"majority\"\n\n[safety]\nmax_left_percent = 150\n",
            ),
        ),
    ];
    for (name, config) in cases {
        let (code, stderr) = validate(config.as_deref());
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(!stderr.contains("TOO-LONG-KEY"), "{name}: a secret's value leaked: {stderr}");
        insta::assert_snapshot!(format!("config_error_{name}"), stderr);
    }
}

#[test]
fn a_valid_config_with_inline_secrets_passes_with_warnings() {
    let (code, stderr) = validate(Some(
        &(UKG.replace("{ env = \"ROSTER_TEST_SECRET\" }", "\"pw\"")
            + "\n[lifecycle]\nsources = [\"ukg\"]\ndomains = [\"acme.com\"]\n"),
    ));
    assert_eq!(code, Some(0), "{stderr}");
    insta::assert_snapshot!("valid_config_with_inline_secrets", stderr);
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(roster(dir.path(), &["frobnicate"]).code, Some(2));
    assert_eq!(roster(dir.path(), &["users", "--format", "xml"]).code, Some(2));
    std::fs::write(dir.path().join("roster.toml"), UKG.replace("{ env = \"ROSTER_TEST_SECRET\" }", "\"pw\"")).unwrap();
    let out = roster(dir.path(), &["sync", "workday"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("no connection named `workday`; configured connections: ukg"), "{}", out.stderr);
    let out = roster(dir.path(), &["users"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("run `roster sync` first"), "{}", out.stderr);
}
