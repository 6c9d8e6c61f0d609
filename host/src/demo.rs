//! `roster demo`: the whole flow against sandbox tenants of every vendor, in-process over real
//! loopback HTTP, with a generated organisation, so a newcomer sees roster work with no
//! credentials.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use roster_core::lifecycle::{Mode, Person};
use roster_core::sandbox::{Org, SandboxRequest};
use roster_core::{EmploymentStatus, Lifecycle, connectors};

use crate::output::{self, Ui};

/// Connection names the demo gives each vendor.
fn name_of(id: &str) -> &str {
    match id {
        "ukg-pro" => "ukg",
        "entra-id" => "azure",
        "google-workspace" => "google",
        other => other,
    }
}

/// Runs the demo; `db` keeps the database (default: a temporary one).
pub async fn run(people: usize, seed: u64, db: Option<PathBuf>, ui: &Ui) -> Result<()> {
    let org = Arc::new(Org::generate(people, seed, chrono::Utc::now().date_naive()));
    // Removed when the demo ends, however it ends.
    let tmp =
        tempfile::Builder::new().prefix("roster-demo-").tempdir().context("cannot create a temporary directory")?;
    let dir = tmp.path().to_path_buf();
    let mut toml = String::new();
    let mut running = Vec::new();
    for d in connectors() {
        let Some(serve) = d.sandbox else { continue };
        let sandbox = serve(SandboxRequest { org: org.clone(), port: 0 })
            .await
            .map_err(|e| anyhow!("cannot start the {} sandbox: {e}", d.display_name))?;
        let _ = writeln!(toml, "[connections.{}]\n{}", name_of(d.id), sandbox.connection_toml);
        running.push(sandbox);
    }
    let _ = writeln!(toml, "[lifecycle]\nsources = [\"ukg\"]\ndomains = [\"{}\"]", org.domain);
    let config_path = dir.join("roster.toml");
    std::fs::write(&config_path, &toml).context("cannot write the demo configuration")?;
    let db_path = db.unwrap_or_else(|| dir.join("roster.db"));

    let mut out = String::new();
    let _ = writeln!(
        out,
        "roster demo: {} people of a generated company ({}), served by {} vendor sandboxes on loopback.\n",
        org.people.len(),
        org.domain,
        running.len()
    );
    output::print(out.trim_end())?;
    eprintln!();

    let config = crate::config::load(&config_path)?;
    let mut store = crate::store::open(&db_path)?;
    let all: Vec<_> = config.connections.iter().collect();
    crate::sync::run(&config, &mut store, &all, false, ui).await?;
    let people = store.people()?;

    let mut out = findings(&people);
    out.push_str(&preview(&config, &store)?);

    let kept = !db_path.starts_with(&dir);
    let db_arg = if kept { db_path.display().to_string() } else { "demo.db".to_owned() };
    let _ = writeln!(out, "\nExplore further:");
    let gap = offboarding_gap(&people);
    let gap_example = gap.first().and_then(|p| p.email.as_deref()).unwrap_or("someone@acme.example");
    let commands = [
        (format!("roster --db {db_arg} users --lifecycle past"), "who left"),
        (format!("roster --db {db_arg} explain {gap_example}"), "why: every record, who decided"),
        (format!("roster --db {db_arg} users --format json"), "every person, every record"),
        ("roster sandbox > roster.toml".to_owned(), "serve the sandboxes; then `roster sync`, `roster users`"),
    ];
    let commands: Vec<(String, &str)> = if kept {
        commands.into_iter().collect()
    } else {
        std::iter::once(("roster demo --db demo.db".to_owned(), "keep the database")).chain(commands).collect()
    };
    let width = commands.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (command, what) in &commands {
        let _ = writeln!(out, "  {command:<width$}  {what}");
    }
    output::print(out.trim_end())?;
    drop(running);
    drop(store);
    Ok(())
}

/// People who left according to UKG Pro but are active in an identity provider.
fn offboarding_gap(people: &[Person]) -> Vec<&Person> {
    people
        .iter()
        .filter(|p| p.lifecycle == Lifecycle::Past && p.status != Some(EmploymentStatus::PreHire))
        .filter(|p| p.records.iter().any(|r| &*r.connection != "ukg" && r.status == EmploymentStatus::Active))
        .collect()
}

/// What the sync found: people per lifecycle, the offboarding gap, accounts nobody knows, people
/// matched across a name change.
fn findings(people: &[Person]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nSource of truth: UKG Pro only (Entra ID and Google Workspace unchecked).");
    for l in Lifecycle::ALL {
        let n = people.iter().filter(|p| p.lifecycle == l).count();
        let what = match l {
            Lifecycle::Current => "current employees",
            Lifecycle::Past => "past employees (and pre-hires not started yet)",
            Lifecycle::External => "external: guests and outside addresses",
            Lifecycle::Orphan => "orphans: accounts no source of truth knows",
        };
        let _ = writeln!(out, "  {n:>6}  {what}");
    }

    let gap = offboarding_gap(people);
    let _ = writeln!(
        out,
        "\nOffboarding gap: {} people left according to UKG Pro but still have an active account:",
        gap.len()
    );
    for p in gap.iter().take(5) {
        let accounts: Vec<&str> = p
            .records
            .iter()
            .filter(|r| &*r.connection != "ukg" && r.status == EmploymentStatus::Active)
            .map(|r| &*r.connection)
            .collect();
        let _ = writeln!(out, "  {:<40} active in {}", p.email.as_deref().unwrap_or("(no email)"), accounts.join(", "));
    }
    if gap.len() > 5 {
        let _ = writeln!(out, "  ... and {} more", gap.len() - 5);
    }

    let orphans: Vec<&Person> = people.iter().filter(|p| p.lifecycle == Lifecycle::Orphan).collect();
    let _ = writeln!(
        out,
        "\nAccounts no source of truth knows: {} (contractors and service accounts only the identity providers have):",
        orphans.len()
    );
    for p in orphans.iter().take(5) {
        let conns: Vec<&str> = p.records.iter().map(|r| &*r.connection).collect();
        let _ = writeln!(out, "  {:<40} in {}", p.email.as_deref().unwrap_or(&p.key), conns.join(", "));
    }
    let renamed: Vec<&Person> = people.iter().filter(|p| p.aliases.iter().any(|a| a.contains("-old@"))).collect();
    let _ = writeln!(
        out,
        "\nMatched by employee id despite a different address in Entra ID (a name change): {}",
        renamed.len()
    );
    for p in renamed.iter().take(3) {
        let _ = writeln!(
            out,
            "  {:<40} also {}",
            p.email.as_deref().unwrap_or(&p.key),
            p.aliases.iter().filter(|a| a.contains("-old@")).cloned().collect::<Vec<_>>().join(", ")
        );
    }

    out
}

/// What switching the sources of truth to the identity providers (any-active) would change.
fn preview(config: &crate::config::Config, store: &crate::store::Store) -> Result<String> {
    let mut policy = config.policy();
    policy.sources = vec!["azure".into(), "google".into()];
    policy.mode = Mode::AnyActive;
    let state = crate::engine::State::load(config, store)?;
    let after = state.resolve(&policy);
    let events = state.events(&after);
    Ok(format!(
        "\nPreview: sources = [\"azure\", \"google\"], mode = \"any-active\" instead of UKG Pro:\n{}\n",
        crate::engine::changes_text(&state.prior, &after, &events, 3)
    ))
}
