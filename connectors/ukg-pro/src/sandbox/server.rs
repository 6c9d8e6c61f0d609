//! The HTTP side of the sandbox: routes, authentication, permissions, paging, faults.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use std::time::Duration;

use super::faults::{self, PageFault};
use super::{CUSTOMER_API_KEY, MAX_PER_PAGE, PASSWORD, Shared, USER_API_KEY, USERNAME, lock};
use crate::Endpoint;

pub(super) fn router(state: Shared) -> Router {
    Router::new()
        .route(Endpoint::PersonDetails.path(), get(person_details))
        .route(Endpoint::EmploymentDetails.path(), get(employment_details))
        .fallback(|| async {
            json_error(
                StatusCode::NOT_FOUND,
                &json!({ "message": "No HTTP resource was found that matches the request URI." }),
            )
        })
        .with_state(state)
}

async fn person_details(State(state): State<Shared>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    late(answer(&state, Endpoint::PersonDetails, &headers, query.as_deref())).await
}

async fn employment_details(State(state): State<Shared>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    late(answer(&state, Endpoint::EmploymentDetails, &headers, query.as_deref())).await
}

/// Sends the answer once its delay (an injected late answer) is over; the state is not locked
/// while it waits.
async fn late((response, delay): (Response, Option<Duration>)) -> Response {
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn json_error(status: StatusCode, body: &serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}

/// An error answer in the shapes UKG uses: no body for 401, JSON for the rest.
fn error(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match status.as_u16() {
        401 => status.into_response(),
        403 => forbidden(),
        429 => json_error(status, &json!({ "message": "API calls quota exceeded, try again later." })),
        500..=599 => json_error(status, &json!({ "message": "An error has occurred." })),
        _ => json_error(
            status,
            &json!({ "title": status.canonical_reason().unwrap_or("Error"), "status": status.as_u16() }),
        ),
    };
    if let Some(secs) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn forbidden() -> Response {
    json_error(
        StatusCode::FORBIDDEN,
        &json!({ "title": "Forbidden", "status": 403, "detail": "The service account is not authorized for this web service." }),
    )
}

/// Checks the Basic user name and password, the Customer API key and `Accept`; `Some` is the
/// refusal to send.
fn refuse(headers: &HeaderMap, wrong_credentials: bool) -> Option<Response> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if headers.values().any(|v| v.as_bytes() == USER_API_KEY.as_bytes()) {
        // The User API key belongs to the SOAP login service; a REST client must never send it.
        return Some(json_error(
            StatusCode::BAD_REQUEST,
            &json!({ "message": "The User API key was sent to a REST endpoint; it is only for the SOAP login service." }),
        ));
    }
    if wrong_credentials || value("US-Customer-Api-Key") != Some(CUSTOMER_API_KEY) {
        // UKG answers a bad or missing customer key with an empty 401.
        return Some(StatusCode::UNAUTHORIZED.into_response());
    }
    let basic = value(header::AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if basic.as_deref() != Some(&format!("{USERNAME}:{PASSWORD}")) {
        let mut refused = json_error(
            StatusCode::UNAUTHORIZED,
            &json!({ "message": "Authorization has been denied for this request." }),
        );
        refused.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        return Some(refused);
    }
    match value(header::ACCEPT.as_str()) {
        Some(accept) if !accept.contains("json") && !accept.contains("*/*") => {
            Some(json_error(StatusCode::NOT_ACCEPTABLE, &json!({ "message": "Only application/json is served." })))
        }
        _ => None,
    }
}

/// `page` (from 1, default 1) and `per_Page` (1 to 10,000, default 10,000); names match in any
/// case. `None` when either is out of range.
fn paging(query: Option<&str>) -> Option<(usize, usize)> {
    let (mut page, mut per_page) = (1, MAX_PER_PAGE);
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = if name.eq_ignore_ascii_case("page") {
            &mut page
        } else if name.eq_ignore_ascii_case("per_page") {
            &mut per_page
        } else {
            continue;
        };
        *slot = value.parse().unwrap_or(0);
    }
    (page > 0 && (1..=MAX_PER_PAGE).contains(&per_page)).then_some((page, per_page))
}

/// The answer to one request, and how long to hold it back.
fn answer(
    state: &Shared,
    endpoint: Endpoint,
    headers: &HeaderMap,
    query: Option<&str>,
) -> (Response, Option<Duration>) {
    let mut state = lock(state);
    let link_headers = state.link_headers;
    let wrong_credentials = state.wrong_credentials;
    let base_url = state.base_url.clone();
    let ep = state.endpoint(endpoint);
    ep.requests += 1;
    if let Some(fault) = ep.faults.front_mut() {
        let (status, retry_after) = (fault.status, fault.retry_after);
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            ep.faults.pop_front();
        }
        ep.faults_served += 1;
        return (error(status, retry_after), None);
    }
    if let Some(refusal) = refuse(headers, wrong_credentials) {
        return (refusal, None);
    }
    if ep.revoked {
        return (forbidden(), None);
    }
    let Some((page, per_page)) = paging(query) else {
        let problem = format!("page must be 1 or more and per_Page between 1 and {MAX_PER_PAGE}");
        let body = json!({ "title": "Bad Request", "errors": { "paging": [problem] } });
        return (json_error(StatusCode::BAD_REQUEST, &body), None);
    };
    let fault = u32::try_from(page).ok().and_then(|p| ep.page_faults.take(p));
    let empty = ep.empty_first_page && page == 1;
    if fault.is_some() || empty || (ep.repeat && page > 1) {
        ep.faults_served += 1;
    }
    let delay = match fault {
        Some(PageFault::Status { status, retry_after }) => return (error(status, retry_after), None),
        Some(PageFault::Delay(delay)) => Some(delay),
        _ => None,
    };
    // The page whose rows this request gets: page 1 again when repeating, one page back after an
    // injected empty first page.
    let served = if ep.repeat {
        1
    } else if ep.empty_first_page {
        page.saturating_sub(1)
    } else {
        page
    };
    let (start, end) = if empty {
        (0, 0)
    } else {
        let start = (served - 1).saturating_mul(per_page).min(ep.rows.len());
        (start, start.saturating_add(per_page).min(ep.rows.len()))
    };
    let body = serde_json::to_string(&ep.rows[start..end]).unwrap_or_else(|_| "[]".into());
    let (body, content_type) = match fault {
        Some(PageFault::Truncated) => (faults::truncated(&body), "application/json; charset=utf-8"),
        Some(PageFault::Malformed) => (faults::MALFORMED.to_owned(), "text/html; charset=utf-8"),
        Some(PageFault::Huge(bytes)) => (faults::huge(&body, bytes), "application/json; charset=utf-8"),
        _ => (body, "application/json; charset=utf-8"),
    };
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], Body::from(body)).into_response();
    if link_headers {
        let has_next = ep.repeat || (if empty { !ep.rows.is_empty() } else { end < ep.rows.len() });
        let last = ep.rows.len().div_ceil(per_page).max(1) + usize::from(ep.empty_first_page);
        let url = |n: usize| format!("<{base_url}{}?page={n}&per_Page={per_page}>", endpoint.path());
        let mut links = vec![format!("{}; rel=\"first\"", url(1)), format!("{}; rel=\"last\"", url(last))];
        if has_next {
            links.insert(0, format!("{}; rel=\"next\"", url(page + 1)));
        }
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    (response, delay)
}
