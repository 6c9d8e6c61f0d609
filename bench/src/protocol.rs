//! What the bench's processes tell each other: one JSON line each way.

use std::io::Write;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// What a sandbox process serves, printed once its sandboxes listen.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Served {
    /// The organisation's email domain (the policy's `domains`).
    pub domain: String,
    /// One `[connections.NAME]` table per sandbox, in the order asked for.
    pub connections: Vec<ServedConnection>,
}

/// One served sandbox.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ServedConnection {
    /// The connection name.
    pub name: String,
    /// Where clients should connect: the sandbox, or the rate-limiting proxy in front of it.
    pub base_url: String,
    /// The body of the connection's table, `connector = ..` first.
    pub toml: String,
}

/// What the rate-limiting proxy saw, printed when the sandbox process stops.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct ProxyStats {
    /// Requests passed to the sandbox.
    pub admitted: u64,
    /// Requests answered 429.
    pub refused: u64,
    /// Seconds from the first admitted request to the last.
    pub span_secs: f64,
}

impl ProxyStats {
    /// Admitted requests per second over the span they were admitted in.
    #[expect(clippy::cast_precision_loss, reason = "request counts are far below 2^52")]
    pub(crate) fn achieved_rate(&self) -> Option<f64> {
        // N requests admitted over a span make N - 1 intervals.
        (self.admitted > 1 && self.span_secs > 0.0).then(|| (self.admitted - 1) as f64 / self.span_secs)
    }

    /// The share of what the limiter would have admitted over the span (`rate` a second plus
    /// its first second's burst of `rate`) that the client got: 1.0 is a client that never
    /// left a token unused.
    #[expect(clippy::cast_precision_loss, reason = "request counts are far below 2^52")]
    pub(crate) fn share_of_allowed(&self, rate: u32) -> Option<f64> {
        let allowed = f64::from(rate) * (self.span_secs + 1.0);
        (self.admitted > 0 && allowed > 0.0).then(|| (self.admitted as f64 / allowed).min(1.0))
    }
}

/// One measurement of a scenario process.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Measured {
    /// What was measured, when a scenario measures more than one thing (`resolve` with and
    /// without prior people).
    pub label: Option<String>,
    /// Wall time in seconds.
    pub wall_secs: f64,
    /// People (source records for `resolve`) handled.
    pub units: u64,
    /// Peak resident set size in bytes (`VmHWM`), when the platform reports it.
    pub peak_rss: Option<u64>,
    /// Rows of people data (`snapshot_chunks`, `people_chunks`, `events`, `runs`...) written.
    pub rows_written: Option<u64>,
    /// Bookkeeping rows (`connections`, `meta`) written.
    pub bookkeeping_rows: Option<u64>,
    /// HTTP requests made.
    pub requests: Option<u64>,
    /// Response bytes received (the floor).
    pub bytes: Option<u64>,
}

/// Writes `value` as one JSON line to stdout and flushes it (the parent waits for it).
pub(crate) fn emit<T: Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value).context("cannot encode a result")?;
    writeln!(out).and_then(|()| out.flush()).context("cannot write to stdout")
}
