//! roster's one integration test binary (`cargo test --test it`).
//!
//! Every test talks real HTTP on loopback to a sandbox of its own. Modules to come, as the
//! commands land: `import` (rows, statuses, calls that reached the sandbox), `export`
//! (export, edit, import round trip), `validate` (one case per rule) and `cli` (flags, exit
//! codes, `--help`).

/// The harness: `TestSandbox` (in-process sandbox on `127.0.0.1:0` plus a client), the
/// sample tenant's GUIDs, and a guard for `roster` processes.
mod common;

/// The Atlan sandbox's contract as clients see it: every endpoint, paging, filters,
/// error bodies, auth, and the `/_sandbox` control routes.
mod sandbox;

/// The Atlan sandbox when things go wrong: rate limit and lockout, seeded fault
/// injection, and state surviving a restart (in-process and a SIGKILLed `roster`).
mod sandbox_limits;
