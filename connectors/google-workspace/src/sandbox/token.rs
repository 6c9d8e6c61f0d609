//! The sandbox's token endpoint: the JWT bearer grant, checked like Google checks it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::{CLIENT_EMAIL, Endpoint, Issued, PRIVATE_KEY_ID, PUBLIC_KEY_PEM, State};
use crate::key::{ASSERTION_LIFETIME_SECS, SCOPE};

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How far `iat` may be from the sandbox's clock.
const MAX_SKEW_SECS: u64 = 300;
const BAD_SIGNATURE: &str = "Invalid JWT Signature.";
const BAD_TIMES: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. \
                         Check your iat and exp values in the JWT claim.";

/// The claims the sandbox reads; every one optional, so that a missing claim gets Google's
/// answer rather than a parse error.
#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    scope: Option<String>,
    aud: Option<String>,
    iat: Option<u64>,
    exp: Option<u64>,
}

/// An `OAuth2` error answer.
struct OAuthError {
    status: StatusCode,
    error: String,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: impl Into<String>, description: impl Into<String>) -> Self {
        Self { status, error: error.into(), description: description.into() }
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.error, "error_description": self.description }))).into_response()
    }
}

pub(super) async fn token(Extract(state): Extract<Arc<State>>, headers: HeaderMap, body: String) -> Response {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(fault) = state.take_fault(Endpoint::Token) {
        let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The reason, when given, is the OAuth `error` (e.g. `invalid_grant`).
        let error = fault.reason.unwrap_or_else(|| "internal_failure".to_owned());
        return OAuthError::new(status, error, "Injected by the sandbox.").into_response();
    }
    let form = if is_form(&headers) { parse_form(&body) } else { Vec::new() };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let answer = match (field("grant_type"), field("assertion")) {
        (Some(GRANT_TYPE), Some(assertion)) => check_assertion(&state, assertion).map(|subject| issue(&state, subject)),
        (Some(GRANT_TYPE), None) => {
            Err(OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: assertion"))
        }
        (Some(other), _) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Invalid grant_type: {other}"),
        )),
        (None, _) => Err(OAuthError::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type: ")),
    };
    match answer {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space, `%xx` a byte).
fn parse_form(body: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://form.invalid/?{body}"))
        .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

/// Verifies the assertion: signature (with the public half of the sandbox key, found by `kid`),
/// issuer, audience, times, scope, delegation and subject. Returns the subject to act as.
fn check_assertion(state: &State, assertion: &str) -> Result<Option<String>, OAuthError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| OAuthError::invalid_grant("Invalid JWT."))?;
    if header.alg != Algorithm::RS256 || header.kid.as_deref().is_some_and(|kid| kid != PRIVATE_KEY_ID) {
        return Err(OAuthError::invalid_grant(BAD_SIGNATURE));
    }
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY_PEM.as_bytes()).map_err(|_| {
        OAuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_failure", "The sandbox key is broken.")
    })?;
    // Claims are checked below, one by one, to answer what Google answers for each.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => OAuthError::invalid_grant(BAD_SIGNATURE),
            _ => OAuthError::invalid_grant("Invalid JWT."),
        })?
        .claims;

    if claims.iss.as_deref() != Some(CLIENT_EMAIL) {
        return Err(OAuthError::invalid_grant("Invalid grant: account not found"));
    }
    let token_uri = state.token_uri();
    if claims.aud.as_deref() != Some(token_uri.as_str()) {
        return Err(OAuthError::invalid_grant(format!(
            "Invalid JWT: Failed audience check. The right audience is {token_uri}"
        )));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match (claims.iat, claims.exp) {
        (Some(iat), Some(exp))
            if iat.abs_diff(now) <= MAX_SKEW_SECS && exp > now && exp > iat && exp - iat <= ASSERTION_LIFETIME_SECS => {
        }
        _ => return Err(OAuthError::invalid_grant(BAD_TIMES)),
    }
    let scopes: Vec<&str> = claims.scope.as_deref().unwrap_or_default().split_whitespace().collect();
    if scopes.is_empty() {
        return Err(OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", "Empty or missing scope not allowed."));
    }
    let Some(subject) = claims.sub else {
        // No impersonation: a token for the service account itself, which is no admin.
        return Ok(None);
    };
    if !state.control().delegation || scopes.iter().any(|s| *s != SCOPE) {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any \
             of the scopes requested.",
        ));
    }
    if state.directory.user(&subject).is_none() {
        return Err(OAuthError::invalid_grant("Invalid email or User ID"));
    }
    Ok(Some(subject))
}

/// A new opaque token shaped like Google's (`ya29.`), valid for the configured lifetime.
fn issue(state: &State, subject: Option<String>) -> serde_json::Value {
    let mut control = state.control();
    control.issued += 1;
    let token = format!("ya29.sandbox-{:016x}{:016x}", RandomState::new().hash_one(control.issued), state.salt);
    let lifetime = control.token_lifetime;
    control.tokens.insert(token.clone(), Issued { expires: Instant::now() + lifetime, subject });
    json!({ "access_token": token, "expires_in": lifetime.as_secs(), "token_type": "Bearer" })
}
