//! Clock-skew correction. The gateway refuses a signature whose `X-Sdk-Date` is more than
//! 15 minutes from its clock (APIG.0301). When that happens and the answer's `Date` shows our
//! clock is off, the client signs with the gateway's time from then on, shared by clones.
//!
//! Only offsets within ±24 hours are adopted: a clock confused about its time zone is off by up
//! to 14 hours and must still work, but a `Date` of 1970 or 9999 is a lying or broken server,
//! not a reason to sign for that instant.

use crate::clock::shift;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::SystemTime;

/// An offset smaller than this is not the cause of a refused signature.
pub(crate) const THRESHOLD_SECS: i64 = 5 * 60;
/// The largest offset adopted.
pub(crate) const MAX_ADOPTED_SECS: i64 = 24 * 60 * 60;

/// The correction added to the local clock for signing, in seconds.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClockSkew(Arc<AtomicI64>);

/// What a refused signature's `Date` says about our clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the gateway's tolerance: the clock is not why the signature was refused.
    InTolerance,
    /// Adopted: sign with the gateway's time and try again.
    Adopted { offset_secs: i64 },
    /// Too far to trust: the system clock must be fixed.
    TooFar { offset_secs: i64 },
}

impl ClockSkew {
    /// `local` corrected by the learnt offset.
    pub(crate) fn correct(&self, local: SystemTime) -> SystemTime {
        shift(local, self.0.load(Ordering::Relaxed))
    }

    /// Learns from the `Date` of a refused signature, given the time the request was signed
    /// with.
    pub(crate) fn learn(&self, server_date: SystemTime, signed_at: SystemTime) -> Verdict {
        let offset = offset_secs(server_date, signed_at);
        if offset.abs() <= THRESHOLD_SECS {
            return Verdict::InTolerance;
        }
        let total = self.0.load(Ordering::Relaxed).saturating_add(offset);
        if total.abs() > MAX_ADOPTED_SECS {
            return Verdict::TooFar { offset_secs: total };
        }
        self.0.store(total, Ordering::Relaxed);
        Verdict::Adopted {
            offset_secs: offset,
        }
    }
}

/// How far `server` is ahead of `local` (negative: behind), in whole seconds, saturated.
fn offset_secs(server: SystemTime, local: SystemTime) -> i64 {
    match server.duration_since(local) {
        Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
        Err(behind) => i64::try_from(behind.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn at(secs: i64) -> SystemTime {
        shift(SystemTime::UNIX_EPOCH + NOW, secs)
    }

    #[test]
    fn adopts_offsets_beyond_tolerance_within_a_day() {
        let skew = ClockSkew::default();
        assert_eq!(skew.learn(at(200), at(0)), Verdict::InTolerance);
        assert_eq!(
            skew.learn(at(-14 * 3600), at(0)),
            Verdict::Adopted {
                offset_secs: -14 * 3600
            }
        );
        assert_eq!(skew.correct(at(0)), at(-14 * 3600));
    }

    #[test]
    fn refuses_absurd_dates() {
        let skew = ClockSkew::default();
        let epoch = SystemTime::UNIX_EPOCH;
        assert!(matches!(
            skew.learn(epoch, at(0)),
            Verdict::TooFar { offset_secs } if offset_secs < -MAX_ADOPTED_SECS
        ));
        let far = epoch + Duration::from_secs(253_402_300_799);
        assert!(matches!(skew.learn(far, at(0)), Verdict::TooFar { .. }));
        assert_eq!(skew.correct(at(0)), at(0), "nothing adopted");
    }
}
