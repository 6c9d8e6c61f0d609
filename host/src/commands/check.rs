//! `roster check`: authenticate and probe every permission of each connection.

use std::fmt::Write as _;

use anyhow::{Context, Result, anyhow};
use roster_core::CheckReport;

use crate::cli::Format;
use crate::config::{Config, plural};
use crate::output;

/// Runs every selected connection's probes concurrently and prints each as `✓`/`✗`, what it
/// requires, and what was seen or the error chain. Fails (exit status 1) if any probe failed.
pub async fn check(config: &Config, names: &[String], format: Format) -> Result<()> {
    let selected = crate::sync::select(config, names)?;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in selected.iter().enumerate() {
        let connector = c.connector.clone();
        tasks.spawn(async move { (i, connector.check().await) });
    }
    let mut reports: Vec<Option<CheckReport>> = selected.iter().map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, report) = done.context("a connection check crashed (a bug: please report it)")?;
        reports[i] = Some(report);
    }

    let (mut failed, mut total) = (0, 0);
    let mut json = Vec::new();
    let mut text = String::new();
    for (c, report) in selected.iter().zip(reports) {
        let report = report.ok_or_else(|| anyhow!("the check of `{}` never finished", c.name))?;
        let _ = writeln!(text, "{} ({})", c.name, c.descriptor.display_name);
        if report.probes.is_empty() {
            let _ = writeln!(text, "  (this connector has nothing to probe)");
        }
        for p in &report.probes {
            total += 1;
            let (mark, detail) = match &p.result {
                Ok(detail) => ("✓", detail.clone()),
                Err(e) => {
                    failed += 1;
                    ("✗", chain(e))
                }
            };
            let _ = writeln!(text, "  {mark} {}: {detail}\n      requires {}", p.name, p.requires);
            json.push(serde_json::json!({
                "connection": c.name,
                "connector": c.descriptor.id,
                "probe": p.name,
                "requires": p.requires,
                "ok": p.result.is_ok(),
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
        return Err(anyhow!("{failed} of {total} probe{} failed", plural(total)));
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
