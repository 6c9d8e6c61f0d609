//! A resolved person and why their lifecycle is what it is.

use std::fmt;

use chrono::NaiveDate;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::shared::{Name, NameSet, Provenance, Trace, read_exact, read_name, read_some_name};
use crate::model::{EmploymentStatus, Lifecycle};

/// One source record of a person, as output lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// Connection name.
    #[serde(deserialize_with = "read_name")]
    pub connection: Name,
    /// The record's id in that source.
    pub source_id: CompactString,
    /// Its mapped status.
    pub status: EmploymentStatus,
    /// The vendor's own status value.
    pub raw_status: Option<CompactString>,
}

/// The rule that decided a person's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// The deciding source's record says this status.
    Status {
        /// The (combined) status of the deciding source's records.
        status: EmploymentStatus,
    },
    /// The deciding source lists them with a hire date still ahead: not current yet.
    PreHire {
        /// When they start.
        hire_date: Option<NaiveDate>,
    },
    /// The deciding source's status could not be mapped: the previous lifecycle is kept.
    UnknownStatus {
        /// The vendor's value.
        raw_status: Option<CompactString>,
    },
    /// Seen before in the deciding source's complete snapshot, absent from the latest one.
    Absent,
    /// None of their email addresses is in the company's domains.
    ExternalDomain {
        /// The domain of their primary address.
        domain: String,
    },
    /// Every account of theirs is a guest account.
    Guest,
    /// No source of truth has a record of them.
    NoSourceOfTruth,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status { status } => write!(f, "status is {status}"),
            Self::PreHire { hire_date: Some(d) } => write!(f, "pre-hire, starts on {d}"),
            Self::PreHire { hire_date: None } => f.write_str("pre-hire"),
            Self::UnknownStatus { raw_status } => write!(
                f,
                "status `{}` is not mapped; previous lifecycle kept, flagged for review",
                raw_status.as_deref().unwrap_or("")
            ),
            Self::Absent => f.write_str("absent from the latest complete snapshot after having been seen there"),
            Self::ExternalDomain { domain } => write!(f, "email domain `{domain}` is not one of the company's"),
            Self::Guest => f.write_str("guest account"),
            Self::NoSourceOfTruth => f.write_str("no source of truth has a record"),
        }
    }
}

/// What a source of truth said about a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Said {
    /// Its latest complete snapshot lists them (with the status beside it).
    Listed,
    /// It listed them before; its latest complete snapshot does not.
    Absent,
    /// It has never listed them.
    NotListed,
    /// It has no complete snapshot yet, so it cannot say anything.
    NoSnapshot,
}

/// What the resolver did with a source of truth's say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Its say decided the lifecycle.
    Decided,
    /// A higher-ranked source of truth decided (`precedence`, or `any-active` once one is active).
    Outranked {
        /// The connection that decided.
        #[serde(deserialize_with = "read_name")]
        by: Name,
    },
    /// `any-active`: it ranks higher, but does not have them active, so a lower source decided.
    NotActive {
        /// The connection that decided.
        #[serde(deserialize_with = "read_name")]
        by: Name,
    },
    /// It has nothing to say about them.
    Silent,
    /// The person is external; no source of truth decides for them.
    External,
}

/// One source of truth's part in a person's lifecycle: the trace `roster explain` prints.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Verdict {
    /// Connection name.
    #[serde(deserialize_with = "read_name")]
    pub connection: Name,
    /// Its rank among the sources of truth, 1 first.
    pub rank: usize,
    /// What it said.
    pub said: Said,
    /// The (combined) status of its records, when it lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EmploymentStatus>,
    /// The vendor's value behind `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<CompactString>,
    /// What came of it.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.said, self.status) {
            (Said::Listed, Some(status)) => {
                write!(f, "lists them as {status}")?;
                if let Some(raw) = self.raw_status.as_deref().filter(|r| *r != status.as_str()) {
                    write!(f, " (`{raw}`)")?;
                }
            }
            (Said::Listed, None) => f.write_str("lists them")?,
            (Said::Absent, _) => f.write_str("listed them before, not any more")?,
            (Said::NotListed, _) => f.write_str("has no record of them")?,
            (Said::NoSnapshot, _) => f.write_str("has no complete snapshot yet")?,
        }
        match &self.outcome {
            Outcome::Decided => f.write_str(": decided"),
            Outcome::Outranked { by } => write!(f, ": passed over, `{by}` ranks higher and decided"),
            Outcome::NotActive { by } => {
                write!(f, ": passed over, not active here (any-active), `{by}` has them active")
            }
            Outcome::Silent => f.write_str(": passed over, nothing to say"),
            Outcome::External => f.write_str(": not consulted, the person is external"),
        }
    }
}

/// A person: records from several connections matched into one identity, with the lifecycle the
/// policy gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Stable identity across runs (the first record's `connection:source_id` when first seen).
    pub key: CompactString,
    /// Primary email.
    pub email: Option<CompactString>,
    /// Every other email address of the person, across sources.
    #[serde(deserialize_with = "read_exact")]
    pub aliases: Vec<CompactString>,
    /// Employee number.
    pub employee_id: Option<CompactString>,
    /// Given name.
    pub first_name: Option<CompactString>,
    /// Family name.
    pub last_name: Option<CompactString>,
    /// Name to show.
    pub display_name: Option<CompactString>,
    /// Job title.
    pub role: Option<CompactString>,
    /// Department.
    pub department: Option<CompactString>,
    /// Manager's email (or the source's id for them when their email is unknown).
    pub manager: Option<CompactString>,
    /// Status from the deciding source (or the best-ranked record); `None` when no source lists
    /// them any more.
    pub status: Option<EmploymentStatus>,
    /// What the policy makes of them.
    pub lifecycle: Lifecycle,
    /// The connection whose say decided the lifecycle.
    #[serde(deserialize_with = "read_some_name")]
    pub decided_by: Option<Name>,
    /// Why.
    pub rule: Rule,
    /// What each source of truth said, in rank order, and what came of it.
    #[serde(default)]
    pub trace: Trace,
    /// Needs a person to look at it (an unmapped status, a mapping problem).
    pub review: bool,
    /// Which connection each attribute came from.
    pub provenance: Provenance,
    /// Current source records.
    #[serde(deserialize_with = "read_exact")]
    pub records: Vec<PersonRecord>,
    /// Connections whose complete snapshots have listed them at some point.
    pub seen_in: NameSet,
    /// Whether they have ever been current (a return is `rejoined`, not `joined`).
    pub was_current: bool,
}
