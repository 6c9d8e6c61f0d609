//! UKG Pro, Entra ID and Google Workspace synced together: matching people across sources and
//! letting the source of truth decide.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use roster_core::EmploymentStatus;
use roster_core::sandbox::{RunningSandbox, SandboxRequest};
use roster_tests::Workdir;
use serde_json::Value;

use super::{org, runtime};

/// Serves every registered vendor's sandbox of `org` and writes a config pointing at them.
pub(crate) fn serve_all(
    rt: &tokio::runtime::Runtime,
    org: &Arc<roster_core::sandbox::Org>,
    lifecycle: &str,
    extra: &dyn Fn(&HashMap<&str, String>) -> String,
) -> (Workdir, Vec<RunningSandbox>) {
    let mut urls = HashMap::new();
    let mut toml = String::new();
    let mut running = Vec::new();
    for d in roster_core::connectors() {
        // A connector without a vendor to emulate (hr-file reads a file) has no sandbox.
        let Some(serve) = d.sandbox else { continue };
        let sandbox = rt.block_on(serve(SandboxRequest { org: org.clone(), port: 0 })).unwrap();
        let name = match d.id {
            "ukg-pro" => "ukg",
            "entra-id" => "azure",
            "google-workspace" => "google",
            other => panic!("unexpected connector {other}"),
        };
        let _ = writeln!(toml, "[connections.{name}]\n{}", sandbox.connection_toml);
        urls.insert(name, sandbox.base_url.clone());
        running.push(sandbox);
    }
    toml.push_str(&extra(&urls));
    let _ = writeln!(toml, "\n[lifecycle]\n{lifecycle}\ndomains = [\"{}\"]", org.domain);
    let work = Workdir::new();
    work.config(&toml);
    (work, running)
}

fn people(work: &Workdir) -> Vec<Value> {
    work.roster(&["users", "--format", "json"]).expect_code(0).json().as_array().unwrap().clone()
}

fn connections_of(p: &Value) -> BTreeSet<String> {
    p["records"].as_array().unwrap().iter().map(|r| r["connection"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn people_are_matched_across_sources_and_the_source_of_truth_decides() {
    let rt = runtime();
    let org = Arc::new(org(200));
    let (work, _running) = serve_all(&rt, &org, "sources = [\"ukg\"]", &|_| String::new());
    work.roster(&["sync"]).expect_code(0);
    let people = people(&work);

    // Every address appears once: each person is listed once, with one record per source.
    let mut seen = HashMap::new();
    for p in &people {
        if let Some(email) = p["email"].as_str() {
            assert!(seen.insert(email.to_lowercase(), p).is_none(), "{email} is listed twice");
        }
    }

    let mut by_count = [0usize; 4];
    for person in &org.people {
        let p = seen.get(&person.email).unwrap_or_else(|| panic!("{} is listed", person.email));
        let conns = connections_of(p);
        assert!(conns.contains("ukg"), "{p:#}");
        by_count[conns.len()] += 1;
        // UKG alone decides, whatever the identity providers say.
        let expected = match person.status {
            EmploymentStatus::Active | EmploymentStatus::OnLeave => "current",
            _ => "past",
        };
        assert_eq!((p["lifecycle"].as_str(), p["decided_by"].as_str()), (Some(expected), Some("ukg")), "{p:#}");
    }
    assert!(by_count[3] > 150, "most people are in all three sources: {by_count:?}");
    assert!(by_count[2] > 0, "some people are in two (deleted from Google): {by_count:?}");

    // Accounts HR does not know: in one source only, never current.
    let unknown_to_hr: Vec<&Value> = people.iter().filter(|p| !connections_of(p).contains("ukg")).collect();
    assert!(!unknown_to_hr.is_empty());
    for p in unknown_to_hr {
        assert_eq!(connections_of(p).len(), 1, "{p:#}");
        assert!(matches!(p["lifecycle"].as_str(), Some("orphan" | "external")), "{p:#}");
    }
    assert!(people.iter().any(|p| p["lifecycle"] == "external"), "guests are external");

    // The offboarding gap is visible: left according to HR, still enabled in an identity provider.
    let gap = people
        .iter()
        .filter(|p| p["lifecycle"] == "past")
        .filter(|p| {
            p["records"].as_array().unwrap().iter().any(|r| r["connection"] != "ukg" && r["status"] == "active")
        })
        .count();
    assert!(gap > 0, "some people who left still have an active account");
}

#[test]
fn identity_providers_as_sources_in_any_active_mode() {
    let rt = runtime();
    let org = Arc::new(org(120));
    let (work, _running) =
        serve_all(&rt, &org, "sources = [\"azure\", \"google\"]\nmode = \"any-active\"", &|_| String::new());
    work.roster(&["sync"]).expect_code(0);
    for p in people(&work) {
        let active_in_idp = p["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| (r["connection"] == "azure" || r["connection"] == "google") && r["status"] == "active");
        if p["lifecycle"] == "current" {
            assert!(active_in_idp, "current only when active in a listed identity provider: {p:#}");
            assert!(matches!(p["decided_by"].as_str(), Some("azure" | "google")), "{p:#}");
        } else if p["lifecycle"] != "external" {
            assert!(!active_in_idp, "active in an identity provider but not current: {p:#}");
        }
    }
}

#[test]
fn one_failing_connection_does_not_spoil_the_others() {
    let rt = runtime();
    let org = Arc::new(org(60));
    // A fourth connection whose password UKG refuses.
    let broken = |urls: &HashMap<&str, String>| {
        format!(
            "[connections.ukg2]\nconnector = \"ukg-pro\"\nusername = \"x\"\npassword = \"wrong\"\ncustomer_api_key = \"ABCDE\"\n\
             user_api_key = \"ABCDEFGHIJKL\"\napi_host = \"{}\"\n",
            urls["ukg"]
        )
    };
    let (work, _running) = serve_all(&rt, &org, "sources = [\"ukg\"]", &broken);
    let run = work.roster(&["sync"]).expect_code(1);
    assert!(run.stderr.contains("ukg2: failed"), "{}", run.stderr);
    assert!(run.stderr.contains("1 of 4 connections failed to sync: ukg2"), "{}", run.stderr);
    let people = people(&work);
    assert!(people.len() >= org.people.len(), "the other three were synced and resolved");
    assert!(people.iter().all(|p| !connections_of(p).contains("ukg2")));
}
