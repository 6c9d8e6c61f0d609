//! The sandbox's HTTP handlers: the token endpoint and `/v1.0/users`.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, Query, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::faults::{self, PageFault};
use super::tenant::{DEFAULT_PROPERTIES, PROPERTIES};
use super::{CLIENT_ID, Endpoint, State};

type Shared = Extract<Arc<State>>;

/// What a skip token starts with; the rest is the salted offset, so tokens are opaque and only
/// this sandbox can read them.
const SKIPTOKEN_PREFIX: &str = "RFNwdAIAAQ";
/// Graph's default and largest page sizes for users.
const DEFAULT_TOP: usize = 100;
const MAX_TOP: usize = 999;

pub(super) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/users", get(users))
        .fallback(unknown_segment)
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

async fn token(Extract(state): Shared, Path(tenant): Path<String>, headers: HeaderMap, body: String) -> Response {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(fault) = state.take_fault(Endpoint::Token) {
        let error =
            AadError::new(fault.status, "temporarily_unavailable", 0, "The service is temporarily unavailable.");
        return with_retry_after(error.into_response(), fault.retry_after);
    }
    let form = if is_form(&headers) { parse_form(&body) } else { Vec::new() };
    match check_client(&state, &tenant, &form) {
        Ok(()) => Json(issue_token(&state)).into_response(),
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

/// Checks the tenant, then the grant, the application, its secret and the scope, in the order
/// the identity platform reports them.
fn check_client(state: &State, tenant: &str, form: &[(String, String)]) -> Result<(), AadError> {
    let t = &state.tenant;
    if ![t.tenant_id.clone(), t.domain.clone(), t.initial_domain()].iter().any(|k| k.eq_ignore_ascii_case(tenant)) {
        let description = format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into \
             the correct cloud."
        );
        return Err(AadError::new(400, "invalid_request", 90002, description));
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let required = |name: &str| {
        field(name).ok_or_else(|| {
            let description = format!("The request body must contain the following parameter: '{name}'.");
            AadError::new(400, "invalid_request", 900_144, description)
        })
    };

    let grant_type = required("grant_type")?;
    if grant_type != "client_credentials" {
        let description = format!("The app requested an unsupported grant type '{grant_type}'.");
        return Err(AadError::new(400, "unsupported_grant_type", 70003, description));
    }
    let client_id = required("client_id")?;
    if !client_id.eq_ignore_ascii_case(CLIENT_ID) {
        let description = format!(
            "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if \
             the application has not been installed by the administrator of the tenant or consented to by any user \
             in the tenant. You may have sent your authentication request to the wrong tenant.",
            t.domain
        );
        return Err(AadError::new(400, "unauthorized_client", 700_016, description));
    }
    let Some(secret) = field("client_secret") else {
        let description = "The request body must contain the following parameter: 'client_assertion' or \
                           'client_secret'.";
        return Err(AadError::new(401, "invalid_client", 7_000_218, description));
    };
    if secret != state.control().client_secret {
        let description = format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret \
             value, not the client secret ID, for a secret added to app '{CLIENT_ID}'."
        );
        return Err(AadError::new(401, "invalid_client", 7_000_215, description));
    }
    let scope = required("scope")?;
    let Some(resource) = scope.strip_suffix("/.default") else {
        let description = format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value \
             with /.default suffixed to the resource identifier (application ID URI)."
        );
        return Err(AadError::new(400, "invalid_scope", 1_002_012, description));
    };
    if resource != state.base_url {
        let description =
            format!("The resource principal named {resource} was not found in the tenant named {}.", t.domain);
        return Err(AadError::new(400, "invalid_resource", 500_011, description));
    }
    Ok(())
}

/// A new opaque token, valid for the configured lifetime.
fn issue_token(state: &State) -> Value {
    let mut control = state.control();
    control.issued += 1;
    let token = format!("sbx.{:016x}.{:016x}", RandomState::new().hash_one(control.issued), state.salt);
    let lifetime = control.token_lifetime;
    control.tokens.insert(token.clone(), Instant::now() + lifetime);
    json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    })
}

/// An identity-platform error: `error`, `error_description` starting `AADSTSn:` and followed by
/// trace ids, and `error_codes`.
struct AadError {
    status: u16,
    error: &'static str,
    code: u64,
    description: String,
}

impl AadError {
    fn new(status: u16, error: &'static str, code: u64, description: impl Into<String>) -> Self {
        Self { status, error, code, description: description.into() }
    }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let trace = "00000000-0000-0000-0000-000000000000";
        let (prefix, codes) = if self.code == 0 {
            (String::new(), json!([]))
        } else {
            (format!("AADSTS{}: ", self.code), json!([self.code]))
        };
        let body = json!({
            "error": self.error,
            "error_description":
                format!("{prefix}{}\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\nTimestamp: {now}", self.description),
            "error_codes": codes,
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": trace,
        });
        (StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST), Json(body)).into_response()
    }
}

// ---------------------------------------------------------------------------------------------
// Microsoft Graph /v1.0/users

/// The query of one users request, as far as the sandbox understands it.
#[derive(Default)]
struct UsersQuery {
    select: Option<String>,
    top: Option<String>,
    skiptoken: Option<String>,
    unsupported: Option<String>,
}

impl UsersQuery {
    fn parse(params: Vec<(String, String)>) -> Self {
        let mut query = Self::default();
        for (key, value) in params {
            match key.as_str() {
                "$select" => query.select = Some(value),
                "$top" => query.top = Some(value),
                "$skiptoken" => query.skiptoken = Some(value),
                _ => query.unsupported = Some(key),
            }
        }
        query
    }
}

async fn users(Extract(state): Shared, headers: HeaderMap, Query(params): Query<Vec<(String, String)>>) -> Response {
    state.users_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(fault) = state.take_fault(Endpoint::Users) {
        let error = GraphError::new(fault.status, code_for(fault.status), "Injected by the sandbox.");
        return with_retry_after(error.into_response(), fault.retry_after);
    }
    let (page, body) = match answer_users(&state, &headers, UsersQuery::parse(params)) {
        Ok(answer) => answer,
        Err(error) => return error.into_response(),
    };
    match state.take_page_fault(page) {
        None => Json(body).into_response(),
        Some(PageFault::Status { status, retry_after }) => {
            let error = GraphError::new(status, code_for(status), "Injected by the sandbox.");
            with_retry_after(error.into_response(), retry_after)
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
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; odata.metadata=minimal")], text).into_response()
}

/// Authenticates, authorises and validates like Graph does (in that order), then serves a page:
/// its number (1-based) and its body.
fn answer_users(state: &State, headers: &HeaderMap, query: UsersQuery) -> Result<(u32, Value), GraphError> {
    let len = state.tenant.users.len();
    let cap = state.control().page_size.unwrap_or(MAX_TOP);
    let top = match query.top.as_deref().map(str::parse::<usize>) {
        None => Ok(DEFAULT_TOP.min(cap)),
        Some(Ok(n)) if (1..=MAX_TOP).contains(&n) => Ok(n.min(cap)),
        Some(_) => Err(query.top.clone().unwrap_or_default()),
    };
    let offset = match query.skiptoken.as_deref() {
        None => Some(0),
        Some(token) => read_skiptoken(state, token).filter(|&o| o <= len),
    };
    let page = match (offset, &top) {
        (Some(offset), Ok(top)) => Some(u32::try_from(offset / top + 1).unwrap_or(u32::MAX)),
        _ => None,
    };

    {
        let mut control = state.control();
        if page.is_some() && control.expire_at_page == page {
            control.expire_at_page = None;
            control.faults_served += 1;
            let now = Instant::now();
            control.tokens.values_mut().for_each(|expiry| *expiry = now);
        }
        authorize(&control.tokens, headers)?;
        if !control.user_read_all {
            return Err(GraphError::new(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
    }
    if let Some(key) = query.unsupported {
        return Err(GraphError::new(400, "Request_UnsupportedQuery", format!("Unsupported query parameter '{key}'.")));
    }
    let top = top.map_err(|raw| {
        let message = format!("Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive.");
        GraphError::new(400, "Request_UnsupportedQuery", message)
    })?;
    let selected: Vec<&str> = match &query.select {
        None => DEFAULT_PROPERTIES.to_vec(),
        Some(select) => {
            select.split(',').map(|p| canonical(p.trim()).ok_or(p)).collect::<Result<_, _>>().map_err(|p| {
                let message = format!("Could not find a property named '{p}' on type 'microsoft.graph.user'.");
                GraphError::new(400, "Request_BadRequest", message)
            })?
        }
    };
    let (Some(offset), Some(page)) = (offset, page) else {
        return Err(GraphError::new(400, "Request_BadRequest", "The specified page token value is not valid."));
    };
    if let Some((_, status)) = state.control().fail_page.filter(|&(k, _)| k == page) {
        return Err(GraphError::new(status, code_for(status), format!("Page {page} fails, as the sandbox was told.")));
    }
    let empty = query.skiptoken.is_none() && {
        let mut control = state.control();
        control.faults_served += u64::from(control.empty_first_page);
        control.empty_first_page
    };
    Ok((page, render_page(state, query.select.is_some(), &selected, offset, top, empty)))
}

/// One page from `offset`; an `empty` one links to the real first page.
fn render_page(state: &State, selecting: bool, selected: &[&str], offset: usize, top: usize, empty: bool) -> Value {
    let users = &state.tenant.users;
    let mut control = state.control();
    let value: Vec<Value> = users
        .iter()
        .enumerate()
        .skip(offset)
        .take(if empty { 0 } else { top })
        .map(|(i, u)| {
            let mut all = u.to_graph();
            if let Some(patch) = control.patches.get(&i) {
                faults::merge(&mut all, patch);
                control.faults_served += 1;
            }
            Value::Object(selected.iter().filter_map(|p| all.remove_entry(*p)).collect())
        })
        .collect();
    let repeat = control.repeat_next_link;
    if repeat && offset > 0 {
        control.faults_served += 1;
    }
    drop(control);
    let base = &state.base_url;
    let context = if selecting {
        format!("{base}/v1.0/$metadata#users({})", selected.join(","))
    } else {
        format!("{base}/v1.0/$metadata#users")
    };
    let mut body = json!({ "@odata.context": context, "value": value });
    let next = if empty {
        Some(offset)
    } else if repeat {
        Some(top.min(users.len()))
    } else {
        Some(offset + top).filter(|&n| n < users.len())
    };
    if let Some(next) = next {
        let select = if selecting { format!("$select={}&", selected.join(",")) } else { String::new() };
        let token = format!("{SKIPTOKEN_PREFIX}{:016x}", next as u64 ^ state.salt);
        body["@odata.nextLink"] = json!(format!("{base}/v1.0/users?{select}$top={top}&$skiptoken={token}"));
    }
    body
}

fn read_skiptoken(state: &State, token: &str) -> Option<usize> {
    let hex = token.strip_prefix(SKIPTOKEN_PREFIX)?;
    let n = u64::from_str_radix(hex, 16).ok()? ^ state.salt;
    usize::try_from(n).ok()
}

/// Graph property names are case-insensitive in `$select`; answers use the canonical spelling.
fn canonical(name: &str) -> Option<&'static str> {
    PROPERTIES.iter().copied().find(|p| p.eq_ignore_ascii_case(name))
}

/// Checks the bearer token: present, issued here, not expired.
fn authorize(tokens: &HashMap<String, Instant>, headers: &HeaderMap) -> Result<(), GraphError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let refuse = |message: &str| GraphError::new(401, "InvalidAuthenticationToken", message);
    let Some(presented) = presented else { return Err(refuse("Access token is empty.")) };
    match tokens.get(presented) {
        None => Err(refuse("Access token validation failure. Invalid audience.")),
        Some(&expiry) if Instant::now() >= expiry => Err(refuse("Access token has expired or is not yet valid.")),
        Some(_) => Ok(()),
    }
}

fn code_for(status: u16) -> &'static str {
    match status {
        401 => "InvalidAuthenticationToken",
        403 => "Authorization_RequestDenied",
        429 => "TooManyRequests",
        503 => "ServiceNotAvailable",
        504 => "GatewayTimeout",
        500..=599 => "UnknownError",
        _ => "BadRequest",
    }
}

/// A Graph error body: `{"error": {"code", "message", "innerError"}}`.
struct GraphError {
    status: u16,
    code: &'static str,
    message: String,
}

impl GraphError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
        let id = "00000000-0000-0000-0000-000000000000";
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": { "date": date, "request-id": id, "client-request-id": id },
            }
        });
        (StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(body)).into_response()
    }
}

fn with_retry_after(mut response: Response, retry_after: Option<u64>) -> Response {
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

async fn unknown_segment(uri: Uri) -> Response {
    let segment = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
    GraphError::new(400, "BadRequest", format!("Resource not found for the segment '{segment}'.")).into_response()
}
