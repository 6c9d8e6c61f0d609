//! The common user model every connector maps into.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Whether a source says someone works here, in the vocabulary of DESIGN.md.
///
/// Connectors never default an unrecognised vendor value to [`EmploymentStatus::Active`]: it maps
/// to [`EmploymentStatus::Unknown`], and the raw value is kept beside it in
/// [`SourceUser::raw_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentStatus {
    /// Hired, with a hire date still ahead.
    PreHire,
    /// Working.
    Active,
    /// Still employed but not working now: leave of absence, suspension, strike.
    OnLeave,
    /// An identity-provider account that is disabled, suspended or archived.
    Disabled,
    /// No longer employed.
    Terminated,
    /// A vendor value nobody mapped. The default: nothing is active until a source says so.
    #[default]
    Unknown,
}

impl EmploymentStatus {
    /// Every status, in the order they are documented.
    pub const ALL: [Self; 6] =
        [Self::PreHire, Self::Active, Self::OnLeave, Self::Disabled, Self::Terminated, Self::Unknown];

    /// The name used in TOML, JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreHire => "pre_hire",
            Self::Active => "active",
            Self::OnLeave => "on_leave",
            Self::Disabled => "disabled",
            Self::Terminated => "terminated",
            Self::Unknown => "unknown",
        }
    }

    /// How strongly the status says "employed", used to combine several records of one person
    /// from one source (a person employed in two companies of one UKG tenant is employed).
    /// `unknown` ranks above the statuses that say "gone": one record we cannot read is enough
    /// doubt not to call the person gone.
    pub fn employment_rank(self) -> u8 {
        match self {
            Self::Active => 6,
            Self::OnLeave => 5,
            Self::PreHire => 4,
            Self::Unknown => 3,
            Self::Disabled => 2,
            Self::Terminated => 1,
        }
    }
}

impl fmt::Display for EmploymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EmploymentStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|v| v.as_str()).collect();
            format!("unknown employment status `{s}`, expected one of {}", known.join(", "))
        })
    }
}

/// How a source points at someone's manager.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagerRef {
    /// The manager's source id in the same source (UKG's `supervisorID` within the company).
    SourceId(CompactString),
    /// The manager's email address (Google's `relations`).
    Email(CompactString),
}

/// One user record as one source reports it, mapped to the common model.
///
/// Only what the lifecycle and the people list need is here; connectors never parse anything else
/// (no national ids, birth dates or home addresses) into it.
///
/// Its text is [`CompactString`]: most values are short enough to sit inside the record, so a
/// record is one allocation and a few more for long emails and names, not twelve, and reading its
/// fields reads the record's own memory (at 3 x 1M records, resolving peaked half a gigabyte
/// lower: docs/performance.md).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceUser {
    /// The record's stable id in its source (UKG: `companyId/employeeId`; Entra: object id).
    pub source_id: CompactString,
    /// The source's own id of the *person*, when one person can hold several records in one
    /// source (UKG's `personId` across companies). Records sharing it are always one person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<CompactString>,
    /// The employee number people and other systems know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<CompactString>,
    /// Primary email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<CompactString>,
    /// Other email addresses of the same person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<CompactString>,
    /// Given name (the preferred name where the source has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<CompactString>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<CompactString>,
    /// Name to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<CompactString>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<CompactString>,
    /// A stable key of the role (UKG's `primaryJobCode`), when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_code: Option<CompactString>,
    /// Department or organisation unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<CompactString>,
    /// The manager, as the source refers to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<ManagerRef>,
    /// The mapped employment status.
    pub status: EmploymentStatus,
    /// The vendor's own status value, kept beside the mapped one (e.g. `T`, `accountEnabled=false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<CompactString>,
    /// Most recent hire date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hire_date: Option<NaiveDate>,
    /// Termination date (past or pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_date: Option<NaiveDate>,
    /// The source marks this account as a guest, not a member of the organisation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guest: bool,
    /// What the mapping could not make sense of. A record with problems is kept, never dropped:
    /// a dropped person would read as a person who left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl SourceUser {
    /// Every email address of the record, the primary first.
    pub fn emails(&self) -> impl Iterator<Item = &str> {
        self.email.iter().chain(self.aliases.iter()).map(CompactString::as_str)
    }
}

/// `value` without leading and trailing whitespace, as [`str::trim`] gives it. Most values start
/// and end with a visible ASCII character, which no Unicode whitespace is: those are returned
/// without scanning (`str::trim` decodes a character at each end: 5% of the time spent parsing
/// UKG pages in a profile of a million-person sync).
pub fn trim(value: &str) -> &str {
    match (value.as_bytes().first(), value.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        _ => value.trim(),
    }
}

/// Whether a person counts as working here, as the lifecycle decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// A current employee.
    Current,
    /// A past employee (or one not yet started).
    Past,
    /// Not one of the company's people: an outside email domain, or a guest account.
    External,
    /// An account that no source of truth knows.
    Orphan,
}

impl Lifecycle {
    /// Every lifecycle value.
    pub const ALL: [Self; 4] = [Self::Current, Self::Past, Self::External, Self::Orphan];

    /// The name used in TOML, JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Past => "past",
            Self::External => "external",
            Self::Orphan => "orphan",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Lifecycle {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown lifecycle `{s}`, expected one of current, past, external, orphan"))
    }
}

/// Parses the date part of a vendor timestamp (`2024-03-01`, `2024-03-01T00:00:00`,
/// `2024-03-01T00:00:00.000Z`). Vendors differ in the time and zone they append; only the day
/// matters to the lifecycle.
pub fn parse_vendor_date(value: &str) -> Option<NaiveDate> {
    let day = value.trim().get(..10)?;
    // `YYYY-MM-DD` read directly (a listing has millions of dates); anything else as chrono does.
    match day.as_bytes() {
        &[y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2]
            if [y1, y2, y3, y4, m1, m2, d1, d2].iter().all(u8::is_ascii_digit) =>
        {
            let n = |digits: &[u8]| digits.iter().fold(0_u32, |n, d| n * 10 + u32::from(d - b'0'));
            let year = i32::try_from(n(&[y1, y2, y3, y4])).ok()?;
            NaiveDate::from_ymd_opt(year, n(&[m1, m2]), n(&[d1, d2]))
        }
        _ => NaiveDate::parse_from_str(day, "%Y-%m-%d").ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in EmploymentStatus::ALL {
            assert_eq!(s.as_str().parse::<EmploymentStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("employed".parse::<EmploymentStatus>().unwrap_err().contains("pre_hire, active"));
    }

    #[test]
    fn vendor_dates() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(parse_vendor_date("2024-03-01"), Some(d));
        assert_eq!(parse_vendor_date("2024-03-01T00:00:00"), Some(d));
        assert_eq!(parse_vendor_date("2024-03-01T00:00:00.000Z"), Some(d));
        assert_eq!(parse_vendor_date("03/01/2024"), None);
        assert_eq!(parse_vendor_date("2024-02-30"), None, "no such day");
        assert_eq!(parse_vendor_date("2024-13-01"), None, "no such month");
        assert_eq!(parse_vendor_date("2024-3-1T00:00"), None, "read as chrono reads it");
        assert_eq!(parse_vendor_date(" 2024-03-01 "), Some(d));
        assert_eq!(parse_vendor_date(""), None);
    }
}
