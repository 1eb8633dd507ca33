//! What the resource types share: the record skeleton of a listing, decoding an item without
//! quoting its values, owners named in descriptions, and privilege arithmetic.

use roster_core::{Kind, Platform, Privilege, Record, RecordKey};
use serde_json::Value;

/// A record of `resource_type` in `project` with everything unknown: the mapper fills in what
/// GCP says.
pub(crate) fn record(
    resource_type: &str,
    project: &str,
    kind: Kind,
    external_id: String,
    name: String,
    raw: Value,
) -> Record {
    Record::unknown(
        RecordKey {
            resource_type: resource_type.to_string(),
            scope: project.to_string(),
            external_id,
        },
        Platform::Gcp,
        kind,
        name,
        raw,
    )
}

pub(crate) use roster_connector_sdk::decode_item as decode;

/// GCP service accounts, pools and providers have no labels; teams write the owner into the
/// description instead. `owner: team-payments` or `owner=alice@acme.com` (case-insensitive key,
/// value up to the next whitespace, comma or semicolon) names it.
pub(crate) fn owner_in_description(description: Option<&str>) -> Option<String> {
    let d = description?;
    let lower = d.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("owner") {
        let start = from + pos;
        from = start + "owner".len();
        // A whole word: not `coowner` nor `owners`.
        let before_ok = start == 0
            || !lower[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let rest = d[from..].trim_start();
        let Some(rest) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('=')) else {
            continue;
        };
        if !before_ok {
            continue;
        }
        let value: String = rest
            .trim_start()
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ';' | ')' | ']'))
            .collect();
        let value = value.trim_matches(|c| c == '"' || c == '\'' || c == '.');
        if !value.is_empty() {
            return Some(value.to_string());
        }
    }
    None
}

/// The stronger of two privileges (unknown is the weakest).
pub(crate) fn max_privilege(a: Privilege, b: Privilege) -> Privilege {
    fn rank(p: Privilege) -> u8 {
        match p {
            Privilege::Unknown => 0,
            Privilege::Read => 1,
            Privilege::Write => 2,
            Privilege::Admin => 3,
        }
    }
    if rank(b) > rank(a) { b } else { a }
}

/// The last segment of a resource name (`projects/p/serviceAccounts/x/keys/ID` → `ID`).
pub(crate) fn last_segment(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_descriptions() {
        let o = |d: &str| owner_in_description(Some(d));
        assert_eq!(
            o("CI deployer. owner: team-payments"),
            Some("team-payments".into())
        );
        assert_eq!(
            o("Owner=alice@acme.com, rotated yearly"),
            Some("alice@acme.com".into())
        );
        assert_eq!(o("owner: 'bob'."), Some("bob".into()));
        assert_eq!(o("coowner: x; no owners here"), None);
        assert_eq!(o("owner of nothing"), None);
        assert_eq!(owner_in_description(None), None);
    }
}
