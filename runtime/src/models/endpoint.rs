//! What every episode talking to one server shares, in this process: its connections, its
//! rate limits and its `Retry-After` pauses.
//!
//! A model is built per episode ([`crate::models::spec::ModelSpec::build`]), and hundreds
//! of episodes may be in flight against one server. Three things must not be per episode:
//!
//! - **Connections.** One `ureq` agent (one keep-alive pool) per endpoint, big enough to
//!   keep a connection for every episode in flight ([`MAX_IDLE_CONNECTIONS`]): otherwise
//!   each request would open a new TCP (and TLS) connection, and the closed ones pile up in
//!   `TIME_WAIT` until the ephemeral ports run out.
//! - **Rate limits.** One requests-per-second and one tokens-per-minute bucket per endpoint
//!   ([`super::rate_limit`]), set from the `openai:` spec or the harness's model section.
//! - **`Retry-After`.** A server that answers 429 or 503 with `Retry-After` is overloaded
//!   for every client, not for one request: the pause it asks for holds every request to
//!   the endpoint, those in flight elsewhere included ([`Endpoint::pause`]).
//!
//! Endpoints are found by base URL in a process-wide registry and live as long as the
//! process (there are a handful per run). Locks are held only to read or update a few
//! numbers, never while sleeping or sending, and a poisoned lock is used as it is: its data
//! are plain numbers that no panic can leave half-written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::rate_limit::{RateLimits, TokenBucket};

/// Idle keep-alive connections kept per endpoint: at least one per episode in flight at
/// [`crate::runner::MAX_WORKERS`].
pub const MAX_IDLE_CONNECTIONS: usize = crate::runner::MAX_WORKERS;

/// The longest `Retry-After` honoured, as OpenAI's own clients do; a longer (or zero) one
/// is ignored and the ordinary backoff applies.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);

/// One server (see the module docs).
#[derive(Default)]
pub struct Endpoint {
    /// One agent per connect timeout (the one setting `ureq` fixes per agent); in practice
    /// one.
    agents: Mutex<Vec<(Duration, ureq::Agent)>>,
    limiter: Mutex<Limiter>,
    paused_until: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Limiter {
    limits: RateLimits,
    requests: Option<TokenBucket>,
    tokens: Option<TokenBucket>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The endpoint at `base_url` (created on first use).
pub fn endpoint(base_url: &str) -> Arc<Endpoint> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Endpoint>>>> = OnceLock::new();
    let mut map = lock(REGISTRY.get_or_init(Default::default));
    Arc::clone(map.entry(base_url.to_string()).or_default())
}

impl Endpoint {
    /// The shared HTTP agent for this connect timeout. Request timeouts are set per request.
    pub fn agent(&self, connect_timeout: Duration) -> ureq::Agent {
        let mut agents = lock(&self.agents);
        if let Some((_, a)) = agents.iter().find(|(t, _)| *t == connect_timeout) {
            return a.clone();
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(connect_timeout)
            .max_idle_connections(MAX_IDLE_CONNECTIONS)
            .max_idle_connections_per_host(MAX_IDLE_CONNECTIONS)
            .build();
        agents.push((connect_timeout, agent.clone()));
        agent
    }

    /// Apply `limits` to the endpoint. Unchanged limits keep their buckets (and what the
    /// episodes in flight reserved); changed ones start from full buckets.
    pub fn set_limits(&self, limits: RateLimits) {
        let mut l = lock(&self.limiter);
        if l.limits == limits {
            return;
        }
        let now = Instant::now();
        l.requests = limits
            .requests_per_second
            .map(|r| TokenBucket::requests_per_second(r, now));
        l.tokens = limits
            .tokens_per_minute
            .map(|t| TokenBucket::tokens_per_minute(t, now));
        l.limits = limits;
    }

    pub fn limits(&self) -> RateLimits {
        lock(&self.limiter).limits
    }

    /// Wait until a request that may use `tokens` tokens can be sent: out any pause a
    /// `Retry-After` asked for, then for the rate limits. Returns the tokens reserved, to
    /// hand back to [`Endpoint::settle`].
    pub fn admit(&self, tokens: u64) -> u64 {
        self.wait_out_pause();
        let (wait, reserved) = self.reserve(tokens);
        if !wait.is_zero() {
            std::thread::sleep(wait);
            // A pause that began while this request waited holds it too.
            self.wait_out_pause();
        }
        reserved
    }

    /// Reserve one request and `tokens` tokens now: how long to wait before sending, and
    /// the tokens reserved (0 without a tokens-per-minute limit).
    fn reserve(&self, tokens: u64) -> (Duration, u64) {
        let mut l = lock(&self.limiter);
        let now = Instant::now();
        let w1 = l
            .requests
            .as_mut()
            .map_or(Duration::ZERO, |b| b.reserve(1.0, now));
        match l.tokens.as_mut() {
            Some(b) => (w1.max(b.reserve(tokens as f64, now)), tokens),
            None => (w1, 0),
        }
    }

    /// Settle a reservation of [`Endpoint::admit`] with the tokens the request used (the
    /// server's `usage`; 0 for a request that failed).
    pub fn settle(&self, reserved: u64, used: u64) {
        if reserved == used {
            return;
        }
        if let Some(b) = lock(&self.limiter).tokens.as_mut() {
            b.adjust(reserved as f64 - used as f64, Instant::now());
        }
    }

    /// Hold every request to this endpoint for `d` from now (a longer pause already in
    /// force stands).
    pub fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut p = lock(&self.paused_until);
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }

    /// How much of a pause is left, if any.
    pub fn paused_for(&self) -> Option<Duration> {
        let until = (*lock(&self.paused_until))?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    fn wait_out_pause(&self) {
        // A loop: the pause may be extended while this request sleeps.
        while let Some(d) = self.paused_for() {
            std::thread::sleep(d);
        }
    }
}

/// How long a 429 or 503 reply asks the client to wait: `retry-after-ms` (OpenAI's,
/// milliseconds), else `Retry-After` in seconds or as an HTTP date. `None` when absent,
/// unreadable, zero, or longer than [`RETRY_AFTER_MAX`].
pub fn retry_after(retry_after_ms: Option<&str>, retry_after: Option<&str>) -> Option<Duration> {
    let secs = |s: f64| (s.is_finite() && s > 0.0).then(|| Duration::from_secs_f64(s.min(1e9)));
    let d = match (retry_after_ms, retry_after) {
        (Some(ms), _) if ms.trim().parse::<f64>().is_ok() => {
            secs(ms.trim().parse::<f64>().ok()? / 1000.0)
        }
        (_, Some(v)) => match v.trim().parse::<f64>() {
            Ok(s) => secs(s),
            Err(_) => httpdate::parse_http_date(v.trim())
                .ok()?
                .duration_since(std::time::SystemTime::now())
                .ok(),
        },
        _ => None,
    }?;
    (!d.is_zero() && d <= RETRY_AFTER_MAX).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_milliseconds_seconds_and_dates_within_the_cap() {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis());
        assert_eq!(ms(retry_after(Some("250"), Some("9"))), Some(250));
        assert_eq!(ms(retry_after(None, Some("2"))), Some(2_000));
        assert_eq!(ms(retry_after(None, Some(" 1.5 "))), Some(1_500));
        assert_eq!(ms(retry_after(Some("x"), Some("3"))), Some(3_000));
        for none in [
            None,
            Some("0"),
            Some("61"),
            Some("-1"),
            Some("soon"),
            Some("NaN"),
        ] {
            assert_eq!(retry_after(None, none), None, "{none:?}");
        }
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        let d = retry_after(None, Some(&httpdate::fmt_http_date(later))).expect("a date");
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        let past = httpdate::fmt_http_date(std::time::SystemTime::UNIX_EPOCH);
        assert_eq!(retry_after(None, Some(&past)), None);
    }

    #[test]
    fn endpoints_are_shared_by_url_and_pauses_only_grow() {
        let a = endpoint("http://endpoint-test.invalid/v1");
        let b = endpoint("http://endpoint-test.invalid/v1");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(
            &a,
            &endpoint("http://other-endpoint-test.invalid/v1")
        ));
        assert_eq!(a.paused_for(), None);
        a.pause(Duration::from_secs(30));
        b.pause(Duration::from_secs(1));
        let left = a.paused_for().expect("paused");
        assert!(left > Duration::from_secs(25), "{left:?}");
    }

    #[test]
    fn limits_are_applied_and_settled() {
        let e = Endpoint::default();
        assert_eq!(e.admit(1_000), 0, "no limits, nothing reserved");
        let limits = RateLimits {
            requests_per_second: Some(1_000.0),
            tokens_per_minute: Some(60_000),
        };
        e.set_limits(limits);
        assert_eq!(e.limits(), limits);
        assert_eq!(e.reserve(40_000), (Duration::ZERO, 40_000));
        // The request used 10,000: 30,000 come back, so 50,000 are free at once...
        e.settle(40_000, 10_000);
        assert_eq!(e.reserve(49_000), (Duration::ZERO, 49_000));
        // ...and the next 2,000 wait for 1,000 to come in, at 1,000 a second.
        let (wait, _) = e.reserve(2_000);
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Setting the same limits again keeps the buckets (and the debt).
        e.set_limits(limits);
        assert!(e.reserve(0).0 > Duration::from_millis(900));
    }
}
