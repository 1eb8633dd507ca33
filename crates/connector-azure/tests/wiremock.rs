//! The Entra ID connector against wiremock serving the Graph fixtures (each checked against
//! Microsoft's published types by `schema.rs`): every listing with owners, permissions and usage;
//! the client-credentials grant with a secret and with a certificate; paging across many pages;
//! 429/503 with and without `Retry-After` on a fake clock; 403 on one endpoint; a nextLink to
//! another host; malformed JSON.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use roster_connector_azure::{AzureConfig, AzureConnector, CertificateKey, Credentials};
use roster_connector_sdk::{Connector, ConnectorError, FakeClock, Listing, Secret, list_all};
use roster_core::{Kind, Privilege, Record, Status, Usage};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Harness {
    server: MockServer,
    clock: Arc<FakeClock>,
    connector: AzureConnector,
}

fn config(server: &MockServer) -> AzureConfig {
    let mut c = AzureConfig::new(
        support::tenant(),
        "99999999-0000-4000-8000-000000000099",
        server.uri(),
    );
    c.token_url = Some(format!("{}{}", server.uri(), support::token_path()));
    c
}

async fn harness_with(page_size: u32, mount_fixtures: bool) -> Harness {
    let server = MockServer::start().await;
    if mount_fixtures {
        support::mount(&server).await;
    }
    let clock = Arc::new(FakeClock::default());
    let mut c = config(&server);
    c.page_size = page_size;
    let connector = AzureConnector::with_credentials(
        c,
        Credentials::Secret(Secret::new("client-s3cret")),
        clock.clone(),
    )
    .unwrap();
    Harness {
        server,
        clock,
        connector,
    }
}

async fn harness() -> Harness {
    harness_with(100, true).await
}

async fn drain(c: &AzureConnector, resource_type: &str) -> Result<Vec<Record>, ConnectorError> {
    list_all(c, &Listing::new(resource_type, support::tenant()), 1000).await
}

fn named<'a>(records: &'a [Record], name: &str) -> &'a Record {
    records
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no record {name} in {:?}", names(records)))
}

fn names(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.name.as_str()).collect()
}

fn rules(r: &Record) -> Vec<&str> {
    r.signals.iter().map(|s| s.rule.as_str()).collect()
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

#[tokio::test]
async fn plan_lists_every_resource_type_for_the_tenant() {
    let h = harness().await;
    let plan = h.connector.plan().await.unwrap();
    assert_eq!(plan.len(), roster_connector_azure::resource_types().len());
    assert!(plan.iter().all(|l| l.scope == support::tenant()));
}

#[tokio::test]
async fn applications_with_owners_permissions_usage_and_pages() {
    let h = harness().await;
    let apps = drain(&h.connector, "azure.application").await.unwrap();
    // The third app comes from the second page, whose nextLink names graph.microsoft.com.
    assert_eq!(names(&apps), vec!["deploy-bot", "reporting", "legacy-sync"]);
    assert!(apps.iter().all(|r| r.kind == Kind::AppInstallation));

    let bot = named(&apps, "deploy-bot");
    assert_eq!(bot.owner.as_deref(), Some("alice@contoso.com"));
    assert_eq!(bot.owner_source.as_deref(), Some("azure:application_owner"));
    assert_eq!(bot.privilege, Privilege::Admin);
    assert_eq!(
        bot.privilege_detail,
        vec!["Microsoft Graph: Directory.ReadWrite.All"]
    );
    assert_eq!(bot.usage, Usage::Used);
    assert_eq!(
        bot.last_used_at.unwrap().to_rfc3339(),
        "2025-06-01T10:00:00+00:00"
    );
    assert_eq!(bot.raw["owners"][0]["type"], "user");
    assert!(rules(bot).is_empty(), "{:?}", bot.signals);

    let reporting = named(&apps, "reporting");
    assert_eq!(reporting.owner, None);
    assert_eq!(rules(reporting), vec!["azure.application.no_owner"]);
    assert_eq!(reporting.privilege, Privilege::Read);
    // The report is readable and does not list it: it never signed in.
    assert_eq!(reporting.usage, Usage::NeverUsed);

    let legacy = named(&apps, "legacy-sync");
    assert_eq!(legacy.owner.as_deref(), Some("bob@contoso.com"));

    // The token was asked for once, with the client-credentials grant, and sent to Graph only.
    let token = requests_to(&h.server, &support::token_path()).await;
    assert_eq!(token.len(), 1);
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&token[0].body)
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_secret"], "client-s3cret");
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    for r in h.server.received_requests().await.unwrap() {
        if r.url.path() != support::token_path() {
            assert_eq!(
                r.headers["authorization"].to_str().unwrap(),
                format!("Bearer {}", support::ACCESS_TOKEN)
            );
        }
    }
    // Nothing of a secret ends up in a record.
    let text = serde_json::to_string(&apps).unwrap();
    assert!(
        !text.contains("client-s3cret") && !text.contains("secretText"),
        "{text}"
    );
}

#[tokio::test]
async fn service_principals_skip_microsofts_own_and_keep_managed_identities() {
    let h = harness().await;
    let sps = drain(&h.connector, "azure.service_principal")
        .await
        .unwrap();
    assert_eq!(
        names(&sps),
        vec!["deploy-bot", "reporting", "legacy-sync", "vm-backup"]
    );
    assert!(sps.iter().all(|r| r.kind == Kind::ServiceAccount));
    let mi = named(&sps, "vm-backup");
    assert_eq!(mi.privilege, Privilege::Admin);
    assert_eq!(
        mi.privilege_detail,
        vec!["Microsoft Graph: RoleManagement.ReadWrite.Directory"]
    );
    assert_eq!(mi.usage, Usage::Used);
    assert_eq!(mi.raw["managedIdentity"], true);
    let legacy = named(&sps, "legacy-sync");
    assert_eq!(legacy.status, Status::Disabled);
    // No owners of its own: those of its app registration answer for it.
    assert_eq!(
        (legacy.owner.as_deref(), legacy.owner_source.as_deref()),
        (Some("bob@contoso.com"), Some("azure:application_owner"))
    );
    // Owners of its own win; an app registration without owners gives none.
    assert_eq!(
        named(&sps, "deploy-bot").owner_source.as_deref(),
        Some("azure:service_principal_owner")
    );
    assert_eq!(named(&sps, "reporting").owner, None);
    // No app permission, but a directory role that may add credentials to any app.
    assert_eq!(legacy.privilege, Privilege::Admin);
    assert_eq!(
        legacy.privilege_detail,
        vec![
            "no application permissions granted",
            "directory role: Cloud Application Administrator"
        ]
    );
    let bot = named(&sps, "deploy-bot");
    assert_eq!(
        bot.privilege_detail,
        vec!["Microsoft Graph: Directory.ReadWrite.All"]
    );
}

#[tokio::test]
async fn client_secrets_and_certificates_carry_dates_usage_and_the_apps_privilege() {
    let h = harness().await;
    let secrets = drain(&h.connector, "azure.client_secret").await.unwrap();
    assert_eq!(
        names(&secrets),
        vec![
            "deploy-bot: ci-2024",
            "deploy-bot: old-2023",
            "reporting: reports"
        ]
    );
    let ci = named(&secrets, "deploy-bot: ci-2024");
    assert_eq!(ci.kind, Kind::ClientSecret);
    assert_eq!(
        ci.parent.as_ref().unwrap().resource_type,
        "azure.application"
    );
    assert_eq!(
        ci.created_at.unwrap().to_rfc3339(),
        "2024-01-10T00:00:00+00:00"
    );
    assert_eq!(
        ci.expires_at.unwrap().to_rfc3339(),
        "2026-01-10T00:00:00+00:00"
    );
    assert_eq!(ci.usage, Usage::Used);
    assert_eq!(ci.privilege, Privilege::Admin);
    assert_eq!(ci.owner.as_deref(), Some("alice@contoso.com"));
    assert_eq!(ci.raw["hint"], "Xy7");
    assert_eq!(rules(ci), vec!["azure.client_secret.lifetime_exceeds_max"]);
    assert!(
        ci.signals[0].message.contains("731 days"),
        "{}",
        ci.signals[0].message
    );
    let old = named(&secrets, "deploy-bot: old-2023");
    assert_eq!(old.usage, Usage::NeverUsed);
    assert!(rules(old).is_empty());
    let reports = named(&secrets, "reporting: reports");
    assert!(rules(reports).is_empty(), "180 days is within the maximum");
    assert_eq!(reports.owner, None);

    let certs = drain(&h.connector, "azure.certificate").await.unwrap();
    assert_eq!(names(&certs), vec!["deploy-bot: CN=deploy-bot"]);
    assert_eq!(certs[0].kind, Kind::Certificate);
    assert_eq!(certs[0].raw["type"], "AsymmetricX509Cert");
    assert!(certs[0].raw.get("key").is_none());
    // `customKeyIdentifier` is the thumbprint.
    assert_eq!(
        certs[0].credential_fingerprint.as_deref(),
        Some("x509-sha1:52dcd7c9d0f3a6e4b1c2d3e4f5a6b7c8d9e0f1a2")
    );
    // A client secret's `customKeyIdentifier` is not a thumbprint.
    assert!(secrets.iter().all(|s| s.credential_fingerprint.is_none()));
}

#[tokio::test]
async fn broad_federated_credentials_name_who_can_federate_in() {
    let h = harness().await;
    let fics = drain(&h.connector, "azure.federated_credential")
        .await
        .unwrap();
    assert_eq!(
        names(&fics),
        vec![
            "deploy-bot: prod-deploy",
            "deploy-bot: web-main",
            "legacy-sync: pr-checks"
        ]
    );
    assert!(fics.iter().all(|r| r.kind == Kind::Role));
    let prod = named(&fics, "deploy-bot: prod-deploy");
    assert_eq!(
        rules(prod),
        vec!["azure.federated_credential.broad_subject"]
    );
    let msg = &prod.signals[0].message;
    assert!(msg.contains("more than one repository"), "{msg}");
    assert!(msg.contains("any repository of `contoso`"), "{msg}");
    assert!(msg.contains("Directory.ReadWrite.All"), "{msg}");
    assert_eq!(prod.privilege, Privilege::Admin);
    assert_eq!(prod.owner.as_deref(), Some("alice@contoso.com"));
    assert_eq!(
        prod.raw["issuer"],
        "https://token.actions.githubusercontent.com"
    );
    assert_eq!(prod.raw["audiences"][0], "api://AzureADTokenExchange");
    let web = named(&fics, "deploy-bot: web-main");
    assert!(rules(web).is_empty());
    assert_eq!(
        web.raw["federatesFrom"],
        "GitHub Actions jobs in repository `contoso/web`, ref `refs/heads/main`"
    );
    let pr = named(&fics, "legacy-sync: pr-checks");
    assert!(pr.signals[0].message.contains("more than one branch"));
    // legacy-sync never signed in, so neither did its federated credential.
    assert_eq!(pr.usage, Usage::NeverUsed);
    assert_eq!(web.usage, Usage::NoTelemetry);
}

/// An app page of `n` apps with no credentials, linking to `next` (a skiptoken) if given.
fn app_page(server: &str, ids: std::ops::Range<u32>, next: Option<&str>) -> Value {
    let value: Vec<Value> = ids
        .map(|i| json!({"id": format!("f0000000-0000-4000-8000-{i:012}"), "appId": format!("f1000000-0000-4000-8000-{i:012}"),
            "displayName": format!("app-{i}"), "passwordCredentials": [], "keyCredentials": []}))
        .collect();
    let mut page = json!({"value": value});
    if let Some(t) = next {
        page["@odata.nextLink"] =
            json!(format!("{server}/v1.0/applications?$top=2&$skiptoken={t}"));
    }
    page
}

#[tokio::test]
async fn secrets_listing_follows_many_pages() {
    let h = harness_with(2, false).await;
    support::mount(&h.server).await;
    let uri = h.server.uri();
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(query_param("$top", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(app_page(&uri, 0..2, Some("p2"))))
        .with_priority(2)
        .mount(&h.server)
        .await;
    for (i, (token, next)) in [
        ("p2", Some("p3")),
        ("p3", Some("p4")),
        ("p4", Some("p5")),
        ("p5", None),
    ]
    .into_iter()
    .enumerate()
    {
        let start = 2 * (i as u32 + 1);
        Mock::given(method("GET"))
            .and(path("/v1.0/applications"))
            .and(query_param("$skiptoken", token))
            .respond_with(ResponseTemplate::new(200).set_body_json(app_page(
                &uri,
                start..start + 2,
                next,
            )))
            .with_priority(1)
            .expect(1)
            .mount(&h.server)
            .await;
    }
    // Certificates: none of these apps has one, so every page is walked and nothing is found.
    let certs = drain(&h.connector, "azure.certificate").await.unwrap();
    assert!(certs.is_empty());
    assert_eq!(requests_to(&h.server, "/v1.0/applications").await.len(), 5);
}

#[tokio::test]
async fn rate_limits_are_waited_out_with_and_without_retry_after() {
    let h = harness().await;
    let apps = "/v1.0/applications";
    Mock::given(method("GET"))
        .and(path(apps))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.server)
        .await;
    drain(&h.connector, "azure.certificate").await.unwrap();
    assert_eq!(h.clock.slept(), vec![Duration::from_secs(7)]);

    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(apps))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.server)
        .await;
    drain(&h.connector, "azure.certificate").await.unwrap();
    // No Retry-After: the SDK's headerless back-off (one minute, doubling).
    assert_eq!(h.clock.slept(), vec![Duration::from_secs(60)]);

    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(apps))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "30"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&h.server)
        .await;
    let certs = drain(&h.connector, "azure.certificate").await.unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(
        h.clock.slept(),
        vec![Duration::from_secs(30), Duration::from_secs(30)]
    );
}

#[tokio::test]
async fn forbidden_endpoint_fails_its_listing_naming_the_permission() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/applications/{}/federatedIdentityCredentials",
            "a0000000-0000-4000-8000-000000000001"
        )))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation."}})))
        .with_priority(1)
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "azure.federated_credential")
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Forbidden { url, needs } => {
            assert!(url.contains("federatedIdentityCredentials"), "{url}");
            assert_eq!(
                needs.as_deref(),
                Some("Application.Read.All (application permission)")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("needs Application.Read.All"),
        "{err}"
    );
    // The other listings are unaffected.
    assert_eq!(
        drain(&h.connector, "azure.client_secret")
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn sign_in_report_not_allowed_means_no_telemetry() {
    let h = harness().await;
    for p in [
        "/beta/reports/servicePrincipalSignInActivities",
        "/beta/reports/appCredentialSignInActivities",
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
                "code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "message": "Neither tenant is B2C or tenant doesn't have premium license"}})))
            .with_priority(1)
            .mount(&h.server)
            .await;
    }
    let apps = drain(&h.connector, "azure.application").await.unwrap();
    assert!(
        apps.iter()
            .all(|r| r.usage == Usage::NoTelemetry && r.last_used_at.is_none())
    );
    let secrets = drain(&h.connector, "azure.client_secret").await.unwrap();
    assert!(secrets.iter().all(|r| r.usage == Usage::NoTelemetry));
    // Asked once per run, not once per app.
    assert_eq!(
        requests_to(&h.server, "/beta/reports/servicePrincipalSignInActivities")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn next_link_to_another_host_is_refused_and_nothing_is_sent_there() {
    let h = harness().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [],
            "@odata.nextLink": format!("{}/v1.0/applications?$skiptoken=stolen", elsewhere.uri())
        })))
        .with_priority(1)
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "azure.application").await.unwrap_err();
    assert!(matches!(err, ConnectorError::ForeignHost { .. }), "{err:?}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    // Graph's own host over plain http is not Graph either.
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [], "@odata.nextLink": "http://graph.microsoft.com/v1.0/applications?$skiptoken=x"
        })))
        .with_priority(1)
        .mount(&h.server)
        .await;
    assert!(matches!(
        drain(&h.connector, "azure.application").await,
        Err(ConnectorError::ForeignHost { .. })
    ));
}

#[tokio::test]
async fn malformed_json_is_a_clear_error() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/servicePrincipals"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"value": [{"id": "x", "#))
        .with_priority(1)
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "azure.service_principal")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err:?}");
    // An item of the wrong shape names the type, never the value.
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"value": [{"id": "a", "passwordCredentials": "s3cr3t-value"}]}),
            ),
        )
        .with_priority(1)
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "azure.client_secret")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err:?}");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
}

#[tokio::test]
async fn expired_token_is_renewed_once_on_401() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.server)
        .await;
    assert_eq!(
        drain(&h.connector, "azure.certificate")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        requests_to(&h.server, &support::token_path()).await.len(),
        2
    );
    // A token endpoint that refuses the secret is Unauthorized, not a crash.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .mount(&server)
        .await;
    let c = AzureConnector::with_credentials(
        config(&server),
        Credentials::Secret(Secret::new("wrong")),
        Arc::new(FakeClock::default()),
    )
    .unwrap();
    let err = drain(&c, "azure.application").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unauthorized { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn certificate_credentials_send_a_signed_client_assertion() {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::sha2::Sha256;
    use rsa::signature::Verifier;
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let der = b"fixture certificate DER";
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n{}",
        STANDARD.encode(der),
        private
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .as_str()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roster.pem");
    std::fs::write(&file, pem).unwrap();

    let server = MockServer::start().await;
    support::mount(&server).await;
    let mut c = config(&server);
    c.certificate_file = Some(file);
    let credentials = c.credentials(|_| None).unwrap();
    let x5t = match &credentials {
        Credentials::Certificate(k) => k.x5t().to_string(),
        other => panic!("{other:?}"),
    };
    let connector =
        AzureConnector::with_credentials(c, credentials, Arc::new(FakeClock::default())).unwrap();
    drain(&connector, "azure.certificate").await.unwrap();

    let token = requests_to(&server, &support::token_path()).await;
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&token[0].body)
            .into_owned()
            .collect();
    assert_eq!(
        form["client_assertion_type"],
        roster_connector_azure::CLIENT_ASSERTION_TYPE
    );
    assert!(!form.contains_key("client_secret"));
    let parts: Vec<&str> = form["client_assertion"].split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5t"], x5t);
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims["aud"],
        format!("{}{}", server.uri(), support::token_path())
    );
    assert_eq!(claims["iss"], "99999999-0000-4000-8000-000000000099");
    let sig = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(private.to_public_key())
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .unwrap();
    let _ = CertificateKey::from_pem("", "").unwrap_err();
}

#[tokio::test]
async fn graph_requests_carry_the_bearer_token_only() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/applications"))
        .and(header(
            "authorization",
            format!("Bearer {}", support::ACCESS_TOKEN).as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .with_priority(1)
        .expect(1)
        .mount(&h.server)
        .await;
    assert!(
        drain(&h.connector, "azure.application")
            .await
            .unwrap()
            .is_empty()
    );
}

/// A password or key added to a service principal itself is inventoried under it and
/// signalled; a principal without one of its own (deploy-bot) gives nothing.
#[tokio::test]
async fn a_service_principal_s_own_credentials_are_listed_and_signalled() {
    let h = harness().await;
    let secrets = drain(&h.connector, "azure.service_principal_secret")
        .await
        .unwrap();
    assert_eq!(names(&secrets), vec!["reporting: sp-added"]);
    let s = &secrets[0];
    assert_eq!(s.kind, Kind::ClientSecret);
    assert_eq!(
        s.parent
            .as_ref()
            .map(|p| (p.resource_type.as_str(), p.external_id.as_str())),
        Some((
            "azure.service_principal",
            "b2000000-0000-4000-8000-000000000002"
        ))
    );
    assert_eq!(rules(s), vec!["azure.service_principal.own_credential"]);
    assert_eq!(
        s.expires_at.unwrap().to_rfc3339(),
        "2027-03-01T00:00:00+00:00"
    );
    assert!(s.raw.get("secretText").is_none());
    let keys = drain(&h.connector, "azure.service_principal_certificate")
        .await
        .unwrap();
    assert_eq!(names(&keys), vec!["legacy-sync: CN=legacy-sync-sp"]);
    assert_eq!(keys[0].kind, Kind::Certificate);
    assert!(
        secrets
            .iter()
            .chain(&keys)
            .all(|r| !r.name.starts_with("deploy-bot")),
        "deploy-bot holds no credential of its own"
    );
}
