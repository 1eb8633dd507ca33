//! Time as an input. The HTTP client reads `now` and sleeps only through a [`Clock`], so tests of
//! rate limits and retries run instantly against a [`FakeClock`] and can assert the exact waits.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The source of "now" and of waiting.
#[async_trait]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Wait for `d` (a fake clock returns at once and advances instead).
    async fn sleep(&self, d: Duration);
}

/// The real clock: `Utc::now()` and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A clock for tests: `sleep` returns immediately, moves `now` forward by the requested duration
/// and records it, so a test can assert every wait the code asked for.
#[derive(Debug)]
pub struct FakeClock {
    state: Mutex<FakeState>,
}

#[derive(Debug)]
struct FakeState {
    now: DateTime<Utc>,
    slept: Vec<Duration>,
}

impl FakeClock {
    /// A fake clock that starts at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            state: Mutex::new(FakeState {
                now: start,
                slept: Vec::new(),
            }),
        }
    }

    /// Move time forward without recording a sleep (time passing outside the code under test).
    pub fn advance(&self, d: Duration) {
        let mut state = self.lock();
        state.now = add(state.now, d);
    }

    /// Every sleep requested so far, in order.
    pub fn slept(&self) -> Vec<Duration> {
        self.lock().slept.clone()
    }

    /// The sum of all requested sleeps.
    pub fn total_slept(&self) -> Duration {
        self.lock().slept.iter().sum()
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        // A test that panicked while holding the lock must not hide its own failure behind ours.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for FakeClock {
    /// Starts at 2025-01-01T00:00:00Z: a fixed, round instant keeps expected values readable.
    fn default() -> Self {
        Self::new(DateTime::from_timestamp(1_735_689_600, 0).unwrap_or(DateTime::UNIX_EPOCH))
    }
}

#[async_trait]
impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    async fn sleep(&self, d: Duration) {
        let mut state = self.lock();
        state.now = add(state.now, d);
        state.slept.push(d);
    }
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fake_sleep_advances_and_records() {
        let clock = FakeClock::default();
        let start = clock.now();
        clock.sleep(Duration::from_secs(3)).await;
        clock.advance(Duration::from_secs(10));
        clock.sleep(Duration::from_millis(500)).await;
        assert_eq!(
            clock.slept(),
            vec![Duration::from_secs(3), Duration::from_millis(500)]
        );
        assert_eq!(clock.total_slept(), Duration::from_millis(3500));
        assert_eq!(clock.now() - start, chrono::Duration::milliseconds(13_500));
    }
}
