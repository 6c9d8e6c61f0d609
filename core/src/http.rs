//! The one HTTP layer every connector uses.
//!
//! It owns what every vendor needs the same way: timeouts; retries with exponential backoff and
//! jitter on 429, 5xx and connection errors (through `backon`); `Retry-After` honoured; after a
//! 429, requests paced just under the rate the vendor let through ([`crate::pace`]); a bound
//! on body size; HTTPS required except for loopback addresses; and error texts scrubbed of the
//! secrets it was told about. What differs per vendor (how an error body reads, which 403 is
//! worth a retry) is the connector's `parse_error`, passed to [`HttpClient::send`].

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode, Url};

use crate::error::{ConnectorError, ErrorKind};
use crate::pace::Pacer;
use crate::secret::{REDACTED, Secret};

/// Timeouts, retries and limits of a connection's HTTP calls.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// How long to wait for a TCP and TLS connection.
    pub connect_timeout: Duration,
    /// How long one request may take, body included (a 10,000-row page is several megabytes).
    pub request_timeout: Duration,
    /// Retries after the first attempt, for errors that a retry can help.
    pub max_retries: usize,
    /// Retries when the host cannot be reached at all (a name that does not resolve, a refused
    /// connection): few, because that is almost always a wrong URL or a firewall, and an admin
    /// should not wait minutes to hear it.
    pub max_unreachable_retries: usize,
    /// The first backoff delay (UKG advises waiting one second first).
    pub min_backoff: Duration,
    /// The longest backoff delay.
    pub max_backoff: Duration,
    /// The longest `Retry-After` we honour; a longer one fails the request instead of hanging.
    pub max_retry_after: Duration,
    /// The largest response body accepted.
    pub max_body_bytes: usize,
    /// The most pages one listing may take before it is called runaway.
    pub max_pages: u32,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(120),
            max_retries: 6,
            max_unreachable_retries: 2,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
            max_body_bytes: 256 * 1024 * 1024,
            max_pages: 100_000,
        }
    }
}

impl HttpOptions {
    /// Quick retries and short timeouts, for tests against sandboxes.
    pub fn fast() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_retries: 4,
            min_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(2),
            ..Self::default()
        }
    }
}

/// A response with a success status and its whole body.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status (2xx).
    pub status: StatusCode,
    /// The headers (`Link`, for paging).
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// A response with an error status, handed to the connector's `parse_error`.
#[derive(Debug)]
pub struct HttpFailure {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The start of the body as text, secrets scrubbed.
    pub body: String,
}

impl HttpFailure {
    /// The vendor's own explanation, from the usual JSON error fields (`error.message`,
    /// `error_description`, `detail`, `message`, `title`, `errors[0].message`), or the start of
    /// the body when it is not JSON.
    pub fn vendor_message(&self) -> Option<String> {
        let text = self.body.trim();
        if text.is_empty() {
            return None;
        }
        let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
            return Some(text.chars().take(300).collect());
        };
        let s = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned);
        s(json.pointer("/error/message"))
            .or_else(|| s(json.get("error_description")))
            .or_else(|| s(json.get("detail")))
            .or_else(|| s(json.get("message")))
            .or_else(|| s(json.get("title")))
            .or_else(|| s(json.pointer("/errors/0/message")))
            .or_else(|| s(json.get("error")))
    }

    /// The error kind a status means when the vendor says nothing more specific.
    pub fn default_kind(&self) -> ErrorKind {
        match self.status.as_u16() {
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::PermissionDenied,
            404 | 410 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Unavailable,
            _ => ErrorKind::Rejected,
        }
    }

    /// A generic error for this response: `HTTP 503 Service Unavailable: <vendor text>`.
    pub fn default_error(&self) -> ConnectorError {
        let mut message = format!("HTTP {}", self.status);
        if let Some(text) = self.vendor_message() {
            message = format!("{message}: {text}");
        }
        ConnectorError::new(self.default_kind(), message).with_status(self.status.as_u16())
    }
}

/// How a connector turns an error response into an error.
pub type ParseError = fn(&HttpFailure) -> ConnectorError;

/// A `reqwest` client with roster's timeouts, retries and limits.
pub struct HttpClient {
    client: reqwest::Client,
    options: HttpOptions,
    redact: Vec<String>,
    requests: AtomicU64,
    /// Spaces requests once the vendor has throttled one (see [`crate::pace`]).
    pacer: Mutex<Pacer>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the redaction list: it holds the secrets themselves.
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .field("redacting", &self.redact.len())
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with these options.
    pub fn new(options: HttpOptions) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("too many redirects")
                } else if let Err(e) = require_secure(attempt.url()) {
                    attempt.error(e)
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|e| ConnectorError::new(ErrorKind::Config, "cannot build the HTTP client").with_source(e))?;
        Ok(Self { client, options, redact: Vec::new(), requests: AtomicU64::new(0), pacer: Mutex::default() })
    }

    /// Scrubs these secrets from every error text this client reports.
    #[must_use]
    pub fn redacting<'a>(mut self, secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        self.redact.extend(secrets.into_iter().map(|s| s.expose().to_owned()).filter(|s| s.len() >= 4));
        self
    }

    /// The underlying client, for building requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The options in force.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends the request `build` makes, retrying what a retry can help, and returns the body of
    /// the first success. `what` names the call in messages (`GET person-details page 3`).
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn() -> RequestBuilder,
        parse_error: ParseError,
    ) -> Result<HttpResponse, ConnectorError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.options.min_backoff)
            .with_max_delay(self.options.max_backoff)
            .with_max_times(self.options.max_retries)
            .with_jitter();
        let max_wait = self.options.max_retry_after;
        let unreachable = AtomicU64::new(0);
        let max_unreachable = self.options.max_unreachable_retries as u64;
        (|| self.attempt(build(), parse_error))
            .retry(backoff)
            .when(|e: &ConnectorError| {
                if e.kind() == ErrorKind::Unreachable && unreachable.fetch_add(1, Ordering::Relaxed) >= max_unreachable
                {
                    return false;
                }
                e.is_retryable() && e.retry_after().is_none_or(|w| w <= max_wait)
            })
            .adjust(|e: &ConnectorError, planned| {
                // An unreachable host is tried again soon or not at all.
                if e.kind() == ErrorKind::Unreachable {
                    return planned.map(|p| p.min(self.options.min_backoff * 2));
                }
                e.retry_after().or(planned)
            })
            .notify(|e: &ConnectorError, wait: Duration| {
                tracing::warn!(
                    call = what,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "retrying: {e}"
                );
            })
            .await
            .map_err(|e| e.context(what))
    }

    async fn attempt(&self, request: RequestBuilder, parse_error: ParseError) -> Result<HttpResponse, ConnectorError> {
        let wait = self.pacer.lock().unwrap_or_else(PoisonError::into_inner).reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.pacer.lock().unwrap_or_else(PoisonError::into_inner).throttled(Instant::now());
        }
        let headers = response.headers().clone();
        if status.is_success() {
            let body = self.read_body(&mut response, self.options.max_body_bytes, true).await?;
            return Ok(HttpResponse { status, headers, body });
        }
        let body = self.read_body(&mut response, 64 * 1024, false).await.unwrap_or_default();
        let failure = HttpFailure { status, headers, body: self.scrub(&String::from_utf8_lossy(&body)) };
        let mut error = parse_error(&failure);
        if error.status().is_none() {
            error = error.with_status(status.as_u16());
        }
        if let Some(wait) = retry_after(&failure.headers) {
            error = error.with_retry_after(wait);
        }
        Err(error)
    }

    /// Reads the body, failing past `limit` bytes (or, when `strict` is off, cutting there).
    async fn read_body(
        &self,
        response: &mut reqwest::Response,
        limit: usize,
        strict: bool,
    ) -> Result<Vec<u8>, ConnectorError> {
        let mut body = Vec::with_capacity(
            response.content_length().map_or(8 * 1024, |n| usize::try_from(n).unwrap_or(limit).min(limit)),
        );
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(e))? {
            if body.len() + chunk.len() > limit {
                if strict {
                    return Err(ConnectorError::new(
                        ErrorKind::InvalidResponse,
                        format!("response body is larger than the {} limit", byte_size(limit)),
                    ));
                }
                body.extend_from_slice(&chunk[..limit - body.len()]);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, e: reqwest::Error) -> ConnectorError {
        let at = e.url().map_or_else(|| "the host".to_owned(), |u| self.scrub(origin(u).as_str()));
        let causes = causes(&e).to_lowercase();
        let tls =
            ["certificate", "tls", "handshake", "corrupt message", "alert", "peer is incompatible", "peer misbehaved"]
                .iter()
                .any(|m| causes.contains(m));
        let (kind, what) = if e.is_timeout() {
            (ErrorKind::Timeout, format!("no answer from {at} in time"))
        } else if e.is_connect() && tls {
            (
                ErrorKind::Unreachable,
                format!(
                    "TLS failure with {at}: no secure connection could be made; check that the URL is the \
                     vendor's HTTPS address and that no proxy intercepts TLS"
                ),
            )
        } else if e.is_connect() && (causes.contains("dns error") || causes.contains("failed to lookup")) {
            (
                ErrorKind::Unreachable,
                format!("cannot resolve the host name of {at}: check the URL and this machine's DNS"),
            )
        } else if e.is_connect() && causes.contains("refused") {
            (
                ErrorKind::Unreachable,
                format!("{at} refused the connection: nothing listens there; check the URL and port"),
            )
        } else if e.is_connect() {
            (ErrorKind::Unreachable, format!("cannot connect to {at}: check the URL, firewall and proxy"))
        } else if e.is_body() || e.is_decode() {
            (ErrorKind::Unavailable, format!("the connection to {at} broke while reading the answer"))
        } else if e.is_redirect() {
            (ErrorKind::Rejected, format!("refused to follow a redirect from {at}"))
        } else {
            (ErrorKind::Unavailable, format!("the request to {at} failed"))
        };
        // A certificate the system does not trust will not be trusted on the next try either.
        ConnectorError::new(kind, what).set_retryable(kind.is_transient() && !tls).with_source(e.without_url())
    }

    fn scrub(&self, text: &str) -> String {
        self.redact.iter().fold(text.to_owned(), |t, secret| t.replace(secret.as_str(), REDACTED))
    }
}

/// The messages of an error's causes, joined (what the TLS or DNS layer said).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&s.to_string());
        text.push_str(": ");
        source = s.source();
    }
    text
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// `Retry-After` as seconds or as an HTTP date.
/// A size as people write it: `16 MiB`, `64 KiB`, `100 bytes`.
fn byte_size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Whether `url` points at this machine (HTTP is allowed there, for tests and sandboxes).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Refuses any URL that is not HTTPS, unless it points at a loopback address.
pub fn require_secure(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "`{}` uses plain HTTP; roster requires HTTPS for every vendor URL except loopback addresses",
            origin(url)
        )),
        other => Err(format!("`{url}` has scheme `{other}`; expected https")),
    }
}

/// Parses a vendor base URL written by an admin, and checks it is HTTPS (or loopback).
pub fn parse_base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a valid URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{raw}` has no host name"));
    }
    require_secure(&url)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback port nobody listens on (bound, then released).
    async fn closed_port() -> u16 {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn an_unreachable_host_is_named_and_tried_only_a_few_times() {
        let port = closed_port().await;
        let client = HttpClient::new(HttpOptions::fast()).unwrap();
        let url = format!("http://127.0.0.1:{port}/x");
        let err = client.send("GET x", || client.client().get(&url), HttpFailure::default_error).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
        assert!(err.to_string().contains(&format!("http://127.0.0.1:{port} refused the connection")), "{err}");
        let max = HttpOptions::fast().max_unreachable_retries as u64 + 1;
        assert_eq!(
            client.requests(),
            max,
            "not the {} retries of a transient failure",
            HttpOptions::fast().max_retries
        );
    }

    #[tokio::test]
    async fn tls_to_a_server_that_does_not_speak_it_is_a_tls_failure_tried_once() {
        // A plain TCP server that answers the TLS hello with HTTP.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        let client = HttpClient::new(HttpOptions::fast()).unwrap();
        let url = format!("https://127.0.0.1:{port}/x");
        let err = client.send("GET x", || client.client().get(&url), HttpFailure::default_error).await.unwrap_err();
        assert!(err.to_string().contains("TLS failure with https://127.0.0.1:"), "{err}");
        assert!(!err.is_retryable());
        assert_eq!(client.requests(), 1);
    }

    #[test]
    fn debug_never_shows_the_secrets_it_scrubs() {
        let client = HttpClient::new(HttpOptions::fast()).unwrap().redacting([&Secret::new("hunter2-password")]);
        let shown = format!("{client:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacting: 1"), "{shown}");
    }

    #[test]
    fn https_required_except_loopback() {
        assert!(parse_base_url("https://service4.ultipro.com").is_ok());
        assert!(parse_base_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_base_url("http://localhost:1").is_ok());
        assert!(parse_base_url("http://[::1]:1").is_ok());
        let err = parse_base_url("http://service4.ultipro.com").unwrap_err();
        assert!(err.contains("requires HTTPS"), "{err}");
        assert!(parse_base_url("ftp://x.example").unwrap_err().contains("expected https"));
        assert!(parse_base_url("not a url").is_err());
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(byte_size(64 << 20), "64 MiB");
        assert_eq!(byte_size(512 << 10), "512 KiB");
        assert_eq!(byte_size(1500), "1500 bytes");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past means now");
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn vendor_messages_from_common_shapes() {
        let f = |body: &str| {
            HttpFailure { status: StatusCode::FORBIDDEN, headers: HeaderMap::new(), body: body.into() }.vendor_message()
        };
        assert_eq!(
            f(r#"{"error":{"code":"X","message":"Insufficient privileges"}}"#).unwrap(),
            "Insufficient privileges"
        );
        assert_eq!(f(r#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#).unwrap(), "AADSTS7000215");
        assert_eq!(f(r#"{"title":"Forbidden","detail":"no access"}"#).unwrap(), "no access");
        assert_eq!(f("plain text"), Some("plain text".into()));
        assert_eq!(f(""), None);
    }
}
