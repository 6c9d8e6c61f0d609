//! The benchmark at a size small enough for the test suite: every scenario runs to its end and
//! its figures are the ones the table is built from. No figure is held to a time here; timing
//! belongs to the benchmark itself (docs/performance.md).

use std::process::Command;

use serde_json::Value;

/// Runs the bench at 300 people with `args` and JSON output: its lines, and its progress log.
fn bench(args: &[&str]) -> (Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_roster-bench"))
        .args(["--sizes", "300", "--timeout", "120", "--format", "json"])
        .args(args)
        .output()
        .expect("the bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let rows = String::from_utf8(out.stdout)
        .expect("the bench prints UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (rows, stderr)
}

#[test]
fn every_scenario_runs_at_the_smallest_size() {
    let (rows, _) = bench(&["--rate", "50", "--rate-seconds", "1"]);
    let scenarios: Vec<&str> = rows.iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    assert_eq!(scenarios, ["ukg", "floor", "entra", "google", "resolve", "resolve", "resync", "change", "ratelimit"]);
    for row in &rows {
        assert_eq!(row["completed"], true, "{row}");
        assert_eq!(row["people"], 300, "{row}");
        assert!(row["wall_secs"].as_f64().is_some_and(|w| w > 0.0), "{row}");
        assert!(row["peak_rss"].as_u64().is_some_and(|b| b > 1 << 20), "a peak RSS is measured: {row}");
    }
    let by = |name: &str| rows.iter().find(|r| r["scenario"] == name).unwrap();
    // A UKG sync stores its snapshot and its people in chunks of about a hundred records each
    // (host/src/store/chunks.rs): a few rows of each and the run that recorded them, far fewer
    // rows than records. It fetched the floor's pages too.
    assert!(by("ukg")["rows_written"].as_u64().is_some_and(|n| (3..300).contains(&n)), "{}", by("ukg"));
    assert!(by("ukg")["floor_ratio"].as_f64().is_some_and(|r| r > 0.0), "{}", by("ukg"));
    assert!(by("floor")["requests"].as_u64().is_some_and(|n| n >= 2), "{}", by("floor"));
    // Nothing changed between the two syncs, so nothing is written.
    assert_eq!(by("resync")["rows_written"], 0, "{}", by("resync"));
    // One person hired since the first sync: the chunk or two of the snapshot and of the people
    // they fall in, the run, and (unless they start later or already left) their `joined` event.
    assert!(by("change")["rows_written"].as_u64().is_some_and(|n| (3..=6).contains(&n)), "{}", by("change"));
    // Behind the rate-limiting proxy every record still arrives.
    let limited = by("ratelimit");
    assert_eq!(limited["rows_written"], by("ukg")["rows_written"], "{limited}");
    assert!(limited["admitted"].as_u64().is_some_and(|n| n > 0), "{limited}");
}

#[test]
fn repeated_rounds_are_reported_as_their_median() {
    let (rows, stderr) = bench(&["--only", "ukg,floor", "--repeat", "3"]);
    // Every round of each scenario ran, in turn with the other's.
    let rounds: Vec<&str> = stderr.lines().filter(|l| l.contains("of 3)")).collect();
    assert_eq!(rounds.len(), 6, "{stderr}");
    assert!(rounds[0].contains("ukg") && rounds[1].contains("floor") && rounds[2].contains("ukg"), "{stderr}");
    assert_eq!(rows.len(), 2, "one line per scenario, not per round: {rows:?}");
    for row in &rows {
        assert_eq!(row["rounds"], 3, "{row}");
        assert_eq!(row["completed"], true, "{row}");
    }
    assert!(rows[0]["floor_ratio"].as_f64().is_some_and(|r| r > 0.0), "{}", rows[0]);
}
