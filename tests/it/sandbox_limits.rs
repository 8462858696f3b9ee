//! The Atlan sandbox when things go wrong: the tenant's rate limit and lockout, seeded
//! fault injection, and the state file that lets a tenant survive a restart or a SIGKILL.
//!
//! No test asserts on time. The sandbox enforces its own timing rules and counts what
//! broke them (`rate_limit_violations`); tests sleep only to set a scenario up.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use roster::sandbox::{FaultOptions, RateLimit, Seed};
use serde_json::{Value, json};

use crate::common::sample::{
    ADMIN_ROLE, AKUMAR, DATA_STEWARDS, EVERYONE, FINANCE, JDOE, LCHEN, MARKETING, MEMBER_ROLE,
};
use crate::common::{
    Api, RosterProcess, TestSandbox, field, options, records, sample, sample_seed, samples_path,
};

// ---- rate limit and lockout ----

/// 5 requests a minute, then 2 seconds of lockout.
async fn rate_limited_sandbox() -> TestSandbox {
    let mut options = options();
    options.rate_limit = Some(RateLimit { per_minute: 5, lockout: Duration::from_secs(2) });
    TestSandbox::with_options(sample_seed(), options).await
}

/// Spends the budget of five, then returns the first refusal.
async fn exceed_the_limit(sandbox: &TestSandbox) -> reqwest::Response {
    for n in 1..=5 {
        let (status, _) = sandbox.get("/api/service/roles").await;
        assert_eq!(status, StatusCode::OK, "request {n} of 5 is within the limit");
    }
    sandbox.send(sandbox.request(Method::GET, "/api/service/roles")).await.expect("a response")
}

fn retry_after_secs(response: &reqwest::Response) -> u64 {
    let header = response.headers().get(reqwest::header::RETRY_AFTER).expect("a Retry-After header");
    header
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After {header:?} is not seconds"))
}

#[tokio::test]
async fn the_request_past_the_limit_gets_429_with_retry_after() {
    let sandbox = rate_limited_sandbox().await;
    let refused = exceed_the_limit(&sandbox).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after_secs(&refused), 2, "the whole lockout, in seconds");
    let seen = sandbox.stats();
    assert_eq!((seen.rate_limited, seen.rate_limit_violations), (1, 0));
    assert_eq!(seen.by_status, BTreeMap::from([("200".into(), 5), ("429".into(), 1)]));
}

#[tokio::test]
async fn requests_already_on_their_way_after_a_429_are_refused_but_not_violations() {
    let sandbox = rate_limited_sandbox().await;
    exceed_the_limit(&sandbox).await;
    // Sent at once, as a concurrent client's in-flight requests would be: well inside the
    // sandbox's 200 ms grace.
    for _ in 0..2 {
        let response = sandbox.send(sandbox.request(Method::GET, "/api/service/roles")).await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let seen = sandbox.stats();
    assert_eq!((seen.rate_limited, seen.rate_limit_violations), (3, 0));
}

#[tokio::test]
async fn a_request_inside_the_lockout_after_the_grace_is_a_violation() {
    let sandbox = rate_limited_sandbox().await;
    exceed_the_limit(&sandbox).await;
    // Past the in-flight grace, well before the lockout ends: a client ignoring Retry-After.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = sandbox.send(sandbox.request(Method::GET, "/api/service/roles")).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=2).contains(&retry_after_secs(&response)), "what is left of the lockout");
    let seen = sandbox.stats();
    assert_eq!((seen.rate_limited, seen.rate_limit_violations), (2, 1));
}

#[tokio::test]
async fn after_waiting_the_retry_after_requests_are_admitted_again() {
    let sandbox = rate_limited_sandbox().await;
    let refused = exceed_the_limit(&sandbox).await;
    let wait = Duration::from_secs(retry_after_secs(&refused)) + Duration::from_millis(200);
    tokio::time::sleep(wait).await;
    let (status, body) = sandbox.get("/api/service/roles").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen = sandbox.stats();
    assert_eq!((seen.rate_limited, seen.rate_limit_violations), (1, 0));
}

// ---- seeded faults ----

/// What a client saw for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Status(u16),
    /// The connection was cut: no response at all.
    ConnectionError,
}

async fn outcome(api: &Api, request: RequestBuilder) -> Outcome {
    match api.send(request).await {
        Ok(response) => Outcome::Status(response.status().as_u16()),
        Err(error) => {
            assert!(!error.is_timeout(), "a fault cuts the connection, it does not hang: {error}");
            Outcome::ConnectionError
        }
    }
}

/// A fixed mix of reads and (repeatable) writes on the sample tenant, none of which depends
/// on an earlier answer, so two runs send exactly the same requests.
fn fault_script() -> Vec<(Method, String, Option<Value>)> {
    let mut calls = Vec::new();
    for offset in 0..8 {
        calls.push((Method::GET, format!("/api/service/users?limit=2&offset={offset}"), None));
    }
    for _ in 0..3 {
        calls.push((Method::GET, "/api/service/v2/groups?sort=name".into(), None));
        calls.push((
            Method::POST,
            format!("/api/service/users/{LCHEN}/groups"),
            Some(json!({"groups": [MARKETING]})),
        ));
    }
    for n in 0..3 {
        let body = json!({"id": DATA_STEWARDS, "path": "/data_stewards", "attributes": {"description": [format!("v{n}")]}});
        calls.push((Method::POST, format!("/api/service/groups/{DATA_STEWARDS}"), Some(body)));
    }
    calls.push((
        Method::POST,
        format!("/api/service/groups/{FINANCE}/members/remove"),
        Some(json!({"users": [AKUMAR]})),
    ));
    calls.push((Method::GET, "/api/service/roles".into(), None));
    calls
}

/// Runs the script against a fresh sandbox failing 40 % of requests with `fault_seed`.
async fn run_fault_script(fault_seed: u64) -> (Vec<Outcome>, BTreeMap<String, u64>) {
    let mut options = options();
    options.faults = Some(FaultOptions { rate: 0.4, seed: fault_seed });
    let sandbox = TestSandbox::with_options(sample_seed(), options).await;
    let mut outcomes = Vec::new();
    for (method, path, body) in fault_script() {
        let mut request = sandbox.request(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        outcomes.push(outcome(&sandbox, request).await);
    }
    (outcomes, sandbox.stats().faults)
}

#[tokio::test]
async fn the_same_fault_seed_fails_the_same_requests_the_same_way() {
    let (first, first_faults) = run_fault_script(11).await;
    let (second, second_faults) = run_fault_script(11).await;
    assert_eq!(first, second);
    assert_eq!(first_faults, second_faults);
    // The comparison means something only if the run met every kind of outcome.
    assert!(first.contains(&Outcome::Status(200)), "{first:?}");
    assert!(first.iter().any(|o| matches!(o, Outcome::Status(500 | 502 | 503))), "{first:?}");
    assert!(first.contains(&Outcome::ConnectionError), "{first:?}");
    let failed = first.iter().filter(|o| **o != Outcome::Status(200)).count() as u64;
    assert_eq!(first_faults.values().sum::<u64>(), failed, "{first_faults:?}");
}

#[tokio::test]
async fn a_different_fault_seed_fails_other_requests() {
    let (first, _) = run_fault_script(11).await;
    let (other, _) = run_fault_script(12).await;
    assert_ne!(first, other);
}

#[tokio::test]
async fn a_lost_response_applies_the_write_but_the_client_sees_a_connection_error() {
    let mut options = options();
    options.faults = Some(FaultOptions { rate: 1.0, seed: 5 });
    let sandbox = TestSandbox::with_options(sample_seed(), options).await;
    let mut outcomes = BTreeMap::new();
    for n in 0..20 {
        let name = format!("team_{n:02}");
        let body = json!({"group": {"name": name, "attributes": {"alias": [format!("Team {n}")]}}});
        let seen = outcome(&sandbox, sandbox.request(Method::POST, "/api/service/groups").json(&body)).await;
        outcomes.insert(name, seen);
    }
    let faults = sandbox.stats().faults;
    let lost = faults.get("lost_response").copied().unwrap_or(0);
    assert!(lost > 0, "every write fails at rate 1.0, some by losing the response: {faults:?}");

    let created: Vec<String> =
        sandbox.state().groups.into_iter().map(|g| g.name).filter(|name| name.starts_with("team_")).collect();
    assert_eq!(created.len() as u64, lost, "exactly the lost responses were applied: {created:?}");
    for name in &created {
        assert_eq!(
            outcomes[name],
            Outcome::ConnectionError,
            "{name} was applied, yet its client saw no success"
        );
    }
    assert!(!outcomes.values().any(|o| *o == Outcome::Status(200)), "{outcomes:?}");
    let errors = outcomes.values().filter(|o| **o == Outcome::ConnectionError).count() as u64;
    assert_eq!(errors, lost + faults.get("reset").copied().unwrap_or(0), "{faults:?}");
    assert_eq!(sandbox.stats().by_status.get("connection_reset").copied(), Some(errors));
}

#[tokio::test]
async fn an_injected_reset_reaches_the_client_as_an_error_not_a_response() {
    let mut options = options();
    options.faults = Some(FaultOptions { rate: 1.0, seed: 5 });
    let sandbox = TestSandbox::with_options(sample_seed(), options).await;
    let mut errors = 0;
    let mut statuses = Vec::new();
    for offset in 0..16 {
        match sandbox.send(sandbox.request(Method::GET, &format!("/api/service/users?offset={offset}"))).await
        {
            Ok(response) => statuses.push(response.status().as_u16()),
            Err(error) => {
                assert!(error.is_request() && !error.is_timeout(), "{error:?}");
                errors += 1;
            }
        }
    }
    let faults = sandbox.stats().faults;
    assert!(errors > 0, "{faults:?}");
    assert_eq!(faults.get("reset").copied(), Some(errors));
    assert_eq!(faults.get("lost_response"), None, "a read has no write to lose");
    assert!(statuses.iter().all(|s| [500, 502, 503].contains(s)), "{statuses:?}");
    assert_eq!(statuses.len() as u64 + errors, 16);
}

// ---- state surviving a restart ----

#[tokio::test]
async fn changes_survive_a_restart_from_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut options = options();
    options.state_file = Some(path.clone());
    let first = TestSandbox::with_options(sample_seed(), options).await;
    let writes = [
        (
            "/api/service/groups".to_string(),
            json!({"group": {"name": "human_resources", "attributes": {"alias": ["Human Resources"]}}, "users": [JDOE]}),
        ),
        (format!("/api/service/users/{LCHEN}/groups"), json!({"groups": [MARKETING]})),
        (format!("/api/service/users/{JDOE}/roles/update"), json!({"roleId": ADMIN_ROLE})),
        (
            "/api/service/users".to_string(),
            json!({"users": [{"email": "new.person@example.com", "roleName": "$member", "roleId": MEMBER_ROLE}]}),
        ),
        (format!("/api/service/groups/{FINANCE}/delete"), Value::Null),
    ];
    for (path, body) in &writes {
        let (status, answer) = first.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    }
    let before_stop = first.state();
    first.stop().await;

    let saved = Seed::load(&path).expect("the state file loads as a seed");
    assert_eq!(saved, before_stop);
    let second = TestSandbox::with_seed(saved.clone()).await;
    let (_, groups) = second.list("/api/service/v2/groups", &[("sort", "name")]).await;
    assert_eq!(field(&groups, "name"), ["data_stewards", "everyone", "human_resources", "marketing"]);
    let (_, lchen_groups) = second.get(&format!("/api/service/users/{LCHEN}/groups")).await;
    assert_eq!(field(&lchen_groups, "name"), ["marketing"]);
    let (_, jdoe) = second.list("/api/service/users", &[("filter", r#"{"username":"jdoe"}"#)]).await;
    assert_eq!(records(&jdoe)[0]["workspaceRole"], "$admin");
    let (_, everyone) = second.get(&format!("/api/service/groups/{EVERYONE}/members")).await;
    assert_eq!(field(&everyone, "username"), ["new.person"]);
    assert_eq!(second.state(), saved, "a restart reproduces the tenant exactly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_keeps_its_state_across_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let listen_and_key = ["--listen", "127.0.0.1:0", "--api-key", "k"].map(OsString::from);

    let mut first_args = vec!["--seed".into(), samples_path("tenant.json").into_os_string()];
    first_args.extend(["--state".into(), state.clone().into_os_string()]);
    first_args.extend(listen_and_key.clone());
    let first = RosterProcess::sandbox(first_args);
    let api = Api::new(&first.base_url, "k");
    let (status, body) = api
        .post(
            "/api/service/groups",
            &json!({"group": {"name": "survivors", "attributes": {"alias": ["Survivors"]}}, "users": [JDOE]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let guid = body["group"].as_str().unwrap().to_string();
    first.kill();

    // No seed this time: the tenant comes from the state file alone.
    let mut second_args = vec!["--state".into(), state.into_os_string()];
    second_args.extend(listen_and_key);
    let second = RosterProcess::sandbox(second_args);
    let api = Api::new(&second.base_url, "k");
    let (status, groups) = api.list("/api/service/v2/groups", &[("filter", r#"{"name":"survivors"}"#)]).await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    assert_eq!(field(&groups, "id"), [guid.as_str()]);
    assert_eq!(records(&groups)[0]["alias"], "Survivors");
    let (_, members) = api.get(&format!("/api/service/groups/{guid}/members")).await;
    assert_eq!(field(&members, "id"), [JDOE]);
    let (_, users) = api.get("/api/service/users?limit=0").await;
    assert_eq!(users["totalRecord"], sample::USERS, "the seed's users came back too");
}
