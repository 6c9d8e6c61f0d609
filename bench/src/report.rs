//! The table: one line per measurement, with the target it is held to and whether it is met.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use anyhow::Result;
use comfy_table::{Cell, CellAlignment, Table, presets};
use serde_json::json;

use crate::protocol::{Measured, ProxyStats};
use crate::{Format, Scenario};

const MB: f64 = 1024.0 * 1024.0;

/// How a scenario ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// It ran to its end.
    Measured {
        /// What it measured (one or more lines).
        measured: Vec<Measured>,
        /// What the rate-limiting proxy saw, for `ratelimit`.
        proxy: Option<ProxyStats>,
    },
    /// It was stopped after this long.
    Stopped(Duration),
    /// It failed.
    Failed(String),
}

/// One scenario at one size.
#[derive(Debug)]
pub(crate) struct Row {
    pub size: usize,
    pub scenario: Scenario,
    pub outcome: Outcome,
    /// The allowed request rate of the rate-limited sandbox.
    pub rate: u32,
}

impl Row {
    /// One line for the progress log.
    pub(crate) fn brief(&self) -> String {
        match &self.outcome {
            Outcome::Measured { measured, .. } => measured
                .iter()
                .map(|m| format!("{:.2} s, peak {}", m.wall_secs, rss(m.peak_rss)))
                .collect::<Vec<_>>()
                .join("; "),
            Outcome::Stopped(after) => format!("stopped after {} s", after.as_secs()),
            Outcome::Failed(e) => format!("failed: {e}"),
        }
    }
}

/// One check of a figure against its target.
struct Check {
    what: String,
    met: bool,
}

/// A line of the table, with what it is held to.
struct Line<'r> {
    row: &'r Row,
    measured: Option<&'r Measured>,
    floor_ratio: Option<f64>,
    checks: Vec<Check>,
}

fn secs(wall: f64) -> String {
    if wall < 1.0 { format!("{:.0} ms", wall * 1000.0) } else { format!("{wall:.2} s") }
}

#[expect(clippy::cast_precision_loss, reason = "byte counts of a process are far below 2^52")]
fn rss(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "n/a".to_owned(), |b| format!("{:.0} MB", b as f64 / MB))
}

/// The targets of docs/performance.md that apply to a measurement.
#[expect(clippy::cast_precision_loss, reason = "byte and request counts are far below 2^52")]
fn checks(row: &Row, m: &Measured, floor_ratio: Option<f64>, proxy: Option<&ProxyStats>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |what: String, met: bool| checks.push(Check { what, met });
    let peak = m.peak_rss.map(|b| b as f64 / MB);
    let wall_and_rss = |wall: f64, rss_mb: f64| {
        let mut out = vec![(format!("≤ {wall} s"), m.wall_secs <= wall)];
        if let Some(peak) = peak {
            out.push((format!("≤ {rss_mb} MB"), peak <= rss_mb));
        }
        out
    };
    match (row.scenario, row.size) {
        (Scenario::Ukg, 100_000) => {
            for (what, met) in wall_and_rss(2.0, 300.0) {
                check(what, met);
            }
            if let Some(ratio) = floor_ratio {
                check("≤ 2x floor".into(), ratio <= 2.0);
            }
        }
        (Scenario::Ukg, 1_000_000) => {
            for (what, met) in wall_and_rss(20.0, 1536.0) {
                check(what, met);
            }
        }
        (Scenario::Resolve, 1_000_000) => check("≤ 3 s".into(), m.wall_secs <= 3.0),
        (Scenario::Resync, _) => check("0 rows".into(), m.rows_written == Some(0)),
        (Scenario::Ratelimit, _) => {
            let share = proxy.and_then(|p| p.share_of_allowed(row.rate)).unwrap_or(0.0);
            check(format!("≥ 90% of {} req/s", row.rate), share >= 0.9);
            check("≤ 5 × 429".into(), proxy.is_some_and(|p| p.refused <= 5));
        }
        _ => {}
    }
    checks
}

fn lines(rows: &[Row]) -> Vec<Line<'_>> {
    let floor_of = |size: usize| {
        rows.iter().find(|r| r.size == size && r.scenario == Scenario::Floor).and_then(|r| match &r.outcome {
            Outcome::Measured { measured, .. } => measured.first().map(|m| m.wall_secs),
            _ => None,
        })
    };
    let mut out = Vec::new();
    for row in rows {
        match &row.outcome {
            Outcome::Measured { measured, proxy } => {
                for m in measured {
                    let floor_ratio =
                        (row.scenario == Scenario::Ukg).then(|| floor_of(row.size)).flatten().map(|f| m.wall_secs / f);
                    let checks = checks(row, m, floor_ratio, proxy.as_ref());
                    out.push(Line { row, measured: Some(m), floor_ratio, checks });
                }
            }
            Outcome::Stopped(_) | Outcome::Failed(_) => {
                out.push(Line { row, measured: None, floor_ratio: None, checks: Vec::new() });
            }
        }
    }
    out
}

impl Line<'_> {
    fn scenario(&self) -> String {
        match self.measured.and_then(|m| m.label.as_deref()) {
            Some(label) => format!("{} ({label})", self.row.scenario.name()),
            None => self.row.scenario.name().to_owned(),
        }
    }

    fn verdict(&self) -> &'static str {
        match (&self.row.outcome, self.checks.is_empty()) {
            (Outcome::Stopped(_) | Outcome::Failed(_), _) => "MISS",
            (_, true) => "-",
            _ if self.checks.iter().all(|c| c.met) => "PASS",
            _ => "MISS",
        }
    }

    fn targets(&self) -> String {
        let list: Vec<String> =
            self.checks.iter().map(|c| format!("{}{}", c.what, if c.met { "" } else { " ✗" })).collect();
        if list.is_empty() { "-".to_owned() } else { list.join(", ") }
    }

    /// Requests, bytes, or what the rate limit did.
    #[expect(clippy::cast_precision_loss, reason = "byte counts are far below 2^52")]
    fn http(&self) -> String {
        let Some(m) = self.measured else {
            return match &self.row.outcome {
                Outcome::Stopped(after) => format!("stopped after {} s", after.as_secs()),
                Outcome::Failed(e) => format!("failed: {}", e.lines().next().unwrap_or_default()),
                Outcome::Measured { .. } => String::new(),
            };
        };
        if let Outcome::Measured { proxy: Some(p), .. } = &self.row.outcome {
            return format!(
                "{:.1} req/s, {:.0}% of the {} req/s allowed, {} × 429",
                p.achieved_rate().unwrap_or(0.0),
                p.share_of_allowed(self.row.rate).unwrap_or(0.0) * 100.0,
                self.row.rate,
                p.refused
            );
        }
        match (m.requests, m.bytes) {
            (Some(r), Some(b)) => format!("{r} requests, {:.1} MB", b as f64 / MB),
            (Some(r), None) => format!("{r} requests"),
            _ => String::new(),
        }
    }

    #[expect(clippy::cast_precision_loss, reason = "people counts are far below 2^52")]
    fn cells(&self) -> Vec<String> {
        let m = self.measured;
        let per_sec = m.filter(|m| m.wall_secs > 0.0).map(|m| m.units as f64 / m.wall_secs);
        vec![
            self.row.size.to_string(),
            self.scenario(),
            m.map_or_else(|| "-".into(), |m| secs(m.wall_secs)),
            per_sec.map_or_else(|| "-".into(), |p| format!("{p:.0}")),
            m.map_or_else(|| "-".into(), |m| rss(m.peak_rss)),
            m.and_then(|m| m.rows_written).map_or_else(
                || "-".into(),
                |r| match m.and_then(|m| m.bookkeeping_rows) {
                    Some(b) if b > 0 => format!("{r} (+{b})"),
                    _ => r.to_string(),
                },
            ),
            self.floor_ratio.map_or_else(|| "-".into(), |r| format!("{r:.2}x")),
            self.http(),
            self.targets(),
            self.verdict().to_owned(),
        ]
    }
}

const HEADER: [&str; 10] =
    ["people", "scenario", "wall", "people/s", "peak RSS", "rows written", "vs floor", "HTTP", "target", "result"];

/// Prints the table (or JSON lines), then the checks that span sizes.
pub(crate) fn print(rows: &[Row], format: Format) -> Result<()> {
    let lines = lines(rows);
    let mut out = String::new();
    if format == Format::Json {
        for line in &lines {
            let m = line.measured;
            let proxy = match &line.row.outcome {
                Outcome::Measured { proxy, .. } => *proxy,
                _ => None,
            };
            let value = json!({
                "people": line.row.size,
                "scenario": line.row.scenario.name(),
                "label": m.and_then(|m| m.label.clone()),
                "completed": m.is_some(),
                "wall_secs": m.map(|m| m.wall_secs),
                "units": m.map(|m| m.units),
                "peak_rss": m.and_then(|m| m.peak_rss),
                "rows_written": m.and_then(|m| m.rows_written),
                "bookkeeping_rows": m.and_then(|m| m.bookkeeping_rows),
                "requests": m.and_then(|m| m.requests),
                "floor_ratio": line.floor_ratio,
                "admitted": proxy.map(|p| p.admitted),
                "refused": proxy.map(|p| p.refused),
                "achieved_rate": proxy.and_then(|p| p.achieved_rate()),
                "share_of_allowed": proxy.and_then(|p| p.share_of_allowed(line.row.rate)),
                "result": line.verdict(),
            });
            let _ = writeln!(out, "{value}");
        }
    } else {
        let mut table = Table::new();
        table.load_style(if format == Format::Markdown {
            presets::ASCII_MARKDOWN
        } else {
            presets::UTF8_FULL_CONDENSED
        });
        table.set_header(HEADER);
        for line in &lines {
            table.add_row(line.cells().into_iter().enumerate().map(|(i, c)| {
                let cell = Cell::new(c);
                if matches!(i, 0 | 2..=6) { cell.set_alignment(CellAlignment::Right) } else { cell }
            }));
        }
        let _ = writeln!(out, "{table}");
        for line in spanning_checks(rows) {
            let _ = writeln!(out, "{line}");
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    Ok(())
}

/// The checks across sizes: memory grows no faster than people (UKG syncs), and the HTTP layer
/// holds a bounded number of pages (the floor's memory does not grow with the tenant).
#[expect(clippy::cast_precision_loss, reason = "byte and people counts are far below 2^52")]
fn spanning_checks(rows: &[Row]) -> Vec<String> {
    let peaks = |scenario: Scenario| -> Vec<(usize, u64)> {
        let mut v: Vec<(usize, u64)> = rows
            .iter()
            .filter(|r| r.scenario == scenario)
            .filter_map(|r| match &r.outcome {
                Outcome::Measured { measured, .. } => Some((r.size, measured.first()?.peak_rss?)),
                _ => None,
            })
            .collect();
        v.sort_unstable();
        v
    };
    let mut out = Vec::new();
    let ukg = peaks(Scenario::Ukg);
    for pair in ukg.windows(2) {
        let [(small, small_rss), (big, big_rss)] = [pair[0], pair[1]];
        let people = big as f64 / small as f64;
        let memory = big_rss as f64 / small_rss as f64;
        out.push(format!(
            "memory of a ukg sync, {small} -> {big} people (x{people:.0}): x{memory:.1} ({} -> {}): {}",
            rss(Some(small_rss)),
            rss(Some(big_rss)),
            if memory <= people { "PASS (no faster than people)" } else { "MISS (faster than people)" }
        ));
    }
    // The floor: its peak may grow by the pages in flight (larger at larger tenants, up to the
    // page size), not by the tenant. A ratio of peaks said nothing at 1k, whose peak is the
    // process alone; what grew is compared with what was fetched instead: a floor that kept
    // what it fetched would grow by all of it.
    let fetched = |size: usize| {
        rows.iter().find(|r| r.scenario == Scenario::Floor && r.size == size).and_then(|r| match &r.outcome {
            Outcome::Measured { measured, .. } => Some((measured.first()?.bytes?, measured.first()?.requests?)),
            _ => None,
        })
    };
    let floor = peaks(Scenario::Floor);
    if let (Some(&(small, small_rss)), Some(&(big, big_rss))) = (floor.first(), floor.last())
        && big > small
        && let Some((bytes, requests)) = fetched(big)
    {
        let grown = big_rss.saturating_sub(small_rss) as f64;
        let page = bytes as f64 / requests.max(1) as f64;
        let share = grown / bytes.max(1) as f64;
        out.push(format!(
            "memory of the http floor, {small} -> {big} people: +{} ({} -> {}), {:.0}% of the {} fetched, about {:.1} pages: {}",
            rss(Some(big_rss.saturating_sub(small_rss))),
            rss(Some(small_rss)),
            rss(Some(big_rss)),
            share * 100.0,
            rss(Some(bytes)),
            grown / page,
            if share <= 0.5 { "PASS (bounded: pages, not the tenant)" } else { "MISS (grows with the tenant)" }
        ));
    }
    out
}
