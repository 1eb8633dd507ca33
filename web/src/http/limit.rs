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

/// The client a request comes from: the TCP peer, or, when the peer is a trusted reverse proxy,
/// the last address in `X-Forwarded-For` that is not one (what an attacker prepends is never
/// believed).
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("X-Forwarded-For")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer),
    )
}

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
    pub fn attempt(&self, req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Result<(), bool> {
        let Some(ip) = client_ip(req, trusted) else {
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

    fn from(peer: &str, forwarded: Option<&str>) -> HttpRequest {
        let mut r = actix_web::test::TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(f) = forwarded {
            r = r.insert_header(("X-Forwarded-For", f));
        }
        r.to_http_request()
    }

    /// Behind a trusted proxy the client is the last address it did not add; without one, or
    /// from an untrusted peer, `X-Forwarded-For` is ignored.
    #[test]
    fn the_client_is_found_through_trusted_proxies_only() {
        let proxy: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let via = |f| client_ip(&from("10.0.0.5:443", Some(f)), &proxy);
        assert_eq!(via("203.0.113.7"), ip("203.0.113.7"));
        // What the client sent first is not believed; the proxies' own hops are skipped.
        assert_eq!(via("1.2.3.4, 203.0.113.7, 10.0.0.9"), ip("203.0.113.7"));
        assert_eq!(
            client_ip(&from("10.0.0.5:443", None), &proxy),
            ip("10.0.0.5")
        );
        // Clean twins: an untrusted peer, and no trusted proxies at all.
        assert_eq!(
            client_ip(&from("198.51.100.1:5000", Some("203.0.113.7")), &proxy),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(&from("10.0.0.5:443", Some("203.0.113.7")), &[]),
            ip("10.0.0.5")
        );
    }
}
