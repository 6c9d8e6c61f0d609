//! Resolving people after a sync: the stored snapshots and the applied policy in, people and
//! events out, guarded by `max_left_percent`.
//!
//! Each resolution uses the configuration's `[lifecycle]` and stores it as the applied policy;
//! a `[lifecycle]` that changed since is named, with every difference, before it is applied.
//! (Until `roster preview` and `roster apply` exist, a sync is how a change of policy is applied;
//! with them, editing the file will change nothing until applied.)

use std::fmt::Write as _;

use anyhow::Result;
use roster_core::lifecycle::{EventKind, Policy, Snapshot, diff, resolve};
use roster_core::{Lifecycle, SourceUser};

use crate::config::Config;
use crate::output::Ui;
use crate::store::Store;

/// What [`after_sync`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// People and events were written.
    Written,
    /// Nothing to do: no snapshot yet, or nothing changed since the last resolution.
    Skipped,
    /// More current people would have moved to past than `max_left_percent` allows; nothing
    /// was written. The message says what was held.
    Held(String),
}

/// The last complete snapshot of every configured connection that has one, in file order.
pub fn load_snapshots<'c>(config: &'c Config, store: &Store) -> Result<Vec<(&'c str, Vec<SourceUser>)>> {
    let mut snapshots = Vec::new();
    for c in &config.connections {
        if let Some(users) = store.snapshot(&c.name)? {
            snapshots.push((c.name.as_str(), users));
        }
    }
    Ok(snapshots)
}

/// Resolves people from the stored snapshots when something changed since the last time.
/// `force` lets a change through `max_left_percent`. Prints a summary to stderr.
pub fn after_sync(config: &Config, store: &mut Store, force: bool, ui: &Ui) -> Result<Resolution> {
    let configured = config.policy();
    let apply = match store.applied_policy()? {
        Some((applied, applied_at)) if applied != configured => {
            ui.status(&format!(
                "note: [lifecycle] in {} changed since the policy applied at {applied_at} ({}); applying it",
                config.path.display(),
                differences(&applied, &configured)
            ));
            Some(configured.clone())
        }
        Some(_) => None,
        None => Some(configured.clone()),
    };
    let policy = configured;

    let mut with_snapshots = Vec::new();
    for c in &config.connections {
        if store.has_snapshot(&c.name)? {
            with_snapshots.push(c.name.as_str());
        }
    }
    if with_snapshots.is_empty() {
        ui.status("people: not resolved: no connection has a complete snapshot yet");
        return Ok(Resolution::Skipped);
    }
    if apply.is_none() && !store.needs_resolution(&with_snapshots)? {
        ui.status("people: unchanged, no snapshot changed since the last sync");
        return Ok(Resolution::Skipped);
    }

    let snapshots = load_snapshots(config, store)?;
    let views: Vec<Snapshot<'_>> = snapshots.iter().map(|(c, u)| Snapshot { connection: c, users: u }).collect();
    let prior = store.people()?;
    // The first resolution is a baseline: everyone already here did not just join.
    let baseline = store.resolved_at()?.is_none();
    let people = resolve(&views, &policy, &prior);
    drop(snapshots);
    let events = if baseline { Vec::new() } else { diff(&prior, &people) };

    let count = |kind| events.iter().filter(|e| e.kind == kind).count();
    let was_current = prior.iter().filter(|p| p.lifecycle == Lifecycle::Current).count();
    let left = count(EventKind::Left);
    #[expect(clippy::cast_precision_loss, reason = "a percentage of people counts")]
    let left_percent = if was_current == 0 { 0.0 } else { left as f64 * 100.0 / was_current as f64 };
    if left_percent > config.safety.max_left_percent && !force {
        let mut leaving: Vec<&str> = events
            .iter()
            .filter(|e| e.kind == EventKind::Left)
            .map(|e| e.email.as_deref().unwrap_or(e.person.as_str()))
            .collect();
        leaving.sort_unstable();
        let more = leaving.len().saturating_sub(5);
        leaving.truncate(5);
        return Ok(Resolution::Held(format!(
            "held: {left} of {was_current} current people ({left_percent:.1}%) would move to past, more than \
             max_left_percent = {}; people and events were not changed. They include {}{}",
            config.safety.max_left_percent,
            leaving.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        )));
    }
    let stats = store.write_resolution(&prior, &people, &events, apply.as_ref(), &with_snapshots)?;

    let mut summary = String::from("people:");
    for l in Lifecycle::ALL {
        let _ = write!(summary, " {} {l},", people.iter().filter(|p| p.lifecycle == l).count());
    }
    summary.pop();
    if baseline {
        summary.push_str("; first resolution, a baseline: no events");
    } else {
        let _ = write!(
            summary,
            "; events: {} joined, {} left, {} rejoined, {} moved",
            count(EventKind::Joined),
            left,
            count(EventKind::Rejoined),
            count(EventKind::Moved)
        );
    }
    let review = people.iter().filter(|p| p.review).count();
    if review > 0 {
        let _ = write!(summary, "; {review} flagged for review");
    }
    ui.status(&summary);
    tracing::info!(
        "{} people written, {} removed, {} events",
        stats.people_written,
        stats.people_removed,
        stats.events
    );
    Ok(Resolution::Written)
}

/// `key: applied -> configured` for each part of the policy that differs.
fn differences(applied: &Policy, configured: &Policy) -> String {
    let (a, c) =
        (serde_json::to_value(applied).unwrap_or_default(), serde_json::to_value(configured).unwrap_or_default());
    let (Some(a), Some(c)) = (a.as_object(), c.as_object()) else { return String::new() };
    let null = serde_json::Value::Null;
    c.iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: {} -> {v}", a.get(k).unwrap_or(&null)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_each_changed_part() {
        let applied = Policy { sources: vec!["ukg".into()], ..Policy::default() };
        let configured =
            Policy { sources: vec!["azure".into(), "ukg".into()], domains: vec!["acme.com".into()], ..applied.clone() };
        let text = differences(&applied, &configured);
        assert!(text.contains(r#"sources: ["ukg"] -> ["azure","ukg"]"#), "{text}");
        assert!(text.contains(r#"domains: [] -> ["acme.com"]"#), "{text}");
        assert_eq!(text.matches(" -> ").count(), 2, "only what changed: {text}");
        assert_eq!(differences(&applied, &applied), "");
    }
}
