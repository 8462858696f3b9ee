//! The harness every integration test shares: a sandbox started in-process on
//! `127.0.0.1:0` (fresh per test), an HTTP client that talks to it over real loopback, the
//! sample tenant's GUIDs, and a guard around the `roster` binary for tests that run it.
//!
//! Every request goes through [`Api`], which counts what it sent: a [`TestSandbox`] that
//! was never called fails its test, because a test that never reached the server proves
//! nothing (STYLE.md practice 12).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use roster::sandbox::{Sandbox, SandboxOptions, Seed, Stats};
use serde_json::Value;

/// The bearer token of every in-process test sandbox.
pub(crate) const API_KEY: &str = "test-key";

/// A GUID that names no user, group or role of any test tenant.
pub(crate) const UNKNOWN_GUID: &str = "00000000-0000-4000-8000-000000000000";

/// GUIDs and counts of `samples/tenant.json`, written out here rather than read from the
/// sandbox's code, so that a change to the sample shows up as a failing test.
pub(crate) mod sample {
    /// `jsmith`, `$admin`, member of Data Stewards.
    pub(crate) const JSMITH: &str = "9cdc2c2e-6d60-448c-a083-0f4a295499ea";
    /// `jdoe`, `$member`, member of Data Stewards and Finance Analysts.
    pub(crate) const JDOE: &str = "53954c95-47f8-49b3-9812-23eb40fb07cc";
    /// `akumar`, `$member`, member of Finance Analysts.
    pub(crate) const AKUMAR: &str = "da213751-95de-4f96-8bee-a2c73e2ef8c8";
    /// `mgarcia`, `$member`, member of Marketing.
    pub(crate) const MGARCIA: &str = "b060a754-4d16-4e13-b5a8-ba42f10aee39";
    /// `lchen`, `$guest`, in no group.
    pub(crate) const LCHEN: &str = "3f94d413-ae47-4ddb-a5a9-1b286e7eb04e";
    /// `pnew` (`p.new@example.com`), `$guest`, invited but not signed up.
    pub(crate) const PNEW: &str = "12846d83-d117-42e1-a0fd-823dfa75e876";

    /// `data_stewards` ("Data Stewards"): jsmith, jdoe.
    pub(crate) const DATA_STEWARDS: &str = "e79cb8eb-2bb6-4821-914c-f8dfd21fedc7";
    /// `finance_analysts` ("Finance Analysts"): jdoe, akumar.
    pub(crate) const FINANCE: &str = "a99f50bc-46bf-4d08-a987-3411ef5cfc33";
    /// `marketing` ("Marketing"): mgarcia.
    pub(crate) const MARKETING: &str = "9e24070f-7ddb-4420-b015-bb6be3551407";
    /// `everyone` ("Everyone"): the default group, empty.
    pub(crate) const EVERYONE: &str = "a852d26f-279a-4f57-b3e2-72831cd814a4";

    /// `$admin`.
    pub(crate) const ADMIN_ROLE: &str = "be5f0df7-dab8-4107-8bf0-56ce7131623a";
    /// `$member`.
    pub(crate) const MEMBER_ROLE: &str = "620172e0-81df-4d30-a8b3-f92a69badd04";
    /// `$guest`.
    pub(crate) const GUEST_ROLE: &str = "0d1c39de-7323-4490-98d9-43240307eea7";

    /// Users in the sample tenant.
    pub(crate) const USERS: usize = 6;
    /// Groups in the sample tenant.
    pub(crate) const GROUPS: usize = 4;
}

/// A file under `samples/`.
pub(crate) fn samples_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(name)
}

/// `samples/tenant.json`, loaded the way `roster sandbox --seed` loads it.
pub(crate) fn sample_seed() -> Seed {
    Seed::load(&samples_path("tenant.json")).expect("samples/tenant.json loads")
}

/// A generated tenant, e.g. `generated("users=45,groups=7,memberships=60,seed=3")`.
pub(crate) fn generated(spec: &str) -> Seed {
    roster::sandbox::atlan::seed::generate(spec.parse().expect("a valid generate spec"))
}

/// Options for a fast, reliable, unlimited sandbox accepting [`API_KEY`].
pub(crate) fn options() -> SandboxOptions {
    SandboxOptions::new(API_KEY)
}

/// An HTTP client for one sandbox (in-process or a `roster` process): base URL, token,
/// and a count of the requests sent.
#[derive(Debug)]
pub(crate) struct Api {
    base_url: String,
    token: String,
    client: reqwest::Client,
    sent: AtomicU64,
}

impl Api {
    pub(crate) fn new(base_url: &str, api_key: &str) -> Api {
        let client = reqwest::Client::builder()
            // Loopback only, whatever the environment says about proxies.
            .no_proxy()
            // A fresh connection per request: a connection cut by an injected fault can't
            // poison the next request, and reqwest never silently re-sends on a pooled one.
            .pool_max_idle_per_host(0)
            // A safety net so a hung sandbox fails the test instead of hanging it; never
            // reached by a working sandbox, and nothing asserts on durations.
            .timeout(Duration::from_secs(20))
            .build()
            .expect("a reqwest client");
        Api {
            base_url: base_url.trim_end_matches('/').to_string(),
            token: api_key.into(),
            client,
            sent: 0.into(),
        }
    }

    /// The absolute URL of `path` (which starts with `/` and may carry a query).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// How many requests went out through this client.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// A request carrying the right `Authorization: Bearer` header.
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.unauthenticated(method, path).bearer_auth(&self.token)
    }

    /// A request without any `Authorization` header.
    pub(crate) fn unauthenticated(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends a request; connection errors are returned, not panicked on.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        request.send().await
    }

    /// Sends a request that must get a response, and reads its body as JSON.
    pub(crate) async fn call(&self, request: RequestBuilder) -> (StatusCode, Value) {
        let response = self.send(request).await.expect("the sandbox answers");
        json_of(response).await
    }

    /// `GET path` (the path may carry a raw query string).
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(self.request(Method::GET, path)).await
    }

    /// `GET path?params`, the parameters form-urlencoded (repeated keys stay repeated).
    pub(crate) async fn list(&self, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call(self.request(Method::GET, path).query(params)).await
    }

    /// `POST path` with a JSON body.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(self.request(Method::POST, path).json(body)).await
    }

    /// `POST path` with a body sent as is, labelled JSON.
    pub(crate) async fn post_raw(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let request = self
            .request(Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.call(request).await
    }
}

/// A response's status and its body as JSON (`null` for an empty body).
pub(crate) async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("the whole body arrives");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

/// A sandbox started in-process for one test, with a client for it.
#[derive(Debug)]
pub(crate) struct TestSandbox {
    sandbox: Option<Sandbox>,
    api: Api,
}

impl TestSandbox {
    /// The sample tenant, no limits, no faults.
    pub(crate) async fn start() -> TestSandbox {
        TestSandbox::with_seed(sample_seed()).await
    }

    /// Another tenant, no limits, no faults.
    pub(crate) async fn with_seed(seed: Seed) -> TestSandbox {
        TestSandbox::with_options(seed, options()).await
    }

    /// Any tenant and options (the options' key must be [`API_KEY`] for the helpers).
    pub(crate) async fn with_options(seed: Seed, options: SandboxOptions) -> TestSandbox {
        let sandbox = Sandbox::start(seed, options).await.expect("the sandbox starts on 127.0.0.1:0");
        let api = Api::new(&sandbox.base_url(), sandbox.api_key());
        TestSandbox { sandbox: Some(sandbox), api }
    }

    fn sandbox(&self) -> &Sandbox {
        self.sandbox.as_ref().expect("the sandbox is running")
    }

    /// What the sandbox counted.
    pub(crate) fn stats(&self) -> Stats {
        self.sandbox().stats()
    }

    /// The tenant now, in the seed's shape.
    pub(crate) fn state(&self) -> Seed {
        self.sandbox().state()
    }

    /// Stops the sandbox and waits until it has.
    pub(crate) async fn stop(mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.stop().await;
        }
    }
}

impl Deref for TestSandbox {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(self.api.sent() > 0, "the test never called its sandbox, so it checked nothing");
        }
    }
}

/// The `records` of a list response.
pub(crate) fn records(body: &Value) -> &Vec<Value> {
    body["records"].as_array().unwrap_or_else(|| panic!("no records array in {body}"))
}

/// One string field of every record of a list response, in order.
pub(crate) fn field(body: &Value, name: &str) -> Vec<String> {
    records(body)
        .iter()
        .map(|r| r[name].as_str().unwrap_or_else(|| panic!("no string {name} in {r}")).to_string())
        .collect()
}

/// `(totalRecord, filterRecord)` of a list response.
pub(crate) fn totals(body: &Value) -> (u64, u64) {
    let number = |key: &str| body[key].as_u64().unwrap_or_else(|| panic!("no number {key} in {body}"));
    (number("totalRecord"), number("filterRecord"))
}

/// Checks a Heracles error body (`{code, error, info, message, requestId}`, nothing else)
/// and returns its message.
pub(crate) fn heracles_message(body: &Value, code: u64, error: &str) -> String {
    let keys: BTreeSet<&str> =
        body.as_object().expect("an error object").keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["code", "error", "info", "message", "requestId"]), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["info"], Value::Null, "{body}");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    body["message"].as_str().expect("a string message").to_string()
}

/// A `roster sandbox` process, killed (SIGKILL) and reaped when dropped, even if the test
/// panics.
#[derive(Debug)]
pub(crate) struct RosterProcess {
    child: Child,
    /// The URL from the first stdout line.
    pub(crate) base_url: String,
    // Kept open: closing it would make the sandbox's later prints fail.
    _stdout: BufReader<ChildStdout>,
}

impl RosterProcess {
    /// Runs `roster sandbox ARGS` and waits for its first line,
    /// `roster sandbox (atlan) listening on http://ADDR`.
    pub(crate) fn sandbox<I, S>(args: I) -> RosterProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("sandbox")
            .args(args)
            .env_remove("ATLAN_API_KEY")
            .env_remove("ATLAN_BASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("roster starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("stdout is readable");
        let Some(url) = first.trim_end().strip_prefix("roster sandbox (atlan) listening on ") else {
            let stderr = read_all(child.stderr.take());
            let _ = child.kill();
            let _ = child.wait();
            panic!("unexpected first line {first:?}; stderr: {stderr}");
        };
        RosterProcess { base_url: url.to_string(), child, _stdout: stdout }
    }

    /// Kills the process with SIGKILL, so it gets no chance to clean up, and reaps it.
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("roster can be killed");
        self.child.wait().expect("roster is reaped");
    }
}

fn read_all(stderr: Option<ChildStderr>) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = stderr {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

impl Drop for RosterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
