//! Token buckets for an endpoint's rate limits: requests per second and tokens per minute.
//!
//! A bucket refills continuously at its rate up to its capacity (one second of requests,
//! one minute of tokens). A caller *reserves* what it needs at once, even when the bucket
//! holds less: the level goes negative (a debt) and the caller sleeps until the debt would
//! be repaid. Reservations are thus served in arrival order, none can starve, and no lock
//! is held while sleeping — hundreds of episode threads share one bucket with one short
//! critical section each.
//!
//! Tokens per minute cannot be known before the reply, so a request reserves an estimate
//! (its prompt estimate plus `max_tokens`, which is what OpenAI's own limiter counts) and
//! [`TokenBucket::adjust`] settles the difference with the `usage` the server reports.
//!
//! Hand-written rather than `governor`: that crate's cells have one weight, cannot be
//! reserved into debt, cannot be refunded after the fact, and wait through futures.
//! Time is passed in, so the arithmetic is tested without sleeping.

use std::time::{Duration, Instant};

/// The limits of one endpoint; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimits {
    pub requests_per_second: Option<f64>,
    pub tokens_per_minute: Option<u64>,
}

impl RateLimits {
    pub fn is_unlimited(&self) -> bool {
        self.requests_per_second.is_none() && self.tokens_per_minute.is_none()
    }
}

/// One bucket (see the module docs).
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_sec: f64,
    capacity: f64,
    /// Tokens available at `at`; negative while reservations are waiting.
    level: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket refilling at `per_sec` (> 0) up to `capacity` (at least 1).
    pub fn new(per_sec: f64, capacity: f64, now: Instant) -> TokenBucket {
        let capacity = capacity.max(1.0);
        TokenBucket {
            per_sec: per_sec.max(f64::MIN_POSITIVE),
            capacity,
            level: capacity,
            at: now,
        }
    }

    /// Requests per second: a second's worth of burst (at least one request).
    pub fn requests_per_second(rps: f64, now: Instant) -> TokenBucket {
        TokenBucket::new(rps, rps, now)
    }

    /// Tokens per minute: a minute's worth of burst.
    pub fn tokens_per_minute(tpm: u64, now: Instant) -> TokenBucket {
        TokenBucket::new(tpm as f64 / 60.0, tpm as f64, now)
    }

    fn refill(&mut self, now: Instant) {
        if now > self.at {
            let dt = now.duration_since(self.at).as_secs_f64();
            self.level = (self.level + dt * self.per_sec).min(self.capacity);
            self.at = now;
        }
    }

    /// Take `n` tokens now and say how long to wait before using them (zero when the
    /// bucket held them). A request larger than the capacity is charged the capacity, so it
    /// waits at most one full refill instead of forever.
    pub fn reserve(&mut self, n: f64, now: Instant) -> Duration {
        self.refill(now);
        self.level -= n.clamp(0.0, self.capacity);
        if self.level >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.level / self.per_sec)
        }
    }

    /// Give back `n` tokens (a reservation that overestimated), or take `-n` more (one
    /// that underestimated; later reservations then wait longer).
    pub fn adjust(&mut self, n: f64, now: Instant) {
        self.refill(now);
        self.level = (self.level + n).min(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn a_second_of_requests_then_one_per_interval_in_arrival_order() {
        let t0 = Instant::now();
        let mut b = TokenBucket::requests_per_second(4.0, t0);
        let waits: Vec<u128> = (0..7).map(|_| ms(b.reserve(1.0, t0))).collect();
        // Four at once (the burst), then every 250 ms, each later caller behind the last.
        assert_eq!(waits, [0, 0, 0, 0, 250, 500, 750]);
        // A second later the debt of three is repaid and one more token has come in.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(ms(b.reserve(1.0, t1)), 0);
        assert_eq!(ms(b.reserve(1.0, t1)), 250);
    }

    #[test]
    fn tokens_per_minute_are_reserved_then_settled_with_the_real_usage() {
        let t0 = Instant::now();
        let mut b = TokenBucket::tokens_per_minute(6_000, t0); // 100 tokens/s
        assert_eq!(ms(b.reserve(6_000.0, t0)), 0);
        assert_eq!(ms(b.reserve(500.0, t0)), 5_000);
        // The first request used only 1,000 of its 6,000: the refund shortens later waits.
        b.adjust(5_000.0, t0);
        assert_eq!(ms(b.reserve(100.0, t0)), 0);
        // One that used more than it reserved pushes the next ones back.
        b.adjust(-5_000.0, t0);
        assert_eq!(ms(b.reserve(0.0, t0)), 6_000);
    }

    #[test]
    fn oversized_requests_wait_one_refill_at_most_and_refunds_never_overfill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 10.0, t0);
        assert_eq!(ms(b.reserve(1e9, t0)), 0);
        assert_eq!(ms(b.reserve(1e9, t0)), 1_000);
        let mut full = TokenBucket::new(10.0, 10.0, t0);
        full.adjust(1e9, t0);
        assert_eq!(ms(full.reserve(10.0, t0)), 0);
        assert_eq!(ms(full.reserve(1.0, t0)), 100);
        // Fractional rates below one request per second keep a burst of one.
        let mut slow = TokenBucket::requests_per_second(0.5, t0);
        assert_eq!(ms(slow.reserve(1.0, t0)), 0);
        assert_eq!(ms(slow.reserve(1.0, t0)), 2_000);
        assert!(RateLimits::default().is_unlimited());
    }
}
