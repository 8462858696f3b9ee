//! The platforms roster talks to, behind one interface: read what a file needs with as few
//! calls as possible, fold a plan's effects into the API's list-shaped calls, and carry them
//! out, mapping each call's outcome back to its effects.
//!
//! Providers own all HTTP policy (auth, pacing, retries, paging); nothing above them sees
//! reqwest. They share no code with the sandbox.

pub mod atlan;
mod calls;
pub mod http;
pub mod uipath;

use std::fmt;
use std::future::Future;

use crate::export::{ExportKind, TenantView};
use crate::plan::{Directory, Effect, Needs};

/// A token that never shows itself: not in `Debug`, logs, errors or results.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    #[must_use]
    pub fn new(token: String) -> Secret {
        Secret(token)
    }

    /// The token, for the one place that sends it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a run can't go on at all (as opposed to one row failing).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The tenant refused the token.
    #[error("{platform} refused the API token (HTTP {status}): {hint}")]
    Unauthorized {
        /// Which platform.
        platform: &'static str,
        /// 401 or 403.
        status: u16,
        /// What to check.
        hint: String,
    },
    /// The tenant could not be reached.
    #[error("cannot reach {url}: {message}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// A read the run depends on failed.
    #[error("reading {what} from {platform} failed: {message}")]
    ReadFailed {
        /// Which platform.
        platform: &'static str,
        /// What was being read.
        what: String,
        /// What happened, with the HTTP status.
        message: String,
    },
    /// The client could not be set up (bad URL, bad token characters).
    #[error("{0}")]
    Setup(String),
}

impl ProviderError {
    /// A read of `what` from `platform` at `url` that got no answer: unreachable when the
    /// connection was refused, else a failed read.
    #[must_use]
    pub fn no_answer(
        platform: &'static str,
        url: &str,
        what: &str,
        failure: &http::NetworkFailure,
    ) -> ProviderError {
        if failure.connect {
            ProviderError::Unreachable { url: url.to_string(), message: failure.message.clone() }
        } else {
            ProviderError::ReadFailed {
                platform,
                what: what.into(),
                message: format!("{} (after {} attempts)", failure.message, failure.attempts),
            }
        }
    }
}

/// What became of one effect of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectResult {
    /// Done; what was done.
    Done(String),
    /// Failed; the error and what to do.
    Failed(String),
    /// Never sent (the run was interrupted first); why.
    NotSent(String),
}

/// The outcome of one call, for every effect it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// Each effect's result.
    pub effects: Vec<(usize, EffectResult)>,
    /// The HTTP status of the last response, if any came.
    pub http_status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
    /// The request id of the last attempt.
    pub request_id: Option<String>,
}

/// A platform's API, as roster uses it.
pub trait Provider: Send + Sync {
    /// One API call carrying one or more effects.
    type Call: Send + Sync + fmt::Debug;

    /// The platform's name, for messages.
    fn name(&self) -> &'static str;

    /// Reads what the file needs, with as few calls as the API allows.
    fn snapshot(&self, needs: &Needs) -> impl Future<Output = Result<Directory, ProviderError>> + Send;

    /// Reads what an export of `kind` shows, calling `report(done, total)` as it goes.
    fn read_view(
        &self,
        kind: ExportKind,
        report: &(dyn Fn(usize, usize) + Sync),
    ) -> impl Future<Output = Result<TenantView, ProviderError>> + Send;

    /// Folds effects into calls.
    fn batch(&self, effects: &[Effect]) -> Vec<Self::Call>;

    /// The effects a call carries.
    fn effects_of(call: &Self::Call) -> Vec<usize>;

    /// What a call will do, in words (for dry runs), e.g. `POST /api/service/groups`.
    fn describe(call: &Self::Call) -> String;

    /// Carries out a call.
    fn execute(&self, call: &Self::Call) -> impl Future<Output = CallOutcome> + Send;

    /// The request budgets, for pacing figures and counters.
    fn budgets(&self) -> &http::Budgets;
}
