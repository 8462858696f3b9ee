//! roster's one integration test binary (`cargo test --test it`).
//!
//! Every test talks real HTTP on loopback to a sandbox of its own; the command tests run the
//! real `roster` binary against it.

/// The harness: `TestSandbox` (in-process sandbox on `127.0.0.1:0` plus a client), the
/// sample tenant's GUIDs, a guard for `roster sandbox` processes, and `Workspace` /
/// `RosterRun` to run `roster import` and `roster validate` and read their results files.
mod common;

/// The Atlan sandbox's contract as clients see it: every endpoint, paging, filters,
/// error bodies, auth, and the `/_sandbox` control routes.
mod sandbox;

/// The Atlan sandbox when things go wrong: rate limit and lockout, seeded fault
/// injection, and state surviving a restart (in-process and a SIGKILLed `roster`).
mod sandbox_limits;

/// The UiPath sandbox's contract: tokens and their errors (401, the scope 403), every group
/// and user endpoint, paging and search, `ProblemDetails` and the Identity Server's error
/// envelope, built-in groups, the per-method budgets with Retry-After and violations, seeded
/// faults, and state surviving a restart (in-process and a SIGKILLed `roster`).
mod uipath_sandbox;

/// The command line as a user meets it: `--help`, usage errors, exit codes, tenant and
/// token from flags or env, plain http refused except to loopback, the token never shown.
mod cli;

/// `roster validate` and the validation messages a dry run writes: one case per rule,
/// the messages snapshot-tested, whole-file problems, input formats.
mod validate;

/// `roster import` end to end: every action, dry run, coalescing, confirmation, invalid
/// rows, 429 storms, injected faults, resume, SIGKILL and Ctrl-C, asserted on the results
/// file, the exit code, and what the sandbox saw and holds.
mod import;

/// `roster export` and `roster diff`: what each export holds and costs in calls, importing an
/// unedited export changes nothing, workbooks in and out, formula cells neutralised and read
/// back unchanged, and the diff of two exports.
mod export;

/// Access reviews, `--sync` and undo: an export edited by reviewers and imported, groups made
/// equal to a file within the guard rails, and the undo file putting the tenant back.
mod review;

/// `roster import`, `export`, reviews, `--sync` and undo against the UiPath sandbox: one PUT
/// per group per chunk, token renewal, UiPath's rules, and the credential errors.
mod uipath_import;
