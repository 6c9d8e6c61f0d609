//! The documentation against the code: every configuration key in `docs/configuration.md`, every
//! connector setting in its connector's README, every subcommand where an admin reads about
//! commands, and no relative link that leads nowhere. Each test lists everything missing at once,
//! so one run says all there is to fix.
//!
//! "Mentioned" means written as inline code (`` `max_left_percent` ``) outside fenced blocks: a
//! word in an example is not documentation of it. A span written as a table header or a dotted
//! path (`` `[lifecycle.attributes]` ``) mentions its last part too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use roster_host::cli::Cli;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

fn read_json(relative: &str) -> Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative} is not JSON: {e}"))
}

/// Each line of `markdown`, with whether it sits inside a fenced code block (fence lines count as
/// inside).
fn lines_with_fences(markdown: &str) -> Vec<(usize, &str, bool)> {
    let mut fence: Option<String> = None;
    let mut out = Vec::new();
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed.chars().take_while(|c| *c == '`' || *c == '~').collect();
        let is_fence = marker.len() >= 3 && marker.chars().all(|c| c == marker.chars().next().unwrap_or('`'));
        match &fence {
            Some(open)
                if is_fence && marker.starts_with(open.as_str()) && trimmed[marker.len()..].trim().is_empty() =>
            {
                out.push((i + 1, line, true));
                fence = None;
            }
            Some(_) => out.push((i + 1, line, true)),
            None if is_fence => {
                out.push((i + 1, line, true));
                fence = Some(marker);
            }
            None => out.push((i + 1, line, false)),
        }
    }
    out
}

/// The inline code spans of one line, and the line with each span blanked out.
fn split_code(line: &str) -> (Vec<String>, String) {
    let (mut spans, mut rest) = (Vec::new(), String::new());
    let mut chars = line.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '`' {
            rest.push(c);
            continue;
        }
        let mut ticks = 1;
        while chars.next_if(|(_, c)| *c == '`').is_some() {
            ticks += 1;
        }
        let open = start + ticks;
        let fence = "`".repeat(ticks);
        // A span closes at the next run of exactly as many backticks; unclosed, they are text.
        let close = line[open..]
            .match_indices(&fence)
            .map(|(i, _)| open + i)
            .find(|&i| !line[..i].ends_with('`') && !line[i + ticks..].starts_with('`'));
        match close {
            Some(end) => {
                spans.push(line[open..end].trim().to_owned());
                rest.push_str(&" ".repeat(end + ticks - start));
                while chars.next_if(|(i, _)| *i < end + ticks).is_some() {}
            }
            None => rest.push_str(&fence),
        }
    }
    (spans, rest)
}

/// Every inline code span of `markdown` outside fenced blocks.
fn code_spans(markdown: &str) -> BTreeSet<String> {
    lines_with_fences(markdown)
        .into_iter()
        .filter(|(_, _, fenced)| !fenced)
        .flat_map(|(_, l, _)| split_code(l).0)
        .collect()
}

/// Whether `name` is written in backticks: as itself, or as the last part of a dotted path or
/// table header (`` `[lifecycle.attributes]` `` mentions `attributes`).
fn mentions(spans: &BTreeSet<String>, name: &str) -> bool {
    spans.iter().any(|s| {
        let s = s.trim_start_matches('[').trim_end_matches(']');
        s == name || s.ends_with(&format!(".{name}"))
    })
}

/// A name a schema defines: a key, or a value a key takes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Where: the dotted key path (`*` for any name, as in `connections.*`).
    at: String,
    /// The key or the value itself.
    name: String,
    /// `key` or `value`.
    kind: &'static str,
}

/// How far [`walk`] goes.
#[derive(Clone, Copy)]
struct Walk {
    /// Collect `enum`/`const` values too, not only keys.
    values: bool,
    /// Descend into `allOf`/`if`/`then`/`else`. Off for the configuration file: there they hold each
    /// connector's settings, which belong to the connector's README (see the credentials test).
    all_of: bool,
}

/// Collects the names `node` defines, following `$ref` into the root's definitions. A secret
/// (`writeOnly`) is not descended into: its `{ env }` / `{ file }` forms are roster's own,
/// documented once in docs/configuration.md.
fn walk(root: &Value, node: &Value, at: &str, how: Walk, stack: &mut Vec<String>, out: &mut BTreeSet<Entry>) {
    let join = |name: &str| if at.is_empty() { name.to_owned() } else { format!("{at}.{name}") };
    let push = |out: &mut BTreeSet<Entry>, at: String, name: &str, kind| {
        out.insert(Entry { at, name: name.to_owned(), kind });
    };
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let target = reference.strip_prefix('#').and_then(|pointer| root.pointer(pointer));
        let target = target.unwrap_or_else(|| panic!("`$ref` {reference} at {at} points at nothing"));
        if !stack.iter().any(|r| r == reference) {
            stack.push(reference.to_owned());
            walk(root, target, at, how, stack, out);
            stack.pop();
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            push(out, join(name), name, "key");
            if sub.get("writeOnly") != Some(&Value::Bool(true)) {
                walk(root, sub, &join(name), how, stack, out);
            }
        }
    }
    if let Some(sub) = node.get("additionalProperties").filter(|v| v.is_object()) {
        walk(root, sub, &join("*"), how, stack, out);
    }
    // A map whose keys are a fixed set (`[lifecycle.attributes]`): each key is a key to document.
    for name in node.pointer("/propertyNames/enum").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = name.as_str() {
            push(out, join(name), name, "key");
        }
    }
    if let Some(items) = node.get("items") {
        walk(root, items, at, how, stack, out);
    }
    if how.values {
        let values = node.get("enum").and_then(Value::as_array).into_iter().flatten().chain(node.get("const"));
        for value in values.filter_map(Value::as_str) {
            push(out, at.to_owned(), value, "value");
        }
    }
    let mut branches = vec!["oneOf", "anyOf"];
    if how.all_of {
        branches.extend(["allOf", "if", "then", "else"]);
    }
    for key in branches {
        match node.get(key) {
            Some(Value::Array(subs)) => subs.iter().for_each(|s| walk(root, s, at, how, stack, out)),
            Some(sub @ Value::Object(_)) => walk(root, sub, at, how, stack, out),
            _ => {}
        }
    }
}

fn names_of(schema: &Value, how: Walk) -> BTreeSet<Entry> {
    let mut out = BTreeSet::new();
    walk(schema, schema, "", how, &mut Vec::new(), &mut out);
    out
}

const CONFIG_SCHEMA: &str = "schemas/roster.config.schema.json";
const CONFIG_WALK: Walk = Walk { values: true, all_of: false };

#[test]
fn configuration_reference_names_every_key_of_the_config_schema() {
    let names = names_of(&read_json(CONFIG_SCHEMA), CONFIG_WALK);
    let spans = code_spans(&read("docs/configuration.md"));
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !mentions(&spans, &n.name))
        .map(|n| format!("  {} `{}` (at {})", n.kind, n.name, n.at))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not mention these names of {CONFIG_SCHEMA} in backticks \
         (outside code blocks):\n{}\nDocument each one, e.g. in the table of its section.",
        missing.join("\n")
    );
}

/// `<id>` of every `schemas/connectors/<id>.credentials.schema.json`.
fn connector_schema_ids() -> Vec<String> {
    let dir = root().join("schemas/connectors");
    let mut ids: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".credentials.schema.json").map(str::to_owned)
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn every_connector_readme_names_every_credential_key() {
    let ids = connector_schema_ids();
    assert!(!ids.is_empty(), "no schemas/connectors/*.credentials.schema.json found");
    let mut problems = Vec::new();
    for id in &ids {
        let schema_path = format!("schemas/connectors/{id}.credentials.schema.json");
        let names = names_of(&read_json(&schema_path), Walk { values: false, all_of: true });
        let readme_path = format!("connectors/{id}/README.md");
        let Ok(readme) = std::fs::read_to_string(root().join(&readme_path)) else {
            problems.push(format!("{readme_path} is missing: each connector documents its settings there"));
            continue;
        };
        let spans = code_spans(&readme);
        let missing: Vec<String> =
            names.iter().filter(|n| !mentions(&spans, &n.name)).map(|n| format!("`{}`", n.at)).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{readme_path} does not mention, in backticks outside code blocks, these keys of {schema_path}: {}",
                missing.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}\nList every key in the README's credentials table.", problems.join("\n"));
}

/// Whether `text` holds `roster <sub>` as a whole word.
fn mentions_command(text: &str, sub: &str) -> bool {
    let needle = format!("roster {sub}");
    text.match_indices(&needle).any(|(i, _)| {
        let after = text[i + needle.len()..].chars().next();
        let before = text[..i].chars().next_back();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
            && !before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn every_subcommand_is_documented() {
    const DOCS: [&str; 3] = ["docs/getting-started.md", "docs/configuration.md", "README.md"];
    let texts: Vec<String> = DOCS.iter().map(|d| read(d)).collect();
    let command = Cli::command();
    let subs: Vec<&str> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(clap::Command::get_name)
        .collect();
    assert!(subs.contains(&"sync"), "the CLI's subcommands were not found: {subs:?}");
    let missing: Vec<String> = subs
        .iter()
        .filter(|sub| !texts.iter().any(|t| mentions_command(t, sub)))
        .map(|sub| format!("`roster {sub}`"))
        .collect();
    assert!(
        missing.is_empty(),
        "no mention of {} in {}: say what each command is for and show it run",
        missing.join(", "),
        DOCS.join(", ")
    );
}

/// The anchors GitHub gives the headings of `markdown` (`## Safety thresholds (`[safety]`)` ->
/// `safety-thresholds-safety`), plus explicit `<a id>`/`<a name>` anchors.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = BTreeSet::new();
    for (_, line, fenced) in lines_with_fences(markdown) {
        if fenced {
            continue;
        }
        for attr in ["id=\"", "name=\""] {
            for (i, _) in line.match_indices(&format!("<a {attr}")) {
                let rest = &line[i + 3 + attr.len()..];
                out.extend(rest.split('"').next().map(str::to_owned));
            }
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let text = line[hashes..].trim().trim_end_matches('#').trim();
        // Links read as their text; markup characters go.
        let mut plain = String::new();
        let mut in_target = false;
        let mut prev = ' ';
        for c in text.chars() {
            match c {
                '(' if prev == ']' => in_target = true,
                ')' if in_target => in_target = false,
                _ if in_target => {}
                _ => plain.push(c),
            }
            prev = c;
        }
        let slug: String = plain
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.iter().filter(|s| **s == slug).count();
        out.insert(if n == 0 { slug.clone() } else { format!("{slug}-{n}") });
        seen.push(slug);
    }
    out
}

/// `(line, target)` of every link in `markdown` outside code: `[text](target)`, images, and
/// reference definitions `[label]: target`.
fn links(markdown: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (number, line, fenced) in lines_with_fences(markdown) {
        if fenced {
            continue;
        }
        let (_, text) = split_code(line);
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].trim().trim_start_matches('<');
            let target = target.split_whitespace().next().unwrap_or_default().trim_end_matches('>');
            out.push((number, target.to_owned()));
        }
        let trimmed = text.trim_start();
        if trimmed.starts_with('[')
            && let Some((_, target)) = trimmed.split_once("]:")
        {
            out.extend(target.split_whitespace().next().map(|t| (number, t.trim_matches(['<', '>']).to_owned())));
        }
    }
    out
}

/// The problem with one relative link of `file`, if any.
fn broken(file: &Path, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("an empty link".to_owned());
    }
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, fragment) = target.split_once('#').map_or((target, None), |(p, f)| (p, Some(f)));
    let resolved = if path.is_empty() { file.to_path_buf() } else { file.parent()?.join(path) };
    if !resolved.exists() {
        return Some("no such file or directory".to_owned());
    }
    let fragment = fragment.filter(|f| !f.is_empty())?;
    if !resolved.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")) {
        return None;
    }
    let text = std::fs::read_to_string(&resolved).ok()?;
    let known = anchors(&text);
    (!known.contains(fragment)).then(|| {
        format!(
            "no heading there has the anchor `#{fragment}` (it has: {})",
            known.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

#[test]
fn relative_links_lead_somewhere() {
    let mut files = vec!["README.md".to_owned()];
    let docs = root().join("docs");
    let mut in_docs: Vec<String> = std::fs::read_dir(&docs)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", docs.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| Path::new(name).extension().is_some_and(|e| e.eq_ignore_ascii_case("md")))
        .map(|name| format!("docs/{name}"))
        .collect();
    in_docs.sort();
    files.extend(in_docs);
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let path = root().join(file);
        for (line, target) in links(&read(file)) {
            checked += 1;
            if let Some(problem) = broken(&path, &target) {
                problems.push(format!("  {file}:{line}: ({target}): {problem}"));
            }
        }
    }
    assert!(checked > 0, "no links found in {files:?}: the link parser is broken");
    assert!(problems.is_empty(), "links that lead nowhere:\n{}", problems.join("\n"));
}

// The helpers above decide what the tests see; these pin what they find.

#[test]
fn code_spans_skip_fenced_blocks_and_links_skip_code() {
    let md = "Set `a` and ``b `c` d``.\n```toml\n`x` = 1 [no](y.md)\n```\nSee [it](z.md#part) and `[q](w.md)`.\n[ref]: r.md\n";
    let spans = code_spans(md);
    assert_eq!(spans, BTreeSet::from(["a".to_owned(), "b `c` d".to_owned(), "[q](w.md)".to_owned()]));
    assert_eq!(links(md), vec![(5, "z.md#part".to_owned()), (6, "r.md".to_owned())]);
    assert!(mentions(&BTreeSet::from(["[lifecycle.attributes]".to_owned()]), "attributes"));
    assert!(!mentions(&BTreeSet::from(["attributes_x".to_owned()]), "attributes"));
}

#[test]
fn anchors_follow_github() {
    let md = "# Safety thresholds (`[safety]`)\n## A [link](x.md), again!\n## A link, again\n```\n# not a heading\n```\n<a id=\"custom\"></a>\n";
    let expected = ["safety-thresholds-safety", "a-link-again", "a-link-again-1", "custom"];
    assert_eq!(anchors(md), expected.into_iter().map(str::to_owned).collect());
}

#[test]
fn credentials_walk_reaches_nested_keys_but_not_secret_forms() {
    let schema = serde_json::json!({
        "$defs": { "Proxy": { "properties": { "host": {}, "port": {} } } },
        "properties": {
            "password": { "writeOnly": true, "oneOf": [{ "properties": { "env": {} } }] },
            "proxy": { "$ref": "#/$defs/Proxy" },
            "headers": { "additionalProperties": { "properties": { "value": {} } } }
        }
    });
    let found: Vec<String> =
        names_of(&schema, Walk { values: false, all_of: true }).into_iter().map(|n| n.at).collect();
    assert_eq!(found, ["headers", "headers.*.value", "password", "proxy", "proxy.host", "proxy.port"]);
}

#[test]
fn links_are_checked_for_files_and_anchors() {
    let readme = root().join("README.md");
    assert_eq!(broken(&readme, "docs/getting-started.md#1-watch-the-demo"), None);
    assert_eq!(broken(&readme, "https://example.com/nowhere"), None);
    assert_eq!(broken(&readme, "docs/no-such-page.md").as_deref(), Some("no such file or directory"));
    let wrong_anchor = broken(&readme, "docs/getting-started.md#no-such-heading").unwrap_or_default();
    assert!(wrong_anchor.starts_with("no heading there has the anchor `#no-such-heading`"), "{wrong_anchor}");
}

#[test]
fn the_config_walk_reaches_every_section_and_value() {
    let names = names_of(&read_json(CONFIG_SCHEMA), CONFIG_WALK);
    let has = |at: &str, name: &str| names.iter().any(|n| n.at == at && n.name == name);
    assert!(has("connections.*.connector", "connector"), "{names:#?}");
    assert!(has("connections.*.connector", "ukg-pro"), "connector ids are values of `connector`");
    assert!(has("lifecycle.mode", "any-active") && has("lifecycle.match_on", "employee_id"), "{names:#?}");
    assert!(has("lifecycle.attributes.role", "role"), "attribute names are keys");
    assert!(has("safety.max_snapshot_drop_percent", "max_snapshot_drop_percent"), "{names:#?}");
    assert!(!names.iter().any(|n| n.name == "api_host"), "connector settings belong to their READMEs");
    assert!(mentions_command("run `roster sync --force`", "sync") && !mentions_command("roster syncs", "sync"));
}
