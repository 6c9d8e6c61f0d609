//! Workspace-level end-to-end tests for roster: they drive the `roster` binary the way an admin
//! would, against vendor sandboxes served in-process on loopback. The tests live in `e2e/`; this
//! library holds what they share.
//!
//! The binary is the one `cargo test --workspace` builds next to the test executables (it is
//! built because `roster-host` has integration tests of its own). Running this crate alone
//! (`cargo test -p roster-tests`) after changing the host needs `cargo build -p roster-host` first.

// Test support: every helper panics on purpose, with a message, when the test cannot go on.
#![expect(clippy::missing_panics_doc, reason = "test helpers fail the test by panicking")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the `roster` binary of this build is.
pub fn roster_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    // target/<profile>/deps/e2e-<hash> -> target/<profile>/roster
    let profile_dir = exe.parent().and_then(Path::parent).expect("test executables live in target/<profile>/deps");
    let bin = profile_dir.join(format!("roster{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} does not exist: run the tests with `cargo test --workspace`, or `cargo build -p roster-host` first",
        bin.display()
    );
    bin
}

/// What one `roster` run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with everything printed unless the run exited with `code`.
    #[track_caller]
    #[expect(
        clippy::must_use_candidate,
        clippy::return_self_not_must_use,
        reason = "asserting is the point; the result is for chaining"
    )]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "roster exited with {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Standard output parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A working directory with a `roster.toml`, as an admin would have.
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Workdir {
    /// An empty directory.
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("a temporary directory"), env: Vec::new() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `roster.toml`.
    pub fn config(&self, toml: &str) -> &Self {
        std::fs::write(self.path().join("roster.toml"), toml).expect("write roster.toml");
        self
    }

    /// Sets an environment variable for every later run.
    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs `roster ARGS` in the directory, with the default `roster.toml` and `roster.db`.
    pub fn roster(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(roster_bin());
        cmd.args(args).current_dir(self.path()).env_remove("RUST_LOG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().expect("run roster").into()
    }
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}
