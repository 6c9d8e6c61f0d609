//! Source records and people written as JSON by hand, byte for byte as `serde_json` writes them.
//!
//! Serialising records was most of committing a snapshot: `serde_json` escapes every key of
//! every record (`"first_name"` a million times over) and scans every value byte by byte for
//! characters to escape. Here keys are written as they are known at compile time, and a value
//! is copied whole when a quick pass finds nothing in it to escape (nearly always), else
//! written by `serde_json` itself. The output is `serde_json`'s exactly (the tests compare the
//! two), so stored chunks hash the same whichever wrote them, and are read back by the
//! records' `Deserialize` as before.

use roster_core::lifecycle::{Outcome, Person, PersonRecord, Provenance, Rule, Said, Trace, Verdict};
use roster_core::model::ManagerRef;
use roster_core::prefetch::{prefetch_person_text, prefetch_value};
use roster_core::{CompactString, EmploymentStatus, SourceUser};

use recent::SHARED;

mod recent;

/// A record as a chunk stores it: one line of JSON.
pub(super) trait JsonLine {
    /// Appends the record's JSON to `out`, exactly as `serde_json::to_writer` writes it.
    ///
    /// # Errors
    ///
    /// When `serde_json` fails to write a value (it does not for these types).
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;

    /// Asks for the record's memory some records before it is written, where records are
    /// written in an order other than the one they lie in: [`JsonLine::prefetch`] first, then
    /// [`JsonLine::prefetch_text`] once the record itself is in cache. Neither does anything
    /// unless a type says otherwise.
    fn prefetch(&self) {}

    /// See [`JsonLine::prefetch`].
    fn prefetch_text(&self) {}
}

impl<T: JsonLine> JsonLine for &T {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        (**self).write_json(out)
    }

    fn prefetch(&self) {
        (**self).prefetch();
    }

    fn prefetch_text(&self) {
        (**self).prefetch_text();
    }
}

impl JsonLine for Person {
    // People are written in listing order (by email), unrelated to the order they were made in.
    fn prefetch(&self) {
        prefetch_value(self);
    }

    fn prefetch_text(&self) {
        prefetch_person_text(self);
    }

    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        // Every field named, as for `SourceUser`.
        let Self {
            key,
            email,
            aliases,
            employee_id,
            first_name,
            last_name,
            display_name,
            role,
            department,
            manager,
            status,
            lifecycle,
            decided_by,
            rule,
            trace,
            review,
            provenance,
            records,
            seen_in,
            was_current,
        } = self;
        out.extend_from_slice(b"{\"key\":");
        string(out, key)?;
        out.extend_from_slice(b",\"email\":");
        nullable(out, email.as_deref())?;
        out.extend_from_slice(b",\"aliases\":");
        strings(out, aliases.iter().map(CompactString::as_str))?;
        for (k, value) in [
            (&b",\"employee_id\":"[..], employee_id),
            (b",\"first_name\":", first_name),
            (b",\"last_name\":", last_name),
            (b",\"display_name\":", display_name),
            (b",\"role\":", role),
            (b",\"department\":", department),
            (b",\"manager\":", manager),
        ] {
            out.extend_from_slice(k);
            nullable(out, value.as_deref())?;
        }
        out.extend_from_slice(b",\"status\":");
        nullable(out, status.map(EmploymentStatus::as_str))?;
        out.extend_from_slice(b",\"lifecycle\":");
        string(out, lifecycle.as_str())?;
        out.extend_from_slice(b",\"decided_by\":");
        nullable(out, decided_by.as_deref())?;
        out.extend_from_slice(b",\"rule\":");
        write_rule(out, rule)?;
        out.extend_from_slice(b",\"trace\":");
        SHARED.with_borrow_mut(|shared| shared.traces.write(out, trace, write_trace))?;
        out.extend_from_slice(if *review { b",\"review\":true" } else { b",\"review\":false" });
        out.extend_from_slice(b",\"provenance\":");
        SHARED.with_borrow_mut(|shared| shared.provenances.write(out, provenance, write_provenance))?;
        out.extend_from_slice(b",\"records\":[");
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let PersonRecord { connection, source_id, status, raw_status } = record;
            out.extend_from_slice(b"{\"connection\":");
            string(out, connection)?;
            out.extend_from_slice(b",\"source_id\":");
            string(out, source_id)?;
            out.extend_from_slice(b",\"status\":");
            string(out, status.as_str())?;
            out.extend_from_slice(b",\"raw_status\":");
            nullable(out, raw_status.as_deref())?;
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"seen_in\":");
        SHARED.with_borrow_mut(|shared| {
            shared.seen_in.write(out, seen_in, |out, seen_in| strings(out, seen_in.iter().map(|n| &**n)))
        })?;
        out.extend_from_slice(if *was_current { b",\"was_current\":true}" } else { b",\"was_current\":false}" });
        Ok(())
    }
}

/// A trace: its verdicts as a list.
fn write_trace(out: &mut Vec<u8>, trace: &Trace) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, verdict) in trace.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_verdict(out, verdict)?;
    }
    out.push(b']');
    Ok(())
}

/// A provenance: each attribute's connection, as an object.
fn write_provenance(out: &mut Vec<u8>, provenance: &Provenance) -> serde_json::Result<()> {
    out.push(b'{');
    for (i, (attribute, connection)) in provenance.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, attribute.as_str())?;
        out.push(b':');
        string(out, connection)?;
    }
    out.push(b'}');
    Ok(())
}

/// A rule, tagged by its `rule` key.
fn write_rule(out: &mut Vec<u8>, rule: &Rule) -> serde_json::Result<()> {
    match rule {
        Rule::Status { status } => {
            out.extend_from_slice(b"{\"rule\":\"status\",\"status\":");
            string(out, status.as_str())?;
        }
        Rule::PreHire { hire_date } => {
            out.extend_from_slice(b"{\"rule\":\"pre_hire\",\"hire_date\":");
            serde_json::to_writer(&mut *out, hire_date)?;
        }
        Rule::UnknownStatus { raw_status } => {
            out.extend_from_slice(b"{\"rule\":\"unknown_status\",\"raw_status\":");
            nullable(out, raw_status.as_deref())?;
        }
        Rule::Absent => out.extend_from_slice(b"{\"rule\":\"absent\""),
        Rule::ExternalDomain { domain } => {
            out.extend_from_slice(b"{\"rule\":\"external_domain\",\"domain\":");
            string(out, domain)?;
        }
        Rule::Guest => out.extend_from_slice(b"{\"rule\":\"guest\""),
        Rule::NoSourceOfTruth => out.extend_from_slice(b"{\"rule\":\"no_source_of_truth\""),
    }
    out.push(b'}');
    Ok(())
}

/// One verdict of a trace, its outcome's fields among its own.
fn write_verdict(out: &mut Vec<u8>, verdict: &Verdict) -> serde_json::Result<()> {
    let Verdict { connection, rank, said, status, raw_status, outcome } = verdict;
    out.extend_from_slice(b"{\"connection\":");
    string(out, connection)?;
    out.extend_from_slice(b",\"rank\":");
    serde_json::to_writer(&mut *out, rank)?;
    out.extend_from_slice(match said {
        Said::Listed => b",\"said\":\"listed\"",
        Said::Absent => b",\"said\":\"absent\"",
        Said::NotListed => b",\"said\":\"not_listed\"",
        Said::NoSnapshot => b",\"said\":\"no_snapshot\"",
    });
    some(out, b",\"status\":", status.map(EmploymentStatus::as_str))?;
    some(out, b",\"raw_status\":", raw_status.as_deref())?;
    match outcome {
        Outcome::Decided => out.extend_from_slice(b",\"outcome\":\"decided\""),
        Outcome::Outranked { by } => {
            out.extend_from_slice(b",\"outcome\":\"outranked\",\"by\":");
            string(out, by)?;
        }
        Outcome::NotActive { by } => {
            out.extend_from_slice(b",\"outcome\":\"not_active\",\"by\":");
            string(out, by)?;
        }
        Outcome::Silent => out.extend_from_slice(b",\"outcome\":\"silent\""),
        Outcome::External => out.extend_from_slice(b",\"outcome\":\"external\""),
    }
    out.push(b'}');
    Ok(())
}

impl JsonLine for SourceUser {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        // Every field named, none passed over: a field added to `SourceUser` does not compile
        // here until it is written.
        let Self {
            source_id,
            person_id,
            employee_id,
            email,
            aliases,
            first_name,
            last_name,
            display_name,
            role,
            role_code,
            department,
            manager,
            status,
            raw_status,
            hire_date,
            termination_date,
            guest,
            problems,
        } = self;
        out.extend_from_slice(b"{\"source_id\":");
        string(out, source_id)?;
        some(out, b",\"person_id\":", person_id.as_deref())?;
        some(out, b",\"employee_id\":", employee_id.as_deref())?;
        some(out, b",\"email\":", email.as_deref())?;
        list(out, b",\"aliases\":", aliases)?;
        some(out, b",\"first_name\":", first_name.as_deref())?;
        some(out, b",\"last_name\":", last_name.as_deref())?;
        some(out, b",\"display_name\":", display_name.as_deref())?;
        some(out, b",\"role\":", role.as_deref())?;
        some(out, b",\"role_code\":", role_code.as_deref())?;
        some(out, b",\"department\":", department.as_deref())?;
        match manager {
            None => {}
            Some(ManagerRef::SourceId(id)) => {
                out.extend_from_slice(b",\"manager\":{\"source_id\":");
                string(out, id)?;
                out.push(b'}');
            }
            Some(ManagerRef::Email(email)) => {
                out.extend_from_slice(b",\"manager\":{\"email\":");
                string(out, email)?;
                out.push(b'}');
            }
        }
        out.extend_from_slice(b",\"status\":");
        string(out, status.as_str())?;
        some(out, b",\"raw_status\":", raw_status.as_deref())?;
        for (key, date) in [(&b",\"hire_date\":"[..], hire_date), (b",\"termination_date\":", termination_date)] {
            if let Some(date) = date {
                out.extend_from_slice(key);
                serde_json::to_writer(&mut *out, date)?;
            }
        }
        if *guest {
            out.extend_from_slice(b",\"guest\":true");
        }
        list(out, b",\"problems\":", problems)?;
        out.push(b'}');
        Ok(())
    }
}

/// `value` as a JSON string: copied between quotes when nothing in it needs escaping.
fn string(out: &mut Vec<u8>, value: &str) -> serde_json::Result<()> {
    // No early exit: a pass over every byte is one the compiler turns into vector instructions.
    let escapes =
        value.bytes().fold(0_u8, |any, b| any | u8::from(b < 0x20) | u8::from(b == b'"') | u8::from(b == b'\\')) != 0;
    if escapes {
        return serde_json::to_writer(out, value);
    }
    out.reserve(value.len() + 2);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
    Ok(())
}

/// `value`, or `null`.
fn nullable(out: &mut Vec<u8>, value: Option<&str>) -> serde_json::Result<()> {
    if let Some(value) = value {
        return string(out, value);
    }
    out.extend_from_slice(b"null");
    Ok(())
}

/// `values` as a list.
fn strings<'a>(out: &mut Vec<u8>, values: impl Iterator<Item = &'a str>) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, value)?;
    }
    out.push(b']');
    Ok(())
}

/// `key` and `value`, when there is a value (`skip_serializing_if = "Option::is_none"`).
fn some(out: &mut Vec<u8>, key: &[u8], value: Option<&str>) -> serde_json::Result<()> {
    if let Some(value) = value {
        out.extend_from_slice(key);
        string(out, value)?;
    }
    Ok(())
}

/// `key` and `values`, unless there are none (`skip_serializing_if = "Vec::is_empty"`).
fn list(out: &mut Vec<u8>, key: &[u8], values: &[impl AsRef<str>]) -> serde_json::Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    out.extend_from_slice(key);
    strings(out, values.iter().map(AsRef::as_ref))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use roster_core::compact_str::format_compact;
    use roster_core::lifecycle::{Attribute, Name};
    use roster_core::model::Lifecycle;

    use super::*;

    fn written(user: &SourceUser) -> String {
        let mut out = Vec::new();
        user.write_json(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn full(text: &str) -> SourceUser {
        let s = |suffix: &str| Some(format_compact!("{text}{suffix}"));
        SourceUser {
            source_id: format_compact!("C1/{text}"),
            person_id: s("p"),
            employee_id: s("e"),
            email: s("@acme.example"),
            aliases: vec![format_compact!("{text}.1@acme.example"), format_compact!("{text}.2@acme.example")],
            first_name: s("f"),
            last_name: s("l"),
            display_name: s("d"),
            role: s("r"),
            role_code: s("rc"),
            department: s("dep"),
            manager: Some(ManagerRef::SourceId(format_compact!("C1/{text}m"))),
            status: EmploymentStatus::OnLeave,
            raw_status: s("L"),
            hire_date: NaiveDate::from_ymd_opt(2019, 3, 4),
            termination_date: NaiveDate::from_ymd_opt(-12, 12, 31),
            guest: true,
            problems: vec![format!("{text} is odd")],
        }
    }

    #[test]
    fn records_are_written_as_serde_json_writes_them() {
        // Every field, none, and every kind of character serde_json escapes or leaves alone.
        let texts = ["ann", "", "quote\"back\\slash", "tab\tnew\nline\u{1}\u{1f}", "ünïcödé 漢字 🙂", "/slash\u{7f}"];
        let mut users = vec![SourceUser::default()];
        for text in texts {
            users.push(full(text));
            let mut email_manager = full(text);
            email_manager.manager = Some(ManagerRef::Email(format_compact!("{text}@acme.example")));
            email_manager.guest = false;
            email_manager.aliases = vec![text.into()];
            users.push(email_manager);
            users.push(SourceUser { source_id: text.into(), ..SourceUser::default() });
        }
        for status in EmploymentStatus::ALL {
            users.push(SourceUser { status, ..full("s") });
        }
        for user in &users {
            let ours = written(user);
            assert_eq!(ours, serde_json::to_string(user).unwrap());
            assert_eq!(&serde_json::from_str::<SourceUser>(&ours).unwrap(), user, "read back as it was");
        }
    }

    fn person(text: &str, rule: Rule, outcomes: Vec<Outcome>) -> Person {
        let name = |n: &str| Name::from(n);
        let s = |suffix: &str| Some(format_compact!("{text}{suffix}"));
        let trace: Vec<Verdict> = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| Verdict {
                connection: name(&format!("c{i}{text}")),
                rank: i + 1,
                said: [Said::Listed, Said::Absent, Said::NotListed, Said::NoSnapshot][i % 4],
                status: (i % 2 == 0).then_some(EmploymentStatus::Active),
                raw_status: (i % 3 == 0).then(|| format_compact!("A{text}")),
                outcome,
            })
            .collect();
        Person {
            key: format_compact!("ukg:{text}"),
            email: s("@acme.example"),
            aliases: vec![format_compact!("{text}.1@acme.example")],
            employee_id: s("e"),
            first_name: s("f"),
            last_name: s("l"),
            display_name: s("d"),
            role: s("r"),
            department: s("dep"),
            manager: s("m@acme.example"),
            status: Some(EmploymentStatus::Terminated),
            lifecycle: Lifecycle::Past,
            decided_by: Some(name("ukg")),
            rule,
            trace: trace.into(),
            review: true,
            provenance: [(Attribute::Email, name("ukg")), (Attribute::Department, name(text))].into_iter().collect(),
            records: vec![
                PersonRecord {
                    connection: name("ukg"),
                    source_id: format_compact!("C1/{text}"),
                    status: EmploymentStatus::Terminated,
                    raw_status: s("T"),
                },
                PersonRecord {
                    connection: name(text),
                    source_id: text.into(),
                    status: EmploymentStatus::Unknown,
                    raw_status: None,
                },
            ],
            seen_in: [name("ukg"), name(text)].into_iter().collect(),
            was_current: true,
        }
    }

    #[test]
    fn people_are_written_as_serde_json_writes_them() {
        let texts = ["ann", "", "quote\"back\\slash", "tab\tnew\nline\u{1}", "ünïcödé 漢字 🙂"];
        let rules = |text: &str| {
            vec![
                Rule::Status { status: EmploymentStatus::OnLeave },
                Rule::PreHire { hire_date: NaiveDate::from_ymd_opt(2027, 1, 4) },
                Rule::PreHire { hire_date: None },
                Rule::UnknownStatus { raw_status: Some(text.into()) },
                Rule::UnknownStatus { raw_status: None },
                Rule::Absent,
                Rule::ExternalDomain { domain: text.to_owned() },
                Rule::Guest,
                Rule::NoSourceOfTruth,
            ]
        };
        let outcomes = |text: &str| {
            vec![
                Outcome::Decided,
                Outcome::Outranked { by: Name::from(text) },
                Outcome::NotActive { by: Name::from("ukg") },
                Outcome::Silent,
                Outcome::External,
            ]
        };
        let mut people = vec![Person {
            email: None,
            aliases: Vec::new(),
            manager: None,
            status: None,
            decided_by: None,
            review: false,
            was_current: false,
            provenance: std::iter::empty().collect(),
            records: Vec::new(),
            seen_in: std::iter::empty().collect(),
            trace: Vec::new().into(),
            ..person("bare", Rule::Guest, Vec::new())
        }];
        for text in texts {
            people.extend(rules(text).into_iter().map(|rule| person(text, rule, outcomes(text))));
        }
        for p in &people {
            let mut ours = Vec::new();
            p.write_json(&mut ours).unwrap();
            assert_eq!(String::from_utf8(ours.clone()).unwrap(), serde_json::to_string(p).unwrap());
            assert_eq!(&serde_json::from_slice::<Person>(&ours).unwrap(), p, "read back as it was");
        }
    }

    #[test]
    fn shared_values_are_copied_only_where_they_are_equal() {
        // Twenty distinct traces, provenances and sets, more than are kept: one comes back every
        // other person (copied while it is kept), the others in turn (each written anew).
        let people: Vec<Person> = (0..80)
            .map(|i| {
                let text = if i % 2 == 0 { "p0".to_owned() } else { format!("p{}", (i * 7) % 20) };
                person(&text, Rule::Absent, vec![Outcome::Decided, Outcome::Outranked { by: Name::from("ukg") }])
            })
            .collect();
        for p in &people {
            let mut ours = Vec::new();
            p.write_json(&mut ours).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(p).unwrap());
        }
    }
}
