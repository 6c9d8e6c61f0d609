//! Directory API calls: the users listing, the connection check, and `parse_error`.

use std::fmt;

use async_trait::async_trait;
use roster_core::http::{HttpClient, HttpFailure, HttpResponse, ParseError};
use roster_core::paging::{self, PageGuard};
use roster_core::{
    CheckReport, ConnectContext, Connector, ConnectorError, CredentialsError, ErrorKind, ListSummary, PageSink, Probe,
};

use crate::auth::{DELEGATION_PATH, TokenCache};
use crate::credentials::{Listing, Settings};
use crate::key::SCOPE;
use crate::mapping::map_user;
use crate::models::{ErrorBody, UsersPage};

/// The users listing's path below the API base URL.
const USERS_PATH: &str = "/admin/directory/v1/users";
/// Google's largest page of users.
const PAGE_SIZE: &str = "500";
/// Where admin privileges are given, for messages.
const ADMIN_ROLES_PATH: &str = "Admin console > Account > Admin roles";

/// A connection to one Google Workspace account.
pub struct GoogleWorkspaceConnector {
    settings: Settings,
    http: HttpClient,
    token: TokenCache,
}

// By hand: the HTTP client's Debug is safe, but spelling out the fields keeps the key out even if
// a field is added later.
impl fmt::Debug for GoogleWorkspaceConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleWorkspaceConnector")
            .field("client_email", &self.settings.account.client_email)
            .field("admin_email", &self.settings.admin_email)
            .field("listing", &self.settings.listing)
            .field("api_base_url", &self.settings.api_base_url)
            .finish_non_exhaustive()
    }
}

impl GoogleWorkspaceConnector {
    /// A connection with checked settings.
    pub(crate) fn new(settings: Settings, ctx: &ConnectContext) -> Result<Self, CredentialsError> {
        let http = HttpClient::new(ctx.http.clone())
            .map_err(|e| CredentialsError::at("", e.to_string()))?
            .redacting([settings.account.private_key_pem()]);
        Ok(Self { settings, http, token: TokenCache::default() })
    }

    /// GETs one page of users. A 401 means the token died (expired early, or was revoked):
    /// renew it once and retry; a second 401 is the answer.
    async fn get_users(
        &self,
        what: &str,
        max_results: &str,
        page_token: Option<&str>,
    ) -> Result<HttpResponse, ConnectorError> {
        self.token
            .authorized(
                what,
                || crate::auth::request_token(&self.settings, &self.http),
                |token| async move { self.get_with(what, max_results, page_token, token.expose()).await },
            )
            .await
    }

    async fn get_with(
        &self,
        what: &str,
        max_results: &str,
        page_token: Option<&str>,
        token: &str,
    ) -> Result<HttpResponse, ConnectorError> {
        let url = format!("{}{USERS_PATH}", self.settings.api_base_url);
        let listing = &self.settings.listing;
        let build = || {
            let mut query = vec![(listing.key(), listing.value()), ("maxResults", max_results), ("projection", "full")];
            if let Some(page_token) = page_token {
                query.push(("pageToken", page_token));
            }
            self.http
                .client()
                .get(&url)
                .query(&query)
                .bearer_auth(token)
                .header(reqwest::header::ACCEPT, "application/json")
        };
        self.http.send(what, build, parse_error_for(listing)).await
    }

    /// Names the call in messages: `GET /admin/directory/v1/users page 2 (customer=my_customer)`.
    fn what(&self, page: u32) -> String {
        let listing = &self.settings.listing;
        format!("GET {USERS_PATH} page {page} ({}={})", listing.key(), listing.value())
    }

    /// Reads one user: proves the admin may read users with this scope.
    async fn probe_users(&self) -> Result<String, ConnectorError> {
        let what = self.what(1);
        let response = self.get_users(&what, "1", None).await?;
        let page: UsersPage = serde_json::from_slice(&response.body).map_err(|e| not_a_page(&what, &e))?;
        let listing = &self.settings.listing;
        Ok(match page.users.unwrap_or_default().len() {
            0 => format!("can list users of {} `{}` (it has none)", listing.key(), listing.value()),
            _ => format!("can list users of {} `{}`", listing.key(), listing.value()),
        })
    }
}

#[async_trait]
impl Connector for GoogleWorkspaceConnector {
    async fn check(&self) -> CheckReport {
        let token = self.token.get(|| crate::auth::request_token(&self.settings, &self.http)).await;
        let users = match &token {
            Ok(_) => self.probe_users().await,
            Err(e) => Err(ConnectorError::new(e.kind(), "not probed: there is no access token (see the token probe)")),
        };
        let token = token.map(|_| {
            format!("{} acts as {} with scope {SCOPE}", self.settings.account.client_email, self.settings.admin_email)
        });
        CheckReport {
            probes: vec![
                Probe {
                    name: "token".into(),
                    requires: format!(
                        "a current service account key, admin_email an existing user, and the service account's \
                         client ID authorised for {SCOPE} in {DELEGATION_PATH}"
                    ),
                    result: token,
                },
                Probe {
                    name: "users.list".into(),
                    requires: format!(
                        "admin_email an admin with the Users > Read privilege ({ADMIN_ROLES_PATH}), and the scope \
                         {SCOPE}"
                    ),
                    result: users,
                },
            ],
        }
    }

    async fn list_users(&self, sink: &mut PageSink) -> Result<ListSummary, ConnectorError> {
        let requests_before = self.http.requests();
        let mut guard = PageGuard::new("listing google workspace users", self.http.options().max_pages);
        let mut users = 0u64;
        let mut page_token: Option<String> = None;
        loop {
            let page_no = guard.next_page()?;
            let what = self.what(page_no);
            let response = self.get_users(&what, PAGE_SIZE, page_token.as_deref()).await?;
            guard.body(&response.body)?;
            let page: UsersPage = paging::parse_page(&response.body, &what, "a page of users")?;
            // `users` is absent on an empty page; that is not an error.
            let mapped = page
                .users
                .iter()
                .flatten()
                .map(|u| map_user(u).map_err(|e| e.context(&what)))
                .collect::<Result<Vec<_>, _>>()?;
            users += mapped.len() as u64;
            sink.send(mapped).await?;
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) => {
                    guard.cursor(&next)?;
                    page_token = Some(next);
                }
                None => break,
            }
        }
        tracing::debug!(users, pages = guard.pages(), "listed google workspace users");
        Ok(ListSummary { users, requests: self.http.requests() - requests_before })
    }
}

/// Why a body is not a page of users: [`paging::not_a_page`].
fn not_a_page(what: &str, e: &serde_json::Error) -> ConnectorError {
    paging::not_a_page(what, "a page of users", e)
}

/// The `parse_error` for a listing by `customer` or by `domain`: a 400 names the key in use.
fn parse_error_for(listing: &Listing) -> ParseError {
    match listing {
        Listing::Customer(_) => |f| parse_error(f, "customer"),
        Listing::Domain(_) => |f| parse_error(f, "domain"),
    }
}

/// Why Google refused with a 403 that is not about quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denied {
    /// The impersonated user is not an admin, or lacks the privilege to read users.
    NotAdmin,
    /// The token does not carry the scope.
    Scope,
    /// The Admin SDK API is off in the service account's Cloud project.
    ApiDisabled,
    /// Nothing tells which.
    Unclear,
}

/// Tells the causes of a 403 apart: by `reason` first, then by the message, which is all there
/// is when `errors` is missing. Domain-wide delegation itself is checked when the token is
/// issued (`unauthorized_client`), so a 403 here with a token in hand is about the admin's
/// privileges unless it names scopes.
fn denied(reason: &str, message: &str) -> Denied {
    let message = message.to_ascii_lowercase();
    match reason {
        "insufficientPermissions" => Denied::Scope,
        "accessNotConfigured" => Denied::ApiDisabled,
        "forbidden" => Denied::NotAdmin,
        _ if message.contains("scope") => Denied::Scope,
        _ if message.contains("has not been used in project") || message.contains("api is disabled") => {
            Denied::ApiDisabled
        }
        _ if message.contains("not authorized to access this resource") => Denied::NotAdmin,
        _ => Denied::Unclear,
    }
}

/// Turns a Directory API error answer into an error; `key` is the credentials key of the
/// listing (`customer` or `domain`).
pub(crate) fn parse_error(f: &HttpFailure, key: &str) -> ConnectorError {
    let error = serde_json::from_str::<ErrorBody>(&f.body).unwrap_or_default().error.unwrap_or_default();
    let reason = error.reason().unwrap_or_default().to_owned();
    let message = error.message.as_deref().map(str::trim).unwrap_or_default();
    let said = match (reason.as_str(), message) {
        ("", "") => String::new(),
        ("", m) => format!(" ({m})"),
        (r, "") => format!(" ({r})"),
        (r, m) => format!(" ({r}: {m})"),
    };
    let status = f.status.as_u16();
    let (kind, text) = match (status, reason.as_str()) {
        (403 | 429, "userRateLimitExceeded" | "rateLimitExceeded" | "quotaExceeded") | (429, _) => {
            (ErrorKind::RateLimited, format!("google is throttling this service account{said}"))
        }
        (_, "dailyLimitExceeded") => {
            let e = ConnectorError::new(
                ErrorKind::RateLimited,
                format!("the project's daily Admin SDK quota is used up{said}; try again tomorrow"),
            );
            return e.set_retryable(false).with_status(status);
        }
        (503, _) => (ErrorKind::Unavailable, format!("the directory api is unavailable{said}")),
        (401, _) => (ErrorKind::Unauthenticated, format!("google refused the access token{said}")),
        (403, _) => (ErrorKind::PermissionDenied, permission_message(denied(&reason, message), &said, key)),
        (400, _) => (ErrorKind::Rejected, format!("google rejected the listing{said}: {}", check_key(key))),
        (404, _) => (ErrorKind::NotFound, format!("google found nothing to list{said}: {}", check_key(key))),
        _ => return f.default_error(),
    };
    ConnectorError::new(kind, text).with_status(status)
}

fn permission_message(denied: Denied, said: &str, key: &str) -> String {
    match denied {
        Denied::NotAdmin => {
            let domain = if key == "domain" { "; and check that `domain` is a domain of this account" } else { "" };
            format!(
                "google denied listing users{said}: admin_email is not an admin allowed to read users (domain-wide \
                 delegation is in place, since the token was issued); make it a super admin, or give it an admin \
                 role with the Users > Read privilege in {ADMIN_ROLES_PATH}{domain}"
            )
        }
        Denied::Scope => format!(
            "google denied listing users{said}: the access token lacks the scope {SCOPE}; authorise that scope for \
             the service account's client ID in {DELEGATION_PATH}"
        ),
        Denied::ApiDisabled => format!(
            "google denied listing users{said}: the Admin SDK API is not enabled in the service account's Google \
             Cloud project; enable it in Google Cloud console > APIs & Services > Library > Admin SDK API"
        ),
        Denied::Unclear => format!(
            "google denied listing users{said}: check that admin_email is an admin with the Users > Read privilege \
             ({ADMIN_ROLES_PATH}), and that the service account's client ID is authorised for {SCOPE} in \
             {DELEGATION_PATH}"
        ),
    }
}

fn check_key(key: &str) -> String {
    if key == "domain" {
        "check `domain`: it must be a domain of the Workspace account (Admin console > Account > Domains)".to_owned()
    } else {
        "check `customer`: `my_customer`, or the customer ID in Admin console > Account > Account settings".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn google_error(status: u16, reason: Option<&str>, message: &str) -> ConnectorError {
        let mut error = serde_json::json!({ "code": status, "message": message });
        if let Some(reason) = reason {
            error["errors"] = serde_json::json!([{ "message": message, "domain": "global", "reason": reason }]);
            error["status"] = "PERMISSION_DENIED".into();
        }
        let body = serde_json::json!({ "error": error }).to_string();
        parse_error(
            &HttpFailure { status: StatusCode::from_u16(status).unwrap(), headers: HeaderMap::new(), body },
            "customer",
        )
    }

    #[test]
    fn forbidden_is_final_and_names_what_to_fix() {
        let not_admin = google_error(403, Some("forbidden"), "Not Authorized to access this resource/api");
        assert_eq!(not_admin.kind(), ErrorKind::PermissionDenied);
        assert!(!not_admin.is_retryable());
        assert!(not_admin.message().contains("admin_email is not an admin"), "{not_admin}");
        let bare = google_error(403, None, "Not Authorized to access this resource/api");
        assert!(bare.message().contains("admin_email is not an admin"), "{bare}");

        let scope =
            google_error(403, Some("insufficientPermissions"), "Request had insufficient authentication scopes.");
        assert!(scope.message().contains("lacks the scope") && scope.message().contains("Domain-wide delegation"));
        assert!(
            google_error(403, None, "Request had insufficient authentication scopes.")
                .message()
                .contains("lacks the scope")
        );

        let off = google_error(
            403,
            Some("accessNotConfigured"),
            "Admin SDK API has not been used in project 1 before or it is disabled.",
        );
        assert!(off.message().contains("enable it"), "{off}");
        let unclear = google_error(403, None, "");
        assert!(unclear.message().contains("admin_email") && unclear.message().contains("client ID"), "{unclear}");
    }

    #[test]
    fn a_body_that_is_not_a_page_is_named_but_never_quoted() {
        let error = |body: &str| not_a_page("GET", &serde_json::from_str::<UsersPage>(body).unwrap_err()).to_string();
        assert_eq!(
            error(r#"{"users":[{"id":"1"#),
            "GET: the answer is not a page of users (truncated JSON: the answer ends early at line 1 column 18)"
        );
        assert_eq!(error("<html>"), "GET: the answer is not a page of users (invalid JSON at line 1 column 1)");
        let shape = error(r#"{"users":"Ada Lovelace"}"#);
        assert!(
            shape.contains("(JSON of an unexpected shape at line 1 column 23)") && !shape.contains("Ada"),
            "{shape}"
        );
    }

    #[test]
    fn throttling_and_outages_are_retryable() {
        for reason in ["userRateLimitExceeded", "quotaExceeded", "rateLimitExceeded"] {
            let e = google_error(403, Some(reason), "Quota exceeded");
            assert_eq!((e.kind(), e.is_retryable()), (ErrorKind::RateLimited, true), "{reason}");
        }
        assert!(google_error(429, Some("rateLimitExceeded"), "").is_retryable());
        assert!(google_error(503, None, "The service is currently unavailable.").is_retryable());
        assert!(google_error(500, None, "Internal error").is_retryable());
        let daily = google_error(403, Some("dailyLimitExceeded"), "");
        assert_eq!((daily.kind(), daily.is_retryable()), (ErrorKind::RateLimited, false));
    }

    #[test]
    fn debug_shows_who_but_never_the_key() {
        let creds = crate::GoogleWorkspaceCredentials {
            service_account_key: roster_core::Secret::new(crate::key::tests::key_json(
                "https://oauth2.googleapis.com/token",
            )),
            admin_email: "admin@acme.example".into(),
            customer: None,
            domain: None,
            api_base_url: crate::credentials::DEFAULT_API_BASE_URL.into(),
        };
        let connector = GoogleWorkspaceConnector::new(creds.into_settings().unwrap(), &ConnectContext::now()).unwrap();
        let debug = format!("{connector:?}");
        assert!(debug.contains("roster@roster-test.iam.gserviceaccount.com") && debug.contains("admin@acme.example"));
        assert!(!debug.contains("PRIVATE KEY") && !debug.contains("MII"), "{debug}");
    }

    #[test]
    fn bad_customer_or_domain_names_the_key() {
        let e = google_error(400, Some("badRequest"), "Bad Request");
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert_eq!(
            e.message(),
            "google rejected the listing (badRequest: Bad Request): check `customer`: `my_customer`, or the customer ID in Admin console > Account > Account settings"
        );
        let f = HttpFailure { status: StatusCode::BAD_REQUEST, headers: HeaderMap::new(), body: String::new() };
        assert!(parse_error(&f, "domain").message().starts_with("google rejected the listing: check `domain`"));
        assert_eq!(google_error(401, Some("authError"), "Invalid Credentials").kind(), ErrorKind::Unauthenticated);
    }
}
