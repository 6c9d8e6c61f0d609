//! The `[connections.NAME]` table of a UKG Pro connection, and its checks.
//!
//! Formats are checked twice: by the JSON Schema on values written inline (so `roster validate`
//! reports every problem at once), and again in [`Credentials::resolve`] on the values read from
//! `{ env = .. }` or `{ file = .. }`, which the schema never sees. No message names a value.

use roster_core::http::parse_base_url;
use roster_core::{ConfigProblem, CredentialsError, Secret, SecretOrigin};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;

/// The largest page UKG serves from person-details and employment-details (raised from 100 to
/// 10,000 in 2022), and the page size used unless `page_size` says otherwise.
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// UKG Pro has four organisation levels; `orgLevel1Code` is the usual department.
pub const MAX_ORG_LEVEL: u8 = 4;

const CUSTOMER_KEY_LEN: usize = 5;
const USER_KEY_LEN: usize = 12;

/// Credentials of a UKG Pro web-service account, as shown on System Configuration > Security >
/// Service Account Administration, and where to reach the tenant.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The web-service account's user name (System Configuration > Security > Service Account
    /// Administration).
    #[schemars(title = "Account User Name", length(min = 1))]
    pub username: String,

    /// The password generated when the service account was saved.
    #[schemars(title = "Account Password")]
    pub password: Secret,

    /// The tenant's Customer API key: 5 letters or digits, shown on Service Account
    /// Administration. Sent on every request as `US-Customer-Api-Key`.
    #[schemars(title = "Customer API key", schema_with = "customer_api_key_schema")]
    pub customer_api_key: Secret,

    /// The service account's User API key: 12 letters or digits. The REST personnel APIs do not
    /// use it (only UKG's SOAP login service does), so roster checks its format and never sends it.
    #[schemars(title = "User API key", schema_with = "user_api_key_schema")]
    pub user_api_key: Secret,

    /// The API host from System Configuration > Security > Web Services, e.g.
    /// `https://service4.ultipro.com`. A pasted service URL (`.../services/...`) is cut to scheme and
    /// host; a bare host name gets `https://`. HTTPS is required except on loopback addresses.
    #[schemars(title = "API Host URL", length(min = 1))]
    pub api_host: String,

    /// Rows per page for person-details and employment-details (default and maximum 10000). Lower
    /// it only if the tenant's requests time out.
    #[serde(default = "default_page_size")]
    #[schemars(title = "Page size", range(min = 1, max = 10000))]
    pub page_size: u32,

    /// Which organisation level (1 to 4) is the department: UKG has no department name field, so
    /// roster reports the code of this level (`orgLevel1Code` by default).
    #[serde(default = "default_org_level")]
    #[schemars(title = "Department organisation level", range(min = 1, max = 4))]
    pub department_org_level: u8,
}

fn default_page_size() -> u32 {
    MAX_PAGE_SIZE
}

fn default_org_level() -> u8 {
    1
}

fn customer_api_key_schema(_: &mut SchemaGenerator) -> Schema {
    Secret::schema_with_pattern("^[A-Za-z0-9]{5}$", "The tenant's Customer API key: 5 letters or digits.")
}

fn user_api_key_schema(_: &mut SchemaGenerator) -> Schema {
    Secret::schema_with_pattern("^[A-Za-z0-9]{12}$", "The service account's User API key: 12 letters or digits.")
}

/// Checked, normalised settings of one connection. The User API key is not kept: nothing sends it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Scheme, host and port only, without a trailing `/` (`https://service4.ultipro.com`).
    pub base_url: String,
    /// Account User Name.
    pub username: String,
    /// Account Password.
    pub password: Secret,
    /// Customer API key.
    pub customer_api_key: Secret,
    /// Rows per page, 1 to [`MAX_PAGE_SIZE`].
    pub page_size: u32,
    /// Organisation level reported as the department, 1 to [`MAX_ORG_LEVEL`].
    pub department_org_level: u8,
}

impl Credentials {
    /// Checks what the schema cannot (resolved secret values, the host) and returns the settings,
    /// reporting every problem at once.
    pub fn resolve(self) -> Result<Settings, CredentialsError> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| problems.push(ConfigProblem { path: path.into(), message });
        if self.username.trim().is_empty() {
            problem("username", "must not be empty".into());
        }
        if let Err(message) = check_key(&self.customer_api_key, CUSTOMER_KEY_LEN, "Customer API key") {
            problem("customer_api_key", message);
        }
        if let Err(message) = check_key(&self.user_api_key, USER_KEY_LEN, "User API key") {
            problem("user_api_key", message);
        }
        let base_url = normalize_api_host(&self.api_host).unwrap_or_else(|message| {
            problem("api_host", message);
            String::new()
        });
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            problem("page_size", format!("must be between 1 and {MAX_PAGE_SIZE}"));
        }
        if !(1..=MAX_ORG_LEVEL).contains(&self.department_org_level) {
            problem("department_org_level", format!("must be between 1 and {MAX_ORG_LEVEL}"));
        }
        if !problems.is_empty() {
            return Err(CredentialsError { problems });
        }
        Ok(Settings {
            base_url,
            username: self.username.trim().to_owned(),
            password: self.password,
            customer_api_key: self.customer_api_key,
            page_size: self.page_size,
            department_org_level: self.department_org_level,
        })
    }
}

/// Checks that a key is exactly `len` ASCII letters or digits. The message names where the value
/// came from (a variable or file name is not secret), never the value or its length.
fn check_key(key: &Secret, len: usize, title: &str) -> Result<(), String> {
    let value = key.expose();
    if value.len() == len && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(());
    }
    let from = match key.origin() {
        SecretOrigin::Inline => String::new(),
        SecretOrigin::Env(name) => format!(" (read from environment variable `{name}`)"),
        SecretOrigin::File(path) => format!(" (read from file `{}`)", path.display()),
    };
    Err(format!(
        "the {title} must be exactly {len} letters or digits{from}; copy it again from Service Account Administration"
    ))
}

/// Cuts what an admin pasted as the API Host URL to scheme, host and port.
///
/// `service4.ultipro.com`, `https://service4.ultipro.com/` and
/// `https://service4.ultipro.com/services/EmployeePerson` all become
/// `https://service4.ultipro.com`. Plain HTTP is refused except on loopback addresses.
pub fn normalize_api_host(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(
            "must not be empty; copy the API Host URL from System Configuration > Security > Web Services".into()
        );
    }
    let with_scheme = if trimmed.contains("://") { trimmed.to_owned() } else { format!("https://{trimmed}") };
    let url = parse_base_url(&with_scheme)?;
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo the URL here: whatever sits before `@` may be a password.
        return Err("must not contain a user name or password; put them in `username` and `password`".into());
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds(customer: &str, user: &str, host: &str) -> Credentials {
        Credentials {
            username: "svc-roster".into(),
            password: Secret::new("pw-value"),
            customer_api_key: Secret::new(customer),
            user_api_key: Secret::new(user),
            api_host: host.into(),
            page_size: MAX_PAGE_SIZE,
            department_org_level: 1,
        }
    }

    #[test]
    fn host_is_cut_to_scheme_and_host() {
        for raw in [
            "https://service4.ultipro.com",
            "https://service4.ultipro.com/",
            "https://service4.ultipro.com/services/EmployeePerson",
            "  service4.ultipro.com  ",
            "service4.ultipro.com/services/",
            "HTTPS://Service4.UltiPro.com/?x=1#y",
        ] {
            assert_eq!(normalize_api_host(raw).unwrap(), "https://service4.ultipro.com", "{raw}");
        }
        assert_eq!(normalize_api_host("service3.ultipro.ca").unwrap(), "https://service3.ultipro.ca");
        assert_eq!(
            normalize_api_host("https://rental2.ultipro.com:8443/x").unwrap(),
            "https://rental2.ultipro.com:8443"
        );
        assert_eq!(normalize_api_host("http://127.0.0.1:4000/services/").unwrap(), "http://127.0.0.1:4000");
        assert_eq!(normalize_api_host("http://[::1]:4000").unwrap(), "http://[::1]:4000");
    }

    #[test]
    fn host_must_be_https_and_credential_free() {
        assert!(normalize_api_host("http://service4.ultipro.com").unwrap_err().contains("requires HTTPS"));
        assert!(normalize_api_host("   ").unwrap_err().contains("must not be empty"));
        let err = normalize_api_host("https://svc:hunter2@service4.ultipro.com").unwrap_err();
        assert!(err.contains("user name or password") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn keys_need_their_exact_format() {
        assert!(creds("AB12C", "ABCDEF123456", "service4.ultipro.com").resolve().is_ok());
        let err = creds("AB12", "ABCDEF1234567", "http://example.com").resolve().unwrap_err();
        let paths: Vec<_> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["customer_api_key", "user_api_key", "api_host"]);
        let text = err.to_string();
        assert!(
            text.contains("exactly 5 letters or digits") && text.contains("exactly 12 letters or digits"),
            "{text}"
        );
        assert!(!text.contains("AB12") && !text.contains("ABCDEF"), "values leak: {text}");
        assert!(creds("AB-2C", "ABCDEF 23456", "service4.ultipro.com").resolve().is_err());
    }

    #[test]
    fn resolved_values_are_checked_and_their_origin_named() {
        let scope = roster_core::SecretScope {
            base_dir: std::env::temp_dir(),
            env: Some([("UKG_KEY".to_owned(), "too-long-key-value".to_owned())].into()),
        };
        let raw = json!({
            "username": "svc", "password": "pw", "customer_api_key": { "env": "UKG_KEY" },
            "user_api_key": "ABCDEF123456", "api_host": "service4.ultipro.com"
        });
        let creds: Credentials = scope.enter(|| roster_core::credentials::parse(&raw)).unwrap();
        let text = creds.resolve().unwrap_err().to_string();
        assert!(text.starts_with("`customer_api_key`: the Customer API key must be exactly 5"), "{text}");
        assert!(text.contains("environment variable `UKG_KEY`") && !text.contains("too-long"), "{text}");
    }

    #[test]
    fn schema_checks_inline_formats_and_defaults_apply() {
        let raw = json!({
            "username": "svc", "password": "pw", "customer_api_key": "toolong",
            "user_api_key": "short", "api_host": "service4.ultipro.com", "page_size": 20000
        });
        let text = roster_core::credentials::parse::<Credentials>(&raw).unwrap_err().to_string();
        for key in ["customer_api_key", "user_api_key", "page_size"] {
            assert!(text.contains(&format!("`{key}`")), "{key} not reported: {text}");
        }
        assert!(!text.contains("toolong") && !text.contains("short"), "values leak: {text}");

        let raw = json!({
            "username": "svc", "password": "pw", "customer_api_key": "AB12C",
            "user_api_key": "ABCDEF123456", "api_host": "service4.ultipro.com"
        });
        let settings = roster_core::credentials::parse::<Credentials>(&raw).unwrap().resolve().unwrap();
        assert_eq!((settings.page_size, settings.department_org_level), (MAX_PAGE_SIZE, 1));
        assert_eq!(settings.base_url, "https://service4.ultipro.com");
    }
}
