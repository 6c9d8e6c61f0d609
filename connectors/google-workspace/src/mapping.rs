//! Directory API user -> [`SourceUser`]. Pure: no I/O, no clock.
//!
//! | Google                                   | roster     | `raw_status`                  |
//! |------------------------------------------|------------|-------------------------------|
//! | `archived: true`                         | `disabled` | `archived`                    |
//! | `suspended: true` with `suspensionReason`| `disabled` | `suspended: <suspensionReason>` |
//! | `suspended: true`                        | `disabled` | `suspended`                   |
//! | neither (false or absent)                | `active`   | `active`                      |
//! | `suspended`/`archived` not a boolean     | `unknown`  | the value, with a problem     |
//!
//! Google has no hire dates here, so there are no pre-hires: an account made ahead of a start
//! date is simply active.

use roster_core::compact_str::format_compact;
use roster_core::{CompactString, ConnectorError, EmploymentStatus, ErrorKind, ManagerRef, SourceUser};
use serde_json::Value;

use crate::models::{GoogleUser, Organization};

/// Maps one user. Fails only when the record has no `id`: without one the record cannot be told
/// apart from any other, so the listing must fail rather than guess.
pub fn map_user(user: &GoogleUser) -> Result<SourceUser, ConnectorError> {
    let Some(source_id) = clean(user.id.as_deref()) else {
        return Err(ConnectorError::new(
            ErrorKind::InvalidResponse,
            "google sent a user without an `id`; the listing cannot be trusted",
        ));
    };
    let mut problems = Vec::new();
    let (status, raw_status) = status(user, &mut problems);

    let email = clean(user.primary_email.as_deref());
    if email.is_none() {
        problems.push("no primaryEmail".to_owned());
    }
    let aliases = user
        .aliases
        .iter()
        .flatten()
        .filter_map(|a| clean(Some(a)))
        .filter(|a| email.as_deref().is_none_or(|e| !e.eq_ignore_ascii_case(a)))
        .collect();
    let name = user.name.as_ref();
    let organization = primary_organization(user.organizations.as_deref().unwrap_or_default());

    Ok(SourceUser {
        source_id,
        employee_id: user
            .external_ids
            .iter()
            .flatten()
            .filter(|x| is_type(x.kind.as_deref(), "organization"))
            .find_map(|x| clean(x.value.as_deref())),
        email,
        aliases,
        first_name: name.and_then(|n| clean(n.given_name.as_deref())),
        last_name: name.and_then(|n| clean(n.family_name.as_deref())),
        display_name: name.and_then(|n| clean(n.full_name.as_deref())),
        role: organization.and_then(|o| clean(o.title.as_deref())),
        department: organization.and_then(|o| clean(o.department.as_deref())),
        manager: user
            .relations
            .iter()
            .flatten()
            .filter(|r| is_type(r.kind.as_deref(), "manager"))
            .find_map(|r| clean(r.value.as_deref()))
            .map(ManagerRef::Email),
        status,
        raw_status: Some(raw_status),
        problems,
        ..SourceUser::default()
    })
}

/// `archived` first: it is Google's deliberate "former employee" state, where a suspension may
/// be temporary, so when both are set the archive is what the record says.
fn status(user: &GoogleUser, problems: &mut Vec<String>) -> (EmploymentStatus, CompactString) {
    let archived = flag("archived", user.archived.as_ref());
    let suspended = flag("suspended", user.suspended.as_ref());
    match (archived, suspended) {
        (Ok(true), _) => (EmploymentStatus::Disabled, CompactString::const_new("archived")),
        (_, Ok(true)) => {
            let raw = match clean(user.suspension_reason.as_deref()) {
                Some(reason) => format_compact!("suspended: {reason}"),
                None => CompactString::const_new("suspended"),
            };
            (EmploymentStatus::Disabled, raw)
        }
        (Ok(false), Ok(false)) => (EmploymentStatus::Active, CompactString::const_new("active")),
        (Err(raw), _) | (_, Err(raw)) => {
            problems.push(format!("{raw} is not a boolean, so whether the account is active is unknown"));
            (EmploymentStatus::Unknown, raw)
        }
    }
}

/// A boolean flag: absent or null is false (Google omits fields that are not set); anything
/// that is not a boolean is an error carrying `name: value` for `raw_status`.
fn flag(name: &str, value: Option<&Value>) -> Result<bool, CompactString> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format_compact!("{name}: {other}")),
    }
}

/// The entry marked `primary: true`, or the only entry when there is just one.
fn primary_organization(organizations: &[Organization]) -> Option<&Organization> {
    organizations.iter().find(|o| o.primary == Some(true)).or(match organizations {
        [only] => Some(only),
        _ => None,
    })
}

fn is_type(kind: Option<&str>, wanted: &str) -> bool {
    kind.is_some_and(|k| k.trim().eq_ignore_ascii_case(wanted))
}

/// Trimmed, and `None` when empty.
fn clean(value: Option<&str>) -> Option<CompactString> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(CompactString::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(extra: Value) -> GoogleUser {
        let mut base = json!({ "id": "100000000000000000001", "primaryEmail": "ada@acme.example" });
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
            base.extend(extra);
        }
        serde_json::from_value(base).unwrap()
    }

    fn status_of(extra: Value) -> (EmploymentStatus, CompactString, Vec<String>) {
        let m = map_user(&user(extra)).unwrap();
        (m.status, m.raw_status.unwrap(), m.problems)
    }

    #[test]
    fn suspended_and_archived_are_disabled() {
        let active = (EmploymentStatus::Active, "active".into(), vec![]);
        assert_eq!(status_of(json!({})), active);
        assert_eq!(status_of(json!({ "suspended": false, "archived": false })), active);
        assert_eq!(status_of(json!({ "suspended": null })), active);
        let (s, raw, _) = status_of(json!({ "suspended": true }));
        assert_eq!((s, raw.as_str()), (EmploymentStatus::Disabled, "suspended"));
        let (_, raw, _) = status_of(json!({ "suspended": true, "suspensionReason": "ADMIN" }));
        assert_eq!(raw, "suspended: ADMIN");
        let (s, raw, _) = status_of(json!({ "archived": true, "suspended": true, "suspensionReason": "ADMIN" }));
        assert_eq!((s, raw.as_str()), (EmploymentStatus::Disabled, "archived"));
    }

    #[test]
    fn a_flag_that_is_not_a_boolean_is_unknown_never_active() {
        let (s, raw, problems) = status_of(json!({ "suspended": "yes" }));
        assert_eq!((s, raw.as_str()), (EmploymentStatus::Unknown, r#"suspended: "yes""#));
        assert_eq!(problems, [r#"suspended: "yes" is not a boolean, so whether the account is active is unknown"#]);
        let (s, _, _) = status_of(json!({ "archived": 1, "suspended": true }));
        assert_eq!(s, EmploymentStatus::Disabled, "a clear suspension still counts");
    }

    #[test]
    fn primary_organization_or_the_only_one() {
        let role = |orgs: Value| map_user(&user(json!({ "organizations": orgs }))).unwrap().role;
        assert_eq!(role(json!([{ "title": "A" }])), Some("A".into()));
        assert_eq!(role(json!([{ "title": "A" }, { "title": "B", "primary": true }])), Some("B".into()));
        assert_eq!(role(json!([{ "title": "A" }, { "title": "B", "primary": false }])), None);
        assert_eq!(role(json!([])), None);
    }

    #[test]
    fn a_user_without_id_fails_the_listing() {
        let u = user(json!({ "id": " " }));
        assert_eq!(map_user(&u).unwrap_err().kind(), ErrorKind::InvalidResponse);
    }

    #[test]
    fn no_primary_email_is_a_problem_and_aliases_skip_the_primary() {
        let m = map_user(&user(json!({ "primaryEmail": "", "aliases": ["a@acme.example", " "] }))).unwrap();
        assert_eq!(
            (m.email, m.aliases, m.problems),
            (None, vec!["a@acme.example".into()], vec!["no primaryEmail".to_owned()])
        );
        let m = map_user(&user(json!({ "aliases": ["ADA@acme.example", "al@acme.example"] }))).unwrap();
        assert_eq!(m.aliases, ["al@acme.example"]);
    }
}
