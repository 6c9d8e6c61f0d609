//! The credentials of an Entra ID connection: an app registration's client-credentials grant.

use roster_core::http::parse_base_url;
use roster_core::{CredentialsError, Secret};
use schemars::JsonSchema;
use serde::Deserialize;

/// The login host of Microsoft's public cloud. National clouds have their own.
pub const PUBLIC_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The Microsoft Graph host of the public cloud. National clouds have their own.
pub const PUBLIC_GRAPH_BASE_URL: &str = "https://graph.microsoft.com";

/// The pattern of a GUID, as Entra writes tenant and application ids.
const GUID_PATTERN: &str = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";

/// The `[connections.NAME]` table of an `entra-id` connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntraIdCredentials {
    /// The directory (tenant) ID from the app registration's Overview page: a GUID, or one of the
    /// tenant's domains such as `contoso.onmicrosoft.com`. `common` and `organizations` do not work
    /// for an application signing in as itself.
    #[schemars(title = "Directory (tenant) ID")]
    pub tenant_id: String,
    /// The application (client) ID of the app registration (a GUID), from its Overview page.
    #[schemars(title = "Application (client) ID", pattern(GUID_PATTERN))]
    pub client_id: String,
    /// The client secret's Value (shown once, when the secret is created under Certificates &
    /// secrets), not its Secret ID.
    #[schemars(title = "Client secret value")]
    pub client_secret: Secret,
    /// The Microsoft identity platform login host that issues tokens. The default is the public
    /// cloud; national clouds use their own host (for example `https://login.microsoftonline.us`).
    #[schemars(title = "Authority host")]
    #[serde(default = "default_authority_host")]
    pub authority_host: String,
    /// The Microsoft Graph host users are read from. The default is the public cloud; national
    /// clouds use their own host (for example `https://graph.microsoft.us`).
    #[schemars(title = "Microsoft Graph base URL")]
    #[serde(default = "default_graph_base_url")]
    pub graph_base_url: String,
}

fn default_authority_host() -> String {
    PUBLIC_AUTHORITY_HOST.to_owned()
}

fn default_graph_base_url() -> String {
    PUBLIC_GRAPH_BASE_URL.to_owned()
}

/// Credentials checked and normalised, ready for the client.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    /// Scheme and host, without a trailing slash.
    pub(crate) authority_host: String,
    /// Scheme and host, without a trailing slash.
    pub(crate) graph_base_url: String,
}

impl EntraIdCredentials {
    /// Checks every value (the resolved secret included) and normalises the hosts, reporting
    /// every problem at once.
    pub(crate) fn into_settings(self) -> Result<Settings, CredentialsError> {
        let mut problems = Vec::new();
        let tenant_id = self.tenant_id.trim().to_owned();
        if let Err(message) = check_tenant(&tenant_id) {
            problems.push(("tenant_id", message));
        }
        let client_id = self.client_id.trim().to_owned();
        if !is_guid(&client_id) {
            problems.push((
                "client_id",
                "expected the Application (client) ID, a GUID like `11111111-2222-3333-4444-555555555555`".to_owned(),
            ));
        }
        if let Err(message) = check_secret(self.client_secret.expose()) {
            problems.push(("client_secret", message.to_owned()));
        }
        let authority_host = normalise_host(&self.authority_host, PUBLIC_AUTHORITY_HOST)
            .map_err(|message| problems.push(("authority_host", message)))
            .unwrap_or_default();
        let graph_base_url = normalise_host(&self.graph_base_url, PUBLIC_GRAPH_BASE_URL)
            .map_err(|message| problems.push(("graph_base_url", message)))
            .unwrap_or_default();
        if problems.is_empty() {
            Ok(Settings { tenant_id, client_id, client_secret: self.client_secret, authority_host, graph_base_url })
        } else {
            Err(CredentialsError {
                problems: problems
                    .into_iter()
                    .map(|(path, message)| roster_core::ConfigProblem { path: path.to_owned(), message })
                    .collect(),
            })
        }
    }
}

/// Whether `s` is a GUID (`8-4-4-4-12` hexadecimal digits).
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A tenant is a GUID or a DNS name; it goes into the token URL's path, so nothing else passes.
fn check_tenant(tenant: &str) -> Result<(), String> {
    const MULTI_TENANT: [&str; 3] = ["common", "organizations", "consumers"];
    if MULTI_TENANT.iter().any(|m| tenant.eq_ignore_ascii_case(m)) {
        return Err(format!(
            "`{tenant}` is not a tenant: an application reading users as itself must name its own tenant \
             (the Directory (tenant) ID GUID, or a domain like `contoso.onmicrosoft.com`)"
        ));
    }
    if is_guid(tenant) || is_domain(tenant) {
        Ok(())
    } else {
        Err("expected the Directory (tenant) ID, a GUID like `11111111-2222-3333-4444-555555555555` \
             or a domain like `contoso.onmicrosoft.com`"
            .to_owned())
    }
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

/// Entra generates secret values of printable characters without spaces. A GUID is what the
/// portal shows beside the value as the "Secret ID", the most common mix-up.
fn check_secret(secret: &str) -> Result<(), &'static str> {
    if is_guid(secret.trim()) {
        return Err("this looks like the secret's Secret ID (a GUID); use its Value instead, \
                    shown once when the secret was created under Certificates & secrets");
    }
    if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the secret value contains spaces or control characters; copy only the Value column");
    }
    Ok(())
}

/// Parses a host setting: HTTPS (or loopback), scheme and host only, no trailing slash.
fn normalise_host(raw: &str, example: &str) -> Result<String, String> {
    let url = parse_base_url(raw)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("`{raw}` should be a scheme and host only, like `{example}` (no path such as `/v1.0`)"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(tenant: &str, client: &str, secret: &str) -> EntraIdCredentials {
        EntraIdCredentials {
            tenant_id: tenant.into(),
            client_id: client.into(),
            client_secret: Secret::new(secret),
            authority_host: default_authority_host(),
            graph_base_url: default_graph_base_url(),
        }
    }

    const APP: &str = "0b5a9c4e-1f2d-4c3b-9a8e-7d6f5e4c3b2a";

    #[test]
    fn accepts_guid_or_domain_tenants() {
        for tenant in ["72f988bf-86f1-41af-91ab-2d7cd011db47", "contoso.onmicrosoft.com", " Contoso.COM "] {
            let s = creds(tenant, APP, "Abc8Q~generated.secret_value-123").into_settings().unwrap();
            assert_eq!(s.tenant_id, tenant.trim());
            assert_eq!(s.authority_host, "https://login.microsoftonline.com");
            assert_eq!(s.graph_base_url, "https://graph.microsoft.com");
        }
    }

    #[test]
    fn reports_every_problem_without_the_secret() {
        let secret = "d3b07384-d9a0-4c9f-8d3e-5f1a2b3c4d5e";
        let mut c = creds("contoso/../x", "not-a-guid", secret);
        c.graph_base_url = "http://graph.microsoft.com".into();
        c.authority_host = "https://login.microsoftonline.com/tenant".into();
        let err = c.into_settings().unwrap_err();
        let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["tenant_id", "client_id", "client_secret", "authority_host", "graph_base_url"]);
        let text = err.to_string();
        assert!(text.contains("Secret ID"), "{text}");
        assert!(text.contains("requires HTTPS"), "{text}");
        assert!(text.contains("no path"), "{text}");
        assert!(!text.contains(secret), "the secret leaks: {text}");
    }

    #[test]
    fn refuses_multi_tenant_aliases_and_pasted_junk() {
        let err = creds("organizations", APP, "x~y").into_settings().unwrap_err().to_string();
        assert!(err.contains("must name its own tenant"), "{err}");
        let err = creds("contoso.com", APP, "Value Secret-ID").into_settings().unwrap_err().to_string();
        assert!(err.contains("`client_secret`: the secret value contains spaces"), "{err}");
    }

    #[test]
    fn national_cloud_and_loopback_hosts() {
        let mut c = creds("contoso.com", APP, "s3cret~value");
        c.authority_host = "https://login.microsoftonline.us/".into();
        c.graph_base_url = "http://127.0.0.1:8080".into();
        let s = c.into_settings().unwrap();
        assert_eq!(s.authority_host, "https://login.microsoftonline.us");
        assert_eq!(s.graph_base_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn guids() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("72f988bf86f141af91ab2d7cd011db47"));
        assert!(!is_guid("72f988bf-86f1-41af-91ab-2d7cd011db4g"));
    }
}
