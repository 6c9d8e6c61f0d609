//! The subcommands other than `sync`.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use roster_core::sandbox::{Org, SandboxRequest};
use roster_core::{connectors as registered, find_connector};

use crate::cli::{Format, LifecycleArg, UsersFormat};
use crate::config::{Severity, schema};
use crate::error::UsageError;
use crate::output::{self, UserOut};

/// `roster connectors`.
pub fn connectors(format: Format) -> Result<()> {
    let all = registered();
    if format == Format::Json {
        let list: Vec<_> = all
            .iter()
            .map(|d| serde_json::json!({ "id": d.id, "name": d.display_name, "description": d.description, "capabilities": d.capabilities }))
            .collect();
        return output::print(&serde_json::to_string_pretty(&list)?);
    }
    let mut t = output::table(&["id", "name", "lifecycle source", "capabilities", "description"]);
    for d in all {
        let c = d.capabilities;
        let caps: Vec<&str> = [
            (c.reports_terminated, "reports terminated"),
            (c.effective_dates, "effective dates"),
            (c.incremental_sync, "incremental sync"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        t.add_row(vec![
            d.id,
            d.display_name,
            if c.lifecycle_source { "yes" } else { "no" },
            &caps.join(", "),
            d.description,
        ]);
    }
    output::print(&t.to_string())
}

/// `roster schema <connector>|config`.
pub fn schema(name: &str) -> Result<()> {
    let value = if name == "config" {
        schema::config()
    } else {
        let d = find_connector(name).map_err(|e| anyhow!(UsageError(format!("{e}, or `config`"))))?;
        schema::credentials(d)
    };
    output::print(schema::to_text(&value).trim_end())
}

/// `roster validate`: every problem at once; exit 2 on errors.
pub fn validate(path: &Path) -> Result<()> {
    let config = crate::config::load(path)?;
    for w in &config.warnings {
        eprintln!("{w}");
    }
    let warnings = config.warnings.iter().filter(|w| w.severity == Severity::Warning).count();
    eprintln!(
        "{}: valid ({} connection{}, {warnings} warning{})",
        path.display(),
        config.connections.len(),
        if config.connections.len() == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    );
    Ok(())
}

/// `roster check`: every probe of every selected connection.
pub async fn check(path: &Path, names: &[String], format: Format) -> Result<()> {
    let config = crate::load(path)?;
    let selected = crate::sync::select(&config, names)?;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in selected.iter().enumerate() {
        let connector = c.connector.clone();
        tasks.spawn(async move { (i, connector.check().await) });
    }
    let mut reports: Vec<Option<roster_core::CheckReport>> = selected.iter().map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, report) = done.context("a check panicked")?;
        reports[i] = Some(report);
    }
    let mut failed = 0;
    let mut json = Vec::new();
    let mut text = String::new();
    for (c, report) in selected.iter().zip(reports) {
        let report = report.ok_or_else(|| anyhow!("the check of `{}` never finished", c.name))?;
        let _ = writeln!(text, "{} ({})", c.name, c.descriptor.display_name);
        for p in &report.probes {
            let (mark, detail) = match &p.result {
                Ok(detail) => ("✓", detail.clone()),
                Err(e) => {
                    failed += 1;
                    ("✗", format!("{:#}", anyhow::Error::msg(chain(e))))
                }
            };
            let _ = writeln!(text, "  {mark} {}: {detail}\n      requires {}", p.name, p.requires);
            json.push(serde_json::json!({
                "connection": c.name, "probe": p.name, "requires": p.requires, "ok": p.result.is_ok(),
                "detail": p.result.as_ref().ok(),
                "error": p.result.as_ref().err().map(|e| serde_json::json!({ "kind": e.kind(), "message": chain(e) })),
            }));
        }
    }
    if format == Format::Json {
        output::print(&serde_json::to_string_pretty(&json)?)?;
    } else {
        output::print(text.trim_end())?;
    }
    if failed > 0 {
        return Err(anyhow!("{failed} probe{} failed", if failed == 1 { "" } else { "s" }));
    }
    Ok(())
}

/// An error and its causes, joined as `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `roster users`: streamed from the database, never all in memory.
pub fn users(db: &Path, lifecycle: Option<LifecycleArg>, format: UsersFormat) -> Result<()> {
    if !db.exists() {
        return Err(anyhow!("no database at `{}` yet: run `roster sync` first", db.display()));
    }
    let store = crate::store::open(db)?;
    if store.resolved_at()?.is_none() {
        return Err(anyhow!("nobody has been synced into `{}` yet: run `roster sync` first", db.display()));
    }
    let filter = lifecycle.map(LifecycleArg::as_str);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = match format {
        UsersFormat::Json => {
            let mut first = true;
            out.write_all(b"[")?;
            store.for_each_person(filter, |p| {
                out.write_all(if first { b"\n  " } else { b",\n  " })?;
                first = false;
                serde_json::to_writer(&mut out, &UserOut::from(&p))?;
                Ok(())
            })?;
            out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
            Ok(())
        }
        UsersFormat::Ndjson => store.for_each_person(filter, |p| {
            serde_json::to_writer(&mut out, &UserOut::from(&p))?;
            out.write_all(b"\n")?;
            Ok(())
        }),
        UsersFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(output::CSV_HEADER)?;
            store.for_each_person(filter, |p| Ok(w.write_record(output::csv_row(&p))?))?;
            w.flush()?;
            Ok(())
        }
        UsersFormat::Table => {
            let mut t = output::table(&["email", "name", "role", "department", "status", "lifecycle", "decided by"]);
            let mut n = 0;
            store.for_each_person(filter, |p| {
                n += 1;
                let s = |v: &Option<String>| v.clone().unwrap_or_default();
                t.add_row(vec![
                    s(&p.email),
                    s(&p.display_name),
                    s(&p.role),
                    s(&p.department),
                    p.status.map(|x| x.as_str().to_owned()).unwrap_or_default(),
                    p.lifecycle.as_str().to_owned(),
                    s(&p.decided_by),
                ]);
                Ok(())
            })?;
            writeln!(out, "{t}\n{n} people")?;
            Ok(())
        }
    };
    result.and_then(|()| Ok(out.flush()?))
}

/// Short connection names for the printed configuration.
fn short_name(id: &str) -> &str {
    match id {
        "ukg-pro" => "ukg",
        "entra-id" => "azure",
        "google-workspace" => "google",
        other => other,
    }
}

/// `roster sandbox`: serve every linked vendor's sandbox and print a config pointing at them.
pub async fn sandbox(people: usize, port: u16, seed: u64) -> Result<()> {
    let org = std::sync::Arc::new(Org::generate(people, seed, chrono::Utc::now().date_naive()));
    let mut running = Vec::new();
    let mut next_port = port;
    for d in registered() {
        let Some(serve) = d.sandbox else { continue };
        let sandbox = serve(SandboxRequest { org: org.clone(), port: next_port })
            .await
            .map_err(|e| anyhow!("cannot start the {} sandbox: {e}", d.display_name))?;
        if next_port != 0 {
            next_port = next_port.checked_add(1).context("ran out of ports")?;
        }
        running.push((d, sandbox));
    }
    let mut toml = format!(
        "# roster.toml for {} sandbox tenant(s) of a generated organisation ({} people, seed {seed}).\n\
         # Every credential below is a fixed, fake sandbox value.\n",
        running.len(),
        org.people.len()
    );
    for (d, s) in &running {
        let _ = write!(toml, "\n[connections.{}]\n{}", short_name(d.id), s.connection_toml);
    }
    let source = running
        .iter()
        .find(|(d, _)| d.id == "ukg-pro")
        .or_else(|| running.iter().find(|(d, _)| d.capabilities.lifecycle_source))
        .map(|(d, _)| short_name(d.id));
    let _ = write!(
        toml,
        "\n[lifecycle]\nsources = [{}]\ndomains = [\"{}\"]\n",
        source.map(|s| format!("\"{s}\"")).unwrap_or_default(),
        org.domain
    );
    output::print(toml.trim_end())?;
    eprintln!(
        "serving {} sandbox(es) until Ctrl-C:\n{}\nto try roster: `roster sandbox > roster.toml` here, then in another terminal \
         `roster sync` and `roster users`",
        running.len(),
        running.iter().map(|(d, s)| format!("  {} at {}", d.display_name, s.base_url)).collect::<Vec<_>>().join("\n")
    );
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    drop(running);
    Ok(())
}
