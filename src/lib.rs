//! `roster` administers users, groups and roles of `SaaS` platforms in bulk from spreadsheets.
//!
//! The binary is a thin shell over [`run`]; everything it does is reachable from here, so
//! tests drive the same code in-process. The [`sandbox`] module is a local emulator of each
//! platform's API, used to rehearse migrations and by every test of the client.

pub mod cli;
mod commands;
pub mod diff;
pub mod execution;
pub mod export;
pub mod input;
pub mod model;
pub mod outcome;
pub mod output;
pub mod plan;
pub mod providers;
pub mod sandbox;
pub mod settings;
pub mod sync;
pub mod undo;
pub mod validation;

use std::process::ExitCode;

// The README's Rust example is compiled as a doctest, so it can't drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use cli::{Cli, Command};
use settings::{ExportSettings, ImportSettings, SandboxSettings};

/// Exit codes, as documented in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Every row ok, unchanged or skipped.
    Success = 0,
    /// Some row invalid, failed or not attempted.
    Failures = 1,
    /// A usage error, or an input that can't be read.
    Usage = 2,
    /// The tenant could not be reached or refused the token before any row ran.
    Unreachable = 3,
    /// Interrupted (Ctrl-C).
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Runs a parsed command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let env = |name: &str| std::env::var(name).ok();
    match cli.command {
        Command::Validate(args) => {
            let rules = match settings::provider(args.provider, &env)? {
                cli::ProviderName::Atlan => validation::Rules::ATLAN,
                cli::ProviderName::Uipath => validation::Rules::UIPATH,
            };
            commands::validate(&args.file, &rules)
        }
        Command::Import(args) => commands::import(&ImportSettings::from_cli(&args, &env)?).await,
        Command::Export(args) => commands::export(&ExportSettings::from_cli(&args, &env)?).await,
        Command::Diff(args) => commands::diff(&args.old, &args.new, args.output.as_deref()),
        Command::Sandbox(args) => {
            commands::sandbox(&SandboxSettings::from_cli(&args, env(providers::atlan::API_KEY_ENV))?).await
        }
    }
}

/// The exit code for a fatal error: 3 when the tenant could not be reached or read, else 2.
#[must_use]
pub fn exit_code(error: &anyhow::Error) -> Exit {
    commands::exit_code(error)
}
