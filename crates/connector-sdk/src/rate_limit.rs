//! When to wait and for how long: the rate-limit headers of the platforms we talk to, normalised
//! into one [`RateLimitInfo`], the decision whether a response is a rate limit, and the backoff for
//! transient failures.
//!
//! Header families:
//! - `Retry-After`: delta-seconds or an HTTP-date (RFC 9110), used by GitHub's secondary limits,
//!   GitLab, Graph and GCP.
//! - `X-RateLimit-Remaining` / `X-RateLimit-Reset` (GitHub): reset in epoch seconds.
//! - `RateLimit-Remaining` / `RateLimit-Reset`: GitLab sends epoch seconds, the IETF draft sends
//!   delta seconds; values below 10⁹ (2001-09-09 as an epoch) can only be deltas.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// Below this a reset value is a delta in seconds, not an epoch timestamp.
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// GitHub asks to wait at least a minute after a rate limit that names no time, and to back off
/// exponentially when it repeats.
pub const HEADERLESS_RATE_LIMIT_BASE: Duration = Duration::from_secs(60);

/// No server-directed wait is shorter than this, so a `Retry-After: 0` storm cannot spin: every
/// rate-limit retry consumes some of the bounded wait budget.
pub const MIN_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// The transient-failure backoff never exceeds this, whatever the attempt number.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What a response said about rate limiting, whichever header family it used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the window resets.
    pub reset_at: Option<DateTime<Utc>>,
    /// How long the server asked us to wait (an HTTP-date is converted relative to `now`).
    pub retry_after: Option<Duration>,
}

impl RateLimitInfo {
    /// Reads the rate-limit headers; `now` resolves relative values (HTTP-dates, delta resets).
    /// Unparseable values are ignored rather than fatal: the response itself may still be good.
    pub fn from_headers(headers: &HeaderMap, now: DateTime<Utc>) -> Self {
        let remaining = header_u64(headers, "x-ratelimit-remaining")
            .or_else(|| header_u64(headers, "ratelimit-remaining"));
        let reset_at = header_u64(headers, "x-ratelimit-reset")
            .or_else(|| header_u64(headers, "ratelimit-reset"))
            .and_then(|v| reset_to_instant(v, now));
        let retry_after =
            header_str(headers, "retry-after").and_then(|v| parse_retry_after(v, now));
        Self {
            remaining,
            reset_at,
            retry_after,
        }
    }

    /// If the window is used up (`remaining == 0`) and resets in the future, until when the next
    /// request should hold off (GitHub's primary limit: a request made now would be refused).
    pub fn exhausted_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match (self.remaining, self.reset_at) {
            (Some(0), Some(reset)) if reset > now => Some(reset),
            _ => None,
        }
    }
}

/// Whether a failed response is a rate limit rather than a real refusal. `body` is (a prefix of)
/// the error body; it matters only for statuses that are ambiguous.
pub fn is_rate_limited(status: StatusCode, info: &RateLimitInfo, body: &[u8]) -> bool {
    match status {
        StatusCode::TOO_MANY_REQUESTS => true,
        // GitHub answers both its primary and its secondary limits with 403; GCP's older APIs use
        // 403 with reason `rateLimitExceeded`. Any other 403 is a permission problem.
        StatusCode::FORBIDDEN => {
            info.remaining == Some(0)
                || info.retry_after.is_some()
                || body_mentions(body, &["rate limit", "ratelimitexceeded"])
        }
        // AWS query APIs (IAM) throttle with 400 and an error code in the body.
        StatusCode::BAD_REQUEST => body_mentions(
            body,
            &[
                "<code>throttling</code>",
                "throttlingexception",
                "requestlimitexceeded",
            ],
        ),
        _ => false,
    }
}

/// How long to wait before retrying a response, if it is a rate limit; `None` when it is not one.
/// `attempt` counts the rate-limited responses already seen for this request (0 for the first).
///
/// Order of preference: the server's `Retry-After`; the reset of an exhausted (or unspecified)
/// window if it lies in the future; otherwise exponential backoff from one minute.
pub fn wait_for(
    status: StatusCode,
    info: &RateLimitInfo,
    body: &[u8],
    attempt: u32,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if !is_rate_limited(status, info, body) {
        return None;
    }
    let wait = if let Some(retry_after) = info.retry_after {
        retry_after
    } else if let Some(until_reset) = info
        .reset_at
        .filter(|_| info.remaining.is_none_or(|r| r == 0))
        .and_then(|reset| duration_until(reset, now))
    {
        until_reset
    } else {
        // No usable time (or a reset already in the past, i.e. clock skew): back off.
        HEADERLESS_RATE_LIMIT_BASE.saturating_mul(1 << attempt.min(16))
    };
    Some(wait.max(MIN_RATE_LIMIT_WAIT))
}

/// Exponential backoff for transient failures (5xx, timeouts, connection errors): attempt `n`
/// (0-based) waits `base * 2^n * (1 + jitter)`, capped at [`MAX_BACKOFF`]. `jitter` is clamped to
/// `[0, 0.5]`, so a wait lies in `[base * 2^n, base * 2^n * 1.5]`; the spread keeps many clients
/// that failed together from retrying together.
pub fn backoff(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1 << attempt.min(16));
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 0.5)
    } else {
        0.0
    };
    exp.saturating_add(exp.mul_f64(jitter)).min(MAX_BACKOFF)
}

/// A jitter factor for [`backoff`], drawn uniformly from `[0, 0.5)`.
pub fn random_jitter() -> f64 {
    use rand::Rng;
    rand::thread_rng().gen_range(0.0..0.5)
}

/// The time from `now` to `at`, if `at` is in the future.
pub fn duration_until(at: DateTime<Utc>, now: DateTime<Utc>) -> Option<Duration> {
    (at - now).to_std().ok().filter(|d| !d.is_zero())
}

/// `Retry-After` is either delta-seconds or an HTTP-date.
fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(secs) = parse_seconds(value) {
        return Some(Duration::from_secs(secs));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value)
        .ok()
        .map(DateTime::<Utc>::from)?;
    // A date in the past means "now".
    Some(duration_until(at, now).unwrap_or(Duration::ZERO))
}

fn reset_to_instant(value: u64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if value < EPOCH_THRESHOLD {
        let delta = chrono::Duration::try_seconds(i64::try_from(value).ok()?)?;
        now.checked_add_signed(delta)
    } else {
        DateTime::from_timestamp(i64::try_from(value).ok()?, 0)
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name).and_then(parse_seconds)
}

/// Integer seconds; a fractional value (seen in the wild) is rounded up so we never wait too little.
fn parse_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(n) = value.parse::<u64>() {
        return Some(n);
    }
    let f = value
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15)?;
    // In range by the check above.
    Some(f.ceil() as u64)
}

fn body_mentions(body: &[u8], needles: &[&str]) -> bool {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    needles.iter().any(|n| text.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_735_689_600, 0).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn github_primary_headers() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1735689700"),
        ]);
        let info = RateLimitInfo::from_headers(&h, now());
        assert_eq!(info.remaining, Some(0));
        assert_eq!(info.reset_at, DateTime::from_timestamp(1_735_689_700, 0));
        assert_eq!(info.retry_after, None);
    }

    #[test]
    fn exhausted_window_on_success_blocks_next_request_until_reset() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1735689700"),
        ]);
        let info = RateLimitInfo::from_headers(&h, now());
        assert_eq!(
            info.exhausted_until(now()),
            DateTime::from_timestamp(1_735_689_700, 0)
        );
        // Once the reset has passed, nothing blocks.
        assert_eq!(
            info.exhausted_until(DateTime::from_timestamp(1_735_689_700, 0).unwrap()),
            None
        );
        // Requests left: nothing blocks.
        let h = headers(&[
            ("x-ratelimit-remaining", "1"),
            ("x-ratelimit-reset", "1735689700"),
        ]);
        assert_eq!(
            RateLimitInfo::from_headers(&h, now()).exhausted_until(now()),
            None
        );
    }

    #[test]
    fn gitlab_epoch_and_ietf_delta_resets() {
        let gitlab = headers(&[
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "1735689630"),
        ]);
        assert_eq!(
            RateLimitInfo::from_headers(&gitlab, now()).reset_at,
            DateTime::from_timestamp(1_735_689_630, 0)
        );
        let ietf = headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "42")]);
        assert_eq!(
            RateLimitInfo::from_headers(&ietf, now()).reset_at,
            DateTime::from_timestamp(1_735_689_642, 0)
        );
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let h = headers(&[("retry-after", "120")]);
        assert_eq!(
            RateLimitInfo::from_headers(&h, now()).retry_after,
            Some(Duration::from_secs(120))
        );
        let h = headers(&[("retry-after", "Wed, 01 Jan 2025 00:01:30 GMT")]);
        assert_eq!(
            RateLimitInfo::from_headers(&h, now()).retry_after,
            Some(Duration::from_secs(90))
        );
        let h = headers(&[("retry-after", "Tue, 31 Dec 2024 23:00:00 GMT")]);
        assert_eq!(
            RateLimitInfo::from_headers(&h, now()).retry_after,
            Some(Duration::ZERO)
        );
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(RateLimitInfo::from_headers(&h, now()).retry_after, None);
    }

    #[test]
    fn forbidden_is_a_rate_limit_only_with_evidence() {
        let none = RateLimitInfo::default();
        assert!(!is_rate_limited(
            StatusCode::FORBIDDEN,
            &none,
            b"{\"message\":\"Resource not accessible by integration\"}"
        ));
        assert!(is_rate_limited(
            StatusCode::FORBIDDEN,
            &none,
            b"{\"message\":\"API rate limit exceeded for 1.2.3.4\"}"
        ));
        assert!(is_rate_limited(
            StatusCode::FORBIDDEN,
            &none,
            b"You have exceeded a secondary rate limit"
        ));
        let exhausted = RateLimitInfo {
            remaining: Some(0),
            ..Default::default()
        };
        assert!(is_rate_limited(StatusCode::FORBIDDEN, &exhausted, b""));
        assert!(is_rate_limited(StatusCode::TOO_MANY_REQUESTS, &none, b""));
        assert!(is_rate_limited(
            StatusCode::BAD_REQUEST,
            &none,
            b"<Error><Code>Throttling</Code></Error>"
        ));
        assert!(!is_rate_limited(
            StatusCode::BAD_REQUEST,
            &none,
            b"<Error><Code>InvalidInput</Code></Error>"
        ));
        assert!(!is_rate_limited(
            StatusCode::INTERNAL_SERVER_ERROR,
            &exhausted,
            b"rate limit"
        ));
    }

    #[test]
    fn wait_prefers_retry_after_then_reset_then_backoff() {
        let reset = DateTime::from_timestamp(1_735_689_630, 0);
        let both = RateLimitInfo {
            remaining: Some(0),
            reset_at: reset,
            retry_after: Some(Duration::from_secs(5)),
        };
        assert_eq!(
            wait_for(StatusCode::TOO_MANY_REQUESTS, &both, b"", 0, now()),
            Some(Duration::from_secs(5))
        );
        let reset_only = RateLimitInfo {
            remaining: Some(0),
            reset_at: reset,
            retry_after: None,
        };
        assert_eq!(
            wait_for(StatusCode::FORBIDDEN, &reset_only, b"", 0, now()),
            Some(Duration::from_secs(30))
        );
        let none = RateLimitInfo::default();
        assert_eq!(
            wait_for(StatusCode::TOO_MANY_REQUESTS, &none, b"", 0, now()),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            wait_for(StatusCode::TOO_MANY_REQUESTS, &none, b"", 2, now()),
            Some(Duration::from_secs(240))
        );
        // A reset in the past (clock skew) falls back to the backoff instead of spinning.
        let stale = RateLimitInfo {
            remaining: Some(0),
            reset_at: DateTime::from_timestamp(1, 0),
            retry_after: None,
        };
        assert_eq!(
            wait_for(StatusCode::TOO_MANY_REQUESTS, &stale, b"", 0, now()),
            Some(Duration::from_secs(60))
        );
        // Retry-After: 0 still waits the floor.
        let zero = RateLimitInfo {
            retry_after: Some(Duration::ZERO),
            ..Default::default()
        };
        assert_eq!(
            wait_for(StatusCode::TOO_MANY_REQUESTS, &zero, b"", 0, now()),
            Some(MIN_RATE_LIMIT_WAIT)
        );
        // Not a rate limit: no wait.
        assert_eq!(
            wait_for(StatusCode::FORBIDDEN, &none, b"denied", 0, now()),
            None
        );
        assert_eq!(wait_for(StatusCode::OK, &reset_only, b"", 0, now()), None);
    }

    #[test]
    fn backoff_doubles_within_jitter_bounds() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 0, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(base, 3, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(base, 3, 0.5), Duration::from_secs(12));
        assert_eq!(backoff(base, 3, 7.0), Duration::from_secs(12));
        assert_eq!(backoff(base, 30, 0.0), MAX_BACKOFF);
        for attempt in 0..5 {
            let d = backoff(base, attempt, random_jitter());
            let low = base * 2u32.pow(attempt);
            assert!(
                d >= low && d <= low.mul_f64(1.5),
                "attempt {attempt}: {d:?}"
            );
        }
    }
}
