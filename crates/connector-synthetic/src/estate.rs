//! How the sample estate looks: which listings exist, how big each is, and what a block of
//! records in each holds. Each kind says only what its platform says: expiry where the platform
//! has one, privilege in the platform's vocabulary (a webhook has none of its own; a runner's
//! reach is the repositories it runs for), last use where the platform reports it. A handful of
//! planted stories (see [`Story`]) give a reviewer something to find in any estate of a few
//! hundred records or more.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use roster_core::{
    InteractiveSignIn, Kind, Platform, Privilege, Record, RecordKey, Signal, Status, Usage,
};
use serde_json::{Value, json};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::SyntheticConfig;

/// Records per block. Each block belongs to one listing (see [`Wheel`]); an identity's
/// credentials are always in its own block, after it.
pub const BLOCK_SIZE: u64 = 4;

/// One listing of the sample estate. `weight` is its share of the blocks: listings grow in
/// proportion to it, so their sizes differ as real estates' do.
pub struct SampleListing {
    pub platform: Platform,
    pub resource_type: &'static str,
    pub scope: &'static str,
    pub weight: u64,
}

macro_rules! listings {
    ($($platform:ident $rt:literal [$($scope:literal $weight:literal),+]);+ $(;)?) => {
        &[$($(SampleListing {
            platform: Platform::$platform,
            resource_type: $rt,
            scope: $scope,
            weight: $weight,
        }),+),+]
    };
}

pub static LISTINGS: &[SampleListing] = listings![
    Github "github.app_installation" ["acme" 2, "acme-labs" 1];
    Github "github.fine_grained_pat" ["acme" 4, "acme-labs" 2];
    Github "github.deploy_key" ["acme" 5, "acme-labs" 3];
    Github "github.actions_secret" ["acme" 9, "acme-labs" 4];
    Github "github.runner" ["acme" 2, "acme-labs" 1];
    Github "github.webhook" ["acme" 3, "acme-labs" 2];
    Gitlab "gitlab.project_token" ["acme-platform" 4, "acme-data" 3];
    Gitlab "gitlab.group_token" ["acme-platform" 2, "acme-data" 1];
    Gitlab "gitlab.deploy_token" ["acme-platform" 3, "acme-data" 2];
    Gitlab "gitlab.trigger_token" ["acme-platform" 2, "acme-data" 1];
    Gitlab "gitlab.ci_variable" ["acme-platform" 8, "acme-data" 5];
    Gitlab "gitlab.service_account" ["acme-platform" 3, "acme-data" 2];
    Aws "aws.iam_user" ["111111111111" 7, "222222222222" 4, "333333333333" 2];
    Aws "aws.iam_role" ["111111111111" 5, "222222222222" 3, "333333333333" 2];
    Gcp "gcp.service_account" ["acme-prod" 6, "acme-staging" 3];
    Gcp "gcp.workload_identity_provider" ["acme-prod" 1, "acme-staging" 1];
    Azure "azure.application" ["acme.onmicrosoft.com" 6];
    Azure "azure.federated_credential" ["acme.onmicrosoft.com" 2];
];

/// Which listing each block belongs to. Blocks repeat a cycle of `sum(weight)` positions; the
/// cycle's first round gives every listing one block, the next round every listing of weight at
/// least 2, and so on — so the first `LISTINGS.len()` blocks cover every listing, as small
/// estates need, and large ones grow each listing by its weight.
pub struct Wheel {
    /// Block positions within one cycle, per listing, ascending.
    positions: Vec<Vec<u64>>,
    len: u64,
}

pub static WHEEL: LazyLock<Wheel> = LazyLock::new(|| {
    let mut positions = vec![Vec::new(); LISTINGS.len()];
    let rounds = LISTINGS.iter().map(|l| l.weight).max().unwrap_or(0);
    let mut next = 0;
    for round in 0..rounds {
        for (i, l) in LISTINGS.iter().enumerate() {
            if l.weight > round {
                positions[i].push(next);
                next += 1;
            }
        }
    }
    Wheel {
        positions,
        len: next,
    }
});

impl Wheel {
    /// The first block of listing `index`.
    pub fn first_block(&self, index: usize) -> u64 {
        self.positions[index].first().copied().unwrap_or(0)
    }

    /// The block of listing `index` after `block` (itself one of the listing's).
    pub fn next_block(&self, index: usize, block: u64) -> u64 {
        let mine = &self.positions[index];
        let (cycle, at) = (block / self.len, block % self.len);
        match mine.iter().find(|p| **p > at) {
            Some(p) => cycle * self.len + p,
            None => (cycle + 1) * self.len + mine.first().copied().unwrap_or(0),
        }
    }

    /// Which listing `block` belongs to, and how many of that listing's blocks come before it.
    pub fn owner(&self, block: u64) -> (usize, u64) {
        let (cycle, at) = (block / self.len, block % self.len);
        for (i, mine) in self.positions.iter().enumerate() {
            if let Some(k) = mine.iter().position(|p| *p == at) {
                return (i, cycle * mine.len() as u64 + k as u64);
            }
        }
        (0, 0)
    }
}

/// People who own things and are in the sample directory.
pub const PEOPLE: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yara",
];

/// People who left: still named as owners, inactive in the sample directory.
pub const DEPARTED: &[&str] = &["oscar", "wendy", "xavier"];

/// An owner's directory key.
pub fn email(person: &str) -> String {
    format!("{person}@acme.example")
}

/// The sample people directory: every owner the estate names, with whether they are still
/// present. Import it (or build a [`roster_core::directory::Directory`] from it) and the
/// departed owners' identities are orphaned.
pub fn sample_directory() -> Vec<(String, bool)> {
    PEOPLE
        .iter()
        .map(|p| (email(p), true))
        .chain(DEPARTED.iter().map(|p| (email(p), false)))
        .collect()
}

const PURPOSES: &[&str] = &[
    "deploy",
    "ci",
    "backup",
    "terraform",
    "release",
    "metrics",
    "billing",
    "etl",
    "scanner",
    "registry",
    "dns",
    "mirror",
    "notify",
    "audit",
    "search",
    "payments",
];

/// One block in this many of each listing carries its listing's story; the listing's first
/// block always does.
const STORY_PERIOD: u64 = 24;

/// The planted findings a reviewer should come across in the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Story {
    /// An AWS service user with AdministratorAccess owned by someone who left; its keys
    /// inherit both.
    DepartedOwnersAdminKey,
    /// A GitHub deploy key that can push and was never used.
    NeverUsedWriteDeployKey,
    /// A role trusting GitHub's OIDC issuer with no `sub` condition: any repository anywhere
    /// can assume it.
    PublicTrustRole,
    /// A GitHub App installed on every repository of the org with write access.
    AppWriteOnEveryRepository,
}

impl Story {
    pub const ALL: [Story; 4] = [
        Story::DepartedOwnersAdminKey,
        Story::NeverUsedWriteDeployKey,
        Story::PublicTrustRole,
        Story::AppWriteOnEveryRepository,
    ];

    /// The value of `raw.sample_story` on the records that tell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Story::DepartedOwnersAdminKey => "departed_owners_admin_key",
            Story::NeverUsedWriteDeployKey => "never_used_write_deploy_key",
            Story::PublicTrustRole => "public_trust_role",
            Story::AppWriteOnEveryRepository => "app_write_on_every_repository",
        }
    }

    /// The listing type and the block slots that tell the story.
    fn place(self) -> (&'static str, &'static [u64]) {
        match self {
            // The user and both its keys.
            Story::DepartedOwnersAdminKey => ("aws.iam_user", &[0, 1, 2]),
            Story::NeverUsedWriteDeployKey => ("github.deploy_key", &[1]),
            Story::PublicTrustRole => ("aws.iam_role", &[2]),
            Story::AppWriteOnEveryRepository => ("github.app_installation", &[0]),
        }
    }
}

/// Deterministic draws for one record slot.
struct Draw {
    seed: u64,
    slot: u64,
}

impl Draw {
    fn u(&self, salt: u64) -> u64 {
        xxh3_64_with_seed(
            &self.slot.to_le_bytes(),
            self.seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        )
    }
    /// Per mille, 0..1000.
    fn pm(&self, salt: u64) -> u64 {
        self.u(salt) % 1000
    }
    fn pick<'a>(&self, salt: u64, items: &[&'a str]) -> &'a str {
        items[(self.u(salt) % items.len() as u64) as usize]
    }
    fn days(&self, salt: u64, below: u64) -> i64 {
        (self.u(salt) % below.max(1)) as i64
    }
}

/// The kind of slot `j` of a block of `rt`, and whether it is a credential of the block's
/// identity in slot 0 (or, for bot tokens, the slot before).
fn slot_kind(rt: &str, j: u64) -> (Kind, bool) {
    match rt {
        "github.app_installation" => (Kind::AppInstallation, false),
        "github.runner" => (Kind::Runner, false),
        "github.webhook" => (Kind::Webhook, false),
        "aws.iam_role" | "gcp.workload_identity_provider" | "azure.federated_credential" => {
            (Kind::Role, false)
        }
        // Bot user + its token, twice per block.
        "gitlab.project_token" | "gitlab.group_token" => {
            if j.is_multiple_of(2) {
                (Kind::ServiceAccount, false)
            } else if rt == "gitlab.project_token" {
                (Kind::ProjectToken, true)
            } else {
                (Kind::GroupToken, true)
            }
        }
        // An identity with three credentials.
        "gitlab.service_account" => match j {
            0 => (Kind::ServiceAccount, false),
            _ => (Kind::PersonalAccessToken, true),
        },
        // A user with two keys (IAM's limit), then a user of its own.
        "aws.iam_user" => match j {
            1 | 2 => (Kind::AccessKey, true),
            _ => (Kind::ServiceAccount, false),
        },
        "gcp.service_account" => match j {
            0 => (Kind::ServiceAccount, false),
            _ => (Kind::ServiceAccountKey, true),
        },
        "azure.application" => match j {
            0 => (Kind::AppInstallation, false),
            2 => (Kind::Certificate, true),
            _ => (Kind::ClientSecret, true),
        },
        "github.fine_grained_pat" => (Kind::PersonalAccessToken, false),
        "github.deploy_key" => (Kind::DeployKey, false),
        "github.actions_secret" | "gitlab.ci_variable" => (Kind::CiSecret, false),
        "gitlab.deploy_token" => (Kind::DeployToken, false),
        "gitlab.trigger_token" => (Kind::TriggerToken, false),
        _ => (Kind::ServiceAccount, false),
    }
}

/// Whether the platform reports last use of this kind.
pub fn has_telemetry(platform: Platform, kind: Kind) -> bool {
    match (platform, kind) {
        (_, Kind::CiSecret | Kind::Webhook | Kind::Runner | Kind::Certificate) => false,
        // GitHub says nothing of an installation's last use; GitLab nothing of a deploy
        // token's; GCP providers and Entra federated credentials have no usage of their own.
        (Platform::Github, Kind::AppInstallation) => false,
        (Platform::Gitlab, Kind::DeployToken) => false,
        (Platform::Gcp | Platform::Azure, Kind::Role) => false,
        _ => true,
    }
}

/// Whether the platform has an expiry for this kind (and so whether a record of it may carry
/// one). AWS access keys, SSH deploy keys, trigger tokens, CI secrets and identities never
/// expire.
pub fn has_expiry(platform: Platform, kind: Kind) -> bool {
    matches!(
        (platform, kind),
        (
            Platform::Gitlab,
            Kind::ProjectToken | Kind::GroupToken | Kind::PersonalAccessToken | Kind::DeployToken
        ) | (Platform::Github, Kind::PersonalAccessToken)
            | (Platform::Azure, Kind::ClientSecret | Kind::Certificate)
            | (Platform::Gcp, Kind::ServiceAccountKey)
    )
}

/// Whether the platform can switch this kind off without deleting it.
fn can_be_disabled(platform: Platform, kind: Kind) -> bool {
    matches!(
        (platform, kind),
        (Platform::Aws, Kind::AccessKey)
            | (
                Platform::Gcp,
                Kind::ServiceAccount | Kind::ServiceAccountKey
            )
            | (Platform::Github, Kind::Webhook | Kind::AppInstallation)
            | (Platform::Azure, Kind::AppInstallation)
    )
}

fn external_id(kind: Kind, d: &Draw) -> String {
    let h = d.u(1);
    match kind {
        Kind::AccessKey => format!("AKIASAMPLE{:010X}", h % 0xFF_FFFF_FFFF),
        Kind::ServiceAccountKey | Kind::DeployKey | Kind::ClientSecret | Kind::Certificate => {
            format!("{h:016x}")
        }
        _ => format!("{}", h % 10_000_000_000),
    }
}

fn name_for(kind: Kind, listing: &SampleListing, d: &Draw, ext: &str) -> String {
    let purpose = d.pick(2, PURPOSES);
    let n = d.slot;
    match kind {
        Kind::AccessKey => format!("{}…{}", &ext[..4], &ext[ext.len() - 3..]),
        Kind::ServiceAccount => match listing.platform {
            Platform::Gcp => format!(
                "sample-{purpose}-{n}@{}.iam.gserviceaccount.com",
                listing.scope
            ),
            Platform::Gitlab => format!("sample_bot_{purpose}_{n}"),
            _ => format!("sample-svc-{purpose}-{n}"),
        },
        Kind::Role => match listing.platform {
            Platform::Aws => format!("sample-gha-{purpose}-{n}"),
            Platform::Gcp => format!("sample-pool/{purpose}-provider-{n}"),
            _ => format!("sample-fic-{purpose}-{n}"),
        },
        Kind::CiSecret => format!("SAMPLE_{}_TOKEN_{n}", purpose.to_uppercase()),
        _ => format!("sample-{}-{purpose}-{n}", kind.as_str().replace('_', "-")),
    }
}

/// Appends the records of `block` (truncated at `config.count`).
pub fn block_records(config: &SyntheticConfig, block: u64, out: &mut Vec<Record>) {
    let (index, ordinal) = WHEEL.owner(block);
    let listing = &LISTINGS[index];
    let story = Story::ALL
        .into_iter()
        .find(|s| s.place().0 == listing.resource_type)
        .filter(|_| ordinal.is_multiple_of(STORY_PERIOD));
    // The whole block is made whatever `count` is, so that a record never depends on whether
    // the ones after it exist: a parent's last use is its credentials'.
    let mut records: Vec<Record> = Vec::with_capacity(BLOCK_SIZE as usize);
    let mut parent: Option<usize> = None;
    for j in 0..BLOCK_SIZE {
        let d = Draw {
            seed: config.seed,
            slot: block * BLOCK_SIZE + j,
        };
        let (kind, is_credential) = slot_kind(listing.resource_type, j);
        let story_here = story.filter(|s| s.place().1.contains(&j));
        let of = if is_credential {
            parent.and_then(|p| records.get(p))
        } else {
            None
        };
        let record = make_record(config.anchor, listing, kind, &d, of, story_here);
        if !is_credential {
            parent = Some(records.len());
        }
        records.push(record);
    }
    follow_credentials_use(&mut records);
    let first = block * BLOCK_SIZE;
    out.extend(
        records
            .into_iter()
            .enumerate()
            .filter(|(j, _)| first + (*j as u64) < config.count)
            .map(|(_, r)| r),
    );
}

/// An identity that acts through its credentials was last used when one of them was (or, for
/// an AWS user, when someone signed in with its console password).
fn follow_credentials_use(records: &mut [Record]) {
    for i in 0..records.len() {
        if records[i].usage == Usage::NoTelemetry {
            continue;
        }
        let key = records[i].key.clone();
        let children: Vec<(Usage, Option<DateTime<Utc>>)> = records
            .iter()
            .filter(|c| c.parent.as_ref() == Some(&key))
            .map(|c| (c.usage, c.last_used_at))
            .collect();
        if children.is_empty() {
            continue;
        }
        let r = &mut records[i];
        let sign_in = r.interactive_sign_in.as_ref().and_then(|s| s.last_at);
        let last = children.iter().filter_map(|c| c.1).max().max(sign_in);
        (r.usage, r.last_used_at) = match last {
            Some(t) => (Usage::Used, Some(t)),
            None if children.iter().all(|c| c.0 == Usage::NoTelemetry) => {
                (Usage::NoTelemetry, None)
            }
            None => (Usage::NeverUsed, None),
        };
    }
}

/// Privilege, its platform detail, and what the platform's own rules say of it.
struct Grant {
    privilege: Privilege,
    detail: Vec<String>,
    signals: Vec<Signal>,
}

impl Grant {
    fn new(privilege: Privilege, detail: &[&str]) -> Self {
        Self {
            privilege,
            detail: detail.iter().map(|s| (*s).to_owned()).collect(),
            signals: Vec::new(),
        }
    }
}

fn make_record(
    anchor: DateTime<Utc>,
    listing: &SampleListing,
    kind: Kind,
    d: &Draw,
    parent: Option<&Record>,
    story: Option<Story>,
) -> Record {
    let ext = external_id(kind, d);
    let name = name_for(kind, listing, d, &ext);
    let platform = listing.platform;
    let mut raw = json!({
        "sample_data": true,
        "slot": d.slot,
        "id": ext,
        "name": name,
    });
    if let Some(s) = story {
        raw["sample_story"] = json!(s.as_str());
    }

    // Lifetime: where the platform has an expiry, most credentials carry one and were made
    // within it; a few outlived it and are still present (Entra keeps expired secrets; GitLab
    // lists expired tokens as inactive).
    let lifetime = has_expiry(platform, kind)
        .then(|| expiry_lifetime(platform, kind, d))
        .flatten();
    let age_days = match lifetime {
        Some(life) if d.pm(20) < 80 => life + 1 + d.days(21, 60),
        Some(life) => d.days(3, life as u64 + 1),
        None => d.days(3, 1000),
    };
    let age_days = if story == Some(Story::NeverUsedWriteDeployKey) {
        120 + d.days(3, 400)
    } else {
        age_days
    };
    let created_at = anchor - Duration::days(age_days) - Duration::minutes(d.days(4, 1440));
    // A credential is made after its identity.
    let created_at = match parent.and_then(|p| p.created_at) {
        Some(p) => created_at.max(p),
        None => created_at,
    };
    let expires_at = lifetime.map(|life| created_at + Duration::days(life));
    let expired = expires_at.is_some_and(|e| e <= anchor);

    // Last use: never after expiry, never before creation.
    let (mut usage, mut last_used_at) = if !has_telemetry(platform, kind) {
        (Usage::NoTelemetry, None)
    } else if d.pm(5) < 780 {
        let latest = expires_at.filter(|_| expired).unwrap_or(anchor);
        let span = (latest - created_at).num_days().max(0) as u64;
        // Skewed towards recent use; some long idle.
        let idle = if d.pm(6) < 750 {
            d.days(7, 30.min(span + 1))
        } else {
            d.days(7, span + 1)
        };
        let at =
            (latest - Duration::days(idle) - Duration::minutes(d.days(8, 1440))).max(created_at);
        (Usage::Used, Some(at))
    } else {
        (Usage::NeverUsed, None)
    };

    let grant = match parent {
        // A key acts with its identity's permissions.
        Some(p) if matches!(kind, Kind::AccessKey | Kind::ServiceAccountKey) => Grant {
            privilege: p.privilege,
            detail: p.privilege_detail.clone(),
            signals: Vec::new(),
        },
        _ => {
            let parent_level = parent
                .into_iter()
                .flat_map(|p| &p.privilege_detail)
                .find_map(|x| x.strip_prefix("access_level:"))
                .and_then(|l| l.parse().ok());
            grant(listing, kind, d, story, &name, parent_level, &mut raw)
        }
    };
    if story == Some(Story::NeverUsedWriteDeployKey) {
        usage = Usage::NeverUsed;
        last_used_at = None;
    }

    // Owners: a key's is its identity's; a few owners have left.
    let (owner, owner_source) = match parent {
        Some(p) if p.owner.is_some() => (p.owner.clone(), p.owner_source.clone()),
        Some(_) => (None, None),
        None if story == Some(Story::DepartedOwnersAdminKey) => (
            Some(email(d.pick(12, DEPARTED))),
            Some(owner_source(platform).to_owned()),
        ),
        None if d.pm(11) < 760 => {
            let person = if d.pm(18) < 30 {
                d.pick(12, DEPARTED)
            } else {
                d.pick(12, PEOPLE)
            };
            (Some(email(person)), Some(owner_source(platform).to_owned()))
        }
        None => (None, None),
    };
    let mut signals = grant.signals;
    if platform == Platform::Azure && kind == Kind::AppInstallation && owner.is_none() {
        signals.push(Signal::new(
            "azure.application.no_owner",
            format!("app registration `{name}` has no owners"),
        ));
    }
    if kind == Kind::TriggerToken
        && owner
            .as_deref()
            .is_some_and(|o| DEPARTED.iter().any(|p| email(p) == o))
    {
        signals.push(Signal::new(
            "gitlab.trigger.owner_inactive",
            format!("trigger `{name}` runs pipelines as a blocked user"),
        ));
    }

    // Most identities with a second key keep it switched off, left over from a rotation.
    let disabled_pm =
        if matches!(kind, Kind::AccessKey | Kind::ServiceAccountKey) && d.slot % BLOCK_SIZE >= 2 {
            650
        } else {
            80
        };
    // GitLab lists an expired token as inactive.
    let gitlab_expired = expired && platform == Platform::Gitlab;
    let switched_off = can_be_disabled(platform, kind) && d.pm(13) < disabled_pm && story.is_none();
    let status = if gitlab_expired || switched_off {
        Status::Disabled
    } else {
        Status::Active
    };
    // Some AWS service users also have a console password, as in real estates: a person can
    // sign in as them; a few did lately.
    let interactive_sign_in = (platform == Platform::Aws
        && kind == Kind::ServiceAccount
        && d.pm(15) < 60)
        .then(|| InteractiveSignIn {
            method: "console password".to_owned(),
            last_at: (d.pm(16) < 500)
                .then(|| (anchor - Duration::days(d.days(17, 200))).max(created_at)),
        });
    if let Some(sign_in) = &interactive_sign_in {
        raw["console_password"] = json!(true);
        raw["password_last_used"] = json!(sign_in.last_at);
    }
    Record {
        key: RecordKey {
            resource_type: listing.resource_type.to_owned(),
            scope: listing.scope.to_owned(),
            external_id: ext,
        },
        platform,
        kind,
        name,
        parent: parent.map(|p| p.key.clone()),
        status,
        created_at: Some(created_at),
        last_used_at,
        usage,
        expires_at,
        privilege: grant.privilege,
        privilege_detail: grant.detail,
        owner,
        owner_source,
        credential_fingerprint: None,
        signals,
        interactive_sign_in,
        raw,
    }
}

/// Days from creation to expiry, in the platform's terms; `None` when this one was made
/// without (where the platform allows it).
fn expiry_lifetime(platform: Platform, kind: Kind, d: &Draw) -> Option<i64> {
    let p = d.pm(9);
    match (platform, kind) {
        // GitLab requires an expiry on access tokens, at most a year.
        (Platform::Gitlab, Kind::ProjectToken | Kind::GroupToken) => {
            Some([30, 90, 180, 365][(p % 4) as usize])
        }
        // Service accounts' tokens may be made without one where the instance allows it.
        (Platform::Gitlab, Kind::PersonalAccessToken) => {
            (p >= 200).then(|| [90, 180, 365][(p % 3) as usize])
        }
        (Platform::Gitlab, Kind::DeployToken) => (p >= 500).then(|| [90, 365][(p % 2) as usize]),
        // Fine-grained PATs: the org may allow "no expiration".
        (Platform::Github, Kind::PersonalAccessToken) => {
            (p >= 150).then(|| [7, 30, 60, 90, 366][(p % 5) as usize])
        }
        // Entra always sets an end date.
        (Platform::Azure, Kind::ClientSecret) => Some([180, 365, 730][(p % 3) as usize]),
        (Platform::Azure, Kind::Certificate) => Some([365, 730, 1095][(p % 3) as usize]),
        // Only where the org policy iam.serviceAccountKeyExpiryHours is set.
        (Platform::Gcp, Kind::ServiceAccountKey) => (p < 250).then_some(90),
        _ => None,
    }
}

fn owner_source(platform: Platform) -> &'static str {
    match platform {
        Platform::Github => "github:added_by",
        Platform::Gitlab => "gitlab:created_by",
        Platform::Aws => "aws_tag:owner",
        Platform::Gcp => "gcp_label:owner",
        Platform::Azure => "entra:owners",
        Platform::Roster => "roster:created_by",
    }
}

/// What a record of `kind` may do, in its platform's vocabulary, with the platform's rules.
fn grant(
    listing: &SampleListing,
    kind: Kind,
    d: &Draw,
    story: Option<Story>,
    name: &str,
    parent_level: Option<u64>,
    raw: &mut Value,
) -> Grant {
    let p = d.pm(10);
    let purpose = d.pick(2, PURPOSES);
    let org = listing.scope;
    match (listing.platform, kind) {
        (Platform::Github, Kind::AppInstallation) => {
            let (perms, privilege): (&[&str], _) = match p {
                _ if story == Some(Story::AppWriteOnEveryRepository) => {
                    (&["contents:write", "metadata:read"], Privilege::Write)
                }
                0..=39 => (
                    &["administration:write", "contents:write", "metadata:read"],
                    Privilege::Admin,
                ),
                40..=399 => (
                    &[
                        "checks:write",
                        "contents:read",
                        "metadata:read",
                        "pull_requests:write",
                    ],
                    Privilege::Write,
                ),
                _ => (&["contents:read", "metadata:read"], Privilege::Read),
            };
            let all = story == Some(Story::AppWriteOnEveryRepository) || d.pm(22) < 300;
            raw["repository_selection"] = json!(if all { "all" } else { "selected" });
            let mut g = Grant::new(privilege, perms);
            if all && matches!(privilege, Privilege::Write | Privilege::Admin) {
                let writes: Vec<&str> = perms
                    .iter()
                    .copied()
                    .filter(|x| x.ends_with(":write"))
                    .collect();
                g.signals.push(Signal::new(
                    "github.app.all_repos_write",
                    format!(
                        "app `{name}` is installed on all repositories of `{org}` with {privilege} ({})",
                        writes.join(", ")
                    ),
                ));
            }
            g
        }
        (Platform::Github, Kind::PersonalAccessToken) => match p {
            0..=29 => Grant::new(
                Privilege::Admin,
                &["administration:write", "contents:write", "metadata:read"],
            ),
            30..=449 => Grant::new(
                Privilege::Write,
                &["contents:write", "metadata:read", "pull_requests:write"],
            ),
            _ => Grant::new(Privilege::Read, &["contents:read", "metadata:read"]),
        },
        (Platform::Github, Kind::DeployKey) => {
            let write = story == Some(Story::NeverUsedWriteDeployKey) || p < 350;
            let repo = format!("{org}/sample-{purpose}");
            raw["repository"] = json!(repo);
            if write {
                let mut g = Grant::new(Privilege::Write, &["read_only:false"]);
                g.signals.push(Signal::new(
                    "github.deploy_key.write",
                    format!("deploy key `{name}` on `{repo}` can push (read_only is false)"),
                ));
                g
            } else {
                Grant::new(Privilege::Read, &["read_only:true"])
            }
        }
        (Platform::Github, Kind::CiSecret) => {
            let v = ["private", "all", "selected"][(p % 3) as usize];
            Grant::new(Privilege::Unknown, &[format!("visibility:{v}").as_str()])
        }
        // A runner's reach is the repositories that can send it jobs.
        (Platform::Github, Kind::Runner) => {
            let public = d.pm(23) < 100;
            let repo = format!("{org}/sample-{purpose}");
            let mut g = Grant::new(
                Privilege::Unknown,
                &[
                    "label:self-hosted",
                    "os:linux",
                    format!("repository:{repo}").as_str(),
                ],
            );
            raw["repository"] = json!(repo);
            raw["repository_public"] = json!(public);
            if public {
                g.signals.push(Signal::new(
                    "github.runner.public_repo",
                    format!(
                        "self-hosted runner `{name}` serves the public repository `{repo}`: pull requests from forks can run code on it"
                    ),
                ));
            }
            g
        }
        // A webhook has no privilege of its own: what it is sent is its events.
        (Platform::Github, Kind::Webhook) => {
            let events: &[&str] = match p % 3 {
                0 => &["event:push"],
                1 => &["event:pull_request", "event:push"],
                _ => &["event:workflow_run"],
            };
            let has_secret = d.pm(24) >= 150;
            let insecure_ssl = d.pm(25) < 50;
            let target = format!("https://hooks.sample.example/{purpose}");
            raw["config"] =
                json!({"url": target, "has_secret": has_secret, "insecure_ssl": insecure_ssl});
            let mut g = Grant::new(Privilege::Unknown, events);
            if insecure_ssl {
                g.signals.push(Signal::new(
                    "github.webhook.insecure_ssl",
                    format!("webhook to {target} delivers with insecure_ssl = 1: TLS certificates are not checked"),
                ));
            }
            if !has_secret {
                g.signals.push(Signal::new(
                    "github.webhook.no_secret",
                    format!("webhook to {target} has no secret: the receiver cannot tell GitHub's deliveries from forgeries"),
                ));
            }
            g
        }
        // GitLab bots and tokens act with a role (access level) and scopes.
        (Platform::Gitlab, Kind::ServiceAccount) => {
            let level = gitlab_level(d);
            Grant::new(
                gitlab_privilege(&["api"], Some(level)),
                &[format!("access_level:{level}").as_str()],
            )
        }
        (Platform::Gitlab, Kind::ProjectToken | Kind::GroupToken | Kind::PersonalAccessToken) => {
            // A bot's token acts with the bot's role.
            let level = parent_level.unwrap_or_else(|| gitlab_level(d));
            let scopes: &[&str] = match d.pm(26) {
                0..=399 => &["api"],
                400..=649 => &["read_repository", "write_repository"],
                650..=849 => &["read_api"],
                _ => &["read_repository", "read_registry"],
            };
            let mut detail: Vec<String> = scopes.iter().map(|s| format!("scope:{s}")).collect();
            let has_level = kind != Kind::PersonalAccessToken;
            if has_level {
                detail.push(format!("access_level:{level}"));
            }
            let privilege = gitlab_privilege(scopes, has_level.then_some(level));
            let mut signals = Vec::new();
            if has_level && level >= 40 {
                signals.push(Signal::new(
                    "gitlab.bot_token.high_role",
                    format!(
                        "token `{name}` acts with the {} role",
                        if level >= 50 { "Owner" } else { "Maintainer" }
                    ),
                ));
            }
            if has_level && level <= 20 && scopes.contains(&"api") {
                signals.push(Signal::new(
                    "gitlab.token.api_scope",
                    format!("token `{name}` has the `api` scope with a role that cannot write"),
                ));
            }
            Grant {
                privilege,
                detail,
                signals,
            }
        }
        (Platform::Gitlab, Kind::DeployToken) => {
            if p < 300 {
                Grant::new(
                    Privilege::Write,
                    &["scope:read_registry", "scope:write_registry"],
                )
            } else {
                Grant::new(Privilege::Read, &["scope:read_repository"])
            }
        }
        (Platform::Gitlab, Kind::TriggerToken) => {
            Grant::new(Privilege::Write, &["runs_pipelines_as_owner"])
        }
        (Platform::Gitlab, Kind::CiSecret) => {
            let masked = d.pm(27) >= 200;
            let protected = d.pm(28) >= 400;
            let mut g = Grant::new(
                Privilege::Unknown,
                &[
                    format!("masked:{masked}").as_str(),
                    format!("protected:{protected}").as_str(),
                    "environment_scope:*",
                ],
            );
            if !masked {
                g.signals.push(Signal::new(
                    "gitlab.variable.secret_unmasked",
                    format!("variable `{name}` looks like a secret and is not masked"),
                ));
            }
            if !protected {
                g.signals.push(Signal::new(
                    "gitlab.variable.secret_unprotected",
                    format!("variable `{name}` looks like a secret and is not protected"),
                ));
            }
            g
        }
        (Platform::Aws, Kind::ServiceAccount) => match p {
            _ if story == Some(Story::DepartedOwnersAdminKey) => Grant::new(
                Privilege::Admin,
                &["arn:aws:iam::aws:policy/AdministratorAccess"],
            ),
            0..=69 => Grant::new(
                Privilege::Admin,
                &["arn:aws:iam::aws:policy/AdministratorAccess"],
            ),
            70..=399 => Grant::new(
                Privilege::Write,
                &["arn:aws:iam::aws:policy/AmazonS3FullAccess"],
            ),
            _ => Grant::new(Privilege::Read, &["arn:aws:iam::aws:policy/ReadOnlyAccess"]),
        },
        (Platform::Aws, Kind::Role) => {
            let mut g = match p {
                0..=79 => Grant::new(
                    Privilege::Admin,
                    &["arn:aws:iam::aws:policy/AdministratorAccess"],
                ),
                80..=499 => Grant::new(
                    Privilege::Write,
                    &["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"],
                ),
                _ => Grant::new(Privilege::Read, &["arn:aws:iam::aws:policy/ReadOnlyAccess"]),
            };
            let sub = match d.pm(14) {
                _ if story == Some(Story::PublicTrustRole) => None,
                0..=19 => None,
                20..=59 => Some("repo:*".to_owned()),
                60..=249 => Some(format!("repo:{org}/*")),
                _ => Some(format!("repo:acme/sample-{purpose}:ref:refs/heads/main")),
            };
            match &sub {
                None => g.signals.push(Signal::new(
                    "aws.trust.no_sub",
                    "trusts token.actions.githubusercontent.com with no `sub` condition: any repository on GitHub can assume it",
                )),
                Some(s) if s.contains('*') => g.signals.push(Signal::new(
                    "aws.trust.wildcard_sub",
                    format!("`sub` condition `{s}` lets more than one repository assume this role"),
                )),
                Some(_) => {}
            }
            // As the AWS connector stores it: the document, and who can assume it in words.
            let issuer = "token.actions.githubusercontent.com";
            let mut condition =
                json!({"StringEquals": {format!("{issuer}:aud"): "sts.amazonaws.com"}});
            let who = match &sub {
                None => "any repository on GitHub, any branch or workflow".to_owned(),
                Some(s) if s == "repo:*" => format!("any repository matching `{s}`: all of GitHub"),
                Some(s) if s.contains('*') => format!("any repository matching `{s}`"),
                Some(s) => format!("workflows whose token's `sub` is `{s}`"),
            };
            if let Some(s) = &sub {
                let op = if s.contains('*') {
                    "StringLike"
                } else {
                    "StringEquals"
                };
                condition[op][format!("{issuer}:sub")] = json!(s);
            }
            let document = json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Federated": format!("arn:aws:iam::{org}:oidc-provider/{issuer}")},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": condition,
                }],
            });
            raw["trust"] = json!({
                // Its text, as the AWS connector keeps the URL-decoded document.
                "document": document.to_string(),
                "ci": [{"issuer": format!("https://{issuer}"), "ci": "github", "who": [who], "unusable": false}],
                "other_principals": [],
            });
            g
        }
        (Platform::Gcp, Kind::ServiceAccount) => {
            let (role, privilege) = match p {
                0..=49 => ("roles/owner", Privilege::Admin),
                50..=149 => ("roles/editor", Privilege::Admin),
                150..=499 => ("roles/storage.objectAdmin", Privilege::Write),
                500..=599 => ("roles/viewer", Privilege::Read),
                _ => ("roles/logging.logWriter", Privilege::Write),
            };
            let mut g = Grant::new(privilege, &[role]);
            if matches!(role, "roles/owner" | "roles/editor" | "roles/viewer") {
                g.signals.push(Signal::new(
                    "gcp.service_account.basic_role",
                    format!("`{name}` holds the basic role {role} on the project"),
                ));
            }
            g
        }
        (Platform::Gcp, Kind::Role) => {
            let condition = match d.pm(14) {
                0..=79 => None,
                80..=299 => Some("assertion.repository_owner=='acme'".to_owned()),
                _ => Some(format!("assertion.repository=='acme/sample-{purpose}'")),
            };
            let mut g = Grant::new(
                Privilege::Unknown,
                &["issuer:token.actions.githubusercontent.com"],
            );
            match &condition {
                None => g.signals.push(Signal::new(
                    "gcp.wif_provider.no_condition",
                    "trusts GitHub Actions tokens without an attributeCondition",
                )),
                Some(c) if c.contains("repository_owner") => g.signals.push(Signal::new(
                    "gcp.wif_provider.wide_condition",
                    format!("attributeCondition `{c}` admits every repository of the owner"),
                )),
                Some(_) => {}
            }
            raw["attribute_condition"] = json!(condition);
            g
        }
        (Platform::Azure, Kind::AppInstallation | Kind::ClientSecret | Kind::Certificate) => {
            match p {
                0..=49 => Grant::new(Privilege::Admin, &["Directory.ReadWrite.All"]),
                50..=349 => Grant::new(Privilege::Write, &["Sites.ReadWrite.All"]),
                _ => Grant::new(Privilege::Read, &["User.Read.All"]),
            }
        }
        (Platform::Azure, Kind::Role) => {
            let subject = match d.pm(14) {
                0..=149 => "repo:acme/*".to_owned(),
                _ => format!("repo:acme/sample-{purpose}:environment:production"),
            };
            let mut g = Grant::new(Privilege::Unknown, &[format!("subject:{subject}").as_str()]);
            if subject.contains('*') {
                g.signals.push(Signal::new(
                    "azure.federated_credential.broad_subject",
                    format!("subject `{subject}` admits more than one repository"),
                ));
            }
            g
        }
        _ => Grant::new(Privilege::Unknown, &[]),
    }
}

/// A GitLab role: Reporter 20, Developer 30, Maintainer 40, Owner 50.
fn gitlab_level(d: &Draw) -> u64 {
    match d.pm(29) {
        0..=199 => 20,
        200..=699 => 30,
        700..=949 => 40,
        _ => 50,
    }
}

/// As the GitLab connector reads scopes and role.
fn gitlab_privilege(scopes: &[&str], level: Option<u64>) -> Privilege {
    if scopes.iter().all(|s| s.starts_with("read_")) {
        return Privilege::Read;
    }
    match level {
        Some(l) if l >= 50 => Privilege::Admin,
        Some(l) if l >= 30 => Privilege::Write,
        Some(_) => Privilege::Read,
        None => Privilege::Write,
    }
}
