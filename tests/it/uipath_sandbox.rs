//! The UiPath sandbox's contract, over real HTTP: tokens and their errors, every group and
//! user endpoint, paging and search, the error bodies (OAuth errors, 401, the scope 403,
//! ASP.NET `ProblemDetails`, the Identity Server's envelope), built-in groups, the per-method
//! budgets, seeded faults, and state surviving a restart. The ground truth is
//! `shared/reference/uipath-api-notes.md`.
//!
//! No test asserts on time: the sandbox counts requests that come inside an announced
//! Retry-After (`rate_limit_violations`); tests sleep only to set a scenario up.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode, header};
use roster::sandbox::uipath::seed::Seed;
use roster::sandbox::{FaultOptions, MethodBudgets, UiPathOptions, UiPathSandbox};
use serde_json::{Value, json};

use crate::common::{UNKNOWN_GUID, json_of, samples_path};

/// `samples/uipath-tenant.json`, written out here rather than read from the sandbox's
/// code, so that a change to the sample shows up as a failing test.
mod sample {
    pub(crate) const ORG: &str = "acme";
    pub(crate) const PID: &str = "592d8550-3246-4453-8433-568e2ee658e5";

    /// `roster`: PM.Group and PM.User.
    pub(crate) const ROSTER_APP: (&str, &str) =
        ("2db0cb3b-5e18-49f1-85af-a32c9d5d1ff4", "roster-sandbox-secret");
    /// `auditor`: PM.Group.Read and PM.User.Read.
    pub(crate) const AUDITOR_APP: (&str, &str) =
        ("1c39d32c-662b-4e57-b96a-42128e0bcc56", "auditor-sandbox-secret");
    /// `groups only`: PM.Group.
    pub(crate) const GROUPS_APP: (&str, &str) =
        ("304e83dd-702c-48ee-8ef6-fc2ade44ba56", "groups-sandbox-secret");

    /// Jo Doe, in Administrators and Finance Automation.
    pub(crate) const JO: &str = "615eb310-d235-4443-8cd5-6607f9831e85";
    /// Ana Silva, in Finance Automation.
    pub(crate) const ANA: &str = "06a94abe-6524-4fd1-ae01-253e08fed1a9";
    /// Raj Patel, in no group.
    pub(crate) const RAJ: &str = "150d0367-6b0a-4d2c-a081-9508a52a86a5";
    /// Mei Chen, in HR Process Owners.
    pub(crate) const MEI: &str = "65887870-38e3-4c3d-961c-934323cb0946";
    /// Li Wong, a pending invitation.
    pub(crate) const LI: &str = "b2afd021-ca83-4b02-999c-3957ccd405ac";
    /// `svc.batch`, no email, in Finance Automation.
    pub(crate) const SVC: &str = "ef100cfb-d538-439f-90e4-4db87336708a";

    pub(crate) const EVERYONE: &str = "be6290ca-5c5c-44fa-89c6-848ae082bf08";
    pub(crate) const ADMINISTRATORS: &str = "ab77d6fd-d29b-4a9c-b938-ef637f108d81";
    /// Jo, Ana and svc.batch.
    pub(crate) const FINANCE: &str = "293e82f6-6cec-4196-95a9-e6ce4ff0072f";
    /// Mei.
    pub(crate) const HR: &str = "363d68f2-818f-4070-884d-fd2d7edb03ac";
    /// Nobody.
    pub(crate) const CITIZEN: &str = "f4d1c7a9-2b3e-4c5d-8e6f-708192a3b4c5";
}

use sample::{
    ADMINISTRATORS, ANA, AUDITOR_APP, CITIZEN, EVERYONE, FINANCE, GROUPS_APP, HR, JO, LI, MEI, ORG, PID, RAJ,
    ROSTER_APP, SVC,
};

fn sample_seed() -> Seed {
    Seed::load(&samples_path("uipath-tenant.json")).expect("samples/uipath-tenant.json loads")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        // A fresh connection per request: a connection cut by an injected fault can't
        // poison the next request.
        .pool_max_idle_per_host(0)
        // A safety net against a hung sandbox; nothing asserts on durations.
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a reqwest client")
}

/// A UiPath sandbox started in-process for one test, with a client holding a token of the
/// `roster` application.
struct Org {
    sandbox: Option<UiPathSandbox>,
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Org {
    async fn start() -> Org {
        Org::with(sample_seed(), UiPathOptions::default()).await
    }

    async fn with(seed: Seed, options: UiPathOptions) -> Org {
        let sandbox = UiPathSandbox::start(seed, options).await.expect("the sandbox starts on 127.0.0.1:0");
        let mut org =
            Org { base: sandbox.base_url(), sandbox: Some(sandbox), http: client(), token: String::new() };
        org.token = org.token_of(ROSTER_APP).await;
        org
    }

    fn sandbox(&self) -> &UiPathSandbox {
        self.sandbox.as_ref().expect("running")
    }

    /// `POST /identity_/connect/token` (host-level) with a form.
    async fn token_request(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        json_of(
            self.http.post(format!("{}/identity_/connect/token", self.base)).form(form).send().await.unwrap(),
        )
        .await
    }

    /// A token for an application, every scope it was granted.
    async fn token_of(&self, (id, secret): (&str, &str)) -> String {
        let form = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
        // Retried: with injected faults the token endpoint fails too (the same way each run).
        for _ in 0..20 {
            if let Ok(response) =
                self.http.post(format!("{}/identity_/connect/token", self.base)).form(&form).send().await
                && response.status() == StatusCode::OK
            {
                let (_, body) = json_of(response).await;
                return body["access_token"].as_str().expect("a token").to_string();
            }
        }
        panic!("no token for {id}");
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{ORG}/identity_/api{path}", self.base)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(&self.token)
    }

    async fn call(&self, request: RequestBuilder) -> (StatusCode, Value) {
        json_of(request.send().await.expect("the sandbox answers")).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(self.request(Method::GET, path)).await
    }

    async fn send(&self, method: Method, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(self.request(method, path).json(body)).await
    }

    fn stats(&self) -> roster::sandbox::Stats {
        self.sandbox().stats()
    }

    fn state(&self) -> Seed {
        self.sandbox().state()
    }

    async fn stop(mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.stop().await;
        }
    }
}

/// Groups by id, with their names and members: what must not change when a call is refused.
fn outline(seed: &Seed) -> BTreeMap<String, (String, BTreeSet<String>)> {
    seed.groups
        .iter()
        .map(|g| (g.id.clone(), (g.name.clone(), g.members.iter().cloned().collect())))
        .collect()
}

/// Checks an ASP.NET `ProblemDetails` validation body and returns its `errors`.
fn problem_errors(body: &Value) -> BTreeMap<String, Vec<String>> {
    let keys: BTreeSet<&str> = body.as_object().expect("an object").keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["errors", "status", "title", "traceId", "type"]), "{body}");
    assert_eq!(body["type"], "https://tools.ietf.org/html/rfc9110#section-15.5.1", "{body}");
    assert_eq!(body["title"], "One or more validation errors occurred.", "{body}");
    assert_eq!(body["status"], 400, "{body}");
    let trace = body["traceId"].as_str().unwrap();
    let parts: Vec<&str> = trace.split('-').collect();
    assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [2, 32, 16, 2], "{trace}");
    serde_json::from_value(body["errors"].clone()).unwrap()
}

/// The message of the Identity Server's envelope `{StatusCode, StatusDescription, Message}`.
fn envelope_message(body: &Value, status: u16) -> String {
    assert_eq!(body["StatusCode"], status, "{body}");
    assert!(body["StatusDescription"].is_string(), "{body}");
    body["Message"].as_str().unwrap_or_else(|| panic!("no Message in {body}")).to_string()
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn result_ids(page: &Value) -> Vec<String> {
    ids(&page["results"])
}

/// A .NET timestamp as the API sends it: `2025-08-04T06:05:21.8464663`, no offset.
fn is_dotnet_time(value: &Value) -> bool {
    let Some(text) = value.as_str() else { return false };
    let (main, fraction) = text.split_once('.').unwrap_or((text, "0"));
    main.len() == 19
        && main.as_bytes()[10] == b'T'
        && (1..=7).contains(&fraction.len())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

async fn member_ids(org: &Org, group: &str) -> BTreeSet<String> {
    let (status, page) = org.get(&format!("/Group/{PID}/{group}/Members?top=1000")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    result_ids(&page).into_iter().collect()
}

// ---- tokens ----

#[tokio::test]
async fn a_token_is_issued_host_level_and_org_scoped_for_the_granted_scopes() {
    let org = Org::start().await;
    let (id, secret) = ROSTER_APP;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
        ("scope", "PM.User PM.Group"),
    ];
    let (status, body) = org.token_request(&form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys: BTreeSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["access_token", "expires_in", "scope", "token_type"]));
    assert_eq!((body["expires_in"].clone(), body["token_type"].clone()), (json!(3600), json!("Bearer")));
    assert_eq!(body["scope"], "PM.Group PM.User");
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3, "JWT-shaped");

    // The org-scoped endpoint, by name (any case) or by GUID.
    for segment in [ORG, "ACME", PID] {
        let response = org
            .http
            .post(format!("{}/{segment}/identity_/connect/token", org.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{segment}");
    }
    // Fine-grained scopes only, and no scope at all: every granted one.
    let (auditor, auditor_secret) = AUDITOR_APP;
    let (_, body) = org
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", auditor),
            ("client_secret", auditor_secret),
        ])
        .await;
    assert_eq!(body["scope"], "PM.Group.Read PM.User.Read");
    let seen = org.stats();
    assert_eq!(seen.calls("POST /identity_/connect/token"), 3, "Org::start's, and two here");
    assert_eq!(seen.calls("POST /{organization}/identity_/connect/token"), 3);
}

#[tokio::test]
async fn token_errors_are_oauth_errors() {
    let org = Org::start().await;
    let (id, secret) = ROSTER_APP;
    let (groups_only, groups_secret) = GROUPS_APP;
    let cases: [(&[(&str, &str)], &str); 7] = [
        (
            &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", "wrong")],
            "invalid_client",
        ),
        (
            &[("grant_type", "client_credentials"), ("client_id", "nobody"), ("client_secret", secret)],
            "invalid_client",
        ),
        (&[("grant_type", "client_credentials"), ("client_id", id)], "invalid_client"),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "PM.Group offline_access"),
            ],
            "invalid_scope",
        ),
        (
            // Granted PM.Group only; asking for more is refused, not trimmed.
            &[
                ("grant_type", "client_credentials"),
                ("client_id", groups_only),
                ("client_secret", groups_secret),
                ("scope", "PM.Group PM.User"),
            ],
            "invalid_scope",
        ),
        (
            &[("grant_type", "password"), ("client_id", id), ("client_secret", secret)],
            "unsupported_grant_type",
        ),
        (&[("client_id", id), ("client_secret", secret)], "invalid_request"),
    ];
    for (form, error) in cases {
        let (status, body) = org.token_request(form).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({ "error": error })), "{form:?}");
    }
    // A JSON body is not the form the endpoint takes.
    let response = org
        .http
        .post(format!("{}/identity_/connect/token", org.base))
        .json(&json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (StatusCode::BAD_REQUEST, json!({"error": "invalid_request"})));
    // An organization that is not this one.
    let response = org
        .http
        .post(format!("{}/globex/identity_/connect/token", org.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_get_401_with_an_empty_body() {
    let org = Org::start().await;
    let path = format!("/Group/{PID}");
    let unauthenticated = org.http.get(org.url(&path)).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unauthenticated.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(unauthenticated.bytes().await.unwrap().len(), 0);

    let mut forged = org.token.clone();
    forged.push('x');
    for token in ["not-a-token", forged.as_str()] {
        let response = org.http.get(org.url(&path)).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"");
    }

    // A sandbox whose tokens have expired by the time they are used.
    let expired =
        Org::with(sample_seed(), UiPathOptions { token_ttl: Duration::ZERO, ..UiPathOptions::default() })
            .await;
    let response = expired.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_string();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", error_description=\"The token expired at '"),
        "{challenge}"
    );
    assert_eq!(expired.stats().by_status.get("401"), Some(&1));
}

#[tokio::test]
async fn a_token_expires_mid_run_and_a_new_one_works() {
    let org = Org::with(
        sample_seed(),
        UiPathOptions { token_ttl: Duration::from_secs(2), ..UiPathOptions::default() },
    )
    .await;
    let path = format!("/Group/{PID}");
    assert_eq!(org.get(&path).await.0, StatusCode::OK);
    // Setting the scenario up: wait out the token's lifetime (at most 2 s of wall time).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(org.get(&path).await.0, StatusCode::UNAUTHORIZED);
    let fresh = org.token_of(ROSTER_APP).await;
    let response = org.http.get(org.url(&path)).bearer_auth(fresh).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_missing_scope_is_403_with_uipaths_error_message() {
    let mut org = Org::start().await;
    org.token = org.token_of(AUDITOR_APP).await;
    // Reading is fine with the .Read scopes...
    assert_eq!(org.get(&format!("/Group/{PID}")).await.0, StatusCode::OK);
    assert_eq!(org.get(&format!("/User/{JO}")).await.0, StatusCode::OK);
    // ... writing is not.
    let (status, body) = org
        .send(Method::PUT, &format!("/Group/{FINANCE}"), &json!({"partitionGlobalId": PID, "name": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"errorMessage": "Scope(s) 'PM.Group.Read,PM.User.Read' is(are) invalid. Expect to have 'PM.Group' or 'PM.Group.Write'. "})
    );
    org.token = org.token_of(GROUPS_APP).await;
    let (status, body) = org.get(&format!("/User/users/{PID}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"errorMessage": "Scope(s) 'PM.Group' is(are) invalid. Expect to have 'PM.User' or 'PM.User.Read'. "})
    );
    assert_eq!(outline(&org.state()), outline(&sample_seed()), "nothing changed");
}

// ---- every endpoint ----

#[tokio::test]
async fn every_endpoint_answers_and_stats_name_each_route_as_the_spec_does() {
    let org = Org::start().await;
    let new_group = "0e6b2a4c-7d7b-4f0e-a3b1-9c3b2f1d5e88";
    let calls: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
        (Method::GET, format!("/Group/{PID}"), None, StatusCode::OK),
        (Method::GET, format!("/Group/{PID}/{FINANCE}"), None, StatusCode::OK),
        (Method::GET, format!("/Group/{PID}/{FINANCE}/Members?top=2&skip=0"), None, StatusCode::OK),
        (
            Method::POST,
            "/Group".into(),
            Some(
                json!({"partitionGlobalId": PID, "id": new_group, "name": "Gryffindors", "directoryUserMemberIDs": [RAJ]}),
            ),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            format!("/Group/{HR}"),
            Some(
                json!({"partitionGlobalId": PID, "name": "HR Process Owners", "directoryUserIDsToAdd": [LI], "directoryUserIDsToRemove": []}),
            ),
            StatusCode::OK,
        ),
        (Method::DELETE, format!("/Group/{PID}/{CITIZEN}"), None, StatusCode::NO_CONTENT),
        (
            Method::DELETE,
            format!("/Group/{PID}"),
            Some(json!({"groupIDs": [new_group]})),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::GET,
            format!("/User/users/{PID}?searchTerm=jo&top=5&skip=0&sortBy=Email&sortOrder=desc"),
            None,
            StatusCode::OK,
        ),
        (Method::GET, format!("/User/{JO}"), None, StatusCode::OK),
    ];
    for (method, path, body, expected) in &calls {
        let mut request = org.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, answer) = org.call(request).await;
        assert_eq!(status, *expected, "{method} {path}: {answer}");
    }
    let api = "/{organization}/identity_/api";
    let expected: BTreeMap<String, u64> = [
        format!("GET {api}/Group/{{partitionGlobalId}}"),
        format!("GET {api}/Group/{{partitionGlobalId}}/{{groupId}}"),
        format!("GET {api}/Group/{{partitionGlobalId}}/{{groupId}}/Members"),
        format!("POST {api}/Group"),
        format!("PUT {api}/Group/{{groupId}}"),
        format!("DELETE {api}/Group/{{partitionGlobalId}}/{{groupId}}"),
        format!("DELETE {api}/Group/{{partitionGlobalId}}"),
        format!("GET {api}/User/users/{{partitionGlobalId}}"),
        format!("GET {api}/User/{{userId}}"),
        "POST /identity_/connect/token".to_string(),
    ]
    .into_iter()
    .map(|route| (route, 1))
    .collect();
    assert_eq!(org.stats().by_route, expected);
    let groups: BTreeSet<String> = org.state().groups.into_iter().map(|g| g.name).collect();
    assert_eq!(
        groups,
        BTreeSet::from(
            ["Administrators", "Everyone", "Finance Automation", "HR Process Owners"].map(String::from)
        )
    );
}

// ---- groups ----

#[tokio::test]
async fn the_groups_list_is_an_array_with_integer_types_and_dotnet_times() {
    let org = Org::start().await;
    let (status, groups) = org.get(&format!("/Group/{PID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&groups), [EVERYONE, ADMINISTRATORS, FINANCE, HR, CITIZEN]);
    for group in groups.as_array().unwrap() {
        assert_eq!(group["members"], json!([]), "the list leaves members out: {group}");
        assert_eq!(group["displayName"], group["name"]);
        assert!(is_dotnet_time(&group["creationTime"]), "{group}");
    }
    let types: Vec<&Value> = groups.as_array().unwrap().iter().map(|g| &g["type"]).collect();
    assert_eq!(types, [&json!(0), &json!(0), &json!(1), &json!(1), &json!(1)]);

    let (status, finance) = org.get(&format!("/Group/{PID}/{FINANCE}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(finance["name"], "Finance Automation");
    let members: BTreeSet<&str> =
        finance["members"].as_array().unwrap().iter().map(|m| m["identifier"].as_str().unwrap()).collect();
    assert_eq!(members, BTreeSet::from([JO, ANA, SVC]));
    let jo = finance["members"].as_array().unwrap().iter().find(|m| m["identifier"] == JO).unwrap();
    assert_eq!(jo["objectType"], "DirectoryUser");
    assert_eq!(
        (jo["source"].as_str(), jo["name"].as_str(), jo["email"].as_str()),
        (Some("local"), Some("jo.doe@example.com"), Some("jo.doe@example.com"))
    );

    let (status, body) = org.get(&format!("/Group/{PID}/{UNKNOWN_GUID}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(envelope_message(&body, 404).contains(UNKNOWN_GUID));
}

#[tokio::test]
async fn members_page_to_the_end_with_top_and_skip() {
    let org = Org::start().await;
    let mut seen = Vec::new();
    let mut skip = 0;
    loop {
        let (status, page) = org.get(&format!("/Group/{PID}/{FINANCE}/Members?top=2&skip={skip}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["totalCount"], 3);
        let results = page["results"].as_array().unwrap();
        if results.is_empty() {
            break;
        }
        assert!(results.iter().all(|r| r["type"] == 0 && r.as_object().unwrap().len() == 2), "{page}");
        seen.extend(result_ids(&page));
        skip += results.len();
    }
    assert_eq!(
        seen.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([JO, ANA, SVC].map(String::from))
    );
    assert_eq!(seen.len(), 3);
    // The default page is 10.
    let (_, page) = org.get(&format!("/Group/{PID}/{FINANCE}/Members")).await;
    assert_eq!(page["results"].as_array().unwrap().len(), 3);
    // Everyone's membership is implicit: it reports none.
    let (_, everyone) = org.get(&format!("/Group/{PID}/{EVERYONE}/Members")).await;
    assert_eq!(everyone, json!({"totalCount": 0, "results": []}));
    // top is 0 to 1000.
    let (status, body) = org.get(&format!("/Group/{PID}/{FINANCE}/Members?top=1001&skip=-1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        problem_errors(&body),
        BTreeMap::from([
            ("skip".into(), vec!["The field skip must be between 0 and 2147483647.".into()]),
            ("top".into(), vec!["The field top must be between 0 and 1000.".into()]),
        ])
    );
    let (status, _) = org.get(&format!("/Group/{PID}/{UNKNOWN_GUID}/Members")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn create_needs_a_client_id_and_a_unique_name() {
    let org = Org::start().await;
    let id = "0e6b2a4c-7d7b-4f0e-a3b1-9c3b2f1d5e88";
    let body = json!({"partitionGlobalId": PID, "id": id, "name": "Gryffindors", "directoryUserMemberIDs": [RAJ, MEI, RAJ]});
    let (status, created) = org.send(Method::POST, "/Group", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["id"].as_str(), created["type"].as_u64()), (Some(id), Some(1)));
    assert_eq!(created["lastModificationTime"], Value::Null);
    assert!(is_dotnet_time(&created["creationTime"]), "{created}");
    assert_eq!(member_ids(&org, id).await, BTreeSet::from([RAJ, MEI].map(String::from)));

    // Without an id, or the empty GUID .NET binds when there is none.
    for id in [Value::Null, json!("00000000-0000-0000-0000-000000000000")] {
        let (status, body) = org
            .send(Method::POST, "/Group", &json!({"partitionGlobalId": PID, "id": id, "name": "Slytherins"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            problem_errors(&body),
            BTreeMap::from([("Id".into(), vec!["The Id field is required.".into()])])
        );
    }
    let other = "1e6b2a4c-7d7b-4f0e-a3b1-9c3b2f1d5e88";
    let (status, body) =
        org.send(Method::POST, "/Group", &json!({"partitionGlobalId": PID, "id": other, "name": "  "})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem_errors(&body).contains_key("Name"));
    // Names are unique case-insensitively; ids too.
    for (group, name) in [(other, "GRYFFINDORS"), (id, "Hufflepuffs")] {
        let (status, body) = org
            .send(Method::POST, "/Group", &json!({"partitionGlobalId": PID, "id": group, "name": name}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        envelope_message(&body, 409);
    }
    // Members must be users of the organization; nothing is created otherwise.
    let (status, body) = org
        .send(Method::POST, "/Group", &json!({"partitionGlobalId": PID, "id": other, "name": "Ravenclaws", "directoryUserMemberIDs": [UNKNOWN_GUID]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(envelope_message(&body, 400), format!("Cannot resolve users=[{UNKNOWN_GUID}] in CIS"));
    // The partition in the body must be the organization's.
    let (status, body) = org
        .send(
            Method::POST,
            "/Group",
            &json!({"partitionGlobalId": UNKNOWN_GUID, "id": other, "name": "Ravenclaws"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(envelope_message(&body, 400).starts_with("InvalidPartition"));
    // A body that is not JSON, and JSON that does not bind.
    let response = org.request(Method::POST, "/Group").body("name=x").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = org
        .send(Method::POST, "/Group", &json!({"partitionGlobalId": PID, "id": "gryff-01", "name": "x"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let errors = problem_errors(&body);
    assert_eq!(errors["id"], ["Error converting value \"gryff-01\" to type 'System.Guid'. Path 'id'."]);
    assert_eq!(errors["command"], ["The command field is required."]);
    let names: Vec<String> = org.state().groups.into_iter().map(|g| g.name).collect();
    assert_eq!(
        names.iter().filter(|n| n.as_str() != "Gryffindors").count(),
        5,
        "only Gryffindors was created: {names:?}"
    );
}

#[tokio::test]
async fn update_carries_the_name_every_time_and_edits_membership_incrementally() {
    let org = Org::start().await;
    let path = format!("/Group/{FINANCE}");
    // Membership-only, without the name: refused.
    let (status, body) = org
        .send(Method::PUT, &path, &json!({"partitionGlobalId": PID, "directoryUserIDsToAdd": [RAJ]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        problem_errors(&body),
        BTreeMap::from([("Name".into(), vec!["The Name field is required.".into()])])
    );
    assert_eq!(member_ids(&org, FINANCE).await, BTreeSet::from([JO, ANA, SVC].map(String::from)));

    let body = json!({"partitionGlobalId": PID, "name": "Finance Automation", "directoryUserIDsToAdd": [RAJ, JO], "directoryUserIDsToRemove": [ANA, MEI]});
    let (status, updated) = org.send(Method::PUT, &path, &body).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert!(is_dotnet_time(&updated["lastModificationTime"]), "{updated}");
    assert_eq!(member_ids(&org, FINANCE).await, BTreeSet::from([JO, RAJ, SVC].map(String::from)));
    // The same call again changes nothing.
    assert_eq!(org.send(Method::PUT, &path, &body).await.0, StatusCode::OK);
    assert_eq!(member_ids(&org, FINANCE).await, BTreeSet::from([JO, RAJ, SVC].map(String::from)));
    // A rename; property names bind in any case, as Newtonsoft.Json binds them.
    let (status, renamed) =
        org.send(Method::PUT, &path, &json!({"PartitionGlobalId": PID, "NAME": "Finance Bots"})).await;
    assert_eq!((status, renamed["name"].as_str()), (StatusCode::OK, Some("Finance Bots")));
    // The user side shows it.
    let (_, raj) = org.get(&format!("/User/{RAJ}")).await;
    assert_eq!(raj["groupIDs"], json!([FINANCE]));
    // Another group's name is taken; an unknown group is 404.
    let (status, _) =
        org.send(Method::PUT, &path, &json!({"partitionGlobalId": PID, "name": "hr process owners"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = org
        .send(Method::PUT, &format!("/Group/{UNKNOWN_GUID}"), &json!({"partitionGlobalId": PID, "name": "x"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn built_in_groups_cannot_be_changed_or_deleted() {
    let org = Org::start().await;
    for (group, name) in [(EVERYONE, "Everyone"), (ADMINISTRATORS, "Administrators")] {
        let (status, body) = org
            .send(
                Method::PUT,
                &format!("/Group/{group}"),
                &json!({"partitionGlobalId": PID, "name": name, "directoryUserIDsToAdd": [RAJ]}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(envelope_message(&body, 400).contains(name));
        let (status, _) = org.call(org.request(Method::DELETE, &format!("/Group/{PID}/{group}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    // In a bulk delete a built-in group refuses the whole call.
    let (status, _) = org
        .send(Method::DELETE, &format!("/Group/{PID}"), &json!({"groupIDs": [CITIZEN, ADMINISTRATORS]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(outline(&org.state()), outline(&sample_seed()), "nothing changed");
    assert_eq!(member_ids(&org, ADMINISTRATORS).await, BTreeSet::from([JO.to_string()]));
}

#[tokio::test]
async fn delete_one_or_many() {
    let org = Org::start().await;
    let (status, body) = org.call(org.request(Method::DELETE, &format!("/Group/{PID}/{CITIZEN}"))).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(org.get(&format!("/Group/{PID}/{CITIZEN}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        org.call(org.request(Method::DELETE, &format!("/Group/{PID}/{CITIZEN}"))).await.0,
        StatusCode::NOT_FOUND
    );
    // Many at once; ids of no group are skipped; `groupIds` binds like `groupIDs`.
    let (status, _) =
        org.send(Method::DELETE, &format!("/Group/{PID}"), &json!({"groupIds": [HR, UNKNOWN_GUID]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, groups) = org.get(&format!("/Group/{PID}")).await;
    assert_eq!(ids(&groups), [EVERYONE, ADMINISTRATORS, FINANCE]);
    // A body that names no list.
    let (status, body) = org.send(Method::DELETE, &format!("/Group/{PID}"), &json!({"ids": [FINANCE]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem_errors(&body).contains_key("GroupIDs"));
    let (_, mei) = org.get(&format!("/User/{MEI}")).await;
    assert_eq!(mei["groupIDs"], json!([]), "a deleted group's members lose it");
}

// ---- users ----

#[tokio::test]
async fn users_page_to_the_end_and_search_name_email_or_username() {
    let org = Org::start().await;
    let mut seen = Vec::new();
    let mut skip = 0;
    loop {
        let (status, page) = org.get(&format!("/User/users/{PID}?top=4&skip={skip}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["totalCount"], 6);
        let count = page["results"].as_array().unwrap().len();
        if count == 0 {
            break;
        }
        seen.extend(result_ids(&page));
        skip += count;
    }
    assert_eq!(seen, [JO, ANA, RAJ, MEI, LI, SVC], "the order users were created in");

    let search = |term: &str| format!("/User/users/{PID}?searchTerm={term}&top=100");
    for (term, expected) in [
        ("CHEN", vec![MEI]), // email and userName
        ("an", vec![ANA]),   // name "Ana"
        ("svc.", vec![SVC]), // userName only: no email
        ("example.com", vec![JO, ANA, RAJ, MEI, LI]),
        ("Doe", vec![JO]),
        ("nobody", vec![]),
    ] {
        let (_, page) = org.get(&search(term)).await;
        assert_eq!(result_ids(&page), expected, "{term}");
        assert_eq!(page["totalCount"], expected.len(), "{term}");
    }
    let (_, sorted) = org.get(&format!("/User/users/{PID}?sortBy=Email&sortOrder=desc&top=3")).await;
    assert_eq!(result_ids(&sorted), [RAJ, MEI, LI]);
    let (_, sorted) = org.get(&format!("/User/users/{PID}?sortBy=email&top=2")).await;
    assert_eq!(result_ids(&sorted), [SVC, ANA], "an empty email sorts first");

    let (status, body) = org.get(&format!("/User/users/{PID}?top=5000")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem_errors(&body)["top"], ["The field top must be between 0 and 1000."]);
    let (status, body) = org.get(&format!("/User/users/{PID}?sortOrder=sideways")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem_errors(&body).contains_key("sortOrder"));
}

#[tokio::test]
async fn a_user_is_a_user_dto_with_integer_enums_and_group_ids() {
    let org = Org::start().await;
    let (status, jo) = org.get(&format!("/User/{JO}")).await;
    assert_eq!(status, StatusCode::OK);
    let keys: BTreeSet<&str> = jo.as_object().unwrap().keys().map(String::as_str).collect();
    let expected = [
        "bypassBasicAuthRestriction",
        "category",
        "creationTime",
        "displayName",
        "email",
        "emailConfirmed",
        "groupIDs",
        "id",
        "invitationAccepted",
        "isActive",
        "lastLoginTime",
        "lastModificationTime",
        "legacyId",
        "name",
        "surname",
        "type",
        "userName",
    ];
    assert_eq!(keys, BTreeSet::from(expected));
    assert_eq!((jo["type"].clone(), jo["category"].clone()), (json!(0), json!(0)));
    assert_eq!(jo["groupIDs"], json!([ADMINISTRATORS, FINANCE]), "Everyone is implicit");
    assert_eq!(jo["displayName"], "Jo Doe");
    assert_eq!(jo["lastLoginTime"], "2026-07-07T08:10:28.66354");
    let (_, li) = org.get(&format!("/User/{LI}")).await;
    assert_eq!(
        (li["emailConfirmed"].clone(), li["invitationAccepted"].clone()),
        (json!(false), json!(false))
    );
    let (_, svc) = org.get(&format!("/User/{}", SVC.to_uppercase())).await;
    assert_eq!((svc["email"].as_str(), svc["id"].as_str()), (Some(""), Some(SVC)));

    let (status, body) = org.get(&format!("/User/{UNKNOWN_GUID}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(envelope_message(&body, 404).contains(UNKNOWN_GUID));
}

// ---- binding errors and routing ----

#[tokio::test]
async fn values_that_are_not_guids_get_problem_details_naming_the_parameter() {
    let org = Org::start().await;
    for (path, expected) in [
        ("/Group/DatacomGroup".to_string(), vec![("partitionGlobalId", "DatacomGroup")]),
        (format!("/Group/{PID}/gryff-01"), vec![("groupId", "gryff-01")]),
        (
            "/Group/magic-7/lun-1302/Members".to_string(),
            vec![("groupId", "lun-1302"), ("partitionGlobalId", "magic-7")],
        ),
        ("/User/users/acme".to_string(), vec![("partitionGlobalId", "acme")]),
        ("/User/jdoe".to_string(), vec![("userId", "jdoe")]),
    ] {
        let (status, body) = org.get(&path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let expected: BTreeMap<String, Vec<String>> = expected
            .into_iter()
            .map(|(name, value)| (name.to_string(), vec![format!("The value '{value}' is not valid.")]))
            .collect();
        assert_eq!(problem_errors(&body), expected, "{path}");
    }
    let (status, body) =
        org.send(Method::PUT, "/Group/gryff-01", &json!({"partitionGlobalId": PID, "name": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem_errors(&body)["groupId"], ["The value 'gryff-01' is not valid."]);
}

#[tokio::test]
async fn the_api_answers_only_under_this_organization() {
    let org = Org::start().await;
    // By GUID as well as by name.
    let by_guid = format!("{}/{PID}/identity_/api/Group/{PID}", org.base);
    assert_eq!(org.call(org.http.get(by_guid).bearer_auth(&org.token)).await.0, StatusCode::OK);
    let other = format!("{}/globex/identity_/api/Group/{PID}", org.base);
    let (status, body) = org.call(org.http.get(other).bearer_auth(&org.token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    envelope_message(&body, 404);
    // Another partition in the path.
    let (status, body) = org.get(&format!("/Group/{UNKNOWN_GUID}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(envelope_message(&body, 400).starts_with("InvalidPartition"));
    // The host-level API refuses partition-scoped calls, as it does for new organizations.
    let host_level = format!("{}/identity_/api/Group/{PID}", org.base);
    let (status, body) = org.call(org.http.get(host_level).bearer_auth(&org.token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(envelope_message(&body, 400).starts_with("InvalidPartition"));
    // Unknown routes: an empty 404, token or not.
    let response = org.http.get(org.url("/RobotAccount")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

// ---- the per-method budgets ----

fn budgets(get: u32, put: u32, post: u32, window: Duration) -> UiPathOptions {
    let rate_limit = MethodBudgets { get, put, post, patch: put, delete: put, window };
    UiPathOptions { rate_limit: Some(rate_limit), ..UiPathOptions::default() }
}

fn retry_after(response: &reqwest::Response) -> u64 {
    let value = response.headers().get(header::RETRY_AFTER).expect("a Retry-After header");
    value.to_str().unwrap().parse().unwrap_or_else(|_| panic!("Retry-After {value:?} is not seconds"))
}

#[tokio::test]
async fn each_method_has_its_budget_and_429_says_when_to_retry() {
    let org = Org::with(sample_seed(), budgets(3, 1, 0, Duration::from_secs(300))).await;
    let list = format!("/Group/{PID}");
    for n in 1..=3 {
        assert_eq!(org.get(&list).await.0, StatusCode::OK, "GET {n} of 3");
    }
    let refused = org.request(Method::GET, &list).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let seconds = retry_after(&refused);
    assert!((290..=300).contains(&seconds), "until the first GET leaves the 5-minute window: {seconds}");
    let (_, body) = json_of(refused).await;
    assert!(body["errorMessage"].is_string(), "{body}");

    // PUT has its own budget: GET's 429 does not hold it back.
    let rename = json!({"partitionGlobalId": PID, "name": "Finance Automation"});
    assert_eq!(org.send(Method::PUT, &format!("/Group/{FINANCE}"), &rename).await.0, StatusCode::OK);
    assert_eq!(
        org.send(Method::PUT, &format!("/Group/{FINANCE}"), &rename).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A POST budget of 0 refuses every API POST, but the token endpoint is not counted.
    let new = json!({"partitionGlobalId": PID, "id": "0e6b2a4c-7d7b-4f0e-a3b1-9c3b2f1d5e88", "name": "x"});
    assert_eq!(org.send(Method::POST, "/Group", &new).await.0, StatusCode::TOO_MANY_REQUESTS);
    org.token_of(AUDITOR_APP).await;

    let seen = org.stats();
    assert_eq!((seen.rate_limited, seen.rate_limit_violations), (3, 0));
    assert_eq!(seen.by_status.get("429"), Some(&3));
}

#[tokio::test]
async fn requests_inside_an_announced_retry_after_are_refused_and_counted_as_violations() {
    let org = Org::with(sample_seed(), budgets(1, 1, 100, Duration::from_secs(300))).await;
    let list = format!("/Group/{PID}");
    assert_eq!(org.get(&list).await.0, StatusCode::OK);
    assert_eq!(org.get(&list).await.0, StatusCode::TOO_MANY_REQUESTS);
    // At once, as a concurrent client's in-flight request would be: refused, not a violation.
    assert_eq!(org.get(&list).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(org.stats().rate_limit_violations, 0);
    // Past the in-flight grace, long before the Retry-After ends: a client ignoring it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = org.request(Method::GET, &list).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&response) > 200, "what is left of the announced wait");
    // Other methods are not inside GET's Retry-After.
    assert_eq!(
        org.call(org.request(Method::DELETE, &format!("/Group/{PID}/{CITIZEN}"))).await.0,
        StatusCode::NO_CONTENT
    );
    let seen = org.stats();
    assert_eq!((seen.rate_limited, seen.rate_limit_violations), (3, 1));
}

#[tokio::test]
async fn after_the_retry_after_the_window_has_room_again() {
    let org = Org::with(sample_seed(), budgets(1, 1, 100, Duration::from_secs(1))).await;
    let list = format!("/Group/{PID}");
    assert_eq!(org.get(&list).await.0, StatusCode::OK);
    let refused = org.request(Method::GET, &list).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // Setting the scenario up: wait as told.
    tokio::time::sleep(Duration::from_secs(retry_after(&refused)) + Duration::from_millis(100)).await;
    assert_eq!(org.get(&list).await.0, StatusCode::OK);
    let seen = org.stats();
    assert_eq!((seen.rate_limited, seen.rate_limit_violations), (1, 0));
}

// ---- seeded faults ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Status(u16),
    ConnectionError,
}

/// A fixed mix of reads and repeatable writes, none depending on an earlier answer.
fn fault_script() -> Vec<(Method, String, Option<Value>)> {
    let mut calls = Vec::new();
    for skip in 0..6 {
        calls.push((Method::GET, format!("/User/users/{PID}?top=2&skip={skip}"), None));
    }
    for n in 0..4 {
        calls.push((Method::GET, format!("/Group/{PID}"), None));
        let body = json!({"partitionGlobalId": PID, "name": "Finance Automation", "directoryUserIDsToAdd": [RAJ], "directoryUserIDsToRemove": [if n % 2 == 0 { MEI } else { LI }]});
        calls.push((Method::PUT, format!("/Group/{FINANCE}"), Some(body)));
    }
    calls.push((Method::DELETE, format!("/Group/{PID}"), Some(json!({"groupIDs": [UNKNOWN_GUID]}))));
    calls.push((Method::GET, format!("/Group/{PID}/{HR}/Members"), None));
    calls
}

async fn run_fault_script(seed: u64) -> (Vec<Outcome>, BTreeMap<String, u64>) {
    let options =
        UiPathOptions { faults: Some(FaultOptions { rate: 0.4, seed }), ..UiPathOptions::default() };
    let org = Org::with(sample_seed(), options).await;
    let mut outcomes = Vec::new();
    for (method, path, body) in fault_script() {
        let mut request = org.request(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        outcomes.push(match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                if status >= 500 {
                    let (_, body) = json_of(response).await;
                    assert_eq!(body["detail"], "injected by the roster sandbox", "{body}");
                    assert_eq!(body["status"], status, "{body}");
                }
                Outcome::Status(status)
            }
            Err(error) => {
                assert!(!error.is_timeout(), "a fault cuts the connection, it does not hang: {error}");
                Outcome::ConnectionError
            }
        });
    }
    (outcomes, org.stats().faults)
}

#[tokio::test]
async fn the_same_fault_seed_fails_the_same_requests_the_same_way() {
    let (first, first_faults) = run_fault_script(11).await;
    let (second, second_faults) = run_fault_script(11).await;
    assert_eq!(first, second);
    assert_eq!(first_faults, second_faults);
    assert!(first.iter().any(|o| matches!(o, Outcome::Status(200 | 204))), "{first:?}");
    assert!(first.iter().any(|o| matches!(o, Outcome::Status(500 | 502 | 503))), "{first:?}");
    assert!(first.contains(&Outcome::ConnectionError), "{first:?}");
    let (other, _) = run_fault_script(12).await;
    assert_ne!(first, other);
}

// ---- state ----

#[tokio::test]
async fn changes_and_tokens_survive_a_restart_from_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let options = UiPathOptions { state_file: Some(path.clone()), ..UiPathOptions::default() };
    let first = Org::with(sample_seed(), options).await;
    let new = "0e6b2a4c-7d7b-4f0e-a3b1-9c3b2f1d5e88";
    let writes = [
        (
            Method::POST,
            "/Group".to_string(),
            json!({"partitionGlobalId": PID, "id": new, "name": "Gryffindors", "directoryUserMemberIDs": [RAJ]}),
        ),
        (
            Method::PUT,
            format!("/Group/{HR}"),
            json!({"partitionGlobalId": PID, "name": "People Team", "directoryUserIDsToAdd": [LI]}),
        ),
        (Method::DELETE, format!("/Group/{PID}"), json!({"groupIDs": [CITIZEN]})),
    ];
    for (method, path, body) in &writes {
        let (status, answer) = first.send(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {answer}");
    }
    let before = first.state();
    let token = first.token.clone();
    first.stop().await;

    let saved = Seed::load(&path).expect("the state file loads as a seed");
    assert_eq!(saved, before);
    let mut second = Org::with(saved.clone(), UiPathOptions::default()).await;
    // Tokens are self-contained: one issued before the restart still works.
    second.token = token;
    let (status, groups) = second.get(&format!("/Group/{PID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&groups), [EVERYONE, ADMINISTRATORS, FINANCE, HR, new]);
    assert_eq!(member_ids(&second, HR).await, BTreeSet::from([MEI, LI].map(String::from)));
    assert_eq!(member_ids(&second, new).await, BTreeSet::from([RAJ.to_string()]));
    assert_eq!(second.state(), saved, "a restart reproduces the organization exactly");
}

#[tokio::test]
async fn control_routes_show_state_and_stats_and_reset() {
    let org = Org::start().await;
    let rename = json!({"partitionGlobalId": PID, "name": "Finance"});
    assert_eq!(org.send(Method::PUT, &format!("/Group/{FINANCE}"), &rename).await.0, StatusCode::OK);
    let (status, state) =
        json_of(org.http.get(format!("{}/_sandbox/state", org.base)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_value::<Seed>(state).unwrap(), org.state());
    let (_, counted) =
        json_of(org.http.get(format!("{}/_sandbox/stats", org.base)).send().await.unwrap()).await;
    assert_eq!(counted["requests"], 2, "the token and the PUT: {counted}");
    let response = org.http.post(format!("{}/_sandbox/reset", org.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(org.stats().requests, 0);
    let (_, finance) = org.get(&format!("/Group/{PID}/{FINANCE}")).await;
    assert_eq!(finance["name"], "Finance Automation", "and the token issued before the reset still works");
}

// ---- the binary ----

/// `roster sandbox --provider uipath ARGS`, killed (SIGKILL) and reaped when dropped, with
/// the environment its banner prints.
struct Process {
    child: Child,
    env: BTreeMap<String, String>,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Process {
    fn start(args: &[&std::ffi::OsStr]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["sandbox", "--provider", "uipath", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("ATLAN_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("roster starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut env = BTreeMap::new();
        let mut line = String::new();
        let mut first = None;
        while stdout.read_line(&mut line).expect("stdout is readable") > 0 {
            first.get_or_insert_with(|| line.clone());
            if let Some((key, value)) = line.trim().strip_prefix("export ").and_then(|kv| kv.split_once('='))
            {
                env.insert(key.to_string(), value.to_string());
            }
            if line.starts_with("Press Ctrl-C") {
                break;
            }
            line.clear();
        }
        let first = first.unwrap_or_default();
        assert!(first.starts_with("roster sandbox (uipath) listening on http://"), "{first:?}");
        Process { child, env, _stdout: stdout }
    }

    fn var(&self, name: &str) -> &str {
        self.env.get(name).unwrap_or_else(|| panic!("the banner prints no {name}: {:?}", self.env))
    }

    /// An API client configured from the banner alone.
    async fn org(&self) -> Org {
        let mut org =
            Org { sandbox: None, base: self.var("UIPATH_URL").into(), http: client(), token: String::new() };
        org.token = org.token_of((self.var("UIPATH_CLIENT_ID"), self.var("UIPATH_CLIENT_SECRET"))).await;
        org
    }

    fn kill(mut self) {
        self.child.kill().expect("roster can be killed");
        self.child.wait().expect("roster is reaped");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_the_environment_and_keeps_its_state_across_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let seed = samples_path("uipath-tenant.json");
    let first = Process::start(&["--seed".as_ref(), seed.as_os_str(), "--state".as_ref(), state.as_os_str()]);
    assert_eq!(
        (
            first.var("UIPATH_ORGANIZATION"),
            first.var("UIPATH_PARTITION_GLOBAL_ID"),
            first.var("UIPATH_CLIENT_ID")
        ),
        (ORG, PID, ROSTER_APP.0)
    );
    let org = first.org().await;
    let new = "0e6b2a4c-7d7b-4f0e-a3b1-9c3b2f1d5e88";
    let body =
        json!({"partitionGlobalId": PID, "id": new, "name": "Survivors", "directoryUserMemberIDs": [ANA]});
    assert_eq!(org.send(Method::POST, "/Group", &body).await.0, StatusCode::CREATED);
    first.kill();

    // No seed this time: the organization comes from the state file alone.
    let second = Process::start(&["--state".as_ref(), state.as_os_str()]);
    let org = second.org().await;
    let (status, group) = org.get(&format!("/Group/{PID}/{new}")).await;
    assert_eq!((status, group["name"].as_str()), (StatusCode::OK, Some("Survivors")));
    assert_eq!(member_ids(&org, new).await, BTreeSet::from([ANA.to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_seed_the_organization_has_the_built_in_groups_and_a_generated_secret() {
    let process = Process::start(&[]);
    assert!(process.var("UIPATH_CLIENT_SECRET").starts_with("sandbox-"));
    let org = process.org().await;
    let partition = process.var("UIPATH_PARTITION_GLOBAL_ID");
    let url = format!("{}/{}/identity_/api/Group/{partition}", org.base, process.var("UIPATH_ORGANIZATION"));
    let (status, groups) = org.call(org.http.get(url).bearer_auth(&org.token)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = groups.as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Everyone", "Administrators"]);
}
