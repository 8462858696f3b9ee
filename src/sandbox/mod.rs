//! The sandbox: a local emulator of a platform's API, so that migrations can be rehearsed
//! and every test of the client can talk real HTTP without a real tenant.
//!
//! It shares no code with the client in `providers` (only plain data types): a
//! misunderstanding of the API must not be able to hide on both sides at once. Its ground
//! truth is each platform's official client: the Atlan SDK (pyatlan) runs unchanged against
//! the Atlan sandbox in CI, and UiPath's own OpenAPI definition drives a conformance run
//! against the UiPath sandbox.
//!
//! The platforms share everything but their routes and tenants: the server loop (with
//! connection resets for injected faults), the guard (latency, rate limit, faults,
//! statistics; see `guard`), the store that keeps a tenant and its `--state` file, and the
//! control routes `/_sandbox/stats`, `/_sandbox/state` and `/_sandbox/reset`, a prefix no
//! platform uses.

pub mod atlan;
mod guard;
mod store;
pub mod uipath;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

pub use atlan::seed::{GenerateSpec, Seed, SeedGroup, SeedRole, SeedUser};
pub use guard::{FaultOptions, MethodBudgets, RateLimit, Stats};
pub use store::SeedError;
pub use uipath::{UiPathOptions, UiPathSandbox};

use guard::{ConnectionKill, Guard, RateRule};

/// How a sandbox behaves, beyond the tenant it starts with.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The bearer token clients must send.
    pub api_key: String,
    /// Added to every response.
    pub latency: Duration,
    /// A random extra of up to this much on top of `latency`.
    pub jitter: Duration,
    /// The tenant's request budget; `None` for unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Injected failures; `None` for none.
    pub faults: Option<FaultOptions>,
    /// Where every acknowledged change is kept, written atomically.
    pub state_file: Option<PathBuf>,
}

impl SandboxOptions {
    /// A fast, reliable, unlimited sandbox that accepts `api_key`.
    #[must_use]
    pub fn new(api_key: impl Into<String>) -> SandboxOptions {
        SandboxOptions {
            api_key: api_key.into(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_limit: None,
            faults: None,
            state_file: None,
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {error} (is another sandbox running? pick another --listen)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error, shown in the message (not named `source`: the error
        /// chain would print it twice).
        error: std::io::Error,
    },
    /// The tenant file is unusable, or the state can't be written.
    #[error(transparent)]
    Seed(#[from] SeedError),
}

/// A random id like the ones Atlan puts in `requestId`.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A running Atlan sandbox. Dropping it stops the server; `stop` waits until it has.
#[derive(Debug)]
pub struct Sandbox {
    server: Server,
    shared: Arc<atlan::Shared>,
}

impl Sandbox {
    /// Starts an Atlan sandbox on a free loopback port, for tests.
    pub async fn start(seed: Seed, options: SandboxOptions) -> Result<Sandbox, SandboxError> {
        Sandbox::bind(SocketAddr::from(([127, 0, 0, 1], 0)), seed, options).await
    }

    /// Starts an Atlan sandbox on `addr`.
    pub async fn bind(
        addr: SocketAddr,
        seed: Seed,
        options: SandboxOptions,
    ) -> Result<Sandbox, SandboxError> {
        seed.check().map_err(|problem| SeedError::Inconsistent { path: "the seed".into(), problem })?;
        let (listener, addr) = listen(addr).await?;
        let guard = Guard::new(
            options.latency,
            options.jitter,
            options.rate_limit.map(RateRule::PerMinute),
            options.faults,
        );
        let shared = Arc::new(atlan::Shared::new(options.api_key, seed, options.state_file, guard)?);
        let app = atlan::router(Arc::clone(&shared)).merge(control_router(Arc::clone(&shared)));
        Ok(Sandbox { server: Server::start(listener, addr, app), shared })
    }

    /// The base URL to give clients, e.g. `http://127.0.0.1:8080`.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The address the sandbox listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The bearer token the sandbox accepts.
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// What the sandbox has counted so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The tenant as it is now, in the seed's shape.
    #[must_use]
    pub fn state(&self) -> Seed {
        self.shared.store.snapshot()
    }

    /// Puts the tenant back to its initial seed and the sandbox to its first moment: statistics,
    /// rate-limit window and lockout, and the fault plan's memory of requests are cleared.
    pub fn reset(&self) -> Result<(), SeedError> {
        self.shared.reset()
    }

    /// Stops accepting and drops every connection.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Binds the listener, naming the address in the error; returns the address bound (the
/// port picked for `:0`).
async fn listen(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), SandboxError> {
    let listener = TcpListener::bind(addr).await.map_err(|error| SandboxError::Bind { addr, error })?;
    let bound = listener.local_addr().map_err(|error| SandboxError::Bind { addr, error })?;
    Ok((listener, bound))
}

/// The HTTP server of a running sandbox, whichever the platform. Dropping it stops it.
#[derive(Debug)]
struct Server {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    fn start(listener: TcpListener, addr: SocketAddr, app: Router) -> Server {
        let (shutdown, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, app, stopped));
        Server { addr, shutdown, task: Some(task) }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and drops every connection, and waits until it has.
    async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// What the `/_sandbox` routes need of a platform's sandbox.
pub(crate) trait Control: Send + Sync + 'static {
    /// The statistics so far.
    fn stats(&self) -> Stats;
    /// The tenant in its seed's shape.
    fn state(&self) -> serde_json::Value;
    /// Back to the first moment: tenant, statistics, rate-limit windows, fault memory.
    fn reset(&self) -> Result<(), SeedError>;
}

/// `/_sandbox/stats`, `/_sandbox/state` and `/_sandbox/reset`: no token, no guard.
pub(crate) fn control_router<C: Control>(control: Arc<C>) -> Router {
    use axum::extract::State;
    use axum::routing::{get, post};
    use axum::{Json, http::StatusCode, response::IntoResponse};
    Router::new()
        .route("/_sandbox/stats", get(|State(c): State<Arc<C>>| async move { Json(c.stats()) }))
        .route("/_sandbox/state", get(|State(c): State<Arc<C>>| async move { Json(c.state()) }))
        .route(
            "/_sandbox/reset",
            post(|State(c): State<Arc<C>>| async move {
                match c.reset() {
                    Ok(()) => StatusCode::OK.into_response(),
                    Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
                }
            }),
        )
        .with_state(control)
}

async fn accept_loop(listener: TcpListener, app: Router, mut stopped: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        // Accept errors (e.g. too many open files) are transient: keep serving.
        if let Ok((stream, _)) = accepted {
            tokio::spawn(serve_connection(stream, app.clone(), stopped.clone()));
        }
    }
}

/// Serves one HTTP/1.1 connection until the client closes it, the sandbox stops, or a fault
/// asks for it to be cut.
async fn serve_connection(stream: TcpStream, app: Router, mut stopped: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    // A second handle on the socket, so that it can be reset after hyper has taken the stream.
    let socket = socket2::SockRef::from(&stream).try_clone().ok();
    let kill = Arc::new(ConnectionKill::default());
    let connection_kill = Arc::clone(&kill);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(Arc::clone(&connection_kill));
        app.clone().oneshot(request.map(Body::new))
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = kill.requested() => {
            if let Some(socket) = socket {
                let _ = socket.set_linger(Some(Duration::ZERO));
            }
        }
        _ = stopped.changed() => {}
    }
}
