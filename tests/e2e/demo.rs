//! `roster demo`, the first command a newcomer runs.

use roster_tests::Workdir;

#[test]
fn the_demo_tells_what_it_found_and_keeps_the_database_when_asked() {
    let work = Workdir::new();
    let run = work.roster(&["demo", "--people", "400", "--db", "demo.db"]).expect_code(0);
    for expected in
        ["400 people of a generated company", "current employees", "Offboarding gap:", "Preview:", "Explore further:"]
    {
        assert!(run.stdout.contains(expected), "missing `{expected}`:\n{}", run.stdout);
    }
    assert!(run.stderr.contains("ukg: 400 users"), "{}", run.stderr);

    let people = work.roster(&["--db", "demo.db", "users", "--format", "json"]).expect_code(0).json();
    let people = people.as_array().unwrap();
    assert!(people.len() >= 400);
    let gap_line = run.stdout.lines().find(|l| l.starts_with("Offboarding gap:")).unwrap();
    let gap: usize = gap_line.split_whitespace().nth(2).unwrap().parse().unwrap();
    let still_active = people
        .iter()
        .filter(|p| p["lifecycle"] == "past" && p["status"] != "pre_hire")
        .filter(|p| {
            p["records"].as_array().unwrap().iter().any(|r| r["connection"] != "ukg" && r["status"] == "active")
        })
        .count();
    assert_eq!(gap, still_active, "the gap the demo reports is the one the data shows");
}
