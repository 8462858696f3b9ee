//! HTTP policy shared by every provider: one request budget for the whole run (paced so it
//! never trips the tenant's limit, and paused for everyone when the tenant says 429), and
//! one retry loop with capped, jittered exponential backoff and bounded attempts and wait.
//!
//! Nothing above the providers sees reqwest: callers get a [`Reply`] or a [`NetworkFailure`].

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How hard to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first backoff's ceiling; each later one doubles it.
    pub base_delay: Duration,
    /// No single backoff is longer.
    pub max_delay: Duration,
    /// A call gives up once it has waited this long in total.
    pub max_total_wait: Duration,
    /// The pause after a 429 that carries no usable Retry-After.
    pub default_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(600),
            default_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the wait before attempt `attempt + 1` (full jitter picks below it).
    #[must_use]
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// What to do after a response or a transport error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Done: success, or a failure retrying can't fix.
    No,
    /// A passing server or network fault: back off and try again.
    Backoff,
    /// The tenant's budget is spent: everyone pauses.
    RateLimited,
}

/// Classifies a status: 429 pauses everyone; 500, 502, 503 and 504 are passing faults.
#[must_use]
pub fn classify(status: StatusCode) -> Retry {
    match status.as_u16() {
        429 => Retry::RateLimited,
        500 | 502 | 503 | 504 => Retry::Backoff,
        _ => Retry::No,
    }
}

/// Reads `Retry-After` as whole seconds. (The HTTP-date form is not used by the platforms'
/// gateways; a value that doesn't parse falls back to the provider's documented block.)
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Counters for the end-of-run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetStats {
    /// Requests sent.
    pub requests: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Retries after server or network faults.
    pub retries: u64,
}

/// The run's request budget: a governor limiter with no burst, so requests are evenly
/// spaced and a sliding one-minute window on the server never sees more than the rate, and
/// one pause shared by every worker after a 429.
#[derive(Debug)]
pub struct Budget {
    limiter: Mutex<Arc<DefaultDirectRateLimiter>>,
    /// Requests allowed per `window` (lowered after a 429).
    count: Mutex<u32>,
    window: Duration,
    paused_until: Mutex<Option<Instant>>,
    stats: Mutex<BudgetStats>,
}

/// Pacing runs a little under the budget: request timing on the wire is never perfectly
/// even, and the server counts arrivals, not departures.
const PACING_MARGIN_PERCENT: u32 = 3;

impl Budget {
    /// A budget of `per_minute` requests a minute.
    #[must_use]
    pub fn per_minute(per_minute: NonZeroU32) -> Budget {
        Budget::per_window(per_minute, Duration::from_secs(60))
    }

    /// A budget of `count` requests per `window` (UiPath counts per five minutes).
    #[must_use]
    pub fn per_window(count: NonZeroU32, window: Duration) -> Budget {
        Budget {
            limiter: Mutex::new(Arc::new(limiter(count.get(), window))),
            count: Mutex::new(count.get()),
            window,
            paused_until: Mutex::new(None),
            stats: Mutex::new(BudgetStats::default()),
        }
    }

    /// The pace requests go at now, in requests a minute (lower than asked after a 429).
    #[must_use]
    pub fn current_rate(&self) -> u32 {
        let per_minute = u128::from(*self.count.lock().unwrap()) * 60_000 / self.window.as_millis().max(1);
        u32::try_from(per_minute).unwrap_or(u32::MAX).max(1)
    }

    /// The counters so far.
    #[must_use]
    pub fn stats(&self) -> BudgetStats {
        self.stats.lock().unwrap().clone()
    }

    /// Waits for a pause to end and for this request's slot.
    pub async fn acquire(&self) {
        loop {
            let pause = *self.paused_until.lock().unwrap();
            if let Some(until) = pause.filter(|u| *u > Instant::now()) {
                tokio::time::sleep_until(until.into()).await;
            }
            let limiter = Arc::clone(&self.limiter.lock().unwrap());
            limiter.until_ready().await;
            // A 429 may have arrived while we waited for our slot.
            let pause = *self.paused_until.lock().unwrap();
            if pause.is_none_or(|u| u <= Instant::now()) {
                self.stats.lock().unwrap().requests += 1;
                return;
            }
        }
    }

    /// The tenant said 429: every worker waits `wait`, and pacing slows by a quarter, since
    /// something else is spending the same budget.
    pub fn rate_limited(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut pause = self.paused_until.lock().unwrap();
        if pause.is_none_or(|p| p < until) {
            *pause = Some(until);
        }
        self.stats.lock().unwrap().rate_limited += 1;
        let mut count = self.count.lock().unwrap();
        *count = (*count * 3 / 4).max(1);
        *self.limiter.lock().unwrap() = Arc::new(limiter(*count, self.window));
    }

    fn retried(&self) {
        self.stats.lock().unwrap().retries += 1;
    }
}

fn limiter(count: u32, window: Duration) -> DefaultDirectRateLimiter {
    RateLimiter::direct(quota(count, window))
}

/// Evenly spaced requests a little under `count` per `window`, never two at once.
fn quota(count: u32, window: Duration) -> Quota {
    let paced = (count - count * PACING_MARGIN_PERCENT / 100).max(1);
    let period = window / paced;
    Quota::with_period(period).expect("a non-zero period").allow_burst(NonZeroU32::MIN)
}

/// The budgets of one tenant: one for every request (Atlan), or one per HTTP method
/// (UiPath counts GET, PUT, DELETE and POST separately).
#[derive(Debug)]
pub struct Budgets {
    all: Option<Arc<Budget>>,
    by_method: Vec<(Method, Arc<Budget>)>,
}

impl Budgets {
    /// One budget for every request.
    #[must_use]
    pub fn shared(budget: Budget) -> Budgets {
        Budgets { all: Some(Arc::new(budget)), by_method: Vec::new() }
    }

    /// A budget per method; methods not listed are not limited.
    #[must_use]
    pub fn per_method(budgets: Vec<(Method, Budget)>) -> Budgets {
        Budgets { all: None, by_method: budgets.into_iter().map(|(m, b)| (m, Arc::new(b))).collect() }
    }

    fn of(&self, method: &Method) -> Option<&Budget> {
        self.all
            .as_deref()
            .or_else(|| self.by_method.iter().find(|(m, _)| m == method).map(|(_, b)| b.as_ref()))
    }

    fn each(&self) -> impl Iterator<Item = &Budget> {
        self.all.iter().chain(self.by_method.iter().map(|(_, b)| b)).map(Arc::as_ref)
    }

    /// The counters of all budgets together.
    #[must_use]
    pub fn stats(&self) -> BudgetStats {
        self.each().map(Budget::stats).fold(BudgetStats::default(), |mut sum, one| {
            sum.requests += one.requests;
            sum.rate_limited += one.rate_limited;
            sum.retries += one.retries;
            sum
        })
    }

    /// The slowest pace, in requests a minute: what decides how long a run takes.
    #[must_use]
    pub fn current_rate(&self) -> u32 {
        self.each().map(Budget::current_rate).min().unwrap_or(u32::MAX)
    }
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// No body.
    Empty,
    /// JSON.
    Json(&'a Value),
    /// An HTML form (OAuth token requests).
    Form(&'a [(&'a str, &'a str)]),
}

/// A response the caller has to look at.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body, parsed as JSON when it is JSON (else `Null`, with the text in `text`).
    pub json: Value,
    /// The raw body.
    pub text: String,
    /// Attempts it took.
    pub attempts: u32,
    /// The request id sent with the last attempt.
    pub request_id: String,
}

impl Reply {
    /// Whether the status is 2xx.
    #[must_use]
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A call that got no usable answer.
#[derive(Debug, Clone)]
pub struct NetworkFailure {
    /// What went wrong, for people.
    pub message: String,
    /// Attempts made.
    pub attempts: u32,
    /// The request id sent with the last attempt.
    pub request_id: String,
    /// Whether it failed before reaching the server (e.g. connection refused).
    pub connect: bool,
}

impl NetworkFailure {
    /// Whether the request never left: the run was interrupted before its first attempt.
    #[must_use]
    pub fn never_sent(&self) -> bool {
        self.attempts == 0
    }
}

/// The HTTP client of one provider.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    base_url: String,
    request_id_header: &'static str,
    budgets: Arc<Budgets>,
    policy: RetryPolicy,
    cancel: CancellationToken,
    /// Whether any response came back yet: until one has, a refused connection means a
    /// wrong URL or a tenant that is down, and retrying only delays saying so.
    reached: Arc<AtomicBool>,
}

impl Http {
    /// A client for `base_url`, spending `budgets`.
    pub fn new(
        base_url: &str,
        request_id_header: &'static str,
        budgets: Budgets,
        policy: RetryPolicy,
        cancel: CancellationToken,
    ) -> Result<Http, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Http {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            request_id_header,
            budgets: Arc::new(budgets),
            policy,
            cancel,
            reached: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The budgets this client spends.
    #[must_use]
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// Sends a request, retrying 429 (after the shared pause), 5xx and network errors, and
    /// returns the last response, whatever its status. Once the run is cancelled, a request
    /// not yet sent is not sent, and one being retried stops with its last outcome.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
        authorization: Option<&HeaderValue>,
    ) -> Result<Reply, NetworkFailure> {
        let url = format!("{}{path}", self.base_url);
        let budget = self.budgets.of(&method);
        let started = Instant::now();
        let mut attempt = 0;
        let mut last = Err(NetworkFailure {
            message: "interrupted before it was sent".into(),
            attempts: 0,
            request_id: String::new(),
            connect: false,
        });
        loop {
            tokio::select! {
                () = acquire(budget) => {}
                () = self.cancel.cancelled() => return last,
            }
            attempt += 1;
            let request_id = uuid::Uuid::new_v4().to_string();
            let mut request = self
                .client
                .request(method.clone(), &url)
                .header(self.request_id_header, &request_id)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(authorization) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, authorization.clone());
            }
            if !query.is_empty() {
                request = request.query(query);
            }
            request = match body {
                Body::Empty => request,
                Body::Json(json) => request.json(json),
                Body::Form(form) => request.form(form),
            };
            let (retry, wait) = match request.send().await {
                Ok(response) => {
                    self.reached.store(true, Ordering::Relaxed);
                    let status = response.status();
                    let pause = retry_after(response.headers());
                    let text = response.text().await.unwrap_or_default();
                    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
                    last = Ok(Reply { status: status.as_u16(), json, text, attempts: attempt, request_id });
                    let retry = classify(status);
                    let wait = match retry {
                        Retry::RateLimited => pause.unwrap_or(self.policy.default_retry_after),
                        _ => self.jittered_backoff(attempt),
                    };
                    (retry, wait)
                }
                Err(error) => {
                    let connect = error.is_connect();
                    last = Err(NetworkFailure {
                        message: describe(&error),
                        attempts: attempt,
                        request_id,
                        connect,
                    });
                    let unreached = connect && !self.reached.load(Ordering::Relaxed);
                    (if unreached { Retry::No } else { Retry::Backoff }, self.jittered_backoff(attempt))
                }
            };
            let out_of_time = started.elapsed() + wait > self.policy.max_total_wait;
            if retry == Retry::No || attempt >= self.policy.max_attempts || out_of_time {
                return last;
            }
            if retry == Retry::RateLimited {
                // The pause holds every request of this budget; without one, only this call waits.
                match budget {
                    Some(budget) => budget.rate_limited(wait),
                    None => tokio::time::sleep(wait).await,
                }
            } else {
                if let Some(budget) = budget {
                    budget.retried();
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.cancel.cancelled() => return last,
                }
            }
        }
    }

    fn jittered_backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.policy.backoff_ceiling(attempt);
        rand::rng().random_range(Duration::ZERO..=ceiling)
    }
}

/// Waits for a slot in `budget`, if the method has one.
async fn acquire(budget: Option<&Budget>) {
    if let Some(budget) = budget {
        budget.acquire().await;
    }
}

/// A transport error in words, without the URL's query (which may hold filters, never the
/// token: that travels in a header).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "connection failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut innermost = None;
    while let Some(cause) = source {
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    match innermost {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS), Retry::RateLimited);
        for code in [500, 502, 503, 504] {
            assert_eq!(classify(StatusCode::from_u16(code).unwrap()), Retry::Backoff);
        }
        for code in [200, 400, 401, 403, 404, 409] {
            assert_eq!(classify(StatusCode::from_u16(code).unwrap()), Retry::No);
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<Duration> = (1..=8).map(|a| policy.backoff_ceiling(a)).collect();
        let expected = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000].map(Duration::from_millis);
        assert_eq!(ceilings, expected);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("12"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        headers
            .insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn a_429_pauses_everyone_and_slows_the_pace() {
        let budget = Budget::per_minute(NonZeroU32::new(400).unwrap());
        budget.rate_limited(Duration::from_secs(60));
        assert_eq!(budget.current_rate(), 300);
        assert!(budget.paused_until.lock().unwrap().is_some_and(|u| u > Instant::now()));
        assert_eq!(budget.stats().rate_limited, 1);
    }

    #[test]
    fn pacing_spaces_requests_evenly_under_the_rate() {
        use governor::clock::FakeRelativeClock;
        // 400/min less the margin: 388 in any minute, one every ~154.6 ms, never two at once.
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(400, Duration::from_secs(60)), clock.clone());
        let mut admitted = Vec::new();
        for millisecond in 0..120_000u64 {
            if limiter.check().is_ok() {
                admitted.push(millisecond);
            }
            clock.advance(Duration::from_millis(1));
        }
        let most_in_a_minute = admitted
            .iter()
            .map(|start| admitted.iter().filter(|t| **t >= *start && **t < start + 60_000).count())
            .max()
            .unwrap();
        assert_eq!(most_in_a_minute, 388);
        assert!(admitted.windows(2).all(|pair| pair[1] - pair[0] >= 154), "evenly spaced");
    }
}
