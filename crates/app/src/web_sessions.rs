//! Signed-in web sessions, kept in the store so that a restart signs nobody out and every
//! replica behind a load balancer knows them. A session ends at its absolute expiry
//! ([`SESSION_LIFETIME`]; for a person from the identity provider `[auth.oidc]
//! role_refresh_minutes`, so their role is taken afresh), after `[server] session_idle_minutes`
//! without a request, at sign-out, or when its person signs out everywhere.

use chrono::{DateTime, Duration, Utc};
use roster_store::web_sessions::NewWebSession;
pub use roster_store::web_sessions::OidcLogin;

use crate::Roster;
use crate::access::Principal;
use crate::api_tokens::random_token;
use crate::error::AppError;

/// However busy, a session ends this long after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::hours(8);
/// A one-time sign-in link works for this long.
pub const SIGN_IN_LINK_LIFETIME: Duration = Duration::minutes(15);
/// At most this many OpenID Connect sign-ins are under way at once (between `/login` and the
/// callback, 10 minutes each); beyond, `/login` refuses until some end.
const OIDC_LOGINS_UNDER_WAY: u64 = 10_000;
/// A session's last-seen time is written at most this often.
const TOUCH_AFTER: Duration = Duration::minutes(1);

/// A session just opened: `token` goes into the cookie and nowhere else.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// The session behind a cookie.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub principal: Principal,
    /// Presented by every state-changing request of this session.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl Roster {
    fn session_idle(&self) -> Duration {
        Duration::minutes(i64::from(self.config.server.session_idle_minutes))
    }

    /// Opens a session for `principal` (an API token's principal never has one).
    pub async fn open_session(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
    ) -> Result<OpenedSession, AppError> {
        let (source, who, role) = principal.stored_parts();
        // A person from the identity provider comes back to it for their current role.
        let lifetime = match (&self.config.auth.oidc, source) {
            (Some(o), "person") => {
                SESSION_LIFETIME.min(Duration::minutes(i64::from(o.role_refresh_minutes)))
            }
            _ => SESSION_LIFETIME,
        };
        let opened = OpenedSession {
            token: random_token(),
            expires_at: now + lifetime,
        };
        self.store
            .open_web_session(
                NewWebSession {
                    token: opened.token.clone(),
                    who: who.to_owned(),
                    role: role.as_str().to_owned(),
                    source: source.to_owned(),
                    csrf: random_token(),
                    expires_at: opened.expires_at,
                },
                now,
            )
            .await?;
        Ok(opened)
    }

    /// The live session behind `token`, if any. A row that does not read back (a role or
    /// source this version does not know) is no session.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LiveSession>, AppError> {
        let Some(row) = self
            .store
            .web_session(token, now, self.session_idle(), TOUCH_AFTER)
            .await?
        else {
            return Ok(None);
        };
        let Some(principal) = Principal::from_stored_parts(&row.source, &row.who, &row.role) else {
            tracing::warn!(who = %row.who, "a stored session does not read back; ignored");
            return Ok(None);
        };
        Ok(Some(LiveSession {
            principal,
            csrf: row.csrf,
            expires_at: row.expires_at,
        }))
    }

    /// Ends the session behind `token`; true if there was one.
    pub async fn close_session(&self, token: &str) -> Result<bool, AppError> {
        Ok(self.store.close_web_session(token).await?)
    }

    /// Ends every session of the person `who` (an admin's doing: they left, or their role was
    /// taken away at the identity provider); audited with how many.
    pub async fn sign_out_person(
        &self,
        admin: &Principal,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, AppError> {
        admin.require_issue_sign_in_links()?;
        let ended = self.store.close_web_sessions_of(who.trim()).await?;
        self.record_event(
            admin.actor(),
            crate::audit::SESSIONS_ENDED,
            Some(format!("sso:{}", who.trim())),
            serde_json::json!({"sessions": ended}),
            now,
        )
        .await?;
        Ok(ended)
    }

    /// Ends every session of `p` (sign out everywhere); returns how many.
    pub async fn close_sessions_of(&self, p: &Principal) -> Result<u64, AppError> {
        let (_, who, _) = p.stored_parts();
        Ok(self.store.close_web_sessions_of(who).await?)
    }
}

impl Roster {
    /// A one-time link token signing in `principal` (the bootstrap admin, a demo person),
    /// valid for [`SIGN_IN_LINK_LIFETIME`] on any server of this database; issued by `issuer`
    /// and audited (`auth.sign_in_link_issued`, never with the token).
    pub async fn issue_sign_in_link(
        &self,
        issuer: &Principal,
        principal: &Principal,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        issuer.require_issue_sign_in_links()?;
        let (source, who, role) = principal.stored_parts();
        let token = random_token();
        self.store
            .create_sign_in_link(
                &token,
                who,
                role.as_str(),
                source,
                now + SIGN_IN_LINK_LIFETIME,
                now,
            )
            .await?;
        self.record_event(
            issuer.actor(),
            crate::audit::SIGN_IN_LINK_ISSUED,
            Some(principal.actor()),
            serde_json::json!({"role": role.as_str(),
                               "minutes": SIGN_IN_LINK_LIFETIME.num_minutes()}),
            now,
        )
        .await?;
        Ok(token)
    }

    /// Who a one-time link signs in, once; `None` for an unknown, used or expired one.
    pub async fn redeem_sign_in_link(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>, AppError> {
        Ok(self
            .store
            .redeem_sign_in_link(token, now)
            .await?
            .and_then(|l| Principal::from_stored_parts(&l.source, &l.who, &l.role)))
    }

    /// Keeps an OpenID Connect sign-in under way (state, nonce, PKCE verifier) behind `key`,
    /// the value of its pre-login cookie, until `expires_at`, for whichever server the
    /// provider's redirect reaches. False when too many are under way (nothing kept).
    pub async fn begin_oidc_login(
        &self,
        key: &str,
        login: OidcLogin,
        now: DateTime<Utc>,
    ) -> Result<bool, AppError> {
        Ok(self
            .store
            .begin_oidc_login(key, login, OIDC_LOGINS_UNDER_WAY, now)
            .await?)
    }

    /// The sign-in under way behind `key`, once; `None` when unknown, used or expired.
    pub async fn take_oidc_login(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OidcLogin>, AppError> {
        Ok(self.store.take_oidc_login(key, now).await?)
    }

    /// Whether anyone has ever signed in: until then a server without an identity provider
    /// prints its admin link at start; afterwards `roster admin sign-in-link` issues one.
    pub async fn anyone_signed_in(&self) -> Result<bool, AppError> {
        Ok(self.store.audit_action_seen(crate::audit::SIGN_IN).await?)
    }
}

impl Roster {
    /// Who the identity-provider account `issuer` + `subject` is: its verified `email`, unless
    /// another account already holds that email, then its subject (audited as
    /// `auth.email_taken`); without a verified email, its subject. See
    /// [`roster_store::Store::bind_sso_subject`].
    pub async fn sso_person(
        &self,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        use roster_store::web_sessions::SsoPerson;
        match self
            .store
            .bind_sso_subject(issuer, subject, email, now)
            .await?
        {
            SsoPerson::Bound(who) => Ok(who),
            SsoPerson::EmailTaken { who, email_holder } => {
                tracing::warn!(
                    subject,
                    "sign-in: the verified email belongs to another account; signed in as the subject"
                );
                self.record_event(
                    "anonymous".into(),
                    crate::audit::EMAIL_TAKEN,
                    Some(format!("sso:{who}")),
                    serde_json::json!({"email": email, "held_by": email_holder,
                                       "issuer": issuer, "subject": subject}),
                    now,
                )
                .await?;
                Ok(who)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::access::Role;
    use chrono::TimeZone;

    fn roster(store: roster_store::Store, config: &str) -> Roster {
        Roster::new(
            store,
            crate::config::Config::from_toml_str(config).unwrap(),
            crate::policy::LoadedPolicy {
                policy: roster_core::RiskPolicy::default(),
                hash: String::new(),
            },
        )
    }

    /// A person from the identity provider is sent back to it after `role_refresh_minutes`,
    /// so a role taken away there lasts at most that long here; the bootstrap admin keeps the
    /// full lifetime (there is no provider to ask).
    #[tokio::test]
    async fn a_provider_s_person_comes_back_for_their_role() {
        let oidc = "[auth.oidc]\nissuer = \"https://idp.example\"\nclient_id = \"roster\"\n\
                    role_refresh_minutes = 20\n";
        for t in roster_store::testing::test_stores().await.unwrap() {
            let r = roster(t.store.clone(), oidc);
            let now = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
            let person = Principal::person(Role::Admin, "ada@acme.example");
            let opened = r.open_session(&person, now).await.unwrap();
            assert_eq!(
                opened.expires_at,
                now + Duration::minutes(20),
                "{}",
                t.backend
            );
            let at = |m| now + Duration::minutes(m);
            assert!(r.session(&opened.token, at(15)).await.unwrap().is_some());
            assert!(r.session(&opened.token, at(21)).await.unwrap().is_none());
            let bootstrap = r.open_session(&Principal::bootstrap(), now).await.unwrap();
            assert_eq!(bootstrap.expires_at, now + SESSION_LIFETIME);
        }
        // Out of range: refused by name.
        let err = crate::config::Config::from_toml_str(
            "[auth.oidc]\nissuer = \"https://idp.example\"\nclient_id = \"roster\"\n\
             role_refresh_minutes = 0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("auth.oidc.role_refresh_minutes"), "{err}");
    }
}
