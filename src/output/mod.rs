//! What roster prints for people and writes for records: messages go to stderr, data to
//! stdout or files. The only module that prints.

pub mod progress;
pub mod results;
pub mod table;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use crate::input::InputFile;
use crate::outcome::{RowResult, Status, Tally};
use crate::providers::http::BudgetStats;
use crate::sandbox::uipath::seed::Seed as UiPathSeed;
use crate::sandbox::{Sandbox, Seed, UiPathOptions, UiPathSandbox};
use crate::settings::SandboxSettings;
use crate::validation::{Checked, Verdict};

/// Problems listed one per line before a summary; the results file has all of them.
const PROBLEMS_SHOWN: usize = 20;

/// Tells the user where the sandbox is and how to point a client at it.
#[expect(clippy::print_stdout, reason = "the banner is the sandbox command's output")]
pub fn sandbox_banner(sandbox: &Sandbox, settings: &SandboxSettings, seed: &Seed) {
    let roles = seed.roles.as_ref().map_or(3, Vec::len);
    println!("roster sandbox (atlan) listening on {}", sandbox.base_url());
    println!();
    println!("  export ATLAN_BASE_URL={}", sandbox.base_url());
    // The sandbox's own key: the user needs it to connect, and it guards nothing real.
    println!("  export ATLAN_API_KEY={}", sandbox.api_key());
    println!();
    println!(
        "tenant: {} users, {} groups, {roles} roles, from {}",
        seed.users.len(),
        seed.groups.len(),
        settings.tenant
    );
    if let Some(state) = settings.state_file() {
        println!("state:  every change is saved to {}", state.display());
    }
    println!(
        "inspect: {0}/_sandbox/stats  {0}/_sandbox/state  (POST {0}/_sandbox/reset)",
        sandbox.base_url()
    );
    println!("Press Ctrl-C to stop.");
}

/// Tells the user where the UiPath sandbox is and the environment a client needs.
#[expect(clippy::print_stdout, reason = "the banner is the sandbox command's output")]
pub fn uipath_sandbox_banner(
    sandbox: &UiPathSandbox,
    settings: &SandboxSettings,
    options: &UiPathOptions,
    seed: &UiPathSeed,
) {
    let url = sandbox.base_url();
    println!("roster sandbox (uipath) listening on {url}");
    println!();
    println!("  export UIPATH_URL={url}");
    println!("  export UIPATH_ORGANIZATION={}", sandbox.organization());
    // The sandbox's own application: the user needs it to connect, and it guards nothing real.
    if let Some(client) = seed.first_client() {
        println!("  export UIPATH_CLIENT_ID={}", client.id);
        println!("  export UIPATH_CLIENT_SECRET={}", client.secret);
    }
    println!("  export UIPATH_PARTITION_GLOBAL_ID={}", sandbox.partition_global_id());
    println!();
    println!(
        "organization {}: {} users, {} groups besides the built-in ones, {} application(s), from {}",
        sandbox.organization(),
        seed.users.len(),
        seed.groups.iter().filter(|g| g.group_type != 0).count(),
        seed.clients.len(),
        settings.tenant
    );
    println!("api:    {}/api  (tokens: {})", sandbox.api_base(), sandbox.token_url());
    println!("tokens: valid {} s", options.token_ttl.as_secs());
    if let Some(budgets) = options.rate_limit {
        println!(
            "limits: GET {}, POST {}, PUT {}, PATCH {}, DELETE {} per {} s, then 429 with Retry-After",
            budgets.get,
            budgets.post,
            budgets.put,
            budgets.patch,
            budgets.delete,
            budgets.window.as_secs()
        );
    }
    if let Some(state) = settings.state_file() {
        println!("state:  every change is saved to {}", state.display());
    }
    println!("inspect: {url}/_sandbox/stats  {url}/_sandbox/state  (POST {url}/_sandbox/reset)");
    println!("Press Ctrl-C to stop.");
}

/// What `roster validate` prints: each invalid row as `FILE:LINE: problem; fix`, then counts.
#[expect(clippy::print_stderr, reason = "the report is the validate command's output")]
pub fn validation_report(input: &InputFile, checked: &[Checked]) {
    let path = input.path.display();
    let (mut valid, mut invalid, mut duplicates, mut empty) = (0, 0, 0, 0);
    for row in checked {
        match &row.verdict {
            Verdict::Valid(_) => valid += 1,
            Verdict::Duplicate { of, .. } => {
                duplicates += 1;
                eprintln!("{path}:{}: note: same as line {of}; it will be sent once", row.line);
            }
            Verdict::Invalid(error) => {
                invalid += 1;
                eprintln!("{path}:{}: {error}", row.line);
            }
            Verdict::Empty => empty += 1,
        }
    }
    eprintln!(
        "{path}: {} rows: {valid} valid, {invalid} invalid, {duplicates} duplicate, {empty} empty",
        checked.len()
    );
    if invalid == 0 {
        eprintln!(
            "No problems found offline; `roster import --dry-run` also checks users and groups against the tenant."
        );
    }
}

/// Asks a yes/no question on the terminal; `false` when there is no one to ask.
#[expect(clippy::print_stderr, reason = "the question is asked on stderr")]
#[must_use]
pub fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Says what happens after a first Ctrl-C.
#[expect(clippy::print_stderr, reason = "a message for the person who pressed Ctrl-C")]
pub fn interrupted() {
    eprintln!("\nInterrupted: no new calls; finishing the calls in flight (Ctrl-C again to stop at once).");
}

/// The end of an import, for the summary.
#[derive(Debug)]
pub struct RunReport<'a> {
    /// The input file.
    pub input: &'a Path,
    /// The results file.
    pub results: &'a Path,
    /// Rows by status.
    pub tally: &'a Tally,
    /// Rows invalid, failed or not attempted.
    pub problems: &'a [&'a RowResult],
    /// Calls made.
    pub budget: BudgetStats,
    /// How long it took.
    pub elapsed: Duration,
    /// Whether it ran against an in-process sandbox.
    pub sandbox: bool,
    /// Extra lines worth saying.
    pub notes: &'a [String],
}

/// The one-screen summary after an import.
#[expect(clippy::print_stderr, reason = "the summary goes to stderr")]
pub fn run_report(report: &RunReport<'_>) {
    let input = report.input.display();
    for problem in report.problems.iter().take(PROBLEMS_SHOWN) {
        eprintln!("{input}:{}: {}: {}", problem.line, problem.status, problem.detail);
    }
    if report.problems.len() > PROBLEMS_SHOWN {
        eprintln!("... and {} more (see the results file)", report.problems.len() - PROBLEMS_SHOWN);
    }
    let counts: Vec<String> = Status::ALL
        .iter()
        .filter(|s| report.tally.count(**s) > 0)
        .map(|s| format!("{} {s}", report.tally.count(*s)))
        .collect();
    eprintln!("{input}: {} rows: {}", report.tally.total(), counts.join(", "));
    let budget = &report.budget;
    eprintln!(
        "{} API calls in {:.1}s ({} answered 429, {} retried after errors)",
        budget.requests,
        report.elapsed.as_secs_f64(),
        budget.rate_limited,
        budget.retries
    );
    for note in report.notes {
        eprintln!("{note}");
    }
    if report.sandbox {
        eprintln!("(against an in-process sandbox: its changes end with this run)");
    }
    eprintln!("results: {}", report.results.display());
}

/// What an export says when done.
#[expect(clippy::print_stderr, reason = "the summary goes to stderr; the data may be on stdout")]
pub fn export_report(
    table: &table::Table,
    output: Option<&Path>,
    calls: u64,
    elapsed: Duration,
    sandbox: bool,
) {
    let to = output.map_or_else(|| "standard output".to_string(), |p| p.display().to_string());
    eprintln!(
        "exported {} rows to {to} ({calls} API calls in {:.1}s)",
        table.rows.len(),
        elapsed.as_secs_f64()
    );
    if sandbox {
        eprintln!("(from an in-process sandbox)");
    }
}

/// Where the undo file went.
#[expect(clippy::print_stderr, reason = "the summary goes to stderr")]
pub fn undo_note(path: &Path, rows: usize) {
    eprintln!("undo: {} ({rows} rows; `roster import {}` reverses this run)", path.display(), path.display());
}
