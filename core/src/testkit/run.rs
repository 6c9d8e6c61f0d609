//! Running cases against a sandbox: a fault-free reference listing, the fault, the faulty
//! listing, the verdict.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::cases::{self, Case, Expect};
use super::judge::{Listing, check_reference, judge};
use super::{FaultySandbox, Unsupported, org, today};
use crate::connector::{ConnectContext, Connector, PageSink};
use crate::http::HttpOptions;

/// The longest a listing may take before the kit calls it hung: far more than any case needs.
pub const LISTING_DEADLINE: Duration = Duration::from_secs(30);

/// How a case ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The listing ended as the case expects.
    Passed,
    /// The sandbox cannot inject the fault, for this reason.
    Skipped(String),
}

/// Runs `case` against a new sandbox of `S`: `Ok` with the verdict, or `Err` saying what went
/// wrong, in words a failing test can print.
pub async fn run_case<S: FaultySandbox>(case: &Case) -> Result<Verdict, String> {
    let sandbox = S::start(&org()).await.map_err(|e| format!("the sandbox does not start: {e}"))?;
    let expected = sandbox.expected_source_ids();
    let reference_options = HttpOptions { max_pages: 1_000, ..HttpOptions::fast() };
    let reference = list(&*sandbox.connect(&context(reference_options))?).await?;
    check_reference(&expected, &reference)?;
    let Some(fault) = &case.fault else {
        // The baseline: the fault-free listing is the case.
        return Ok(Verdict::Passed);
    };
    let reference = reference.result.unwrap_or_default();

    if let Err(Unsupported(why)) = sandbox.inject(fault, case.page) {
        return Ok(Verdict::Skipped(why));
    }
    let served = sandbox.faults_served();
    let listing = list(&*sandbox.connect(&context(case.http_options()))?).await?;
    judge(&case.expect, &reference, &listing)?;
    if matches!(case.expect, Expect::Complete { .. }) && sandbox.faults_served() == served {
        return Err("the listing completed without meeting the fault: the sandbox served no faulty answer (is it \
                    armed at a page the listing asks for?)"
            .to_owned());
    }
    Ok(Verdict::Passed)
}

/// Runs `case` and panics, naming the connector, the case, the fault and what happened, unless
/// the listing ended as the case expects. A case the sandbox cannot inject is skipped with a note
/// on standard error.
///
/// # Panics
/// When the case fails: that is how a test reports it.
pub async fn check<S: FaultySandbox>(case: Case) {
    match run_case::<S>(&case).await {
        Ok(Verdict::Passed) => {}
        // A test-support function: standard error is where the test harness shows notes.
        Ok(Verdict::Skipped(why)) => eprintln!("note: {}", skipped::<S>(&case, &why)),
        Err(problem) => panic!("{}", failed::<S>(&case, &problem)),
    }
}

/// Runs every case of the catalogue, then panics with every failure at once, if any.
///
/// # Panics
/// When a case fails.
pub async fn run_all<S: FaultySandbox>() {
    let mut failures = Vec::new();
    for case in cases::all() {
        match run_case::<S>(&case).await {
            Ok(Verdict::Passed) => {}
            Ok(Verdict::Skipped(why)) => eprintln!("note: {}", skipped::<S>(&case, &why)),
            Err(problem) => failures.push(failed::<S>(&case, &problem)),
        }
    }
    assert!(failures.is_empty(), "{} conformance cases failed:\n{}", failures.len(), failures.join("\n"));
}

fn failed<S: FaultySandbox>(case: &Case, problem: &str) -> String {
    format!("{} conformance, case `{}` ({}): {problem}", S::CONNECTOR, case.name, what(case))
}

fn skipped<S: FaultySandbox>(case: &Case, why: &str) -> String {
    format!("{} conformance, case `{}` ({}) skipped: {why}", S::CONNECTOR, case.name, what(case))
}

fn what(case: &Case) -> String {
    match &case.fault {
        None => "no fault".to_owned(),
        Some(fault) => format!("{fault} at page {}", case.page),
    }
}

fn context(http: HttpOptions) -> ConnectContext {
    ConnectContext { today: today(), http, base_dir: PathBuf::from(".") }
}

/// Lists into a sink the way the host does, counting the pages that reach it.
async fn list(connector: &dyn Connector) -> Result<Listing, String> {
    let started = Instant::now();
    let (mut sink, mut rx) = PageSink::channel(4);
    let listing = async move {
        let result = connector.list_users(&mut sink).await;
        drop(sink);
        result
    };
    let receiving = async {
        let (mut users, mut pages) = (Vec::new(), 0);
        while let Some(page) = rx.recv().await {
            pages += 1;
            users.extend(page);
        }
        (users, pages)
    };
    let (result, (users, pages)) = tokio::time::timeout(LISTING_DEADLINE, async { tokio::join!(listing, receiving) })
        .await
        .map_err(|_| format!("the listing did not end within {LISTING_DEADLINE:?}: it hangs or loops"))?;
    let result = match result {
        Ok(summary) if summary.users != users.len() as u64 => {
            return Err(format!(
                "the listing's summary says {} users, but the sink received {}",
                summary.users,
                users.len()
            ));
        }
        Ok(_) => Ok(users),
        Err(e) => Err(e),
    };
    Ok(Listing { result, pages, elapsed: started.elapsed() })
}
