//! `roster` administers users, groups and roles of `SaaS` platforms in bulk from spreadsheets.
//!
//! The binary is a thin shell over [`run`]; everything it does is reachable from here, so
//! tests drive the same code in-process. The [`sandbox`] module is a local emulator of each
//! platform's API, used to rehearse migrations and by every test of the client.

pub mod cli;
pub mod input;
pub mod model;
pub mod output;
pub mod plan;
pub mod providers;
pub mod sandbox;
pub mod settings;
pub mod validation;

use std::process::ExitCode;

// The README's Rust example is compiled as a doctest, so it can't drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use anyhow::Context;

use cli::{Cli, Command, SandboxArgs};
use sandbox::Sandbox;
use settings::{ATLAN_API_KEY_ENV, SandboxSettings};

/// Exit codes, as documented in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything worked.
    Success = 0,
    /// A usage error or unreadable input.
    Usage = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Runs a parsed command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Sandbox(args) => run_sandbox(&args).await,
    }
}

async fn run_sandbox(args: &SandboxArgs) -> anyhow::Result<Exit> {
    let settings = SandboxSettings::from_cli(args, std::env::var(ATLAN_API_KEY_ENV).ok());
    let seed = settings.tenant.load()?;
    let sandbox = Sandbox::bind(settings.listen, seed.clone(), settings.options.clone()).await?;
    output::sandbox_banner(&sandbox, &settings, &seed);
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    sandbox.stop().await;
    Ok(Exit::Success)
}
