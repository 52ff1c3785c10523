//! Moving an instant by a signed number of seconds: what the client's clock-skew correction and
//! the emulator's clock offset both do. A crate-level module, so that the emulator needs nothing
//! from the client.

use std::time::{Duration, SystemTime};

/// `time` moved by `offset_secs`; unchanged where that would leave `SystemTime`'s range. The
/// one clock-shifting function of the crate.
pub(crate) fn shift(time: SystemTime, offset_secs: i64) -> SystemTime {
    let by = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 {
        time.checked_add(by).unwrap_or(time)
    } else {
        time.checked_sub(by).unwrap_or(time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_never_leaves_the_range() {
        let t = SystemTime::UNIX_EPOCH;
        assert_eq!(shift(t, 60), t + Duration::from_secs(60));
        let last = t + Duration::from_secs(i64::MAX as u64);
        assert_eq!(shift(last, 1), last);
        assert_eq!(shift(shift(last, -1), 1), last);
    }
}
