//! The command line, as clap derive structs that mirror it. Nothing here is used by the
//! core modules: `settings` turns these into validated settings.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::sandbox::GenerateSpec;

/// Administer users, groups and roles of `SaaS` platforms in bulk from spreadsheets.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an assignments file without a tenant: every row, every column.
    Validate(ValidateArgs),
    /// Apply an assignments file to a tenant (or, with --dry-run, show what it would do).
    Import(ImportArgs),
    /// Write the tenant's memberships, users, groups or roles in the import format.
    Export(ExportArgs),
    /// Compare two exports: memberships added and removed, roles changed.
    Diff(DiffArgs),
    /// Run a local emulator of a platform's API, to rehearse against.
    Sandbox(SandboxArgs),
}

/// What `roster export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportWhat {
    /// One `keep` row per (user, group), with context for reviewers.
    Memberships,
    /// One `set_role` row per user.
    Users,
    /// One `create_group` row per group.
    Groups,
    /// The tenant's roles and their GUIDs.
    Roles,
}

/// File formats of exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// Comma-separated values.
    Csv,
    /// An Excel workbook.
    Xlsx,
}

/// `roster export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    #[arg(value_enum)]
    pub what: ExportWhat,

    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// csv or xlsx [default: xlsx when FILE ends in .xlsx, else csv].
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,

    /// Start a CSV with a UTF-8 byte order mark, so Excel reads accents right.
    #[arg(long)]
    pub excel: bool,

    /// The tenant's request budget; roster paces a little under it [default: 400/min, Atlan's limit].
    #[arg(long, value_name = "N/min")]
    pub rate: Option<PerMinute>,

    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,

    /// Which tenant.
    #[command(flatten)]
    pub tenant: TenantArgs,
}

/// `roster diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier export.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The later export.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `roster validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The assignments file (CSV, or an Excel .xlsx workbook).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Whose rules to check by: atlan or uipath.
    #[arg(
        long,
        value_enum,
        hide_possible_values = true,
        help = "Whose rules: atlan or uipath [default: the one whose environment is set]"
    )]
    pub provider: Option<ProviderName>,
}

/// `roster import`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools, reason = "each is an independent command-line switch")]
pub struct ImportArgs {
    /// The assignments file (CSV, or an Excel .xlsx workbook).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Read the tenant and report what each row would do; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Where to write the results (default: beside FILE, as `<stem>.results.csv`).
    // Explicit help: rustdoc reads a bare <stem> as an HTML tag, and clap would print backticks.
    #[arg(
        long,
        value_name = "FILE",
        help = "Where to write the results [default: beside FILE, as <stem>.results.csv]"
    )]
    pub results: Option<PathBuf>,

    /// Re-run only the rows an earlier run's results file does not show as ok or unchanged.
    #[arg(long, value_name = "RESULTS")]
    pub resume: Option<PathBuf>,

    /// Send the valid rows even if some rows are invalid (those are reported, not sent).
    #[arg(long)]
    pub skip_invalid: bool,

    /// Confirm removals and deletions without asking.
    #[arg(long)]
    pub yes: bool,

    /// Make every group the file names have exactly the members its add and keep rows list:
    /// members it doesn't list are removed.
    #[arg(long)]
    pub sync: bool,

    /// With --sync, refuse (sending nothing) when the run would remove more memberships.
    #[arg(long, value_name = "N", default_value_t = crate::sync::DEFAULT_MAX_REMOVALS, requires = "sync")]
    pub max_removals: usize,

    /// Calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = NonZeroUsize::new(4).expect("non-zero"))]
    pub concurrency: NonZeroUsize,

    /// The tenant's request budget; roster paces a little under it [default: 400/min, Atlan's limit].
    #[arg(long, value_name = "N/min")]
    pub rate: Option<PerMinute>,

    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,

    /// Which tenant.
    #[command(flatten)]
    pub tenant: TenantArgs,
}

/// Which tenant to talk to.
#[derive(Debug, Args)]
pub struct TenantArgs {
    /// The platform: atlan or uipath.
    #[arg(
        long,
        value_enum,
        hide_possible_values = true,
        help = "atlan or uipath [default: the one whose environment is set (ATLAN_BASE_URL or UIPATH_URL)]"
    )]
    pub provider: Option<ProviderName>,

    /// UiPath's request budgets per five minutes.
    #[arg(
        long,
        value_name = "METHOD=N,..",
        help = "UiPath's budgets per 5 minutes [default: GET=300,PUT=160,DELETE=160]"
    )]
    pub budget: Option<String>,

    /// The tenant's URL (default: `$ATLAN_BASE_URL`).
    #[arg(
        long,
        value_name = "URL",
        help = "The tenant's URL, e.g. https://acme.atlan.com [default: $ATLAN_BASE_URL or $UIPATH_URL]"
    )]
    pub base_url: Option<String>,

    /// A file holding the API token (default: the token in `$ATLAN_API_KEY`).
    #[arg(
        long,
        value_name = "FILE",
        help = "A file holding the API token (UiPath: the client secret) [default: $ATLAN_API_KEY or $UIPATH_CLIENT_SECRET]"
    )]
    pub api_key_file: Option<PathBuf>,

    /// Run against an in-process sandbox seeded with samples/tenant.json instead of a tenant.
    #[arg(long, conflicts_with_all = ["base_url", "api_key_file"])]
    pub sandbox: bool,

    /// The sandbox's tenant file (with --sandbox).
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub sandbox_seed: Option<PathBuf>,
}

/// Platforms roster administers (and emulates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderName {
    /// Atlan's users, groups and roles API.
    Atlan,
    /// UiPath Identity Server's groups and users API.
    Uipath,
}

/// `roster sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Which platform's API to serve.
    #[arg(long, value_enum, default_value_t = ProviderName::Atlan)]
    pub provider: ProviderName,

    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The bearer token clients must send (default: `$ATLAN_API_KEY`, else generated). Atlan
    /// only: a UiPath sandbox's applications and secrets come from its seed.
    // The help text is given explicitly so that clap does not print the backticks.
    #[arg(
        long,
        value_name = "KEY",
        help = "Atlan: bearer token clients must send [default: $ATLAN_API_KEY, else a generated one]"
    )]
    pub api_key: Option<String>,

    /// Tenant to start with: a JSON file of roles, users and groups, or for UiPath of an
    /// organization, its applications, users and groups (see README).
    #[arg(long, value_name = "FILE", conflicts_with = "generate")]
    pub seed: Option<PathBuf>,

    /// Generate a tenant instead: users=N,groups=M,memberships=K,seed=S.
    #[arg(long, value_name = "SPEC")]
    pub generate: Option<GenerateSpec>,

    /// Keep the tenant in FILE: loaded from it if it exists, and every change written to it
    /// (atomically) before it is acknowledged.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Delay every response by MS milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,

    /// Add a random extra delay of up to MS milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub jitter: u64,

    /// The tenant's request budget: `documented` for the platform's own; Atlan: N/min, e.g.
    /// 400/min; UiPath: METHOD=N,... per window, e.g. GET=300,PUT=160 (other methods keep
    /// their documented budgets).
    #[arg(
        long,
        value_name = "SPEC",
        help = "Request budget: documented, or Atlan N/min (e.g. 400/min), or UiPath METHOD=N,... per window (e.g. GET=300,PUT=160)"
    )]
    pub rate_limit: Option<RateLimitSpec>,

    /// Atlan: after the rate limit is passed, refuse every request for SECS seconds [default: 60].
    #[arg(long, value_name = "SECS", requires = "rate_limit")]
    pub lockout: Option<u64>,

    /// UiPath: how long a request counts against its method's budget [default: 300].
    #[arg(long, value_name = "SECS", requires = "rate_limit")]
    pub rate_window: Option<u64>,

    /// UiPath: how long an access token is valid, `expires_in` [default: 3600; 0 issues
    /// tokens already expired].
    #[arg(long, value_name = "SECS")]
    pub token_ttl: Option<u64>,

    /// Fail this fraction of requests (0 to 1) with 500/502/503, resets and lost responses.
    #[arg(long, value_name = "P", value_parser = probability)]
    pub fault_rate: Option<f64>,

    /// Seed for the choice of failing requests.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "fault_rate")]
    pub fault_seed: u64,
}

/// A rate such as `400/min` (a bare number means per minute too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMinute(pub u32);

impl std::str::FromStr for PerMinute {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let number = text.strip_suffix("/min").or_else(|| text.strip_suffix("/m")).unwrap_or(text);
        match number.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(PerMinute(n)),
            _ => Err(format!("{text:?} is not a rate like 400/min")),
        }
    }
}

/// What `roster sandbox --rate-limit` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitSpec {
    /// The platform's documented limits (Atlan 400/min; UiPath GET 300, POST 24,000, PUT,
    /// PATCH and DELETE 160 per 5 minutes).
    Documented,
    /// Atlan's form: requests per sliding minute.
    PerMinute(u32),
    /// UiPath's form: a budget per HTTP method, e.g. `[("GET", 300), ("PUT", 160)]`.
    PerMethod(Vec<(String, u32)>),
}

impl std::str::FromStr for RateLimitSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("documented") {
            return Ok(RateLimitSpec::Documented);
        }
        if !text.contains('=') {
            return text.parse::<PerMinute>().map(|rate| RateLimitSpec::PerMinute(rate.0)).map_err(|_| {
                format!(
                    "{text:?} is not documented, N/min (e.g. 400/min) or METHOD=N,... (e.g. GET=300,PUT=160)"
                )
            });
        }
        let mut budgets: Vec<(String, u32)> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (method, count) =
                part.split_once('=').ok_or_else(|| format!("{part:?} is not METHOD=N (e.g. PUT=160)"))?;
            let method = method.trim().to_ascii_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                return Err(format!("{method:?} in {part:?} is not GET, POST, PUT, PATCH or DELETE"));
            }
            let count = count
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("{count:?} in {part:?} is not a whole number"))?;
            budgets.retain(|(m, _)| *m != method);
            budgets.push((method, count));
        }
        Ok(RateLimitSpec::PerMethod(budgets))
    }
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a probability between 0 and 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rate_limit_specs_parse_in_each_platforms_form() {
        let spec = |text: &str| text.parse::<RateLimitSpec>();
        assert_eq!(spec("documented"), Ok(RateLimitSpec::Documented));
        assert_eq!(spec("400/min"), Ok(RateLimitSpec::PerMinute(400)));
        assert_eq!(spec("12"), Ok(RateLimitSpec::PerMinute(12)));
        assert_eq!(
            spec("get=3, PUT=2,get=4"),
            Ok(RateLimitSpec::PerMethod(vec![("PUT".into(), 2), ("GET".into(), 4)]))
        );
        assert_eq!(spec("DELETE=0"), Ok(RateLimitSpec::PerMethod(vec![("DELETE".into(), 0)])));
        assert!(spec("0/min").is_err());
        assert!(spec("PUT").is_err());
    }

    #[test]
    fn sandbox_flags_parse() {
        let cli = Cli::try_parse_from([
            "roster",
            "sandbox",
            "--generate",
            "users=5,groups=2,memberships=3,seed=1",
            "--rate-limit",
            "400/min",
            "--lockout",
            "2",
            "--fault-rate",
            "0.1",
            "--fault-seed",
            "9",
            "--latency",
            "5",
        ])
        .unwrap();
        let Command::Sandbox(args) = cli.command else { panic!("a sandbox command") };
        assert_eq!(args.rate_limit, Some(RateLimitSpec::PerMinute(400)));
        assert_eq!(args.fault_rate, Some(0.1));
        assert_eq!(args.generate.unwrap().users, 5);
        assert!(Cli::try_parse_from(["roster", "sandbox", "--fault-rate", "2"]).is_err());
        assert!(Cli::try_parse_from(["roster", "sandbox", "--rate-limit", "fast"]).is_err());
        assert!(Cli::try_parse_from(["roster", "sandbox", "--rate-limit", "GET=x"]).is_err());
        assert!(Cli::try_parse_from(["roster", "sandbox", "--rate-limit", "HEAD=3"]).is_err());
        assert!(
            Cli::try_parse_from(["roster", "sandbox", "--rate-window", "10"]).is_err(),
            "needs --rate-limit"
        );
        assert!(
            Cli::try_parse_from(["roster", "sandbox", "--seed", "a.json", "--generate", "users=1"]).is_err()
        );
    }
}
