//! When to try a call again, and how long to wait.
//!
//! Retrying `RunImageSynchronize` is safe: it asks HSS to refresh its copy of the SWR image
//! list, so synchronizing twice has the same effect as synchronizing once. Only failures that
//! may heal are retried: connection failures and resets, attempt timeouts, and the statuses
//! 408, 429, 500, 502, 503 and 504 (smithy-rs's standard retry mode treats 500/502/503/504 as
//! transient; 408 and 429 ask the client to come back). Other answers would fail again the same
//! way and are never retried.

/// Statuses worth another attempt: the error's rule, so that the retry loop and
/// [`Error::is_retryable`](crate::Error::is_retryable) agree.
pub(crate) use crate::error::is_retryable_status;
use std::time::{Duration, SystemTime};

/// How a call retries. `max_attempts` counts the first try: 1 turns retries off.
///
/// The delay before retry *n* is drawn uniformly from `0..=min(max_delay, base_delay * 2^(n-1))`
/// ("full jitter"), unless the answer carries `Retry-After` (429, 503), which is honoured up to
/// `max_delay`. No delay runs past the call's total timeout: when the next one would, the call
/// ends with the last failure instead.
///
/// ```
/// use hss_image_sync::RetryPolicy;
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(5)
///     .with_base_delay(Duration::from_millis(200));
/// assert_eq!(policy.max_attempts(), 5);
/// assert_eq!(policy.max_delay(), Duration::from_secs(20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, delays from 1 s, capped at 20 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn disabled() -> Self {
        RetryPolicy::default().with_max_attempts(1)
    }

    /// Attempts in all, the first try included (the client refuses 0).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Upper bound of the first backoff delay.
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Upper bound of any delay, `Retry-After` included.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Attempts in all, the first try included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Upper bound of the first backoff delay.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// Upper bound of any delay.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The full-jitter delay before retry number `retry` (1-based), with `unit` in `0.0..1.0`.
    fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max_delay);
        // `mul_f64` could round past `Duration::MAX` for huge delays; checked, it cannot panic.
        Duration::try_from_secs_f64(exponential.as_secs_f64() * unit.clamp(0.0, 1.0))
            .unwrap_or(exponential)
    }

    /// The delays between attempts, for backon: one fewer than the attempts.
    pub(crate) fn delays(&self) -> Delays {
        Delays {
            policy: *self,
            retry: 0,
        }
    }
}

/// The full-jitter delays of a [`RetryPolicy`], as a backon `Backoff` (an iterator of delays).
/// backon's own jitter adds `U(0, d)` to the delay `d`, which spreads retries less.
pub(crate) struct Delays {
    policy: RetryPolicy,
    retry: u32,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retry.saturating_add(1) >= self.policy.max_attempts {
            return None;
        }
        self.retry += 1;
        Some(self.policy.backoff(self.retry, fastrand::f64()))
    }
}

/// Transport failures worth another attempt: no connection, a connection reset or closed
/// before the answer, an attempt timeout.
pub(crate) fn is_retryable_transport(error: &reqwest::Error) -> bool {
    // A refused certificate or a server that does not speak TLS will not heal.
    if crate::error::tls_failure(error as &(dyn std::error::Error + 'static)).is_some() {
        return false;
    }
    if error.is_connect() || error.is_timeout() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            )
        {
            return true;
        }
        // hyper reports a peer that closed before answering as an incomplete message.
        if cause
            .downcast_ref::<hyper::Error>()
            .is_some_and(|e| e.is_incomplete_message())
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// `Retry-After` as delay-seconds or an HTTP date, relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_bounds() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(policy.backoff(5, 1.0), Duration::from_secs(16));
        assert_eq!(policy.backoff(6, 1.0), Duration::from_secs(20));
        assert_eq!(policy.backoff(60, 1.0), Duration::from_secs(20));
        assert_eq!(policy.backoff(3, 0.0), Duration::ZERO);
        assert_eq!(policy.backoff(3, 0.5), Duration::from_secs(2));
    }

    #[test]
    fn one_delay_fewer_than_attempts() {
        assert_eq!(RetryPolicy::default().delays().count(), 2);
        assert_eq!(RetryPolicy::disabled().delays().count(), 0);
        assert_eq!(
            RetryPolicy::default().with_max_attempts(0).delays().count(),
            0
        );
        let policy = RetryPolicy::default().with_max_attempts(6);
        for (retry, delay) in policy.delays().enumerate() {
            assert!(delay <= policy.backoff(retry as u32 + 1, 1.0));
        }
    }

    #[test]
    fn huge_settings_do_not_overflow_and_keep_the_cap() {
        let cap = Duration::from_secs(20);
        for (base, max_delay) in [
            (Duration::MAX, cap),
            (Duration::from_secs(u64::MAX / 2), cap),
            (Duration::MAX, Duration::MAX),
        ] {
            let policy = RetryPolicy::default()
                .with_max_attempts(u32::MAX)
                .with_base_delay(base)
                .with_max_delay(max_delay);
            for retry in [0, 1, 2, 40, u32::MAX] {
                // The promise: never more than `max_delay`, and the whole of it at unit 1.
                assert_eq!(policy.backoff(retry, 1.0), max_delay, "retry {retry}");
                for unit in [0.0, 0.5, 1.0, f64::NAN, f64::INFINITY, -1.0] {
                    let delay = policy.backoff(retry, unit);
                    assert!(delay <= max_delay, "{delay:?} > {max_delay:?} at {unit}");
                }
                assert_eq!(policy.backoff(retry, 0.0), Duration::ZERO);
                assert_eq!(policy.backoff(retry, -1.0), Duration::ZERO);
            }
            assert!(policy.delays().take(100).all(|d| d <= max_delay));
        }
    }

    #[test]
    fn delays_spread_over_the_whole_window() {
        // Full jitter: delays drawn from 0..=cap, so across many draws some fall in the lower
        // quarter and some in the upper quarter of the window (a fixed or a zero delay fails).
        let policy = RetryPolicy::default()
            .with_max_attempts(2)
            .with_base_delay(Duration::from_secs(8));
        let draws: Vec<Duration> = (0..400).filter_map(|_| policy.delays().next()).collect();
        assert_eq!(draws.len(), 400);
        assert!(draws.iter().all(|d| *d <= Duration::from_secs(8)));
        assert!(draws.iter().any(|d| *d < Duration::from_secs(2)));
        assert!(draws.iter().any(|d| *d > Duration::from_secs(6)));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
