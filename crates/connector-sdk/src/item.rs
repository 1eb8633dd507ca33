//! Decoding one item of a platform's JSON answer into the fields a connector's mapper reads.

use serde::de::DeserializeOwned;

/// Decodes `item` as `T`. The error names the type and what was wrong, never a value: serde's
/// messages can quote the offending value, which may be secret material.
pub fn decode_item<T: DeserializeOwned>(item: &serde_json::Value) -> Result<T, String> {
    T::deserialize(item).map_err(|e| {
        let msg = e.to_string();
        let kind = msg.split(':').next().unwrap_or("invalid item");
        let name = std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("item");
        format!("{name}: {kind}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Key {
        #[allow(dead_code)]
        id: u32,
    }

    #[test]
    fn the_error_names_the_type_but_never_the_value() {
        let err = decode_item::<Key>(&serde_json::json!({"id": "s3cr3t-value"})).unwrap_err();
        assert!(err.starts_with("Key: invalid type"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        assert_eq!(
            decode_item::<Key>(&serde_json::json!({"id": 7}))
                .unwrap()
                .id,
            7
        );
    }
}
