//! The UiPath Identity Server's organization API (`/{organization}/identity_/api/...`): groups
//! and their members, users, and the OAuth token endpoint of confidential applications.
//!
//! Paths, JSON, status codes and error bodies follow `shared/reference/uipath-api-notes.md`
//! (§3 auth, §4 DTOs, §5 groups, §6.1-6.2 users, §9 paging, §10 errors, §11 rate limits, §12
//! invariants) and UiPath's OpenAPI definition, against which CI runs schemathesis
//! (`tests/schemathesis/run.sh`). Where the notes record no behaviour, the choice is marked
//! "not documented" where it is made, and explained.
//!
//! The organization segment of a path is the organization's name (in any case) or its
//! `partitionGlobalId`; the API answers only there. The host-level `/identity_/api/...`
//! answers 400 `InvalidPartition`, as it does for organizations created since 2026 (notes §2);
//! the token endpoint is served both host-level and organization-scoped.

mod routes;
pub mod seed;
pub(crate) mod tenant;
mod token;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::guard::{Gate, Guard, RateRule};
use super::store::Store;
use super::{Control, FaultOptions, MethodBudgets, SandboxError, SeedError, Server, Stats, listen};
use seed::Seed;
use tenant::Tenant;

/// The token lifetime UiPath documents ("until the token expires (one hour)").
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// How a UiPath sandbox behaves, beyond the organization it starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct UiPathOptions {
    /// Added to every response.
    pub latency: Duration,
    /// A random extra of up to this much on top of `latency`.
    pub jitter: Duration,
    /// The organization's request budgets per method; `None` for unlimited.
    /// [`MethodBudgets::DOCUMENTED`] is what Automation Cloud enforces.
    pub rate_limit: Option<MethodBudgets>,
    /// Injected failures; `None` for none.
    pub faults: Option<FaultOptions>,
    /// Where every acknowledged change is kept, written atomically.
    pub state_file: Option<PathBuf>,
    /// How long an access token is valid (`expires_in`, whole seconds); zero issues tokens
    /// that have already expired.
    pub token_ttl: Duration,
}

impl Default for UiPathOptions {
    /// A fast, reliable, unlimited sandbox issuing one-hour tokens.
    fn default() -> UiPathOptions {
        UiPathOptions {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_limit: None,
            faults: None,
            state_file: None,
            token_ttl: DEFAULT_TOKEN_TTL,
        }
    }
}

/// A running UiPath sandbox. Dropping it stops the server; `stop` waits until it has.
#[derive(Debug)]
pub struct UiPathSandbox {
    server: Server,
    shared: Arc<Shared>,
}

impl UiPathSandbox {
    /// Starts a UiPath sandbox on a free loopback port, for tests.
    pub async fn start(seed: Seed, options: UiPathOptions) -> Result<UiPathSandbox, SandboxError> {
        UiPathSandbox::bind(SocketAddr::from(([127, 0, 0, 1], 0)), seed, options).await
    }

    /// Starts a UiPath sandbox on `addr`.
    pub async fn bind(
        addr: SocketAddr,
        seed: Seed,
        options: UiPathOptions,
    ) -> Result<UiPathSandbox, SandboxError> {
        seed.check().map_err(|problem| SeedError::Inconsistent { path: "the seed".into(), problem })?;
        let (listener, addr) = listen(addr).await?;
        let guard = Guard::new(
            options.latency,
            options.jitter,
            options.rate_limit.map(RateRule::PerMethod),
            options.faults,
        );
        let shared = Arc::new(Shared {
            store: Store::new(seed, options.state_file)?,
            guard,
            token_ttl: options.token_ttl,
        });
        let app = routes::router(Arc::clone(&shared)).merge(super::control_router(Arc::clone(&shared)));
        Ok(UiPathSandbox { server: Server::start(listener, addr, app), shared })
    }

    /// The access URL to give clients (`UIPATH_URL`), e.g. `http://127.0.0.1:8080`: the
    /// organization's API is under `{access URL}/{organization}/identity_`.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The address the sandbox listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The organization's name (`UIPATH_ORGANIZATION`).
    #[must_use]
    pub fn organization(&self) -> String {
        self.shared.store.read(|t| t.organization.clone())
    }

    /// The organization's GUID (`UIPATH_PARTITION_GLOBAL_ID`).
    #[must_use]
    pub fn partition_global_id(&self) -> String {
        self.shared.store.read(|t| t.partition.clone())
    }

    /// `{access URL}/{organization}/identity_`, the base of every API path.
    #[must_use]
    pub fn api_base(&self) -> String {
        format!("{}/{}/identity_", self.base_url(), self.organization())
    }

    /// The host-level token endpoint, `{access URL}/identity_/connect/token`.
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/identity_/connect/token", self.base_url())
    }

    /// What the sandbox has counted so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The organization as it is now, in the seed's shape.
    #[must_use]
    pub fn state(&self) -> Seed {
        self.shared.store.snapshot()
    }

    /// Puts the organization back to its initial seed and the sandbox to its first moment:
    /// statistics, rate-limit windows and the fault plan's memory of requests are cleared.
    /// Tokens issued before stay valid until they expire, as they would on a real server.
    pub fn reset(&self) -> Result<(), SeedError> {
        self.shared.reset()
    }

    /// Stops accepting and drops every connection.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// State shared by every request of one UiPath sandbox.
#[derive(Debug)]
pub(crate) struct Shared {
    store: Store<Tenant>,
    guard: Guard,
    token_ttl: Duration,
}

impl Control for Shared {
    fn stats(&self) -> Stats {
        self.guard.stats.lock().unwrap().clone()
    }

    fn state(&self) -> Value {
        serde_json::to_value(self.store.snapshot()).expect("a seed always serializes")
    }

    fn reset(&self) -> Result<(), SeedError> {
        self.store.reset()?;
        self.guard.reset();
        Ok(())
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Route templates of the token endpoint (no bearer token, no rate limit).
fn is_token_route(route: &str) -> bool {
    route.ends_with("/identity_/connect/token")
}

/// The scope family a route needs: `PM.Group` or `PM.User`; `None` for routes that need only
/// a valid token (the host-level API, which refuses every call anyway).
fn scope_family(route: &str) -> Option<&'static str> {
    if route.contains("/identity_/api/Group") {
        Some("PM.Group")
    } else if route.contains("/identity_/api/User") {
        Some("PM.User")
    } else {
        None
    }
}

/// 401 as ASP.NET's JWT bearer handler sends it: no body, the reason in `WWW-Authenticate`.
fn unauthorized(challenge: &str) -> Response {
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

impl Gate for Shared {
    fn guard(&self) -> &Guard {
        &self.guard
    }

    /// `/api/Group/{id}` is one route here with three meanings: the spec names it
    /// `{partitionGlobalId}` for GET and DELETE and `{groupId}` for PUT.
    fn route_label(&self, method: &Method, matched: Option<&str>) -> String {
        let Some(matched) = matched else { return "(no such route)".into() };
        let id = if *method == Method::PUT { "{groupId}" } else { "{partitionGlobalId}" };
        matched.replace("{id}", id)
    }

    /// The documented budgets are the API's; the token endpoint is not counted against them
    /// (not documented: a client asks for a token once an hour).
    fn rate_limited(&self, route: &str) -> bool {
        !is_token_route(route)
    }

    fn refuse(&self, route: &str, request: &Request) -> Option<Response> {
        if is_token_route(route) || route == "(no such route)" {
            return None;
        }
        let header = request.headers().get(header::AUTHORIZATION).and_then(|h| h.to_str().ok());
        let Some(token) = header
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
        else {
            return Some(unauthorized("Bearer"));
        };
        let verified = self.store.read(|t| {
            token::verify(token, unix_now(), |id| {
                t.client(id).map(|client| token::key(&t.partition, &client.id, &client.secret))
            })
        });
        let claims = match verified {
            Ok(claims) => claims,
            Err(token::Invalid::Expired(exp)) => {
                return Some(unauthorized(&format!(
                    "Bearer error=\"invalid_token\", error_description=\"The token expired at '{}'\"",
                    wire::us_time(exp)
                )));
            }
            Err(token::Invalid::Malformed) => return Some(unauthorized("Bearer error=\"invalid_token\"")),
        };
        let family = scope_family(route)?;
        let fine = if *request.method() == Method::GET { "Read" } else { "Write" };
        let accepted = [family.to_string(), format!("{family}.{fine}")];
        if claims.scopes.iter().any(|s| accepted.contains(s)) {
            return None;
        }
        // The body UiPath sends (notes §3.3); the status was not recorded, and 403 is what
        // ASP.NET answers a valid token lacking a policy's scope.
        let message = format!(
            "Scope(s) '{}' is(are) invalid. Expect to have '{}' or '{}'. ",
            claims.scopes.join(","),
            accepted[0],
            accepted[1]
        );
        Some((StatusCode::FORBIDDEN, axum::Json(json!({"errorMessage": message}))).into_response())
    }

    /// Not documented: UiPath documents the 429 but neither its body nor `Retry-After`.
    fn too_many_requests(&self, retry_after_secs: u64) -> Response {
        let message = format!(
            "The organization's request budget for this method is spent for now. Retry after {retry_after_secs} seconds."
        );
        (StatusCode::TOO_MANY_REQUESTS, axum::Json(json!({"errorMessage": message}))).into_response()
    }

    fn injected_error(&self, code: u16) -> Response {
        let (status, section, title) = match code {
            502 => (StatusCode::BAD_GATEWAY, "15.6.3", "Bad Gateway"),
            503 => (StatusCode::SERVICE_UNAVAILABLE, "15.6.4", "Service Unavailable"),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "15.6.1",
                "An error occurred while processing your request.",
            ),
        };
        wire::problem(status, section, title, Some("injected by the roster sandbox"))
    }
}
