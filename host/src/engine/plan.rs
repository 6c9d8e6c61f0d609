//! `roster preview` and `roster apply`: a change of lifecycle policy, shown before it is made.
//!
//! A plan is what `preview` computed, written down: the policy it would apply, the applied policy
//! and snapshot versions it was computed on, every transition with its people, the events
//! applying would fire, and a fingerprint of the result. `apply plan.json` recomputes the same
//! thing and applies it only when nothing it was made on has moved, naming what did otherwise.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use roster_core::Lifecycle;
use roster_core::lifecycle::{Event, Person, Policy, transitions};
use serde::{Deserialize, Serialize};

use super::{LeftCheck, State, changes_text, differences, summary, unconfigured};
use crate::cli::Format;
use crate::config::{Config, plural};
use crate::error::Held;
use crate::output::{self, Ui};
use crate::store::{Run, RunCommand, SnapshotVersion, Store, Superseded, content_hash, now};

/// The plan file format's version; a plan of another version is refused.
pub const PLAN_FORMAT: u32 = 1;

/// What applying the configuration's policy would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT`].
    pub roster_plan: u32,
    /// When it was made (RFC 3339, UTC).
    pub made_at: String,
    /// The configuration file whose `[lifecycle]` it applies.
    pub config: PathBuf,
    /// The policy applying makes current.
    pub policy: Policy,
    /// The policy in force when it was made.
    pub applied_policy: Option<Policy>,
    /// When that policy was applied.
    pub applied_at: Option<String>,
    /// When people were last resolved, when it was made.
    pub resolved_at: Option<String>,
    /// The snapshots it was computed on.
    pub snapshots: Vec<SnapshotVersion>,
    /// People per lifecycle, before and after.
    pub counts: Vec<Count>,
    /// Every change of lifecycle, with its people.
    pub transitions: Vec<PlanTransition>,
    /// The events applying would record.
    pub events: Vec<Event>,
    /// How many current people it moves to past, against `max_left_percent`.
    pub safety: LeftCheck,
    /// Whether `max_left_percent` will hold it (unless `roster apply --force`).
    pub would_hold: bool,
    /// A hash of the people and events it leads to: `apply` recomputes it and refuses on a
    /// mismatch.
    pub fingerprint: String,
}

/// People of one lifecycle, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// The lifecycle.
    pub lifecycle: Lifecycle,
    /// Before.
    pub before: usize,
    /// After.
    pub after: usize,
}

/// One change of lifecycle and everyone who makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTransition {
    /// Lifecycle before (`null`: not tracked yet).
    pub from: Option<Lifecycle>,
    /// Lifecycle after (`null`: no longer tracked).
    pub to: Option<Lifecycle>,
    /// How many people.
    pub count: usize,
    /// Who.
    pub people: Vec<PlanPerson>,
}

/// A person in a transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPerson {
    /// Stable key.
    pub key: String,
    /// Primary email.
    pub email: Option<String>,
    /// Employee number.
    pub employee_id: Option<String>,
    /// Name.
    pub display_name: Option<String>,
    /// The connection that decides after (`null`: none).
    pub decided_by: Option<String>,
    /// Why, after.
    pub rule: String,
}

impl PlanPerson {
    fn of(p: &Person) -> Self {
        Self {
            key: p.key.to_string(),
            email: p.email.as_deref().map(str::to_owned),
            employee_id: p.employee_id.as_deref().map(str::to_owned),
            display_name: p.display_name.as_deref().map(str::to_owned),
            decided_by: p.decided_by.as_deref().map(str::to_owned),
            rule: p.rule.to_string(),
        }
    }
}

/// A hash of what a resolution leads to: every person's key, lifecycle and deciding connection,
/// and every event.
fn fingerprint(people: &[Person], events: &[Event]) -> String {
    let mut lines: Vec<String> = people
        .iter()
        .map(|p| format!("{}\t{}\t{}", p.key, p.lifecycle, p.decided_by.as_deref().unwrap_or("")))
        .collect();
    lines.sort_unstable();
    for e in events {
        lines.push(format!("{}\t{}", e.kind, e.person));
    }
    format!("{:016x}", content_hash(&lines.join("\n")).cast_unsigned())
}

/// The configuration's policy, resolved on the stored snapshots against the applied one.
struct Proposal {
    state: State,
    /// The people under the applied policy (the stored people, unless a held sync left them
    /// behind the snapshots).
    before: Vec<Person>,
    /// The people under the configuration's policy.
    after: Vec<Person>,
    /// What applying records: from the stored people to `after`.
    events: Vec<Event>,
    check: LeftCheck,
}

impl Proposal {
    fn compute(config: &Config, store: &Store, policy: &Policy) -> Result<Self> {
        let state = State::load(config, store)?;
        if state.snapshots.is_empty() {
            return Err(anyhow!(
                "there is nothing to resolve yet: no connection of {} has a complete snapshot; run `roster sync` first",
                config.path.display()
            ));
        }
        let before = match &state.applied {
            Some((applied, _)) if state.stale && unconfigured(applied, config).is_empty() => state.resolve(applied),
            _ => state.prior.clone(),
        };
        let after = state.resolve(policy);
        let events = state.events(&after);
        let check = LeftCheck::new(&state.prior, &events, config.safety.max_left_percent);
        Ok(Self { state, before, after, events, check })
    }

    fn plan(&self, config: &Config, policy: &Policy) -> Plan {
        let count = |people: &[Person], l: Lifecycle| people.iter().filter(|p| p.lifecycle == l).count();
        Plan {
            roster_plan: PLAN_FORMAT,
            made_at: now(),
            config: config.path.clone(),
            policy: policy.clone(),
            applied_policy: self.state.applied.as_ref().map(|(p, _)| p.clone()),
            applied_at: self.state.applied.as_ref().map(|(_, at)| at.clone()),
            resolved_at: self.state.resolved_at.clone(),
            snapshots: self.state.versions.clone(),
            counts: Lifecycle::ALL
                .into_iter()
                .map(|l| Count { lifecycle: l, before: count(&self.before, l), after: count(&self.after, l) })
                .collect(),
            transitions: transitions(&self.before, &self.after)
                .into_iter()
                .map(|t| PlanTransition {
                    from: t.from,
                    to: t.to,
                    count: t.people.len(),
                    people: t.people.iter().map(|p| PlanPerson::of(p)).collect(),
                })
                .collect(),
            events: self.events.clone(),
            safety: self.check,
            would_hold: self.check.holds(),
            fingerprint: fingerprint(&self.after, &self.events),
        }
    }
}

/// What applying the configuration's `[lifecycle]` would change, as `roster preview --format json`
/// prints it.
pub fn plan(config: &Config, store: &Store) -> Result<Plan> {
    let policy = config.policy();
    Ok(Proposal::compute(config, store, &policy)?.plan(config, &policy))
}

/// Writes `plan` to `path` for `roster apply`.
pub fn save(path: &Path, plan: &Plan) -> Result<()> {
    write_plan(path, plan)
}

/// What `roster preview` prints as a table.
pub fn preview_table(config: &Config, store: &Store) -> Result<String> {
    let policy = config.policy();
    let proposal = Proposal::compute(config, store, &policy)?;
    let plan = proposal.plan(config, &policy);
    Ok(preview_text(config, &proposal, &plan))
}

/// `roster preview`: what applying the configuration's `[lifecycle]` would change. Changes
/// nothing; `out` also writes the plan for `roster apply`.
pub fn preview(config: &Config, store: &Store, out: Option<&Path>, format: Format, ui: &Ui) -> Result<()> {
    let policy = config.policy();
    let proposal = Proposal::compute(config, store, &policy)?;
    let plan = proposal.plan(config, &policy);
    if let Some(path) = out {
        write_plan(path, &plan)?;
        ui.status(&format!("plan written to {}; apply it with `roster apply {}`", path.display(), path.display()));
    }
    match format {
        Format::Json => output::print(&serde_json::to_string_pretty(&plan)?),
        Format::Table => output::print(&preview_text(config, &proposal, &plan)),
    }
}

fn preview_text(config: &Config, proposal: &Proposal, plan: &Plan) -> String {
    let mut text = match &proposal.state.applied {
        Some((applied, at)) if *applied == plan.policy => format!(
            "[lifecycle] in {} is the policy applied at {at}; applying it changes nothing of the policy\n",
            config.path.display()
        ),
        Some((applied, at)) => format!(
            "[lifecycle] in {} against the policy applied at {at}:\n  {}\n",
            config.path.display(),
            differences(applied, &plan.policy).replace(", ", "\n  ")
        ),
        None => format!("[lifecycle] in {} (no policy applied yet):\n", config.path.display()),
    };
    if proposal.state.stale {
        text.push_str(
            "note: a snapshot changed since people were last resolved (a sync was held); applying also records that\n",
        );
    }
    text.push('\n');
    text.push_str(&changes_text(&proposal.before, &proposal.after, &proposal.events, 10));
    text.push_str("\n\n");
    if plan.would_hold {
        let _ = writeln!(
            text,
            "applying would be held: {}; `roster apply --force` lets it through",
            plan.safety.describe()
        );
    }
    text.push_str(
        "nothing was changed. `roster apply` applies it; `roster preview --out plan.json`, then\n\
         `roster apply plan.json`, applies exactly this or refuses if anything moved in between",
    );
    text
}

/// Writes the plan next to its final name, then renames it, so a plan file is whole or absent.
fn write_plan(path: &Path, plan: &Plan) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    let mut file =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write the plan to {}", path.display()))?;
    serde_json::to_writer_pretty(&mut file, plan)?;
    std::io::Write::write_all(&mut file, b"\n")?;
    file.persist(path).with_context(|| format!("cannot write the plan to {}", path.display()))?;
    Ok(())
}

fn read_plan(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the plan {}", path.display()))?;
    let version: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not a plan: not JSON", path.display()))?;
    match version.get("roster_plan").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PLAN_FORMAT) => {}
        Some(v) => {
            return Err(anyhow!(
                "{} is a plan of format {v}; this roster reads format {PLAN_FORMAT}: make it again with `roster preview --out`",
                path.display()
            ));
        }
        None => return Err(anyhow!("{} is not a plan made by `roster preview --out`", path.display())),
    }
    serde_json::from_value(version).with_context(|| format!("{} is not a valid plan", path.display()))
}

/// What moved since `plan` was made, each in a sentence; empty when nothing did.
fn moved_since(plan: &Plan, config: &Config, state: &State, policy: &Policy) -> Vec<String> {
    let mut moved = Vec::new();
    if plan.policy != *policy {
        moved.push(format!(
            "[lifecycle] in {} changed since ({})",
            config.path.display(),
            differences(&plan.policy, policy)
        ));
    }
    let applied = state.applied.as_ref();
    if plan.applied_policy.as_ref() != applied.map(|(p, _)| p) || plan.applied_at.as_ref() != applied.map(|(_, at)| at)
    {
        moved.push(format!(
            "a policy was applied since (at {})",
            applied.map_or("an unknown time", |(_, at)| at.as_str())
        ));
    }
    for now in &state.versions {
        match plan.snapshots.iter().find(|s| s.connection == now.connection) {
            Some(then) if then.version == now.version => {}
            Some(then) => moved.push(format!(
                "the snapshot of `{}` changed: {} users taken at {} then, {} users taken at {} now",
                now.connection, then.users, then.taken_at, now.users, now.taken_at
            )),
            None => moved.push(format!("`{}` has a snapshot now ({} users)", now.connection, now.users)),
        }
    }
    for then in plan.snapshots.iter().filter(|t| !state.versions.iter().any(|n| n.connection == t.connection)) {
        moved.push(format!("`{}` has no snapshot any more", then.connection));
    }
    if moved.is_empty() && plan.resolved_at != state.resolved_at {
        moved.push(format!(
            "people were resolved again since (at {})",
            state.resolved_at.as_deref().unwrap_or("an unknown time")
        ));
    }
    moved
}

/// `roster apply [plan.json]`: makes the configuration's `[lifecycle]` the applied policy and
/// resolves people with it. With a plan, applies exactly that plan, or refuses. A change that
/// moves more than `max_left_percent` of current people to past is held (exit 3) unless `force`.
pub fn apply(config: &Config, store: &mut Store, plan_path: Option<&Path>, force: bool, ui: &Ui) -> Result<()> {
    let policy = config.policy();
    let plan = plan_path.map(read_plan).transpose()?;
    let proposal = Proposal::compute(config, store, &policy)?;
    if let (Some(plan), Some(path)) = (&plan, plan_path) {
        let mut moved = moved_since(plan, config, &proposal.state, &policy);
        if moved.is_empty() && fingerprint(&proposal.after, &proposal.events) != plan.fingerprint {
            moved.push("the people it leads to are not the ones it showed".to_owned());
        }
        if !moved.is_empty() {
            return Err(anyhow!(
                "refusing to apply {}, made at {}: {}; nothing was changed. Make a new plan with \
                 `roster preview --out {}` and check it",
                path.display(),
                plan.made_at,
                moved.join("; "),
                path.display()
            ));
        }
    }
    let unchanged_policy = proposal.state.applied.as_ref().is_some_and(|(p, _)| *p == policy);
    if unchanged_policy && !proposal.state.stale {
        ui.status(&format!(
            "nothing to apply: [lifecycle] in {} is the applied policy and people are up to date",
            config.path.display()
        ));
        return Ok(());
    }
    if proposal.check.holds() && !force {
        return Err(anyhow!(Held(format!(
            "held: {}; nothing was changed. What applying would do:\n{}\n`roster apply --force` lets it through",
            proposal.check.describe(),
            changes_text(&proposal.before, &proposal.after, &proposal.events, 5)
        ))));
    }
    let Proposal { state, after, events, check, .. } = proposal;
    let connections = state.connections();
    let run = Run {
        command: RunCommand::Apply,
        forced: force && check.holds(),
        policy: &policy,
        applies: true,
        based_on: state.last_run,
    };
    store.write_resolution(&state.prior, &after, &events, run, &connections).map_err(|e| {
        if e.is::<Superseded>() {
            anyhow!(
                "nothing was applied: another roster command resolved people while this one computed the change; \
                 run `roster preview` to see the change again"
            )
        } else {
            e
        }
    })?;
    ui.status(&format!(
        "applied [lifecycle] of {}{}",
        config.path.display(),
        plan_path.map(|p| format!(" as planned in {}", p.display())).unwrap_or_default()
    ));
    ui.status(&summary(&after, &events, state.resolved_at.is_none()));
    let flagged = events.len();
    tracing::info!("{flagged} event{} recorded", plural(flagged));
    Ok(())
}
