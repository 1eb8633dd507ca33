//! `github.org_runner` and `github.repo_runner`: self-hosted Actions runners registered to the
//! org (`GET /orgs/{org}/actions/runners`) and to each repository
//! (`GET /repos/{owner}/{repo}/actions/runners`). A runner of a public repository runs code from
//! anyone's fork pull requests on the machine, with whatever that machine can reach.

use roster_core::{Kind, Record, Signal};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{Ctx, Items, ResourceType, Source, decode};

pub(crate) const ORG: ResourceType = ResourceType {
    name: "github.org_runner",
    source: Source::Org(|org| format!("orgs/{org}/actions/runners")),
    items: Items::Field("runners"),
    needs: "organization_self_hosted_runners:read (classic token: admin:org)",
    map,
};

pub(crate) const REPO: ResourceType = ResourceType {
    name: "github.repo_runner",
    source: Source::PerRepo(|repo| format!("repos/{repo}/actions/runners")),
    items: Items::Field("runners"),
    needs: "administration:read on every repository (classic token: repo)",
    map,
};

#[derive(Deserialize)]
struct Runner {
    id: u64,
    name: String,
    /// Sent by newer GitHub versions; links an org runner to its `github.runner_group`.
    #[serde(default)]
    runner_group_id: Option<u64>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

fn map(ctx: &Ctx<'_>, mut item: Value) -> Result<Option<Record>, String> {
    let runner: Runner = decode(&item)?;
    let (external_id, name) = match ctx.repo {
        Some(repo) => {
            if let Value::Object(m) = &mut item {
                m.insert("repository".into(), Value::String(repo.full_name.clone()));
            }
            (
                format!("{}/{}", repo.full_name, runner.id),
                format!("{}: {}", repo.full_name, runner.name),
            )
        }
        None => (runner.id.to_string(), runner.name.clone()),
    };
    let mut r = ctx.record(Kind::Runner, external_id, name, item);
    // Runner groups are the org's: a repository runner is in none.
    if ctx.repo.is_none() {
        r.parent = runner
            .runner_group_id
            .map(|id| crate::runner_group::key(ctx.org, id));
    }
    r.privilege_detail = runner
        .labels
        .into_iter()
        .map(|l| format!("label:{}", l.name))
        .chain(runner.os.map(|os| format!("os:{os}")))
        .collect();
    if let Some(repo) = ctx.repo.filter(|repo| repo.public) {
        r.signals.push(Signal::new(
            "github.runner.public_repo",
            format!(
                "self-hosted runner `{}` serves the public repository `{}`: pull requests from forks can run code on it",
                runner.name, repo.full_name
            ),
        ));
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Repo;
    use serde_json::json;

    #[test]
    fn runner_of_a_public_repo_is_signalled() {
        let item = json!({"id": 23, "name": "linux_runner", "os": "linux", "status": "online",
            "busy": true, "labels": [{"id": 5, "name": "self-hosted", "type": "read-only"}]});
        let ctx = Ctx {
            org: "acme",
            resource_type: ORG.name,
            repo: None,
        };
        let r = map(&ctx, item.clone()).unwrap().unwrap();
        assert!(r.signals.is_empty());
        assert_eq!(r.parent, None);
        let mut grouped = item.clone();
        grouped["runner_group_id"] = json!(2);
        let parent = map(&ctx, grouped).unwrap().unwrap().parent.unwrap();
        assert_eq!(
            (parent.resource_type.as_str(), parent.external_id.as_str()),
            ("github.runner_group", "2")
        );
        assert_eq!(r.privilege_detail, vec!["label:self-hosted", "os:linux"]);
        let repo = Repo {
            full_name: "acme/oss".into(),
            public: true,
        };
        let ctx = Ctx {
            org: "acme",
            resource_type: REPO.name,
            repo: Some(&repo),
        };
        let r = map(&ctx, item).unwrap().unwrap();
        assert_eq!(r.key.external_id, "acme/oss/23");
        assert_eq!(r.signals[0].rule, "github.runner.public_repo");
    }
}
