//! The `[connections.NAME]` table of an HR file connection: where the file is, how it is written,
//! which column holds what, and what its status values mean.
//!
//! Nothing here is secret: the file's path is a setting, and the file itself is read only when a
//! check or a sync runs. Every problem is reported at once by [`Credentials::resolve`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use roster_core::{ConfigProblem, CredentialsError, EmploymentStatus};
use schemars::JsonSchema;
use serde::Deserialize;

/// An HR system's export: a CSV, JSON or NDJSON file, its column mapping and its status values.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The export file. A relative path is relative to the configuration file's folder.
    #[schemars(title = "File path", length(min = 1))]
    pub path: String,

    /// How the file is written: `csv` (a header row, then one person per row), `json` (an array of
    /// objects) or `ndjson` (one object per line). By default, from the file's extension
    /// (`.csv`, `.json`, `.ndjson` or `.jsonl`).
    #[serde(default)]
    #[schemars(title = "Format")]
    pub format: Option<Format>,

    /// The CSV field delimiter: one character, `,` by default (`;` and tab are common too).
    #[serde(default = "default_delimiter")]
    #[schemars(title = "CSV delimiter", length(min = 1, max = 1))]
    pub delimiter: String,

    /// How dates are written, as a chrono format string: `%Y-%m-%d` by default (`2026-03-31`);
    /// `%m/%d/%Y` for `03/31/2026`.
    #[serde(default = "default_date_format")]
    #[schemars(title = "Date format", length(min = 1))]
    pub date_format: String,

    /// What separates several addresses in the aliases column (`;` by default). In JSON an array of
    /// strings works as well.
    #[serde(default = "default_aliases_separator")]
    #[schemars(title = "Aliases separator", length(min = 1))]
    pub aliases_separator: String,

    /// Which column (CSV header) or key (JSON) holds each of roster's fields. Columns not named
    /// here are never read.
    pub columns: Columns,

    /// The file's status values and what each means: `"Active" = "active"`, `"LOA" = "on_leave"`.
    /// Matched without regard to case or surrounding spaces. Values equal to roster's own names
    /// (`active`, `on_leave`, `terminated`, `pre_hire`, `disabled`) need no entry. Any other value
    /// makes the person's status `unknown`, flagged for review: never assumed active.
    #[serde(default)]
    pub statuses: BTreeMap<String, Status>,
}

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    /// The format a file name's extension says.
    pub fn of_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" | "txt" => Some(Self::Csv),
            "json" => Some(Self::Json),
            "ndjson" | "jsonl" => Some(Self::Ndjson),
            _ => None,
        }
    }
}

/// An employment status a file's value can mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Hired, not started yet.
    PreHire,
    /// Working.
    Active,
    /// Employed, not working now (leave of absence, suspension).
    OnLeave,
    /// An account that is switched off.
    Disabled,
    /// No longer employed.
    Terminated,
    /// Nobody knows: the person is flagged for review.
    Unknown,
}

impl From<Status> for EmploymentStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::PreHire => Self::PreHire,
            Status::Active => Self::Active,
            Status::OnLeave => Self::OnLeave,
            Status::Disabled => Self::Disabled,
            Status::Terminated => Self::Terminated,
            Status::Unknown => Self::Unknown,
        }
    }
}

/// The column (CSV) or key (JSON) of each field. `source_id` and `status` are required.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// The record's stable, unique id in the HR system (e.g. `Employee ID`). A row without one
    /// stops the listing: a person roster cannot identify would read as a person who left.
    #[schemars(length(min = 1))]
    pub source_id: String,
    /// The employment status; its values are mapped by `[statuses]`.
    #[schemars(length(min = 1))]
    pub status: String,
    /// The id of the person when one person can have several records (several employments).
    pub person_id: Option<String>,
    /// The employee number other systems know (matches Entra ID's `employeeId`).
    pub employee_id: Option<String>,
    /// The work email address.
    pub email: Option<String>,
    /// Other email addresses, separated by `aliases_separator`.
    pub aliases: Option<String>,
    /// Given (preferred) name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Name to show.
    pub display_name: Option<String>,
    /// Job title.
    pub role: Option<String>,
    /// A stable code of the job.
    pub role_code: Option<String>,
    /// Department or organisation unit.
    pub department: Option<String>,
    /// The manager's work email. Give this or `manager_id`, not both.
    pub manager_email: Option<String>,
    /// The manager's source id (the value of their `source_id` column).
    pub manager_id: Option<String>,
    /// Most recent hire date, in `date_format`. A date after today makes a pre-hire.
    pub hire_date: Option<String>,
    /// Termination date, in `date_format`. A date after today is a pending termination: the person
    /// works until then, whatever the status column says.
    pub termination_date: Option<String>,
}

/// The fields of a row roster reads, in a fixed order: a row is one optional value per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// `columns.source_id`.
    SourceId,
    /// `columns.status`.
    Status,
    /// `columns.person_id`.
    PersonId,
    /// `columns.employee_id`.
    EmployeeId,
    /// `columns.email`.
    Email,
    /// `columns.aliases`.
    Aliases,
    /// `columns.first_name`.
    FirstName,
    /// `columns.last_name`.
    LastName,
    /// `columns.display_name`.
    DisplayName,
    /// `columns.role`.
    Role,
    /// `columns.role_code`.
    RoleCode,
    /// `columns.department`.
    Department,
    /// `columns.manager_email`.
    ManagerEmail,
    /// `columns.manager_id`.
    ManagerId,
    /// `columns.hire_date`.
    HireDate,
    /// `columns.termination_date`.
    TerminationDate,
}

impl Field {
    /// Every field, in row order.
    pub const ALL: [Self; 16] = [
        Self::SourceId,
        Self::Status,
        Self::PersonId,
        Self::EmployeeId,
        Self::Email,
        Self::Aliases,
        Self::FirstName,
        Self::LastName,
        Self::DisplayName,
        Self::Role,
        Self::RoleCode,
        Self::Department,
        Self::ManagerEmail,
        Self::ManagerId,
        Self::HireDate,
        Self::TerminationDate,
    ];

    /// The key of `[columns]` that maps it.
    pub fn key(self) -> &'static str {
        match self {
            Self::SourceId => "source_id",
            Self::Status => "status",
            Self::PersonId => "person_id",
            Self::EmployeeId => "employee_id",
            Self::Email => "email",
            Self::Aliases => "aliases",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::DisplayName => "display_name",
            Self::Role => "role",
            Self::RoleCode => "role_code",
            Self::Department => "department",
            Self::ManagerEmail => "manager_email",
            Self::ManagerId => "manager_id",
            Self::HireDate => "hire_date",
            Self::TerminationDate => "termination_date",
        }
    }

    /// Its position in a row.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Columns {
    /// The column of `field`, when the file has one.
    pub fn of(&self, field: Field) -> Option<&str> {
        let column = match field {
            Field::SourceId => Some(&self.source_id),
            Field::Status => Some(&self.status),
            Field::PersonId => self.person_id.as_ref(),
            Field::EmployeeId => self.employee_id.as_ref(),
            Field::Email => self.email.as_ref(),
            Field::Aliases => self.aliases.as_ref(),
            Field::FirstName => self.first_name.as_ref(),
            Field::LastName => self.last_name.as_ref(),
            Field::DisplayName => self.display_name.as_ref(),
            Field::Role => self.role.as_ref(),
            Field::RoleCode => self.role_code.as_ref(),
            Field::Department => self.department.as_ref(),
            Field::ManagerEmail => self.manager_email.as_ref(),
            Field::ManagerId => self.manager_id.as_ref(),
            Field::HireDate => self.hire_date.as_ref(),
            Field::TerminationDate => self.termination_date.as_ref(),
        };
        column.map(String::as_str)
    }

    /// Every mapped field and its column.
    pub fn mapped(&self) -> Vec<(Field, String)> {
        Field::ALL.into_iter().filter_map(|f| self.of(f).map(|c| (f, c.trim().to_owned()))).collect()
    }
}

fn default_delimiter() -> String {
    ",".into()
}

fn default_date_format() -> String {
    "%Y-%m-%d".into()
}

fn default_aliases_separator() -> String {
    ";".into()
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file, made absolute against the configuration's folder.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// The CSV delimiter.
    pub delimiter: u8,
    /// The chrono date format.
    pub date_format: String,
    /// The aliases separator.
    pub aliases_separator: String,
    /// Every mapped field and its column, in row order.
    pub columns: Vec<(Field, String)>,
    /// Status values (trimmed, lower case) and their meaning.
    pub statuses: BTreeMap<String, EmploymentStatus>,
}

impl Credentials {
    /// Checks every setting, reporting every problem at once; relative paths are taken from
    /// `base_dir`.
    pub fn resolve(self, base_dir: &Path) -> Result<Settings, CredentialsError> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| problems.push(ConfigProblem { path: path.into(), message });
        let trimmed = self.path.trim();
        if trimmed.is_empty() {
            problem("path", "must not be empty".into());
        }
        let path = if Path::new(trimmed).is_absolute() { PathBuf::from(trimmed) } else { base_dir.join(trimmed) };
        let format = self.format.or_else(|| Format::of_path(&path)).unwrap_or_else(|| {
            problem(
                "format",
                format!(
                    "cannot tell the format of `{trimmed}` from its extension: set format = \"csv\", \"json\" or \"ndjson\""
                ),
            );
            Format::Csv
        });
        let delimiter = match self.delimiter.as_bytes() {
            [b] if b.is_ascii() => *b,
            _ => {
                problem("delimiter", "must be one ASCII character, such as \",\", \";\" or \"\\t\"".into());
                b','
            }
        };
        if let Err(message) = check_date_format(&self.date_format) {
            problem("date_format", message);
        }
        if self.aliases_separator.is_empty() {
            problem("aliases_separator", "must not be empty".into());
        }
        for (field, column) in [(Field::SourceId, &self.columns.source_id), (Field::Status, &self.columns.status)] {
            if column.trim().is_empty() {
                problem(&format!("columns.{}", field.key()), "must name a column".into());
            }
        }
        if self.columns.manager_email.is_some() && self.columns.manager_id.is_some() {
            problem("columns.manager_id", "give either manager_email or manager_id, not both".into());
        }
        // One column may fill several fields (`source_id` and `employee_id` are often the same).
        let columns = self.columns.mapped();
        let mut statuses = BTreeMap::new();
        for (value, status) in self.statuses {
            let key = value.trim().to_lowercase();
            if key.is_empty() {
                problem("statuses", "a status value must not be empty".into());
            }
            statuses.insert(key, EmploymentStatus::from(status));
        }
        if !problems.is_empty() {
            return Err(CredentialsError { problems });
        }
        Ok(Settings {
            path,
            format,
            delimiter,
            date_format: self.date_format,
            aliases_separator: self.aliases_separator,
            columns,
            statuses,
        })
    }
}

/// A chrono format that can write and read back a date.
fn check_date_format(format: &str) -> Result<(), String> {
    use std::fmt::Write as _;
    let sample = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap_or_default();
    let mut written = String::new();
    if write!(written, "{}", sample.format(format)).is_err()
        || NaiveDate::parse_from_str(&written, format).ok() != Some(sample)
    {
        return Err(format!(
            "`{format}` is not a date format roster can read dates with (e.g. \"%Y-%m-%d\" or \"%m/%d/%Y\")"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<Settings, String> {
        let value: toml::Value = toml::from_str(toml).map_err(|e| e.to_string())?;
        let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
        roster_core::credentials::parse::<Credentials>(&json)
            .and_then(|c| c.resolve(Path::new("/etc/roster")))
            .map_err(|e| e.to_string())
    }

    const MINIMAL: &str = "path = \"people.csv\"\n[columns]\nsource_id = \"Employee ID\"\nstatus = \"Status\"\n";

    #[test]
    fn a_minimal_table_takes_the_defaults() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.path, PathBuf::from("/etc/roster/people.csv"), "relative to the configuration's folder");
        assert_eq!((s.format, s.delimiter, s.date_format.as_str()), (Format::Csv, b',', "%Y-%m-%d"));
        assert_eq!(s.columns, vec![(Field::SourceId, "Employee ID".into()), (Field::Status, "Status".into())]);
        assert!(s.statuses.is_empty());
    }

    #[test]
    fn statuses_are_matched_by_their_trimmed_lower_case_value() {
        let s = parse(&format!("{MINIMAL}[statuses]\n\" LOA \" = \"on_leave\"\nActive = \"active\"\n")).unwrap();
        assert_eq!(s.statuses.get("loa"), Some(&EmploymentStatus::OnLeave));
        assert_eq!(s.statuses.get("active"), Some(&EmploymentStatus::Active));
    }

    #[test]
    fn the_format_comes_from_the_extension_or_the_setting() {
        let json = MINIMAL.replace("people.csv", "/srv/export.JSONL");
        assert_eq!(parse(&json).unwrap().format, Format::Ndjson);
        let forced = format!("format = \"json\"\n{}", MINIMAL.replace("people.csv", "export.dat"));
        assert_eq!(parse(&forced).unwrap().format, Format::Json);
        let err = parse(&MINIMAL.replace("people.csv", "export.dat")).unwrap_err();
        assert!(err.contains("format") && err.contains("export.dat"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let toml = "path = \" \"\ndelimiter = \"é\"\ndate_format = \"%Q\"\n[columns]\nsource_id = \"Id\"\n\
                    status = \" \"\nmanager_email = \"M\"\nmanager_id = \"MI\"\n";
        let err = parse(toml).unwrap_err();
        for needle in ["path", "delimiter", "date_format", "columns.status", "manager_email or manager_id"] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
    }

    #[test]
    fn unknown_keys_and_status_names_are_refused() {
        let err = parse(&format!("{MINIMAL}ssn = \"SSN\"\n")).unwrap_err();
        assert!(err.contains("ssn"), "{err}");
        let err = parse(&format!("{MINIMAL}[statuses]\nRetired = \"gone\"\n")).unwrap_err();
        assert!(err.contains("statuses"), "{err}");
    }
}
