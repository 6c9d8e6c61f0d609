//! A sync killed at any moment, or two syncs at once, never corrupt the database or leave a mix:
//! afterwards it passes `SQLite`'s integrity check and holds either the old state or the new one.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Instant;

use roster_core::EmploymentStatus;
use roster_core::sandbox::Org;
use roster_tests::{Workdir, roster_bin};
use roster_ukg_pro::sandbox::{Sandbox, Tenant};

use super::{org, runtime};

/// Every person's (email, lifecycle), the state an admin sees.
fn state(work: &Workdir) -> BTreeMap<String, String> {
    let people = work.roster(&["users", "--format", "json"]).expect_code(0).json();
    people
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["email"].as_str().unwrap_or("").to_owned(), p["lifecycle"].as_str().unwrap().to_owned()))
        .collect()
}

fn integrity(work: &Workdir) {
    let db = rusqlite::Connection::open(work.path().join("roster.db")).unwrap();
    let verdict: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(verdict, "ok");
}

/// A config for one UKG sandbox with small pages, so a sync takes a while and writes in many steps.
fn config(sandbox: &Sandbox, domain: &str) -> String {
    format!(
        "[connections.ukg]\n{}page_size = 40\n\n[lifecycle]\nsources = [\"ukg\"]\ndomains = [\"{domain}\"]\n\n\
         [safety]\nmax_left_percent = 100\nmax_snapshot_drop_percent = 100\n",
        sandbox.connection_toml()
    )
}

/// The same company after a tenth of it left.
fn later(org: &Org) -> Org {
    let mut later = org.clone();
    for p in later.people.iter_mut().step_by(10) {
        p.status = EmploymentStatus::Terminated;
        p.termination_date = Some(org.today - chrono::Days::new(1));
    }
    later
}

#[test]
fn a_sync_killed_at_any_point_leaves_the_old_state_or_the_new() {
    let rt = runtime();
    let org = org(1500);
    let before = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let after = rt.block_on(Sandbox::start(Tenant::from_org(&later(&org)))).unwrap();

    // The two states, each reached by a sync that finished.
    let reference = Workdir::new();
    reference.config(&config(&before, &org.domain));
    reference.roster(&["sync"]).expect_code(0);
    let old = state(&reference);
    reference.config(&config(&after, &org.domain));
    let started = Instant::now();
    reference.roster(&["sync"]).expect_code(0);
    let full = started.elapsed();
    let new = state(&reference);
    assert_ne!(old, new);

    let work = Workdir::new();
    let mut outcomes = BTreeMap::new();
    for step in 0..12_u32 {
        // A fresh baseline, then a sync of the changed company killed part-way.
        let _ = std::fs::remove_file(work.path().join("roster.db"));
        let _ = std::fs::remove_file(work.path().join("roster.db-wal"));
        let _ = std::fs::remove_file(work.path().join("roster.db-shm"));
        work.config(&config(&before, &org.domain));
        work.roster(&["sync"]).expect_code(0);
        work.config(&config(&after, &org.domain));
        let mut child = Command::new(roster_bin())
            .args(["-q", "sync"])
            .current_dir(work.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(f64::from(step) / 10.0));
        let _ = child.kill(); // SIGKILL on unix
        let status = child.wait().unwrap();

        integrity(&work);
        let now = state(&work);
        let which = if now == old {
            "old"
        } else if now == new {
            "new"
        } else {
            panic!("step {step} ({status}): neither the old state nor the new one")
        };
        *outcomes.entry(which).or_insert(0) += 1;

        // And the next sync finishes the job.
        work.roster(&["sync"]).expect_code(0);
        assert_eq!(state(&work), new, "step {step}: the next sync recovers");
        integrity(&work);
    }
    assert!(outcomes.contains_key("old"), "some kills landed before the commit: {outcomes:?}");
}

#[test]
fn two_syncs_at_once_neither_corrupt_nor_duplicate() {
    let rt = runtime();
    let org = org(800);
    let sandbox = rt.block_on(Sandbox::start(Tenant::from_org(&org))).unwrap();
    let changed = rt.block_on(Sandbox::start(Tenant::from_org(&later(&org)))).unwrap();
    let work = Workdir::new();
    work.config(&config(&sandbox, &org.domain));
    work.roster(&["sync"]).expect_code(0);
    work.config(&config(&changed, &org.domain));

    let spawn = || {
        Command::new(roster_bin())
            .args(["sync"])
            .current_dir(work.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Each either finishes, or says plainly that the other holds the database.
        assert!(out.status.success() || stderr.contains("database is busy"), "{stderr}");
    }
    assert!(a.status.success() || b.status.success(), "at least one sync goes through");
    integrity(&work);

    // The people who left left once: one `left` event each, not two.
    let events = work.roster(&["events", "--kind", "left", "--format", "json"]).expect_code(0).json();
    let leavers = later(&org).people.iter().filter(|p| p.status == EmploymentStatus::Terminated).count()
        - org.people.iter().filter(|p| p.status == EmploymentStatus::Terminated).count();
    let mut people: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["person"].as_str().unwrap()).collect();
    let n = people.len();
    people.sort_unstable();
    people.dedup();
    assert_eq!(people.len(), n, "no event recorded twice");
    assert!(n > 0 && n <= leavers, "{n} left events for {leavers} leavers");
}
