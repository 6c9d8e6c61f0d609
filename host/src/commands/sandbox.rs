//! `roster sandbox`: serve every linked vendor's emulator and print a configuration that points
//! at them, to try roster (or develop a connector) with no credentials.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use roster_core::sandbox::{Org, RunningSandbox, SandboxRequest};
use roster_core::{ConnectorDescriptor, connectors};

use crate::output::{self, Ui};

/// The connection name the printed configuration gives a connector: the short names an admin
/// would pick (DESIGN.md's examples), else the id.
fn short_name(id: &str) -> &str {
    match id {
        "ukg-pro" => "ukg",
        "entra-id" => "azure",
        "google-workspace" => "google",
        other => other,
    }
}

/// Serves the sandboxes on `port`, `port + 1`, ... (0: any free ports) with a generated
/// organisation of `people` people, prints the configuration to stdout and how to use it to
/// stderr, then serves until Ctrl-C.
pub async fn sandbox(people: usize, port: u16, seed: u64, ui: &Ui) -> Result<()> {
    let org = Arc::new(Org::generate(people, seed, chrono::Utc::now().date_naive()));
    let with_sandbox: Vec<&'static ConnectorDescriptor> =
        connectors().into_iter().filter(|d| d.sandbox.is_some()).collect();
    // The source of truth first: UKG Pro when it is linked (an HR system), else the first
    // connector that can be one.
    let source = with_sandbox
        .iter()
        .find(|d| d.id == "ukg-pro")
        .or_else(|| with_sandbox.iter().find(|d| d.capabilities.lifecycle_source))
        .copied();
    let mut ordered: Vec<&'static ConnectorDescriptor> = source.into_iter().collect();
    ordered.extend(with_sandbox.iter().filter(|d| Some(d.id) != source.map(|s| s.id)));
    if ordered.is_empty() {
        return Err(anyhow!("no linked connector has a sandbox: build roster with its default `sandbox` feature"));
    }

    let mut running: Vec<(&ConnectorDescriptor, String, RunningSandbox)> = Vec::new();
    for (i, d) in ordered.iter().enumerate() {
        let Some(serve) = d.sandbox else { continue };
        let port = if port == 0 {
            0
        } else {
            u16::try_from(i)
                .ok()
                .and_then(|i| port.checked_add(i))
                .context("--port leaves no room for every sandbox")?
        };
        let sandbox = serve(SandboxRequest { org: org.clone(), port })
            .await
            .map_err(|e| anyhow!("cannot start the {} sandbox: {e}", d.display_name))?;
        let short = short_name(d.id);
        // Two connectors must not share a name: the second one keeps its id.
        let name = if running.iter().any(|(_, n, _)| n == short) { d.id } else { short }.to_owned();
        running.push((d, name, sandbox));
    }

    let mut toml = format!(
        "# roster.toml for sandbox tenants of a generated organisation ({} people, seed {seed}),\n\
         # served by `roster sandbox` on this machine. Every credential below is a fixed, fake\n\
         # sandbox value that only these emulators accept.\n",
        org.people.len()
    );
    for (_, name, s) in &running {
        let _ = write!(toml, "\n[connections.{name}]\n{}", s.connection_toml);
        if !s.connection_toml.ends_with('\n') {
            toml.push('\n');
        }
    }
    let sources = running.first().filter(|(d, ..)| d.capabilities.lifecycle_source).map(|(_, n, _)| format!("\"{n}\""));
    let _ =
        write!(toml, "\n[lifecycle]\nsources = [{}]\ndomains = [\"{}\"]\n", sources.unwrap_or_default(), org.domain);
    output::print(toml.trim_end())?;

    let mut help =
        format!("serving {} sandbox{} until Ctrl-C:\n", running.len(), if running.len() == 1 { "" } else { "es" });
    for (d, name, s) in &running {
        let _ = writeln!(help, "  {name:<8} {:<20} {}", d.display_name, s.base_url);
    }
    help.push_str(
        "the configuration above (stdout) points at them. To try roster:\n  \
         roster sandbox > roster.toml     in one terminal (it serves until Ctrl-C)\n  \
         roster sync                      then, in another terminal in the same directory\n  \
         roster users                     who works here, and who decided\n  \
         roster check                     what each connection can reach",
    );
    ui.status(&help);

    wait_for_shutdown().await?;
    ui.status("stopping the sandboxes");
    drop(running);
    Ok(())
}

/// Ctrl-C, or (on unix) a polite `kill`.
async fn wait_for_shutdown() -> Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot wait for Ctrl-C"),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")
    }
}
