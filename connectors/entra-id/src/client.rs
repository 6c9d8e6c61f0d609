//! Microsoft Graph calls: the users listing, the connection check, and `parse_error`.

use std::fmt;

use async_trait::async_trait;
use chrono::NaiveDate;
use reqwest::Url;
use roster_core::http::{HttpClient, HttpFailure, HttpResponse};
use roster_core::paging::{self, PageGuard};
use roster_core::{
    CheckReport, ConnectContext, Connector, ConnectorError, CredentialsError, ErrorKind, ListSummary, PageSink, Probe,
};

use crate::auth::TokenCache;
use crate::credentials::Settings;
use crate::mapping::map_user;
use crate::models::{GraphErrorBody, USER_SELECT, UsersPage};

/// What the users permission probe and the 403 message ask the admin to grant.
const USERS_PERMISSION: &str = "Microsoft Graph application permission User.Read.All, with admin consent";

/// A connection to one Entra tenant.
pub struct EntraIdConnector {
    settings: Settings,
    http: HttpClient,
    token: TokenCache,
    today: NaiveDate,
}

// By hand: the HTTP client's Debug would show the secrets it scrubs from error texts.
impl fmt::Debug for EntraIdConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraIdConnector")
            .field("tenant_id", &self.settings.tenant_id)
            .field("client_id", &self.settings.client_id)
            .field("authority_host", &self.settings.authority_host)
            .field("graph_base_url", &self.settings.graph_base_url)
            .finish_non_exhaustive()
    }
}

impl EntraIdConnector {
    /// A connection with checked settings.
    pub(crate) fn new(settings: Settings, ctx: &ConnectContext) -> Result<Self, CredentialsError> {
        let http = HttpClient::new(ctx.http.clone())
            .map_err(|e| CredentialsError::at("", e.to_string()))?
            .redacting([&settings.client_secret]);
        Ok(Self { settings, http, token: TokenCache::default(), today: ctx.today })
    }

    /// The first page of the listing; later pages come from `@odata.nextLink`.
    fn users_url(&self) -> String {
        format!("{}/v1.0/users?$select={USER_SELECT}&$top=999", self.settings.graph_base_url)
    }

    /// GETs `url` with the access token. A 401 means the token died (expired early, or was
    /// revoked): renew it once and retry; a second 401 is the answer.
    async fn get(&self, what: &str, url: &str) -> Result<HttpResponse, ConnectorError> {
        self.token
            .authorized(
                what,
                || crate::auth::request_token(&self.settings, &self.http),
                |token| async move { self.get_with(what, url, token.expose()).await },
            )
            .await
    }

    async fn get_with(&self, what: &str, url: &str, token: &str) -> Result<HttpResponse, ConnectorError> {
        // Headers are built for every request: Graph's next links carry none over.
        self.http
            .send(
                what,
                || self.http.client().get(url).bearer_auth(token).header(reqwest::header::ACCEPT, "application/json"),
                parse_error,
            )
            .await
    }

    /// Reads one user id: proves `User.Read.All` is granted and consented.
    async fn probe_users(&self) -> Result<String, ConnectorError> {
        let what = "GET /v1.0/users";
        let url = format!("{}/v1.0/users?$top=1&$select=id", self.settings.graph_base_url);
        let response = self.get(what, &url).await?;
        match serde_json::from_slice::<UsersPage>(&response.body) {
            Ok(UsersPage { value: Some(_), .. }) => Ok("can read users".to_owned()),
            Ok(_) => Err(ConnectorError::new(ErrorKind::InvalidResponse, format!("{what}: the page has no `value`"))),
            Err(e) => Err(not_a_page(what, &e)),
        }
    }

    /// Checks that a next link points at the Graph host we were configured with: the access
    /// token goes wherever it points.
    fn check_next_link(&self, link: &str) -> Result<(), ConnectorError> {
        let invalid = |why: String| ConnectorError::new(ErrorKind::InvalidResponse, why);
        let url = Url::parse(link).map_err(|e| invalid(format!("the @odata.nextLink is not an absolute URL: {e}")))?;
        let base = Url::parse(&self.settings.graph_base_url)
            .map_err(|e| invalid(format!("graph_base_url does not parse: {e}")))?;
        if url.origin() != base.origin() {
            return Err(invalid(format!(
                "the @odata.nextLink points at {} instead of {}; refusing to send the access token there",
                url.origin().ascii_serialization(),
                base.origin().ascii_serialization()
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for EntraIdConnector {
    async fn check(&self) -> CheckReport {
        let token = self.token.get(|| crate::auth::request_token(&self.settings, &self.http)).await;
        let users = match &token {
            Ok(_) => self.probe_users().await,
            Err(e) => Err(ConnectorError::new(e.kind(), "not probed: there is no access token (see the token probe)")),
        };
        let token = token.map(|_| {
            format!("application {} signed in to tenant {}", self.settings.client_id, self.settings.tenant_id)
        });
        CheckReport {
            probes: vec![
                Probe {
                    name: "token".into(),
                    requires: "tenant_id, client_id and client_secret of an app registration".into(),
                    result: token,
                },
                Probe { name: "users".into(), requires: USERS_PERMISSION.into(), result: users },
            ],
        }
    }

    async fn list_users(&self, sink: &mut PageSink) -> Result<ListSummary, ConnectorError> {
        let requests_before = self.http.requests();
        let mut guard = PageGuard::new("listing entra id users", self.http.options().max_pages);
        let mut users = 0u64;
        let mut next = Some(self.users_url());
        while let Some(url) = next.take() {
            guard.cursor(&url)?;
            let page_no = guard.next_page()?;
            let what = format!("GET /v1.0/users page {page_no}");
            let response = self.get(&what, &url).await?;
            guard.body(&response.body)?;
            let page: UsersPage = paging::parse_page(&response.body, &what, "a page of users")?;
            let Some(value) = page.value else {
                return Err(ConnectorError::new(
                    ErrorKind::InvalidResponse,
                    format!("{what}: the page has no `value`"),
                ));
            };
            let mapped = value
                .iter()
                .map(|u| map_user(u, self.today).map_err(|e| e.context(&what)))
                .collect::<Result<Vec<_>, _>>()?;
            users += mapped.len() as u64;
            sink.send(mapped).await?;
            if let Some(link) = page.next_link.filter(|l| !l.is_empty()) {
                self.check_next_link(&link).map_err(|e| e.context(&what))?;
                next = Some(link);
            }
        }
        tracing::debug!(users, pages = guard.pages(), "listed entra id users");
        Ok(ListSummary { users, requests: self.http.requests() - requests_before })
    }
}

/// Why a body is not a page of users: [`paging::not_a_page`].
fn not_a_page(what: &str, e: &serde_json::Error) -> ConnectorError {
    paging::not_a_page(what, "a page of users", e)
}

/// Turns a Microsoft Graph error answer into an error. Branches on the status and on
/// `error.code`, never on `error.message` (which Microsoft rewords).
pub(crate) fn parse_error(f: &HttpFailure) -> ConnectorError {
    let body: GraphErrorBody = serde_json::from_str(&f.body).unwrap_or_default();
    let error = body.error.unwrap_or_default();
    let code = error.code.as_deref().unwrap_or_default();
    let said = error.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
    let status = f.status.as_u16();
    let (kind, message) = match (status, code) {
        // Throttled or briefly down: retryable by kind, and the HTTP layer honours Retry-After.
        (429, _) => (ErrorKind::RateLimited, format!("microsoft graph is throttling this application ({code}){said}")),
        (503, _) => (ErrorKind::Unavailable, format!("microsoft graph is unavailable ({code}){said}")),
        (_, "Authorization_RequestDenied") => (
            ErrorKind::PermissionDenied,
            format!(
                "microsoft graph denied access (Authorization_RequestDenied): grant the application permission \
                 User.Read.All with admin consent (Entra admin center > App registrations > your app > API \
                 permissions > Add a permission > Microsoft Graph > Application permissions, then Grant admin \
                 consent){said}"
            ),
        ),
        (_, "InvalidAuthenticationToken") | (401, _) => (
            ErrorKind::Unauthenticated,
            format!(
                "microsoft graph refused the access token ({code}){said}; check that authority_host and \
                 graph_base_url belong to the same cloud"
            ),
        ),
        (_, "Request_UnsupportedQuery") => (
            ErrorKind::Rejected,
            format!("microsoft graph does not support the query (Request_UnsupportedQuery){said}"),
        ),
        _ if code.is_empty() => return f.default_error(),
        _ => (f.default_kind(), format!("microsoft graph answered HTTP {} ({code}){said}", f.status)),
    };
    ConnectorError::new(kind, message).with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn graph_error(status: u16, code: &str) -> ConnectorError {
        let body = format!(r#"{{"error":{{"code":"{code}","message":"Some words.","innerError":{{"date":"x"}}}}}}"#);
        parse_error(&HttpFailure { status: StatusCode::from_u16(status).unwrap(), headers: HeaderMap::new(), body })
    }

    #[test]
    fn branches_on_the_code() {
        let denied = graph_error(403, "Authorization_RequestDenied");
        assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
        assert!(denied.message().contains("User.Read.All with admin consent"), "{denied}");
        assert!(denied.message().contains("App registrations"), "{denied}");
        assert_eq!(graph_error(401, "InvalidAuthenticationToken").kind(), ErrorKind::Unauthenticated);
        assert_eq!(graph_error(400, "Request_UnsupportedQuery").kind(), ErrorKind::Rejected);
        assert_eq!(graph_error(404, "Request_ResourceNotFound").kind(), ErrorKind::NotFound);
        assert_eq!(graph_error(403, "SomethingElse").kind(), ErrorKind::PermissionDenied);
        let unknown = graph_error(400, "Request_BadRequest");
        assert_eq!(
            unknown.message(),
            "microsoft graph answered HTTP 400 Bad Request (Request_BadRequest): Some words."
        );
    }

    #[test]
    fn a_body_that_is_not_a_page_is_named_but_never_quoted() {
        let error = |body: &str| not_a_page("GET", &serde_json::from_str::<UsersPage>(body).unwrap_err()).to_string();
        assert_eq!(
            error(r#"{"value":[{"id":"a"#),
            "GET: the answer is not a page of users (truncated JSON: the answer ends early at line 1 column 18)"
        );
        assert_eq!(error("<html>"), "GET: the answer is not a page of users (invalid JSON at line 1 column 1)");
        let shape = error(r#"{"value":"Ada Lovelace"}"#);
        assert!(
            shape.contains("(JSON of an unexpected shape at line 1 column 23)") && !shape.contains("Ada"),
            "{shape}"
        );
    }

    #[test]
    fn throttling_and_outages_are_retryable() {
        for (status, kind) in
            [(429, ErrorKind::RateLimited), (503, ErrorKind::Unavailable), (500, ErrorKind::Unavailable)]
        {
            let e = graph_error(status, "TooManyRequests");
            assert_eq!(e.kind(), kind);
            assert!(e.is_retryable(), "{status}");
        }
        assert!(!graph_error(403, "Authorization_RequestDenied").is_retryable());
    }
}
