//! A token bucket per client address for the sign-in routes (`/login`, `/login/bootstrap`,
//! `/auth/callback`): a burst of `capacity` attempts, then one more every `refill`; beyond that,
//! 429.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

/// Buckets kept at most; the full ones are dropped first when there are more.
const MAX_TRACKED: usize = 10_000;

pub struct LoginLimiter {
    capacity: f64,
    refill: Duration,
    /// Tokens left, when last counted, and whether the last attempt was refused.
    buckets: Mutex<HashMap<IpAddr, (f64, Instant, bool)>>,
}

impl Default for LoginLimiter {
    /// 20 attempts at once, then one every 3 seconds.
    fn default() -> Self {
        Self::new(20, Duration::from_secs(3))
    }
}

impl LoginLimiter {
    pub fn new(capacity: u32, refill: Duration) -> Self {
        Self {
            capacity: f64::from(capacity),
            refill,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for the request's peer address; refused, whether this is the first
    /// refusal since the last allowed attempt (so a flood is recorded once, not per request).
    pub fn attempt(&self, req: &HttpRequest) -> Result<(), bool> {
        let Some(ip) = req.peer_addr().map(|a| a.ip()) else {
            return Ok(());
        };
        let verdict = self.attempt_at(ip, Instant::now());
        if verdict.is_err() {
            tracing::warn!(%ip, path = req.path(), "sign-in attempts rate-limited");
        }
        verdict
    }

    fn attempt_at(&self, ip: IpAddr, now: Instant) -> Result<(), bool> {
        let Ok(mut map) = self.buckets.lock() else {
            return Err(false);
        };
        let per_token = self.refill.as_secs_f64().max(f64::EPSILON);
        if map.len() >= MAX_TRACKED {
            let capacity = self.capacity;
            map.retain(|_, (tokens, at, _)| {
                *tokens + now.duration_since(*at).as_secs_f64() / per_token < capacity
            });
        }
        let (tokens, at, refused) = map.entry(ip).or_insert((self.capacity, now, false));
        let refilled =
            (*tokens + now.duration_since(*at).as_secs_f64() / per_token).min(self.capacity);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            *refused = false;
            Ok(())
        } else {
            *tokens = refilled;
            let first = !*refused;
            *refused = true;
            Err(first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl LoginLimiter {
        fn take(&self, ip: IpAddr, now: Instant) -> bool {
            self.attempt_at(ip, now).is_ok()
        }
    }

    #[test]
    fn a_burst_then_one_per_refill() {
        let l = LoginLimiter::new(3, Duration::from_secs(10));
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        let t = Instant::now();
        assert!(l.take(ip, t) && l.take(ip, t) && l.take(ip, t));
        assert!(!l.take(ip, t), "burst spent");
        assert!(l.take(other, t), "per address");
        assert!(!l.take(ip, t + Duration::from_secs(5)));
        assert!(l.take(ip, t + Duration::from_secs(11)), "refilled");
    }

    #[test]
    fn only_the_first_refusal_of_a_streak_is_marked_first() {
        let l = LoginLimiter::new(1, Duration::from_secs(10));
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t = Instant::now();
        assert_eq!(l.attempt_at(ip, t), Ok(()));
        assert_eq!(l.attempt_at(ip, t), Err(true));
        assert_eq!(l.attempt_at(ip, t), Err(false));
        assert_eq!(l.attempt_at(ip, t + Duration::from_secs(11)), Ok(()));
        assert_eq!(l.attempt_at(ip, t + Duration::from_secs(11)), Err(true));
    }
}
