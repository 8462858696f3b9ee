//! Turns the command line and the environment into validated settings: defaults, env
//! variables and cross-flag rules live here and nowhere else.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::SandboxArgs;
use crate::sandbox::{FaultOptions, GenerateSpec, RateLimit, SandboxOptions, Seed, SeedError};

/// Env variable the official SDKs read the API token from.
pub const ATLAN_API_KEY_ENV: &str = "ATLAN_API_KEY";

/// Where the sandbox's first tenant comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TenantSource {
    /// An existing `--state` file: the sandbox carries on where it stopped.
    State(PathBuf),
    /// A seed file.
    SeedFile(PathBuf),
    /// `--generate`.
    Generated(GenerateSpec),
    /// Nothing given: the three default roles and no users or groups.
    Empty,
}

impl TenantSource {
    /// Reads or builds the tenant.
    pub fn load(&self) -> Result<Seed, SeedError> {
        match self {
            TenantSource::State(path) | TenantSource::SeedFile(path) => Seed::load(path),
            TenantSource::Generated(spec) => Ok(crate::sandbox::atlan::seed::generate(*spec)),
            TenantSource::Empty => Ok(Seed::default()),
        }
    }
}

impl std::fmt::Display for TenantSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TenantSource::State(path) => write!(f, "state file {}", path.display()),
            TenantSource::SeedFile(path) => write!(f, "seed {}", path.display()),
            TenantSource::Generated(spec) => write!(f, "generated {spec}"),
            TenantSource::Empty => f.write_str("an empty tenant"),
        }
    }
}

/// Everything `roster sandbox` needs.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// Where to listen.
    pub listen: std::net::SocketAddr,
    /// Where the tenant comes from.
    pub tenant: TenantSource,
    /// How the sandbox behaves.
    pub options: SandboxOptions,
    /// Whether the API key was generated (and so must be shown to be usable).
    pub generated_key: bool,
}

impl SandboxSettings {
    /// Resolves `roster sandbox` flags; `env_key` is `$ATLAN_API_KEY` if set.
    #[must_use]
    pub fn from_cli(args: &SandboxArgs, env_key: Option<String>) -> SandboxSettings {
        let tenant = match (&args.state, &args.seed, args.generate) {
            (Some(state), _, _) if state.exists() => TenantSource::State(state.clone()),
            (_, Some(seed), _) => TenantSource::SeedFile(seed.clone()),
            (_, _, Some(spec)) => TenantSource::Generated(spec),
            _ => TenantSource::Empty,
        };
        let given_key = args.api_key.clone().or(env_key).filter(|k| !k.is_empty());
        let generated_key = given_key.is_none();
        let api_key = given_key.unwrap_or_else(generate_api_key);
        let options = SandboxOptions {
            api_key,
            latency: Duration::from_millis(args.latency),
            jitter: Duration::from_millis(args.jitter),
            rate_limit: args
                .rate_limit
                .map(|rate| RateLimit { per_minute: rate.0, lockout: Duration::from_secs(args.lockout) }),
            faults: args.fault_rate.map(|rate| FaultOptions { rate, seed: args.fault_seed }),
            state_file: args.state.clone(),
        };
        SandboxSettings { listen: args.listen, tenant, options, generated_key }
    }
}

fn generate_api_key() -> String {
    format!("sandbox-{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn settings(args: &[&str], env_key: Option<&str>) -> SandboxSettings {
        let cli = Cli::try_parse_from(["roster", "sandbox"].iter().chain(args)).unwrap();
        let Command::Sandbox(args) = cli.command;
        SandboxSettings::from_cli(&args, env_key.map(String::from))
    }

    #[test]
    fn api_key_comes_from_the_flag_then_the_env_then_is_generated() {
        assert_eq!(settings(&["--api-key", "flag"], Some("env")).options.api_key, "flag");
        assert_eq!(settings(&[], Some("env")).options.api_key, "env");
        let generated = settings(&[], None);
        assert!(generated.generated_key && generated.options.api_key.starts_with("sandbox-"));
    }

    #[test]
    fn an_existing_state_file_wins_over_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let state_arg = state.to_str().unwrap();
        assert_eq!(
            settings(&["--seed", "s.json", "--state", state_arg], None).tenant,
            TenantSource::SeedFile("s.json".into())
        );
        std::fs::write(&state, "{}").unwrap();
        assert_eq!(
            settings(&["--seed", "s.json", "--state", state_arg], None).tenant,
            TenantSource::State(state)
        );
        assert_eq!(settings(&[], None).tenant, TenantSource::Empty);
    }

    #[test]
    fn rate_limit_and_faults_carry_their_companions() {
        let s = settings(
            &["--rate-limit", "5/min", "--lockout", "3", "--fault-rate", "0.5", "--fault-seed", "7"],
            None,
        );
        assert_eq!(s.options.rate_limit, Some(RateLimit { per_minute: 5, lockout: Duration::from_secs(3) }));
        assert_eq!(s.options.faults, Some(FaultOptions { rate: 0.5, seed: 7 }));
    }
}
