//! The emulated tenant in memory and, with `--state`, on disk: the part of keeping a tenant
//! that is the same for every platform. Each platform's tenant says how it is built from
//! its seed file and turned back into one ([`Model`]); the store applies changes under one
//! lock and saves them before they are acknowledged.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A platform's tenant, built from and saved as its seed file's shape.
pub(crate) trait Model: Send + 'static {
    /// The seed file's shape (also the `--state` file's and `GET /_sandbox/state`'s).
    type Seed: Clone + Serialize + Send + Sync + 'static;

    /// Builds the tenant from a checked seed.
    fn from_seed(seed: Self::Seed) -> Self;

    /// The whole tenant in the seed's shape, complete enough to restart from.
    fn to_seed(&self) -> Self::Seed;
}

/// Why a seed or state file can't be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error, shown in the message (not named `source`: the error
        /// chain would print it twice).
        error: std::io::Error,
    },
    /// The file is not JSON of the seed's shape.
    #[error(
        "{path} is not a valid tenant file: {error} (see \"Seeding the sandbox\" in README.md for the shape)"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde said, with line and column, shown in the message (not named `source`: the error
        /// chain would print it twice).
        error: serde_json::Error,
    },
    /// The JSON has the right shape but contradicts itself.
    #[error("{path}: {problem}")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        problem: String,
    },
    /// The state could not be written.
    #[error("cannot write the sandbox state to {path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error, shown in the message (not named `source`: the error
        /// chain would print it twice).
        error: std::io::Error,
    },
    /// A `--generate` spec that does not parse.
    #[error("invalid --generate spec: {0}")]
    GenerateSpec(String),
}

/// Reads a seed or state file of any platform, then checks it with `check`.
pub(crate) fn load<T: DeserializeOwned>(
    path: &Path,
    check: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, SeedError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| SeedError::Read { path: path.to_owned(), error })?;
    let seed: T =
        serde_json::from_str(&text).map_err(|error| SeedError::Parse { path: path.to_owned(), error })?;
    check(&seed).map_err(|problem| SeedError::Inconsistent { path: path.to_owned(), problem })?;
    Ok(seed)
}

/// Writes `value` as pretty JSON to `path` atomically: a temporary file beside it, synced,
/// then renamed over it, so a sandbox killed mid-write leaves the previous state intact.
pub(crate) fn save_atomically<T: Serialize>(value: &T, path: &Path) -> Result<(), SeedError> {
    let write_error = |error| SeedError::Write { path: path.to_owned(), error };
    let json = serde_json::to_vec_pretty(value).expect("a seed always serializes");
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp).map_err(write_error)?;
        file.write_all(&json).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
    }
    std::fs::rename(&tmp, path).map_err(write_error)
}

/// A tenant, the seed it started from, and where its state is kept.
#[derive(Debug)]
pub(crate) struct Store<M: Model> {
    tenant: Mutex<M>,
    initial: M::Seed,
    state_file: Option<PathBuf>,
}

impl<M: Model> Store<M> {
    /// Builds the tenant and, with a state file, writes it at once, so that the file exists
    /// (and is valid) from the first moment.
    pub(crate) fn new(seed: M::Seed, state_file: Option<PathBuf>) -> Result<Store<M>, SeedError> {
        let store = Store { tenant: Mutex::new(M::from_seed(seed.clone())), initial: seed, state_file };
        store.write(|_| Ok::<_, SeedError>(()))?;
        Ok(store)
    }

    /// Reads the tenant under the lock.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&M) -> T) -> T {
        read(&self.tenant.lock().unwrap())
    }

    /// Applies a change and, with `--state`, saves it before the change is acknowledged.
    pub(crate) fn write<T, E: From<SeedError>>(
        &self,
        change: impl FnOnce(&mut M) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tenant = self.tenant.lock().unwrap();
        let outcome = change(&mut tenant)?;
        if let Some(path) = &self.state_file {
            save_atomically(&tenant.to_seed(), path)?;
        }
        Ok(outcome)
    }

    /// The tenant now, in the seed's shape.
    pub(crate) fn snapshot(&self) -> M::Seed {
        self.read(M::to_seed)
    }

    /// Puts the tenant back to the seed it started from (and saves that).
    pub(crate) fn reset(&self) -> Result<(), SeedError> {
        self.write(|tenant| {
            *tenant = M::from_seed(self.initial.clone());
            Ok(())
        })
    }
}
