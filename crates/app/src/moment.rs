//! Moments as people type them, for `--as-of` flags and the audit log's time filters.

/// A moment as a person types it (a flag, a filter): a date (`2027-01-01`, midnight UTC), a time without a zone
/// (`2027-01-01T09:30:00`, UTC), or an RFC 3339 time (`2027-01-01T09:30:00+02:00`).
pub fn parse_moment(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Ok(Utc.from_utc_datetime(&t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(Utc.from_utc_datetime(&t));
    }
    Err(format!(
        "`{s}` is not a date (2027-01-01), a UTC time (2027-01-01T09:30:00) or an RFC 3339 \
         time (2027-01-01T09:30:00Z)"
    ))
}
