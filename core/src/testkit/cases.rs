//! The catalogue: every case the kit runs, what it injects and what it must end in.

use std::time::Duration;

use super::{FAULT_PAGE, FOREVER, Fault};
use crate::error::ErrorKind;
use crate::http::HttpOptions;

/// The request timeout of the slow-answer cases: short, so that a late answer costs little.
pub const SLOW_TIMEOUT: Duration = Duration::from_millis(500);

/// How late a slow answer comes: well past [`SLOW_TIMEOUT`].
pub const SLOW_DELAY: Duration = Duration::from_secs(2);

/// The body limit of the huge-body case.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What a case's faulty listing must end in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Complete: every record of the reference listing, equal to it, none twice, after at least
    /// `waits` (what a `Retry-After` asked for).
    Complete {
        /// The least the listing must have taken.
        waits: Duration,
    },
    /// Failed, with this kind, and a message (cause chain included, case ignored) that mentions
    /// at least one of these words: it names the fault.
    Fails {
        /// The error kind.
        kind: ErrorKind,
        /// Words of which the message must hold one, in lower case.
        mentions: &'static [&'static str],
    },
    /// Complete, with the faulty record kept: status `unknown`, the vendor's raw value in
    /// `raw_status`, and at least one problem; every other record equal to the reference.
    KeepsUnmappable,
}

/// One case: a fault at a page, and what the listing must end in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The case's name, which is also its test's name.
    pub name: &'static str,
    /// The fault to inject; none for the baseline.
    pub fault: Option<Fault>,
    /// The page (1-based) the fault strikes.
    pub page: u32,
    /// What the listing must end in.
    pub expect: Expect,
}

impl Case {
    fn new(name: &'static str, fault: Fault, expect: Expect) -> Self {
        Self { name, fault: Some(fault), page: FAULT_PAGE, expect }
    }

    /// The HTTP options the faulty listing runs with: quick retries, few pages allowed, and what
    /// the fault needs (a short timeout for a slow answer, a small body limit for a huge body).
    pub fn http_options(&self) -> HttpOptions {
        let mut options = HttpOptions { max_pages: 1_000, ..HttpOptions::fast() };
        match &self.fault {
            Some(Fault::Slow { .. }) => {
                options.request_timeout = SLOW_TIMEOUT;
                // Two retries: enough to get past one late answer, and a quick end to many.
                options.max_retries = 2;
            }
            Some(Fault::HugeBody { .. }) => options.max_body_bytes = BODY_LIMIT,
            _ => {}
        }
        options
    }
}

const fn complete() -> Expect {
    Expect::Complete { waits: Duration::ZERO }
}

/// No fault: the listing is complete and holds exactly the expected records.
pub fn baseline() -> Case {
    Case { name: "baseline", fault: None, page: FAULT_PAGE, expect: complete() }
}

/// Two 429s without `Retry-After`: backed off and retried.
pub fn rate_limited_without_retry_after() -> Case {
    Case::new("rate_limited_without_retry_after", Fault::RateLimited { retry_after: None, times: 2 }, complete())
}

/// A 429 with `Retry-After: 1`: the listing waits a second, then completes.
pub fn rate_limited_with_retry_after() -> Case {
    Case::new(
        "rate_limited_with_retry_after",
        Fault::RateLimited { retry_after: Some(1), times: 1 },
        Expect::Complete { waits: Duration::from_secs(1) },
    )
}

/// 429 to every request: the listing fails as rate limited once the retries are spent.
pub fn rate_limited_beyond_retries() -> Case {
    Case::new(
        "rate_limited_beyond_retries",
        Fault::RateLimited { retry_after: None, times: FOREVER },
        Expect::Fails { kind: ErrorKind::RateLimited, mentions: &["rate limit", "throttl", "429"] },
    )
}

/// A burst of 500, 502 and 503, then success.
pub fn server_errors_then_success() -> Case {
    Case::new("server_errors_then_success", Fault::ServerErrors { statuses: vec![500, 502, 503], times: 3 }, complete())
}

/// 502 to every request: the listing fails as unavailable once the retries are spent.
pub fn server_errors_beyond_retries() -> Case {
    Case::new(
        "server_errors_beyond_retries",
        Fault::ServerErrors { statuses: vec![502], times: FOREVER },
        Expect::Fails { kind: ErrorKind::Unavailable, mentions: &["502"] },
    )
}

/// One answer slower than the timeout: retried, and the listing completes.
pub fn slow_answer_once() -> Case {
    Case::new("slow_answer_once", Fault::Slow { delay: SLOW_DELAY, times: 1 }, complete())
}

/// Every answer slower than the timeout: the listing fails as timed out.
pub fn slow_answer_always() -> Case {
    Case::new(
        "slow_answer_always",
        Fault::Slow { delay: SLOW_DELAY, times: FOREVER },
        Expect::Fails { kind: ErrorKind::Timeout, mentions: &["in time", "timeout", "timed out", "no answer"] },
    )
}

/// A page whose JSON is cut off: an invalid response, never a shorter page.
pub fn truncated_json() -> Case {
    Case::new(
        "truncated_json",
        Fault::Truncated,
        Expect::Fails { kind: ErrorKind::InvalidResponse, mentions: &["json", "truncat"] },
    )
}

/// A page that is not JSON: an invalid response.
pub fn malformed_json() -> Case {
    Case::new(
        "malformed_json",
        Fault::Malformed,
        Expect::Fails { kind: ErrorKind::InvalidResponse, mentions: &["json", "malformed"] },
    )
}

/// A page, cursor or next link that repeats forever: an invalid response, never a loop.
pub fn repeating_page() -> Case {
    Case::new(
        "repeating_page",
        Fault::RepeatingPage,
        Expect::Fails { kind: ErrorKind::InvalidResponse, mentions: &["repeat", "twice", "more than"] },
    )
}

/// An empty first page that says more follow: the listing goes on and completes.
pub fn empty_first_page() -> Case {
    Case { page: 1, ..Case::new("empty_first_page", Fault::EmptyFirstPage, complete()) }
}

/// The access token expires in the middle of the listing: renewed, and the listing completes.
pub fn token_expires_mid_listing() -> Case {
    Case::new("token_expires_mid_listing", Fault::TokenExpiresMidListing, complete())
}

/// 401 to every request for a page in the middle: the listing fails as unauthenticated.
pub fn unauthorized_mid_listing() -> Case {
    Case::new(
        "unauthorized_mid_listing",
        Fault::Unauthorized,
        Expect::Fails { kind: ErrorKind::Unauthenticated, mentions: &["401", "credentials", "refused", "unauthori"] },
    )
}

/// A body far larger than any real page: refused past the limit, never read whole.
pub fn huge_body() -> Case {
    Case::new(
        "huge_body",
        Fault::HugeBody { bytes: 4 * BODY_LIMIT },
        Expect::Fails { kind: ErrorKind::InvalidResponse, mentions: &["larger than"] },
    )
}

/// A record with a status nobody mapped: kept as unknown, with its raw value and a problem.
pub fn unmappable_record() -> Case {
    Case::new("unmappable_record", Fault::UnmappableRecord, Expect::KeepsUnmappable)
}

/// A record without its source id: the listing fails rather than guess who it is.
pub fn missing_source_id() -> Case {
    Case::new(
        "missing_source_id",
        Fault::MissingSourceId,
        Expect::Fails { kind: ErrorKind::InvalidResponse, mentions: &["has no", "without", "missing"] },
    )
}

/// Every case, in the order [`conformance_tests!`](crate::conformance_tests) writes them.
pub fn all() -> Vec<Case> {
    vec![
        baseline(),
        rate_limited_without_retry_after(),
        rate_limited_with_retry_after(),
        rate_limited_beyond_retries(),
        server_errors_then_success(),
        server_errors_beyond_retries(),
        slow_answer_once(),
        slow_answer_always(),
        truncated_json(),
        malformed_json(),
        repeating_page(),
        empty_first_page(),
        token_expires_mid_listing(),
        unauthorized_mid_listing(),
        huge_body(),
        unmappable_record(),
        missing_source_id(),
    ]
}
