//! A row of the export -> [`SourceUser`]. Pure: no I/O, `today` is given.

use chrono::NaiveDate;
use roster_core::compact_str::CompactStringExt;
use roster_core::{CompactString, EmploymentStatus, ManagerRef, SourceUser};

use crate::credentials::{Field, Settings};
use crate::reader::Row;

/// What mapping needs besides the row.
#[derive(Debug, Clone, Copy)]
pub struct MapOptions<'a> {
    /// The settings: status values, date format, aliases separator.
    pub settings: &'a Settings,
    /// The day a hire date must be after to make a pre-hire, and a termination date to be pending.
    pub today: NaiveDate,
}

/// The row has no source id: it cannot be kept, and the listing must fail rather than drop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingId {
    /// Where the row is (`line 7`).
    pub at: String,
    /// The source id column.
    pub column: String,
}

impl std::fmt::Display for MissingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} has no value in the source id column `{}`; a person roster cannot identify would read as a \
             person who left, so the listing stops",
            self.at, self.column
        )
    }
}

/// Maps one row. Values it cannot make sense of become problems of the record, never a dropped
/// record; only a missing source id is an error.
pub fn map_row(mut row: Row, options: MapOptions<'_>) -> Result<SourceUser, MissingId> {
    let settings = options.settings;
    let column = |field: Field| settings.columns.iter().find(|(f, _)| *f == field).map(|(_, c)| c.as_str());
    let Some(source_id) = row.take(Field::SourceId) else {
        return Err(MissingId { at: row.at, column: column(Field::SourceId).unwrap_or_default().to_owned() });
    };
    let mut user = SourceUser {
        source_id,
        person_id: row.take(Field::PersonId),
        employee_id: row.take(Field::EmployeeId),
        email: row.get(Field::Email).map(CompactString::from_str_to_lowercase),
        first_name: row.take(Field::FirstName),
        last_name: row.take(Field::LastName),
        display_name: row.take(Field::DisplayName),
        role: row.take(Field::Role),
        role_code: row.take(Field::RoleCode),
        department: row.take(Field::Department),
        raw_status: row.take(Field::Status),
        problems: row.problems.clone(),
        ..SourceUser::default()
    };
    if user.display_name.is_none() {
        let joined = [&user.first_name, &user.last_name].into_iter().flatten().join_compact(" ");
        user.display_name = Some(joined).filter(|n| !n.is_empty());
    }
    if let Some(aliases) = row.get(Field::Aliases) {
        user.aliases = aliases
            .split(settings.aliases_separator.as_str())
            .map(|a| CompactString::from_str_to_lowercase(a.trim()))
            .filter(|a| !a.is_empty() && Some(a) != user.email.as_ref())
            .collect();
        user.aliases.dedup();
    }
    user.manager = match (row.get(Field::ManagerEmail), row.get(Field::ManagerId)) {
        (Some(email), _) => Some(ManagerRef::Email(CompactString::from_str_to_lowercase(email))),
        (None, Some(id)) => Some(ManagerRef::SourceId(CompactString::from(id))),
        (None, None) => None,
    };
    let mut date = |field: Field| {
        let value = row.get(field)?;
        NaiveDate::parse_from_str(value, &settings.date_format)
            .map_err(|_| {
                user.problems.push(format!(
                    "{} `{value}` is not a date in date_format `{}`",
                    column(field).unwrap_or_default(),
                    settings.date_format
                ));
            })
            .ok()
    };
    let (hire, termination) = (date(Field::HireDate), date(Field::TerminationDate));
    user.hire_date = hire;
    user.termination_date = termination;
    user.status = status(
        user.raw_status.as_deref(),
        column(Field::Status).unwrap_or_default(),
        hire,
        termination,
        options,
        &mut user.problems,
    );
    Ok(user)
}

/// What a status value means: `[statuses]` first, then roster's own names. Anything else is
/// unknown, never active. Dates then make pre-hires and pending terminations, as UKG Pro's do.
fn status(
    raw: Option<&str>,
    column: &str,
    hire: Option<NaiveDate>,
    termination: Option<NaiveDate>,
    options: MapOptions<'_>,
    problems: &mut Vec<String>,
) -> EmploymentStatus {
    let Some(raw) = raw else {
        problems.push(format!("no value in the status column `{column}`: status unknown"));
        return EmploymentStatus::Unknown;
    };
    let key = raw.trim().to_lowercase();
    let Some(by_value) = options.settings.statuses.get(&key).copied().or_else(|| own_name(&key)) else {
        problems.push(format!("status `{raw}` has no entry in [statuses]: status unknown (never assumed active)"));
        return EmploymentStatus::Unknown;
    };
    if by_value == EmploymentStatus::Unknown {
        return by_value;
    }
    if hire.is_some_and(|d| d > options.today) && by_value == EmploymentStatus::Active {
        return EmploymentStatus::PreHire;
    }
    match termination {
        // A pending termination: the person works until the day, whatever the status says.
        Some(day) if day > options.today && by_value == EmploymentStatus::Terminated => EmploymentStatus::Active,
        _ => by_value,
    }
}

/// roster's own status names, which need no `[statuses]` entry.
fn own_name(key: &str) -> Option<EmploymentStatus> {
    EmploymentStatus::ALL.into_iter().find(|s| *s != EmploymentStatus::Unknown && s.as_str() == key)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::credentials::Format;

    fn settings() -> Settings {
        Settings {
            path: PathBuf::from("people.csv"),
            format: Format::Csv,
            delimiter: b',',
            date_format: "%Y-%m-%d".into(),
            aliases_separator: ";".into(),
            columns: vec![
                (Field::SourceId, "Id".into()),
                (Field::Status, "Status".into()),
                (Field::Email, "Email".into()),
                (Field::Aliases, "Aliases".into()),
                (Field::HireDate, "Hired".into()),
                (Field::TerminationDate, "Left".into()),
            ],
            statuses: BTreeMap::from([
                ("loa".into(), EmploymentStatus::OnLeave),
                ("gone".into(), EmploymentStatus::Terminated),
            ]),
        }
    }

    fn row(values: &[(Field, &str)]) -> Row {
        let mut row = Row { at: "line 2".into(), values: vec![None; Field::ALL.len()], problems: vec![] };
        for (f, v) in values {
            row.values[f.index()] = Some((*v).into());
        }
        row
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    fn of(status: &str, hired: Option<&str>, left: Option<&str>) -> (EmploymentStatus, Vec<String>) {
        let s = settings();
        let mut values = vec![(Field::SourceId, "1"), (Field::Status, status)];
        values.extend(hired.map(|h| (Field::HireDate, h)));
        values.extend(left.map(|l| (Field::TerminationDate, l)));
        let user = map_row(row(&values), MapOptions { settings: &s, today: today() }).unwrap();
        (user.status, user.problems)
    }

    #[test]
    fn status_values_map_through_the_table_then_our_own_names() {
        use EmploymentStatus::{Active, OnLeave, PreHire, Terminated, Unknown};
        assert_eq!(of("LOA", None, None), (OnLeave, vec![]));
        assert_eq!(of(" Gone ", None, None), (Terminated, vec![]));
        assert_eq!(of("Active", None, None), (Active, vec![]), "our own names need no entry");
        assert_eq!(of("pre_hire", None, None).0, PreHire);
        let (status, problems) = of("Retired", None, None);
        assert_eq!(status, Unknown, "never assumed active");
        assert_eq!(
            problems,
            vec!["status `Retired` has no entry in [statuses]: status unknown (never assumed active)"]
        );
    }

    #[test]
    fn dates_make_pre_hires_and_pending_terminations() {
        use EmploymentStatus::{Active, OnLeave, PreHire, Terminated};
        assert_eq!(of("active", Some("2026-06-02"), None).0, PreHire);
        assert_eq!(of("active", Some("2026-06-01"), None).0, Active, "starting today is active");
        assert_eq!(of("loa", Some("2026-07-01"), None).0, OnLeave, "only an active status becomes a pre-hire");
        assert_eq!(of("gone", None, Some("2026-07-01")).0, Active, "pending: works until the day");
        assert_eq!(of("gone", None, Some("2026-06-01")).0, Terminated);
        let (status, problems) = of("active", Some("01/06/2026"), None);
        assert_eq!(status, Active);
        assert_eq!(problems, vec!["Hired `01/06/2026` is not a date in date_format `%Y-%m-%d`"]);
    }

    #[test]
    fn emails_are_lower_case_and_aliases_split_without_the_primary() {
        let s = settings();
        let r = row(&[
            (Field::SourceId, "7"),
            (Field::Status, "active"),
            (Field::Email, "Ann.Lee@Acme.com"),
            (Field::Aliases, "ann@acme.com; ANN.LEE@acme.com;;al@acme.com"),
        ]);
        let user = map_row(r, MapOptions { settings: &s, today: today() }).unwrap();
        assert_eq!(user.email.as_deref(), Some("ann.lee@acme.com"));
        assert_eq!(user.aliases, vec!["ann@acme.com", "al@acme.com"]);
    }

    #[test]
    fn a_row_without_a_source_id_is_an_error_naming_the_line_and_column() {
        let s = settings();
        let err = map_row(row(&[(Field::Status, "active")]), MapOptions { settings: &s, today: today() }).unwrap_err();
        assert!(err.to_string().starts_with("line 2 has no value in the source id column `Id`"), "{err}");
    }
}
