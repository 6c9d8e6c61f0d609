//! The lifecycle policy: which sources decide, in what order, and how.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How the sources of truth combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// For each person, the highest-ranked source of truth that has a record for them decides.
    #[default]
    Precedence,
    /// Current while any listed source has them active.
    AnyActive,
}

/// The keys people are matched on across connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// Primary email and aliases, case-insensitively.
    Email,
    /// The employee number, case-insensitively.
    EmployeeId,
}

/// Whether people on leave count as current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnLeave {
    /// Still employed, so current (the default).
    #[default]
    Current,
    /// Not working now, so past.
    Past,
}

/// A person's attributes that can have their own source precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// Primary email address.
    Email,
    /// Employee number.
    EmployeeId,
    /// Given name.
    FirstName,
    /// Family name.
    LastName,
    /// Name to show.
    DisplayName,
    /// Job title.
    Role,
    /// Department.
    Department,
    /// Manager.
    Manager,
}

impl Attribute {
    /// Every attribute, in output order.
    pub const ALL: [Self; 8] = [
        Self::Email,
        Self::EmployeeId,
        Self::FirstName,
        Self::LastName,
        Self::DisplayName,
        Self::Role,
        Self::Department,
        Self::Manager,
    ];

    /// Its place in [`Attribute::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The name used in TOML and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::EmployeeId => "employee_id",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::DisplayName => "display_name",
            Self::Role => "role",
            Self::Department => "department",
            Self::Manager => "manager",
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resolved policy the lifecycle engine runs, as `[lifecycle]` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Connection names of the sources of truth, highest precedence first.
    pub sources: Vec<String>,
    /// How the sources combine.
    pub mode: Mode,
    /// The company's email domains, lowercase. Empty: nobody is external by domain.
    pub domains: Vec<String>,
    /// Keys to match people on, in order.
    pub match_on: Vec<MatchKey>,
    /// Whether on-leave people are current.
    pub on_leave: OnLeave,
    /// Per-attribute source precedence; an attribute not listed follows `sources`.
    pub attributes: BTreeMap<Attribute, Vec<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            mode: Mode::Precedence,
            domains: Vec::new(),
            match_on: vec![MatchKey::Email, MatchKey::EmployeeId],
            on_leave: OnLeave::Current,
            attributes: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// Whether `domain` (any case) is one of the company's.
    pub fn is_company_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}
