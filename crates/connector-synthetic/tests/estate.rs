#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The whole sample estate against what its platforms make possible, and the planted stories
//! against the risk rules that should find them: what `roster demo` shows an expert.

use std::collections::{HashMap, HashSet};

use roster_connector_sdk::Connector;
use roster_connector_synthetic::{
    DEPARTED, Story, SyntheticConfig, SyntheticConnector, default_anchor, has_expiry,
    sample_directory,
};
use roster_core::directory::Directory;
use roster_core::risk::{Context, RiskPolicy};
use roster_core::{Kind, Platform, Privilege, Record, Status, Usage};

/// The demo's defaults.
const DEMO_SIZE: u64 = 5000;
const DEMO_SEED: u64 = 42;

async fn estate(count: u64, seed: u64) -> Vec<Record> {
    let c = SyntheticConnector::new(SyntheticConfig {
        count,
        seed,
        anchor: default_anchor(),
        page_size: 500,
    })
    .unwrap();
    let mut out = Vec::new();
    for l in c.plan().await.unwrap() {
        out.extend(roster_connector_sdk::list_all(&c, &l, 1000).await.unwrap());
    }
    out
}

fn directory() -> Directory {
    let mut d = Directory::default();
    for (who, present) in sample_directory() {
        d.insert([who.as_str()], present);
    }
    d
}

fn rules_of(r: &Record, d: &Directory) -> Vec<String> {
    let ctx = Context {
        directory: d,
        ..Context::default()
    };
    RiskPolicy::default()
        .evaluate_with(r, default_anchor(), &ctx)
        .findings
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

fn is_departed(owner: Option<&str>) -> bool {
    owner.is_some_and(|o| DEPARTED.iter().any(|p| format!("{p}@acme.example") == o))
}

#[tokio::test]
async fn every_record_is_possible_on_its_platform() {
    let anchor = default_anchor();
    for (count, seed) in [(DEMO_SIZE, DEMO_SEED), (1200, 7)] {
        let recs = estate(count, seed).await;
        assert_eq!(recs.len() as u64, count);
        let by_key: HashMap<_, _> = recs.iter().map(|r| (r.key.clone(), r)).collect();
        for r in &recs {
            let what = format!("{} {} ({})", r.kind, r.name, r.key.resource_type);
            // Expiry only where the platform has one.
            if !has_expiry(r.platform, r.kind) {
                assert_eq!(r.expires_at, None, "{what} cannot expire");
            }
            // Used only between creation and expiry, and not in the future.
            let created = r.created_at.unwrap();
            assert!(created <= anchor, "{what} created after the anchor");
            if let Some(used) = r.last_used_at {
                assert_eq!(r.usage, Usage::Used, "{what}");
                assert!(used >= created, "{what} used before it existed");
                assert!(used <= anchor, "{what} used in the future");
                if let Some(exp) = r.expires_at {
                    assert!(used <= exp, "{what} used after it expired");
                }
            } else {
                assert_ne!(r.usage, Usage::Used, "{what} used with no date");
            }
            // Privilege in each kind's own vocabulary.
            match r.kind {
                Kind::Webhook => {
                    assert_eq!(r.privilege, Privilege::Unknown, "{what}");
                    assert!(
                        r.privilege_detail.iter().all(|x| x.starts_with("event:")),
                        "{what}: {:?}",
                        r.privilege_detail
                    );
                }
                Kind::Runner => {
                    assert_eq!(r.privilege, Privilege::Unknown, "{what}");
                    assert!(
                        r.privilege_detail
                            .iter()
                            .any(|x| x.starts_with("repository:")),
                        "{what}: a runner's reach is its repositories: {:?}",
                        r.privilege_detail
                    );
                }
                Kind::DeployKey => assert!(
                    matches!(r.privilege, Privilege::Read | Privilege::Write),
                    "{what}: a deploy key reads or pushes"
                ),
                Kind::CiSecret => assert_eq!(r.privilege, Privilege::Unknown, "{what}"),
                _ => {}
            }
            let admin_words = r
                .privilege_detail
                .iter()
                .any(|x| x.starts_with("administration:") || x.contains("AdministratorAccess"));
            if admin_words {
                assert_eq!(r.privilege, Privilege::Admin, "{what}");
            }
            // A key acts with its identity's permissions and answers to its owner.
            if matches!(r.kind, Kind::AccessKey | Kind::ServiceAccountKey) {
                let parent = by_key[r.parent.as_ref().unwrap()];
                assert_eq!(
                    (r.privilege, &r.privilege_detail, &r.owner),
                    (parent.privilege, &parent.privilege_detail, &parent.owner),
                    "{what}"
                );
            }
            // An identity whose credentials were used was used, no earlier than they were.
            let children_last = recs
                .iter()
                .filter(|c| c.parent.as_ref() == Some(&r.key))
                .filter_map(|c| c.last_used_at)
                .max();
            if let Some(c) = children_last
                && r.usage != Usage::NoTelemetry
            {
                assert!(
                    r.last_used_at >= Some(c),
                    "{what} used before its credentials"
                );
            }
        }
        // Some of every kind with an expiry carry one; GitLab access tokens always do.
        for r in recs.iter().filter(|r| {
            r.platform == Platform::Gitlab
                && matches!(r.kind, Kind::ProjectToken | Kind::GroupToken)
        }) {
            assert!(r.expires_at.is_some(), "{} has no expiry", r.name);
        }
        assert!(
            recs.iter()
                .any(|r| r.expires_at.is_some_and(|e| e <= anchor))
        );
    }
}

#[tokio::test]
async fn listing_sizes_vary_and_every_listing_has_records() {
    let recs = estate(DEMO_SIZE, DEMO_SEED).await;
    let mut sizes: HashMap<(String, String), usize> = HashMap::new();
    for r in &recs {
        *sizes
            .entry((r.key.resource_type.clone(), r.key.scope.clone()))
            .or_default() += 1;
    }
    assert_eq!(sizes.len(), roster_connector_synthetic::LISTINGS.len());
    let distinct: HashSet<usize> = sizes.values().copied().collect();
    assert!(distinct.len() >= 8, "{sizes:?}");
    let (min, max) = (
        *sizes.values().min().unwrap(),
        *sizes.values().max().unwrap(),
    );
    assert!(max >= 5 * min, "{sizes:?}");
    // Small estates still show every listing.
    let small = estate(4 * roster_connector_synthetic::LISTINGS.len() as u64, 1).await;
    let listed: HashSet<_> = small.iter().map(|r| &r.key.resource_type).collect();
    assert_eq!(listed.len(), 18);
}

/// Each story is planted a handful of times in the demo, and in smaller estates at least once,
/// and the rules find it. Its clean twins — the same kinds without the story's fault — are not
/// flagged for it.
#[tokio::test]
async fn planted_stories_are_present_and_found_by_the_rules() {
    let d = directory();
    for (count, seed) in [(DEMO_SIZE, DEMO_SEED), (600, 3)] {
        let recs = estate(count, seed).await;
        let told = |s: Story| -> Vec<&Record> {
            recs.iter()
                .filter(|r| r.raw["sample_story"] == s.as_str())
                .collect()
        };
        for s in Story::ALL {
            let n = told(s).len();
            assert!(n >= 1, "{s:?} not planted in an estate of {count}");
            if count == DEMO_SIZE {
                assert!(n <= 24, "{s:?} told {n} times: a handful, not a pattern");
            }
        }

        let keys: Vec<&Record> = told(Story::DepartedOwnersAdminKey)
            .into_iter()
            .filter(|r| r.kind == Kind::AccessKey)
            .collect();
        assert!(!keys.is_empty());
        for k in keys {
            assert_eq!(k.status, Status::Active);
            let rules = rules_of(k, &d);
            assert!(
                rules.contains(&"owner.departed".into())
                    && rules.contains(&"privilege.admin".into()),
                "{}: {rules:?}",
                k.name
            );
        }
        for k in told(Story::NeverUsedWriteDeployKey) {
            assert_eq!((k.kind, k.usage), (Kind::DeployKey, Usage::NeverUsed));
            let rules = rules_of(k, &d);
            assert!(
                rules.contains(&"github.deploy_key.write".into())
                    && rules.contains(&"usage.never_used".into()),
                "{}: {rules:?}",
                k.name
            );
        }
        for r in told(Story::PublicTrustRole) {
            assert_eq!((r.platform, r.kind), (Platform::Aws, Kind::Role));
            assert!(
                rules_of(r, &d).contains(&"aws.trust.no_sub".into()),
                "{}",
                r.name
            );
        }
        for r in told(Story::AppWriteOnEveryRepository) {
            assert_eq!(r.kind, Kind::AppInstallation);
            assert!(
                rules_of(r, &d).contains(&"github.app.all_repos_write".into()),
                "{}",
                r.name
            );
        }

        // Clean twins, over the whole estate.
        for r in &recs {
            let rules = rules_of(r, &d);
            let live = r.status == Status::Active;
            assert_eq!(
                rules.contains(&"owner.departed".into()),
                live && is_departed(r.owner.as_deref()),
                "{}: owner {:?}",
                r.name,
                r.owner
            );
            if r.kind == Kind::DeployKey {
                assert_eq!(
                    rules.contains(&"github.deploy_key.write".into()),
                    live && r.privilege == Privilege::Write,
                    "{}",
                    r.name
                );
            }
            if r.kind == Kind::AppInstallation && r.platform == Platform::Github {
                let all = r.raw["repository_selection"] == "all";
                let writes = matches!(r.privilege, Privilege::Write | Privilege::Admin);
                assert_eq!(
                    rules.contains(&"github.app.all_repos_write".into()),
                    live && all && writes,
                    "{}",
                    r.name
                );
            }
            if r.platform == Platform::Aws && r.kind == Kind::Role {
                // The trust policy as the AWS connector stores it: no `sub` condition in it.
                let document: serde_json::Value =
                    serde_json::from_str(r.raw["trust"]["document"].as_str().unwrap()).unwrap();
                let condition = &document["Statement"][0]["Condition"];
                let sub = ["StringEquals", "StringLike"].iter().any(|op| {
                    condition[op]
                        .get("token.actions.githubusercontent.com:sub")
                        .is_some()
                });
                assert_eq!(
                    rules.contains(&"aws.trust.no_sub".into()),
                    !sub,
                    "{}",
                    r.name
                );
            }
        }
        assert!(
            recs.iter()
                .any(|r| r.kind == Kind::DeployKey && r.privilege == Privilege::Read)
        );
        assert!(
            recs.iter()
                .any(|r| r.owner.is_some() && !is_departed(r.owner.as_deref()))
        );
    }
}
