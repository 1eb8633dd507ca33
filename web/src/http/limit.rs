//! A token bucket per client address for the sign-in routes (`/login`, `/login/bootstrap`,
//! `/auth/callback`) and for refused API tokens: a burst of `capacity` attempts, then one more
//! every `refill`; beyond that, 429. One more bucket caps all clients together, so that many
//! addresses (a botnet, a spoofing-friendly network) cannot multiply the rate.

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

/// Tokens left, when last counted, and whether the last attempt was refused.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    refused: bool,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Bucket {
            tokens: capacity,
            at: now,
            refused: false,
        }
    }

    fn refilled(&self, capacity: f64, per_token: f64, now: Instant) -> f64 {
        (self.tokens + now.duration_since(self.at).as_secs_f64() / per_token).min(capacity)
    }

    /// Takes one token; refused, whether this is the first refusal of a streak.
    fn take(&mut self, capacity: f64, per_token: f64, now: Instant) -> Result<(), bool> {
        let refilled = self.refilled(capacity, per_token, now);
        self.at = now;
        if refilled >= 1.0 {
            self.tokens = refilled - 1.0;
            self.refused = false;
            Ok(())
        } else {
            self.tokens = refilled;
            let first = !self.refused;
            self.refused = true;
            Err(first)
        }
    }
}

/// Token buckets per key (a client address, a principal), and optionally one for all keys
/// together.
pub struct Limiter<K> {
    capacity: f64,
    refill: Duration,
    buckets: Mutex<HashMap<K, Bucket>>,
    global_capacity: f64,
    global_refill: Duration,
    global: Mutex<Option<Bucket>>,
}

/// The sign-in limit, per client address.
pub type LoginLimiter = Limiter<IpAddr>;

impl Default for Limiter<IpAddr> {
    /// 20 attempts at once per client, then one every 3 seconds; 200 at once from all clients
    /// together, then 20 a second.
    fn default() -> Self {
        Self::new(20, Duration::from_secs(3)).with_global(200, Duration::from_millis(50))
    }
}

/// How many refusals of one principal are recorded: a burst of 30, then one every 10 seconds;
/// beyond that only the first of a streak. A signed-in user cannot flood the audit trail with
/// `auth.access_denied` events.
pub fn refusal_throttle() -> Limiter<String> {
    Limiter::new(30, Duration::from_secs(10))
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    pub fn new(capacity: u32, refill: Duration) -> Self {
        Self {
            capacity: f64::from(capacity),
            refill,
            buckets: Mutex::new(HashMap::new()),
            global_capacity: f64::MAX,
            global_refill: Duration::ZERO,
            global: Mutex::new(None),
        }
    }

    /// Caps all keys together at `capacity` attempts, then one every `refill`.
    pub fn with_global(mut self, capacity: u32, refill: Duration) -> Self {
        self.global_capacity = f64::from(capacity);
        self.global_refill = refill;
        self
    }

    /// Takes one token for `key` (and from the global bucket); refused, whether this is the
    /// first refusal of a streak.
    pub fn attempt_key(&self, key: &K) -> Result<(), bool> {
        self.attempt_at(key.clone(), Instant::now())
    }

    fn attempt_at(&self, key: K, now: Instant) -> Result<(), bool> {
        {
            let Ok(mut map) = self.buckets.lock() else {
                return Err(false);
            };
            let per_token = self.refill.as_secs_f64().max(f64::EPSILON);
            if map.len() >= MAX_TRACKED {
                let capacity = self.capacity;
                map.retain(|_, b| b.refilled(capacity, per_token, now) < capacity);
            }
            map.entry(key)
                .or_insert_with(|| Bucket::full(self.capacity, now))
                .take(self.capacity, per_token, now)?;
        }
        if self.global_capacity == f64::MAX {
            return Ok(());
        }
        let Ok(mut global) = self.global.lock() else {
            return Err(false);
        };
        let per_token = self.global_refill.as_secs_f64().max(f64::EPSILON);
        global
            .get_or_insert_with(|| Bucket::full(self.global_capacity, now))
            .take(self.global_capacity, per_token, now)
    }
}

impl Limiter<IpAddr> {
    /// Takes one token for the request's client; refused, whether this is the first refusal
    /// since the last allowed attempt (so a flood is recorded once, not per request).
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
}

#[cfg(test)]
mod tests {
    use super::*;

    impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
        fn take(&self, ip: K, now: Instant) -> bool {
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
    fn all_clients_together_are_capped_too() {
        let l =
            LoginLimiter::new(3, Duration::from_secs(10)).with_global(5, Duration::from_secs(10));
        let t = Instant::now();
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        // Five clients of one attempt each spend the global burst; the sixth is refused,
        // though its own bucket is full, and the refusal is the first of its streak.
        for n in 1..=5 {
            assert!(l.take(ip(n), t), "client {n}");
        }
        assert_eq!(l.attempt_at(ip(6), t), Err(true));
        assert_eq!(l.attempt_at(ip(7), t), Err(false));
        assert!(l.take(ip(6), t + Duration::from_secs(11)), "refilled");
        // The clean twin: without a global cap, many clients each keep their own burst.
        let open = LoginLimiter::new(3, Duration::from_secs(10));
        assert!((1..=50).all(|n| open.take(ip(n), t)));
    }

    #[test]
    fn a_principal_s_refusals_are_recorded_in_a_burst_then_once_per_streak() {
        let l = refusal_throttle();
        let t = Instant::now();
        let mallory = "sso:mallory@acme.example".to_owned();
        assert!((0..30).all(|_| l.take(mallory.clone(), t)));
        assert_eq!(l.attempt_at(mallory.clone(), t), Err(true));
        assert_eq!(l.attempt_at(mallory.clone(), t), Err(false));
        // Another principal is not held back by mallory's flood.
        assert!(l.take("sso:alice@acme.example".to_owned(), t));
        assert!(l.take(mallory, t + Duration::from_secs(11)), "refilled");
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
