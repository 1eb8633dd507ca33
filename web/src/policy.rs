//! Loading the risk policy file named by `[policy] file`.

use std::path::Path;

use roster_core::RiskPolicy;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("invalid policy file {path}: {detail}")]
    Invalid { path: String, detail: String },
}

/// The policy in `path`, or the defaults when no file is configured. toml's errors name the
/// line and column.
pub fn load(path: Option<&Path>) -> Result<RiskPolicy, PolicyError> {
    let Some(path) = path else {
        return Ok(RiskPolicy::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| PolicyError::Invalid {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}
