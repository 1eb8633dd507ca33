//! Canonical fingerprints of public credential material, so that the same key or certificate can
//! be recognised wherever a platform shows it (OWASP NHI9, reuse), and the records that share
//! one.
//!
//! Two forms, both computed from what a platform returns, never from a secret:
//! - `ssh-sha256:<base64, no padding>`: SHA-256 of an SSH public key blob, the digest
//!   `ssh-keygen -l` prints as `SHA256:…` and GitLab returns as `fingerprint_sha256`;
//! - `x509-sha1:<lowercase hex>`: a certificate's SHA-1 thumbprint, as Entra ID returns it in
//!   `customKeyIdentifier`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use crate::model::{Kind, Platform, Status};

const SSH_SHA256: &str = "ssh-sha256:";
const X509_SHA1: &str = "x509-sha1:";

/// An OpenSSH public key line (`ssh-ed25519 AAAA… comment`, options allowed before it) →
/// `ssh-sha256:…`. `None` when no token is a key blob of the type named before it.
pub fn from_ssh_public_key(line: &str) -> Option<String> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    tokens.windows(2).find_map(|pair| {
        let blob = STANDARD.decode(pair[1]).ok()?;
        // A blob starts with its key type as an SSH string (u32 length, then the name): this
        // tells a key from a comment that happens to be valid base64.
        let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
        let key_type = blob.get(4..4 + len)?;
        (key_type == pair[0].as_bytes()).then(|| {
            format!(
                "{SSH_SHA256}{}",
                STANDARD_NO_PAD.encode(Sha256::digest(&blob))
            )
        })
    })
}

/// An SSH SHA-256 fingerprint as GitLab or `ssh-keygen` print it (`SHA256:<base64>`, padded or
/// not) → `ssh-sha256:…`.
pub fn from_ssh_sha256(fingerprint: &str) -> Option<String> {
    let b64 = fingerprint.trim().strip_prefix("SHA256:")?;
    let digest = STANDARD_NO_PAD.decode(b64.trim_end_matches('=')).ok()?;
    (digest.len() == 32).then(|| format!("{SSH_SHA256}{}", STANDARD_NO_PAD.encode(digest)))
}

/// A certificate thumbprint as base64 of its 20 bytes (Graph's `customKeyIdentifier`) →
/// `x509-sha1:…`.
pub fn from_x509_thumbprint_base64(b64: &str) -> Option<String> {
    let bytes = STANDARD.decode(b64.trim()).ok()?;
    (bytes.len() == 20).then(|| format!("{X509_SHA1}{}", hex(&bytes)))
}

/// A certificate thumbprint in hex (any case, `:` separators allowed) → `x509-sha1:…`.
pub fn from_x509_thumbprint_hex(thumbprint: &str) -> Option<String> {
    let digits: String = thumbprint
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    (digits.len() == 40 && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("{X509_SHA1}{digits}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a fingerprint reads in a message: what it is and its ends, e.g. `public key
/// SHA256:ab…yz`.
pub fn describe(fingerprint: &str) -> String {
    let shorten = |s: &str| {
        let chars: Vec<char> = s.chars().collect();
        if chars.len() <= 8 {
            s.to_owned()
        } else {
            let head: String = chars[..4].iter().collect();
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("{head}…{tail}")
        }
    };
    if let Some(b64) = fingerprint.strip_prefix(SSH_SHA256) {
        format!("public key SHA256:{}", shorten(b64))
    } else if let Some(digits) = fingerprint.strip_prefix(X509_SHA1) {
        format!(
            "certificate thumbprint {}",
            shorten(&digits.to_ascii_uppercase())
        )
    } else {
        format!("credential {}", shorten(fingerprint))
    }
}

/// One stored record that carries credential material, as the reuse rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialUse {
    pub id: i64,
    pub fingerprint: Option<String>,
    pub platform: Platform,
    pub scope: String,
    pub kind: Kind,
    pub name: String,
    pub status: Status,
    pub parent_id: Option<i64>,
    /// The parent identity's name, when it is stored.
    pub parent_name: Option<String>,
}

impl CredentialUse {
    /// Where the material is used: its parent identity, or for a credential without one (a
    /// deploy key belongs to a repository, which is not a record) the credential itself.
    /// Two credentials of one identity with the same material (Entra stores an uploaded
    /// certificate as a `Sign` and a `Verify` key) are one place.
    fn place(&self) -> (Platform, &str, i64) {
        (
            self.platform,
            &self.scope,
            self.parent_id.unwrap_or(self.id),
        )
    }

    fn label(&self) -> String {
        let kind = self.kind.as_str().replace('_', " ");
        match &self.parent_name {
            Some(parent) => format!("{} {kind} of `{parent}`", self.platform),
            None => format!("{} {kind} `{}`", self.platform, self.name),
        }
    }
}

/// Credential material found in more than one place, from one record's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialReuse {
    pub fingerprint: String,
    /// How many places hold it, this record's included.
    pub places: usize,
    /// The other places, described, sorted.
    pub elsewhere: Vec<String>,
}

/// Every active record whose fingerprint is held in more than one place, with where else.
/// Gone or disabled records hold nothing; records without a fingerprint match nothing.
pub fn reuse_by_record(uses: &[CredentialUse]) -> HashMap<i64, CredentialReuse> {
    let mut by_fingerprint: HashMap<&str, Vec<&CredentialUse>> = HashMap::new();
    for u in uses {
        if u.status != Status::Active {
            continue;
        }
        if let Some(fp) = u.fingerprint.as_deref() {
            by_fingerprint.entry(fp).or_default().push(u);
        }
    }
    let mut out = HashMap::new();
    for (fp, holders) in by_fingerprint {
        // Place → its description (the first holder's, in id order, for a stable message).
        let mut places: BTreeMap<(Platform, &str, i64), String> = BTreeMap::new();
        let mut sorted = holders.clone();
        sorted.sort_by_key(|u| u.id);
        for u in &sorted {
            places.entry(u.place()).or_insert_with(|| u.label());
        }
        if places.len() < 2 {
            continue;
        }
        for u in sorted {
            let own = u.place();
            let elsewhere: BTreeSet<String> = places
                .iter()
                .filter(|(p, _)| **p != own)
                .map(|(_, label)| label.clone())
                .collect();
            out.insert(
                u.id,
                CredentialReuse {
                    fingerprint: fp.to_owned(),
                    places: places.len(),
                    elsewhere: elsewhere.into_iter().collect(),
                },
            );
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // `ssh-keygen -lf` on this key prints `SHA256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y`.
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG/wUPWWchvaeJLoDWnQAJQ3eiGddpYlS5fpgwsjDKZ/ ci@acme";

    #[test]
    fn ssh_keys_and_gitlab_fingerprints_meet_in_one_form() {
        let from_key = from_ssh_public_key(ED25519).unwrap();
        assert_eq!(
            from_key,
            "ssh-sha256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y"
        );
        // The comment and options do not change it.
        let bare = ED25519.trim_end_matches(" ci@acme");
        assert_eq!(from_ssh_public_key(bare).unwrap(), from_key);
        assert_eq!(
            from_ssh_public_key(&format!("no-pty {ED25519}")).unwrap(),
            from_key
        );
        // GitLab's `fingerprint_sha256` of the same key is the same fingerprint.
        let b64 = from_key.trim_start_matches("ssh-sha256:");
        assert_eq!(from_ssh_sha256(&format!("SHA256:{b64}")).unwrap(), from_key);
        assert_eq!(
            from_ssh_sha256(&format!("SHA256:{b64}=")).unwrap(),
            from_key
        );
        // Another key, another fingerprint.
        let other =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDm9xXIqsBfXatC4+xVLY3BIu3+ZoTF/Bl4vRl4yLoR4";
        assert_ne!(from_ssh_public_key(other).unwrap(), from_key);
    }

    #[test]
    fn what_is_not_a_key_has_no_fingerprint() {
        assert_eq!(from_ssh_public_key(""), None);
        assert_eq!(from_ssh_public_key("ssh-rsa AAA..."), None);
        // Valid base64 whose blob names another type.
        assert_eq!(
            from_ssh_public_key(
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIG/wUPWWchvaeJLoDWnQAJQ3eiGddpYlS5fpgwsjDKZ/"
            ),
            None
        );
        assert_eq!(from_ssh_sha256("MD5:aa:bb"), None);
        assert_eq!(from_ssh_sha256("SHA256:c2hvcnQ"), None);
        assert_eq!(from_x509_thumbprint_base64("c2hvcnQ="), None);
        assert_eq!(from_x509_thumbprint_hex("abc"), None);
    }

    #[test]
    fn thumbprints_in_base64_and_hex_agree() {
        let hex_form = "52:D5:4A:8E:CC:AA:2A:1D:7E:7C:46:56:2E:F1:8E:A5:5A:B8:05:18";
        let bytes: Vec<u8> = hex_form
            .split(':')
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        let b64 = STANDARD.encode(&bytes);
        let fp = from_x509_thumbprint_base64(&b64).unwrap();
        assert_eq!(fp, "x509-sha1:52d54a8eccaa2a1d7e7c46562ef18ea55ab80518");
        assert_eq!(from_x509_thumbprint_hex(hex_form).unwrap(), fp);
        assert_eq!(describe(&fp), "certificate thumbprint 52D5…0518");
    }

    #[test]
    fn descriptions_show_the_ends_only() {
        let fp = from_ssh_public_key(ED25519).unwrap();
        let d = describe(&fp);
        assert_eq!(d, "public key SHA256:g1oh…bI7Y");
    }

    pub(crate) fn deploy_key(
        id: i64,
        platform: Platform,
        scope: &str,
        name: &str,
        fp: &str,
    ) -> CredentialUse {
        CredentialUse {
            id,
            fingerprint: Some(fp.to_owned()),
            platform,
            scope: scope.to_owned(),
            kind: Kind::DeployKey,
            name: name.to_owned(),
            status: Status::Active,
            parent_id: None,
            parent_name: None,
        }
    }

    #[test]
    fn the_same_key_in_three_places_names_the_other_two() {
        let uses = [
            deploy_key(1, Platform::Github, "acme", "acme/api: ci", "fp"),
            deploy_key(2, Platform::Github, "acme", "acme/web: ci", "fp"),
            deploy_key(3, Platform::Gitlab, "infra", "infra/deploy: ci", "fp"),
            deploy_key(4, Platform::Github, "acme", "acme/docs: ci", "other"),
        ];
        let reuse = reuse_by_record(&uses);
        assert_eq!(reuse.len(), 3, "{reuse:?}");
        let one = &reuse[&1];
        assert_eq!(one.places, 3);
        assert_eq!(
            one.elsewhere,
            vec![
                "github deploy key `acme/web: ci`".to_owned(),
                "gitlab deploy key `infra/deploy: ci`".to_owned()
            ]
        );
        assert!(!reuse.contains_key(&4));
    }

    #[test]
    fn two_credentials_of_one_identity_are_one_place() {
        let cert = |id| CredentialUse {
            kind: Kind::Certificate,
            platform: Platform::Azure,
            parent_id: Some(100),
            parent_name: Some("payments-api".into()),
            ..deploy_key(
                id,
                Platform::Azure,
                "tenant",
                "payments-api: cert",
                "x509-sha1:aa",
            )
        };
        assert!(reuse_by_record(&[cert(1), cert(2)]).is_empty());
        // A third credential on another app makes it reuse, named by the other app.
        let mut other = cert(3);
        other.parent_id = Some(200);
        other.parent_name = Some("billing-api".into());
        let reuse = reuse_by_record(&[cert(1), cert(2), other]);
        assert_eq!(reuse.len(), 3);
        assert_eq!(reuse[&1].places, 2);
        assert_eq!(
            reuse[&1].elsewhere,
            vec!["azure certificate of `billing-api`".to_owned()]
        );
        assert_eq!(
            reuse[&3].elsewhere,
            vec!["azure certificate of `payments-api`".to_owned()]
        );
    }

    #[test]
    fn gone_disabled_and_missing_fingerprints_do_not_count() {
        let a = deploy_key(1, Platform::Github, "acme", "acme/api: ci", "fp");
        let mut gone = deploy_key(2, Platform::Github, "acme", "acme/web: ci", "fp");
        gone.status = Status::Gone;
        let mut disabled = deploy_key(3, Platform::Gitlab, "infra", "infra/x: ci", "fp");
        disabled.status = Status::Disabled;
        assert!(reuse_by_record(&[a.clone(), gone, disabled]).is_empty());

        let mut none1 = deploy_key(4, Platform::Github, "acme", "acme/x: ci", "");
        none1.fingerprint = None;
        let mut none2 = deploy_key(5, Platform::Gitlab, "infra", "infra/y: ci", "");
        none2.fingerprint = None;
        assert!(reuse_by_record(&[a, none1, none2]).is_empty());
    }
}
