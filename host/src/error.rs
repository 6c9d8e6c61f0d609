//! Errors that decide the exit status (DESIGN.md: 0 success, 1 failure, 2 bad usage or invalid
//! config, 3 when a safety threshold held a change).

/// Bad usage: an unknown connection name, an unknown schema. Exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A safety threshold held a change; nothing was lost. Exit status 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Held(pub String);

/// The exit status for an error chain.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|e| e.is::<crate::config::ConfigError>() || e.is::<UsageError>()) {
        2
    } else if error.chain().any(<dyn std::error::Error>::is::<Held>) {
        3
    } else {
        1
    }
}

/// Whether the error is stdout's reader having gone away.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        let kind = e
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| e.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind))
            .or_else(|| match e.downcast_ref::<csv::Error>().map(csv::Error::kind) {
                Some(csv::ErrorKind::Io(io)) => Some(io.kind()),
                _ => None,
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
