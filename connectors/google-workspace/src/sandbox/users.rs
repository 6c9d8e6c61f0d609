//! The sandbox's `GET /admin/directory/v1/users` and Google's error bodies.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{Query, State as Extract};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::faults::{self, PageFault};
use super::{Endpoint, State};

/// The path of `users.list`.
pub(super) const USERS_PATH: &str = "/admin/directory/v1/users";
/// What a page token starts with; the rest is the salted offset, so tokens are opaque and only
/// this sandbox can read them.
const PAGE_TOKEN_PREFIX: &str = "Q0FFU";
const DEFAULT_MAX_RESULTS: usize = 100;
const MAX_MAX_RESULTS: usize = 500;

/// A Google API error: `{"error": {"code", "message", "errors": [{..., "reason"}], "status"}}`;
/// without a reason, `errors` and `status` are left out, as some Google answers do.
pub(super) struct GoogleError {
    status: u16,
    reason: Option<String>,
    message: String,
}

impl GoogleError {
    pub(super) fn new(status: u16, reason: &str, message: impl Into<String>) -> Self {
        Self { status, reason: Some(reason.to_owned()), message: message.into() }
    }

    /// An injected fault: the usual reason and message of `status` unless one is given.
    fn injected(status: u16, reason: Option<String>) -> Self {
        let (usual, message) = match status {
            400 => ("badRequest", "Bad Request"),
            401 => ("authError", "Invalid Credentials"),
            403 => match reason.as_deref() {
                Some("userRateLimitExceeded") => ("", "Quota exceeded for quota metric 'Queries' per user."),
                Some("quotaExceeded") => ("", "Quota exceeded for quota metric 'Queries'."),
                Some("insufficientPermissions") => ("", "Request had insufficient authentication scopes."),
                _ => ("forbidden", "Not Authorized to access this resource/api"),
            },
            429 => ("rateLimitExceeded", "Rate Limit Exceeded"),
            503 => ("backendError", "The service is currently unavailable."),
            _ => ("backendError", "Backend Error"),
        };
        Self { status, reason: Some(reason.unwrap_or_else(|| usual.to_owned())), message: message.to_owned() }
    }

    /// The same error without `errors` and `status`.
    fn bare(status: u16, message: impl Into<String>) -> Self {
        Self { status, reason: None, message: message.into() }
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        let canonical = match self.status {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        let mut error = json!({ "code": self.status, "message": self.message });
        if let Some(reason) = self.reason.filter(|r| !r.is_empty()) {
            error["errors"] = json!([{ "message": self.message, "domain": "global", "reason": reason }]);
            error["status"] = json!(canonical);
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(json!({ "error": error }))).into_response()
    }
}

/// The query of one request, as far as the sandbox understands it; other parameters are ignored.
#[derive(Default)]
struct UsersQuery {
    customer: Option<String>,
    domain: Option<String>,
    max_results: Option<String>,
    page_token: Option<String>,
    projection: Option<String>,
    custom_field_mask: Option<String>,
}

impl UsersQuery {
    fn parse(params: Vec<(String, String)>) -> Self {
        let mut query = Self::default();
        for (key, value) in params {
            let slot = match key.as_str() {
                "customer" => &mut query.customer,
                "domain" => &mut query.domain,
                "maxResults" => &mut query.max_results,
                "pageToken" => &mut query.page_token,
                "projection" => &mut query.projection,
                "customFieldMask" => &mut query.custom_field_mask,
                _ => continue,
            };
            *slot = Some(value);
        }
        query
    }
}

pub(super) async fn users(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    state.users_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(fault) = state.take_fault(Endpoint::Users) {
        return GoogleError::injected(fault.status, fault.reason).into_response();
    }
    let (page, body) = match answer(&state, &headers, &UsersQuery::parse(params)) {
        Ok(answer) => answer,
        Err(error) => return error.into_response(),
    };
    match state.take_page_fault(page) {
        None => Json(body).into_response(),
        Some(PageFault::Status { status, retry_after }) => {
            let mut response = GoogleError::injected(status, None).into_response();
            if let Some(seconds) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
            }
            response
        }
        Some(PageFault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Json(body).into_response()
        }
        Some(PageFault::Truncated) => json_text(faults::truncated(&body.to_string())),
        Some(PageFault::Huge(bytes)) => json_text(faults::huge(&body.to_string(), bytes)),
        Some(PageFault::Malformed) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], faults::MALFORMED).into_response()
        }
    }
}

/// A 200 with `text` as its JSON body, whether or not it is JSON.
fn json_text(text: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], text).into_response()
}

/// Authenticates, authorises and validates like Google does (in that order), then serves a page:
/// its number (1-based) and its body.
fn answer(state: &State, headers: &HeaderMap, query: &UsersQuery) -> Result<(u32, Value), GoogleError> {
    let cap = state.control().page_size.unwrap_or(MAX_MAX_RESULTS);
    let max_results = match query.max_results.as_deref().map(str::parse::<usize>) {
        None => Ok(DEFAULT_MAX_RESULTS.min(cap)),
        Some(Ok(n)) if (1..=MAX_MAX_RESULTS).contains(&n) => Ok(n.min(cap)),
        Some(_) => Err(query.max_results.clone().unwrap_or_default()),
    };
    let offset = match query.page_token.as_deref() {
        None => Some(0),
        Some(token) => read_page_token(state, token),
    };
    let page = match (offset, &max_results) {
        (Some(offset), Ok(max)) => Some(u32::try_from(offset / max + 1).unwrap_or(u32::MAX)),
        _ => None,
    };
    authorize(state, headers, page)?;

    // Each user with its index in the directory, which patches are keyed by.
    let all = state.directory.users.iter().enumerate().filter_map(|(i, u)| u.as_object().map(|u| (i, u)));
    let users: Vec<(usize, &Map<String, Value>)> = match (query.customer.as_deref(), query.domain.as_deref()) {
        (None, None) | (Some(_), Some(_)) => return Err(GoogleError::new(400, "badRequest", "Bad Request")),
        (Some(customer), None) => {
            if customer != "my_customer" && customer != state.directory.customer_id {
                return Err(GoogleError::new(400, "badRequest", "Bad Request"));
            }
            all.collect()
        }
        (None, Some(domain)) => {
            if !state.directory.has_domain(domain) {
                return Err(GoogleError::new(400, "badRequest", "Domain not found."));
            }
            let suffix = format!("@{}", domain.to_ascii_lowercase());
            all.filter(|(_, u)| {
                u.get("primaryEmail").and_then(Value::as_str).is_some_and(|e| e.to_ascii_lowercase().ends_with(&suffix))
            })
            .collect()
        }
    };
    let max_results = max_results.map_err(|raw| {
        GoogleError::new(400, "invalid", format!("Invalid value '{raw}'. Values must be within the range: [1, 500]"))
    })?;
    let mask: Option<Vec<&str>> = match query.projection.as_deref().unwrap_or("basic") {
        "basic" => Some(Vec::new()),
        "full" => None,
        "custom" => match query.custom_field_mask.as_deref() {
            Some(mask) => Some(mask.split(',').map(str::trim).collect()),
            None => return Err(GoogleError::new(400, "invalid", "Invalid Input: customFieldMask")),
        },
        other => {
            let message = format!("Invalid value '{other}'. Allowed values: [basic, custom, full]");
            return Err(GoogleError::new(400, "invalid", message));
        }
    };
    let (Some(offset), Some(page)) = (offset, page) else {
        return Err(GoogleError::new(400, "badRequest", "Invalid Input: pageToken"));
    };
    if offset > users.len() {
        return Err(GoogleError::new(400, "badRequest", "Invalid Input: pageToken"));
    }
    if let Some((_, status)) = state.control().fail_page.filter(|&(k, _)| k == page) {
        return Err(GoogleError::injected(status, None));
    }
    let empty = query.page_token.is_none() && {
        let mut control = state.control();
        control.faults_served += u64::from(control.empty_first_page);
        control.empty_first_page
    };
    Ok((page, render(state, &users, mask.as_deref(), offset, max_results, empty)))
}

/// Checks the bearer token (present, issued here, alive) and that it acts as an admin. Expires
/// every token first when the sandbox was told to at this page.
fn authorize(state: &State, headers: &HeaderMap, page: Option<u32>) -> Result<(), GoogleError> {
    let mut control = state.control();
    if page.is_some() && control.expire_at_page == page {
        control.expire_at_page = None;
        control.faults_served += 1;
        let now = Instant::now();
        control.tokens.values_mut().for_each(|t| t.expires = now);
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let issued = presented.and_then(|t| control.tokens.get(t)).filter(|t| Instant::now() < t.expires);
    let Some(issued) = issued else {
        let message = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie \
                       or other valid authentication credential.";
        return Err(GoogleError::new(401, "authError", message));
    };
    let is_admin = control.admin
        && issued.subject.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&state.directory.admin_email));
    if !is_admin {
        return Err(GoogleError::new(403, "forbidden", "Not Authorized to access this resource/api"));
    }
    Ok(())
}

/// One page: the users from `offset`, custom schemas only as the projection asks, and a
/// `nextPageToken` unless it is the last page; an `empty` one points at the real first page.
fn render(
    state: &State,
    users: &[(usize, &Map<String, Value>)],
    custom_schemas: Option<&[&str]>,
    offset: usize,
    max: usize,
    empty: bool,
) -> Value {
    let mut control = state.control();
    let page: Vec<Value> = users
        .iter()
        .skip(offset)
        .take(if empty { 0 } else { max })
        .map(|&(index, user)| {
            let mut user = user.clone();
            if let Some(patch) = control.patches.get(&index) {
                faults::merge(&mut user, patch);
                control.faults_served += 1;
            }
            if let Some(keep) = custom_schemas {
                if let Some(Value::Object(schemas)) = user.get_mut("customSchemas") {
                    schemas.retain(|name, _| keep.contains(&name.as_str()));
                }
                if user.get("customSchemas").and_then(Value::as_object).is_some_and(Map::is_empty) {
                    user.remove("customSchemas");
                }
            }
            Value::Object(user)
        })
        .collect();
    let mut body = json!({
        "kind": "admin#directory#users",
        "etag": format!("\"sbx-page-{:x}\"", offset as u64 ^ state.salt),
    });
    // An empty page has no `users` at all, as Google answers it.
    if !page.is_empty() {
        body["users"] = Value::Array(page);
    }
    let next = if empty {
        Some(offset)
    } else if control.repeat_page_token {
        control.faults_served += u64::from(offset > 0);
        Some(max.min(users.len()))
    } else {
        Some(offset + max).filter(|&n| n < users.len())
    };
    if let Some(next) = next {
        body["nextPageToken"] = json!(format!("{PAGE_TOKEN_PREFIX}{:016x}", next as u64 ^ state.salt));
    }
    body
}

fn read_page_token(state: &State, token: &str) -> Option<usize> {
    let hex = token.strip_prefix(PAGE_TOKEN_PREFIX)?;
    let n = u64::from_str_radix(hex, 16).ok()? ^ state.salt;
    usize::try_from(n).ok()
}

/// Anything else: Google's 404 for an unknown method, without `errors`.
pub(super) async fn not_found(uri: Uri) -> Response {
    GoogleError::bare(404, format!("Method not found: {}", uri.path())).into_response()
}
