//! Pacing requests to a rate limit the vendor does not announce.
//!
//! Vendors throttle with 429s and rarely say their rate in advance. A client that only honours
//! `Retry-After` learns the limit again after every wait: it sends as fast as it can, draws a 429,
//! waits, and does it again, about one 429 a second. The [`Pacer`] learns from the first 429
//! instead: it spaces requests at a little under the rate that got through in the second before
//! (multiplicative decrease), then raises that rate by a fiftieth each second without a 429
//! (additive increase), so it settles just under the limit and probes it rarely. Until a first
//! 429 it does nothing at all.
//!
//! Time is passed in, so the rules are tested without waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a rate is lowered to on a 429: this share of what got through in the last second (or of
/// the paced rate, if that was lower).
const DECREASE: f64 = 0.9;

/// How much the rate grows each second without a 429: this share of itself, at least
/// [`MIN_STEP`] requests a second.
const INCREASE: f64 = 0.02;
const MIN_STEP: f64 = 0.1;

/// The slowest pace: one request a second.
const MIN_RATE: f64 = 1.0;

/// The window over which requests are counted.
const WINDOW: Duration = Duration::from_secs(1);

/// The pace of one connection's requests. See the module docs.
#[derive(Debug, Default)]
pub struct Pacer {
    /// Requests a second, once a 429 was seen.
    rate: Option<f64>,
    /// When the next request may start.
    next: Option<Instant>,
    /// When the rate last changed.
    changed: Option<Instant>,
    /// Start times of the requests of the last [`WINDOW`].
    recent: VecDeque<Instant>,
}

impl Pacer {
    /// An unpaced pacer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The requests a second it paces at, once it does.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Reserves a start for a request about to be sent at `now`: how long to wait first.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let start = self.next.filter(|next| *next > now).unwrap_or(now);
        if let Some(rate) = self.rate {
            let mut rate = rate;
            if self.changed.is_some_and(|at| start.saturating_duration_since(at) >= WINDOW) {
                rate += (rate * INCREASE).max(MIN_STEP);
                self.rate = Some(rate);
                self.changed = Some(start);
            }
            self.next = Some(start + Duration::from_secs_f64(1.0 / rate));
        }
        self.recent.push_back(start);
        self.forget_before(start);
        start - now
    }

    /// A request was answered 429 at `now`: pace below what got through.
    pub fn throttled(&mut self, now: Instant) {
        self.forget_before(now);
        #[expect(clippy::cast_precision_loss, reason = "a second's requests are far below 2^52")]
        let observed = self.recent.len() as f64;
        let base = self.rate.map_or(observed, |rate| rate.min(observed));
        self.rate = Some((base * DECREASE).max(MIN_RATE));
        self.changed = Some(now);
        self.next = None;
    }

    fn forget_before(&mut self, now: Instant) {
        while self.recent.front().is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW) {
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token bucket of `rate` a second holding at most `rate`, as the bench's proxy and many
    /// vendors' gateways are; `admit` says whether a request at `t` gets through.
    struct Bucket {
        rate: f64,
        tokens: f64,
        last: Instant,
    }

    impl Bucket {
        fn admit(&mut self, t: Instant) -> bool {
            self.tokens = (self.tokens + t.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
            self.last = t;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                true
            } else {
                false
            }
        }
    }

    /// Sends `requests` one after another (each taking `each`) through a pacer against a bucket
    /// of `limit` a second, honouring a one-second `Retry-After` on every 429; returns the 429s
    /// and the rate achieved.
    fn run(limit: f64, requests: usize, each: Duration) -> (usize, f64) {
        let t0 = Instant::now();
        let mut bucket = Bucket { rate: limit, tokens: limit, last: t0 };
        let mut pacer = Pacer::new();
        let (mut now, mut refused, mut done) = (t0, 0, 0);
        while done < requests {
            now += pacer.reserve(now);
            if bucket.admit(now) {
                done += 1;
                now += each;
            } else {
                refused += 1;
                pacer.throttled(now);
                now += Duration::from_secs(1);
            }
        }
        #[expect(clippy::cast_precision_loss, reason = "small counts")]
        let achieved = done as f64 / now.duration_since(t0).as_secs_f64();
        (refused, achieved)
    }

    #[test]
    fn nothing_is_paced_before_a_first_429() {
        let mut pacer = Pacer::new();
        let t = Instant::now();
        for i in 0..100 {
            assert_eq!(pacer.reserve(t + Duration::from_millis(i)), Duration::ZERO);
        }
        assert_eq!(pacer.rate(), None);
    }

    #[test]
    fn after_a_429_requests_are_spaced_below_what_got_through() {
        let mut pacer = Pacer::new();
        let t = Instant::now();
        for i in 0..20 {
            pacer.reserve(t + Duration::from_millis(i * 10));
        }
        pacer.throttled(t + Duration::from_millis(200));
        assert_eq!(pacer.rate(), Some(20.0 * DECREASE));
        let after = t + Duration::from_millis(700);
        assert_eq!(pacer.reserve(after), Duration::ZERO, "the first request goes at once");
        let wait = pacer.reserve(after);
        assert!(
            (wait.as_secs_f64() - 1.0 / 18.0).abs() < 1e-6,
            "the next one an eighteenth of a second later: {wait:?}"
        );
    }

    #[test]
    fn against_a_token_bucket_it_settles_near_the_limit_with_few_429s() {
        for (limit, requests) in [(20.0, 200), (20.0, 2_000), (5.0, 100), (100.0, 3_000)] {
            let (refused, achieved) = run(limit, requests, Duration::from_millis(2));
            eprintln!("{limit}/s, {requests} requests: {refused} × 429, {achieved:.2}/s");
            assert!(achieved >= 0.9 * limit, "{limit}/s: achieved {achieved:.1}/s");
            assert!(achieved <= limit * 1.05, "{limit}/s: achieved {achieved:.1}/s");
            // One second of requests at the limit draws about one 429 unpaced; paced, a few in all.
            #[expect(clippy::cast_precision_loss, reason = "small counts")]
            let (seconds, refused_f) = (requests as f64 / limit, refused as f64);
            assert!(refused_f < 1.0 + seconds / 4.0, "{limit}/s, {requests} requests: {refused} × 429");
        }
    }
}
