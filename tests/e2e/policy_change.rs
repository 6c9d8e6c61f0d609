//! Changing the sources of truth as an admin does: edit `[lifecycle]`, see that a sync changes
//! nothing, preview, apply the plan, read the events and explain a person.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::runtime;
use super::three_sources::serve_all;

/// The `[lifecycle]` section of the config replaced by `lifecycle`.
fn set_lifecycle(work: &roster_tests::Workdir, lifecycle: &str, domain: &str) {
    let path = work.path().join("roster.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let connections = toml.split("\n[lifecycle]").next().unwrap();
    work.config(&format!("{connections}\n[lifecycle]\n{lifecycle}\ndomains = [\"{domain}\"]\n"));
}

fn by_email(people: &Value) -> HashMap<String, Value> {
    people.as_array().unwrap().iter().filter_map(|p| Some((p["email"].as_str()?.to_lowercase(), p.clone()))).collect()
}

/// What any-active over the identity providers makes of a person, from their records.
fn expected_any_active(p: &Value) -> &'static str {
    if p["lifecycle"] == "external" {
        return "external";
    }
    let records = p["records"].as_array().unwrap();
    let idp: Vec<&Value> =
        records.iter().filter(|r| r["connection"] == "azure" || r["connection"] == "google").collect();
    if idp.iter().any(|r| r["status"] == "active" || r["status"] == "on_leave") {
        "current"
    } else if !idp.is_empty() {
        "past"
    } else {
        "orphan"
    }
}

#[test]
fn switching_from_hr_to_the_identity_providers_is_previewed_applied_and_recorded() {
    let rt = runtime();
    let org = Arc::new(super::org(150));
    let (work, _running) = serve_all(&rt, &org, "sources = [\"ukg\"]", &|_| String::new());
    work.roster(&["sync"]).expect_code(0);
    let before = by_email(&work.roster(&["users", "--format", "json"]).expect_code(0).json());

    // Editing the file changes nothing until applied.
    set_lifecycle(&work, "sources = [\"azure\", \"google\"]\nmode = \"any-active\"", &org.domain);
    let sync = work.roster(&["sync"]).expect_code(0);
    assert!(sync.stderr.contains("differs from the policy applied at"), "{}", sync.stderr);
    assert!(sync.stderr.contains("`roster preview`"), "{}", sync.stderr);
    assert_eq!(by_email(&work.roster(&["users", "--format", "json"]).expect_code(0).json()), before);

    // Preview: a plan, and a table for people; nothing changes.
    let table = work.roster(&["preview", "--out", "plan.json"]).expect_code(0);
    assert!(table.stdout.contains(r#"sources: ["ukg"] -> ["azure","google"]"#), "{}", table.stdout);
    assert!(table.stdout.contains("past -> current"), "{}", table.stdout);
    assert!(table.stdout.contains("nothing was changed"), "{}", table.stdout);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(work.path().join("plan.json")).unwrap()).unwrap();
    assert_eq!(work.roster(&["preview", "--format", "json"]).expect_code(0).json()["fingerprint"], plan["fingerprint"]);
    assert_eq!(by_email(&work.roster(&["users", "--format", "json"]).expect_code(0).json()), before);
    assert_eq!(work.roster(&["events", "--format", "json"]).expect_code(0).json(), Value::Array(Vec::new()));

    // Every person in a transition goes where any-active over azure and google puts them.
    let mut moving: HashMap<String, (String, String)> = HashMap::new();
    for t in plan["transitions"].as_array().unwrap() {
        assert_eq!(t["count"].as_u64().unwrap(), t["people"].as_array().unwrap().len() as u64);
        for p in t["people"].as_array().unwrap() {
            let Some(email) = p["email"].as_str() else { continue };
            let to = t["to"].as_str().unwrap_or("not tracked").to_owned();
            moving.insert(email.to_lowercase(), (t["from"].as_str().unwrap_or("not tracked").to_owned(), to));
        }
    }
    assert!(!moving.is_empty());
    for (email, p) in &before {
        let expected = expected_any_active(p);
        match moving.get(email) {
            Some((from, to)) => {
                assert_eq!(from, p["lifecycle"].as_str().unwrap(), "{email}");
                assert_eq!(to, expected, "{email}: {p:#}");
            }
            None => assert_eq!(p["lifecycle"], expected, "{email} does not move: {p:#}"),
        }
    }
    // The offboarding gap: HR says they left, an identity provider still has them active.
    assert!(moving.values().any(|(f, t)| f == "past" && t == "current"), "{moving:?}");

    // Apply exactly the plan (the safety threshold decides whether it needs --force).
    let apply_args: &[&str] =
        if plan["would_hold"] == true { &["apply", "plan.json", "--force"] } else { &["apply", "plan.json"] };
    if plan["would_hold"] == true {
        let held = work.roster(&["apply", "plan.json"]).expect_code(3);
        assert!(held.stderr.contains("held:"), "{}", held.stderr);
    }
    let applied = work.roster(apply_args).expect_code(0);
    assert!(applied.stderr.contains("applied [lifecycle]"), "{}", applied.stderr);
    let after = by_email(&work.roster(&["users", "--format", "json"]).expect_code(0).json());
    for (email, (_, to)) in &moving {
        let now = after.get(email).map_or("not tracked", |p| p["lifecycle"].as_str().unwrap());
        assert_eq!(now, to, "{email}");
    }

    events_are_the_plans(&work, &plan);
    let terminated_in_hr = |email: &str| {
        before[email]["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["connection"] == "ukg" && r["status"] == "terminated")
    };
    let (gap, _) =
        moving.iter().find(|(email, (f, t))| f == "past" && t == "current" && terminated_in_hr(email)).unwrap();
    explain_shows_the_new_decider(&work, gap);

    // A plan applies once.
    let again = work.roster(&["apply", "plan.json"]).expect_code(1);
    assert!(again.stderr.contains("a policy was applied since"), "{}", again.stderr);
}

/// The events recorded are the plan's, with time, deciding connection and before/after.
fn events_are_the_plans(work: &roster_tests::Workdir, plan: &Value) {
    let events = work.roster(&["events", "--format", "json"]).expect_code(0).json();
    let pairs = |v: &Value| {
        let mut p: Vec<(String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["person"].as_str().unwrap().to_owned()))
            .collect();
        p.sort();
        p
    };
    assert_eq!(pairs(&events), pairs(&plan["events"]));
    for e in events.as_array().unwrap() {
        assert!(e["at"].as_str().unwrap().starts_with("20"), "{e}");
        assert_eq!(e["command"], "apply");
        match e["kind"].as_str().unwrap() {
            "joined" | "rejoined" => {
                assert!(matches!(e["decided_by"].as_str(), Some("azure" | "google")), "{e}");
                assert_eq!(e["after"]["lifecycle"], "current", "{e}");
            }
            "left" => assert_eq!(e["before"]["lifecycle"], "current", "{e}"),
            other => panic!("a change of sources fires no {other} here: {e}"),
        }
    }
    let joined = work.roster(&["events", "--kind", "joined", "--format", "json"]).expect_code(0).json();
    assert!(joined.as_array().unwrap().iter().all(|e| e["kind"] == "joined"));
    assert!(!joined.as_array().unwrap().is_empty());
    assert_eq!(
        work.roster(&["events", "--since", "2999-01-01", "--format", "json"]).expect_code(0).json(),
        Value::Array(Vec::new())
    );
    let csv = work.roster(&["events", "--format", "csv"]).expect_code(0).stdout;
    assert_eq!(csv.lines().count(), events.as_array().unwrap().len() + 1, "a header and a line per event");
}

/// Explain someone in the offboarding gap: azure or google decides, ukg is not a source now.
fn explain_shows_the_new_decider(work: &roster_tests::Workdir, gap: &str) {
    let explained = work.roster(&["explain", gap, "--format", "json"]).expect_code(0).json();
    let x = &explained[0];
    assert_eq!(x["lifecycle"], "current");
    let trace = x["trace"].as_array().unwrap();
    assert_eq!(trace.iter().map(|v| v["connection"].as_str().unwrap()).collect::<Vec<_>>(), ["azure", "google"]);
    assert_eq!(trace.iter().filter(|v| v["outcome"] == "decided").count(), 1, "{x:#}");
    assert!(x["not_sources"].as_array().unwrap().contains(&Value::from("ukg")), "{x:#}");
    assert!(
        x["source_records"].as_array().unwrap().iter().any(|r| r["connection"] == "ukg" && r["status"] == "terminated"),
        "{x:#}"
    );
    assert!(x["events"].as_array().unwrap().iter().any(|e| e["kind"] == "joined" || e["kind"] == "rejoined"), "{x:#}");
    let text = work.roster(&["explain", gap]).expect_code(0).stdout;
    assert!(text.contains("sources of truth, highest first"), "{text}");
}
