//! Errors that carry a kind and whether a retry can help.
//!
//! Every connector reports failures through [`ConnectorError`]. The kind tells the host (and the
//! admin reading the message) what to do about it; `retryable` tells the HTTP layer whether trying
//! again can help. Messages are lowercase fragments: the binary prints the whole chain.

use std::fmt;

use serde::Serialize;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The credentials were refused: wrong user name, password, key or secret.
    Unauthenticated,
    /// Authenticated, but a permission, scope or consent is missing.
    PermissionDenied,
    /// The tenant, endpoint or resource does not exist.
    NotFound,
    /// The vendor throttled us and retries did not get through.
    RateLimited,
    /// The vendor or the network failed: 5xx, a connection reset, a broken answer.
    Unavailable,
    /// The host cannot be reached at all: its name does not resolve, nothing listens, or TLS
    /// cannot be established. Usually a wrong URL, a firewall or a proxy, rarely transient.
    Unreachable,
    /// No answer in time.
    Timeout,
    /// The vendor answered something we cannot use: malformed JSON, a page that repeats, too many
    /// pages, a body too large.
    InvalidResponse,
    /// The connection's own settings are wrong (a URL, a key format).
    Config,
    /// The listing was abandoned because whoever consumed it went away.
    Cancelled,
    /// Any other refusal by the vendor (400 and the like).
    Rejected,
}

impl ErrorKind {
    /// Whether an error of this kind is worth retrying by default.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::RateLimited | Self::Unavailable | Self::Unreachable | Self::Timeout)
    }

    /// The kind's name as it appears in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::InvalidResponse => "invalid_response",
            Self::Config => "config",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure talking to a vendor, or in what it answered.
///
/// It never holds a credential: messages are built from status codes and the vendor's error text,
/// and [`crate::http::HttpClient`] scrubs the secrets it knows of from that text.
#[derive(Debug, thiserror::Error)]
pub struct ConnectorError {
    kind: ErrorKind,
    message: String,
    retryable: bool,
    status: Option<u16>,
    retry_after: Option<std::time::Duration>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ConnectorError {
    /// A new error; whether it is retryable follows from its kind until [`Self::set_retryable`] says
    /// otherwise.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: kind.is_transient(),
            status: None,
            retry_after: None,
            source: None,
        }
    }

    /// Records the HTTP status the vendor answered with.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Records how long the vendor asked us to wait before trying again.
    #[must_use]
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// How long the vendor asked us to wait (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after
    }

    /// Attaches the underlying cause (printed as the next link of the chain).
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Overrides whether a retry can help.
    #[must_use]
    pub fn set_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Prefixes the message with what was being done, e.g. `listing person-details page 3`.
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again can help.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The HTTP status the vendor answered with, if any.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The message without its cause chain.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// One problem in a connection's settings, at a key path below the connection's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// Dotted key path below `[connections.NAME]`, e.g. `password` (empty for the table itself).
    pub path: String,
    /// What is wrong and what was expected. Never contains a secret's value.
    pub message: String,
}

/// Every problem found in a connection's credentials, reported at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CredentialsError {
    /// The problems, in the order they were found.
    pub problems: Vec<ConfigProblem>,
}

impl CredentialsError {
    /// A single problem at `path`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { problems: vec![ConfigProblem { path: path.into(), message: message.into() }] }
    }
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if p.path.is_empty() {
                f.write_str(&p.message)?;
            } else {
                write!(f, "`{}`: {}", p.path, p.message)?;
            }
        }
        Ok(())
    }
}
