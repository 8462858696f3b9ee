//! What stands in front of every emulated API call, whatever the platform: latency, the
//! tenant's rate limit, the credentials, injected faults, and the statistics tests read back.
//!
//! The rate limit is a rule per platform ([`RateRule`]): Atlan admits a number of requests a
//! minute and then locks the tenant out; UiPath keeps a sliding window per HTTP method.
//! Credentials and the bodies of refusals are the platform's own, behind the [`Gate`] trait.
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

/// A request limit per minute, and how long a client is locked out once it goes past it
/// (Atlan: 400 requests a minute per tenant, then one minute of 429s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests admitted in any sliding 60-second window.
    pub per_minute: u32,
    /// How long every request is refused after the limit was passed.
    pub lockout: Duration,
}

/// A request budget per HTTP method over a sliding window, with no lockout (UiPath's
/// Identity Server: per organization per five minutes, GET 300, POST 24,000, PUT, PATCH and
/// DELETE 160 each). Each method has its own window: spending the PUT budget does not slow
/// GETs down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodBudgets {
    /// GET (and HEAD) requests admitted per window.
    pub get: u32,
    /// POST requests admitted per window.
    pub post: u32,
    /// PUT requests admitted per window.
    pub put: u32,
    /// PATCH requests admitted per window.
    pub patch: u32,
    /// DELETE requests admitted per window.
    pub delete: u32,
    /// How long a request counts against its method's budget.
    pub window: Duration,
}

impl MethodBudgets {
    /// UiPath's documented limits: GET 300, POST 24,000, PUT, PATCH and DELETE 160, per
    /// five minutes.
    pub const DOCUMENTED: MethodBudgets = MethodBudgets {
        get: 300,
        post: 24_000,
        put: 160,
        patch: 160,
        delete: 160,
        window: Duration::from_secs(300),
    };

    /// The window's slot and budget of a method; `None` for methods without a budget.
    fn class(&self, method: &Method) -> Option<(usize, u32)> {
        Some(match *method {
            Method::GET | Method::HEAD => (0, self.get),
            Method::POST => (1, self.post),
            Method::PUT => (2, self.put),
            Method::PATCH => (3, self.patch),
            Method::DELETE => (4, self.delete),
            _ => return None,
        })
    }
}

/// A platform's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateRule {
    /// Atlan: one window a minute for every request, then a lockout.
    PerMinute(RateLimit),
    /// UiPath: a sliding window per method, each with its own budget.
    PerMethod(MethodBudgets),
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
/// refused like any other inside the lockout or announced Retry-After, but not counted as
/// violations.
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

/// The rate limiter: nothing, Atlan's window with lockout, or UiPath's windows per method.
#[derive(Debug)]
pub(crate) enum Limiter {
    Unlimited,
    Lockout(LockoutLimiter),
    PerMethod(Box<MethodLimiter>),
}

/// Whether a request may go on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    Admitted,
    Refused { retry_after_secs: u64, violation: bool },
}

impl Limiter {
    pub(crate) fn new(rule: Option<RateRule>) -> Limiter {
        match rule {
            None => Limiter::Unlimited,
            Some(RateRule::PerMinute(rule)) => Limiter::Lockout(LockoutLimiter::new(rule)),
            Some(RateRule::PerMethod(budgets)) => Limiter::PerMethod(Box::new(MethodLimiter::new(budgets))),
        }
    }

    fn rule(&self) -> Option<RateRule> {
        match self {
            Limiter::Unlimited => None,
            Limiter::Lockout(limiter) => Some(RateRule::PerMinute(limiter.rule)),
            Limiter::PerMethod(limiter) => Some(RateRule::PerMethod(limiter.budgets)),
        }
    }

    pub(crate) fn admit(&mut self, now: Instant, method: &Method) -> Admission {
        match self {
            Limiter::Unlimited => Admission::Admitted,
            Limiter::Lockout(limiter) => limiter.admit(now),
            Limiter::PerMethod(limiter) => limiter.admit(now, method),
        }
    }
}

/// Atlan's sliding one-minute window, and the lockout once it is full.
#[derive(Debug)]
pub(crate) struct LockoutLimiter {
    rule: RateLimit,
    admitted: VecDeque<Instant>,
    locked_until: Option<Instant>,
    announced_at: Option<Instant>,
}

impl LockoutLimiter {
    fn new(rule: RateLimit) -> LockoutLimiter {
        LockoutLimiter { rule, admitted: VecDeque::new(), locked_until: None, announced_at: None }
    }

    fn admit(&mut self, now: Instant) -> Admission {
        let rule = self.rule;
        if let Some(until) = self.locked_until.filter(|until| now < *until) {
            let announced = self.announced_at.unwrap_or(now);
            let violation = now.saturating_duration_since(announced) >= IN_FLIGHT_GRACE;
            return Admission::Refused { retry_after_secs: ceil_secs(until - now), violation };
        }
        slide(&mut self.admitted, now, Duration::from_secs(60));
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

/// Forgets the requests that have left a window of length `window` ending at `now`.
fn slide(admitted: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    let window_start = now.checked_sub(window);
    while admitted.front().is_some_and(|t| window_start.is_some_and(|start| *t <= start)) {
        admitted.pop_front();
    }
}

/// UiPath's sliding windows, one per method. A full window answers 429 with the seconds until
/// its oldest request leaves it; until then (the announced Retry-After) every request of that
/// method is refused, and those that come after the in-flight grace are violations.
#[derive(Debug)]
pub(crate) struct MethodLimiter {
    budgets: MethodBudgets,
    windows: [MethodWindow; 5],
}

#[derive(Debug, Default)]
struct MethodWindow {
    admitted: VecDeque<Instant>,
    /// When the last 429 was sent, and when the Retry-After it announced ends.
    announced: Option<(Instant, Instant)>,
}

impl MethodLimiter {
    fn new(budgets: MethodBudgets) -> MethodLimiter {
        MethodLimiter { budgets, windows: Default::default() }
    }

    fn admit(&mut self, now: Instant, method: &Method) -> Admission {
        let Some((slot, budget)) = self.budgets.class(method) else { return Admission::Admitted };
        let window = &mut self.windows[slot];
        if let Some((at, until)) = window.announced.filter(|(_, until)| now < *until) {
            let violation = now.saturating_duration_since(at) >= IN_FLIGHT_GRACE;
            return Admission::Refused { retry_after_secs: ceil_secs(until - now), violation };
        }
        slide(&mut window.admitted, now, self.budgets.window);
        if window.admitted.len() >= budget as usize {
            let frees_at =
                window.admitted.front().map_or(now + self.budgets.window, |t| *t + self.budgets.window);
            let retry_after_secs = ceil_secs(frees_at.saturating_duration_since(now)).max(1);
            window.announced = Some((now, now + Duration::from_secs(retry_after_secs)));
            return Admission::Refused { retry_after_secs, violation: false };
        }
        window.admitted.push_back(now);
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
        rate_limit: Option<RateRule>,
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
        *limiter = Limiter::new(limiter.rule());
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

/// What a platform puts in front of its routes: its credentials, and its own bodies for the
/// refusals the guard makes.
pub(crate) trait Gate: Send + Sync + 'static {
    /// The guard's state.
    fn guard(&self) -> &Guard;

    /// The route's name in the statistics: by default the route template as declared.
    fn route_label(&self, _method: &Method, matched: Option<&str>) -> String {
        matched.unwrap_or("(no such route)").to_string()
    }

    /// Whether requests to `route` count against the rate limit.
    fn rate_limited(&self, _route: &str) -> bool {
        true
    }

    /// Checks the request's credentials for `route`: the refusal to send instead of serving
    /// it, if they don't do.
    fn refuse(&self, route: &str, request: &Request) -> Option<Response>;

    /// The body of a 429 (the guard adds `Retry-After`).
    fn too_many_requests(&self, retry_after_secs: u64) -> Response;

    /// An injected 5xx.
    fn injected_error(&self, code: u16) -> Response;
}

/// The axum middleware applying the guard to every API route.
pub(crate) async fn guard<G: Gate>(State(gate): State<Arc<G>>, request: Request, next: Next) -> Response {
    let guard = gate.guard();
    let method = request.method().clone();
    let route = gate.route_label(&method, request.extensions().get::<MatchedPath>().map(MatchedPath::as_str));
    guard.count_arrival(&method, &route);
    let delay = guard.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    if gate.rate_limited(&route) {
        let admission = guard.limiter.lock().unwrap().admit(Instant::now(), &method);
        if let Admission::Refused { retry_after_secs, violation } = admission {
            guard.count(|stats| {
                stats.rate_limited += 1;
                stats.rate_limit_violations += u64::from(violation);
                count_status(stats, "429");
            });
            let mut response = gate.too_many_requests(retry_after_secs);
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return response;
        }
    }

    if let Some(refusal) = gate.refuse(&route, &request) {
        guard.count(|stats| count_status(stats, refusal.status().as_str()));
        return refusal;
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
            gate.injected_error(code)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, lockout_secs: u64) -> LockoutLimiter {
        LockoutLimiter::new(RateLimit { per_minute, lockout: Duration::from_secs(lockout_secs) })
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
        assert!((0..10_000).all(|_| limiter.admit(now, &Method::PUT) == Admission::Admitted));
    }

    fn method_limiter(get: u32, put: u32, window_secs: u64) -> MethodLimiter {
        MethodLimiter::new(MethodBudgets {
            get,
            post: 1000,
            put,
            patch: put,
            delete: put,
            window: Duration::from_secs(window_secs),
        })
    }

    #[test]
    fn each_method_has_its_own_sliding_window() {
        let mut limiter = method_limiter(2, 1, 300);
        let t0 = Instant::now();
        assert_eq!(limiter.admit(t0, &Method::GET), Admission::Admitted);
        assert_eq!(limiter.admit(t0 + Duration::from_secs(100), &Method::GET), Admission::Admitted);
        assert_eq!(limiter.admit(t0 + Duration::from_secs(101), &Method::PUT), Admission::Admitted);
        // The GET window is full: the oldest GET leaves it at t0 + 300.
        let at = t0 + Duration::from_secs(120);
        assert_eq!(
            limiter.admit(at, &Method::GET),
            Admission::Refused { retry_after_secs: 180, violation: false }
        );
        // Other methods are not held back by GET's budget, but PUT has its own, now spent.
        assert_eq!(limiter.admit(at, &Method::DELETE), Admission::Admitted);
        assert_eq!(
            limiter.admit(at, &Method::PUT),
            Admission::Refused { retry_after_secs: 281, violation: false }
        );
        assert_eq!(limiter.admit(at, &Method::OPTIONS), Admission::Admitted, "no budget, no limit");
    }

    #[test]
    fn a_request_inside_an_announced_retry_after_is_refused_and_past_the_grace_a_violation() {
        let mut limiter = method_limiter(1, 1, 10);
        let t0 = Instant::now();
        assert_eq!(limiter.admit(t0, &Method::GET), Admission::Admitted);
        let at = t0 + Duration::from_millis(2500);
        assert_eq!(
            limiter.admit(at, &Method::GET),
            Admission::Refused { retry_after_secs: 8, violation: false }
        );
        let in_flight = at + Duration::from_millis(100);
        assert_eq!(
            limiter.admit(in_flight, &Method::GET),
            Admission::Refused { retry_after_secs: 8, violation: false }
        );
        let early = at + Duration::from_secs(5);
        assert_eq!(
            limiter.admit(early, &Method::GET),
            Admission::Refused { retry_after_secs: 3, violation: true }
        );
        // Once the announced time is over, the oldest request has left the window.
        assert_eq!(limiter.admit(at + Duration::from_secs(8), &Method::GET), Admission::Admitted);
        assert!(matches!(
            limiter.admit(at + Duration::from_secs(9), &Method::GET),
            Admission::Refused { .. }
        ));
    }

    #[test]
    fn a_zero_budget_refuses_for_a_whole_window() {
        let mut limiter = method_limiter(0, 0, 300);
        assert_eq!(
            limiter.admit(Instant::now(), &Method::GET),
            Admission::Refused { retry_after_secs: 300, violation: false }
        );
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
