//! Turns the command line and the environment into validated settings: defaults, env
//! variables and cross-flag rules live here and nowhere else.

use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{
    ExportArgs, ExportWhat, FileFormat, ImportArgs, ProviderName, RateLimitSpec, SandboxArgs, TenantArgs,
};
use crate::export::ExportKind;
use crate::output::results;
use crate::output::table::Format;
use crate::providers::Secret;
use crate::providers::atlan::{API_KEY_ENV, BASE_URL_ENV, DEFAULT_RATE_PER_MINUTE};
use crate::providers::uipath::{self, UipathConfig};
use crate::sandbox::uipath::seed::Seed as UiPathSeed;
use crate::sandbox::{
    FaultOptions, GenerateSpec, MethodBudgets, RateLimit, SandboxOptions, Seed, SeedError, UiPathOptions,
};
use crate::validation::Rules;

/// The sandbox tenant `--sandbox` uses when no `--sandbox-seed` is given.
pub const SAMPLE_SEED: &str = "samples/tenant.json";
/// The same for `--provider uipath`.
pub const SAMPLE_UIPATH_SEED: &str = "samples/uipath-tenant.json";

/// A command line that can't be carried out; each says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A `roster sandbox` flag that the chosen platform's sandbox does not have.
    #[error("{0}")]
    SandboxFlag(String),
    /// No tenant URL.
    #[error(
        "no tenant given: set {BASE_URL_ENV} and {API_KEY_ENV} (or pass --base-url and --api-key-file), or add --sandbox to rehearse against the sample tenant"
    )]
    NoTenant,
    /// No token.
    #[error("no API token: set {API_KEY_ENV}, or pass --api-key-file FILE")]
    NoToken,
    /// The token file can't be read.
    #[error("cannot read the API token from {path}: {error}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The OS error, shown in the message (not named `source`: the error
        /// chain would print it twice).
        error: std::io::Error,
    },
    /// The URL doesn't parse.
    #[error("{url:?} is not a URL: {problem} (e.g. https://acme.atlan.com)")]
    BadUrl {
        /// As given.
        url: String,
        /// What the parser said.
        problem: String,
    },
    /// Plain http to somewhere other than this machine.
    #[error(
        "refusing to send the API token over plain http to {host}: use https (plain http is allowed only to this machine, e.g. a sandbox)"
    )]
    InsecureUrl {
        /// The host.
        host: String,
    },
    /// A UiPath setting is missing.
    #[error(
        "UiPath needs {0}: set UIPATH_URL, UIPATH_ORGANIZATION, UIPATH_CLIENT_ID and UIPATH_CLIENT_SECRET (and UIPATH_PARTITION_GLOBAL_ID if tokens lack prt_id); see README, \"UiPath\""
    )]
    MissingUipath(&'static str),
    /// Both platforms' environments are set.
    #[error(
        "both ATLAN_BASE_URL and UIPATH_URL are set: say which platform with --provider atlan or --provider uipath"
    )]
    AmbiguousProvider,
    /// A `--budget` that doesn't parse.
    #[error("invalid --budget: {0}")]
    Budget(String),
    /// `--format xlsx` (or an `.xlsx` name) with no file to write to.
    #[error("an Excel workbook can't be written to standard output; give a file with -o FILE")]
    WorkbookToStdout,
    /// `--sandbox` without a seed to use.
    #[error("no sandbox tenant at {0}: run from roster's directory, or pass --sandbox-seed FILE")]
    NoSandboxSeed(PathBuf),
}

/// Where an import's tenant is.
#[derive(Debug, Clone)]
pub enum TenantSettings {
    /// An Atlan tenant (or a separately running sandbox).
    Atlan {
        /// Its base URL, checked.
        base_url: String,
        /// Its API token.
        token: Secret,
    },
    /// A UiPath organization (or a separately running sandbox).
    Uipath(UipathConfig),
    /// An in-process sandbox seeded from this file.
    Sandbox {
        /// Which platform it emulates.
        provider: ProviderName,
        /// The seed.
        seed: PathBuf,
    },
}

/// The environment, as a lookup (so tests need not touch the process's own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl TenantSettings {
    /// Resolves `--provider`, `--base-url`, `--api-key-file`, `--budget` and `--sandbox`
    /// with the environment the official SDKs read.
    pub fn from_cli(args: &TenantArgs, env: Env<'_>) -> Result<TenantSettings, SettingsError> {
        let provider = provider(args.provider, env)?;
        if args.sandbox {
            let sample = match provider {
                ProviderName::Atlan => SAMPLE_SEED,
                ProviderName::Uipath => SAMPLE_UIPATH_SEED,
            };
            let seed = args.sandbox_seed.clone().unwrap_or_else(|| PathBuf::from(sample));
            if !seed.exists() {
                return Err(SettingsError::NoSandboxSeed(seed));
            }
            return Ok(TenantSettings::Sandbox { provider, seed });
        }
        let given = |flag: &Option<String>, name: &str| {
            flag.clone().or_else(|| env(name)).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
        };
        let secret = |name: &str, missing: SettingsError| -> Result<Secret, SettingsError> {
            let value = match &args.api_key_file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|error| SettingsError::TokenFile { path: path.clone(), error })?
                    .trim()
                    .to_string(),
                None => env(name).unwrap_or_default().trim().to_string(),
            };
            if value.is_empty() { Err(missing) } else { Ok(Secret::new(value)) }
        };
        match provider {
            ProviderName::Atlan => {
                let base_url = given(&args.base_url, BASE_URL_ENV).ok_or(SettingsError::NoTenant)?;
                Ok(TenantSettings::Atlan {
                    base_url: checked_url(&base_url)?,
                    token: secret(API_KEY_ENV, SettingsError::NoToken)?,
                })
            }
            ProviderName::Uipath => {
                let missing = |name: &'static str| SettingsError::MissingUipath(name);
                let access_url = given(&args.base_url, uipath::URL_ENV).ok_or(missing(uipath::URL_ENV))?;
                let budgets = uipath::Uipath::parse_budgets(args.budget.as_deref().unwrap_or_default())
                    .map_err(SettingsError::Budget)?;
                Ok(TenantSettings::Uipath(UipathConfig {
                    access_url: checked_url(&access_url)?,
                    organization: given(&None, uipath::ORGANIZATION_ENV)
                        .ok_or(missing(uipath::ORGANIZATION_ENV))?,
                    client_id: given(&None, uipath::CLIENT_ID_ENV).ok_or(missing(uipath::CLIENT_ID_ENV))?,
                    client_secret: secret(uipath::CLIENT_SECRET_ENV, missing(uipath::CLIENT_SECRET_ENV))?,
                    partition: given(&None, uipath::PARTITION_ENV),
                    budgets,
                }))
            }
        }
    }

    /// The platform's rules, for validation.
    #[must_use]
    pub fn rules(&self) -> Rules {
        match self {
            TenantSettings::Atlan { .. } | TenantSettings::Sandbox { provider: ProviderName::Atlan, .. } => {
                Rules::ATLAN
            }
            TenantSettings::Uipath(_) | TenantSettings::Sandbox { provider: ProviderName::Uipath, .. } => {
                Rules::UIPATH
            }
        }
    }
}

/// The platform: `--provider`, else the one whose environment is set, else Atlan.
pub fn provider(flag: Option<ProviderName>, env: Env<'_>) -> Result<ProviderName, SettingsError> {
    if let Some(provider) = flag {
        return Ok(provider);
    }
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    match (set(BASE_URL_ENV), set(uipath::URL_ENV)) {
        (true, true) => Err(SettingsError::AmbiguousProvider),
        (false, true) => Ok(ProviderName::Uipath),
        _ => Ok(ProviderName::Atlan),
    }
}

/// Accepts https anywhere and http only to this machine, where no token can be overheard.
fn checked_url(url: &str) -> Result<String, SettingsError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| SettingsError::BadUrl { url: url.into(), problem: e.to_string() })?;
    let host = parsed.host_str().unwrap_or_default().trim_matches(['[', ']']).to_string();
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(SettingsError::InsecureUrl { host });
            }
        }
        other => {
            return Err(SettingsError::BadUrl {
                url: url.into(),
                problem: format!("the scheme {other} is not http or https"),
            });
        }
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Everything `roster export` needs.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// What to export.
    pub kind: ExportKind,
    /// Where to (stdout when `None`).
    pub output: Option<PathBuf>,
    /// CSV or workbook.
    pub format: Format,
    /// A BOM before CSV, for Excel.
    pub bom: bool,
    /// No progress or summary.
    pub quiet: bool,
    /// The tenant.
    pub tenant: TenantSettings,
    /// The request budget a minute.
    pub rate: NonZeroU32,
}

impl ExportSettings {
    /// Resolves `roster export`'s flags and environment.
    pub fn from_cli(args: &ExportArgs, env: Env<'_>) -> Result<ExportSettings, SettingsError> {
        let kind = match args.what {
            ExportWhat::Memberships => ExportKind::Memberships,
            ExportWhat::Users => ExportKind::Users,
            ExportWhat::Groups => ExportKind::Groups,
            ExportWhat::Roles => ExportKind::Roles,
        };
        let named_xlsx = args
            .output
            .as_deref()
            .is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx")));
        let format = match args.format {
            Some(FileFormat::Xlsx) => Format::Xlsx,
            None if named_xlsx => Format::Xlsx,
            Some(FileFormat::Csv) | None => Format::Csv,
        };
        // Found before the tenant is read, which costs calls of its budget.
        if format == Format::Xlsx && args.output.is_none() {
            return Err(SettingsError::WorkbookToStdout);
        }
        Ok(ExportSettings {
            kind,
            output: args.output.clone(),
            format,
            bom: args.excel,
            quiet: args.quiet,
            tenant: TenantSettings::from_cli(&args.tenant, env)?,
            rate: args
                .rate
                .and_then(|r| NonZeroU32::new(r.0))
                .unwrap_or(NonZeroU32::new(DEFAULT_RATE_PER_MINUTE).expect("non-zero")),
        })
    }
}

/// Everything `roster import` needs.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools, reason = "independent switches of the command line")]
pub struct ImportSettings {
    /// The assignments file.
    pub input: PathBuf,
    /// Where results go.
    pub results: PathBuf,
    /// Where the undo file goes: beside the results, `<stem>.undo.csv`.
    pub undo: PathBuf,
    /// An earlier results file to resume from.
    pub resume: Option<PathBuf>,
    /// The tenant.
    pub tenant: TenantSettings,
    /// Calls in flight at once.
    pub concurrency: NonZeroUsize,
    /// The request budget a minute.
    pub rate: NonZeroU32,
    /// Read only.
    pub dry_run: bool,
    /// Send valid rows despite invalid ones.
    pub skip_invalid: bool,
    /// Removals confirmed.
    pub yes: bool,
    /// Make named groups equal to the file.
    pub sync: bool,
    /// With `sync`, the most removals allowed.
    pub max_removals: usize,
    /// No progress or summary.
    pub quiet: bool,
}

impl ImportSettings {
    /// Resolves `roster import`'s flags and environment.
    pub fn from_cli(args: &ImportArgs, env: Env<'_>) -> Result<ImportSettings, SettingsError> {
        let default_rate = NonZeroU32::new(DEFAULT_RATE_PER_MINUTE).expect("non-zero");
        let results = args.results.clone().unwrap_or_else(|| results::default_path(&args.file));
        let stem = args.file.file_stem().unwrap_or_default().to_string_lossy();
        let undo = results.with_file_name(format!("{stem}.undo.csv"));
        Ok(ImportSettings {
            input: args.file.clone(),
            undo,
            results,
            resume: args.resume.clone(),
            tenant: TenantSettings::from_cli(&args.tenant, env)?,
            concurrency: args.concurrency,
            rate: args.rate.and_then(|r| NonZeroU32::new(r.0)).unwrap_or(default_rate),
            dry_run: args.dry_run,
            skip_invalid: args.skip_invalid,
            yes: args.yes,
            sync: args.sync,
            max_removals: args.max_removals,
            quiet: args.quiet,
        })
    }

    /// The input's name for messages.
    #[must_use]
    pub fn input_name(&self) -> &Path {
        &self.input
    }
}

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
    /// Reads or builds the Atlan tenant.
    pub fn load(&self) -> Result<Seed, SeedError> {
        match self {
            TenantSource::State(path) | TenantSource::SeedFile(path) => Seed::load(path),
            TenantSource::Generated(spec) => Ok(crate::sandbox::atlan::seed::generate(*spec)),
            TenantSource::Empty => Ok(Seed::default()),
        }
    }

    /// Reads or builds the UiPath organization; one that roster builds (empty or generated)
    /// has one application, whose secret is `secret`.
    pub fn load_uipath(&self, secret: &str) -> Result<UiPathSeed, SeedError> {
        match self {
            TenantSource::State(path) | TenantSource::SeedFile(path) => UiPathSeed::load(path),
            TenantSource::Generated(spec) => Ok(crate::sandbox::uipath::seed::generate(*spec, secret)),
            TenantSource::Empty => Ok(UiPathSeed::empty(secret)),
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
    /// Which platform, and how its sandbox behaves.
    pub platform: SandboxPlatform,
}

/// The platform a sandbox emulates, with its options.
#[derive(Debug, Clone)]
pub enum SandboxPlatform {
    /// Atlan's users, groups and roles API.
    Atlan {
        /// How the sandbox behaves.
        options: SandboxOptions,
        /// Whether the API key was generated (and so must be shown to be usable).
        generated_key: bool,
    },
    /// UiPath Identity Server's groups and users API.
    Uipath {
        /// How the sandbox behaves.
        options: UiPathOptions,
        /// The application secret of an organization roster builds (no seed file), generated.
        secret: String,
    },
}

impl SandboxSettings {
    /// Resolves `roster sandbox` flags; `env_key` is `$ATLAN_API_KEY` if set (Atlan only).
    pub fn from_cli(args: &SandboxArgs, env_key: Option<String>) -> Result<SandboxSettings, SettingsError> {
        let tenant = match (&args.state, &args.seed, args.generate) {
            (Some(state), _, _) if state.exists() => TenantSource::State(state.clone()),
            (_, Some(seed), _) => TenantSource::SeedFile(seed.clone()),
            (_, _, Some(spec)) => TenantSource::Generated(spec),
            _ => TenantSource::Empty,
        };
        let latency = Duration::from_millis(args.latency);
        let jitter = Duration::from_millis(args.jitter);
        let faults = args.fault_rate.map(|rate| FaultOptions { rate, seed: args.fault_seed });
        let not_for = |flag: &str, provider: &str, instead: &str| {
            Err(SettingsError::SandboxFlag(format!(
                "{flag} is not an option of the {provider} sandbox: {instead}"
            )))
        };
        let platform = match args.provider {
            ProviderName::Atlan => {
                if args.token_ttl.is_some() {
                    return not_for("--token-ttl", "Atlan", "Atlan's API tokens don't expire");
                }
                if args.rate_window.is_some() {
                    return not_for("--rate-window", "Atlan", "its window is one minute; see --lockout");
                }
                let rate_limit = match &args.rate_limit {
                    None => None,
                    Some(RateLimitSpec::Documented) => Some(DEFAULT_RATE_PER_MINUTE),
                    Some(RateLimitSpec::PerMinute(n)) => Some(*n),
                    Some(RateLimitSpec::PerMethod(_)) => {
                        return not_for(
                            "--rate-limit METHOD=N",
                            "Atlan",
                            "give N/min (e.g. 400/min), or documented",
                        );
                    }
                };
                let lockout = Duration::from_secs(args.lockout.unwrap_or(60));
                let given_key = args.api_key.clone().or(env_key).filter(|k| !k.is_empty());
                let generated_key = given_key.is_none();
                let options = SandboxOptions {
                    api_key: given_key.unwrap_or_else(generate_api_key),
                    latency,
                    jitter,
                    rate_limit: rate_limit.map(|per_minute| RateLimit { per_minute, lockout }),
                    faults,
                    state_file: args.state.clone(),
                };
                SandboxPlatform::Atlan { options, generated_key }
            }
            ProviderName::Uipath => {
                if args.api_key.is_some() {
                    return not_for(
                        "--api-key",
                        "UiPath",
                        "clients get tokens with the application ids and secrets of the seed's \"clients\"",
                    );
                }
                if args.lockout.is_some() {
                    return not_for("--lockout", "UiPath", "its budgets have no lockout; see --rate-window");
                }
                let mut budgets = MethodBudgets::DOCUMENTED;
                match &args.rate_limit {
                    None | Some(RateLimitSpec::Documented) => {}
                    Some(RateLimitSpec::PerMinute(_)) => {
                        return not_for(
                            "--rate-limit N/min",
                            "UiPath",
                            "give budgets per method, e.g. GET=300,PUT=160, or documented",
                        );
                    }
                    Some(RateLimitSpec::PerMethod(given)) => {
                        for (method, count) in given {
                            match method.as_str() {
                                "GET" => budgets.get = *count,
                                "POST" => budgets.post = *count,
                                "PUT" => budgets.put = *count,
                                "PATCH" => budgets.patch = *count,
                                _ => budgets.delete = *count,
                            }
                        }
                    }
                }
                if let Some(window) = args.rate_window {
                    budgets.window = Duration::from_secs(window.max(1));
                }
                let options = UiPathOptions {
                    latency,
                    jitter,
                    rate_limit: args.rate_limit.as_ref().map(|_| budgets),
                    faults,
                    state_file: args.state.clone(),
                    token_ttl: args
                        .token_ttl
                        .map_or(crate::sandbox::uipath::DEFAULT_TOKEN_TTL, Duration::from_secs),
                };
                SandboxPlatform::Uipath { options, secret: generate_api_key() }
            }
        };
        Ok(SandboxSettings { listen: args.listen, tenant, platform })
    }

    /// Where the sandbox keeps its state, if anywhere.
    #[must_use]
    pub fn state_file(&self) -> Option<&Path> {
        match &self.platform {
            SandboxPlatform::Atlan { options, .. } => options.state_file.as_deref(),
            SandboxPlatform::Uipath { options, .. } => options.state_file.as_deref(),
        }
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

    fn import(args: &[&str], url: Option<&str>, key: Option<&str>) -> Result<ImportSettings, SettingsError> {
        let cli = Cli::try_parse_from(["roster", "import", "in.csv"].iter().chain(args)).unwrap();
        let Command::Import(args) = cli.command else { panic!("an import command") };
        let env = |name: &str| match name {
            "ATLAN_BASE_URL" => url.map(String::from),
            "ATLAN_API_KEY" => key.map(String::from),
            _ => None,
        };
        ImportSettings::from_cli(&args, &env)
    }

    #[test]
    fn the_tenant_comes_from_flags_or_the_sdk_environment() {
        let settings = import(&[], Some("https://acme.atlan.com/"), Some(" token\n")).unwrap();
        let TenantSettings::Atlan { base_url, token } = settings.tenant else { panic!("an Atlan tenant") };
        assert_eq!((base_url.as_str(), token.expose()), ("https://acme.atlan.com", "token"));
        assert_eq!(settings.results, Path::new("in.results.csv"));
        assert_eq!(settings.rate.get(), 400);
        assert!(matches!(import(&[], None, Some("t")), Err(SettingsError::NoTenant)));
        assert!(matches!(import(&[], Some("https://a.io"), None), Err(SettingsError::NoToken)));
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "from-file\n").unwrap();
        let settings = import(
            &["--base-url", "https://b.io", "--api-key-file", key_file.to_str().unwrap()],
            None,
            Some("env"),
        )
        .unwrap();
        let TenantSettings::Atlan { token, .. } = settings.tenant else { panic!("an Atlan tenant") };
        assert_eq!(token.expose(), "from-file");
        assert!(!format!("{token:?}").contains("from-file"), "a token never shows in Debug output");
    }

    #[test]
    fn uipath_is_chosen_by_its_environment_or_the_flag_and_configured_from_it() {
        let cli = Cli::try_parse_from(["roster", "import", "in.csv", "--budget", "PUT=20"]).unwrap();
        let Command::Import(args) = cli.command else { panic!("an import command") };
        let uipath_env = |name: &str| {
            let value = match name {
                "UIPATH_URL" => "https://cloud.uipath.com/",
                "UIPATH_ORGANIZATION" => "acme",
                "UIPATH_CLIENT_ID" => "app",
                "UIPATH_CLIENT_SECRET" => "s3cret",
                _ => return None,
            };
            Some(value.to_string())
        };
        let settings = ImportSettings::from_cli(&args, &uipath_env).unwrap();
        assert_eq!(settings.tenant.rules(), Rules::UIPATH);
        let TenantSettings::Uipath(config) = settings.tenant else { panic!("a UiPath tenant") };
        assert_eq!(
            (config.access_url.as_str(), config.organization.as_str(), config.partition),
            ("https://cloud.uipath.com", "acme", None)
        );
        assert!(config.budgets.iter().any(|(m, n)| m.as_str() == "PUT" && n.get() == 20));
        assert!(!format!("{:?}", config.client_secret).contains("s3cret"));
        let both = |name: &str| {
            uipath_env(name).or_else(|| (name == "ATLAN_BASE_URL").then(|| "https://a.io".to_string()))
        };
        assert!(matches!(provider(None, &both), Err(SettingsError::AmbiguousProvider)));
        assert_eq!(provider(Some(ProviderName::Atlan), &both).unwrap(), ProviderName::Atlan);
        let partial = |name: &str| (name == "UIPATH_URL").then(|| "https://cloud.uipath.com".to_string());
        let error = ImportSettings::from_cli(&args, &partial).unwrap_err().to_string();
        assert!(error.starts_with("UiPath needs UIPATH_ORGANIZATION"), "{error}");
    }

    #[test]
    fn plain_http_is_refused_except_to_this_machine() {
        assert!(matches!(
            import(&[], Some("http://acme.atlan.com"), Some("t")),
            Err(SettingsError::InsecureUrl { .. })
        ));
        for local in ["http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:80"] {
            assert!(import(&[], Some(local), Some("t")).is_ok(), "{local}");
        }
        assert!(matches!(import(&[], Some("ftp://x.io"), Some("t")), Err(SettingsError::BadUrl { .. })));
        let error = import(&[], Some("http://10.0.0.5"), Some("secret-token")).unwrap_err().to_string();
        assert!(!error.contains("secret-token"));
    }

    fn try_settings(args: &[&str], env_key: Option<&str>) -> Result<SandboxSettings, SettingsError> {
        let cli = Cli::try_parse_from(["roster", "sandbox"].iter().chain(args)).unwrap();
        let Command::Sandbox(args) = cli.command else { panic!("a sandbox command") };
        SandboxSettings::from_cli(&args, env_key.map(String::from))
    }

    fn settings(args: &[&str], env_key: Option<&str>) -> SandboxSettings {
        try_settings(args, env_key).unwrap()
    }

    fn atlan(settings: &SandboxSettings) -> (&SandboxOptions, bool) {
        let SandboxPlatform::Atlan { options, generated_key } = &settings.platform else { panic!("atlan") };
        (options, *generated_key)
    }

    fn uipath(settings: &SandboxSettings) -> &UiPathOptions {
        let SandboxPlatform::Uipath { options, .. } = &settings.platform else { panic!("uipath") };
        options
    }

    #[test]
    fn api_key_comes_from_the_flag_then_the_env_then_is_generated() {
        assert_eq!(atlan(&settings(&["--api-key", "flag"], Some("env"))).0.api_key, "flag");
        assert_eq!(atlan(&settings(&[], Some("env"))).0.api_key, "env");
        let generated = settings(&[], None);
        let (options, generated_key) = atlan(&generated);
        assert!(generated_key && options.api_key.starts_with("sandbox-"));
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
        let (options, _) = atlan(&s);
        assert_eq!(options.rate_limit, Some(RateLimit { per_minute: 5, lockout: Duration::from_secs(3) }));
        assert_eq!(options.faults, Some(FaultOptions { rate: 0.5, seed: 7 }));
        let documented = settings(&["--rate-limit", "documented"], None);
        assert_eq!(atlan(&documented).0.rate_limit.map(|r| r.per_minute), Some(DEFAULT_RATE_PER_MINUTE));
    }

    #[test]
    fn a_uipath_sandbox_takes_budgets_per_method_a_window_and_a_token_lifetime() {
        let s = settings(
            &[
                "--provider",
                "uipath",
                "--rate-limit",
                "GET=3,delete=1",
                "--rate-window",
                "20",
                "--token-ttl",
                "5",
            ],
            Some("ignored-atlan-key"),
        );
        let options = uipath(&s);
        let expected =
            MethodBudgets { get: 3, delete: 1, window: Duration::from_secs(20), ..MethodBudgets::DOCUMENTED };
        assert_eq!(options.rate_limit, Some(expected));
        assert_eq!(options.token_ttl, Duration::from_secs(5));
        let plain = settings(&["--provider", "uipath", "--fault-rate", "0.1", "--latency", "4"], None);
        let options = uipath(&plain);
        assert_eq!((options.rate_limit, options.token_ttl), (None, Duration::from_secs(3600)));
        assert_eq!((options.faults.map(|f| f.rate), options.latency), (Some(0.1), Duration::from_millis(4)));
        let documented = settings(&["--provider", "uipath", "--rate-limit", "documented"], None);
        assert_eq!(uipath(&documented).rate_limit, Some(MethodBudgets::DOCUMENTED));
    }

    #[test]
    fn each_platforms_flags_are_refused_for_the_other() {
        for (args, flag) in [
            (&["--provider", "uipath", "--api-key", "k"][..], "--api-key"),
            (&["--provider", "uipath", "--rate-limit", "5/min"][..], "--rate-limit N/min"),
            (&["--provider", "uipath", "--rate-limit", "5/min", "--lockout", "3"][..], "--lockout"),
            (&["--token-ttl", "5"][..], "--token-ttl"),
            (&["--rate-limit", "GET=5"][..], "--rate-limit METHOD=N"),
            (&["--rate-limit", "5/min", "--rate-window", "5"][..], "--rate-window"),
        ] {
            let error = try_settings(args, None).unwrap_err().to_string();
            assert!(error.starts_with(flag), "{args:?}: {error}");
        }
    }
}
