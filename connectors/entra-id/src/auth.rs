//! The client-credentials token: requested from the Microsoft identity platform, cached, renewed
//! shortly before it runs out, and its errors told apart by AADSTS code.

use std::time::Duration;

use roster_core::http::{HttpClient, HttpFailure};
use roster_core::{ConnectorError, ErrorKind, Secret};

use crate::credentials::Settings;
use crate::models::{TokenError, TokenResponse};

/// What a token call is called in messages.
const WHAT: &str = "POST /oauth2/v2.0/token";

/// The lifetime assumed when the token answer has no readable `expires_in`: short, so a wrong
/// guess costs one extra token request, not a failed listing.
const FALLBACK_LIFETIME: Duration = Duration::from_secs(60);

pub(crate) use roster_core::token::TokenCache;

/// `POST {authority_host}/{tenant}/oauth2/v2.0/token` with the client-credentials grant.
pub(crate) async fn request_token(
    settings: &Settings,
    http: &HttpClient,
) -> Result<(Secret, Duration), ConnectorError> {
    let url = format!("{}/{}/oauth2/v2.0/token", settings.authority_host, settings.tenant_id);
    // `/.default` asks for every application permission the admin consented to on this resource.
    let scope = format!("{}/.default", settings.graph_base_url);
    let response = http
        .send(
            WHAT,
            || {
                http.client().post(&url).header(reqwest::header::ACCEPT, "application/json").form(&[
                    ("client_id", settings.client_id.as_str()),
                    ("client_secret", settings.client_secret.expose()),
                    ("scope", scope.as_str()),
                    ("grant_type", "client_credentials"),
                ])
            },
            parse_token_error,
        )
        .await?;
    let answer: TokenResponse = serde_json::from_slice(&response.body).map_err(|e| {
        ConnectorError::new(ErrorKind::InvalidResponse, format!("{WHAT}: the answer is not a token: {e}"))
    })?;
    if answer.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err(ConnectorError::new(
            ErrorKind::InvalidResponse,
            format!("{WHAT}: expected a Bearer token, got token_type `{}`", answer.token_type.unwrap_or_default()),
        ));
    }
    let Some(token) = answer.access_token.filter(|t| !t.is_empty()) else {
        return Err(ConnectorError::new(ErrorKind::InvalidResponse, format!("{WHAT}: the answer has no access_token")));
    };
    let seconds = match &answer.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let lifetime = seconds.map_or_else(
        || {
            tracing::warn!("the token answer has no readable expires_in; renewing it within a minute");
            FALLBACK_LIFETIME
        },
        Duration::from_secs,
    );
    tracing::debug!(lifetime_s = lifetime.as_secs(), "got an access token");
    Ok((Secret::new(token), lifetime))
}

/// AADSTS codes we tell apart (Microsoft's "Microsoft Entra authentication and authorization
/// error codes" page; see the README).
mod aadsts {
    pub(super) const INVALID_CLIENT_SECRET: u64 = 7_000_215;
    pub(super) const CLIENT_SECRET_EXPIRED: u64 = 7_000_222;
    pub(super) const TENANT_NOT_FOUND: u64 = 90_002;
    pub(super) const INVALID_TENANT_NAME: u64 = 900_023;
    pub(super) const APPLICATION_NOT_FOUND: u64 = 700_016;
    pub(super) const RESOURCE_NOT_FOUND: u64 = 500_011;
    pub(super) const INVALID_SCOPE: u64 = 70_011;
    pub(super) const SCOPE_WITHOUT_DEFAULT: u64 = 1_002_012;
}

/// Turns a refused token request into an error naming the setting to fix. Branches on the
/// AADSTS numbers (`error_codes`, or the `AADSTSn:` prefix of `error_description`) and on the
/// `OAuth2` `error`, never on the prose.
pub(crate) fn parse_token_error(f: &HttpFailure) -> ConnectorError {
    let status = f.status.as_u16();
    if status == 429 || status >= 500 {
        // Throttled or down: retryable by kind; Retry-After is read by the HTTP layer.
        return f.default_error();
    }
    let body: TokenError = serde_json::from_str(&f.body).unwrap_or_default();
    let Some(error) = body.error.as_deref().filter(|e| !e.is_empty()) else {
        // Not the identity platform answering: most likely the wrong host.
        let kind = f.default_kind();
        return ConnectorError::new(
            kind,
            format!(
                "the token endpoint answered HTTP {} without an OAuth error: check authority_host \
                 (the login host of the tenant's cloud, e.g. https://login.microsoftonline.com)",
                f.status
            ),
        );
    };
    let mut codes = body.error_codes.clone().unwrap_or_default();
    codes.extend(body.error_description.as_deref().and_then(aadsts_prefix));
    let has = |code: u64| codes.contains(&code);

    let (kind, message) = if has(aadsts::TENANT_NOT_FOUND) || has(aadsts::INVALID_TENANT_NAME) {
        (
            ErrorKind::NotFound,
            "entra id does not know the tenant (AADSTS90002 tenant not found): check tenant_id \
             (the Directory (tenant) ID), and that authority_host is the login host of that tenant's cloud"
                .to_owned(),
        )
    } else if has(aadsts::APPLICATION_NOT_FOUND) {
        (
            ErrorKind::Unauthenticated,
            "entra id does not know the application in this tenant (AADSTS700016 unauthorized_client): \
             check client_id (the Application (client) ID), and that the app is registered in the tenant \
             named by tenant_id"
                .to_owned(),
        )
    } else if has(aadsts::CLIENT_SECRET_EXPIRED) {
        (
            ErrorKind::Unauthenticated,
            "the client secret has expired (AADSTS7000222): create a new one under App registrations > \
             Certificates & secrets and update client_secret"
                .to_owned(),
        )
    } else if has(aadsts::INVALID_CLIENT_SECRET) {
        (ErrorKind::Unauthenticated, wrong_secret("AADSTS7000215 invalid_client"))
    } else if has(aadsts::RESOURCE_NOT_FOUND)
        || has(aadsts::INVALID_SCOPE)
        || has(aadsts::SCOPE_WITHOUT_DEFAULT)
        || error == "invalid_resource"
        || error == "invalid_scope"
    {
        (
            ErrorKind::Config,
            format!(
                "entra id does not accept the scope `<graph_base_url>/.default` ({error}): check \
                 graph_base_url (the Microsoft Graph host of the tenant's cloud, e.g. https://graph.microsoft.com)"
            ),
        )
    } else if error == "unauthorized_client" {
        (
            ErrorKind::Unauthenticated,
            "entra id refused the application (unauthorized_client): check client_id (the Application \
             (client) ID)"
                .to_owned(),
        )
    } else if error == "invalid_client" {
        (ErrorKind::Unauthenticated, wrong_secret("invalid_client"))
    } else {
        let detail = body.error_description.as_deref().map(short_description).unwrap_or_default();
        (f.default_kind(), format!("entra id refused the token request ({error}): {detail}"))
    };
    ConnectorError::new(kind, message).with_status(status)
}

fn wrong_secret(code: &str) -> String {
    format!(
        "entra id refused the client secret ({code}): check client_secret; it must be the Value of an \
         unexpired secret of the app registration named by client_id (not the Secret ID)"
    )
}

/// `AADSTS7000215: Invalid client secret...` -> 7000215.
fn aadsts_prefix(description: &str) -> Option<u64> {
    let rest = description.trim_start().strip_prefix("AADSTS")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The first sentence block of an AADSTS description, without its trace and correlation ids.
fn short_description(description: &str) -> String {
    let first = description.split(['\r', '\n']).next().unwrap_or_default();
    let first = first.split(" Trace ID:").next().unwrap_or_default().trim();
    first.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn token_error(status: u16, body: &str) -> ConnectorError {
        parse_token_error(&HttpFailure {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.into(),
        })
    }

    #[test]
    fn tells_secret_tenant_and_application_apart() {
        let secret = token_error(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1","error_codes":[7000215]}"#,
        );
        assert_eq!(secret.kind(), ErrorKind::Unauthenticated);
        assert!(secret.message().contains("check client_secret"), "{secret}");

        let tenant = token_error(
            400,
            r#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found.","error_codes":[90002]}"#,
        );
        assert_eq!(tenant.kind(), ErrorKind::NotFound);
        assert!(tenant.message().contains("check tenant_id"), "{tenant}");

        let app = token_error(
            400,
            r#"{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'x' was not found"}"#,
        );
        assert_eq!(app.kind(), ErrorKind::Unauthenticated);
        assert!(app.message().contains("check client_id"), "{app}");
    }

    #[test]
    fn falls_back_on_the_oauth_error_then_the_host() {
        let e = token_error(401, r#"{"error":"invalid_client"}"#);
        assert!(e.message().contains("check client_secret"), "{e}");
        let e = token_error(400, r#"{"error":"invalid_scope","error_codes":[1002012]}"#);
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("check graph_base_url"), "{e}");
        let e = token_error(404, "<html>not here</html>");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains("check authority_host"), "{e}");
        let e = token_error(400, r#"{"error":"invalid_grant","error_description":"AADSTS1: odd.\r\nTrace ID: abc"}"#);
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::Rejected, "entra id refused the token request (invalid_grant): AADSTS1: odd.")
        );
        assert!(token_error(503, "").is_retryable());
        assert!(token_error(429, "").is_retryable());
    }
}
