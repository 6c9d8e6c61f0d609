//! No secret ever leaves roster: every command, failures and `-vv` logging included, is run with
//! known secret values, and none may appear in stdout, stderr, the database or a plan file.

use std::fmt::Write as _;
use std::sync::Arc;

use roster_tests::Workdir;

use super::runtime;
use super::three_sources::serve_all;

/// Keys whose values are secrets in the sandboxes' connection tables.
const SECRET_KEYS: [&str; 4] = ["password", "customer_api_key", "user_api_key", "client_secret"];

/// Moves every inline secret of `toml` into an environment variable; returns the new text and
/// the (variable, value) pairs.
fn secrets_to_env(toml: &str) -> (String, Vec<(String, String)>) {
    let mut env = Vec::new();
    let mut out = String::new();
    for line in toml.lines() {
        match line.split_once(" = ") {
            Some((key, value)) if SECRET_KEYS.contains(&key) && value.starts_with('"') => {
                let var = format!("ROSTER_TEST_SECRET_{}", env.len());
                env.push((var.clone(), value.trim_matches('"').to_owned()));
                let _ = writeln!(out, "{key} = {{ env = \"{var}\" }}");
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    (out, env)
}

/// The body of the PEM private key in the Google key file the config points at.
fn google_private_key_lines(toml: &str) -> Vec<String> {
    let path = toml
        .lines()
        .find_map(|l| l.strip_prefix("service_account_key = { file = "))
        .and_then(|rest| rest.strip_suffix(" }"))
        .expect("the google sandbox writes a key file");
    let path: String = serde_json::from_str(path).unwrap();
    let key: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    key["private_key"]
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 40)
        .map(str::to_owned)
        .collect()
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!text.contains(s.as_str()), "{what} shows a secret ({}...):\n{text}", &s[..4.min(s.len())]);
    }
}

#[test]
fn no_command_ever_shows_a_secret() {
    let rt = runtime();
    let org = Arc::new(super::org(60));
    let (mut work, _running) = serve_all(&rt, &org, "sources = [\"ukg\"]", &|_| String::new());
    let path = work.path().join("roster.toml");
    let (toml, env) = secrets_to_env(&std::fs::read_to_string(&path).unwrap());
    work.config(&toml);
    let mut secrets: Vec<String> = env.iter().map(|(_, v)| v.clone()).collect();
    assert!(secrets.len() >= 4, "ukg's three and entra's client secret: {env:?}");
    secrets.extend(google_private_key_lines(&toml));
    for (var, value) in &env {
        work.env(var, value);
    }

    let run = |args: &[&str]| {
        let out = work.roster(args);
        assert_clean(&format!("roster {}", args.join(" ")), &format!("{}\n{}", out.stdout, out.stderr), &secrets);
        out
    };
    run(&["validate"]).expect_code(0);
    run(&["-vv", "check"]).expect_code(0);
    run(&["check", "--format", "json"]).expect_code(0);
    run(&["-vv", "sync"]).expect_code(0);
    for format in ["table", "json", "csv", "ndjson"] {
        run(&["users", "--format", format]).expect_code(0);
    }
    let someone = org.people[0].email.clone();
    run(&["explain", &someone, "--format", "json"]).expect_code(0);
    run(&["explain", &someone]).expect_code(0);
    run(&["status", "--format", "json"]).expect_code(0);
    run(&["connectors"]).expect_code(0);
    run(&["schema", "ukg-pro"]).expect_code(0);
    std::fs::write(
        &path,
        toml.replace("sources = [\"ukg\"]", "sources = [\"azure\", \"google\"]\nmode = \"any-active\""),
    )
    .unwrap();
    run(&["-vv", "preview", "--out", "plan.json", "--format", "json"]).expect_code(0);
    run(&["-vv", "apply", "plan.json"]);
    run(&["events", "--format", "json"]).expect_code(0);
    let plan = std::fs::read_to_string(work.path().join("plan.json")).unwrap();
    assert_clean("plan.json", &plan, &secrets);

    // Failures: a wrong password and a wrong client secret are not shown either.
    // Same shape (the key formats are checked), other value.
    let wrong: Vec<(String, String)> = env
        .iter()
        .map(|(var, value)| {
            let mut chars: Vec<char> = value.chars().collect();
            let last = chars.last_mut().unwrap();
            *last = if *last == '9' { '8' } else { '9' };
            (var.clone(), chars.into_iter().collect())
        })
        .collect();
    let mut failing = Workdir::new();
    failing.config(&std::fs::read_to_string(&path).unwrap());
    for (var, value) in &wrong {
        failing.env(var, value);
    }
    let all: Vec<String> = secrets.iter().cloned().chain(wrong.iter().map(|(_, v)| v.clone())).collect();
    for args in [&["-vv", "check"][..], &["-vv", "sync"]] {
        let out = failing.roster(args);
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        assert_clean(&format!("failing roster {}", args.join(" ")), &format!("{}\n{}", out.stdout, out.stderr), &all);
    }

    // The databases hold people, never credentials.
    for dir in [work.path(), failing.path()] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("roster.db") {
                let bytes = std::fs::read(entry.path()).unwrap();
                assert_clean(&name, &String::from_utf8_lossy(&bytes), &all);
            }
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(work.path().join("roster.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the database is readable by its owner only");
    }
}
