//! The engine's clock: the one place live evaluation reads "now" from.
//!
//! Waiting is always `tokio::time`; reading the time depends on the clock:
//! - [`Clock::System`] (what `tocsin` runs on) reads the system's wall clock, as
//!   Prometheus and vmalert do, so a clock stepped after start-up (NTP catching up on a
//!   machine that booted with a wrong time) is followed at once.
//! - [`Clock::Tokio`] (what tests run on) derives wall time from `tokio::time::Instant`
//!   and an anchor. Under `tokio::time::pause` it moves only when tokio's clock does
//!   (`advance`, or the runtime's auto-advance while every task sleeps), so a test runs a
//!   group for simulated hours in milliseconds, at timestamps it can state exactly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Where "now" comes from. Cheap to copy.
#[derive(Clone, Copy, Debug, Default)]
pub enum Clock {
    /// The system's wall clock.
    #[default]
    System,
    /// Wall time `anchor_ms` at the tokio instant `at`, moving with tokio's clock.
    Tokio { anchor_ms: i64, at: Instant },
}

impl Clock {
    /// A clock that reads `wall_ms` (milliseconds since the epoch) now and then moves
    /// with tokio's clock: paused when it is paused.
    pub fn tokio_at(wall_ms: i64) -> Clock {
        Clock::Tokio {
            anchor_ms: wall_ms,
            at: Instant::now(),
        }
    }

    /// Milliseconds since the epoch, now.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            Clock::Tokio { anchor_ms, at } => {
                anchor_ms + Instant::now().saturating_duration_since(*at).as_millis() as i64
            }
        }
    }

    /// Now, as a wall-clock time.
    pub fn now(&self) -> SystemTime {
        match self {
            Clock::System => SystemTime::now(),
            Clock::Tokio { anchor_ms, at } => {
                let anchor = UNIX_EPOCH + Duration::from_millis((*anchor_ms).max(0) as u64);
                anchor + Instant::now().saturating_duration_since(*at)
            }
        }
    }

    /// Sleeps until the clock reads `wall_ms` (returns at once if it already does).
    pub async fn sleep_until_ms(&self, wall_ms: i64) {
        let wait = Duration::from_millis((wall_ms - self.now_ms()).max(0) as u64);
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_tokio_clock_moves_only_with_tokio_time() {
        let c = Clock::tokio_at(1_700_000_000_000);
        assert_eq!(c.now_ms(), 1_700_000_000_000);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.now_ms(), 1_700_000_000_000, "real time does not move it");
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(c.now_ms(), 1_700_003_600_000);
        assert_eq!(
            c.now(),
            UNIX_EPOCH + Duration::from_millis(1_700_003_600_000)
        );
        c.sleep_until_ms(1_700_003_690_000).await;
        assert_eq!(
            c.now_ms(),
            1_700_003_690_000,
            "auto-advance reaches the target"
        );
        c.sleep_until_ms(0).await;
        assert_eq!(
            c.now_ms(),
            1_700_003_690_000,
            "a time in the past returns at once"
        );
    }

    #[test]
    fn the_system_clock_reads_the_wall_clock() {
        let before = SystemTime::now();
        let now = Clock::System.now();
        let ms = Clock::System.now_ms();
        assert!(now >= before);
        let before_ms = before.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        assert!(
            ms >= before_ms && ms - before_ms < 60_000,
            "{ms} vs {before_ms}"
        );
    }
}
