//! Graph user -> [`SourceUser`]. Pure: no I/O, and `today` is an argument.
//!
//! | Graph                                   | roster                                   |
//! |-----------------------------------------|------------------------------------------|
//! | `accountEnabled: false`                 | `disabled`                               |
//! | `accountEnabled: true`, hire date ahead | `pre_hire`                               |
//! | `accountEnabled: true`                  | `active`                                 |
//! | `accountEnabled` absent or null         | `unknown`, with a problem                |
//! | `accountEnabled` not a boolean          | `unknown`, the value kept, with a problem|

use chrono::NaiveDate;
use roster_core::compact_str::format_compact;
use roster_core::model::parse_vendor_date;
use roster_core::{CompactString, ConnectorError, EmploymentStatus, ErrorKind, SourceUser};
use serde_json::Value;

use crate::models::GraphUser;

/// Maps one Graph user. Fails only when the record has no object id: without one the record
/// cannot be told apart from any other, so the listing must fail rather than guess.
pub fn map_user(user: &GraphUser, today: NaiveDate) -> Result<SourceUser, ConnectorError> {
    let Some(source_id) = clean(user.id.as_ref()) else {
        return Err(ConnectorError::new(
            ErrorKind::InvalidResponse,
            "microsoft graph sent a user without an `id`; the listing cannot be trusted",
        ));
    };
    let mut problems = Vec::new();

    let hire_date = trimmed(user.employee_hire_date.as_ref()).and_then(|raw| {
        let date = parse_vendor_date(raw);
        if date.is_none() {
            problems.push(format!("employeeHireDate `{raw}` is not a date"));
        }
        date
    });

    let (status, raw_status) = match &user.account_enabled {
        Some(Value::Bool(false)) => {
            (EmploymentStatus::Disabled, Some(CompactString::const_new("accountEnabled=false")))
        }
        Some(Value::Bool(true)) if hire_date.is_some_and(|d| d > today) => {
            (EmploymentStatus::PreHire, Some(CompactString::const_new("accountEnabled=true")))
        }
        Some(Value::Bool(true)) => (EmploymentStatus::Active, Some(CompactString::const_new("accountEnabled=true"))),
        Some(other @ (Value::String(_) | Value::Number(_) | Value::Array(_) | Value::Object(_))) => {
            problems.push(format!(
                "accountEnabled {other} is not a boolean, so whether the account can sign in is unknown"
            ));
            (EmploymentStatus::Unknown, Some(format_compact!("accountEnabled={other}")))
        }
        None | Some(Value::Null) => {
            problems.push(
                "accountEnabled is missing, so whether the account can sign in is unknown \
                 (is it in the $select list?)"
                    .to_owned(),
            );
            (EmploymentStatus::Unknown, None)
        }
    };

    let mail = clean(user.mail.as_ref());
    let upn = trimmed(user.user_principal_name.as_ref());
    let upn_email = upn.filter(|u| is_email_address(u)).map(CompactString::from);
    let (email, aliases) = match (mail, upn_email) {
        (Some(mail), Some(upn)) if !upn.eq_ignore_ascii_case(&mail) => (Some(mail), vec![upn]),
        (Some(mail), _) => (Some(mail), Vec::new()),
        (None, upn_email) => (upn_email, Vec::new()),
    };
    if email.is_none() {
        problems.push(match upn {
            Some(upn) => format!("no email address: mail is empty and userPrincipalName `{upn}` is not one"),
            None => "no email address: mail and userPrincipalName are both empty".to_owned(),
        });
    }

    Ok(SourceUser {
        source_id,
        employee_id: clean(user.employee_id.as_ref()),
        email,
        aliases,
        first_name: clean(user.given_name.as_ref()),
        last_name: clean(user.surname.as_ref()),
        display_name: clean(user.display_name.as_ref()),
        role: clean(user.job_title.as_ref()),
        department: clean(user.department.as_ref()),
        status,
        raw_status,
        hire_date,
        guest: user.user_type.as_deref().is_some_and(|t| t.trim().eq_ignore_ascii_case("Guest")),
        problems,
        ..SourceUser::default()
    })
}

/// Whether a user principal name is also an email address: one `@` with something on both
/// sides, and not a guest's `#EXT#` name (which is an address nobody receives mail at).
pub fn is_email_address(upn: &str) -> bool {
    let Some((local, domain)) = upn.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !upn.to_ascii_uppercase().contains("#EXT#")
        && !upn.contains(char::is_whitespace)
}

/// Trimmed, and `None` when empty: Graph sends `null` and `""` alike for "not set".
fn clean(value: Option<&CompactString>) -> Option<CompactString> {
    trimmed(value).map(CompactString::from)
}

/// [`clean`] without the copy, for values that are only read.
fn trimmed(value: Option<&CompactString>) -> Option<&str> {
    value.map(|v| roster_core::model::trim(v)).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    fn user(enabled: Option<bool>) -> GraphUser {
        GraphUser {
            id: Some("4f1e2d3c-0000-4000-8000-000000000001".into()),
            mail: Some("ada@acme.example".into()),
            user_principal_name: Some("ada@acme.example".into()),
            account_enabled: enabled.map(Value::Bool),
            ..GraphUser::default()
        }
    }

    #[test]
    fn account_enabled_decides_the_status() {
        let map = |u: &GraphUser| map_user(u, today()).unwrap();
        assert_eq!(map(&user(Some(false))).status, EmploymentStatus::Disabled);
        assert_eq!(map(&user(Some(true))).status, EmploymentStatus::Active);
        let unknown = map(&user(None));
        assert_eq!((unknown.status, unknown.problems.len()), (EmploymentStatus::Unknown, 1));

        let mut future = user(Some(true));
        future.employee_hire_date = Some("2026-06-02T00:00:00Z".into());
        assert_eq!(map(&future).status, EmploymentStatus::PreHire);
        future.employee_hire_date = Some("2026-06-01T00:00:00Z".into());
        assert_eq!(map(&future).status, EmploymentStatus::Active, "starting today is active");
        future.account_enabled = Some(Value::Bool(false));
        future.employee_hire_date = Some("2026-09-01T00:00:00Z".into());
        assert_eq!(map(&future).status, EmploymentStatus::Disabled, "a disabled account stays disabled");
    }

    #[test]
    fn an_account_enabled_that_is_not_a_boolean_is_kept_as_unknown() {
        let mut u = user(None);
        u.account_enabled = Some(Value::String("yes".into()));
        let m = map_user(&u, today()).unwrap();
        assert_eq!((m.status, m.raw_status.as_deref()), (EmploymentStatus::Unknown, Some(r#"accountEnabled="yes""#)));
        assert_eq!(
            m.problems,
            [r#"accountEnabled "yes" is not a boolean, so whether the account can sign in is unknown"#]
        );
        u.account_enabled = Some(Value::Null);
        let m = map_user(&u, today()).unwrap();
        assert_eq!((m.status, m.raw_status), (EmploymentStatus::Unknown, None), "null is absent");
    }

    #[test]
    fn upn_is_an_alias_or_the_fallback_email() {
        let mut u = user(Some(true));
        u.user_principal_name = Some("ADA@acme.example".into());
        assert!(map_user(&u, today()).unwrap().aliases.is_empty(), "same address in another case");
        u.user_principal_name = Some("ada.l@acme.onmicrosoft.com".into());
        assert_eq!(map_user(&u, today()).unwrap().aliases, ["ada.l@acme.onmicrosoft.com"]);
        u.mail = None;
        let m = map_user(&u, today()).unwrap();
        assert_eq!((m.email.as_deref(), m.aliases.len()), (Some("ada.l@acme.onmicrosoft.com"), 0));
        u.user_principal_name = Some("ada_partner.example#EXT#@acme.onmicrosoft.com".into());
        let m = map_user(&u, today()).unwrap();
        assert_eq!(m.email, None);
        assert!(m.problems[0].starts_with("no email address"), "{:?}", m.problems);
    }

    #[test]
    fn email_addresses() {
        assert!(is_email_address("a@b.example"));
        for not in ["a", "@b.example", "a@b", "a@b@c.example", "a_b.example#EXT#@t.onmicrosoft.com", "a b@c.d"] {
            assert!(!is_email_address(not), "{not}");
        }
    }

    #[test]
    fn a_user_without_id_fails_the_listing() {
        let mut u = user(Some(true));
        u.id = Some("  ".into());
        assert_eq!(map_user(&u, today()).unwrap_err().kind(), ErrorKind::InvalidResponse);
    }

    #[test]
    fn unparseable_hire_date_is_a_problem_not_a_guess() {
        let mut u = user(Some(true));
        u.employee_hire_date = Some("next monday".into());
        let m = map_user(&u, today()).unwrap();
        assert_eq!((m.status, m.hire_date), (EmploymentStatus::Active, None));
        assert_eq!(m.problems, ["employeeHireDate `next monday` is not a date"]);
    }
}
