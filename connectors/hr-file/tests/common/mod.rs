//! Helpers shared by the tests: settings from TOML, a connection, a listing.

#![allow(dead_code, reason = "each test file uses its own part")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers fail the test by panicking")]

pub(crate) mod export;

use std::path::Path;

use chrono::NaiveDate;
use roster_core::{CheckReport, Connector, ConnectorError, SourceUser, collect_users};
use roster_hr_file::{Credentials, HrFileConnector};

/// The day the fixtures' dates are read against.
pub(crate) fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
}

/// A connection from a `[connections.NAME]` table written as TOML, paths relative to `dir`.
pub(crate) fn connect(toml: &str, dir: &Path) -> HrFileConnector {
    let value: toml::Value = toml::from_str(toml).expect("valid TOML");
    let json = serde_json::to_value(value).unwrap();
    let credentials: Credentials = roster_core::credentials::parse(&json).expect("valid settings");
    HrFileConnector::new(credentials.resolve(dir).expect("valid settings"), today())
}

/// Every user of a listing.
pub(crate) fn list(connector: &HrFileConnector) -> Result<Vec<SourceUser>, ConnectorError> {
    runtime().block_on(collect_users(connector))
}

/// The check's probes as `name: ok message` or `name: error message`.
pub(crate) fn check(connector: &HrFileConnector) -> Vec<String> {
    let report: CheckReport = runtime().block_on(connector.check());
    report
        .probes
        .into_iter()
        .map(|p| match p.result {
            Ok(m) => format!("{}: ok {m}", p.name),
            Err(e) => format!("{}: error {e}", p.name),
        })
        .collect()
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}
