//! `github.webhook`: the org's webhooks (`GET /orgs/{org}/hooks`): active, events, TLS checking
//! and whether deliveries are signed with a secret.

use chrono::{DateTime, Utc};
use roster_core::record::drop_secret_fields;
use roster_core::{Kind, Record, Signal, Status};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::common::{Ctx, Items, ResourceType, Source, decode};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "github.webhook",
    source: Source::Org(|org| format!("orgs/{org}/hooks")),
    items: Items::Array,
    needs: "organization_hooks:read (classic token: admin:org_hook)",
    map,
};

#[derive(Deserialize)]
struct Hook {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
}

/// A delivery URL can carry credentials (`https://user:pass@…`, `?token=…`): keep the place,
/// drop the userinfo and the query values.
fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return "[unparseable url]".into();
    };
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("redacted");
        let _ = url.set_password(None);
    }
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(names.iter().map(|k| (k.as_str(), "redacted")));
    }
    url.set_fragment(None);
    url.to_string()
}

fn map(ctx: &Ctx<'_>, mut item: Value) -> Result<Option<Record>, String> {
    let hook: Hook = decode(&item)?;
    let config = item.get("config").cloned().unwrap_or(Value::Null);
    // GitHub masks a set secret as "********"; absent or empty means deliveries are unsigned.
    let has_secret = config
        .get("secret")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    let insecure_ssl = match config.get("insecure_ssl") {
        Some(Value::String(s)) => s.trim() == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    };
    let target = config
        .get("url")
        .and_then(Value::as_str)
        .map(redact_url)
        .unwrap_or_else(|| "[no url]".into());
    drop_secret_fields(&mut item, &["secret"]);
    if let Some(Value::Object(c)) = item.get_mut("config") {
        if c.contains_key("url") {
            c.insert("url".into(), Value::String(target.clone()));
        }
        c.insert("has_secret".into(), Value::Bool(has_secret));
    }
    let mut r = ctx.record(
        Kind::Webhook,
        hook.id.to_string(),
        format!("{} → {target}", hook.name.as_deref().unwrap_or("hook")),
        item,
    );
    r.created_at = hook.created_at;
    r.privilege_detail = hook.events.iter().map(|e| format!("event:{e}")).collect();
    if hook.active == Some(false) {
        r.status = Status::Disabled;
    }
    if insecure_ssl {
        r.signals.push(Signal::new(
            "github.webhook.insecure_ssl",
            format!("webhook to {target} delivers with insecure_ssl = 1: TLS certificates are not checked"),
        ));
    }
    if !has_secret {
        r.signals.push(Signal::new(
            "github.webhook.no_secret",
            format!("webhook to {target} has no secret: the receiver cannot tell GitHub's deliveries from forgeries"),
        ));
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn webhook_flags_and_redaction() {
        let ctx = Ctx {
            org: "acme",
            resource_type: RESOURCE.name,
            repo: None,
        };
        let item = json!({"id": 1, "name": "web", "events": ["push"], "active": true,
            "config": {"url": "https://bot:pw@hooks.example.com/x?token=abc", "content_type": "json",
                "insecure_ssl": "1"},
            "created_at": "2011-09-06T17:26:27Z"});
        let r = map(&ctx, item).unwrap().unwrap();
        let rules: Vec<_> = r.signals.iter().map(|s| s.rule.as_str()).collect();
        assert_eq!(
            rules,
            vec!["github.webhook.insecure_ssl", "github.webhook.no_secret"]
        );
        let raw = r.raw.to_string();
        assert!(!raw.contains("pw") && !raw.contains("abc"), "{raw}");
        assert!(r.name.contains("hooks.example.com"), "{}", r.name);
        let item = json!({"id": 2, "active": false,
            "config": {"url": "https://h.example.com/", "insecure_ssl": 0, "secret": "********"}});
        let r = map(&ctx, item).unwrap().unwrap();
        assert!(r.signals.is_empty());
        assert_eq!(r.status, Status::Disabled);
        assert!(r.raw["config"].get("secret").is_none());
        assert_eq!(r.raw["config"]["has_secret"], true);
    }
}
