//! The credentials of a Google Workspace connection: a service account's JSON key, the admin it
//! impersonates through domain-wide delegation, and which users to list.

use roster_core::http::parse_base_url;
use roster_core::{ConfigProblem, CredentialsError, Secret};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::key::ServiceAccount;

/// Where the Admin SDK lives.
pub const DEFAULT_API_BASE_URL: &str = "https://admin.googleapis.com";
/// The alias Google accepts for "the customer account of the impersonated admin".
pub const MY_CUSTOMER: &str = "my_customer";

/// The `[connections.NAME]` table of a `google-workspace` connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoogleWorkspaceCredentials {
    /// The service account's JSON key file, as Google Cloud console downloads it (IAM & Admin >
    /// Service accounts > Keys > Add key > Create new key > JSON). Usually read from the file:
    /// `{ file = "google-key.json" }`. Tokens are requested from the key's `token_uri`.
    #[schemars(title = "Service account key (JSON)", schema_with = "key_schema")]
    pub service_account_key: Secret,
    /// The email of a Workspace admin the service account acts as (domain-wide delegation). The
    /// admin needs the privilege to read users; a super admin has it.
    #[schemars(title = "Admin email to impersonate", pattern(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"))]
    pub admin_email: String,
    /// The Google customer ID whose users are listed (Admin console > Account > Account settings,
    /// like `C01abc23d`). The default, `my_customer`, means the account of the impersonated admin.
    /// Leave it out when `domain` is set.
    #[schemars(title = "Customer ID", extend("default" = MY_CUSTOMER))]
    pub customer: Option<String>,
    /// List only the users of this domain of the account (for example `acme.com`), instead of
    /// every user of the customer. Leave `customer` out when this is set.
    #[schemars(title = "Domain")]
    pub domain: Option<String>,
    /// The Admin SDK host. Only a proxy or a test emulator needs another value.
    #[schemars(title = "Admin SDK API base URL")]
    #[serde(default = "default_api_base_url")]
    pub api_base_url: String,
}

fn default_api_base_url() -> String {
    DEFAULT_API_BASE_URL.to_owned()
}

/// Inline values must at least look like JSON; values from `env` and `file` are checked in
/// [`GoogleWorkspaceCredentials::into_settings`].
fn key_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    Secret::schema_with_pattern(
        r"^\s*\{",
        "The service account's JSON key file, as Google Cloud console downloads it (IAM & Admin > Service \
         accounts > Keys > Add key > Create new key > JSON). Usually read from the file: \
         `{ file = \"google-key.json\" }`. Tokens are requested from the key's `token_uri`.",
    )
}

/// Which users a listing asks for: Google requires exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Listing {
    /// `customer=<id>`: every user of the account.
    Customer(String),
    /// `domain=<name>`: the users of one domain.
    Domain(String),
}

impl Listing {
    /// The credentials key that set it, which is also the query parameter.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            Self::Customer(_) => "customer",
            Self::Domain(_) => "domain",
        }
    }

    /// The configured value.
    pub(crate) fn value(&self) -> &str {
        match self {
            Self::Customer(v) | Self::Domain(v) => v,
        }
    }
}

/// Credentials checked and normalised, ready for the client.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) account: ServiceAccount,
    pub(crate) admin_email: String,
    pub(crate) listing: Listing,
    /// Scheme and host, without a trailing slash.
    pub(crate) api_base_url: String,
}

impl GoogleWorkspaceCredentials {
    /// Checks every value (the resolved key included) and normalises them, reporting every
    /// problem at once.
    pub(crate) fn into_settings(self) -> Result<Settings, CredentialsError> {
        let mut problems: Vec<(&str, String)> = Vec::new();
        let account = ServiceAccount::parse(&self.service_account_key)
            .map_err(|messages| problems.extend(messages.into_iter().map(|m| ("service_account_key", m))))
            .ok();
        let admin_email = self.admin_email.trim().to_owned();
        if !is_email(&admin_email) {
            problems
                .push(("admin_email", "expected the email address of a Workspace admin, like `admin@acme.com`".into()));
        }
        let listing = match (self.customer.as_deref().map(str::trim), self.domain.as_deref().map(str::trim)) {
            (Some(_), Some(_)) => {
                problems.push((
                    "domain",
                    "`customer` and `domain` are both set; set `customer` to list every user of the account, or \
                     `domain` to list the users of one domain, not both"
                        .into(),
                ));
                None
            }
            (None, Some(domain)) if is_domain(domain) => Some(Listing::Domain(domain.to_ascii_lowercase())),
            (None, Some(_)) => {
                problems.push(("domain", "expected a domain name of the account, like `acme.com`".into()));
                None
            }
            (customer, None) => {
                let customer = customer.unwrap_or(MY_CUSTOMER);
                if is_customer_id(customer) {
                    Some(Listing::Customer(customer.to_owned()))
                } else {
                    problems.push((
                        "customer",
                        "expected `my_customer` or a customer ID like `C01abc23d` (Admin console > Account > \
                         Account settings)"
                            .into(),
                    ));
                    None
                }
            }
        };
        let api_base_url = normalise_host(&self.api_base_url)
            .map_err(|message| problems.push(("api_base_url", message)))
            .unwrap_or_default();
        match (account, listing) {
            (Some(account), Some(listing)) if problems.is_empty() => {
                Ok(Settings { account, admin_email, listing, api_base_url })
            }
            _ => Err(CredentialsError {
                problems: problems
                    .into_iter()
                    .map(|(path, message)| ConfigProblem { path: path.to_owned(), message })
                    .collect(),
            }),
        }
    }
}

/// One `@` with something before it and a dotted domain after it, no spaces.
pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty() && is_domain(domain) && !local.contains(char::is_whitespace)
}

/// A DNS name with at least two labels of letters, digits and inner hyphens.
fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// `my_customer`, or an id of letters and digits (Google's look like `C01abc23d`).
fn is_customer_id(s: &str) -> bool {
    s == MY_CUSTOMER || (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Parses a host setting: HTTPS (or loopback), scheme and host only, no trailing slash.
fn normalise_host(raw: &str) -> Result<String, String> {
    let url = parse_base_url(raw)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "`{raw}` should be a scheme and host only, like `{DEFAULT_API_BASE_URL}` (no path such as \
             `/admin/directory/v1`)"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::key_json;

    fn creds(customer: Option<&str>, domain: Option<&str>) -> GoogleWorkspaceCredentials {
        GoogleWorkspaceCredentials {
            service_account_key: Secret::new(key_json("https://oauth2.googleapis.com/token")),
            admin_email: " admin@acme.example ".into(),
            customer: customer.map(Into::into),
            domain: domain.map(Into::into),
            api_base_url: default_api_base_url(),
        }
    }

    #[test]
    fn customer_defaults_to_my_customer_and_domain_replaces_it() {
        let s = creds(None, None).into_settings().unwrap();
        assert_eq!(s.listing, Listing::Customer("my_customer".into()));
        assert_eq!((s.admin_email.as_str(), s.api_base_url.as_str()), ("admin@acme.example", DEFAULT_API_BASE_URL));
        let s = creds(Some("C01abc23d"), None).into_settings().unwrap();
        assert_eq!(s.listing, Listing::Customer("C01abc23d".into()));
        let s = creds(None, Some("Acme.Example")).into_settings().unwrap();
        assert_eq!((s.listing.key(), s.listing.value()), ("domain", "acme.example"));
    }

    #[test]
    fn both_customer_and_domain_is_an_error_naming_both() {
        let err = creds(Some("my_customer"), Some("acme.example")).into_settings().unwrap_err();
        assert_eq!(err.problems.len(), 1);
        let text = err.to_string();
        assert!(text.starts_with("`domain`: `customer` and `domain` are both set"), "{text}");
    }

    #[test]
    fn reports_every_problem() {
        let mut c = creds(Some("my customer"), None);
        c.admin_email = "admin".into();
        c.api_base_url = "http://admin.googleapis.com".into();
        c.service_account_key = Secret::new("{\"type\":\"authorized_user\"}");
        let err = c.into_settings().unwrap_err();
        let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths[..2], ["service_account_key", "service_account_key"]);
        assert_eq!(paths[2..], ["admin_email", "customer", "api_base_url"]);
        let text = err.to_string();
        assert!(text.contains("requires HTTPS"), "{text}");
        assert!(text.contains("`authorized_user`"), "{text}");

        let mut c = creds(None, Some("not a domain"));
        c.api_base_url = "https://admin.googleapis.com/admin/directory/v1".into();
        let text = c.into_settings().unwrap_err().to_string();
        assert!(text.contains("`domain`: expected a domain name"), "{text}");
        assert!(text.contains("no path such as"), "{text}");
    }

    #[test]
    fn loopback_base_url_for_sandboxes() {
        let mut c = creds(None, None);
        c.api_base_url = "http://127.0.0.1:8080/".into();
        assert_eq!(c.into_settings().unwrap().api_base_url, "http://127.0.0.1:8080");
    }
}
