//! The gateway's throttling ([`Emulator::rate_limit`](super::Emulator::rate_limit)): at most
//! `limit` calls of one operation by one caller (access key, or IAM token) in any 60 s of the
//! emulator's clock (or another window: [`Emulator::rate_limit_per`](super::Emulator::rate_limit_per)),
//! a sliding window. A call past it is refused (429 `APIG.0308`) and not counted, so a caller
//! that waits gets through again.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// The highest [`Emulator::rate_limit`](super::Emulator::rate_limit) (and CLI
/// `emulator --rate-limit`): calls a minute per caller and operation.
pub const MAX_RATE_LIMIT: u32 = 10_000;

/// The longest window of [`Emulator::rate_limit_per`](super::Emulator::rate_limit_per).
pub(crate) const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// The most (caller, operation) windows kept: beyond them, idle windows go first, then the one
/// whose latest call is the oldest. With [`MAX_RATE_LIMIT`], a bound on memory too.
const MAX_WINDOWS: usize = 4096;

pub(crate) struct Throttle {
    limit: usize,
    /// The window, in milliseconds (1..=`MAX_WINDOW`).
    window_ms: i64,
    windows: Mutex<HashMap<(String, &'static str), VecDeque<i64>>>,
}

impl Throttle {
    /// `limit` calls (1..=[`MAX_RATE_LIMIT`]) per `window` (1 ms..=[`MAX_WINDOW`]).
    pub fn new(limit: u32, window: Duration) -> Self {
        let window = window.clamp(Duration::from_millis(1), MAX_WINDOW);
        Throttle {
            limit: limit.clamp(1, MAX_RATE_LIMIT) as usize,
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            windows: Mutex::default(),
        }
    }

    /// The gateway's words for the limit: `limit:5, time:1 minute`.
    pub fn describe(&self) -> String {
        let time = match self.window_ms {
            60_000 => "1 minute".to_owned(),
            1000 => "1 second".to_owned(),
            ms if ms % 1000 == 0 => format!("{} seconds", ms / 1000),
            ms => format!("{ms} milliseconds"),
        };
        format!("limit:{}, time:{time}", self.limit)
    }

    /// Whether `caller` may call `operation` at `now_ms` (milliseconds since the epoch, the
    /// emulator's clock); the call is counted when it may.
    pub fn admit(&self, caller: &str, operation: &'static str, now_ms: i64) -> bool {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (caller.to_owned(), operation);
        let window = self.window_ms;
        if !windows.contains_key(&key) && windows.len() >= MAX_WINDOWS {
            make_room(&mut windows, now_ms, window);
        }
        let calls = windows.entry(key).or_default();
        while calls
            .front()
            .is_some_and(|at| *at <= now_ms.saturating_sub(window))
        {
            calls.pop_front();
        }
        if calls.len() >= self.limit {
            return false;
        }
        calls.push_back(now_ms);
        true
    }
}

/// Drops the windows with no call within the window; if none, the one called least recently.
fn make_room(
    windows: &mut HashMap<(String, &'static str), VecDeque<i64>>,
    now_ms: i64,
    window_ms: i64,
) {
    windows.retain(|_, calls| {
        calls
            .back()
            .is_some_and(|at| *at > now_ms.saturating_sub(window_ms))
    });
    if windows.len() < MAX_WINDOWS {
        return;
    }
    let oldest = windows
        .iter()
        .min_by_key(|(_, calls)| calls.back().copied().unwrap_or(i64::MIN))
        .map(|(key, _)| key.clone());
    if let Some(key) = oldest {
        windows.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_per_caller_and_operation() {
        let throttle = Throttle::new(2, Duration::from_secs(60));
        assert_eq!(throttle.describe(), "limit:2, time:1 minute");
        assert!(throttle.admit("AK1", "list_registry", 0));
        assert!(throttle.admit("AK1", "list_registry", 30_000));
        assert!(!throttle.admit("AK1", "list_registry", 59_999));
        // Another operation, another caller: their own windows.
        assert!(throttle.admit("AK1", "list_image_scan_task", 59_999));
        assert!(throttle.admit("AK2", "list_registry", 59_999));
        // The first call leaves the window 60 s after it was made; the refused one never
        // counted.
        assert!(throttle.admit("AK1", "list_registry", 60_000));
        assert!(!throttle.admit("AK1", "list_registry", 60_001));
        assert!(throttle.admit("AK1", "list_registry", 90_000));

        // A window of a second.
        let throttle = Throttle::new(1, Duration::from_secs(1));
        assert_eq!(throttle.describe(), "limit:1, time:1 second");
        assert!(throttle.admit("AK1", "list_registry", 0));
        assert!(!throttle.admit("AK1", "list_registry", 999));
        assert!(throttle.admit("AK1", "list_registry", 1000));
    }

    #[test]
    fn windows_stay_bounded() {
        let throttle = Throttle::new(MAX_RATE_LIMIT + 1, Duration::ZERO);
        assert_eq!(throttle.limit, MAX_RATE_LIMIT as usize);
        assert_eq!(throttle.window_ms, 1);
        for i in 0..(MAX_WINDOWS + 10) {
            assert!(throttle.admit(&format!("AK{i}"), "list_registry", i as i64));
        }
        assert!(throttle.windows.lock().unwrap().len() <= MAX_WINDOWS);
        // The most recent callers are still counted.
        let last = format!("AK{}", MAX_WINDOWS + 9);
        assert_eq!(
            throttle.windows.lock().unwrap()[&(last, "list_registry")].len(),
            1
        );
    }
}
