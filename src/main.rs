//! The `roster` binary: parse the command line, run it, print any error once.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = roster::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&anyhow::Error::new(error).context("cannot start the async runtime")),
    };
    match runtime.block_on(roster::run(cli)) {
        Ok(exit) => exit.into(),
        Err(error) => fail(&error),
    }
}

#[expect(clippy::print_stderr, reason = "the one place fatal errors are printed")]
fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    roster::exit_code(error).into()
}
