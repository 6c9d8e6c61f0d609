//! person-details + employment-details rows -> [`SourceUser`]s. Pure: no I/O, `today` is given.
//!
//! The two endpoints page independently and promise no order, so one side has to be held while
//! the other streams past. [`Join`] holds the employment side, reduced to the fields roster maps
//! (one compact [`Employment`] per row, about half a kilobyte), and maps each person-details page
//! as it arrives. What is left once every person row went by are employment rows with no person
//! row; [`Join::finish`] emits them too, with a problem noted: a dropped record would read as a
//! person who left.

use std::collections::HashMap;

use chrono::NaiveDate;
use roster_core::compact_str::format_compact;
use roster_core::model::parse_vendor_date;
use roster_core::{CompactString, EmploymentStatus, ManagerRef, SourceUser};

use crate::models::{EmploymentRow, PersonRow};

/// What the mapping needs besides the rows.
#[derive(Debug, Clone, Copy)]
pub struct MapOptions {
    /// The day a hire date must be after to make a pre-hire, and a termination date to be pending.
    pub today: NaiveDate,
    /// Which `orgLevelNCode` (1 to 4) is the department.
    pub department_org_level: u8,
}

/// A row whose company id or employee id is missing: it cannot be joined or given a stable source
/// id, so the listing fails instead of guessing (the message names the row, never its content).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("row {row} has no {key}; ukg should never send that, so the listing stops rather than guess who it is")]
pub struct MissingId {
    /// Index of the row in its page, from 1.
    pub row: usize,
    /// The missing key, as UKG spells it on that endpoint.
    pub key: &'static str,
}

/// The fields of one employment-details row that the mapping uses, and nothing else (its ids are
/// the key it is held under).
#[derive(Debug, Clone)]
pub struct Employment {
    employee_number: Option<CompactString>,
    status_code: Option<CompactString>,
    role: Option<CompactString>,
    role_code: Option<CompactString>,
    supervisor_id: Option<CompactString>,
    department: Option<CompactString>,
    original_hire_date: Option<CompactString>,
    last_hire_date: Option<CompactString>,
    date_of_termination: Option<CompactString>,
}

/// The join key: (company id, employee id) in upper case.
///
/// UKG's ids are matched without regard to case, so they are also *written* in one case (upper,
/// as UKG writes them): a record's source id, and the manager references that point at it, stay
/// the same whichever endpoint's casing they were built from.
type Key = (CompactString, CompactString);

fn key(company_id: &str, employee_id: &str) -> Key {
    (upper(company_id), upper(employee_id))
}

/// `id` in upper case; copied as it is when it has no lower-case letter (UKG's usual casing).
fn upper(id: &str) -> CompactString {
    if id.is_ascii() && !id.bytes().any(|b| b.is_ascii_lowercase()) { id.into() } else { id.to_uppercase().into() }
}

/// `company/employee`: a source id, or a manager's.
fn source_id(company_id: &str, employee_id: &str) -> CompactString {
    let mut id = CompactString::with_capacity(company_id.len() + 1 + employee_id.len());
    id.push_str(company_id);
    id.push('/');
    id.push_str(employee_id);
    id
}

/// Joins person rows to employment rows on (company id, employee id), without regard to case.
///
/// The employment rows are held in the pages they came in, and a map gives each key its row's
/// place. A map holding the rows themselves (about 260 bytes an entry) moved every row again each
/// time it doubled: copying and faulting in those tables was half of adding a page (joining the
/// sandbox's 100k rows: adding 70-84 -> 22-48 ms, mapping 63-72 -> 74-84 ms, a row now being
/// read at its place). A page is freed once every row of it has been joined.
#[derive(Debug)]
pub struct Join {
    options: MapOptions,
    // A hash map (foldhash: a million keys, one insert and one removal each); the rows left at
    // the end are sorted, so that they come out in a stable order.
    places: HashMap<Key, Place, foldhash::fast::RandomState>,
    /// The employment rows held, page by page; a joined or replaced row is `None`.
    pages: Vec<Vec<Option<Employment>>>,
    /// How many rows of each page are still held.
    held: Vec<usize>,
}

/// Where a held employment row is: its page and its index in the page.
type Place = (u32, u32);

impl Join {
    /// An empty join.
    pub fn new(options: MapOptions) -> Self {
        Self { options, places: HashMap::default(), pages: Vec::new(), held: Vec::new() }
    }

    /// Employment rows held and not yet joined.
    pub fn pending(&self) -> usize {
        self.places.len()
    }

    /// Holds one page of employment rows. A row repeated (same key) replaces the earlier one.
    /// The rows before one without ids are held as well; the listing fails on that one.
    pub fn add_employment(&mut self, rows: Vec<EmploymentRow>) -> Result<(), MissingId> {
        let number = place_part(self.pages.len());
        // The page is there before its rows: each is held in it as it comes, so the places of the
        // rows before one without ids point into it.
        self.pages.push(Vec::with_capacity(rows.len()));
        self.held.push(0);
        self.places.reserve(rows.len());
        let level = usize::from(self.options.department_org_level.clamp(1, 4)) - 1;
        for (i, row) in rows.into_iter().enumerate() {
            self.hold(row, i, number, level)?;
        }
        Ok(())
    }

    /// Holds row `i` of the page numbered `number` (the last one), its department read from
    /// org level `level` (from 0).
    fn hold(&mut self, row: EmploymentRow, i: usize, number: u32, level: usize) -> Result<(), MissingId> {
        let company_id = row.company_id.ok_or(MissingId { row: i + 1, key: "companyID" })?;
        let employee_id = row.employee_id.ok_or(MissingId { row: i + 1, key: "employeeID" })?;
        let [o1, o2, o3, o4] = row.org_level_codes;
        let department = [o1, o2, o3, o4].into_iter().nth(level).flatten();
        let page = &mut self.pages[widen(number)];
        page.push(Some(Employment {
            employee_number: row.employee_number,
            status_code: row.employee_status_code,
            role: row.job_title.or(row.job_description),
            role_code: row.primary_job_code,
            supervisor_id: row.supervisor_id,
            department,
            original_hire_date: row.original_hire_date,
            last_hire_date: row.last_hire_date,
            date_of_termination: row.date_of_termination,
        }));
        let place = (number, place_part(page.len() - 1));
        self.held[widen(number)] += 1;
        if let Some((p, at)) = self.places.insert(key(&company_id, &employee_id), place) {
            // The earlier row of this key is replaced. Its page (this one, which holds the new
            // row, is never left empty by it) is freed once it holds none.
            self.release(p, at);
        }
        Ok(())
    }

    /// Maps one page of person rows, each with its employment row if one is held (which is then
    /// released: memory shrinks as the listing goes).
    pub fn map_persons(&mut self, rows: Vec<PersonRow>) -> Result<Vec<SourceUser>, MissingId> {
        let mut out = Vec::with_capacity(rows.len());
        for (i, person) in rows.into_iter().enumerate() {
            let company_id = person.company_id.as_deref().ok_or(MissingId { row: i + 1, key: "companyId" })?;
            let employee_id = person.employee_id.as_deref().ok_or(MissingId { row: i + 1, key: "employeeId" })?;
            let key = key(company_id, employee_id);
            let employment = self.places.remove(&key).and_then(|(p, at)| self.release(p, at));
            out.push(map_user(&key, Some(person), employment, self.options));
        }
        Ok(out)
    }

    /// Takes the row at `at` in page `p` out of the join, freeing the page once it holds none.
    fn release(&mut self, p: u32, at: u32) -> Option<Employment> {
        let p = widen(p);
        let row = self.pages.get_mut(p)?.get_mut(widen(at))?.take();
        if row.is_some() {
            self.held[p] -= 1;
            if self.held[p] == 0 {
                self.pages[p] = Vec::new();
            }
        }
        row
    }

    /// The employment rows no person row claimed, mapped (they are people too).
    pub fn finish(mut self) -> impl Iterator<Item = SourceUser> {
        let options = self.options;
        let places = std::mem::take(&mut self.places);
        let mut rest: Vec<(Key, Employment)> =
            places.into_iter().filter_map(|(key, (p, at))| Some((key, self.release(p, at)?))).collect();
        rest.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rest.into_iter().map(move |(key, e)| map_user(&key, None, Some(e), options))
    }
}

/// A page number or an index in a page, as a [`Place`] holds it.
///
/// # Panics
///
/// With four billion pages or rows in a page, which no listing held in memory reaches.
fn place_part(n: usize) -> u32 {
    u32::try_from(n).expect("fewer than 2^32 pages and rows a page")
}

/// A part of a [`Place`] as an index.
fn widen(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Maps whole listings at once: for tests and fixtures; the connector streams through [`Join`].
pub fn map_all(
    persons: Vec<PersonRow>,
    employment: Vec<EmploymentRow>,
    options: MapOptions,
) -> Result<Vec<SourceUser>, MissingId> {
    let mut join = Join::new(options);
    join.add_employment(employment)?;
    let mut users = join.map_persons(persons)?;
    users.extend(join.finish());
    Ok(users)
}

/// Maps one record, known by its join key. The rows' values move into the record.
fn map_user(
    (company_id, employee_id): &Key,
    person: Option<PersonRow>,
    employment: Option<Employment>,
    options: MapOptions,
) -> SourceUser {
    let mut user = SourceUser { source_id: source_id(company_id, employee_id), ..SourceUser::default() };
    match person {
        Some(p) => map_person(&mut user, p),
        None => user.problems.push("no person-details row: no name or email address".into()),
    }
    match employment {
        Some(e) => map_employment(&mut user, company_id, e, options.today),
        None => user.problems.push("no employment-details row: status, job and dates unknown".into()),
    }
    if user.employee_id.is_none() {
        user.employee_id = Some(employee_id.clone());
    }
    user
}

fn map_person(user: &mut SourceUser, p: PersonRow) {
    user.person_id = p.person_id;
    user.email = p.email_address;
    if let Some(alt) = p.email_address_alternate
        && user.email.as_deref().is_none_or(|e| !e.eq_ignore_ascii_case(&alt))
    {
        user.aliases.push(alt);
    }
    user.first_name = p.preferred_name.or(p.first_name);
    user.last_name = p.last_name;
    user.display_name = match (user.first_name.as_deref(), user.last_name.as_deref()) {
        (Some(first), Some(last)) => Some(format_compact!("{first} {last}")),
        (Some(one), None) | (None, Some(one)) => Some(one.into()),
        (None, None) => None,
    };
}

fn map_employment(user: &mut SourceUser, company_id: &str, e: Employment, today: NaiveDate) {
    user.employee_id = e.employee_number;
    user.role = e.role;
    user.role_code = e.role_code;
    user.department = e.department;
    user.manager = e.supervisor_id.as_deref().map(|s| ManagerRef::SourceId(source_id(company_id, &upper(s))));
    let mut date = |key: &str, raw: Option<&str>| {
        let raw = raw?;
        let day = parse_vendor_date(raw);
        if day.is_none() {
            user.problems.push(format!("{key} `{raw}` is not a date"));
        }
        day
    };
    let last_hire = date("lastHireDate", e.last_hire_date.as_deref());
    let original_hire = date("originalHireDate", e.original_hire_date.as_deref());
    let termination = date("dateOfTermination", e.date_of_termination.as_deref());
    user.hire_date = last_hire.or(original_hire);
    user.termination_date = termination;
    user.status = status(e.status_code.as_deref(), user.hire_date, termination, today, &mut user.problems);
    user.raw_status = e.status_code;
}

/// The status a letter means, given the dates. Anything unrecognised is unknown, never active.
fn status(
    code: Option<&str>,
    hire: Option<NaiveDate>,
    termination: Option<NaiveDate>,
    today: NaiveDate,
    problems: &mut Vec<String>,
) -> EmploymentStatus {
    let by_letter = match code {
        Some("A") => EmploymentStatus::Active,
        Some("L" | "S" | "O") => EmploymentStatus::OnLeave,
        Some("R" | "T") => EmploymentStatus::Terminated,
        Some(other) => {
            problems.push(format!("unknown employeeStatusCode `{other}`: status unknown (never assumed active)"));
            return EmploymentStatus::Unknown;
        }
        None => {
            problems.push("no employeeStatusCode: status unknown".into());
            return EmploymentStatus::Unknown;
        }
    };
    if hire.is_some_and(|d| d > today) {
        // Hired, not started: UKG keeps the letter (usually A) until the day comes.
        return EmploymentStatus::PreHire;
    }
    match termination {
        // A pending termination: the notes say a future dateOfTermination is pending, so the
        // person works until that day whatever letter UKG already shows. The raw letter is kept
        // beside the status, and the first sync after the day maps it to terminated (a `left`).
        Some(day) if day > today && by_letter == EmploymentStatus::Terminated => EmploymentStatus::Active,
        _ => by_letter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    fn of(code: Option<&str>, hire: Option<&str>, term: Option<&str>) -> (EmploymentStatus, Vec<String>) {
        let mut problems = Vec::new();
        let d = |s: Option<&str>| s.and_then(parse_vendor_date);
        (status(code, d(hire), d(term), today(), &mut problems), problems)
    }

    #[test]
    fn letters_map_as_documented() {
        use EmploymentStatus::{Active, OnLeave, Terminated, Unknown};
        for (code, want) in
            [("A", Active), ("L", OnLeave), ("S", OnLeave), ("O", OnLeave), ("R", Terminated), ("T", Terminated)]
        {
            assert_eq!(of(Some(code), Some("2020-01-01"), None), (want, vec![]), "{code}");
        }
        for code in ["X", "a", "AA"] {
            let (s, problems) = of(Some(code), None, None);
            assert_eq!(s, Unknown, "{code}");
            assert!(problems[0].contains(&format!("`{code}`")), "{problems:?}");
        }
        assert_eq!(of(None, None, None).0, Unknown);
    }

    #[test]
    fn dates_make_pre_hires_and_pending_terminations() {
        use EmploymentStatus::{Active, OnLeave, PreHire, Terminated, Unknown};
        assert_eq!(of(Some("A"), Some("2026-06-02T00:00:00"), None).0, PreHire);
        assert_eq!(of(Some("A"), Some("2026-06-01T00:00:00"), None).0, Active, "starting today is active");
        assert_eq!(of(Some("A"), None, Some("2026-07-01T00:00:00")).0, Active);
        assert_eq!(of(Some("L"), None, Some("2026-07-01T00:00:00")).0, OnLeave);
        assert_eq!(of(Some("T"), None, Some("2026-05-01T00:00:00")).0, Terminated);
        assert_eq!(of(Some("T"), None, Some("2026-07-01T00:00:00")), (Active, vec![]), "pending: works until the day");
        assert_eq!(of(Some("X"), Some("2026-07-01"), None).0, Unknown, "an unknown letter stays unknown");
    }

    #[test]
    fn rows_without_ids_fail_the_listing() {
        let options = MapOptions { today: today(), department_org_level: 1 };
        let person = PersonRow { employee_id: Some("K1".into()), ..PersonRow::default() };
        let err = map_all(vec![person], vec![], options).unwrap_err();
        assert_eq!(err, MissingId { row: 1, key: "companyId" });
        let employment = EmploymentRow { company_id: Some("C1".into()), ..EmploymentRow::default() };
        assert_eq!(map_all(vec![], vec![employment], options).unwrap_err().key, "employeeID");
    }

    fn employment(employee: &str, role: &str) -> EmploymentRow {
        EmploymentRow {
            company_id: Some("C1".into()),
            employee_id: Some(employee.into()),
            employee_status_code: Some("A".into()),
            job_title: Some(role.into()),
            ..EmploymentRow::default()
        }
    }

    fn person(employee: &str) -> PersonRow {
        PersonRow {
            company_id: Some("c1".into()),
            employee_id: Some(employee.into()),
            email_address: Some(format!("{employee}@acme.example").into()),
            ..PersonRow::default()
        }
    }

    #[test]
    fn the_last_employment_row_of_a_key_is_joined_and_pages_are_let_go() {
        let options = MapOptions { today: today(), department_org_level: 1 };
        let mut join = Join::new(options);
        // K1 twice on the first page, again on the second (in another case); K2, K3 once each.
        join.add_employment(vec![employment("K1", "first"), employment("K2", "kept"), employment("K1", "second")])
            .unwrap();
        join.add_employment(vec![employment("k1", "third"), employment("K3", "unclaimed")]).unwrap();
        assert_eq!(join.pending(), 3, "one row held per key");

        let users = join.map_persons(vec![person("K1"), person("K2"), person("K4")]).unwrap();
        let roles: Vec<_> = users.iter().map(|u| (u.source_id.as_str(), u.role.as_deref())).collect();
        assert_eq!(roles, [("C1/K1", Some("third")), ("C1/K2", Some("kept")), ("C1/K4", None)]);
        assert_eq!(join.pending(), 1);
        assert!(join.pages[0].is_empty(), "the first page, every row joined or replaced, is freed");

        let rest: Vec<SourceUser> = join.finish().collect();
        assert_eq!(rest.len(), 1);
        assert_eq!((rest[0].source_id.as_str(), rest[0].role.as_deref()), ("C1/K3", Some("unclaimed")));
        assert!(rest[0].problems.iter().any(|p| p.contains("no person-details row")));
    }

    #[test]
    fn rows_before_one_without_ids_stay_joinable() {
        let mut join = Join::new(MapOptions { today: today(), department_org_level: 1 });
        let nameless = EmploymentRow { employee_id: None, ..employment("K2", "none") };
        let failed = join.add_employment(vec![employment("K1", "held"), nameless]).unwrap_err();
        assert_eq!(failed, MissingId { row: 2, key: "employeeID" });
        join.add_employment(vec![employment("K3", "later")]).unwrap();
        let users = join.map_persons(vec![person("K1"), person("K3")]).unwrap();
        let roles: Vec<_> = users.iter().map(|u| u.role.as_deref()).collect();
        assert_eq!(roles, [Some("held"), Some("later")], "each row found at its own place");
    }
}
