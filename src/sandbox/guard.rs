//! What stands in front of every emulated API call: latency, the tenant's rate limit with its
//! lockout, the bearer token, injected faults, and the statistics tests read back.
//!
//! The decisions are plain structs driven by an explicit `Instant` (rate limit) or a hash
//! of the request (faults), so they are unit-tested without clocks or sockets; the axum
//! middleware at the bottom only wires them to requests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::Shared;

/// A request limit per minute, and how long a client is locked out once it goes past it
/// (Atlan: 400 requests a minute per tenant, then one minute of 429s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests admitted in any sliding 60-second window.
    pub per_minute: u32,
    /// How long every request is refused after the limit was passed.
    pub lockout: Duration,
}

/// Randomly injected failures, reproducible from a seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultOptions {
    /// Probability in `0.0..=1.0` that a request fails.
    pub rate: f64,
    /// Seed that makes the choice of failing requests reproducible.
    pub seed: u64,
}

/// Requests that arrive this soon after a 429 was sent were already on their way: they are
/// refused like any other inside the lockout, but not counted as violations.
const IN_FLIGHT_GRACE: Duration = Duration::from_millis(200);

/// What the sandbox counted, as `GET /_sandbox/stats` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every API request received (the `/_sandbox` routes are not counted).
    pub requests: u64,
    /// Requests by HTTP method.
    pub by_method: BTreeMap<String, u64>,
    /// Requests by method and route template, e.g. `POST /api/service/users/{guid}/groups`.
    pub by_route: BTreeMap<String, u64>,
    /// Responses by HTTP status; `connection_reset` when the connection was cut instead.
    pub by_status: BTreeMap<String, u64>,
    /// Requests refused with 429.
    pub rate_limited: u64,
    /// Requests that arrived while an announced Retry-After or lockout was still running.
    pub rate_limit_violations: u64,
    /// Injected faults by kind: `500`, `502`, `503`, `reset`, `lost_response`.
    pub faults: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests that could change state (anything but GET).
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.requests - self.by_method.get("GET").copied().unwrap_or(0)
    }

    /// Requests for one route, e.g. `calls("POST /api/service/groups")`.
    #[must_use]
    pub fn calls(&self, route: &str) -> u64 {
        self.by_route.get(route).copied().unwrap_or(0)
    }
}

/// The sliding-window rate limiter with lockout.
#[derive(Debug)]
pub(crate) struct Limiter {
    rule: Option<RateLimit>,
    admitted: VecDeque<Instant>,
    locked_until: Option<Instant>,
    announced_at: Option<Instant>,
}

/// Whether a request may go on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    Admitted,
    Refused { retry_after_secs: u64, violation: bool },
}

impl Limiter {
    pub(crate) fn new(rule: Option<RateLimit>) -> Limiter {
        Limiter { rule, admitted: VecDeque::new(), locked_until: None, announced_at: None }
    }

    pub(crate) fn admit(&mut self, now: Instant) -> Admission {
        let Some(rule) = self.rule else { return Admission::Admitted };
        if let Some(until) = self.locked_until.filter(|until| now < *until) {
            let announced = self.announced_at.unwrap_or(now);
            let violation = now.saturating_duration_since(announced) >= IN_FLIGHT_GRACE;
            return Admission::Refused { retry_after_secs: ceil_secs(until - now), violation };
        }
        let window_start = now.checked_sub(Duration::from_secs(60));
        while self.admitted.front().is_some_and(|t| window_start.is_some_and(|start| *t <= start)) {
            self.admitted.pop_front();
        }
        if self.admitted.len() >= rule.per_minute as usize {
            // The block replaces the window: nothing is admitted during it, so with Atlan's
            // one-minute lockout the window is empty afterwards anyway. Clearing it keeps that
            // true for the short lockouts tests use.
            self.admitted.clear();
            self.locked_until = Some(now + rule.lockout);
            self.announced_at = Some(now);
            return Admission::Refused { retry_after_secs: ceil_secs(rule.lockout), violation: false };
        }
        self.admitted.push_back(now);
        Admission::Admitted
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// An injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Status(u16),
    /// The connection is cut before the request is handled.
    Reset,
    /// The request is handled (a write is applied) and then the connection is cut.
    LostResponse,
}

impl Fault {
    fn label(self) -> String {
        match self {
            Fault::Status(code) => code.to_string(),
            Fault::Reset => "reset".into(),
            Fault::LostResponse => "lost_response".into(),
        }
    }
}

/// Picks failing requests. The choice depends only on the seed, the request (method, URI,
/// body) and how many times that same request was seen before, so a run with the same
/// requests meets the same faults however its concurrent calls interleave.
#[derive(Debug)]
pub(crate) struct FaultPlan {
    options: FaultOptions,
    seen: HashMap<u64, u64>,
}

impl FaultPlan {
    pub(crate) fn new(options: FaultOptions) -> FaultPlan {
        FaultPlan { options, seen: HashMap::new() }
    }

    pub(crate) fn decide(&mut self, method: &Method, uri: &str, body: &[u8]) -> Option<Fault> {
        let request = fnv1a([method.as_str().as_bytes(), b" ", uri.as_bytes(), b"\n", body]);
        let occurrence = self.seen.entry(request).or_default();
        *occurrence += 1;
        let mut rng = ChaCha8Rng::seed_from_u64(request ^ self.options.seed.rotate_left(17) ^ *occurrence);
        if !rng.random_bool(self.options.rate.clamp(0.0, 1.0)) {
            return None;
        }
        let writes = *method != Method::GET;
        Some(match rng.random_range(0..if writes { 5 } else { 4 }) {
            0 => Fault::Status(500),
            1 => Fault::Status(502),
            2 => Fault::Status(503),
            3 => Fault::Reset,
            _ => Fault::LostResponse,
        })
    }
}

/// FNV-1a: tiny, and stable across Rust releases (unlike `DefaultHasher`), which keeps a
/// fault seed meaning the same thing everywhere.
fn fnv1a<const N: usize>(parts: [&[u8]; N]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.into_iter().flatten() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Lets a handler cut its own connection: the connection task drops the socket with
/// `SO_LINGER` 0, so the client sees a reset rather than a clean close.
#[derive(Debug, Default)]
pub(crate) struct ConnectionKill(Notify);

impl ConnectionKill {
    pub(crate) async fn requested(&self) {
        self.0.notified().await;
    }

    /// Cuts the connection; the response is never sent.
    async fn cut(&self) -> Response {
        self.0.notify_one();
        std::future::pending().await
    }
}

/// Everything the guard keeps between requests.
#[derive(Debug)]
pub(crate) struct Guard {
    pub(crate) latency: Duration,
    pub(crate) jitter: Duration,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) faults: Option<Mutex<FaultPlan>>,
    pub(crate) stats: Mutex<Stats>,
    jitter_rng: Mutex<ChaCha8Rng>,
}

impl Guard {
    pub(crate) fn new(
        latency: Duration,
        jitter: Duration,
        rate_limit: Option<RateLimit>,
        faults: Option<FaultOptions>,
    ) -> Guard {
        Guard {
            latency,
            jitter,
            limiter: Mutex::new(Limiter::new(rate_limit)),
            jitter_rng: Mutex::new(ChaCha8Rng::seed_from_u64(faults.map_or(0, |f| f.seed))),
            faults: faults.map(|f| Mutex::new(FaultPlan::new(f))),
            stats: Mutex::new(Stats::default()),
        }
    }

    /// Back to how the guard started: no statistics, no lockout, no requests remembered.
    pub(crate) fn reset(&self) {
        *self.stats.lock().unwrap() = Stats::default();
        let mut limiter = self.limiter.lock().unwrap();
        *limiter = Limiter::new(limiter.rule);
        if let Some(plan) = &self.faults {
            plan.lock().unwrap().seen.clear();
        }
    }

    fn delay(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        let extra = self.jitter_rng.lock().unwrap().random_range(Duration::ZERO..=self.jitter);
        self.latency + extra
    }

    fn count_arrival(&self, method: &Method, route: &str) {
        let mut stats = self.stats.lock().unwrap();
        stats.requests += 1;
        *stats.by_method.entry(method.to_string()).or_default() += 1;
        *stats.by_route.entry(format!("{method} {route}")).or_default() += 1;
    }

    fn count(&self, update: impl FnOnce(&mut Stats)) {
        update(&mut self.stats.lock().unwrap());
    }
}

fn count_status(stats: &mut Stats, code: &str) {
    *stats.by_status.entry(code.into()).or_default() += 1;
}

/// The axum middleware applying the guard to every API route.
pub(crate) async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let guard = &shared.guard;
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(no such route)".to_string(), |p| p.as_str().to_string());
    guard.count_arrival(&method, &route);
    let delay = guard.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let admission = guard.limiter.lock().unwrap().admit(Instant::now());
    if let Admission::Refused { retry_after_secs, violation } = admission {
        guard.count(|stats| {
            stats.rate_limited += 1;
            stats.rate_limit_violations += u64::from(violation);
            count_status(stats, "429");
        });
        return rate_limited(retry_after_secs);
    }

    if !shared.authorized(request.headers().get(header::AUTHORIZATION)) {
        guard.count(|stats| count_status(stats, "401"));
        return unauthorized(request.uri().path());
    }

    let (request, fault) = match &guard.faults {
        None => (request, None),
        Some(plan) => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let fault = plan.lock().unwrap().decide(&parts.method, &parts.uri.to_string(), &bytes);
            (Request::from_parts(parts, Body::from(Bytes::clone(&bytes))), fault)
        }
    };
    if let Some(fault) = fault {
        guard.count(|stats| *stats.faults.entry(fault.label()).or_default() += 1);
    }
    let kill = request.extensions().get::<Arc<ConnectionKill>>().cloned();
    match (fault, kill) {
        (Some(Fault::Status(code)), _) => {
            guard.count(|stats| count_status(stats, &code.to_string()));
            server_error(code)
        }
        (Some(Fault::Reset), Some(kill)) => {
            guard.count(|stats| count_status(stats, "connection_reset"));
            kill.cut().await
        }
        (Some(Fault::LostResponse), Some(kill)) => {
            let _applied = next.run(request).await;
            guard.count(|stats| count_status(stats, "connection_reset"));
            kill.cut().await
        }
        _ => {
            let response = next.run(request).await;
            guard.count(|stats| count_status(stats, response.status().as_str()));
            response
        }
    }
}

/// Atlan's gateway answers 429 with Retry-After; its body is not documented, so the
/// sandbox sends the gateway's (Kong's) usual one.
fn rate_limited(retry_after_secs: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(serde_json::json!({"message": "API rate limit exceeded"})),
    )
        .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// The SDKs' error model names `status`, `message` and `url` for unauthorized calls.
fn unauthorized(path: &str) -> Response {
    let body = serde_json::json!({"status": 401, "message": "Unauthorized", "url": path});
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

fn server_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "code": 5000,
        "error": status.canonical_reason().unwrap_or("error"),
        "info": null,
        "message": format!("{status} (injected by the roster sandbox)"),
        "requestId": super::request_id(),
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, lockout_secs: u64) -> Limiter {
        Limiter::new(Some(RateLimit { per_minute, lockout: Duration::from_secs(lockout_secs) }))
    }

    #[test]
    fn past_the_limit_every_request_is_refused_until_the_lockout_ends() {
        let mut limiter = limiter(3, 60);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(limiter.admit(t0 + Duration::from_secs(i)), Admission::Admitted);
        }
        let at = t0 + Duration::from_secs(10);
        assert_eq!(limiter.admit(at), Admission::Refused { retry_after_secs: 60, violation: false });
        // Still on its way when the 429 went out: refused, but not the client's fault.
        let in_flight = at + Duration::from_millis(50);
        assert_eq!(limiter.admit(in_flight), Admission::Refused { retry_after_secs: 60, violation: false });
        // Well after the announcement: a violation; the window has slid, the lockout has not.
        let later = at + Duration::from_secs(55);
        assert_eq!(limiter.admit(later), Admission::Refused { retry_after_secs: 5, violation: true });
        // After the block a full budget is available again.
        for i in 0..3 {
            assert_eq!(limiter.admit(at + Duration::from_secs(60 + i)), Admission::Admitted);
        }
        assert!(matches!(limiter.admit(at + Duration::from_secs(64)), Admission::Refused { .. }));
    }

    #[test]
    fn the_window_slides() {
        let mut limiter = limiter(2, 5);
        let t0 = Instant::now();
        assert_eq!(limiter.admit(t0), Admission::Admitted);
        assert_eq!(limiter.admit(t0 + Duration::from_secs(30)), Admission::Admitted);
        assert_eq!(limiter.admit(t0 + Duration::from_secs(61)), Admission::Admitted);
        assert!(matches!(limiter.admit(t0 + Duration::from_secs(62)), Admission::Refused { .. }));
    }

    #[test]
    fn no_rule_admits_everything() {
        let mut limiter = Limiter::new(None);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.admit(now) == Admission::Admitted));
    }

    #[test]
    fn faults_are_reproducible_and_close_to_the_rate() {
        let options = FaultOptions { rate: 0.25, seed: 42 };
        let run = || {
            let mut plan = FaultPlan::new(options);
            (0..2000)
                .map(|i| plan.decide(&Method::POST, &format!("/api/service/users/{}/groups", i % 500), b"{}"))
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let failed = first.iter().flatten().count();
        assert!((400..600).contains(&failed), "{failed} of 2000 failed at rate 0.25");
        let mut plan = FaultPlan::new(options);
        let gets: Vec<_> =
            (0..400).filter_map(|i| plan.decide(&Method::GET, &format!("/x?offset={i}"), b"")).collect();
        assert!(!gets.contains(&Fault::LostResponse), "a GET has no write to lose");
        let other = FaultPlan::new(FaultOptions { seed: 43, ..options });
        let mut other = other;
        let second: Vec<_> = (0..2000)
            .map(|i| other.decide(&Method::POST, &format!("/api/service/users/{}/groups", i % 500), b"{}"))
            .collect();
        assert_ne!(first, second);
    }
}
