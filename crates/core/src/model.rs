//! The platform-neutral vocabulary of DESIGN.md §2. Every enum has a stable lowercase string
//! form, used in the database, the JSON and the CLI filters.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A string did not name a known value of one of the enums below.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}` (expected one of: {expected})")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        // By hand: utoipa's derive reads a `serde(rename)` given through a macro as the
        // variant's own name.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .description(Some(concat!("A ", $what, ".")))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseEnumError {
                        what: $what,
                        value: s.to_owned(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// Where a record comes from. `roster` is Roster's own API tokens.
    Platform, "platform" {
        Github => "github",
        Gitlab => "gitlab",
        Aws => "aws",
        Gcp => "gcp",
        Azure => "azure",
        Roster => "roster",
    }
);

string_enum!(
    /// Identity kinds and credential kinds (DESIGN.md §2).
    Kind, "kind" {
        ServiceAccount => "service_account",
        AppInstallation => "app_installation",
        Role => "role",
        Runner => "runner",
        Webhook => "webhook",
        AccessKey => "access_key",
        ServiceAccountKey => "service_account_key",
        ClientSecret => "client_secret",
        Certificate => "certificate",
        PersonalAccessToken => "personal_access_token",
        ProjectToken => "project_token",
        GroupToken => "group_token",
        DeployToken => "deploy_token",
        TriggerToken => "trigger_token",
        DeployKey => "deploy_key",
        CiSecret => "ci_secret",
        ApiToken => "api_token",
    }
);

impl Kind {
    /// Identities act; credentials are the secret material they act with.
    pub fn class(self) -> RecordClass {
        match self {
            Kind::ServiceAccount
            | Kind::AppInstallation
            | Kind::Role
            | Kind::Runner
            | Kind::Webhook => RecordClass::Identity,
            _ => RecordClass::Credential,
        }
    }

    /// Kinds whose secret is a standing bearer secret (as opposed to federation or a
    /// configuration object); rotation and expiry rules apply to these.
    pub fn is_secret_material(self) -> bool {
        self.class() == RecordClass::Credential && self != Kind::CiSecret
    }
}

string_enum!(
    RecordClass, "class" {
        Identity => "identity",
        Credential => "credential",
    }
);

string_enum!(
    /// Where `last_used_at` came from. `NoTelemetry` means the source cannot say; it is never
    /// read as "never used".
    Usage, "usage" {
        Used => "used",
        NeverUsed => "never_used",
        NoTelemetry => "no_telemetry",
    }
);

string_enum!(
    Status, "status" {
        Active => "active",
        Disabled => "disabled",
        Gone => "gone",
    }
);

string_enum!(
    /// Normalised privilege, derived from permissions by the connector, never from a name.
    Privilege, "privilege" {
        Admin => "admin",
        Write => "write",
        Read => "read",
        Unknown => "unknown",
    }
);

string_enum!(
    Severity, "severity" {
        Info => "info",
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

string_enum!(
    /// Ordered low → critical so that `max()` gives the worst.
    Tier, "tier" {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

string_enum!(
    /// OWASP Non-Human Identities Top 10 (2025).
    OwaspCode, "OWASP NHI code" {
        Nhi1 => "NHI1",
        Nhi2 => "NHI2",
        Nhi3 => "NHI3",
        Nhi4 => "NHI4",
        Nhi5 => "NHI5",
        Nhi6 => "NHI6",
        Nhi7 => "NHI7",
        Nhi8 => "NHI8",
        Nhi9 => "NHI9",
        Nhi10 => "NHI10",
    }
);

/// The words a page shows for a stored value; the value itself stays in exports, the API and
/// a tooltip.
impl Platform {
    pub fn label(self) -> &'static str {
        match self {
            Platform::Github => "GitHub",
            Platform::Gitlab => "GitLab",
            Platform::Aws => "AWS",
            Platform::Gcp => "Google Cloud",
            Platform::Azure => "Entra ID",
            Platform::Roster => "Roster",
        }
    }
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::ServiceAccount => "service account",
            Kind::AppInstallation => "app installation",
            Kind::Role => "role",
            Kind::Runner => "runner",
            Kind::Webhook => "webhook",
            Kind::AccessKey => "access key",
            Kind::ServiceAccountKey => "service account key",
            Kind::ClientSecret => "client secret",
            Kind::Certificate => "certificate",
            Kind::PersonalAccessToken => "personal access token",
            Kind::ProjectToken => "project access token",
            Kind::GroupToken => "group access token",
            Kind::DeployToken => "deploy token",
            Kind::TriggerToken => "pipeline trigger token",
            Kind::DeployKey => "deploy key",
            Kind::CiSecret => "CI secret",
            Kind::ApiToken => "Roster API token",
        }
    }
}

impl Usage {
    pub fn label(self) -> &'static str {
        match self {
            Usage::Used => "used",
            Usage::NeverUsed => "never used",
            Usage::NoTelemetry => "not reported",
        }
    }
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Gone => "gone",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_strings() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
        }
        for t in Tier::ALL {
            assert_eq!(t.as_str().parse::<Tier>().unwrap(), *t);
        }
        let err = "sometimes".parse::<Usage>().unwrap_err();
        assert!(err.to_string().contains("no_telemetry"), "{err}");
    }

    #[test]
    fn tiers_order_from_low_to_critical() {
        assert!(
            Tier::Critical > Tier::High && Tier::High > Tier::Medium && Tier::Medium > Tier::Low
        );
        assert_eq!(Kind::AccessKey.class(), RecordClass::Credential);
        assert_eq!(Kind::Role.class(), RecordClass::Identity);
    }
}
