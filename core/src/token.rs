//! Caching a bearer token, for connectors that sign in before they list (OAuth client
//! credentials, JWT bearer grants).

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::error::ConnectorError;
use crate::secret::Secret;

/// Renew this long before a token runs out, at most: a listing of a large tenant takes minutes,
/// and a token that dies between two pages costs a 401 and a retry.
pub const MAX_RENEW_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A token and when to stop using it.
#[derive(Debug)]
struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// Holds one access token and gets a new one shortly before it runs out.
#[derive(Debug, Default)]
pub struct TokenCache {
    // A tokio Mutex: it is held across the token request so that concurrent callers wait for one
    // token instead of each asking for their own.
    cached: Mutex<Option<Cached>>,
}

impl TokenCache {
    /// The cached token, or a new one from `fetch` (the token and its lifetime) when there is
    /// none or it is about to run out.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Secret, Duration), ConnectorError>>,
    {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(c.token.clone());
        }
        let asked_at = Instant::now();
        let (token, lifetime) = fetch().await?;
        let renew_at = asked_at + lifetime.saturating_sub(renew_margin(lifetime));
        *cached = Some(Cached { token: token.clone(), renew_at });
        Ok(token)
    }

    /// Runs `call` with the cached token (from `fetch` when needed). A 401 means the token died
    /// early (expired, revoked): it is renewed once and `call` tried again; a second 401 is the
    /// answer. `what` names the call in the log.
    pub async fn authorized<T, F, FFut, C, CFut>(&self, what: &str, fetch: F, call: C) -> Result<T, ConnectorError>
    where
        F: Fn() -> FFut,
        FFut: Future<Output = Result<(Secret, Duration), ConnectorError>>,
        C: Fn(Secret) -> CFut,
        CFut: Future<Output = Result<T, ConnectorError>>,
    {
        let token = self.get(&fetch).await?;
        match call(token.clone()).await {
            Err(e) if e.status() == Some(401) => {
                tracing::info!(call = what, "the access token was refused; renewing it once");
                self.forget(&token).await;
                let token = self.get(&fetch).await?;
                call(token).await
            }
            other => other,
        }
    }

    /// Drops `refused` from the cache (unless another caller already replaced it), so the next
    /// [`Self::get`] asks for a new token: what a 401 in the middle of a listing calls for.
    pub async fn forget(&self, refused: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == refused) {
            *cached = None;
        }
    }
}

/// Five minutes, or a tenth of the lifetime for short-lived tokens.
pub fn renew_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_RENEW_MARGIN)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn short_tokens_renew_sooner() {
        assert_eq!(renew_margin(Duration::from_secs(3599)), MAX_RENEW_MARGIN);
        assert_eq!(renew_margin(Duration::from_secs(60)), Duration::from_secs(6));
    }

    #[tokio::test]
    async fn caches_until_renewal_and_after_a_refusal() {
        let cache = TokenCache::default();
        let asked = AtomicU32::new(0);
        let fetch = |lifetime| {
            let n = asked.fetch_add(1, Ordering::SeqCst);
            async move { Ok((Secret::new(format!("token-{n}")), lifetime)) }
        };
        let first = cache.get(|| fetch(Duration::from_secs(3600))).await.unwrap();
        let again = cache.get(|| fetch(Duration::from_secs(3600))).await.unwrap();
        assert_eq!((first.expose(), again.expose()), ("token-0", "token-0"));

        cache.forget(&Secret::new("some-other-token")).await;
        assert_eq!(cache.get(|| fetch(Duration::from_secs(3600))).await.unwrap().expose(), "token-0");
        cache.forget(&first).await;
        assert_eq!(cache.get(|| fetch(Duration::ZERO)).await.unwrap().expose(), "token-1");
        assert_eq!(
            cache.get(|| fetch(Duration::from_secs(3600))).await.unwrap().expose(),
            "token-2",
            "a spent token is renewed"
        );
    }

    #[tokio::test]
    async fn a_refused_token_is_renewed_once() {
        let cache = TokenCache::default();
        let asked = AtomicU32::new(0);
        let fetch = || {
            let n = asked.fetch_add(1, Ordering::SeqCst);
            async move { Ok((Secret::new(format!("token-{n}")), Duration::from_secs(3600))) }
        };
        let refuse = |stale: &'static str| {
            move |token: Secret| async move {
                if token.expose() == stale || stale == "all" {
                    Err(ConnectorError::new(ErrorKind::Unauthenticated, "refused").with_status(401))
                } else {
                    Ok(token.expose().to_owned())
                }
            }
        };
        assert_eq!(cache.authorized("call", fetch, refuse("token-0")).await.unwrap(), "token-1");
        assert_eq!(
            cache.authorized("call", fetch, refuse("none")).await.unwrap(),
            "token-1",
            "the renewed token is cached"
        );
        let err = cache.authorized("call", fetch, refuse("all")).await.unwrap_err();
        assert_eq!(err.status(), Some(401), "a second 401 is the answer");
        assert_eq!(asked.load(Ordering::SeqCst), 3);
    }
}
