//! How a change of people reads on a terminal: counts per lifecycle, transitions with the first
//! people in each, and the events.

use std::fmt::Write as _;

use roster_core::Lifecycle;
use roster_core::lifecycle::{Event, EventKind, Person, Policy, transitions};

use crate::output;

/// A lifecycle, or `not tracked` for none.
pub fn lifecycle_name(l: Option<Lifecycle>) -> &'static str {
    l.map_or("not tracked", Lifecycle::as_str)
}

/// How a person is named in lists: their email, else their employee id, else their key.
fn who(p: &Person) -> &str {
    p.email.as_deref().or(p.employee_id.as_deref()).unwrap_or(&p.key)
}

/// Counts per lifecycle before and after, the transitions with up to `max_people` people named in
/// each, and the events by kind. Every line is indented by two spaces.
pub fn changes_text(before: &[Person], after: &[Person], events: &[Event], max_people: usize) -> String {
    let count = |people: &[Person], l: Lifecycle| people.iter().filter(|p| p.lifecycle == l).count();
    let mut counts = output::table(&["lifecycle", "before", "after"]);
    for l in Lifecycle::ALL {
        let (b, a) = (count(before, l), count(after, l));
        counts.add_row(vec![l.as_str().to_owned(), b.to_string(), format!("{a}{}", delta(b, a))]);
    }

    let moves = transitions(before, after);
    let mut text = indent(&counts.to_string());
    text.push_str("\n\n");
    if moves.is_empty() {
        text.push_str("  transitions: none, nobody changes lifecycle\n");
    } else {
        let mut t = output::table(&["transition", "people", "who"]);
        for m in &moves {
            t.add_row(vec![
                format!("{} -> {}", lifecycle_name(m.from), lifecycle_name(m.to)),
                m.people.len().to_string(),
                named(m.people.iter().map(|p| who(p)), m.people.len(), max_people),
            ]);
        }
        text.push_str(&indent(&t.to_string()));
        text.push('\n');
    }
    let _ = write!(text, "  events: ");
    if events.is_empty() {
        text.push_str("none");
    } else {
        let by_kind: Vec<String> = [EventKind::Joined, EventKind::Left, EventKind::Rejoined, EventKind::Moved]
            .into_iter()
            .map(|k| (k, events.iter().filter(|e| e.kind == k).count()))
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        text.push_str(&by_kind.join(", "));
    }
    text
}

/// ` (+3)` / ` (-2)` / nothing.
fn delta(before: usize, after: usize) -> String {
    match after.cmp(&before) {
        std::cmp::Ordering::Greater => format!(" (+{})", after - before),
        std::cmp::Ordering::Less => format!(" (-{})", before - after),
        std::cmp::Ordering::Equal => String::new(),
    }
}

/// `a, b, c and 7 more`.
fn named<'a>(names: impl Iterator<Item = &'a str>, total: usize, max: usize) -> String {
    let mut shown: Vec<&str> = names.take(max).collect();
    shown.sort_unstable();
    let mut s = shown.join(", ");
    if total > max {
        let _ = write!(s, " and {} more", total - max);
    }
    s
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {}", l.trim_end())).collect::<Vec<_>>().join("\n")
}

/// `key: applied -> configured` for each part of the policy that differs.
pub fn differences(applied: &Policy, configured: &Policy) -> String {
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

    #[test]
    fn long_lists_of_people_are_cut() {
        assert_eq!(named(["c", "a", "b"].into_iter(), 3, 5), "a, b, c");
        assert_eq!(named(["c", "a", "b"].into_iter(), 3, 2), "a, c and 1 more");
    }
}
