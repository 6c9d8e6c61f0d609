//! How people are printed: JSON, NDJSON, CSV and tables.

use std::io::Write;

use roster_core::CompactString;
use roster_core::lifecycle::Person;
use serde::Serialize;

/// One person as other programs read it: exactly DESIGN.md's keys, in its order.
#[derive(Debug, Serialize)]
pub struct UserOut<'a> {
    email: Option<&'a str>,
    aliases: &'a [CompactString],
    employee_id: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    display_name: Option<&'a str>,
    role: Option<&'a str>,
    department: Option<&'a str>,
    manager: Option<&'a str>,
    status: Option<&'static str>,
    lifecycle: &'static str,
    decided_by: Option<&'a str>,
    records: Vec<RecordOut<'a>>,
}

/// One source record of a person.
#[derive(Debug, Serialize)]
pub struct RecordOut<'a> {
    connection: &'a str,
    source_id: &'a str,
    status: &'static str,
    raw_status: Option<&'a str>,
}

impl<'a> From<&'a Person> for UserOut<'a> {
    fn from(p: &'a Person) -> Self {
        Self {
            email: p.email.as_deref(),
            aliases: &p.aliases,
            employee_id: p.employee_id.as_deref(),
            first_name: p.first_name.as_deref(),
            last_name: p.last_name.as_deref(),
            display_name: p.display_name.as_deref(),
            role: p.role.as_deref(),
            department: p.department.as_deref(),
            manager: p.manager.as_deref(),
            status: p.status.map(roster_core::EmploymentStatus::as_str),
            lifecycle: p.lifecycle.as_str(),
            decided_by: p.decided_by.as_deref(),
            records: p
                .records
                .iter()
                .map(|r| RecordOut {
                    connection: &r.connection,
                    source_id: &r.source_id,
                    status: r.status.as_str(),
                    raw_status: r.raw_status.as_deref(),
                })
                .collect(),
        }
    }
}

/// The CSV columns, DESIGN.md's keys.
pub const CSV_HEADER: [&str; 13] = [
    "email",
    "aliases",
    "employee_id",
    "first_name",
    "last_name",
    "display_name",
    "role",
    "department",
    "manager",
    "status",
    "lifecycle",
    "decided_by",
    "records",
];

/// One CSV row: aliases joined by `;`, records as `connection:source_id:status` joined by `;`.
pub fn csv_row(p: &Person) -> [String; 13] {
    let s = |v: &Option<CompactString>| v.as_deref().unwrap_or_default().to_owned();
    [
        s(&p.email),
        p.aliases.join(";"),
        s(&p.employee_id),
        s(&p.first_name),
        s(&p.last_name),
        s(&p.display_name),
        s(&p.role),
        s(&p.department),
        s(&p.manager),
        p.status.map(|x| x.as_str().to_owned()).unwrap_or_default(),
        p.lifecycle.as_str().to_owned(),
        p.decided_by.as_deref().unwrap_or_default().to_owned(),
        p.records
            .iter()
            .map(|r| format!("{}:{}:{}", r.connection, r.source_id, r.status))
            .collect::<Vec<_>>()
            .join(";"),
    ]
}

/// The columns of `roster users`'s table: email, name, role, department, status, lifecycle,
/// `decided_by`. The name is the display name, else first and last name.
pub fn table_row(p: &Person) -> Vec<String> {
    let s = |v: &Option<CompactString>| v.as_deref().unwrap_or_default().to_owned();
    let name = p.display_name.as_deref().map_or_else(
        || [p.first_name.as_deref(), p.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "),
        str::to_owned,
    );
    vec![
        s(&p.email),
        name,
        s(&p.role),
        s(&p.department),
        p.status.map(|x| x.as_str().to_owned()).unwrap_or_default(),
        p.lifecycle.as_str().to_owned(),
        p.decided_by.as_deref().unwrap_or_default().to_owned(),
    ]
}

/// A header rule and nothing else: rows of people read best without a box around each.
const TABLE_STYLE: comfy_table::TableStyle =
    comfy_table::TableStyle::new().header_separator(comfy_table::LineStyle::none().fill('─').junction(' '));

/// A table that fits the terminal.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_style(TABLE_STYLE).set_content_arrangement(comfy_table::ContentArrangement::Dynamic).set_header(header);
    t
}

/// Writes `text` and a newline to stdout; a closed pipe (`roster users | head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Where progress and summaries go: stderr, so that stdout carries only results (a config, JSON)
/// that can be redirected. `-q` silences it; errors are printed by `main` regardless.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ui {
    /// Only errors.
    pub quiet: bool,
}

impl Ui {
    /// One line of progress or summary.
    pub fn status(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}
