//! HTTP calls to UKG Pro's REST personnel API: authentication, paging and error mapping.
//!
//! Every request carries `Authorization: Basic base64(username:password)`,
//! `US-Customer-Api-Key` and `Accept: application/json`; there is no token to fetch. The User API
//! key belongs to UKG's SOAP login service and is never sent.

use reqwest::header::{ACCEPT, HeaderMap, LINK};
use roster_core::http::{HttpClient, HttpFailure, HttpOptions, HttpResponse, ParseError};
use roster_core::paging::PageGuard;
use roster_core::{ConnectorError, ErrorKind};
use serde::de::DeserializeOwned;

use crate::credentials::Settings;

/// Where UKG's Web Service permissions are granted, for messages.
pub(crate) const GRANT_WHERE: &str = "System Configuration > Security > Service Account Administration";

/// The message for refused credentials.
pub(crate) const REFUSED: &str =
    "ukg refused the credentials: check Account User Name, Account Password and Customer API key";

/// The endpoints the sync reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/personnel/v1/person-details`: names and email addresses.
    PersonDetails,
    /// `/personnel/v1/employment-details`: status, job, dates, supervisor, org levels.
    EmploymentDetails,
}

impl Endpoint {
    /// Both endpoints, in the order a check probes them.
    pub const ALL: [Self; 2] = [Self::PersonDetails, Self::EmploymentDetails];

    /// The path below the API host.
    pub fn path(self) -> &'static str {
        match self {
            Self::PersonDetails => "/personnel/v1/person-details",
            Self::EmploymentDetails => "/personnel/v1/employment-details",
        }
    }

    /// The short name used in messages (`person-details`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PersonDetails => "person-details",
            Self::EmploymentDetails => "employment-details",
        }
    }

    /// The Web Service permission (View) the service account needs for this endpoint.
    pub fn permission(self) -> &'static str {
        match self {
            Self::PersonDetails => "Employee Person Details",
            Self::EmploymentDetails => "Personnel Integration",
        }
    }

    /// What a check probe of this endpoint requires, in UKG's words.
    pub fn requires(self) -> String {
        format!("Web Service permission \"{}\" (View)", self.permission())
    }

    /// What to tell the admin to grant when this endpoint refuses us.
    pub(crate) fn grant(self) -> String {
        format!("grant the service account the {} in {GRANT_WHERE}", self.requires())
    }

    /// `parse_error` for this endpoint (a 403 names the endpoint's own permission).
    fn parse_error(self) -> ParseError {
        match self {
            Self::PersonDetails => |f| parse_error(Endpoint::PersonDetails, f),
            Self::EmploymentDetails => |f| parse_error(Endpoint::EmploymentDetails, f),
        }
    }
}

/// Maps an error answer of `endpoint` to an error an admin can act on.
pub(crate) fn parse_error(endpoint: Endpoint, failure: &HttpFailure) -> ConnectorError {
    let status = failure.status.as_u16();
    let said = vendor_text(failure).map(|t| format!(" (ukg said: {t})")).unwrap_or_default();
    let (kind, message) = match status {
        401 => (ErrorKind::Unauthenticated, format!("{REFUSED}{said}")),
        403 => (
            ErrorKind::PermissionDenied,
            format!(
                "ukg denied access to {}: {}; ukg answers 403 to wrong credentials too on some tenants{said}",
                endpoint.name(),
                endpoint.grant()
            ),
        ),
        404 => (
            ErrorKind::NotFound,
            format!(
                "ukg has no {} at this host: check the API Host URL (System Configuration > Security > Web Services){said}",
                endpoint.path()
            ),
        ),
        429 => (ErrorKind::RateLimited, format!("ukg's rate limit was reached and retries did not get through{said}")),
        500..=599 => (ErrorKind::Unavailable, format!("ukg failed with HTTP {}{said}", failure.status)),
        _ => return failure.default_error(),
    };
    ConnectorError::new(kind, message).with_status(status)
}

/// UKG's explanation from an error body (`title`, `detail`, `message`, `errors`), if it gave one.
fn vendor_text(failure: &HttpFailure) -> Option<String> {
    let text = failure.vendor_message();
    if text.is_some() {
        return text;
    }
    // `errors` as a list of strings, or as ASP.NET's `{ "field": ["message"] }`.
    let json: serde_json::Value = serde_json::from_str(failure.body.trim()).ok()?;
    let errors = json.get("errors")?;
    let first = match errors {
        serde_json::Value::Array(items) => items.first(),
        serde_json::Value::Object(fields) => fields.values().next(),
        _ => None,
    }?;
    let first = first.as_array().and_then(|a| a.first()).unwrap_or(first);
    first.as_str().filter(|s| !s.is_empty()).map(|s| s.chars().take(300).collect())
}

/// A UKG Pro REST client for one connection.
pub struct UkgClient {
    http: HttpClient,
    settings: Settings,
}

impl std::fmt::Debug for UkgClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: `HttpClient`'s own `Debug` lists the values it redacts, i.e. the secrets.
        f.debug_struct("UkgClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl UkgClient {
    /// A client with these settings; every secret is scrubbed from error texts.
    pub fn new(settings: Settings, options: HttpOptions) -> Result<Self, ConnectorError> {
        let http = HttpClient::new(options)?.redacting([&settings.password, &settings.customer_api_key]);
        Ok(Self { http, settings })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.http.requests()
    }

    /// Fetches one page of `endpoint`: its rows and whether it says it is the last.
    pub async fn page<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        page: u32,
        per_page: u32,
    ) -> Result<Page<T>, ConnectorError> {
        let response = self.fetch(endpoint, page, per_page).await?;
        let rows: Vec<T> = parse_rows(endpoint, page, &response.body)?;
        Ok(Page { last: is_last(link_next(&response.headers), rows.len(), per_page), rows })
    }

    /// Requests one page of `endpoint` and returns the answer unparsed.
    async fn fetch(&self, endpoint: Endpoint, page: u32, per_page: u32) -> Result<HttpResponse, ConnectorError> {
        let url = format!("{}{}", self.settings.base_url, endpoint.path());
        let what = format!("{} page {page}", endpoint.name());
        self.http
            .send(
                &what,
                || {
                    self.http
                        .client()
                        .get(&url)
                        .query(&[("page", page), ("per_Page", per_page)])
                        .basic_auth(&self.settings.username, Some(self.settings.password.expose()))
                        .header("US-Customer-Api-Key", self.settings.customer_api_key.expose())
                        .header(ACCEPT, "application/json")
                },
                endpoint.parse_error(),
            )
            .await
    }

    /// Pages through `endpoint`, `settings.page_size` rows at a time.
    pub fn pages<T: DeserializeOwned>(&self, endpoint: Endpoint) -> Pages<'_, T> {
        Pages {
            client: self,
            endpoint,
            guard: PageGuard::new(endpoint.name(), self.http.options().max_pages),
            done: false,
            empty_before: false,
            prefetched: None,
            _rows: std::marker::PhantomData,
        }
    }
}

/// The rows of a page's body.
fn parse_rows<T: DeserializeOwned>(endpoint: Endpoint, page: u32, body: &[u8]) -> Result<Vec<T>, ConnectorError> {
    roster_core::paging::parse_page(body, &format!("{} page {page}", endpoint.name()), "a JSON array of rows")
}

/// Whether a page of `rows` rows ends the listing, given what its `Link` headers say
/// ([`link_next`]).
fn is_last(link_next: Option<bool>, rows: usize, per_page: u32) -> bool {
    match link_next {
        // A `Link` header says itself whether a next page exists: an empty or short page that
        // names one is not the end (a page left empty, a tenant that serves fewer rows than
        // asked), and stopping there would pass a partial listing off as complete.
        Some(next) => !next,
        None => rows == 0 || rows < usize::try_from(per_page).unwrap_or(usize::MAX),
    }
}

/// Whether a body is an empty JSON array (`[]`, whatever the whitespace), without parsing it.
fn is_empty_array(body: &[u8]) -> bool {
    let mut bytes = body.iter().filter(|b| !b.is_ascii_whitespace());
    bytes.next() == Some(&b'[') && bytes.next() == Some(&b']') && bytes.next().is_none()
}

/// One page of rows.
#[derive(Debug)]
pub struct Page<T> {
    /// The rows, in the order UKG sent them.
    pub rows: Vec<T>,
    /// Whether this page ends the listing.
    pub last: bool,
}

/// A listing of one endpoint, page after page, bounded and checked for repeats.
///
/// While a page is parsed and processed (on a blocking thread), the next one is already being
/// fetched when the page's `Link` header names one: against the sandbox, a 10,000-row
/// employment page took about as long to fetch as to parse and add (40 ms each), a person page
/// less to fetch (13-18 ms) than to parse and map (about 40 ms). One page ahead at most, and only
/// a page UKG said exists, so the requests are the ones a listing without it sends. The same
/// holds across listings: the person-details listing's first page is fetched while the last
/// employment page is parsed and added (18-27 ms at 10,000 rows), once that page's `Link`
/// headers have said it is the last.
#[derive(Debug)]
pub struct Pages<'a, T> {
    client: &'a UkgClient,
    endpoint: Endpoint,
    guard: PageGuard,
    done: bool,
    /// The page before was empty (and named a next page).
    empty_before: bool,
    /// The next page's number and answer, fetched while the page before (of this listing or, for
    /// the first, of the one before it) was parsed.
    prefetched: Option<Result<(u32, HttpResponse), ConnectorError>>,
    _rows: std::marker::PhantomData<fn() -> T>,
}

/// A page parsed and processed: how many rows it had, and what processing them gave (`None` for
/// an empty page, which is not processed).
type Processed<R> = (usize, Option<R>);

impl<T: DeserializeOwned + Send + 'static> Pages<'_, T> {
    /// The next non-empty page's number and what `process` made of its rows, or `None` once the
    /// listing is complete. `process` runs where the page is parsed, on a blocking thread while
    /// the next page is fetched (the last page is parsed and processed in place, unless
    /// [`Pages::next_with_beside`] has a fetch to run beside it).
    ///
    /// A response with `Link` headers says itself whether there is a next page (`rel="next"`),
    /// whatever its size. A response without them (some tenants never send one) ends the listing
    /// when it is empty or shorter than `per_Page`. An empty page that names a next page is passed
    /// over, but two empty pages in a row end the listing whatever their headers say, so that a
    /// tenant naming a next page on every page cannot loop.
    pub async fn next_with<R, F>(&mut self, process: &F) -> Result<Option<(u32, R)>, ConnectorError>
    where
        F: Fn(Vec<T>) -> R + Clone + Send + 'static,
        R: Send + 'static,
    {
        self.next_with_beside(process, std::future::ready(())).await
    }

    /// [`Pages::next_with`], running `beside` while the listing's last page is parsed and
    /// processed (on a blocking thread then), which otherwise has no fetch beside it: `beside`
    /// is the first fetch of the listing that follows ([`Pages::fetch_first`]). Only a page whose
    /// `Link` headers name no next page is known to be the last before it is parsed; unless this
    /// call returns such a page, `beside` is dropped unpolled.
    pub async fn next_with_beside<R, F, B>(
        &mut self,
        process: &F,
        beside: B,
    ) -> Result<Option<(u32, R)>, ConnectorError>
    where
        F: Fn(Vec<T>) -> R + Clone + Send + 'static,
        R: Send + 'static,
        B: Future<Output = ()>,
    {
        let per_page = self.client.settings.page_size;
        let mut beside = Some(beside);
        loop {
            if self.done {
                return Ok(None);
            }
            let (number, response) = if let Some(prefetched) = self.prefetched.take() {
                prefetched?
            } else {
                let number = self.guard.next_page()?;
                (number, self.client.fetch(self.endpoint, number, per_page).await?)
            };
            let link = link_next(&response.headers);
            let ahead = link == Some(true) && !is_empty_array(&response.body);
            let ((rows, processed), body) = if ahead {
                // Checked now, before the next page is counted, so that a repeat names this page.
                self.guard.body(&response.body)?;
                self.process_while_fetching_next(number, response, per_page, process.clone()).await?
            } else if let Some(beside) = beside.take().filter(|_| link == Some(false)) {
                let work = parse_aside(self.endpoint, number, response, process.clone());
                let (done, ()) = tokio::join!(work, beside);
                let (processed, body) = finished(done)?;
                (processed?, body)
            } else {
                (parse_and_process(self.endpoint, number, &response.body, process)?, response.body)
            };
            self.done = is_last(link, rows, per_page);
            let Some(processed) = processed else {
                self.done |= self.empty_before;
                self.empty_before = true;
                continue;
            };
            self.empty_before = false;
            if !ahead {
                self.guard.body(&body)?;
            }
            return Ok(Some((number, processed)));
        }
    }

    /// Parses and processes page `number` on a blocking thread while the next page is fetched,
    /// and keeps the next page's answer (or why there is none) for the next call.
    async fn process_while_fetching_next<R, F>(
        &mut self,
        number: u32,
        response: HttpResponse,
        per_page: u32,
        process: F,
    ) -> Result<(Processed<R>, Vec<u8>), ConnectorError>
    where
        F: Fn(Vec<T>) -> R + Send + 'static,
        R: Send + 'static,
    {
        let endpoint = self.endpoint;
        let work = parse_aside(endpoint, number, response, process);
        let client = self.client;
        let next = self.guard.next_page();
        let fetch = async move {
            let next = next?;
            Ok((next, client.fetch(endpoint, next, per_page).await?))
        };
        let (done, prefetched) = tokio::join!(work, fetch);
        self.prefetched = Some(prefetched);
        let (processed, body) = finished(done)?;
        Ok((processed?, body))
    }

    /// Fetches this listing's first page now, unless it has begun: the previous listing's last
    /// page is then parsed while this one's first is fetched ([`Pages::next_with_beside`]). The
    /// answer, or why there is none, is kept for the first [`Pages::next_with`].
    pub async fn fetch_first(&mut self) {
        if self.guard.pages() > 0 {
            return;
        }
        let per_page = self.client.settings.page_size;
        let fetched = match self.guard.next_page() {
            Ok(number) => self.client.fetch(self.endpoint, number, per_page).await.map(|response| (number, response)),
            Err(e) => Err(e),
        };
        self.prefetched = Some(fetched);
    }
}

/// What [`parse_aside`]'s task gives back: the page processed, and its body (for the page guard).
type Parsed<R> = (Result<Processed<R>, ConnectorError>, Vec<u8>);

/// Parses and processes page `number` on a blocking thread ([`parse_and_process`]).
fn parse_aside<T, R, F>(
    endpoint: Endpoint,
    number: u32,
    response: HttpResponse,
    process: F,
) -> tokio::task::JoinHandle<Parsed<R>>
where
    T: DeserializeOwned,
    F: Fn(Vec<T>) -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let processed = parse_and_process(endpoint, number, &response.body, &process);
        (processed, response.body)
    })
}

/// What a page's blocking task returned; its panic goes on as this task's own.
fn finished<T>(done: Result<T, tokio::task::JoinError>) -> Result<T, ConnectorError> {
    match done {
        Ok(done) => Ok(done),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ConnectorError::new(ErrorKind::Cancelled, "the listing was cancelled")),
    }
}

/// Parses a page and, unless it is empty, processes its rows.
fn parse_and_process<T: DeserializeOwned, R>(
    endpoint: Endpoint,
    number: u32,
    body: &[u8],
    process: &impl Fn(Vec<T>) -> R,
) -> Result<Processed<R>, ConnectorError> {
    let rows: Vec<T> = parse_rows(endpoint, number, body)?;
    let count = rows.len();
    Ok((count, (count > 0).then(|| process(rows))))
}

/// What the `Link` headers say about a next page: `None` when there is no `Link` header,
/// `Some(true)` when one has `rel="next"`, `Some(false)` when they have none.
pub(crate) fn link_next(headers: &HeaderMap) -> Option<bool> {
    let mut seen = false;
    for value in headers.get_all(LINK) {
        seen = true;
        let Ok(value) = value.to_str() else { continue };
        if split_links(value).any(|link| link_rels(link).any(|rel| rel.eq_ignore_ascii_case("next"))) {
            return Some(true);
        }
    }
    seen.then_some(false)
}

/// Splits `<a>; rel="x", <b>; rel="y"` at the commas outside `<...>` and quotes.
fn split_links(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut in_url, mut in_quote) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '<' if !in_quote => in_url = true,
            '>' if !in_quote => in_url = false,
            '"' if !in_url => in_quote = !in_quote,
            ',' if !in_url && !in_quote => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter()
}

/// The relation types of one link-value (`rel` may list several, space-separated).
fn link_rels(link: &str) -> impl Iterator<Item = &str> {
    let params = link.rsplit_once('>').map_or("", |(_, p)| p);
    params
        .split(';')
        .filter_map(|p| p.split_once('='))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("rel"))
        .flat_map(|(_, v)| v.trim().trim_matches('"').split_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn links(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(LINK, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn empty_pages_are_known_without_parsing() {
        assert!(is_empty_array(b"[]"));
        assert!(is_empty_array(b" [ \r\n ] \n"));
        assert!(!is_empty_array(b"[{}]"));
        assert!(!is_empty_array(b"[] []"));
        assert!(!is_empty_array(b"{}"));
        assert!(!is_empty_array(b""));
    }

    #[test]
    fn a_page_ends_the_listing_as_its_links_or_its_size_say() {
        assert!(!is_last(Some(true), 0, 10), "an empty page that names a next one");
        assert!(is_last(Some(false), 10, 10), "a full page that names none");
        assert!(is_last(None, 9, 10), "a short page without links");
        assert!(is_last(None, 0, 10));
        assert!(!is_last(None, 10, 10), "a full page without links");
    }

    #[test]
    fn link_headers_say_next_or_not_or_nothing() {
        assert_eq!(link_next(&HeaderMap::new()), None, "no Link header is no signal");
        let next = r#"<https://h/personnel/v1/person-details?page=2&per_Page=10>; rel="next""#;
        assert_eq!(link_next(&links(&[next])), Some(true));
        assert_eq!(
            link_next(&links(&[r#"<https://h/x?page=1>; rel="first", <https://h/x?a=1,2>; rel=next"#])),
            Some(true)
        );
        assert_eq!(link_next(&links(&[r#"<https://h/x?page=1>; rel="prev last""#])), Some(false));
        assert_eq!(link_next(&links(&[r#"<https://h/x?rel=next>; rel="first""#])), Some(false), "the URL is not a rel");
        assert_eq!(link_next(&links(&[r#"<https://h/x>; rel="first""#, r#"<https://h/y>; REL="Next""#])), Some(true));
    }

    #[test]
    fn debug_shows_no_secret() {
        let settings = Settings {
            base_url: "https://service4.ultipro.com".into(),
            username: "svc".into(),
            password: roster_core::Secret::new("pass-word-123"),
            customer_api_key: roster_core::Secret::new("AB12C"),
            page_size: 10,
            department_org_level: 1,
        };
        let text = format!("{:?}", UkgClient::new(settings, HttpOptions::fast()).unwrap());
        assert!(text.contains("svc") && !text.contains("pass-word-123") && !text.contains("AB12C"), "{text}");
    }

    fn failure(status: u16, body: &str) -> HttpFailure {
        HttpFailure { status: StatusCode::from_u16(status).unwrap(), headers: HeaderMap::new(), body: body.into() }
    }

    #[test]
    fn errors_name_what_to_fix() {
        let e = parse_error(Endpoint::PersonDetails, &failure(401, ""));
        assert_eq!((e.kind(), e.message()), (ErrorKind::Unauthenticated, REFUSED));
        let e = parse_error(Endpoint::EmploymentDetails, &failure(403, r#"{"title":"Forbidden"}"#));
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.message().contains(r#""Personnel Integration" (View)"#), "{e}");
        assert!(e.message().contains("Service Account Administration") && e.message().contains("Forbidden"), "{e}");
        let e = parse_error(Endpoint::PersonDetails, &failure(403, ""));
        assert!(e.message().contains(r#""Employee Person Details" (View)"#), "{e}");
        let e = parse_error(Endpoint::PersonDetails, &failure(404, ""));
        assert!(e.kind() == ErrorKind::NotFound && e.message().contains("API Host URL"), "{e}");
        let e = parse_error(Endpoint::PersonDetails, &failure(429, ""));
        assert!(e.kind() == ErrorKind::RateLimited && e.is_retryable());
        let e = parse_error(Endpoint::PersonDetails, &failure(503, r#"{"errors":["down for maintenance"]}"#));
        assert!(e.kind() == ErrorKind::Unavailable && e.is_retryable() && e.message().contains("maintenance"), "{e}");
        let e = parse_error(Endpoint::PersonDetails, &failure(400, r#"{"errors":{"per_Page":["too large"]}}"#));
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert_eq!(vendor_text(&failure(400, r#"{"errors":{"per_Page":["too large"]}}"#)).unwrap(), "too large");
    }
}
