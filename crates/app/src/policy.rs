//! Loading the risk policy file named by `[policy] file`, and the hash recorded with every
//! evaluation made under it.

use std::path::Path;

use roster_core::RiskPolicy;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("invalid policy file {path}: {detail}")]
    Invalid { path: String, detail: String },
}

/// A policy and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    pub policy: RiskPolicy,
    /// `sha256:` of the file's bytes, or of `builtin-defaults` when no file is configured.
    pub hash: String,
}

/// `sha256:<hex>` of `bytes`, the form every recorded hash takes.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The policy in `path`, or the defaults when no file is configured. toml's errors name the
/// line and column.
pub fn load(path: Option<&Path>) -> Result<RiskPolicy, PolicyError> {
    load_with_hash(path).map(|l| l.policy)
}

pub fn load_with_hash(path: Option<&Path>) -> Result<LoadedPolicy, PolicyError> {
    let Some(path) = path else {
        return Ok(LoadedPolicy {
            policy: RiskPolicy::default(),
            hash: sha256(b"builtin-defaults"),
        });
    };
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let policy: RiskPolicy = toml::from_str(&text).map_err(|e| PolicyError::Invalid {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    policy.validate().map_err(|e| PolicyError::Invalid {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    Ok(LoadedPolicy {
        policy,
        hash: sha256(text.as_bytes()),
    })
}
