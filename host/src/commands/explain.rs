//! `roster explain <email|employee id>`: why a person is what they are.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, anyhow};
use roster_core::lifecycle::{Attribute, Person, Policy, Verdict};
use roster_core::{CompactString, SourceUser};
use serde::Serialize;

use crate::cli::Format;
use crate::output::{self, UserOut};
use crate::store::{EventFilter, Store, StoredEvent};

/// Everything about one person, as `--format json` prints it.
#[derive(Debug, Serialize)]
pub struct Explanation<'a> {
    /// The person as `roster users` shows them.
    #[serde(flatten)]
    pub person: UserOut<'a>,
    /// Stable key.
    pub key: &'a str,
    /// The rule that decided the lifecycle, structured.
    pub rule: &'a roster_core::lifecycle::Rule,
    /// The same, in a sentence.
    pub why: String,
    /// Flagged for review.
    pub review: bool,
    /// What each source of truth said and what came of it, highest first.
    pub trace: Vec<TraceOut<'a>>,
    /// Connections that hold records of them but are not sources of truth.
    pub not_sources: Vec<&'a str>,
    /// Every attribute, its value and the connection it came from.
    pub attributes: Vec<AttributeOut<'a>>,
    /// Every record of theirs as its source reported it (mapped).
    pub source_records: Vec<SourceRecordOut>,
    /// Their recorded events, oldest first.
    pub events: Vec<StoredEvent>,
    /// The person explained.
    #[serde(skip)]
    pub resolved: &'a Person,
}

/// A verdict and its sentence.
#[derive(Debug, Serialize)]
pub struct TraceOut<'a> {
    /// The verdict.
    #[serde(flatten)]
    pub verdict: &'a Verdict,
    /// In a sentence.
    pub text: String,
}

/// One attribute.
#[derive(Debug, Serialize)]
pub struct AttributeOut<'a> {
    /// Its name.
    pub attribute: Attribute,
    /// Its value.
    pub value: Option<&'a str>,
    /// The connection it came from.
    pub from: Option<&'a str>,
}

/// One source record, whole.
#[derive(Debug, Serialize)]
pub struct SourceRecordOut {
    /// Connection name.
    pub connection: String,
    /// The record.
    #[serde(flatten)]
    pub user: SourceUser,
}

fn attribute_value(p: &Person, a: Attribute) -> Option<&str> {
    match a {
        Attribute::Email => p.email.as_deref(),
        Attribute::EmployeeId => p.employee_id.as_deref(),
        Attribute::FirstName => p.first_name.as_deref(),
        Attribute::LastName => p.last_name.as_deref(),
        Attribute::DisplayName => p.display_name.as_deref(),
        Attribute::Role => p.role.as_deref(),
        Attribute::Department => p.department.as_deref(),
        Attribute::Manager => p.manager.as_deref(),
    }
}

impl<'a> Explanation<'a> {
    /// Gathers what the store knows about `p`.
    pub fn of(store: &Store, p: &'a Person, policy: Option<&Policy>) -> Result<Self> {
        let mut source_records = Vec::new();
        for r in &p.records {
            if let Some(user) = store.source_user(&r.connection, &r.source_id)? {
                source_records.push(SourceRecordOut { connection: r.connection.to_string(), user });
            }
        }
        let mut not_sources: Vec<&str> = p
            .records
            .iter()
            .map(|r| &*r.connection)
            .filter(|c| !policy.is_some_and(|pol| pol.sources.iter().any(|s| s == c)))
            .collect();
        not_sources.dedup();
        let mut events = Vec::new();
        store.for_each_event(&EventFilter { person: Some(p.key.to_string()), ..EventFilter::default() }, |e| {
            events.push(e);
            Ok(())
        })?;
        Ok(Self {
            person: UserOut::from(p),
            key: &p.key,
            rule: &p.rule,
            why: p.rule.to_string(),
            review: p.review,
            trace: p.trace.iter().map(|v| TraceOut { verdict: v, text: v.to_string() }).collect(),
            not_sources,
            attributes: Attribute::ALL
                .into_iter()
                .map(|a| AttributeOut {
                    attribute: a,
                    value: attribute_value(p, a),
                    from: p.provenance.get(a).map(|c| &**c),
                })
                .collect(),
            source_records,
            events,
            resolved: p,
        })
    }
}

/// `roster explain`.
pub fn explain(db: &Path, query: &str, format: Format) -> Result<()> {
    let store = crate::open_existing(db)?;
    let people = store.find_people(query)?;
    if people.is_empty() {
        return Err(anyhow!(
            "nobody in {} has the email address or employee id `{}`; `roster users` lists everyone",
            db.display(),
            query.trim()
        ));
    }
    let applied = store.applied_policy()?;
    let policy = applied.as_ref().map(|(p, _)| p);
    let explanations: Vec<Explanation<'_>> =
        people.iter().map(|p| Explanation::of(&store, p, policy)).collect::<Result<_>>()?;
    match format {
        Format::Json => output::print(&serde_json::to_string_pretty(&explanations)?),
        Format::Table => {
            let texts: Vec<String> = explanations.iter().map(|e| text(e, applied.as_ref())).collect();
            output::print(&texts.join("\n\n"))
        }
    }
}

/// The explanation for a terminal.
pub fn text(explained: &Explanation<'_>, applied: Option<&(Policy, String)>) -> String {
    let person = explained.resolved;
    let mut out = String::new();
    let name = person.display_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    let _ = write!(out, "{}{name}", person.email.as_deref().unwrap_or(explained.key));
    if let Some(id) = &person.employee_id {
        let _ = write!(out, ", employee id {id}");
    }
    out.push('\n');
    let decided = person.decided_by.as_deref().map(|d| format!(", decided by `{d}`")).unwrap_or_default();
    let _ = writeln!(out, "  lifecycle: {}{decided}: {}", person.lifecycle, explained.why);
    if explained.review {
        out.push_str("  flagged for review\n");
    }
    if let Some((policy, at)) = applied {
        let mode =
            serde_json::to_value(policy.mode).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let _ = writeln!(out, "  policy: {mode}, sources {} (applied {at})", list(&policy.sources));
    }

    out.push_str("\n  sources of truth, highest first:\n");
    if explained.trace.is_empty() {
        out.push_str("    none\n");
    }
    let width = explained.trace.iter().map(|t| t.verdict.connection.len()).max().unwrap_or(0);
    for t in &explained.trace {
        let _ = writeln!(out, "    {}. {:<width$}  {}", t.verdict.rank, t.verdict.connection, t.text);
    }
    if !explained.not_sources.is_empty() {
        let _ = writeln!(
            out,
            "  not sources of truth (accounts and attributes only): {}",
            explained.not_sources.join(", ")
        );
    }

    out.push_str("\n  records:\n");
    let mut records = output::table(&[
        "connection",
        "source id",
        "status",
        "raw status",
        "email",
        "employee id",
        "hired",
        "terminated",
    ]);
    for r in &explained.source_records {
        let u = &r.user;
        let s = |v: &Option<CompactString>| v.as_deref().unwrap_or_default().to_owned();
        let d = |v: Option<chrono::NaiveDate>| v.map(|d| d.to_string()).unwrap_or_default();
        records.add_row(vec![
            r.connection.clone(),
            u.source_id.to_string(),
            u.status.to_string(),
            s(&u.raw_status),
            s(&u.email),
            s(&u.employee_id),
            d(u.hire_date),
            d(u.termination_date),
        ]);
    }
    out.push_str(&indent(&records.to_string(), 4));
    for r in explained.source_records.iter().filter(|r| !r.user.problems.is_empty()) {
        let _ = write!(out, "\n    {} {}: {}", r.connection, r.user.source_id, r.user.problems.join("; "));
    }

    out.push_str("\n\n  attributes:\n");
    let mut attributes = output::table(&["attribute", "value", "from"]);
    for a in &explained.attributes {
        attributes.add_row(vec![a.attribute.as_str(), a.value.unwrap_or(""), a.from.unwrap_or("")]);
    }
    if !person.aliases.is_empty() {
        attributes.add_row(vec!["aliases", &person.aliases.join(", "), ""]);
    }
    out.push_str(&indent(&attributes.to_string(), 4));

    out.push_str("\n\n  events:\n");
    if explained.events.is_empty() {
        out.push_str("    none recorded");
    } else {
        out.push_str(&indent(&super::events::table(&explained.events).to_string(), 4));
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{}", l.trim_end())).collect::<Vec<_>>().join("\n")
}
