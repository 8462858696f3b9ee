//! The sandbox: a local emulator of a platform's API, so that migrations can be rehearsed
//! and every test of the client can talk real HTTP without a real tenant.
//!
//! It shares no code with the client in `providers` (only plain data types): a
//! misunderstanding of the API must not be able to hide on both sides at once. Its ground
//! truth is the official SDK (pyatlan), which runs unchanged against it in CI.
//!
//! Besides the platform's own paths it serves `/_sandbox/stats`, `/_sandbox/state` and
//! `/_sandbox/reset`, a prefix no platform uses.

pub mod atlan;
mod guard;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::HeaderValue;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

pub use atlan::seed::{GenerateSpec, Seed, SeedError, SeedGroup, SeedRole, SeedUser};
pub use guard::{FaultOptions, RateLimit, Stats};

use atlan::tenant::Tenant;
use guard::{ConnectionKill, Guard};

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

/// State shared by every request of one sandbox.
#[derive(Debug)]
pub(crate) struct Shared {
    api_key: String,
    tenant: Mutex<Tenant>,
    initial: Seed,
    state_file: Option<PathBuf>,
    guard: Guard,
}

impl Shared {
    fn authorized(&self, header: Option<&HeaderValue>) -> bool {
        // The scheme is case-insensitive (RFC 7235); the token is not.
        let credentials = header.and_then(|h| h.to_str().ok()).and_then(|h| h.split_once(' '));
        credentials
            .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token == self.api_key)
    }

    fn read<T>(&self, read: impl FnOnce(&Tenant) -> T) -> T {
        read(&self.tenant.lock().unwrap())
    }

    /// Applies a change and, with `--state`, saves it before the change is acknowledged.
    fn write<T, E: From<SeedError>>(&self, change: impl FnOnce(&mut Tenant) -> Result<T, E>) -> Result<T, E> {
        let mut tenant = self.tenant.lock().unwrap();
        let outcome = change(&mut tenant)?;
        if let Some(path) = &self.state_file {
            tenant.to_seed().save_atomically(path)?;
        }
        Ok(outcome)
    }

    fn reset(&self) -> Result<(), SeedError> {
        self.write(|tenant| {
            *tenant = Tenant::from_seed(self.initial.clone());
            Ok(())
        })?;
        self.guard.reset();
        Ok(())
    }
}

/// A random id like the ones Atlan puts in `requestId`.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A running sandbox. Dropping it stops the server; `stop` waits until it has.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
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
        let listener = TcpListener::bind(addr).await.map_err(|error| SandboxError::Bind { addr, error })?;
        let addr = listener.local_addr().map_err(|error| SandboxError::Bind { addr, error })?;
        let shared = Arc::new(Shared {
            api_key: options.api_key,
            tenant: Mutex::new(Tenant::from_seed(seed.clone())),
            initial: seed,
            state_file: options.state_file,
            guard: Guard::new(options.latency, options.jitter, options.rate_limit, options.faults),
        });
        // Write the state file at once, so it exists (and is valid) from the first moment.
        shared.write(|_| Ok::<_, SeedError>(()))?;
        let app = atlan::router(Arc::clone(&shared)).merge(control_router(Arc::clone(&shared)));
        let (shutdown, stopped) = watch::channel(false);
        let server = tokio::spawn(accept_loop(listener, app, stopped));
        Ok(Sandbox { addr, shared, shutdown, server: Some(server) })
    }

    /// The base URL to give clients, e.g. `http://127.0.0.1:8080`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the sandbox listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token the sandbox accepts.
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// What the sandbox has counted so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.guard.stats.lock().unwrap().clone()
    }

    /// The tenant as it is now, in the seed's shape.
    #[must_use]
    pub fn state(&self) -> Seed {
        self.shared.read(Tenant::to_seed)
    }

    /// Puts the tenant back to its initial seed and the sandbox to its first moment: statistics,
    /// rate-limit window and lockout, and the fault plan's memory of requests are cleared.
    pub fn reset(&self) -> Result<(), SeedError> {
        self.shared.reset()
    }

    /// Stops accepting and drops every connection.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn control_router(shared: Arc<Shared>) -> Router {
    use axum::routing::{get, post};
    use axum::{Json, http::StatusCode, response::IntoResponse};
    Router::new()
        .route(
            "/_sandbox/stats",
            get(|axum::extract::State(s): axum::extract::State<Arc<Shared>>| async move {
                Json(s.guard.stats.lock().unwrap().clone())
            }),
        )
        .route(
            "/_sandbox/state",
            get(|axum::extract::State(s): axum::extract::State<Arc<Shared>>| async move {
                Json(s.read(Tenant::to_seed))
            }),
        )
        .route(
            "/_sandbox/reset",
            post(|axum::extract::State(s): axum::extract::State<Arc<Shared>>| async move {
                match s.reset() {
                    Ok(()) => StatusCode::OK.into_response(),
                    Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
                }
            }),
        )
        .with_state(shared)
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
