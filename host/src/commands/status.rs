//! `roster status`: every connection at a glance, as an integrations page shows it.

use std::fmt::Write as _;

use anyhow::Result;
use comfy_table::{Cell, Color};
use roster_core::Lifecycle;
use serde::Serialize;

use crate::cli::Format;
use crate::config::Config;
use crate::output;
use crate::store::{ConnectionStatus, Store};

/// How a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Its last sync took a complete snapshot.
    Ok,
    /// Its last sync failed; an older snapshot may still be in force.
    Failed,
    /// Its last listing was held by a safety threshold and is pending.
    Held,
    /// Configured, never synced.
    NotSynced,
}

impl State {
    fn mark(self) -> Cell {
        match self {
            Self::Ok => Cell::new("✓").fg(Color::Green),
            Self::Failed => Cell::new("✗").fg(Color::Red),
            Self::Held => Cell::new("!").fg(Color::Yellow),
            Self::NotSynced => Cell::new("·"),
        }
    }
}

/// One connection's row.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Connection name.
    pub name: String,
    /// Connector id.
    pub connector: String,
    /// How it stands.
    pub state: State,
    /// Whether it is configured in the file (a removed connection keeps its history).
    pub configured: bool,
    /// When the last sync ended.
    pub last_sync_at: Option<String>,
    /// `ok`, `failed` or `held`.
    pub last_outcome: Option<String>,
    /// When the snapshot in force was taken.
    pub last_success_at: Option<String>,
    /// Users in the snapshot in force.
    pub users: Option<i64>,
    /// Why the last sync failed or was held.
    pub last_error: Option<String>,
    /// Users in a held listing, when one is pending.
    pub pending_users: Option<i64>,
}

fn rows(config: &Config, statuses: Vec<ConnectionStatus>) -> Vec<Row> {
    let mut rows: Vec<Row> = config
        .connections
        .iter()
        .map(|c| Row {
            name: c.name.clone(),
            connector: c.descriptor.id.to_owned(),
            state: State::NotSynced,
            configured: true,
            last_sync_at: None,
            last_outcome: None,
            last_success_at: None,
            users: None,
            last_error: None,
            pending_users: None,
        })
        .collect();
    for s in statuses {
        let state = match s.last_outcome.as_deref() {
            Some("ok") => State::Ok,
            Some("held") => State::Held,
            Some(_) => State::Failed,
            None => State::NotSynced,
        };
        let row = Row {
            name: s.name.clone(),
            connector: s.connector,
            state,
            configured: config.connections.iter().any(|c| c.name == s.name),
            last_sync_at: s.last_sync_at,
            last_outcome: s.last_outcome,
            last_success_at: s.last_success_at,
            users: s.users,
            last_error: s.last_error,
            pending_users: s.pending_users,
        };
        match rows.iter_mut().find(|r| r.name == s.name) {
            Some(r) => *r = row,
            None => rows.push(row),
        }
    }
    rows
}

/// `roster status`.
pub fn status(config: &Config, db: &std::path::Path, format: Format) -> Result<()> {
    let store = if db.exists() { Some(crate::store::open(db)?) } else { None };
    let statuses = store.as_ref().map(Store::statuses).transpose()?.unwrap_or_default();
    let rows = rows(config, statuses);
    let counts = store.as_ref().map(Store::lifecycle_counts).transpose()?;
    let resolved_at = store.as_ref().map(Store::resolved_at).transpose()?.flatten();
    let applied = store.as_ref().map(Store::applied_policy).transpose()?.flatten();
    let policy_matches = applied.as_ref().map(|(p, _)| *p == config.policy());

    if format == Format::Json {
        let people = counts.as_ref().map(|c| {
            Lifecycle::ALL
                .iter()
                .zip(c)
                .map(|(l, n)| (l.as_str().to_owned(), serde_json::Value::from(*n)))
                .collect::<serde_json::Map<_, _>>()
        });
        let json = serde_json::json!({
            "connections": rows,
            "people": people,
            "resolved_at": resolved_at,
            "policy": applied.as_ref().map(|(_, at)| serde_json::json!({ "applied_at": at, "matches_config": policy_matches })),
        });
        return output::print(&serde_json::to_string_pretty(&json)?);
    }

    let mut t = output::table(&["", "connection", "connector", "last sync", "users", "note"]);
    for r in &rows {
        let note = match (&r.state, &r.last_error) {
            (State::NotSynced, _) => "not synced yet: run `roster sync`".to_owned(),
            (_, Some(e)) => e.clone(),
            _ if !r.configured => "no longer in the configuration".to_owned(),
            _ => String::new(),
        };
        let when = r.last_sync_at.as_deref().map(ago).unwrap_or_default();
        let users = r.users.map(|u| u.to_string()).unwrap_or_default();
        t.add_row(vec![
            r.state.mark(),
            Cell::new(&r.name),
            Cell::new(&r.connector),
            Cell::new(when),
            Cell::new(users),
            Cell::new(note),
        ]);
    }
    let mut text = t.to_string();
    text.push('\n');
    match (&counts, &resolved_at) {
        (Some(c), Some(at)) => {
            let parts: Vec<String> = Lifecycle::ALL.iter().zip(c).map(|(l, n)| format!("{n} {l}")).collect();
            let _ = write!(text, "\npeople: {} (resolved {})", parts.join(", "), ago(at));
        }
        _ => text.push_str("\npeople: not resolved yet"),
    }
    match (&applied, policy_matches) {
        (Some((_, at)), Some(true)) => {
            let _ = write!(text, "\npolicy: [lifecycle] of {} (applied {})", config.path.display(), ago(at));
        }
        (Some((_, at)), _) => {
            let _ = write!(
                text,
                "\npolicy: applied {}; [lifecycle] in {} differs: `roster preview` shows what it would change",
                ago(at),
                config.path.display()
            );
        }
        (None, _) => text.push_str("\npolicy: none applied yet (the first `roster sync` applies the file's)"),
    }
    output::print(&text)
}

/// `2026-11-28 17:53 UTC (5 min ago)` for a stored time.
fn ago(at: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) else { return at.to_owned() };
    let t = t.with_timezone(&chrono::Utc);
    let secs = (chrono::Utc::now() - t).num_seconds().max(0);
    let rel = match secs {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    };
    format!("{} ({rel})", t.format("%Y-%m-%d %H:%M UTC"))
}
