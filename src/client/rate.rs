//! [`RateLimiter`]: paces calls to HSS's documented budget, one pace per API, shared by every
//! client and task that holds a clone.
//!
//! HSS allows each API "5 calls a minute by one user or IP address". A limiter made for one
//! credential and handed to every client that signs with it (one per region, say) keeps a
//! whole fan-out inside that budget. Calls are spaced evenly (a cell rate, no burst), so no
//! 60-second window ever holds more than the budget. A throttled answer (429, `APIG.0308`)
//! doubles the spacing of that API for every holder; a minute without one halves it again,
//! down to the configured pace. With no pace at all ([`RateLimiter::unlimited`]) calls go at
//! once until the service throttles, and then slow down the same way.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The spacing after a first throttled answer when no pace was set.
const FIRST_THROTTLED_SPACING: Duration = Duration::from_millis(500);
/// The widest spacing throttling leads to.
const MAX_SPACING: Duration = Duration::from_secs(60);
/// How long without a throttled answer before the spacing halves.
const RECOVERY: Duration = Duration::from_secs(60);

/// Paces calls per API; clones share the pace.
///
/// HSS allows each API 5 calls a minute by one user or IP address. A limiter made for one
/// credential and handed to every client that signs with it (one per region, say) keeps a
/// whole fan-out inside that budget. Calls are spaced evenly (no burst), so no 60-second
/// window holds more than the budget. A throttled answer (429, `APIG.0308`) doubles the
/// spacing of that API for every holder; a minute without one halves it again, down to the
/// configured pace.
///
/// ```
/// use hss_image_sync::RateLimiter;
///
/// # async fn run() {
/// let limiter = RateLimiter::documented(); // 5 calls a minute per API
/// limiter.acquire("list_image_scan_task").await; // at once: the first call of this API
/// assert_eq!(limiter.spacing("list_image_scan_task").as_secs(), 12);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The configured spacing between two calls of one API (zero: no pace).
    base: Duration,
    apis: Mutex<HashMap<&'static str, Pace>>,
}

/// One API's state.
#[derive(Clone, Copy)]
struct Pace {
    /// The current spacing: the base, or wider after throttling.
    spacing: Duration,
    /// When the next call may start.
    next: Instant,
    /// The last throttled answer, while the spacing is wider than the base.
    throttled_at: Option<Instant>,
}

impl RateLimiter {
    /// The budget HSS documents for one user (or IP address) and one API.
    pub const DOCUMENTED_CALLS_PER_MINUTE: u32 = 5;

    /// At most `calls` calls a minute per API, evenly spaced.
    pub fn per_minute(calls: NonZeroU32) -> Self {
        Self::with_spacing(Duration::from_secs(60) / calls.get())
    }

    /// The documented budget: [`DOCUMENTED_CALLS_PER_MINUTE`](Self::DOCUMENTED_CALLS_PER_MINUTE) calls a minute per API.
    pub fn documented() -> Self {
        Self::with_spacing(Duration::from_secs(60) / Self::DOCUMENTED_CALLS_PER_MINUTE)
    }

    /// No pace until the service throttles a call; then the spacing grows as described above
    /// (from half a second, doubling up to a minute).
    pub fn unlimited() -> Self {
        Self::default()
    }

    fn with_spacing(base: Duration) -> Self {
        RateLimiter {
            inner: Arc::new(Inner {
                base,
                apis: Mutex::default(),
            }),
        }
    }

    /// Waits until a call of `api` may start, and takes that turn. A turn is taken even if
    /// the waiting is cancelled, so cancelling never lets calls closer together.
    pub async fn acquire(&self, api: &'static str) {
        let now = Instant::now();
        let start = self.take_turn(api, now);
        // A turn that is already due is taken at once: a timer, even an elapsed one, would
        // wait for the timer wheel's next tick (up to a millisecond).
        if start > now {
            tokio::time::sleep_until(start).await;
        }
    }

    /// Tells every holder that the service throttled a call of `api`: its spacing doubles
    /// (once for all the calls throttled within one spacing).
    pub fn throttled(&self, api: &'static str) {
        let now = Instant::now();
        self.with_pace(api, now, |pace| {
            // Answers to calls sent before the last widening took effect say nothing new:
            // one widening per spacing, however many workers were throttled at once.
            let fresh = pace
                .throttled_at
                .is_none_or(|at| now.saturating_duration_since(at) >= pace.spacing);
            if fresh {
                let wider = (pace.spacing * 2).clamp(FIRST_THROTTLED_SPACING, MAX_SPACING);
                pace.spacing = pace.spacing.max(wider);
                pace.throttled_at = Some(now);
            }
            pace.next = pace.next.max(now + pace.spacing);
        });
    }

    /// The current spacing between two calls of `api`.
    pub fn spacing(&self, api: &'static str) -> Duration {
        self.with_pace(api, Instant::now(), |pace| pace.spacing)
    }

    /// The start of `api`'s next turn, booked.
    fn take_turn(&self, api: &'static str, now: Instant) -> Instant {
        self.with_pace(api, now, |pace| {
            let start = pace.next.max(now);
            pace.next = start + pace.spacing;
            start
        })
    }

    fn with_pace<R>(&self, api: &'static str, now: Instant, f: impl FnOnce(&mut Pace) -> R) -> R {
        let base = self.inner.base;
        // A poisoned lock only means a holder panicked between two plain assignments.
        let mut apis = self
            .inner
            .apis
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let pace = apis.entry(api).or_insert(Pace {
            spacing: base,
            next: now,
            throttled_at: None,
        });
        recover(pace, base, now);
        f(pace)
    }
}

/// Halves a widened spacing for each quiet minute since the last throttled answer.
fn recover(pace: &mut Pace, base: Duration, now: Instant) {
    while let Some(at) = pace.throttled_at {
        if now.saturating_duration_since(at) < RECOVERY {
            return;
        }
        let narrower = pace.spacing / 2;
        if narrower <= base || narrower < FIRST_THROTTLED_SPACING {
            pace.spacing = base;
            pace.throttled_at = None;
        } else {
            pace.spacing = narrower;
            pace.throttled_at = Some(at + RECOVERY);
        }
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("spacing", &self.inner.base)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "list_image_scan_task";

    /// The starts of `n` turns taken at once.
    fn turns(limiter: &RateLimiter, n: usize, now: Instant) -> Vec<Duration> {
        (0..n).map(|_| limiter.take_turn(API, now) - now).collect()
    }

    #[test]
    fn the_documented_budget_spaces_calls_twelve_seconds_apart() {
        let limiter = RateLimiter::documented();
        let now = Instant::now();
        let starts = turns(&limiter, 6, now);
        let secs: Vec<u64> = starts.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [0, 12, 24, 36, 48, 60]);
        // No window of 60 s holds more than 5 starts.
        for (i, first) in starts.iter().enumerate() {
            let within = starts[i..]
                .iter()
                .filter(|s| **s - *first < Duration::from_secs(60))
                .count();
            assert!(within <= 5, "{within} calls in a minute from {first:?}");
        }
    }

    #[test]
    fn apis_are_paced_apart_and_clones_share_a_pace() {
        let limiter = RateLimiter::per_minute(NonZeroU32::new(2).unwrap());
        let clone = limiter.clone();
        let now = Instant::now();
        assert_eq!(limiter.take_turn(API, now), now);
        assert_eq!(clone.take_turn(API, now), now + Duration::from_secs(30));
        assert_eq!(limiter.take_turn("list_registry", now), now);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_widens_the_spacing_for_every_holder_then_recovers() {
        let limiter = RateLimiter::unlimited();
        assert_eq!(limiter.spacing(API), Duration::ZERO);
        let worker = limiter.clone();
        worker.throttled(API);
        assert_eq!(limiter.spacing(API), FIRST_THROTTLED_SPACING);
        // Eight workers throttled in the same burst: one signal.
        for _ in 0..8 {
            worker.throttled(API);
        }
        assert_eq!(limiter.spacing(API), FIRST_THROTTLED_SPACING);
        // Throttled again a spacing later: wider again.
        tokio::time::advance(FIRST_THROTTLED_SPACING).await;
        worker.throttled(API);
        tokio::time::advance(FIRST_THROTTLED_SPACING * 2).await;
        worker.throttled(API);
        assert_eq!(limiter.spacing(API), FIRST_THROTTLED_SPACING * 4);
        // The next turn is one spacing after the throttled answer, not at once.
        let before = Instant::now();
        limiter.acquire(API).await;
        assert_eq!(Instant::now() - before, FIRST_THROTTLED_SPACING * 4);
        let after_turn = Instant::now();

        // A quiet minute from the last throttled answer halves it.
        tokio::time::advance(RECOVERY - (after_turn - before)).await;
        assert_eq!(limiter.spacing(API), FIRST_THROTTLED_SPACING * 2);
        tokio::time::advance(RECOVERY * 3).await;
        assert_eq!(limiter.spacing(API), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_never_spaces_wider_than_a_minute_and_never_below_the_base() {
        let limiter = RateLimiter::documented();
        let mut widest = Duration::ZERO;
        for _ in 0..20 {
            limiter.throttled(API);
            widest = widest.max(limiter.spacing(API));
            // Throttled again as soon as the widened spacing has passed.
            tokio::time::advance(limiter.spacing(API)).await;
        }
        assert_eq!(widest, MAX_SPACING);
        let documented = RateLimiter::documented();
        documented.throttled(API);
        assert_eq!(documented.spacing(API), Duration::from_secs(24));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_wait_keeps_its_turn() {
        let limiter = RateLimiter::documented();
        limiter.acquire(API).await;
        let waiting = tokio::time::timeout(Duration::from_secs(1), limiter.acquire(API)).await;
        assert!(waiting.is_err(), "the second call waits 12 s");
        let before = Instant::now();
        limiter.acquire(API).await;
        // The cancelled turn at 12 s stays taken: this one starts at 24 s.
        assert_eq!(Instant::now() - before, Duration::from_secs(23));
    }
}
