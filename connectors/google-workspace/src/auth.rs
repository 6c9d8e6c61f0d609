//! The access token: a JWT bearer grant signed with the service account's key, acting as the
//! admin (domain-wide delegation); cached, renewed shortly before it runs out, and its errors
//! told apart so each message names what to fix.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use roster_core::http::{HttpClient, HttpFailure};
use roster_core::{ConnectorError, ErrorKind, Secret};

use crate::credentials::Settings;
use crate::key::SCOPE;
use crate::models::{TokenError, TokenResponse};

/// The grant type of the JWT bearer flow (RFC 7523).
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The lifetime assumed when the answer has no readable `expires_in`: short, so a wrong guess
/// costs one extra token request, not a failed listing.
const FALLBACK_LIFETIME: Duration = Duration::from_secs(60);

/// Where domain-wide delegation is granted, for messages.
pub(crate) const DELEGATION_PATH: &str = "Admin console > Security > API controls > Domain-wide delegation";

pub(crate) use roster_core::token::TokenCache;

/// `POST token_uri` with a freshly signed assertion.
pub(crate) async fn request_token(
    settings: &Settings,
    http: &HttpClient,
) -> Result<(Secret, Duration), ConnectorError> {
    let account = &settings.account;
    let what = match &account.client_id {
        Some(id) => format!(
            "requesting an access token for {} (client ID {id}) as {}",
            account.client_email, settings.admin_email
        ),
        None => format!("requesting an access token for {} as {}", account.client_email, settings.admin_email),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let assertion = account.assertion(&settings.admin_email, now).map_err(|e| e.context(&what))?;
    let response = http
        .send(
            &what,
            || {
                http.client()
                    .post(account.token_endpoint.clone())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .form(&[("grant_type", GRANT_TYPE), ("assertion", assertion.expose())])
            },
            parse_token_error,
        )
        .await?;
    let invalid = |why: &str| ConnectorError::new(ErrorKind::InvalidResponse, format!("{what}: {why}"));
    let answer: TokenResponse =
        serde_json::from_slice(&response.body).map_err(|_| invalid("the answer is not a token"))?;
    if answer.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err(invalid("expected a Bearer token"));
    }
    let Some(token) = answer.access_token.filter(|t| !t.is_empty()) else {
        return Err(invalid("the answer has no access_token"));
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

/// Turns a refused token request into an error naming what to fix. Branches on the `OAuth2`
/// `error`; Google's `error_description` is only read to tell the causes of `invalid_grant`
/// apart, since Google gives them all the same code (see the README).
pub(crate) fn parse_token_error(f: &HttpFailure) -> ConnectorError {
    let status = f.status.as_u16();
    if status == 429 || status >= 500 {
        // Throttled or down: retryable by kind.
        return f.default_error();
    }
    let body: TokenError = serde_json::from_str(&f.body).unwrap_or_default();
    let said = body.error_description.as_deref().map(str::trim).filter(|d| !d.is_empty()).unwrap_or_default();
    let quoted = if said.is_empty() { String::new() } else { format!(": {said}") };
    let (kind, message) = match body.error.as_deref().unwrap_or_default() {
        "unauthorized_client" => (
            ErrorKind::PermissionDenied,
            format!(
                "google refused the token (unauthorized_client{quoted}): the service account's client ID is not \
                 authorised for domain-wide delegation with the scope {SCOPE}; add the client ID (the key file's \
                 `client_id`) with that scope in {DELEGATION_PATH}"
            ),
        ),
        "invalid_grant" => (ErrorKind::Unauthenticated, invalid_grant(said)),
        "invalid_client" => (
            ErrorKind::Unauthenticated,
            format!(
                "google does not know the service account (invalid_client{quoted}): check service_account_key; the \
                 service account or its key may have been deleted or disabled"
            ),
        ),
        "" => (
            f.default_kind(),
            format!(
                "the token endpoint answered HTTP {} without an OAuth error: check the key file's `token_uri` \
                 (normally https://oauth2.googleapis.com/token)",
                f.status
            ),
        ),
        other => (f.default_kind(), format!("google refused the token ({other}{quoted})")),
    };
    ConnectorError::new(kind, message).with_status(status)
}

/// `invalid_grant` covers a bad signature, an unknown `sub` and clock skew; Google's
/// description tells them apart ("Invalid JWT Signature.", "Invalid email or User ID",
/// "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe").
fn invalid_grant(said: &str) -> String {
    let lower = said.to_ascii_lowercase();
    let quoted = if said.is_empty() { String::new() } else { format!(": {said}") };
    let fix = if lower.contains("signature") {
        "the key's signature was refused: check service_account_key; the key may have been deleted or disabled \
         (IAM & Admin > Service accounts > Keys), or belong to another service account"
    } else if lower.contains("email") || lower.contains("user id") || lower.contains("subject") {
        "google does not know the admin to impersonate: check admin_email; it must be an existing, active user \
         of the Workspace account"
    } else if lower.contains("timeframe") || lower.contains("iat") || lower.contains("exp") {
        "the token request's times were refused, which means this machine's clock is off: synchronise it (NTP)"
    } else if lower.contains("account not found") {
        "google does not know the service account: check service_account_key; the service account may have been \
         deleted"
    } else {
        "check service_account_key (a current key of the service account), admin_email (an existing, active \
         user) and this machine's clock"
    };
    format!("google refused the token (invalid_grant{quoted}): {fix}")
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
    fn tells_the_causes_of_invalid_grant_apart() {
        let grant = |description: &str| {
            let body = serde_json::json!({ "error": "invalid_grant", "error_description": description });
            let e = token_error(400, &body.to_string());
            assert_eq!(e.kind(), ErrorKind::Unauthenticated);
            e.to_string()
        };
        assert!(grant("Invalid JWT Signature.").contains("check service_account_key"));
        assert!(grant("Invalid email or User ID").contains("check admin_email"));
        let skew = grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your \
             iat and exp values in the JWT claim.",
        );
        assert!(skew.contains("clock is off"), "{skew}");
        let unknown = grant("");
        assert!(
            unknown.contains("service_account_key") && unknown.contains("admin_email") && unknown.contains("clock")
        );
    }

    #[test]
    fn unauthorized_client_names_domain_wide_delegation() {
        let e = token_error(
            401,
            r#"{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}"#,
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(!e.is_retryable());
        let text = e.to_string();
        assert!(text.contains("not authorised for domain-wide delegation"), "{text}");
        assert!(text.contains("API controls > Domain-wide delegation"), "{text}");
        assert!(text.contains(SCOPE), "{text}");
    }

    #[test]
    fn outages_retry_and_strangers_name_the_token_uri() {
        assert!(token_error(503, "").is_retryable());
        assert!(token_error(429, "").is_retryable());
        let e = token_error(404, "<html>Not Found</html>");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("`token_uri`"), "{e}");
        assert_eq!(token_error(401, r#"{"error":"invalid_client"}"#).kind(), ErrorKind::Unauthenticated);
    }
}
