//! The harness every integration test shares: a sandbox started in-process on
//! `127.0.0.1:0` (fresh per test), an HTTP client that talks to it over real loopback, the
//! sample tenant's GUIDs, a guard around `roster sandbox` processes, and [`Workspace`] /
//! [`RosterRun`] to run `roster import` and `roster validate` as a user would (a temp dir,
//! an empty environment, no terminal) and read back exit code, output and results file.
//!
//! A [`TestSandbox`] that no request reached, from the test's own [`Api`] or from a
//! `roster` process, fails its test, because a test that never reached the server proves
//! nothing (STYLE.md practice 12); a test that means to send nothing says so with
//! [`TestSandbox::assert_untouched`].

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
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
    /// Set by [`TestSandbox::assert_untouched`]: the test checked that no one called it.
    untouched: bool,
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
        TestSandbox { sandbox: Some(sandbox), api, untouched: false }
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

    /// The URL a `roster` process is given with `--base-url`.
    pub(crate) fn base_url(&self) -> String {
        self.sandbox().base_url()
    }

    /// Asserts that no API request reached the sandbox (for runs that must send nothing),
    /// which also satisfies the never-called check on drop.
    pub(crate) fn assert_untouched(&mut self) {
        let stats = self.stats();
        assert_eq!(stats.requests, 0, "the sandbox was called: {stats:?}");
        self.untouched = true;
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
        if std::thread::panicking() || self.untouched {
            return;
        }
        // Called by the test's own client, or by a `roster` process the test ran.
        let served = self.sandbox.as_ref().map_or(0, |s| s.stats().requests);
        assert!(self.api.sent() + served > 0, "the test never called its sandbox, so it checked nothing");
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

fn read_all(pipe: Option<impl Read>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_string(&mut text);
    }
    text
}

impl Drop for RosterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- running `roster import` and `roster validate` ----

/// `--rate` for test imports: one request every 10 ms, so that a run of a few dozen calls
/// takes a moment. Pacing itself is unit-tested with governor's fake clock
/// (`providers::http`); the tests of 429 handling give their own rate.
pub(crate) const FAST_RATE: &str = "6000/min";

/// How long one `roster` run may take before the harness kills it and fails the test: a
/// safety net against a hang, far above what any run needs, and not a timing assertion.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// One test's files: a temp dir holding its input files, the results files `roster` writes
/// beside them, and a file with the test sandboxes' API key. `roster` runs in it.
#[derive(Debug)]
pub(crate) struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub(crate) fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("api-key"), format!("{API_KEY}\n")).expect("the key file is written");
        Workspace { dir }
    }

    /// A path inside the workspace.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file into the workspace and returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).expect("the file is written");
        path
    }

    /// Copies a file of `samples/` into the workspace, so that results land beside the copy.
    pub(crate) fn copy_sample(&self, name: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::copy(samples_path(name), &path).expect("the sample is copied");
        path
    }

    /// The file holding [`API_KEY`], for `--api-key-file`.
    pub(crate) fn key_file(&self) -> PathBuf {
        self.join("api-key")
    }

    /// `roster ARGS`, run in the workspace.
    pub(crate) fn roster<I, S>(&self, args: I) -> RosterRun
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        RosterRun::new(self.dir.path()).args(args)
    }

    /// `roster import INPUT --base-url SANDBOX --api-key-file KEY --rate FAST_RATE`, its
    /// results read from the default place beside INPUT.
    pub(crate) fn import(&self, sandbox: &TestSandbox, input: &Path) -> RosterRun {
        self.roster([OsStr::new("import"), input.as_os_str()])
            .arg("--base-url")
            .arg(sandbox.base_url())
            .arg("--api-key-file")
            .arg(self.key_file())
            .rate(FAST_RATE)
            .results_at(&default_results(input))
    }

    /// `text` with the workspace's path replaced by `[TMP]`, for snapshots.
    pub(crate) fn redact(&self, text: &str) -> String {
        text.replace(&self.dir.path().display().to_string(), "[TMP]")
    }
}

/// Where `roster import INPUT` writes its results without `--results`: `<stem>.results.csv`
/// beside INPUT (spelled out here, not taken from roster's code).
pub(crate) fn default_results(input: &Path) -> PathBuf {
    let stem = input.file_stem().expect("a file name").to_string_lossy();
    input.with_file_name(format!("{stem}.results.csv"))
}

/// A `roster` command line about to run: nothing of the test's environment reaches it (no
/// `ATLAN_*`, no proxy variables), its stdin is empty and not a terminal.
#[derive(Debug)]
pub(crate) struct RosterRun {
    command: Command,
    rate: Option<String>,
    results: Option<PathBuf>,
}

impl RosterRun {
    fn new(dir: &Path) -> RosterRun {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .env_clear()
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        RosterRun { command, rate: None, results: None }
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> RosterRun {
        self.command.arg(arg);
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> RosterRun
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets a variable in the child's environment only.
    pub(crate) fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> RosterRun {
        self.command.env(key, value);
        self
    }

    /// `--rate RATE` instead of [`FAST_RATE`].
    pub(crate) fn rate(mut self, rate: &str) -> RosterRun {
        self.rate = Some(rate.into());
        self
    }

    /// `--results PATH`, and the results are read from there.
    pub(crate) fn results(self, path: &Path) -> RosterRun {
        self.arg("--results").arg(path).results_at(path)
    }

    /// Where to read the results file from after the run (no flag is added).
    pub(crate) fn results_at(mut self, path: &Path) -> RosterRun {
        self.results = Some(path.to_owned());
        self
    }

    /// Starts `roster` and returns at once.
    pub(crate) fn spawn(mut self) -> RunningRoster {
        if let Some(rate) = &self.rate {
            self.command.arg("--rate").arg(rate);
        }
        let mut child = self.command.spawn().expect("roster starts");
        // Read both pipes as the process writes, so that it never blocks on a full pipe.
        let stdout = child.stdout.take().map(|pipe| std::thread::spawn(move || read_all(Some(pipe))));
        let stderr = child.stderr.take().map(|pipe| std::thread::spawn(move || read_all(Some(pipe))));
        RunningRoster { child: Some(child), stdout, stderr, results: self.results }
    }

    /// Runs `roster` to the end.
    pub(crate) async fn run(self) -> RosterOutput {
        self.spawn().finish().await
    }
}

/// A `roster` process that is running; killed (SIGKILL) and reaped when dropped, even if
/// the test panics.
#[derive(Debug)]
pub(crate) struct RunningRoster {
    child: Option<Child>,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
    results: Option<PathBuf>,
}

impl RunningRoster {
    /// Waits until the results file shows at least `rows` finished rows, polling it; fails
    /// the test if `roster` exits first.
    pub(crate) async fn wait_for_rows(&mut self, rows: usize) {
        let path = self.results.clone().expect("a results path to watch");
        let deadline = std::time::Instant::now() + RUN_LIMIT;
        loop {
            if finished_rows(&path) >= rows {
                return;
            }
            self.assert_running();
            assert!(std::time::Instant::now() < deadline, "no {rows} finished row(s) in {}", path.display());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Fails the test, showing what `roster` printed, if it has exited already.
    pub(crate) fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("still running");
        if let Some(status) = child.try_wait().expect("roster can be waited on") {
            let output = self.collect(Some(status));
            panic!("roster exited ({status}) too early: {output:#?}");
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub(crate) fn interrupt(&self) {
        let pid = self.child.as_ref().expect("still running").id();
        let status = Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill(1) runs");
        assert!(status.success(), "kill -INT {pid} failed");
    }

    /// Kills the process with SIGKILL (no chance to clean up) and collects what it left.
    pub(crate) fn kill(mut self) -> RosterOutput {
        let mut child = self.child.take().expect("still running");
        child.kill().expect("roster can be killed");
        let status = child.wait().expect("roster is reaped");
        self.collect(Some(status))
    }

    /// Waits for the process to exit by itself (up to the harness's safety limit).
    pub(crate) async fn finish(mut self) -> RosterOutput {
        let mut child = self.child.take().expect("still running");
        let status = tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + RUN_LIMIT;
            loop {
                if let Some(status) = child.try_wait().expect("roster can be waited on") {
                    return Some(status);
                }
                if std::time::Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .await
        .expect("the waiting thread finishes");
        let output = self.collect(status);
        assert!(status.is_some(), "roster did not finish within {RUN_LIMIT:?}; killed: {output:#?}");
        output
    }

    fn collect(&mut self, status: Option<ExitStatus>) -> RosterOutput {
        let text = |pipe: Option<std::thread::JoinHandle<String>>| {
            pipe.map(|reader| reader.join().expect("the pipe reader finishes")).unwrap_or_default()
        };
        let (header, rows) = self.results.as_deref().map(read_results).unwrap_or_default();
        RosterOutput {
            code: status.and_then(|s| s.code()),
            stdout: text(self.stdout.take()),
            stderr: text(self.stderr.take()),
            header,
            rows,
        }
    }
}

impl Drop for RunningRoster {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One row of a results file, by column name.
pub(crate) type Row = BTreeMap<String, String>;

/// What a finished `roster` run left: exit code, output, and its results file.
#[derive(Debug)]
pub(crate) struct RosterOutput {
    /// `None` when the process was ended by a signal.
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// The results file's header (empty when there is no results file).
    pub(crate) header: Vec<String>,
    /// The results file's rows, in file order.
    pub(crate) rows: Vec<Row>,
}

impl RosterOutput {
    /// Fails the test, showing everything, unless the exit code is `code`.
    #[track_caller]
    pub(crate) fn assert_exit(&self, code: i32) -> &RosterOutput {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code; stderr:\n{}\nrows: {:#?}",
            self.stderr,
            self.rows
        );
        self
    }

    /// One column of every results row, in file order.
    pub(crate) fn column(&self, name: &str) -> Vec<&str> {
        self.rows
            .iter()
            .map(|row| row.get(name).map_or_else(|| panic!("no column {name}"), String::as_str))
            .collect()
    }

    /// `line status` of every results row, e.g. `["2 ok", "3 unchanged"]`.
    pub(crate) fn statuses(&self) -> Vec<String> {
        self.rows.iter().map(|row| format!("{} {}", row["line"], row["status"])).collect()
    }

    /// The results row of input line `line`.
    #[track_caller]
    pub(crate) fn row(&self, line: u64) -> &Row {
        let line = line.to_string();
        self.rows.iter().find(|row| row["line"] == line).unwrap_or_else(|| panic!("no row for line {line}"))
    }

    /// Some columns of every row, one row a line, cells separated by ` | `: for snapshots.
    pub(crate) fn table(&self, columns: &[&str]) -> String {
        self.rows
            .iter()
            .map(|row| columns.iter().map(|c| row[*c].as_str()).collect::<Vec<_>>().join(" | "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Reads a results file, `,`, `;` or tab separated (possibly still being written: a last
/// line without its newline is left out). A missing file has no header and no rows.
pub(crate) fn read_results(path: &Path) -> (Vec<String>, Vec<Row>) {
    let Ok(text) = std::fs::read_to_string(path) else { return (Vec::new(), Vec::new()) };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
    // The delimiter of the input, which results files keep: the one the header has most of.
    let first = complete.lines().next().unwrap_or_default();
    let delimiter = [b',', b';', b'\t'].into_iter().max_by_key(|d| first.matches(char::from(*d)).count());
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter.unwrap_or(b','))
        .flexible(false)
        .from_reader(complete.as_bytes());
    let header: Vec<String> = reader.headers().expect("a results header").iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|record| {
            let record = record.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            header.iter().cloned().zip(record.iter().map(String::from)).collect()
        })
        .collect();
    (header, rows)
}

/// Rows a results file shows as finished so far.
pub(crate) fn finished_rows(path: &Path) -> usize {
    read_results(path).1.len()
}

// ---- exports, and the tenant compared by names ----

impl Workspace {
    /// `roster export WHAT --base-url SANDBOX --api-key-file KEY` (export has no `--rate`:
    /// it paces at the tenant's default budget, which the few calls of a test tenant never
    /// feel).
    pub(crate) fn export(&self, sandbox: &TestSandbox, what: &str) -> RosterRun {
        self.roster(["export", what])
            .arg("--base-url")
            .arg(sandbox.base_url())
            .arg("--api-key-file")
            .arg(self.key_file())
    }
}

/// A CSV file as header and records, in file order, cells as written (a BOM is dropped).
pub(crate) fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let header = reader.headers().expect("a header").iter().map(String::from).collect();
    let records = reader
        .records()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", path.display())).iter().map(String::from).collect())
        .collect();
    (header, records)
}

/// Writes a CSV file of a header and records.
pub(crate) fn write_csv(path: &Path, header: &[String], records: &[Vec<String>]) {
    let mut writer = csv::Writer::from_path(path).expect("the file is created");
    writer.write_record(header).expect("the header is written");
    for record in records {
        writer.write_record(record).expect("a record is written");
    }
    writer.flush().expect("the file is flushed");
}

/// Each group's members by username, groups by name: a tenant compared as people see it
/// (recreated groups get new GUIDs).
pub(crate) fn memberships_by_name(state: &Seed) -> BTreeMap<String, BTreeSet<String>> {
    let username = |id: &String| {
        state.users.iter().find(|u| &u.id == id).map_or_else(|| id.clone(), |u| u.username.clone())
    };
    state.groups.iter().map(|g| (g.name.clone(), g.members.iter().map(username).collect())).collect()
}

/// Every (username, group name) membership of a tenant.
pub(crate) fn membership_pairs(state: &Seed) -> BTreeSet<(String, String)> {
    memberships_by_name(state)
        .into_iter()
        .flat_map(|(group, users)| users.into_iter().map(move |user| (user, group.clone())))
        .collect()
}

/// Each user's workspace role, by username.
pub(crate) fn roles_by_name(state: &Seed) -> BTreeMap<String, Option<String>> {
    state.users.iter().map(|u| (u.username.clone(), u.role.clone())).collect()
}

/// Each group's alias, description and default flag, by name.
pub(crate) fn group_attributes(state: &Seed) -> BTreeMap<String, (Option<String>, Option<String>, bool)> {
    state
        .groups
        .iter()
        .map(|g| (g.name.clone(), (g.alias.clone(), g.description.clone(), g.is_default)))
        .collect()
}

// ---- UiPath: an in-process organization, and `roster` runs against it ----

/// `samples/uipath-tenant.json`, loaded the way `roster sandbox --provider uipath --seed`
/// loads it.
pub(crate) fn uipath_sample_seed() -> roster::sandbox::uipath::seed::Seed {
    roster::sandbox::uipath::seed::Seed::load(&samples_path("uipath-tenant.json"))
        .expect("samples/uipath-tenant.json loads")
}

/// A generated organization, e.g. `uipath_generated("users=600,groups=2,memberships=0,seed=1")`,
/// whose one application ([`UIPATH_GENERATED_CLIENT`]) holds every scope.
pub(crate) fn uipath_generated(spec: &str) -> roster::sandbox::uipath::seed::Seed {
    roster::sandbox::uipath::seed::generate(
        spec.parse().expect("a valid generate spec"),
        UIPATH_GENERATED_CLIENT.1,
    )
}

/// The application of a generated organization: `(client id, secret)`.
pub(crate) const UIPATH_GENERATED_CLIENT: (&str, &str) = ("roster-sandbox-app", "generated-secret");

/// `--budget` for test runs against a UiPath sandbox: UiPath's documented budgets pace GETs a
/// second apart and PUTs nearly two, which would make every test slow; these are never felt.
/// The budgets themselves are unit-tested with governor's fake clock (`providers::http`).
pub(crate) const UIPATH_FAST_BUDGET: &str = "GET=30000,PUT=30000,DELETE=30000,POST=30000";

/// A UiPath sandbox started in-process for one test. Like [`TestSandbox`], it fails its test
/// when dropped if no request reached it.
#[derive(Debug)]
pub(crate) struct TestOrg {
    sandbox: Option<roster::sandbox::UiPathSandbox>,
}

impl TestOrg {
    /// The sample organization, fast, unlimited, one-hour tokens.
    pub(crate) async fn start() -> TestOrg {
        TestOrg::with(uipath_sample_seed(), roster::sandbox::UiPathOptions::default()).await
    }

    /// Any organization and options.
    pub(crate) async fn with(
        seed: roster::sandbox::uipath::seed::Seed,
        options: roster::sandbox::UiPathOptions,
    ) -> TestOrg {
        let sandbox = roster::sandbox::UiPathSandbox::start(seed, options)
            .await
            .expect("the UiPath sandbox starts on 127.0.0.1:0");
        TestOrg { sandbox: Some(sandbox) }
    }

    fn sandbox(&self) -> &roster::sandbox::UiPathSandbox {
        self.sandbox.as_ref().expect("the sandbox is running")
    }

    /// What the sandbox counted.
    pub(crate) fn stats(&self) -> Stats {
        self.sandbox().stats()
    }

    /// The organization now, in the seed's shape.
    pub(crate) fn state(&self) -> roster::sandbox::uipath::seed::Seed {
        self.sandbox().state()
    }

    /// The `UIPATH_*` settings that reach this organization as the application `client`
    /// (`(client id, secret)`), the partition GUID included.
    pub(crate) fn env(&self, (client_id, secret): (&str, &str)) -> UipathEnv {
        let sandbox = self.sandbox();
        UipathEnv {
            url: sandbox.base_url(),
            organization: sandbox.organization(),
            client_id: client_id.into(),
            client_secret: secret.into(),
            partition: Some(sandbox.partition_global_id()),
        }
    }
}

impl Drop for TestOrg {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let served = self.sandbox.as_ref().map_or(1, |s| s.stats().requests);
        assert!(served > 0, "the test never called its UiPath sandbox, so it checked nothing");
    }
}

/// What `roster` reads from the environment to reach a UiPath organization.
#[derive(Debug, Clone)]
pub(crate) struct UipathEnv {
    /// `UIPATH_URL`.
    pub(crate) url: String,
    /// `UIPATH_ORGANIZATION`.
    pub(crate) organization: String,
    /// `UIPATH_CLIENT_ID`.
    pub(crate) client_id: String,
    /// `UIPATH_CLIENT_SECRET`.
    pub(crate) client_secret: String,
    /// `UIPATH_PARTITION_GLOBAL_ID`, left unset when `None`.
    pub(crate) partition: Option<String>,
}

impl RosterRun {
    /// Sets the `UIPATH_*` variables (and only those: the rest of the environment stays
    /// empty), so that roster picks UiPath by the environment. An empty secret is left
    /// unset (for `--api-key-file`).
    pub(crate) fn uipath(self, env: &UipathEnv) -> RosterRun {
        let mut run = self
            .env("UIPATH_URL", &env.url)
            .env("UIPATH_ORGANIZATION", &env.organization)
            .env("UIPATH_CLIENT_ID", &env.client_id);
        if !env.client_secret.is_empty() {
            run = run.env("UIPATH_CLIENT_SECRET", &env.client_secret);
        }
        match &env.partition {
            Some(partition) => run.env("UIPATH_PARTITION_GLOBAL_ID", partition),
            None => run,
        }
    }
}

impl Workspace {
    /// `roster import INPUT --budget UIPATH_FAST_BUDGET` with the `UIPATH_*` environment,
    /// its results read from the default place beside INPUT.
    pub(crate) fn uipath_import(&self, env: &UipathEnv, input: &Path) -> RosterRun {
        self.roster([OsStr::new("import"), input.as_os_str()])
            .uipath(env)
            .arg("--budget")
            .arg(UIPATH_FAST_BUDGET)
            .results_at(&default_results(input))
    }

    /// `roster export WHAT --budget UIPATH_FAST_BUDGET` with the `UIPATH_*` environment.
    pub(crate) fn uipath_export(&self, env: &UipathEnv, what: &str) -> RosterRun {
        self.roster(["export", what]).uipath(env).arg("--budget").arg(UIPATH_FAST_BUDGET)
    }
}
