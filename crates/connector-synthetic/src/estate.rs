//! How the sample estate looks: which listings exist and what a block of records in each holds.

use chrono::{DateTime, Duration, Utc};
use roster_core::{
    InteractiveSignIn, Kind, Platform, Privilege, Record, RecordKey, Signal, Status, Usage,
};
use serde_json::json;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::SyntheticConfig;

/// Records per block. Block `b` belongs to listing `b % LISTINGS.len()` and holds records
/// `4b … 4b+3`; an identity's credentials are always in its own block, after it.
pub const BLOCK_SIZE: u64 = 4;

/// One listing of the sample estate.
pub struct SampleListing {
    pub platform: Platform,
    pub resource_type: &'static str,
    pub scope: &'static str,
}

macro_rules! listings {
    ($($platform:ident $rt:literal [$($scope:literal),+]);+ $(;)?) => {
        &[$($(SampleListing { platform: Platform::$platform, resource_type: $rt, scope: $scope }),+),+]
    };
}

pub static LISTINGS: &[SampleListing] = listings![
    Github "github.app_installation" ["acme", "acme-labs"];
    Github "github.fine_grained_pat" ["acme", "acme-labs"];
    Github "github.deploy_key" ["acme", "acme-labs"];
    Github "github.actions_secret" ["acme", "acme-labs"];
    Github "github.runner" ["acme", "acme-labs"];
    Github "github.webhook" ["acme", "acme-labs"];
    Gitlab "gitlab.project_token" ["acme-platform", "acme-data"];
    Gitlab "gitlab.group_token" ["acme-platform", "acme-data"];
    Gitlab "gitlab.deploy_token" ["acme-platform", "acme-data"];
    Gitlab "gitlab.trigger_token" ["acme-platform", "acme-data"];
    Gitlab "gitlab.ci_variable" ["acme-platform", "acme-data"];
    Gitlab "gitlab.service_account" ["acme-platform", "acme-data"];
    Aws "aws.iam_user" ["111111111111", "222222222222", "333333333333"];
    Aws "aws.iam_role" ["111111111111", "222222222222", "333333333333"];
    Gcp "gcp.service_account" ["acme-prod", "acme-staging"];
    Gcp "gcp.workload_identity_provider" ["acme-prod", "acme-staging"];
    Azure "azure.application" ["acme.onmicrosoft.com"];
    Azure "azure.federated_credential" ["acme.onmicrosoft.com"];
];

const PEOPLE: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yara",
];

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
}

fn identity_kind(rt: &str) -> Option<Kind> {
    Some(match rt {
        "github.app_installation" => Kind::AppInstallation,
        "github.runner" => Kind::Runner,
        "github.webhook" => Kind::Webhook,
        "aws.iam_role" | "gcp.workload_identity_provider" | "azure.federated_credential" => {
            Kind::Role
        }
        _ => return None,
    })
}

/// (identity kind, credential kind) for listings that emit an identity followed by its
/// credentials; the slot within the block says which.
fn owner_and_credential(rt: &str, j: u64) -> (Kind, bool) {
    match rt {
        // Bot user + its token, twice per block.
        "gitlab.project_token" => {
            if j.is_multiple_of(2) {
                (Kind::ServiceAccount, false)
            } else {
                (Kind::ProjectToken, true)
            }
        }
        "gitlab.group_token" => {
            if j.is_multiple_of(2) {
                (Kind::ServiceAccount, false)
            } else {
                (Kind::GroupToken, true)
            }
        }
        // An identity with three credentials.
        "gitlab.service_account" => {
            if j == 0 {
                (Kind::ServiceAccount, false)
            } else {
                (Kind::PersonalAccessToken, true)
            }
        }
        "aws.iam_user" => {
            if j == 0 {
                (Kind::ServiceAccount, false)
            } else if j < 3 {
                (Kind::AccessKey, true)
            } else {
                (Kind::ServiceAccount, false)
            }
        }
        "gcp.service_account" => {
            if j == 0 {
                (Kind::ServiceAccount, false)
            } else {
                (Kind::ServiceAccountKey, true)
            }
        }
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

/// Kinds whose platform reports last use.
fn has_telemetry(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::CiSecret | Kind::Webhook | Kind::Runner | Kind::Certificate
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

fn name_for(kind: Kind, listing: &crate::estate::SampleListing, d: &Draw, ext: &str) -> String {
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

/// Appends the records of `block` of `listing` (truncated at `config.count`).
pub fn block_records(
    config: &SyntheticConfig,
    listing: &SampleListing,
    block: u64,
    out: &mut Vec<Record>,
) {
    let mut parent: Option<RecordKey> = None;
    for j in 0..BLOCK_SIZE {
        let slot = block * BLOCK_SIZE + j;
        if slot >= config.count {
            return;
        }
        let d = Draw {
            seed: config.seed,
            slot,
        };
        let (kind, is_credential_of_parent) = match identity_kind(listing.resource_type) {
            Some(k) => (k, false),
            None => owner_and_credential(listing.resource_type, j),
        };
        let record = make_record(
            config.anchor,
            listing,
            kind,
            &d,
            if is_credential_of_parent {
                parent.clone()
            } else {
                None
            },
        );
        if !is_credential_of_parent && kind.class() == roster_core::RecordClass::Identity {
            parent = Some(record.key.clone());
        }
        out.push(record);
    }
}

fn make_record(
    anchor: DateTime<Utc>,
    listing: &SampleListing,
    kind: Kind,
    d: &Draw,
    parent: Option<RecordKey>,
) -> Record {
    let ext = external_id(kind, d);
    let name = name_for(kind, listing, d, &ext);
    let age_days = (d.u(3) % 1000) as i64;
    let created_at = anchor - Duration::days(age_days) - Duration::minutes((d.u(4) % 1440) as i64);

    let (usage, last_used_at) = if !has_telemetry(kind) {
        (Usage::NoTelemetry, None)
    } else {
        match d.pm(5) {
            0..=699 => {
                // Skewed towards recent use; some long idle.
                let idle = if d.pm(6) < 750 {
                    d.u(7) % 30
                } else {
                    d.u(7) % (age_days.max(1) as u64)
                };
                let idle = idle.min(age_days.max(0) as u64) as i64;
                (
                    Usage::Used,
                    Some(anchor - Duration::days(idle) - Duration::minutes((d.u(8) % 1440) as i64)),
                )
            }
            700..=899 => (Usage::NeverUsed, None),
            _ => (Usage::NoTelemetry, None),
        }
    };
    let expires_at = match (kind.class(), d.pm(9)) {
        (roster_core::RecordClass::Identity, _) => None,
        (_, 0..=399) => None,
        (_, p) => Some(created_at + Duration::days(30 + (p as i64 % 400))),
    };
    let privilege = match d.pm(10) {
        0..=89 => Privilege::Admin,
        90..=389 => Privilege::Write,
        390..=899 => Privilege::Read,
        _ => Privilege::Unknown,
    };
    let privilege_detail = privilege_detail(listing.platform, privilege);
    let (owner, owner_source) = if d.pm(11) < 760 {
        let person = d.pick(12, PEOPLE);
        (
            Some(format!("{person}@acme.example")),
            Some(owner_source(listing.platform).to_owned()),
        )
    } else {
        (None, None)
    };
    let status = if d.pm(13) < 80 {
        Status::Disabled
    } else {
        Status::Active
    };
    let mut raw = json!({
        "sample_data": true,
        "slot": d.slot,
        "id": ext,
        "name": name,
    });
    let mut signals = Vec::new();
    if kind == Kind::Role {
        // Federated roles: who may assume them. Some are wide open, as in real estates.
        let sub = match d.pm(14) {
            0..=149 => "repo:*".to_owned(),
            150..=349 => "repo:acme/*".to_owned(),
            _ => format!("repo:acme/{}:ref:refs/heads/main", d.pick(2, PURPOSES)),
        };
        if listing.platform == Platform::Aws && sub.contains('*') {
            signals.push(Signal::new(
                "aws.trust.wildcard_sub",
                format!("`sub` condition `{sub}` lets more than one repository assume this role"),
            ));
        }
        raw["trust"] = json!({"issuer": "https://token.actions.githubusercontent.com", "sub": sub});
    }
    // Some AWS service users also have a console password, as in real estates: a person can
    // sign in as them; a few did lately.
    let interactive_sign_in = (listing.platform == Platform::Aws
        && kind == Kind::ServiceAccount
        && d.pm(15) < 60)
        .then(|| InteractiveSignIn {
            method: "console password".to_owned(),
            last_at: (d.pm(16) < 500).then(|| anchor - Duration::days((d.u(17) % 200) as i64)),
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
        platform: listing.platform,
        kind,
        name,
        parent,
        status,
        created_at: Some(created_at),
        last_used_at,
        usage,
        expires_at,
        privilege,
        privilege_detail,
        owner,
        owner_source,
        credential_fingerprint: None,
        signals,
        interactive_sign_in,
        raw,
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

fn privilege_detail(platform: Platform, p: Privilege) -> Vec<String> {
    let s: &[&str] = match (platform, p) {
        (Platform::Aws, Privilege::Admin) => &["arn:aws:iam::aws:policy/AdministratorAccess"],
        (Platform::Aws, Privilege::Write) => &["arn:aws:iam::aws:policy/AmazonS3FullAccess"],
        (Platform::Aws, Privilege::Read) => &["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        (Platform::Github, Privilege::Admin) => &["administration:write", "contents:write"],
        (Platform::Github, Privilege::Write) => &["contents:write"],
        (Platform::Github, Privilege::Read) => &["contents:read", "metadata:read"],
        (Platform::Gitlab, Privilege::Admin) => &["api", "access_level:50"],
        (Platform::Gitlab, Privilege::Write) => &["write_repository", "access_level:30"],
        (Platform::Gitlab, Privilege::Read) => &["read_repository", "access_level:20"],
        (Platform::Gcp, Privilege::Admin) => &["roles/owner"],
        (Platform::Gcp, Privilege::Write) => &["roles/storage.objectAdmin"],
        (Platform::Gcp, Privilege::Read) => &["roles/viewer"],
        (Platform::Azure, Privilege::Admin) => &["Directory.ReadWrite.All"],
        (Platform::Azure, Privilege::Write) => &["Sites.ReadWrite.All"],
        (Platform::Azure, Privilege::Read) => &["User.Read.All"],
        _ => &[],
    };
    s.iter().map(|x| (*x).to_owned()).collect()
}
