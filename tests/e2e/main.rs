//! End-to-end tests: an admin's view of roster, driving the `roster` binary against vendor
//! sandboxes served in-process over real HTTP on loopback.

// Helpers shared by tests fail the test by panicking, like the tests themselves.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test by panicking")]

mod crash;
mod demo;
mod errors;
mod policy_change;
mod secrets;
mod three_sources;
mod ukg;

// Link every connector so the registry (and its sandbox hooks) holds all three.
use roster_entra_id as _;
use roster_google_workspace as _;

use roster_core::sandbox::Org;

/// A generated organisation for today (the binary decides pre-hires against the real date too).
fn org(people: usize) -> Org {
    Org::generate(people, 42, chrono::Utc::now().date_naive())
}

/// A multi-threaded runtime that serves sandboxes while the test thread runs `roster`.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}
