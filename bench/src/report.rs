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

/// One scenario at one size: the median of its rounds (one round unless `--repeat`).
#[derive(Debug)]
pub(crate) struct Row {
    pub size: usize,
    pub scenario: Scenario,
    pub outcome: Outcome,
    /// The allowed request rate of the rate-limited sandbox.
    pub rate: u32,
    /// How many rounds ran.
    pub rounds: usize,
    /// The wall time of every round, in the order they ran, for each line of `outcome` (none
    /// when a round did not end).
    pub walls: Vec<Vec<f64>>,
}

impl Row {
    /// The row of a scenario that ran `rounds` times. A round that was stopped or failed is the
    /// row's outcome. Otherwise each line is that of the round with the median wall time (of an
    /// even number of rounds, the slower of the middle two): a real run, with its own peak and
    /// rows, not an average of runs.
    pub(crate) fn from_rounds(size: usize, scenario: Scenario, rate: u32, mut rounds: Vec<Outcome>) -> Self {
        let count = rounds.len();
        let row = |outcome, walls| Self { size, scenario, outcome, rate, rounds: count, walls };
        if let Some(at) = rounds.iter().position(|o| !matches!(o, Outcome::Measured { .. })) {
            return row(rounds.swap_remove(at), Vec::new());
        }
        let measured: Vec<(&[Measured], Option<ProxyStats>)> = rounds
            .iter()
            .filter_map(|o| match o {
                Outcome::Measured { measured, proxy } => Some((measured.as_slice(), *proxy)),
                _ => None,
            })
            .collect();
        let lines = measured.iter().map(|(m, _)| m.len()).min().unwrap_or(0);
        let walls: Vec<Vec<f64>> = (0..lines).map(|j| measured.iter().map(|(m, _)| m[j].wall_secs).collect()).collect();
        let picked: Vec<usize> = walls.iter().map(|w| median_at(w)).collect();
        let outcome = Outcome::Measured {
            measured: picked.iter().enumerate().map(|(j, &r)| measured[r].0[j].clone()).collect(),
            proxy: picked.first().and_then(|&r| measured[r].1),
        };
        row(outcome, walls)
    }

    /// The range of line `j`'s wall times over the rounds, when there was more than one.
    fn wall_range(&self, j: usize) -> Option<(f64, f64)> {
        self.walls.get(j).filter(|w| w.len() > 1).map(|w| range(w))
    }
}

/// Where the median of `values` is (of an even number, the larger of the middle two).
fn median_at(values: &[f64]) -> usize {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    order[values.len() / 2]
}

/// The smallest and the largest of `values`.
fn range(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// One line for the progress log.
pub(crate) fn brief(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Measured { measured, .. } => measured
            .iter()
            .map(|m| format!("{:.2} s, peak {}", m.wall_secs, rss(m.peak_rss)))
            .collect::<Vec<_>>()
            .join("; "),
        Outcome::Stopped(after) => format!("stopped after {} s", after.as_secs()),
        Outcome::Failed(e) => format!("failed: {e}"),
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
    /// The smallest and largest wall time over the rounds, when there were several.
    wall_range: Option<(f64, f64)>,
    floor_ratio: Option<f64>,
    /// The smallest and largest ratio of a round, when there were several.
    ratio_range: Option<(f64, f64)>,
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
    // A floor whose round failed has no wall times, and so no ratio.
    let floor_walls = |size: usize| {
        rows.iter().find(|r| r.size == size && r.scenario == Scenario::Floor).and_then(|r| r.walls.first())
    };
    let mut out = Vec::new();
    for row in rows {
        match &row.outcome {
            Outcome::Measured { measured, proxy } => {
                // Each round's sync over the floor of the same round (they ran one after the
                // other): the median of those ratios, not a ratio of medians.
                let ratios: Vec<f64> = match (row.scenario, row.walls.first(), floor_walls(row.size)) {
                    (Scenario::Ukg, Some(syncs), Some(floors)) => {
                        syncs.iter().zip(floors).map(|(sync, floor)| sync / floor).collect()
                    }
                    _ => Vec::new(),
                };
                let floor_ratio = (!ratios.is_empty()).then(|| ratios[median_at(&ratios)]);
                let ratio_range = (ratios.len() > 1).then(|| range(&ratios));
                for (j, m) in measured.iter().enumerate() {
                    let checks = checks(row, m, floor_ratio, proxy.as_ref());
                    let wall_range = row.wall_range(j);
                    out.push(Line { row, measured: Some(m), wall_range, floor_ratio, ratio_range, checks });
                }
            }
            Outcome::Stopped(_) | Outcome::Failed(_) => {
                out.push(Line {
                    row,
                    measured: None,
                    wall_range: None,
                    floor_ratio: None,
                    ratio_range: None,
                    checks: Vec::new(),
                });
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
            m.map_or_else(
                || "-".into(),
                |m| match self.wall_range {
                    Some((lo, hi)) => format!("{} ({}-{})", secs(m.wall_secs), secs(lo), secs(hi)),
                    None => secs(m.wall_secs),
                },
            ),
            per_sec.map_or_else(|| "-".into(), |p| format!("{p:.0}")),
            m.map_or_else(|| "-".into(), |m| rss(m.peak_rss)),
            m.and_then(|m| m.rows_written).map_or_else(
                || "-".into(),
                |r| match m.and_then(|m| m.bookkeeping_rows) {
                    Some(b) if b > 0 => format!("{r} (+{b})"),
                    _ => r.to_string(),
                },
            ),
            self.floor_ratio.map_or_else(
                || "-".into(),
                |r| match self.ratio_range {
                    Some((lo, hi)) => format!("{r:.2}x ({lo:.2}-{hi:.2}x)"),
                    None => format!("{r:.2}x"),
                },
            ),
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
                "rounds": line.row.rounds,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(wall_secs: f64, peak: u64) -> Measured {
        Measured { wall_secs, units: 100, peak_rss: Some(peak), ..Measured::default() }
    }

    fn rounds(walls: &[f64]) -> Vec<Outcome> {
        walls
            .iter()
            .enumerate()
            .map(|(i, &w)| Outcome::Measured { measured: vec![measured(w, i as u64)], proxy: None })
            .collect()
    }

    #[test]
    #[expect(clippy::float_cmp, reason = "wall times are copied from the runs, never computed")]
    fn a_row_of_rounds_is_the_run_with_the_median_wall_time() {
        let row = Row::from_rounds(100, Scenario::Ukg, 20, rounds(&[3.0, 1.0, 2.0]));
        let Outcome::Measured { measured, .. } = &row.outcome else { panic!("{row:?}") };
        // The whole run of the median (its peak too), not an average.
        assert_eq!((measured[0].wall_secs, measured[0].peak_rss), (2.0, Some(2)));
        assert_eq!(row.walls, [[3.0, 1.0, 2.0]]);
        assert_eq!(row.wall_range(0), Some((1.0, 3.0)));
        // Of an even number, the slower of the middle two.
        let row = Row::from_rounds(100, Scenario::Ukg, 20, rounds(&[1.0, 4.0, 2.0, 3.0]));
        let Outcome::Measured { measured, .. } = &row.outcome else { panic!("{row:?}") };
        assert_eq!(measured[0].wall_secs, 3.0);
        // One round: no range to show.
        assert_eq!(Row::from_rounds(100, Scenario::Ukg, 20, rounds(&[1.5])).wall_range(0), None);
    }

    #[test]
    fn a_round_that_failed_is_the_rows_outcome() {
        let mut outcomes = rounds(&[1.0, 2.0]);
        outcomes.insert(1, Outcome::Failed("the sandbox went away".into()));
        let row = Row::from_rounds(100, Scenario::Ukg, 20, outcomes);
        assert!(matches!(&row.outcome, Outcome::Failed(e) if e == "the sandbox went away"), "{row:?}");
        assert_eq!(row.rounds, 3);
        assert_eq!(lines(std::slice::from_ref(&row))[0].verdict(), "MISS");
    }

    #[test]
    fn the_floor_ratio_is_the_median_of_each_rounds_ratio() {
        // Round by round: 2.0/1.0, 3.0/2.0, 1.2/1.0 -> 2.0, 1.5, 1.2. The ratio of the medians
        // (2.0/1.0) would be another figure.
        let rows = [
            Row::from_rounds(100_000, Scenario::Ukg, 20, rounds(&[2.0, 3.0, 1.2])),
            Row::from_rounds(100_000, Scenario::Floor, 20, rounds(&[1.0, 2.0, 1.0])),
        ];
        let lines = lines(&rows);
        assert_eq!(lines[0].floor_ratio, Some(1.5));
        assert_eq!(lines[0].ratio_range, Some((1.2, 2.0)));
        assert!(lines[0].checks.iter().any(|c| c.what == "≤ 2x floor" && c.met));
        assert_eq!(lines[1].floor_ratio, None);
    }
}
