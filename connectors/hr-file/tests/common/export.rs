//! A generated organisation ([`Org`], the one every sandbox serves) written as an HR system would
//! export it: a CSV, JSON or NDJSON file with vendor-style status letters, and columns roster must
//! never read (a made-up SSN, birth date and home address for every person).

use std::fmt::Write as _;
use std::path::Path;

use roster_core::EmploymentStatus;
use roster_core::sandbox::Org;
use roster_hr_file::credentials::Format;

/// The export's columns, in file order: what roster maps, then the decoys.
pub(crate) const HEADER: [&str; 15] = [
    "Employee ID",
    "Status",
    "Work Email",
    "Other Emails",
    "First Name",
    "Last Name",
    "Job Title",
    "Job Code",
    "Department",
    "Manager ID",
    "Hire Date",
    "Termination Date",
    "SSN",
    "Birth Date",
    "Home Address",
];

/// Where the columns roster maps end: the rest are decoys.
const MAPPED: usize = 12;

/// One row per person, a value per column of [`HEADER`] (empty when there is none).
pub(crate) type Rows = Vec<[String; 15]>;

/// The rows of `org`. Statuses are letters as HR systems write them: a pending termination is
/// already `T` (with a termination date ahead) and a pre-hire already `A` (with a hire date ahead),
/// so the connector's date rules decide them, as the org's own statuses say they should end up.
pub(crate) fn rows(org: &Org) -> Rows {
    org.people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let letter = match (p.status, p.termination_date) {
                (EmploymentStatus::Active, Some(_)) | (EmploymentStatus::Terminated, _) => "T",
                (EmploymentStatus::OnLeave, _) => "L",
                _ => "A",
            };
            let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
            [
                p.employee_number.clone(),
                letter.to_owned(),
                p.email.clone(),
                p.aliases.join(";"),
                p.preferred_name.clone().unwrap_or_else(|| p.first_name.clone()),
                p.last_name.clone(),
                p.job_title.clone(),
                p.job_code.clone(),
                p.department.clone(),
                p.manager.map(|m| org.people[m].employee_number.clone()).unwrap_or_default(),
                day(p.hire_date),
                p.termination_date.map(day).unwrap_or_default(),
                decoy_ssn(i),
                decoy_birth_date(i),
                decoy_address(i),
            ]
        })
        .collect()
}

/// A made-up SSN (area 900 and up is never issued).
pub(crate) fn decoy_ssn(i: usize) -> String {
    format!("9{:02}-{:02}-{:04}", i % 100, (i / 100) % 100 + 1, i % 10_000)
}

/// A made-up birth date, in a format no mapped column uses.
pub(crate) fn decoy_birth_date(i: usize) -> String {
    format!("{:02}/{:02}/19{:02}", i % 28 + 1, i % 12 + 1, 50 + i % 40)
}

/// A made-up home address.
pub(crate) fn decoy_address(i: usize) -> String {
    format!("{} Decoy Lane, Nowhere", i + 1)
}

/// The file's bytes, and the byte each record starts at.
pub(crate) fn render(format: Format, rows: &Rows) -> (Vec<u8>, Vec<usize>) {
    let mut out = String::new();
    let mut starts = Vec::with_capacity(rows.len());
    match format {
        Format::Csv => {
            out.push_str(&csv_line(&HEADER.map(str::to_owned)));
            for row in rows {
                starts.push(out.len());
                out.push_str(&csv_line(row));
            }
        }
        Format::Json => {
            out.push_str("[\n");
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                starts.push(out.len());
                out.push_str(&json_object(row));
            }
            out.push_str("\n]\n");
        }
        Format::Ndjson => {
            for row in rows {
                starts.push(out.len());
                let _ = writeln!(out, "{}", json_object(row));
            }
        }
    }
    (out.into_bytes(), starts)
}

/// Writes the file.
pub(crate) fn write(path: &Path, format: Format, rows: &Rows) {
    std::fs::write(path, render(format, rows).0).expect("the export is written");
}

/// The `[connections.NAME]` settings (without `connector`) that read such a file at `path`.
pub(crate) fn settings(path: &Path) -> String {
    // A TOML literal string: a Windows path's backslashes stay as they are.
    format!(
        "path = '{}'\n\
         [columns]\n\
         source_id = \"Employee ID\"\nemployee_id = \"Employee ID\"\nstatus = \"Status\"\nemail = \"Work Email\"\n\
         aliases = \"Other Emails\"\nfirst_name = \"First Name\"\nlast_name = \"Last Name\"\nrole = \"Job Title\"\n\
         role_code = \"Job Code\"\ndepartment = \"Department\"\nmanager_id = \"Manager ID\"\n\
         hire_date = \"Hire Date\"\ntermination_date = \"Termination Date\"\n\
         [statuses]\nA = \"active\"\nL = \"on_leave\"\nT = \"terminated\"\n",
        path.display()
    )
}

fn csv_line(values: &[String; 15]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(values).expect("a record");
    String::from_utf8(writer.into_inner().expect("flushed")).expect("UTF-8")
}

/// A record as JSON: an empty value is `null`, aliases are an array, the decoys are one nested
/// object as JSON exports often have.
fn json_object(row: &[String; 15]) -> String {
    let mut object = serde_json::Map::new();
    for (column, value) in HEADER.iter().zip(row).take(MAPPED) {
        let value = match *column {
            _ if value.is_empty() => serde_json::Value::Null,
            "Other Emails" => value.split(';').map(|a| serde_json::Value::String(a.to_owned())).collect(),
            _ => serde_json::Value::String(value.clone()),
        };
        object.insert((*column).to_owned(), value);
    }
    object.insert("SSN".into(), row[12].clone().into());
    object.insert("Private".into(), serde_json::json!({ "Birth Date": row[13], "Home Address": row[14] }));
    serde_json::Value::Object(object).to_string()
}
