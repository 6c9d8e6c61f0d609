//! The connector conformance kit (feature `testkit`): one catalogue of vendor faults that every
//! connector's tests run against its own sandbox, over real HTTP.
//!
//! A connector's `tests/conformance.rs` implements [`FaultySandbox`] for its sandbox (start it
//! for an [`Org`], connect to it through the registry, arm a [`Fault`] at a page) and calls
//! [`conformance_tests!`](crate::conformance_tests), which writes one test per case of
//! [`cases::all`], or [`run_all`] for one test of everything.
//!
//! Each case lists the organisation once without a fault (the reference), arms the fault, lists
//! again with a new connection and judges the outcome. A fault ends in one of two ways only:
//! - a **complete, correct listing**: every record the reference had, equal to it, none twice
//!   (throttling, bursts of 5xx, one slow answer, an empty first page, a token that expires);
//! - a **failed listing** with the right [`ErrorKind`](crate::ErrorKind) and a message that
//!   names the fault (truncated or malformed JSON, a repeating page, a 401, a huge body, a
//!   missing source id, faults that outlast the retries).
//!
//! Never `Ok` with fewer records: what a listing sent before it failed is not a snapshot, and
//! the caller discards it. A record the connector cannot map is kept, with status `unknown`, its
//! raw value and a problem, never dropped.
//!
//! What the kit does not check is that a failed sync leaves the previous state intact: that is
//! the host's job (it stages a listing and swaps it in only once the listing returned `Ok`), and
//! the host's own tests prove it. The kit's job is the half a connector owns: a faulty listing
//! never returns `Ok` with partial or made-up data.

pub mod cases;
mod judge;
mod run;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;

use crate::connector::{ConnectContext, Connector};
use crate::sandbox::Org;

pub use cases::{Case, Expect};
pub use run::{LISTING_DEADLINE, Verdict, check, run_all, run_case};

pub use crate::sandbox::faults::FOREVER;

/// How many people the kit's organisation has.
pub const PEOPLE: usize = 40;

/// How many records a sandbox should serve per page: with [`PEOPLE`] people that is four pages
/// or more, so that a fault at page 2 strikes in the middle of the listing.
pub const PAGE_SIZE: usize = 10;

/// The page most faults strike: after a first page has reached the sink.
pub const FAULT_PAGE: u32 = 2;

/// The day the kit's organisation is generated for and connections map with.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default()
}

/// The organisation every case serves: the same for every connector and every run.
pub fn org() -> Org {
    Org::generate(PEOPLE, 20_260_601, today())
}

/// What a sandbox is told to do wrong at a page of the listing (see [`FaultySandbox::inject`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer 429 to the next `times` requests for the page, with `Retry-After: <seconds>` when
    /// given.
    RateLimited {
        /// The seconds to send in `Retry-After`, or none.
        retry_after: Option<u64>,
        /// How many requests get it ([`FOREVER`]: all).
        times: u32,
    },
    /// Answer these 5xx statuses, in turn, to the next `times` requests for the page.
    ServerErrors {
        /// The statuses, answered in this order and then again from the first.
        statuses: Vec<u16>,
        /// How many requests get one ([`FOREVER`]: all).
        times: u32,
    },
    /// Answer the next `times` requests for the page only after `delay`, which is longer than the
    /// request timeout the kit gives the connection.
    Slow {
        /// How late the answer comes.
        delay: Duration,
        /// How many requests are late ([`FOREVER`]: all).
        times: u32,
    },
    /// Answer every request for the page with 200 and the page's JSON cut off half-way.
    Truncated,
    /// Answer every request for the page with 200 and a body that is not JSON at all (an HTML
    /// error page, as a proxy sends).
    Malformed,
    /// From the page on, the page, its cursor or its next link repeats forever.
    RepeatingPage,
    /// The first page holds no records but says more follow (a next link, a cursor); the records
    /// come on the pages after it. The page given is 1.
    EmptyFirstPage,
    /// Every access token issued so far expires when the page is asked for: the listing must
    /// renew its token and go on. Connectors without tokens answer [`Unsupported`].
    TokenExpiresMidListing,
    /// Answer 401 to every request for the page, whatever credentials or token it carries.
    Unauthorized,
    /// Answer every request for the page with 200 and a body of `bytes` bytes: far larger than
    /// any real page, and than the body limit the kit gives the connection.
    HugeBody {
        /// The body's size.
        bytes: usize,
    },
    /// One record of the page carries an employment status value nobody mapped (a status letter
    /// no tenant documents, a flag that is not a boolean).
    UnmappableRecord,
    /// One record of the page has no source id.
    MissingSourceId,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let times = |n: u32| if n == FOREVER { "every request".to_owned() } else { format!("{n} requests") };
        match self {
            Self::RateLimited { retry_after: Some(s), times: n } => {
                write!(f, "429 with Retry-After: {s} to {}", times(*n))
            }
            Self::RateLimited { retry_after: None, times: n } => write!(f, "429 without Retry-After to {}", times(*n)),
            Self::ServerErrors { statuses, times: n } => write!(f, "HTTP {statuses:?} to {}", times(*n)),
            Self::Slow { delay, times: n } => write!(f, "answers {delay:?} late to {}", times(*n)),
            Self::Truncated => f.write_str("JSON cut off half-way"),
            Self::Malformed => f.write_str("a body that is not JSON"),
            Self::RepeatingPage => f.write_str("a page, cursor or next link that repeats forever"),
            Self::EmptyFirstPage => f.write_str("an empty first page that says more follow"),
            Self::TokenExpiresMidListing => f.write_str("the access token expires mid-listing"),
            Self::Unauthorized => f.write_str("401 to every request"),
            Self::HugeBody { bytes } => write!(f, "a body of {bytes} bytes"),
            Self::UnmappableRecord => f.write_str("a record with an unmappable status"),
            Self::MissingSourceId => f.write_str("a record without its source id"),
        }
    }
}

/// How a page answers under a fault that is about the answer itself (see [`Fault::answers`]):
/// what an HTTP sandbox schedules for the requests of that page, in its vendor's shapes.
pub use crate::sandbox::faults::PageFault as Answer;

impl Fault {
    /// The answers the requests for the page get, in order, each for so many requests
    /// ([`FOREVER`]: every one after), when the fault is about the page's answer; `None` for
    /// faults about the listing's flow or its records, which each sandbox injects its own way.
    pub fn answers(&self) -> Option<Vec<(Answer, u32)>> {
        let status = |status, retry_after| Answer::Status { status, retry_after };
        Some(match self {
            Self::RateLimited { retry_after, times } => vec![(status(429, *retry_after), *times)],
            Self::ServerErrors { statuses, times } => status_runs(statuses, *times),
            Self::Slow { delay, times } => vec![(Answer::Delay(*delay), *times)],
            Self::Truncated => vec![(Answer::Truncated, FOREVER)],
            Self::Malformed => vec![(Answer::Malformed, FOREVER)],
            Self::Unauthorized => vec![(status(401, None), FOREVER)],
            Self::HugeBody { bytes } => vec![(Answer::Huge(*bytes), FOREVER)],
            Self::RepeatingPage
            | Self::EmptyFirstPage
            | Self::TokenExpiresMidListing
            | Self::UnmappableRecord
            | Self::MissingSourceId => return None,
        })
    }
}

/// `statuses` in turn for `times` requests; for ever, the last one repeats once each came once.
fn status_runs(statuses: &[u16], times: u32) -> Vec<(Answer, u32)> {
    let answer = |status: &u16| Answer::Status { status: *status, retry_after: None };
    if times == FOREVER {
        let mut runs: Vec<_> = statuses.iter().map(|s| (answer(s), 1)).collect();
        if let Some(last) = runs.last_mut() {
            last.1 = FOREVER;
        }
        return runs;
    }
    statuses.iter().cycle().take(times as usize).map(|s| (answer(s), 1)).collect()
}

/// A sandbox cannot inject a fault, and why: the kit skips the case with a printed note (a
/// connector without access tokens has no token to expire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// What a connector's test implements for its sandbox so the kit can run every case against it.
#[async_trait]
pub trait FaultySandbox: Sized + Send + Sync {
    /// The connector's id, for messages.
    const CONNECTOR: &'static str;

    /// Starts a sandbox serving `org`, in pages of about [`PAGE_SIZE`] records (the kit fails a
    /// case whose fault-free listing takes fewer than three pages).
    async fn start(org: &Org) -> Result<Self, String>;

    /// A new connection to this sandbox, made through the registry the way an admin's
    /// configuration is, with `ctx` (it carries the kit's HTTP options: quick retries, and for
    /// some cases a short request timeout or a small body limit).
    fn connect(&self, ctx: &ConnectContext) -> Result<Box<dyn Connector>, String>;

    /// The source id of every record a complete listing of the organisation must produce.
    fn expected_source_ids(&self) -> BTreeSet<String>;

    /// Arms `fault` at page `page` (1-based) of the listing. Called once per case, after the
    /// fault-free reference listing and before the faulty one.
    fn inject(&self, fault: &Fault, page: u32) -> Result<(), Unsupported>;

    /// Answers the sandbox has altered because of injected faults so far (an error status, a late
    /// or broken body, an empty first page, an expired token). The kit checks that a fault whose
    /// listing must still complete was met, not missed.
    fn faults_served(&self) -> u64;
}

/// Writes one `#[tokio::test]` per case of the catalogue for a [`FaultySandbox`], plus a test
/// that the list below is the whole catalogue, so a failure names its case. The test crate needs
/// `tokio` (with its `macros` feature) among its dev-dependencies:
///
/// ```ignore
/// roster_core::conformance_tests!(UkgSandbox);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($sandbox:ty) => {
        $crate::conformance_tests!(@cases $sandbox;
            baseline,
            rate_limited_without_retry_after,
            rate_limited_with_retry_after,
            rate_limited_beyond_retries,
            server_errors_then_success,
            server_errors_beyond_retries,
            slow_answer_once,
            slow_answer_always,
            truncated_json,
            malformed_json,
            repeating_page,
            empty_first_page,
            token_expires_mid_listing,
            unauthorized_mid_listing,
            huge_body,
            unmappable_record,
            missing_source_id,
        );
    };
    (@cases $sandbox:ty; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::testkit::check::<$sandbox>($crate::testkit::cases::$case()).await;
            }
        )+

        #[test]
        fn every_conformance_case_has_a_test() {
            let generated = [$(stringify!($case)),+];
            let catalogue: Vec<&str> = $crate::testkit::cases::all().iter().map(|c| c.name).collect();
            assert_eq!(generated.as_slice(), catalogue.as_slice(), "conformance_tests! and the catalogue differ");
        }
    };
}
