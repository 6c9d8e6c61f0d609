//! The failures an admin meets most, as they meet them: each message says what is wrong, where,
//! and what to do. Pinned as insta snapshots (review them as a newcomer would read them).
//! Configuration errors (no file, TOML syntax, unknown keys, missing env vars, unreadable secret
//! files) are pinned in `host/tests/cli.rs`; these are the ones that need a vendor.

use roster_tests::{Run, Workdir};
use roster_ukg_pro::Endpoint;
use roster_ukg_pro::sandbox::{Sandbox, Tenant};

use super::{org, runtime};

/// stderr with what changes from run to run replaced: the sandbox's address, durations,
/// timestamps, the working directory.
fn normalized(run: &Run, work: &Workdir, sandbox_url: &str) -> String {
    let text = run.stderr.replace(sandbox_url, "[sandbox]").replace(&work.path().display().to_string(), "[dir]");
    let text = text.replace(&sandbox_url.replace("http://", "https://"), "https://[sandbox]");
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(&mask_times(&mask_numbers_after(line, "after ", " s")));
        out.push('\n');
    }
    out
}

/// Stored timestamps (`2026-11-28T18:06:52.614Z`) -> `[time]`.
fn mask_times(line: &str) -> String {
    const LEN: usize = "2026-11-28T18:06:52.614Z".len();
    let mut out = String::new();
    let mut rest = line;
    while rest.len() >= LEN {
        let candidate = rest.get(..LEN);
        if candidate.is_some_and(|c| chrono::DateTime::parse_from_rfc3339(c).is_ok()) {
            out.push_str("[time]");
            rest = &rest[LEN..];
        } else {
            let next = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..next]);
            rest = &rest[next..];
        }
    }
    out.push_str(rest);
    out
}

/// `after 3.9 s` -> `after [t] s`: durations differ between runs.
fn mask_numbers_after(line: &str, before: &str, after: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(before) {
        let (head, tail) = rest.split_at(i + before.len());
        out.push_str(head);
        let digits = tail.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(tail.len());
        if digits > 0 && tail[digits..].starts_with(after) {
            out.push_str("[t]");
            rest = &tail[digits..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn ukg_config(sandbox_toml: &str, domain: &str) -> String {
    format!("[connections.ukg]\n{sandbox_toml}\n[lifecycle]\nsources = [\"ukg\"]\ndomains = [\"{domain}\"]\n")
}

#[test]
fn vendor_failures_say_what_is_wrong_and_what_to_do() {
    let rt = runtime();
    let org = org(30);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let url = sandbox.base_url().to_owned();
    let work = Workdir::new();
    work.config(&ukg_config(&sandbox.connection_toml(), &org.domain));
    let q = |args: &[&str]| -> Vec<String> { ["-q"].iter().chain(args).map(|s| (*s).to_owned()).collect() };
    let roster = |args: &[&str]| work.roster(&q(args).iter().map(String::as_str).collect::<Vec<_>>());

    // Wrong credentials: check and sync both name what to fix.
    sandbox.set_wrong_credentials(true);
    insta::assert_snapshot!("wrong_credentials_check", {
        let run = roster(&["check"]).expect_code(1);
        format!("{}\n{}", run.stdout, normalized(&run, &work, &url))
    });
    insta::assert_snapshot!("wrong_credentials_sync", normalized(&roster(&["sync"]).expect_code(1), &work, &url));
    sandbox.set_wrong_credentials(false);

    // A Web Service permission the service account lacks.
    sandbox.revoke(Endpoint::EmploymentDetails);
    insta::assert_snapshot!("missing_permission_check", {
        let run = roster(&["check"]).expect_code(1);
        format!("{}\n{}", run.stdout, normalized(&run, &work, &url))
    });
    sandbox.grant(Endpoint::EmploymentDetails);

    // Nothing listens at the configured address; TLS spoken to a server that does not speak it.
    let port = url.rsplit(':').next().unwrap();
    for (name, host) in
        [("unreachable_host", "http://127.0.0.1:1".to_owned()), ("tls_failure", format!("https://127.0.0.1:{port}"))]
    {
        let toml = sandbox.connection_toml().replace(&url, &host);
        work.config(&ukg_config(&toml, &org.domain));
        insta::assert_snapshot!(name, normalized(&roster(&["sync"]).expect_code(1), &work, &url));
    }

    // Held by a threshold: the first sync is the baseline, then HR terminates a third of everyone.
    work.config(&format!("{}\n[safety]\nmax_left_percent = 10\n", ukg_config(&sandbox.connection_toml(), &org.domain)));
    roster(&["sync"]).expect_code(0);
    insta::assert_snapshot!("preview_of_an_unchanged_policy", mask_times(&roster(&["preview"]).expect_code(0).stdout));
    work.config(&format!(
        "{}\n[safety]\nmax_left_percent = 10\n",
        ukg_config(&sandbox.connection_toml(), &org.domain).replace("sources = [\"ukg\"]", "sources = []")
    ));
    insta::assert_snapshot!("held_by_max_left_percent", normalized(&roster(&["apply"]).expect_code(3), &work, &url));
    insta::assert_snapshot!("refused_plan", {
        roster(&["preview", "--out", "plan.json"]).expect_code(0);
        roster(&["apply", "plan.json", "--force"]).expect_code(0);
        normalized(&roster(&["apply", "plan.json"]).expect_code(1), &work, &url)
    });
}
