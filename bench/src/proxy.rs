//! A rate-limiting proxy in front of a sandbox: a token bucket admits `rate` requests per second
//! (with a burst of one second's worth), and every request beyond is answered 429 with
//! `Retry-After`, in UKG's shape, without reaching the sandbox.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::protocol::ProxyStats;

/// A token bucket: `rate` tokens a second, at most `capacity` saved up.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self { rate, capacity: rate, tokens: rate, last: Instant::now() }
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[derive(Debug)]
struct Counters {
    bucket: Bucket,
    admitted: u64,
    refused: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

#[derive(Debug)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    counters: Mutex<Counters>,
}

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub(crate) struct Running {
    /// Where it listens (`http://127.0.0.1:PORT`).
    pub url: String,
    proxy: Arc<Proxy>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    /// What it admitted and refused so far.
    pub(crate) fn stats(&self) -> ProxyStats {
        let c = self.proxy.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let span = match (c.first, c.last) {
            (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
            _ => 0.0,
        };
        ProxyStats { admitted: c.admitted, refused: c.refused, span_secs: span }
    }
}

/// Starts a proxy on a free loopback port in front of `upstream`, admitting `rate` requests a
/// second.
pub(crate) async fn start(upstream: &str, rate: u32) -> Result<Running> {
    let (listener, addr) = roster_core::sandbox::bind_loopback(0).await.map_err(anyhow::Error::msg)?;
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        client: reqwest::Client::builder().build().context("cannot build the proxy's HTTP client")?,
        counters: Mutex::new(Counters { bucket: Bucket::new(rate), admitted: 0, refused: 0, first: None, last: None }),
    });
    let app = Router::new().fallback(forward).with_state(proxy.clone());
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.await;
        };
        let _ = axum::serve(listener, app).with_graceful_shutdown(stopped).await;
    });
    Ok(Running { url: format!("http://{addr}"), proxy, _shutdown: shutdown })
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let now = Instant::now();
    let admitted = {
        let mut c = proxy.counters.lock().unwrap_or_else(PoisonError::into_inner);
        match c.bucket.take(now) {
            Ok(()) => {
                c.admitted += 1;
                c.first.get_or_insert(now);
                c.last = Some(now);
                Ok(())
            }
            Err(wait) => {
                c.refused += 1;
                Err(wait)
            }
        }
    };
    if let Err(wait) = admitted {
        // Whole seconds, as UKG and most vendors send it; never 0, which invites a hot loop.
        let secs = wait.as_secs_f64().ceil().max(1.0);
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            r#"{"message":"API calls quota exceeded, try again later."}"#,
        )
            .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&format!("{secs}")).unwrap_or(HeaderValue::from_static("1")),
        );
        return response;
    }
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut headers = request.headers().clone();
    headers.remove(header::HOST);
    let upstream = proxy.client.get(format!("{}{path}", proxy.upstream)).headers(headers).send().await;
    let Ok(upstream) = upstream else {
        return (StatusCode::BAD_GATEWAY, "the sandbox behind the proxy did not answer").into_response();
    };
    let status = upstream.status();
    let headers = upstream.headers().clone();
    let Ok(body) = upstream.bytes().await else {
        return (StatusCode::BAD_GATEWAY, "the sandbox behind the proxy broke off its answer").into_response();
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for name in [header::CONTENT_TYPE, header::LINK, header::RETRY_AFTER] {
        for value in headers.get_all(&name) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_admits_the_rate_after_a_burst() {
        let start = Instant::now();
        let mut bucket = Bucket::new(10);
        let burst = (0..20).filter(|_| bucket.take(start).is_ok()).count();
        assert_eq!(burst, 10, "one second's worth at once");
        let wait = bucket.take(start).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(bucket.take(start + Duration::from_millis(100)).is_ok(), "a token a tenth of a second later");
        assert!(bucket.take(start + Duration::from_millis(110)).is_err());
    }
}
