//! What roster prints for people: messages go to stderr, data to stdout.

use crate::sandbox::{Sandbox, Seed};
use crate::settings::SandboxSettings;

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
    if let Some(state) = &settings.options.state_file {
        println!("state:  every change is saved to {}", state.display());
    }
    println!(
        "inspect: {0}/_sandbox/stats  {0}/_sandbox/state  (POST {0}/_sandbox/reset)",
        sandbox.base_url()
    );
    println!("Press Ctrl-C to stop.");
}
