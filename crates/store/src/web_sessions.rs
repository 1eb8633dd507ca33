//! Web sessions: stored by the SHA-256 of the cookie's value (the token itself is never
//! stored), with an absolute expiry and a last-seen time for the idle timeout.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::entity::{oidc_login, sign_in_link, sso_subject, web_session};
use crate::{Store, StoreError};

pub use oidc_login::Model as OidcLogin;
pub use sign_in_link::Model as SignInLink;
pub use web_session::Model as WebSession;

/// The stored key of a session token.
pub fn session_key(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewWebSession {
    pub token: String,
    pub who: String,
    pub role: String,
    pub source: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Opens a session; also drops sessions that have expired (a few rows, by index).
    pub async fn open_web_session(
        &self,
        s: NewWebSession,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        web_session::Entity::delete_many()
            .filter(web_session::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        web_session::ActiveModel {
            id_hash: Set(session_key(&s.token)),
            who: Set(s.who),
            role: Set(s.role),
            source: Set(s.source),
            csrf: Set(s.csrf),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(s.expires_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// The live session behind `token` at `now`: not past its expiry, and seen within `idle`.
    /// Its last-seen time moves to `now` when it is older than `touch_after` (so that a page
    /// of requests writes once, not per request).
    pub async fn web_session(
        &self,
        token: &str,
        now: DateTime<Utc>,
        idle: Duration,
        touch_after: Duration,
    ) -> Result<Option<WebSession>, StoreError> {
        let key = session_key(token);
        let Some(s) = web_session::Entity::find_by_id(key.clone())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if s.expires_at <= now || s.last_seen_at + idle <= now {
            return Ok(None);
        }
        if s.last_seen_at + touch_after <= now {
            web_session::Entity::update_many()
                .col_expr(web_session::Column::LastSeenAt, Expr::value(now))
                .filter(web_session::Column::IdHash.eq(key))
                .exec(&self.db)
                .await?;
        }
        Ok(Some(s))
    }

    /// Ends the session behind `token`; true if there was one.
    pub async fn close_web_session(&self, token: &str) -> Result<bool, StoreError> {
        let res = web_session::Entity::delete_by_id(session_key(token))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Ends every session of `who`; returns how many.
    pub async fn close_web_sessions_of(&self, who: &str) -> Result<u64, StoreError> {
        let res = web_session::Entity::delete_many()
            .filter(web_session::Column::Who.eq(who))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected)
    }
}

impl Store {
    /// Stores a one-time sign-in link for `who` (its token only as a hash).
    pub async fn create_sign_in_link(
        &self,
        token: &str,
        who: &str,
        role: &str,
        source: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sign_in_link::Entity::delete_many()
            .filter(sign_in_link::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        sign_in_link::ActiveModel {
            token_hash: Set(session_key(token)),
            who: Set(who.to_owned()),
            role: Set(role.to_owned()),
            source: Set(source.to_owned()),
            created_at: Set(now),
            expires_at: Set(expires_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Redeems `token` once: the link's row is deleted, and only the request that deleted it
    /// gets it (two servers racing on one link: one wins). An expired link is gone too.
    pub async fn redeem_sign_in_link(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SignInLink>, StoreError> {
        let key = session_key(token);
        let Some(link) = sign_in_link::Entity::find_by_id(key.clone())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let deleted = sign_in_link::Entity::delete_by_id(key)
            .exec(&self.db)
            .await?;
        Ok((deleted.rows_affected == 1 && link.expires_at > now).then_some(link))
    }
}

impl Store {
    /// Keeps an OpenID Connect sign-in under way behind `key` (its pre-login cookie) until
    /// `expires_at`, dropping expired ones. At `max` under way it keeps nothing and says so
    /// (false): a flood of `/login` requests cannot grow the table without bound.
    pub async fn begin_oidc_login(
        &self,
        key: &str,
        login: OidcLogin,
        max: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        use sea_orm::PaginatorTrait;
        oidc_login::Entity::delete_many()
            .filter(oidc_login::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        if oidc_login::Entity::find().count(&self.db).await? >= max {
            return Ok(false);
        }
        oidc_login::ActiveModel {
            key_hash: Set(session_key(key)),
            state: Set(login.state),
            nonce: Set(login.nonce),
            pkce_verifier: Set(login.pkce_verifier),
            expires_at: Set(login.expires_at),
        }
        .insert(&self.db)
        .await?;
        Ok(true)
    }

    /// Takes the sign-in under way behind `key`, once (of two servers racing on it, one gets
    /// it); `None` when unknown, taken or expired.
    pub async fn take_oidc_login(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OidcLogin>, StoreError> {
        let hash = session_key(key);
        let Some(login) = oidc_login::Entity::find_by_id(hash.clone())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let deleted = oidc_login::Entity::delete_by_id(hash)
            .exec(&self.db)
            .await?;
        Ok((deleted.rows_affected == 1 && login.expires_at > now).then_some(login))
    }
}

/// Who an identity-provider account is, as [`Store::bind_sso_subject`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoPerson {
    /// Its verified email (first bound to this account now or before), or its subject.
    Bound(String),
    /// Its verified email is bound to another account: it is its subject instead, and the
    /// email's current holder is named.
    EmailTaken { who: String, email_holder: String },
}

impl Store {
    /// Binds the account `issuer` + `subject` to `email` (verified) or to its subject, once:
    /// an email already bound to another account of any issuer is not given to this one. The
    /// same account keeps its binding; a changed email moves it (the provider is authoritative
    /// for its own account).
    pub async fn bind_sso_subject(
        &self,
        issuer: &str,
        subject: &str,
        email: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SsoPerson, StoreError> {
        let txn = self.begin_write().await?;
        let mine = |r: &sso_subject::Model| r.issuer == issuer && r.subject == subject;
        let decided = match email {
            Some(e) => {
                let holders = sso_subject::Entity::find()
                    .filter(sso_subject::Column::Who.eq(e))
                    .all(&txn)
                    .await?;
                match holders.iter().find(|r| !mine(r)) {
                    Some(other) => SsoPerson::EmailTaken {
                        who: subject.to_owned(),
                        email_holder: format!("{} {}", other.issuer, other.subject),
                    },
                    None => SsoPerson::Bound(e.to_owned()),
                }
            }
            None => SsoPerson::Bound(subject.to_owned()),
        };
        let who = match &decided {
            SsoPerson::Bound(w) | SsoPerson::EmailTaken { who: w, .. } => w.clone(),
        };
        let existing = sso_subject::Entity::find_by_id((issuer.to_owned(), subject.to_owned()))
            .one(&txn)
            .await?;
        match existing {
            Some(row) => {
                let mut m: sso_subject::ActiveModel = row.into();
                m.who = Set(who);
                m.last_seen_at = Set(now);
                m.update(&txn).await?;
            }
            None => {
                sso_subject::ActiveModel {
                    issuer: Set(issuer.to_owned()),
                    subject: Set(subject.to_owned()),
                    who: Set(who),
                    first_seen_at: Set(now),
                    last_seen_at: Set(now),
                }
                .insert(&txn)
                .await?;
            }
        }
        txn.commit().await?;
        Ok(decided)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test]
    async fn sessions_expire_idle_close_and_survive_a_new_connection() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let now = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
            let open = |token: &str, who: &str| NewWebSession {
                token: token.into(),
                who: who.into(),
                role: "owner".into(),
                source: "person".into(),
                csrf: format!("csrf-{token}"),
                expires_at: now + Duration::hours(8),
            };
            s.open_web_session(open("tok-a", "alice"), now)
                .await
                .unwrap();
            s.open_web_session(open("tok-b", "alice"), now)
                .await
                .unwrap();
            s.open_web_session(open("tok-c", "bob"), now).await.unwrap();
            let idle = Duration::minutes(30);
            let touch = Duration::minutes(1);
            let get = |token: &'static str, at| s.web_session(token, at, idle, touch);
            assert_eq!(get("tok-a", now).await.unwrap().unwrap().csrf, "csrf-tok-a");
            assert!(get("unknown", now).await.unwrap().is_none());
            // The token is not what is stored.
            let rows = crate::entity::web_session::Entity::find()
                .all(s.connection())
                .await
                .unwrap();
            assert!(rows.iter().all(|r| !r.id_hash.contains("tok-")));
            // Used every 20 minutes, a session lives; left alone for 30, it is gone.
            let t20 = now + Duration::minutes(20);
            assert!(get("tok-a", t20).await.unwrap().is_some());
            assert!(
                get("tok-a", t20 + Duration::minutes(20))
                    .await
                    .unwrap()
                    .is_some()
            );
            assert!(
                get("tok-b", now + Duration::minutes(30))
                    .await
                    .unwrap()
                    .is_none(),
                "{}: idle",
                t.backend
            );
            // Never past its absolute expiry, however busy.
            assert!(
                get("tok-a", now + Duration::hours(8))
                    .await
                    .unwrap()
                    .is_none()
            );
            // Sign out everywhere ends alice's sessions only.
            assert_eq!(s.close_web_sessions_of("alice").await.unwrap(), 2);
            assert!(get("tok-c", now).await.unwrap().is_some());
            assert!(s.close_web_session("tok-c").await.unwrap());
            assert!(!s.close_web_session("tok-c").await.unwrap());
        }
    }

    #[tokio::test]
    async fn a_verified_email_is_bound_to_the_first_account_that_shows_it() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let now = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
            let iss = "https://idp.example";
            let bound = |w: &str| SsoPerson::Bound(w.to_owned());
            let alice = Some("alice@acme.example");
            assert_eq!(
                s.bind_sso_subject(iss, "sub-1", alice, now).await.unwrap(),
                bound("alice@acme.example")
            );
            // The same account again: the same person.
            assert_eq!(
                s.bind_sso_subject(iss, "sub-1", alice, now).await.unwrap(),
                bound("alice@acme.example")
            );
            // A new account showing alice's (recycled) address is its subject, not alice.
            let taken = s.bind_sso_subject(iss, "sub-2", alice, now).await.unwrap();
            assert_eq!(
                taken,
                SsoPerson::EmailTaken {
                    who: "sub-2".into(),
                    email_holder: format!("{iss} sub-1"),
                },
                "{}",
                t.backend
            );
            // Another issuer's account is another account too.
            assert!(matches!(
                s.bind_sso_subject("https://other.example", "sub-1", alice, now)
                    .await
                    .unwrap(),
                SsoPerson::EmailTaken { .. }
            ));
            // No verified email: the subject; alice's account changing its email moves it.
            assert_eq!(
                s.bind_sso_subject(iss, "sub-3", None, now).await.unwrap(),
                bound("sub-3")
            );
            assert_eq!(
                s.bind_sso_subject(iss, "sub-1", Some("alice.b@acme.example"), now)
                    .await
                    .unwrap(),
                bound("alice.b@acme.example")
            );
            // Then the old address is free for whoever shows it next.
            assert_eq!(
                s.bind_sso_subject(iss, "sub-2", alice, now).await.unwrap(),
                bound("alice@acme.example")
            );
        }
    }

    #[tokio::test]
    async fn an_oidc_login_is_taken_once_and_not_after_it_expires() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
            let login = |n: &str| OidcLogin {
                key_hash: String::new(),
                state: format!("state-{n}"),
                nonce: format!("nonce-{n}"),
                pkce_verifier: format!("pkce-{n}"),
                expires_at: now + Duration::minutes(10),
            };
            for n in ["1", "2"] {
                assert!(s.begin_oidc_login(n, login(n), 10, now).await.unwrap());
            }
            assert!(
                !s.begin_oidc_login("3", login("3"), 2, now).await.unwrap(),
                "{}: at the cap nothing more is kept",
                t.backend
            );
            let got = s.take_oidc_login("1", now).await.unwrap().unwrap();
            assert_eq!(
                (
                    got.state.as_str(),
                    got.nonce.as_str(),
                    got.pkce_verifier.as_str()
                ),
                ("state-1", "nonce-1", "pkce-1")
            );
            assert!(s.take_oidc_login("1", now).await.unwrap().is_none(), "once");
            assert!(s.take_oidc_login("3", now).await.unwrap().is_none());
            let later = now + Duration::minutes(10);
            assert!(
                s.take_oidc_login("2", later).await.unwrap().is_none(),
                "{}: expired",
                t.backend
            );
            // Expired ones are dropped when the next sign-in begins: they do not count.
            assert!(s.begin_oidc_login("5", login("5"), 1, now).await.unwrap());
            assert!(
                s.begin_oidc_login("6", login("6"), 1, later).await.unwrap(),
                "{}",
                t.backend
            );
        }
    }

    #[tokio::test]
    async fn a_sign_in_link_works_once_and_not_after_it_expires() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let now = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
            let until = now + Duration::minutes(15);
            s.create_sign_in_link("link-1", "bootstrap", "admin", "system", until, now)
                .await
                .unwrap();
            s.create_sign_in_link("link-2", "bootstrap", "admin", "system", until, now)
                .await
                .unwrap();
            let got = s.redeem_sign_in_link("link-1", now).await.unwrap().unwrap();
            assert_eq!(
                (got.who.as_str(), got.role.as_str()),
                ("bootstrap", "admin")
            );
            assert!(
                s.redeem_sign_in_link("link-1", now)
                    .await
                    .unwrap()
                    .is_none(),
                "once"
            );
            assert!(
                s.redeem_sign_in_link("link-2", until)
                    .await
                    .unwrap()
                    .is_none(),
                "{}: expired",
                t.backend
            );
            assert!(
                s.redeem_sign_in_link("never-issued", now)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }
}
