//! The kit against an in-memory sandbox whose connector behaves as every connector should (it
//! must pass), and against one with the bugs the kit exists to catch (it must fail).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::cases::{self, Case, Expect};
use super::judge::{Listing, check_reference, judge};
use super::{Answer, FOREVER, Fault, FaultySandbox, PAGE_SIZE, Unsupported, Verdict, run_case};
use crate::connector::{CheckReport, ConnectContext, Connector, ListSummary, PageSink};
use crate::error::{ConnectorError, ErrorKind};
use crate::model::{EmploymentStatus, SourceUser};
use crate::sandbox::Org;

/// A sandbox without HTTP: its connector lists the organisation in pages of [`PAGE_SIZE`] and
/// plays each fault the way a correct connector meets it; with `BUGGY`, it ends a failed listing
/// with `Ok` and drops a record it cannot map.
struct Memory<const BUGGY: bool> {
    users: Vec<SourceUser>,
    armed: Mutex<Option<(Fault, u32)>>,
    served: Arc<AtomicU64>,
}

struct MemoryConnector<const BUGGY: bool> {
    users: Vec<SourceUser>,
    armed: Option<(Fault, u32)>,
    served: Arc<AtomicU64>,
}

fn record(source_id: &str, status: EmploymentStatus) -> SourceUser {
    SourceUser {
        source_id: source_id.into(),
        status,
        raw_status: Some(status.as_str().into()),
        ..SourceUser::default()
    }
}

#[async_trait]
impl<const BUGGY: bool> FaultySandbox for Memory<BUGGY> {
    const CONNECTOR: &'static str = "memory";

    async fn start(org: &Org) -> Result<Self, String> {
        let users = org.people.iter().map(|p| record(&p.employee_number, p.status)).collect();
        Ok(Self { users, armed: Mutex::new(None), served: Arc::default() })
    }

    fn connect(&self, _: &ConnectContext) -> Result<Box<dyn Connector>, String> {
        let armed = self.armed.lock().map_err(|e| e.to_string())?.clone();
        Ok(Box::new(MemoryConnector::<BUGGY> { users: self.users.clone(), armed, served: self.served.clone() }))
    }

    fn expected_source_ids(&self) -> BTreeSet<String> {
        self.users.iter().map(|u| u.source_id.to_string()).collect()
    }

    fn inject(&self, fault: &Fault, page: u32) -> Result<(), Unsupported> {
        if *fault == Fault::TokenExpiresMidListing {
            return Err(Unsupported("the memory sandbox has no tokens".into()));
        }
        *self.armed.lock().map_err(|e| Unsupported(e.to_string()))? = Some((fault.clone(), page));
        Ok(())
    }

    fn faults_served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }
}

impl<const BUGGY: bool> MemoryConnector<BUGGY> {
    /// What a correct connector makes of `fault` on `page`: an error, or the page to send.
    async fn meet(&self, fault: &Fault, number: usize, page: &mut Vec<SourceUser>) -> Result<(), ConnectorError> {
        self.served.fetch_add(1, Ordering::SeqCst);
        let fail = |kind, message: &str| Err(ConnectorError::new(kind, format!("page {number}: {message}")));
        match fault {
            Fault::RateLimited { times: FOREVER, .. } => fail(ErrorKind::RateLimited, "the rate limit was reached"),
            Fault::RateLimited { retry_after, .. } => {
                tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or_default())).await;
                Ok(())
            }
            Fault::ServerErrors { statuses, times: FOREVER } => {
                fail(ErrorKind::Unavailable, &format!("HTTP {}", statuses.first().copied().unwrap_or(500)))
            }
            Fault::Slow { times: FOREVER, .. } => fail(ErrorKind::Timeout, "no answer in time"),
            Fault::Truncated | Fault::Malformed => fail(ErrorKind::InvalidResponse, "invalid JSON at line 1 column 9"),
            Fault::RepeatingPage => fail(ErrorKind::InvalidResponse, "the page repeats the page before it"),
            Fault::Unauthorized => fail(ErrorKind::Unauthenticated, "the vendor refused the credentials (401)"),
            Fault::HugeBody { .. } => fail(ErrorKind::InvalidResponse, "the body is larger than the 1 MiB limit"),
            Fault::MissingSourceId => fail(ErrorKind::InvalidResponse, "row 1 has no id"),
            Fault::UnmappableRecord if BUGGY => {
                page.remove(0);
                Ok(())
            }
            Fault::UnmappableRecord => {
                page[0].status = EmploymentStatus::Unknown;
                page[0].raw_status = Some("Z".into());
                page[0].problems.push("unknown status `Z`".into());
                Ok(())
            }
            Fault::ServerErrors { .. } | Fault::Slow { .. } | Fault::EmptyFirstPage | Fault::TokenExpiresMidListing => {
                Ok(())
            }
        }
    }
}

#[async_trait]
impl<const BUGGY: bool> Connector for MemoryConnector<BUGGY> {
    async fn check(&self) -> CheckReport {
        CheckReport::default()
    }

    async fn list_users(&self, sink: &mut PageSink) -> Result<ListSummary, ConnectorError> {
        for (i, page) in self.users.chunks(PAGE_SIZE).enumerate() {
            let mut page = page.to_vec();
            if let Some((fault, at)) = &self.armed
                && *at as usize == i + 1
                && let Err(e) = self.meet(fault, i + 1, &mut page).await
            {
                if BUGGY {
                    // The bug: a failure taken for the end of the listing.
                    break;
                }
                return Err(e);
            }
            sink.send(page).await?;
        }
        Ok(ListSummary { users: sink.sent(), requests: 0 })
    }
}

/// A correct connector passes every case.
mod correct {
    use super::Memory;

    crate::conformance_tests!(Memory<false>);
}

#[tokio::test]
async fn a_fault_the_sandbox_cannot_inject_is_skipped() {
    let verdict = run_case::<Memory<false>>(&cases::token_expires_mid_listing()).await.unwrap();
    assert!(matches!(verdict, Verdict::Skipped(why) if why.contains("no tokens")));
}

#[tokio::test]
async fn partial_listings_and_dropped_records_fail_the_kit() {
    for case in [cases::unauthorized_mid_listing(), cases::huge_body(), cases::slow_answer_always()] {
        let problem = run_case::<Memory<true>>(&case).await.unwrap_err();
        assert!(problem.contains("returned Ok with 10 records (40 expected) instead of failing"), "{problem}");
    }
    let problem = run_case::<Memory<true>>(&cases::unmappable_record()).await.unwrap_err();
    assert!(problem.contains("39 records where 40 were expected (missing 1: `100010`"), "{problem}");
    assert!(problem.contains("a partial snapshot"), "{problem}");
}

#[tokio::test]
async fn a_fault_the_listing_never_met_fails_the_kit() {
    let case = Case { page: 99, ..cases::server_errors_then_success() };
    let problem = run_case::<Memory<false>>(&case).await.unwrap_err();
    assert!(problem.contains("without meeting the fault"), "{problem}");
}

#[tokio::test]
#[should_panic(expected = "conformance cases failed")]
async fn run_all_reports_every_failure() {
    super::run_all::<Memory<true>>().await;
}

fn listing(result: Result<Vec<SourceUser>, ConnectorError>) -> Listing {
    Listing { result, pages: 4, elapsed: Duration::from_millis(5) }
}

fn reference() -> Vec<SourceUser> {
    (1..=5).map(|i| record(&format!("u{i}"), EmploymentStatus::Active)).collect()
}

#[test]
fn complete_means_every_record_once_and_unchanged() {
    let expect = Expect::Complete { waits: Duration::ZERO };
    assert_eq!(judge(&expect, &reference(), &listing(Ok(reference()))), Ok(()));

    let mut twice = reference();
    twice.push(twice[0].clone());
    let problem = judge(&expect, &reference(), &listing(Ok(twice))).unwrap_err();
    assert!(problem.contains("holds source id `u1` twice"), "{problem}");

    let mut other = reference();
    other[4] = record("u9", EmploymentStatus::Active);
    let problem = judge(&expect, &reference(), &listing(Ok(other))).unwrap_err();
    assert!(problem.contains("(missing 1: `u5`; unexpected 1: `u9`): a partial snapshot"), "{problem}");

    let mut changed = reference();
    changed[2].status = EmploymentStatus::Unknown;
    let problem = judge(&expect, &reference(), &listing(Ok(changed))).unwrap_err();
    assert!(problem.starts_with("record `u3` differs from the fault-free listing"), "{problem}");

    let waits = Expect::Complete { waits: Duration::from_secs(1) };
    let problem = judge(&waits, &reference(), &listing(Ok(reference()))).unwrap_err();
    assert!(problem.contains("less than the 1s the vendor asked to wait"), "{problem}");

    let failed = listing(Err(ConnectorError::new(ErrorKind::Unavailable, "HTTP 503")));
    let problem = judge(&expect, &reference(), &failed).unwrap_err();
    assert!(problem.contains("failed where it should have completed: unavailable: HTTP 503"), "{problem}");
}

#[test]
fn a_failure_must_have_the_kind_and_name_the_fault() {
    let expect = Expect::Fails { kind: ErrorKind::InvalidResponse, mentions: &["json"] };
    let err = |kind, text: &str| listing(Err(ConnectorError::new(kind, text)));
    assert_eq!(judge(&expect, &reference(), &err(ErrorKind::InvalidResponse, "page 2: invalid JSON")), Ok(()));
    let problem = judge(&expect, &reference(), &err(ErrorKind::Unavailable, "invalid JSON")).unwrap_err();
    assert!(problem.contains("failed as unavailable instead of invalid_response"), "{problem}");
    let problem = judge(&expect, &reference(), &err(ErrorKind::InvalidResponse, "EOF at column 9")).unwrap_err();
    assert!(problem.contains("does not name the fault"), "{problem}");
    let problem = judge(&expect, &reference(), &listing(Ok(reference()))).unwrap_err();
    assert!(problem.contains("returned Ok with 5 records (5 expected) instead of failing"), "{problem}");
}

#[test]
fn an_unmappable_record_is_kept_as_unknown_with_its_value_and_problem() {
    let expect = Expect::KeepsUnmappable;
    let mut kept = reference();
    kept[1].status = EmploymentStatus::Unknown;
    kept[1].raw_status = Some("Z".into());
    kept[1].problems.push("unknown status `Z`".into());
    assert_eq!(judge(&expect, &reference(), &listing(Ok(kept.clone()))), Ok(()));

    let problem = judge(&expect, &reference(), &listing(Ok(reference()))).unwrap_err();
    assert!(problem.starts_with("no record differs"), "{problem}");
    let mut guessed = kept.clone();
    guessed[1].status = EmploymentStatus::Active;
    guessed[1].raw_status = None;
    guessed[1].problems.clear();
    let problem = judge(&expect, &reference(), &listing(Ok(guessed))).unwrap_err();
    for part in ["status is active instead of unknown", "raw_status is empty", "has no problem"] {
        assert!(problem.contains(part), "{part}: {problem}");
    }
    let mut two = kept;
    two[3].status = EmploymentStatus::Unknown;
    let problem = judge(&expect, &reference(), &listing(Ok(two))).unwrap_err();
    assert!(problem.starts_with("2 records differ"), "{problem}");
}

#[test]
fn the_reference_must_be_complete_and_paged() {
    let expected: BTreeSet<String> = reference().iter().map(|u| u.source_id.to_string()).collect();
    assert_eq!(check_reference(&expected, &listing(Ok(reference()))), Ok(()));
    let short = Listing { pages: 1, ..listing(Ok(reference())) };
    let problem = check_reference(&expected, &short).unwrap_err();
    assert!(problem.contains("came in 1 pages; the kit needs at least 3"), "{problem}");
    let problem = check_reference(&expected, &listing(Ok(reference()[..4].to_vec()))).unwrap_err();
    assert!(problem.starts_with("the fault-free listing is wrong"), "{problem}");
}

#[test]
fn answer_faults_become_per_request_plans() {
    let status = |status| Answer::Status { status, retry_after: None };
    let plan = Fault::ServerErrors { statuses: vec![500, 502], times: 3 }.answers().unwrap();
    assert_eq!(plan, [(status(500), 1), (status(502), 1), (status(500), 1)]);
    let plan = Fault::ServerErrors { statuses: vec![500, 502], times: FOREVER }.answers().unwrap();
    assert_eq!(plan, [(status(500), 1), (status(502), FOREVER)]);
    let plan = Fault::RateLimited { retry_after: Some(1), times: 2 }.answers().unwrap();
    assert_eq!(plan, [(Answer::Status { status: 429, retry_after: Some(1) }, 2)]);
    assert_eq!(Fault::Unauthorized.answers().unwrap(), [(status(401), FOREVER)]);
    for flow in [Fault::RepeatingPage, Fault::EmptyFirstPage, Fault::UnmappableRecord, Fault::MissingSourceId] {
        assert_eq!(flow.answers(), None, "{flow}");
    }
}

#[test]
fn the_catalogue_has_unique_names_and_sane_options() {
    let all = cases::all();
    let names: BTreeSet<&str> = all.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), all.len());
    assert!(all.iter().filter(|c| c.fault.is_none()).count() == 1, "one baseline");
    let slow = cases::slow_answer_always().http_options();
    assert!(slow.request_timeout < cases::SLOW_DELAY && slow.max_retries >= 1);
    let huge = cases::huge_body();
    assert!(matches!(huge.fault, Some(Fault::HugeBody { bytes }) if bytes > huge.http_options().max_body_bytes));
}
