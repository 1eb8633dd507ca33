//! Test support: a moto server on a free loopback port, and a seeded estate. Used by this
//! crate's tests, the CLI tests and the benchmark; needs `ROSTER_MOTO` (path to `moto_server`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_iam::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// A running moto server; killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `$ROSTER_MOTO` with AWS managed policies loaded. With `no_auth_calls`, moto lets
    /// that many calls through unsigned and verifies every later call's SigV4 signature.
    /// `None` when `ROSTER_MOTO` is unset (the caller skips).
    pub fn start(no_auth_calls: Option<u32>) -> Option<Moto> {
        let bin = std::env::var("ROSTER_MOTO").ok()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(n) = no_auth_calls {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let child = cmd.spawn().ok()?;
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// An IAM client signing with the given key.
    pub fn client(&self, key_id: &str, secret: &str) -> Client {
        client(&self.endpoint, key_id, secret)
    }
}

pub fn client(endpoint: &str, key_id: &str, secret: &str) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(http)
        .credentials_provider(Credentials::new(key_id, secret, None, None, "test"))
        .build();
    Client::from_conf(conf)
}

/// A key pair moto knows.
#[derive(Debug, Clone)]
pub struct TestKey {
    pub id: String,
    pub secret: String,
}

pub async fn create_key(c: &Client, user: &str) -> Result<TestKey, String> {
    c.create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|e| format!("create_access_key {user}: {e:?}"))?
        .access_key
        .map(|k| TestKey {
            id: k.access_key_id,
            secret: k.secret_access_key,
        })
        .ok_or_else(|| format!("create_access_key {user}: no key returned"))
}

/// Creates the admin `roster-reader` user and its key with the first three (unsigned) calls;
/// everything after is signed with that key.
pub async fn bootstrap(moto: &Moto) -> Result<(Client, TestKey), String> {
    let anon = moto.client("AKIAIOSFODNN7EXAMPLE", "unsigned-bootstrap");
    anon.create_user()
        .user_name("roster-reader")
        .path("/service/")
        .tags(tag("owner", "iam-team")?)
        .send()
        .await
        .map_err(|e| format!("create_user: {e:?}"))?;
    anon.attach_user_policy()
        .user_name("roster-reader")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .map_err(|e| format!("attach: {e:?}"))?;
    let key = create_key(&anon, "roster-reader").await?;
    Ok((moto.client(&key.id, &key.secret), key))
}

pub fn tag(k: &str, v: &str) -> Result<aws_sdk_iam::types::Tag, String> {
    aws_sdk_iam::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .map_err(|e| e.to_string())
}

/// A GitHub or GitLab trust policy with the given condition block.
pub fn trust_policy(account: &str, issuer: &str, condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::{account}:oidc-provider/{issuer}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{condition}}}]}}"#
    )
}

fn err<E: std::fmt::Debug>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e:?}")
}

async fn user(c: &Client, name: &str, path: &str, tags: &[(&str, &str)]) -> Result<(), String> {
    let mut req = c.create_user().user_name(name).path(path);
    for (k, v) in tags {
        req = req.tags(tag(k, v)?);
    }
    req.send().await.map_err(err("create_user"))?;
    Ok(())
}

async fn inline(c: &Client, user: &str, actions: &str) -> Result<(), String> {
    c.put_user_policy()
        .user_name(user)
        .policy_name("inline")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
        ))
        .send()
        .await
        .map_err(err("put_user_policy"))?;
    Ok(())
}

async fn role(c: &Client, name: &str, trust: &str) -> Result<(), String> {
    c.create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .map_err(err("create_role"))?;
    Ok(())
}

/// The estate the connector tests and the CLI test expect (see `tests/moto.rs`).
pub async fn seed_estate(c: &Client, moto: &Moto) -> Result<(), String> {
    let gh = "token.actions.githubusercontent.com";
    user(c, "ci-deployer", "/service/", &[("owner", "platform-team")]).await?;
    c.attach_user_policy()
        .user_name("ci-deployer")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .map_err(err("attach"))?;
    let used = create_key(c, "ci-deployer").await?;
    // A signed call with the key makes moto record its last use.
    moto.client(&used.id, &used.secret)
        .list_users()
        .send()
        .await
        .map_err(err("use key"))?;

    c.create_group()
        .group_name("deployers")
        .send()
        .await
        .map_err(err("create_group"))?;
    c.put_group_policy()
        .group_name("deployers")
        .policy_name("pass")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","s3:GetObject"],"Resource":"*"}]}"#)
        .send()
        .await
        .map_err(err("put_group_policy"))?;
    user(c, "release-svc", "/", &[]).await?;
    c.add_user_to_group()
        .group_name("deployers")
        .user_name("release-svc")
        .send()
        .await
        .map_err(err("add_user_to_group"))?;

    user(c, "etl-bot", "/", &[("team", "data")]).await?;
    inline(c, "etl-bot", r#"["s3:PutObject","s3:GetObject"]"#).await?;
    create_key(c, "etl-bot").await?;
    create_key(c, "etl-bot").await?;

    user(c, "svc-reporting", "/", &[]).await?;
    inline(c, "svc-reporting", r#""s3:GetObject""#).await?;
    c.create_login_profile()
        .user_name("svc-reporting")
        .password("Correct-Horse-9")
        .send()
        .await
        .map_err(err("login profile"))?;

    user(c, "old-job", "/service/", &[]).await?;
    let old = create_key(c, "old-job").await?;
    c.update_access_key()
        .user_name("old-job")
        .access_key_id(&old.id)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .map_err(err("update_access_key"))?;

    user(c, "alice", "/", &[]).await?;
    c.create_login_profile()
        .user_name("alice")
        .password("Correct-Horse-9")
        .send()
        .await
        .map_err(err("login profile"))?;
    create_key(c, "alice").await?;

    for url in [format!("https://{gh}"), "https://gitlab.com".to_owned()] {
        c.create_open_id_connect_provider()
            .url(url)
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list("a".repeat(40))
            .send()
            .await
            .map_err(err("oidc provider"))?;
    }
    let acct = "123456789012";
    let aud = format!(r#""{gh}:aud":"sts.amazonaws.com""#);
    role(
        c,
        "gha-safe",
        &trust_policy(
            acct,
            gh,
            &format!(
                r#"{{"StringEquals":{{{aud},"{gh}:sub":"repo:acme/web:ref:refs/heads/main"}}}}"#
            ),
        ),
    )
    .await?;
    role(
        c,
        "gha-wild",
        &trust_policy(
            acct,
            gh,
            &format!(r#"{{"StringLike":{{"{gh}:sub":"repo:acme/*"}}}}"#),
        ),
    )
    .await?;
    role(
        c,
        "gha-nosub",
        &trust_policy(acct, gh, &format!(r#"{{"StringEquals":{{{aud}}}}}"#)),
    )
    .await?;
    role(
        c,
        "gha-literal",
        &trust_policy(
            acct,
            gh,
            &format!(r#"{{"StringEquals":{{{aud},"{gh}:sub":"repo:acme/*"}}}}"#),
        ),
    )
    .await?;
    role(c, "gitlab-group", &trust_policy(acct, "gitlab.com", r#"{"StringLike":{"gitlab.com:sub":"project_path:acme/*:ref_type:branch:ref:main"},"StringEquals":{"gitlab.com:aud":"https://gitlab.com"}}"#)).await?;
    role(
        c,
        "gha-anywhere",
        &trust_policy(
            acct,
            gh,
            &format!(r#"{{"StringLike":{{"{gh}:sub":"repo:*"}},"StringEquals":{{{aud}}}}}"#),
        ),
    )
    .await?;
    // Cross-account trust: anyone, anyone in our organisation, a vendor without and with an
    // ExternalId.
    let assume = |principal: &str, condition: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole","Condition":{condition}}}]}}"#
        )
    };
    role(c, "cross-public", &assume(r#"{"AWS":"*"}"#, "{}")).await?;
    role(
        c,
        "cross-org",
        &assume(
            r#"{"AWS":"*"}"#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-acme123456"}}"#,
        ),
    )
    .await?;
    role(
        c,
        "vendor-no-external-id",
        &assume(r#"{"AWS":"arn:aws:iam::999988887777:root"}"#, "{}"),
    )
    .await?;
    role(
        c,
        "vendor-external-id",
        &assume(
            r#"{"AWS":"arn:aws:iam::999988887777:root"}"#,
            r#"{"StringEquals":{"sts:ExternalId":"acme-7f3a"}}"#,
        ),
    )
    .await?;
    // Effective privilege: admin capped by a read-only permission boundary; IAM allowed and
    // denied outright.
    let ec2_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    c.create_role()
        .role_name("bounded-admin")
        .assume_role_policy_document(ec2_trust)
        .permissions_boundary("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .map_err(err("create_role bounded-admin"))?;
    c.attach_role_policy()
        .role_name("bounded-admin")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .map_err(err("attach_role_policy"))?;
    role(c, "iam-denied", ec2_trust).await?;
    c.put_role_policy()
        .role_name("iam-denied")
        .policy_name("iam-and-its-deny")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","s3:GetObject"],"Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#)
        .send()
        .await
        .map_err(err("put_role_policy"))?;
    role(c, "ec2-reader", ec2_trust).await?;
    c.attach_role_policy()
        .role_name("ec2-reader")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .map_err(err("attach_role_policy"))?;
    Ok(())
}
