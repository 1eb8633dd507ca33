//! `github.runner_group`: the org's self-hosted runner groups
//! (`GET /orgs/{org}/actions/runner-groups`), each with the runners in it
//! (`GET /orgs/{org}/actions/runner-groups/{runner_group_id}/runners`). A group decides which
//! repositories and workflows may send jobs to its runners; one that admits public
//! repositories lets anyone's fork pull request run code on those machines.
//!
//! A group is recorded as kind `runner`: it is the pool its runners serve jobs from. The org's
//! runners (`github.org_runner`) name it as their parent: from `runner_group_id` where GitHub
//! sends it, else from the groups' runner listings (asked again by the runner listing; on
//! re-sync those are 304s).

use roster_core::{Kind, Record, RecordKey, Signal};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Items, ResourceType, Source, decode};

pub(crate) const RESOURCE: ResourceType = ResourceType {
    name: "github.runner_group",
    source: Source::RunnerGroups,
    items: Items::Field("runner_groups"),
    needs: "organization_self_hosted_runners:read (classic token: admin:org)",
    map,
};

pub(crate) fn path(org: &str) -> String {
    format!("orgs/{org}/actions/runner-groups")
}

/// The runners of one group (paged with `Link`).
pub(crate) fn runners_path(org: &str, group_id: &str) -> String {
    format!("orgs/{org}/actions/runner-groups/{group_id}/runners")
}

/// The record key of a group, for its runners' `parent`.
pub(crate) fn key(org: &str, group_id: u64) -> RecordKey {
    RecordKey {
        resource_type: RESOURCE.name.to_string(),
        scope: org.to_string(),
        external_id: group_id.to_string(),
    }
}

#[derive(Deserialize)]
struct RunnerGroup {
    id: u64,
    name: String,
    visibility: String,
    #[serde(default)]
    default: bool,
    allows_public_repositories: bool,
    #[serde(default)]
    restricted_to_workflows: bool,
    #[serde(default)]
    selected_workflows: Vec<String>,
}

fn map(ctx: &Ctx<'_>, item: Value) -> Result<Option<Record>, String> {
    let group: RunnerGroup = decode(&item)?;
    let mut r = ctx.record(
        Kind::Runner,
        group.id.to_string(),
        format!("runner group: {}", group.name),
        item,
    );
    // Who may send jobs to the group's machines; the privilege stays unknown (it is whatever
    // the machines can reach).
    r.privilege_detail = vec![
        format!("visibility:{}", group.visibility),
        format!(
            "allows_public_repositories:{}",
            group.allows_public_repositories
        ),
        format!("restricted_to_workflows:{}", group.restricted_to_workflows),
    ];
    if group.default {
        r.privilege_detail.push("default:true".into());
    }
    if group.restricted_to_workflows {
        r.privilege_detail.extend(
            group
                .selected_workflows
                .iter()
                .map(|w| format!("workflow:{w}")),
        );
    }
    // `private` groups serve private repositories only, whatever the flag says.
    if group.allows_public_repositories && group.visibility != "private" {
        let scope = if group.restricted_to_workflows {
            format!(
                " (restricted to {} workflow(s), which a fork pull request may still run)",
                group.selected_workflows.len()
            )
        } else {
            String::new()
        };
        r.signals.push(Signal::new(
            "github.runner_group.public_repos",
            format!(
                "runner group `{}` (visibility {}) admits public repositories{scope}: pull requests from forks can run code on its runners, which the org's private repositories share",
                group.name, group.visibility
            ),
        ));
    }
    Ok(Some(r))
}

/// Adds the group's runners (from its `runners` endpoint) to its record: `runner:NAME` details
/// and `runners` (id, name) in the raw JSON.
pub(crate) fn attach_runners(record: &mut Record, runners: Vec<Value>) {
    let mut listed = Vec::with_capacity(runners.len());
    for runner in runners {
        let id = runner.get("id").cloned().unwrap_or(Value::Null);
        let name = runner.get("name").and_then(Value::as_str).unwrap_or("");
        record.privilege_detail.push(format!("runner:{name}"));
        listed.push(serde_json::json!({"id": id, "name": name}));
    }
    if let Value::Object(m) = &mut record.raw {
        m.insert("runners".into(), Value::Array(listed));
    }
}

/// The ids of the runners `attach_runners` put on a group record.
pub(crate) fn runner_ids(group: &Record) -> impl Iterator<Item = u64> + '_ {
    group.raw["runners"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_u64())
}

/// Sets the parent of org runners GitHub listed without `runner_group_id`, from `group_of`
/// (runner id → group id, as the groups' runner listings say).
pub(crate) fn link_runners(
    runners: &mut [Record],
    org: &str,
    group_of: &std::collections::HashMap<u64, u64>,
) {
    for runner in runners.iter_mut().filter(|r| r.parent.is_none()) {
        let group = runner
            .key
            .external_id
            .parse::<u64>()
            .ok()
            .and_then(|id| group_of.get(&id));
        if let Some(group) = group {
            runner.parent = Some(key(org, *group));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Ctx<'static> {
        Ctx {
            org: "acme",
            resource_type: RESOURCE.name,
            repo: None,
        }
    }

    fn group(visibility: &str, public: bool, restricted: bool) -> Value {
        json!({"id": 2, "name": "octo-runner-group", "visibility": visibility, "default": false,
            "runners_url": "https://api.github.com/orgs/acme/actions/runner_groups/2/runners",
            "inherited": false, "allows_public_repositories": public,
            "restricted_to_workflows": restricted,
            "selected_workflows": ["acme/web/.github/workflows/deploy.yaml@refs/heads/main"]})
    }

    #[test]
    fn a_group_open_to_public_repositories_is_signalled() {
        let r = map(&ctx(), group("all", true, false)).unwrap().unwrap();
        assert_eq!(r.key.external_id, "2");
        assert_eq!(r.kind, Kind::Runner);
        assert_eq!(r.signals.len(), 1);
        assert_eq!(r.signals[0].rule, "github.runner_group.public_repos");
        assert!(
            r.privilege_detail
                .contains(&"allows_public_repositories:true".to_string())
        );

        let restricted = map(&ctx(), group("selected", true, true)).unwrap().unwrap();
        assert!(restricted.signals[0].message.contains("1 workflow(s)"));
        assert!(
            restricted.privilege_detail.contains(
                &"workflow:acme/web/.github/workflows/deploy.yaml@refs/heads/main".into()
            )
        );
    }

    #[test]
    fn private_or_closed_groups_are_not_signalled() {
        for (visibility, public) in [("private", true), ("all", false), ("selected", false)] {
            let r = map(&ctx(), group(visibility, public, false))
                .unwrap()
                .unwrap();
            assert!(r.signals.is_empty(), "{visibility} {public}");
        }
    }

    #[test]
    fn runners_are_attached_to_their_group() {
        let mut r = map(&ctx(), group("all", false, false)).unwrap().unwrap();
        attach_runners(
            &mut r,
            vec![
                json!({"id": 23, "name": "linux_runner", "os": "linux"}),
                json!({"id": 24, "name": "mac_runner", "os": "macos"}),
            ],
        );
        assert!(r.privilege_detail.contains(&"runner:linux_runner".into()));
        assert_eq!(
            r.raw["runners"],
            json!([{"id": 23, "name": "linux_runner"}, {"id": 24, "name": "mac_runner"}])
        );
    }
}
