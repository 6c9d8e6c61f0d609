//! The sandbox process (`--serve ukg,entra,...`): serves a generated organisation through each
//! vendor's emulator, as `roster sandbox` does, prints where (one JSON line), and serves until its
//! stdin closes; then prints what the rate-limiting proxy saw (one more line) and stops.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use roster_core::sandbox::{Org, SandboxRequest};

use crate::protocol::{ProxyStats, Served, ServedConnection, emit};
use crate::{Args, Vendor, proxy};

pub(crate) fn main(args: &Args) -> Result<()> {
    let people = args.people.context("--serve needs --people")?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(serve(&args.serve, people, args.seed, args.rate_limit.then_some(args.rate)))
}

async fn serve(vendors: &[Vendor], people: usize, seed: u64, rate: Option<u32>) -> Result<()> {
    let org = Arc::new(Org::generate(people, seed, chrono::Utc::now().date_naive()));
    let domain = org.domain.clone();
    let mut running = Vec::new();
    let mut connections = Vec::new();
    let mut limiter = None;
    for &vendor in vendors {
        let descriptor = roster_core::find_connector(vendor.id())?;
        let serve = descriptor.sandbox.with_context(|| format!("{} has no sandbox", vendor.id()))?;
        let sandbox = serve(SandboxRequest { org: org.clone(), port: 0 })
            .await
            .map_err(|e| anyhow!("cannot start the {} sandbox: {e}", vendor.id()))?;
        let (base_url, toml) = match rate {
            Some(rate) if vendor == Vendor::Ukg => {
                let running_proxy = proxy::start(&sandbox.base_url, rate).await?;
                let url = running_proxy.url.clone();
                let toml = sandbox.connection_toml.replace(&sandbox.base_url, &url);
                limiter = Some(running_proxy);
                (url, toml)
            }
            _ => (sandbox.base_url.clone(), sandbox.connection_toml.clone()),
        };
        connections.push(ServedConnection { name: vendor.connection().to_owned(), base_url, toml });
        running.push(sandbox);
    }
    // The sandboxes hold their own copies of the tenant; the organisation is not needed any more.
    drop(org);
    emit(&Served { domain, connections })?;

    // The parent closes stdin to stop the sandboxes; a thread waits for that, off the runtime.
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = stdin_closed.await;

    let stats = limiter.as_ref().map_or_else(ProxyStats::default, proxy::Running::stats);
    emit(&stats)?;
    drop(limiter);
    drop(running);
    // Give the sandboxes' shutdown tasks a moment (Google's removes its key file).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    Ok(())
}
