//! The parent process: for each size and scenario, starts a sandbox process, writes the
//! scenario's `roster.toml`, runs the scenario in a process of its own (stopping it past
//! `--timeout`), collects what both report, and prints the table.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::protocol::{Measured, ProxyStats, Served};
use crate::report::{Outcome, Row};
use crate::scenario::{BEFORE, CONFIG};
use crate::{Args, Scenario, Vendor, report};

pub(crate) fn main(args: &Args) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the bench's own executable")?;
    let scenarios: Vec<Scenario> =
        Scenario::ALL.into_iter().filter(|s| args.only.is_empty() || args.only.contains(s)).collect();
    let mut rows = Vec::new();
    for &size in &args.sizes {
        // Rounds of every scenario in turn, so that each scenario's runs spread over the same
        // minutes as the others' (this machine's speed drifts): a sync and its floor alternate.
        let mut rounds: Vec<Vec<Outcome>> = scenarios.iter().map(|_| Vec::new()).collect();
        for round in 1..=args.repeat {
            for (&scenario, outcomes) in scenarios.iter().zip(&mut rounds) {
                let started = Instant::now();
                let outcome =
                    run_scenario(&exe, args, scenario, size).unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")));
                let of = if args.repeat > 1 { format!(" (round {round} of {})", args.repeat) } else { String::new() };
                eprintln!(
                    "{:>9} people  {:<9} {}  ({:.0} s with sandbox start-up){of}",
                    size,
                    scenario.name(),
                    report::brief(&outcome),
                    started.elapsed().as_secs_f64()
                );
                outcomes.push(outcome);
            }
        }
        for (&scenario, outcomes) in scenarios.iter().zip(rounds) {
            rows.push(Row::from_rounds(size, scenario, args.rate, outcomes));
        }
    }
    report::print(&rows, args.format)
}

/// Runs one scenario at one size, sandboxes included.
fn run_scenario(exe: &Path, args: &Args, scenario: Scenario, size: usize) -> Result<Outcome> {
    let dir =
        tempfile::Builder::new().prefix("roster-bench-").tempdir().context("cannot create a temporary directory")?;
    let mut server = match scenario.vendors() {
        [] => None,
        vendors => Some(Server::start(exe, args, vendors, scenario == Scenario::Ratelimit, served(scenario, size))?),
    };
    // `change` first syncs the tenant as it was the day before: the same people, but for the hires.
    let before = match scenario {
        Scenario::Change => Some(Server::start(exe, args, scenario.vendors(), false, size)?),
        _ => None,
    };
    let mut command = Command::new(exe);
    command
        .args(["--scenario", scenario.name(), "--people", &size.to_string(), "--seed", &args.seed.to_string()])
        .arg("--dir")
        .arg(dir.path());
    let write_config = |name: &str, server: &Server| {
        std::fs::write(dir.path().join(name), config_toml(&server.served, scenario, size, args))
            .with_context(|| format!("cannot write {name}"))
    };
    if let Some(server) = &server {
        write_config(CONFIG, server)?;
        if scenario == Scenario::Floor {
            command.args(["--url", &server.served.connections[0].base_url]);
        }
    }
    if let Some(before) = &before {
        write_config(BEFORE, before)?;
    }
    let outcome = run_child(&mut command, Duration::from_secs(args.timeout));
    drop(before);
    let stats = match server.take() {
        Some(server) => server.stop()?,
        None => ProxyStats::default(),
    };
    Ok(match outcome? {
        Ok(measured) if scenario == Scenario::Ratelimit => Outcome::Measured { measured, proxy: Some(stats) },
        Ok(measured) => Outcome::Measured { measured, proxy: None },
        Err(timeout) => Outcome::Stopped(timeout),
    })
}

/// The people of the tenant a scenario syncs at `size`: `change` syncs a tenant of `size` people
/// first, then this one, with one in two thousand hired since (at least one).
fn served(scenario: Scenario, size: usize) -> usize {
    match scenario {
        Scenario::Change => size + size.div_ceil(2000),
        _ => size,
    }
}

/// The rows per page of the rate-limited sync: enough pages that the listing needs about
/// `rate * rate_seconds` requests over both endpoints, whatever the size.
pub(crate) fn rate_limited_page_size(people: usize, rate: u32, seconds: u64) -> u32 {
    let requests = u64::from(rate.max(1)) * seconds.max(1);
    let rows = (2 * people as u64).div_ceil(requests).clamp(1, u64::from(roster_ukg_pro::credentials::MAX_PAGE_SIZE));
    u32::try_from(rows).unwrap_or(1)
}

/// The scenario's `roster.toml`: the served connections, the first one the source of truth.
fn config_toml(served: &Served, scenario: Scenario, size: usize, args: &Args) -> String {
    let mut toml = String::new();
    for c in &served.connections {
        let _ = write!(toml, "[connections.{}]\n{}", c.name, c.toml);
        if !c.toml.ends_with('\n') {
            toml.push('\n');
        }
        if scenario == Scenario::Ratelimit && c.name == Vendor::Ukg.connection() {
            let _ = writeln!(toml, "page_size = {}", rate_limited_page_size(size, args.rate, args.rate_seconds));
        }
        toml.push('\n');
    }
    let source = served.connections.first().map_or("", |c| c.name.as_str());
    let _ = write!(toml, "[lifecycle]\nsources = [\"{source}\"]\ndomains = [\"{}\"]\n", served.domain);
    toml
}

/// Runs a scenario process to its end and reads its measurements; `Ok(Err(t))` when it was
/// stopped after `timeout` `t`.
fn run_child(command: &mut Command, timeout: Duration) -> Result<Result<Vec<Measured>, Duration>> {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).spawn().context("cannot start a scenario")?;
    let mut stdout = child.stdout.take().context("no stdout")?;
    // Read on a thread, so a child that writes a lot cannot block on a full pipe meanwhile.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).map(|_| out)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > timeout {
            // Only this child, by its own handle.
            child.kill().context("cannot stop the scenario")?;
            child.wait()?;
            return Ok(Err(timeout));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().map_err(|_| anyhow!("the reader thread panicked"))??;
    if !status.success() {
        bail!("the scenario failed ({status}); its error is printed above");
    }
    let line = out.lines().last().context("the scenario printed nothing")?;
    Ok(Ok(serde_json::from_str(line).context("the scenario's output is not a measurement")?))
}

/// A running sandbox process.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    served: Served,
}

impl Server {
    fn start(exe: &Path, args: &Args, vendors: &[Vendor], rate_limit: bool, size: usize) -> Result<Self> {
        let names: Vec<&str> = vendors.iter().map(|v| v.connection_flag()).collect();
        let mut command = Command::new(exe);
        command.args(["--serve", &names.join(","), "--people", &size.to_string(), "--seed", &args.seed.to_string()]);
        if rate_limit {
            command.args(["--rate-limit", "--rate", &args.rate.to_string()]);
        }
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().context("cannot start the sandbox process")?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line).context("cannot read from the sandbox process")?;
        if line.is_empty() {
            let status = child.wait()?;
            bail!("the sandbox process ended ({status}) before serving; its error is printed above");
        }
        let served = serde_json::from_str(&line).context("the sandbox process's output is not a list of sandboxes")?;
        Ok(Self { child, stdin, stdout, served })
    }

    /// Closes its stdin, which stops it, and reads what its proxy saw.
    fn stop(mut self) -> Result<ProxyStats> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let mut line = String::new();
        self.stdout.read_line(&mut line).context("cannot read from the sandbox process")?;
        self.child.wait()?;
        Ok(if line.trim().is_empty() { ProxyStats::default() } else { serde_json::from_str(&line)? })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A scenario that failed early still stops its sandboxes: closing stdin is their signal.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Vendor {
    /// The vendor's name as `--serve` takes it.
    fn connection_flag(self) -> &'static str {
        match self {
            Self::Ukg => "ukg",
            Self::Entra => "entra",
            Self::Google => "google",
        }
    }
}
