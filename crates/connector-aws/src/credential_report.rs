//! The IAM credential report: one CSV with every user's console password and both access keys'
//! rotation and last use. One document replaces a GetAccessKeyLastUsed call per key.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// One access-key column pair of a report row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportKey {
    pub active: bool,
    /// Creation (or last rotation) time: how a key id is matched to its column.
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_service: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportRow {
    pub password_enabled: Option<bool>,
    pub password_last_used: Option<DateTime<Utc>>,
    pub keys: [ReportKey; 2],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credential report: {0}")]
pub struct ReportError(pub String);

fn when(v: Option<&str>) -> Option<DateTime<Utc>> {
    v.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

fn meaningful(v: Option<&str>) -> Option<String> {
    v.filter(|s| !matches!(*s, "N/A" | "no_information" | "not_supported" | ""))
        .map(str::to_owned)
}

/// Parses the report's CSV into rows by user name (the root account's row is skipped).
pub fn parse(csv_bytes: &[u8]) -> Result<HashMap<String, ReportRow>, ReportError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(csv_bytes);
    let headers = reader
        .headers()
        .map_err(|e| ReportError(e.to_string()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let user = col("user").ok_or_else(|| ReportError("no `user` column".into()))?;
    let mut rows = HashMap::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| ReportError(e.to_string()))?;
        let get = |name: &str| col(name).and_then(|i| rec.get(i));
        let Some(name) = rec.get(user) else { continue };
        if name == "<root_account>" {
            continue;
        }
        let key = |n: u8| ReportKey {
            active: get(&format!("access_key_{n}_active")) == Some("true"),
            last_rotated: when(get(&format!("access_key_{n}_last_rotated"))),
            last_used: when(get(&format!("access_key_{n}_last_used_date"))),
            last_used_service: meaningful(get(&format!("access_key_{n}_last_used_service"))),
        };
        rows.insert(
            name.to_owned(),
            ReportRow {
                password_enabled: match get("password_enabled") {
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    _ => None,
                },
                password_last_used: when(get("password_last_used")),
                keys: [key(1), key(2)],
            },
        );
    }
    Ok(rows)
}

/// Key columns per row: the report describes at most two keys of a user.
pub const KEY_COLUMNS: usize = 2;

/// Which of one user's keys (given by creation time) the report cannot tell apart: its columns
/// carry no key id, only a creation time to the second, so two keys created in the same second
/// (as automation does) match the same column, and keys past the column count have none. Those
/// keys' usage must be asked of IAM key by key.
pub fn indistinct(created: &[Option<DateTime<Utc>>]) -> Vec<bool> {
    if created.len() > KEY_COLUMNS {
        return vec![true; created.len()];
    }
    let second = |c: &Option<DateTime<Utc>>| c.map(|t| t.timestamp());
    created
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let others = created
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| second(o));
            match second(c) {
                // Nothing to match on once the user has another key.
                None => created.len() > 1,
                Some(s) => others.into_iter().any(|o| o == Some(s)),
            }
        })
        .collect()
}

impl ReportRow {
    /// The report column of a key created at `created`: the column whose rotation time is the
    /// key's creation time (to the second), else the `index`-th key by age — unless that
    /// column was rotated before the key existed, so describes an older key (a report
    /// generated before a rotation, which AWS reuses for up to four hours).
    pub fn key_for(&self, created: Option<DateTime<Utc>>, index: usize) -> Option<&ReportKey> {
        if let Some(c) = created {
            if let Some(k) = self.keys.iter().find(|k| {
                k.last_rotated
                    .is_some_and(|r| r.timestamp() == c.timestamp())
            }) {
                return Some(k);
            }
        }
        self.keys
            .get(index)
            .filter(|k| match (k.last_rotated, created) {
                (None, _) => false,
                (Some(r), Some(c)) => r.timestamp() >= c.timestamp(),
                (Some(_), None) => true,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::1:root,2026-01-01T00:00:00+00:00,not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
ci,arn:aws:iam::1:user/ci,2026-11-22T00:18:33+00:00,true,no_information,2026-11-22T00:18:33+00:00,not_supported,false,true,2026-11-22T00:18:33+00:00,2026-11-22T00:19:00+00:00,us-east-1,sts,true,2026-11-22T00:20:00+00:00,N/A,not_supported,not_supported,false,N/A,false,N/A
";

    #[test]
    fn rows_keys_and_matching_by_creation_time() {
        let rows = parse(REPORT.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        let ci = &rows["ci"];
        assert_eq!(ci.password_enabled, Some(true));
        let created2 = DateTime::parse_from_rfc3339("2026-11-22T00:20:00.417Z")
            .unwrap()
            .with_timezone(&Utc);
        let k2 = ci.key_for(Some(created2), 0).unwrap();
        assert!(k2.active && k2.last_used.is_none());
        let k1 = ci.key_for(None, 0).unwrap();
        assert_eq!(k1.last_used_service.as_deref(), Some("sts"));
        assert!(parse(b"nope\n1,2").is_err());
        // A column rotated before the key was created describes an older key.
        let later = DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ci.key_for(Some(later), 0), None);
    }

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    #[test]
    fn keys_created_in_the_same_second_cannot_be_told_apart() {
        let same = [
            at("2026-11-22T00:18:33.100Z"),
            at("2026-11-22T00:18:33.900Z"),
        ];
        assert_eq!(indistinct(&same), [true, true]);
        let third = [same[0], same[1], at("2026-11-22T01:00:00Z")];
        assert_eq!(indistinct(&third), [true, true, true]);
        assert_eq!(
            indistinct(&[None, at("2026-11-22T01:00:00Z")]),
            [true, false]
        );
    }

    #[test]
    fn keys_created_in_different_seconds_are_told_apart() {
        let apart = [
            at("2026-11-22T00:18:33.900Z"),
            at("2026-11-22T00:18:34.000Z"),
        ];
        assert_eq!(indistinct(&apart), [false, false]);
        assert_eq!(indistinct(&[None]), [false]);
        assert_eq!(indistinct(&[]), Vec::<bool>::new());
    }
}
