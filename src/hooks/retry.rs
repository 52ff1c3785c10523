//! When to try a call again, and how long to wait.
//!
//! Retrying `RunImageSynchronize` is safe: it asks HSS to refresh its copy of the SWR image
//! list, so synchronizing twice has the same effect as synchronizing once. Only failures where
//! the request may not have been processed, or the gateway asks us to come back, are retried:
//! connection failures and resets, attempt timeouts, 429, 502, 503 and 504. Other 4xx answers
//! would fail again the same way and are never retried.

use std::time::{Duration, SystemTime};

/// How a call retries. `max_attempts` counts the first try: 1 turns retries off.
///
/// The delay before retry *n* is drawn uniformly from `0..=min(max_delay, base_delay * 2^(n-1))`
/// ("full jitter"), unless a 429 carries `Retry-After`, which is honoured up to `max_delay`.
/// (backon's jitter adds `U(0, d)` to the delay `d` instead, which spreads retries less.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, first try included (at least 1).
    pub max_attempts: u32,
    /// Upper bound of the first backoff delay.
    pub base_delay: Duration,
    /// Upper bound of any delay, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
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
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The full-jitter delay before retry number `retry` (1-based), with `unit` in `0.0..1.0`.
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max_delay);
        // `mul_f64` could round past `Duration::MAX` for huge delays; checked, it cannot panic.
        Duration::try_from_secs_f64(exponential.as_secs_f64() * unit.clamp(0.0, 1.0))
            .unwrap_or(exponential)
    }
}

/// Statuses worth another attempt.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Transport failures worth another attempt: no connection, a connection reset or closed
/// before the answer, an attempt timeout.
pub fn is_retryable_error(error: &reqwest::Error) -> bool {
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
            .to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// `Retry-After` as delay-seconds or an HTTP date, relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// How far the server's clock (its `Date` header) is ahead of ours (negative: behind), in
/// whole seconds.
pub fn clock_offset_secs(date_header: &str, local_now: SystemTime) -> Option<i64> {
    let server = httpdate::parse_http_date(date_header.trim()).ok()?;
    Some(match server.duration_since(local_now) {
        Ok(ahead) => i64::try_from(ahead.as_secs()).ok()?,
        Err(behind) => -i64::try_from(behind.duration().as_secs()).ok()?,
    })
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
    fn huge_settings_do_not_overflow() {
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
        };
        for retry in [0, 1, 2, 40, u32::MAX] {
            for unit in [0.0, 0.5, 1.0, f64::NAN, f64::INFINITY, -1.0] {
                assert!(policy.backoff(retry, unit) <= Duration::MAX);
            }
        }
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

    #[test]
    fn clock_offsets() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ahead = httpdate::fmt_http_date(now + Duration::from_secs(600));
        assert_eq!(clock_offset_secs(&ahead, now), Some(600));
        let behind = httpdate::fmt_http_date(now - Duration::from_secs(420));
        assert_eq!(clock_offset_secs(&behind, now), Some(-420));
        assert_eq!(clock_offset_secs("yesterday", now), None);
    }

    #[test]
    fn retryable_statuses() {
        for status in [429, 502, 503, 504] {
            assert!(is_retryable_status(status));
        }
        for status in [200, 400, 401, 403, 404, 413, 500, 501] {
            assert!(!is_retryable_status(status));
        }
    }
}
