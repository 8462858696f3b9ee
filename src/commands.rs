//! The subcommands, each wiring settings to the modules that do the work: read, validate,
//! read the tenant, plan, then apply (or preview, or hold back), recording every row.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::Exit;
use crate::cli::ProviderName;
use crate::execution;
use crate::export;
use crate::input::{Column, InputFile};
use crate::outcome::{RowResult, Status, Tally};
use crate::output::progress::Progress;
use crate::output::results::{Earlier, ResultsWriter};
use crate::output::table;
use crate::output::{self, RunReport};
use crate::plan::{self, Disposition, Effect, Needs, Plan};
use crate::providers::atlan::Atlan;
use crate::providers::http::RetryPolicy;
use crate::providers::uipath::{Uipath, UipathConfig};
use crate::providers::{Provider, ProviderError, Secret};
use crate::sandbox::uipath::UiPathOptions;
use crate::sandbox::uipath::seed::Seed as UiPathSeed;
use crate::sandbox::{Sandbox, SandboxOptions, Seed, UiPathSandbox};
use crate::settings::{ExportSettings, ImportSettings, SandboxPlatform, SandboxSettings, TenantSettings};
use crate::sync;
use crate::undo;
use crate::validation::{self, Verdict};

/// `roster validate FILE`: every row checked offline; nothing is written anywhere.
pub(crate) fn validate(path: &std::path::Path, rules: &validation::Rules) -> anyhow::Result<Exit> {
    let input = InputFile::read(path)?;
    let checked = validation::validate_for(&input, rules);
    output::validation_report(&input, &checked);
    let invalid = checked.iter().any(|c| matches!(c.verdict, Verdict::Invalid(_)));
    Ok(if invalid { Exit::Failures } else { Exit::Success })
}

/// `roster sandbox`: serves until Ctrl-C.
pub(crate) async fn sandbox(settings: &SandboxSettings) -> anyhow::Result<Exit> {
    match &settings.platform {
        SandboxPlatform::Atlan { options, .. } => {
            let seed = settings.tenant.load()?;
            let sandbox = Sandbox::bind(settings.listen, seed.clone(), options.clone()).await?;
            output::sandbox_banner(&sandbox, settings, &seed);
            tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
            sandbox.stop().await;
        }
        SandboxPlatform::Uipath { options, secret } => {
            let seed = settings.tenant.load_uipath(secret)?;
            let sandbox = UiPathSandbox::bind(settings.listen, seed.clone(), options.clone()).await?;
            output::uipath_sandbox_banner(&sandbox, settings, options, &seed);
            tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
            sandbox.stop().await;
        }
    }
    Ok(Exit::Success)
}

/// `roster import FILE`.
pub(crate) async fn import(settings: &ImportSettings) -> anyhow::Result<Exit> {
    // Ctrl-C: stop dispatching, let calls in flight finish, record the rest. A second
    // Ctrl-C stops at once; every row finished so far is already on disk.
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
            output::interrupted();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(Exit::Interrupted as u8));
            }
        }
    });
    let (connected, sandbox) = connect(&settings.tenant, settings.rate, &cancel).await?;
    match &connected {
        Connected::Atlan(provider) => {
            import_with(provider.as_ref(), settings, sandbox.is_some(), &cancel).await
        }
        Connected::Uipath(provider) => {
            import_with(provider.as_ref(), settings, sandbox.is_some(), &cancel).await
        }
    }
}

async fn import_with<P: Provider>(
    provider: &P,
    settings: &ImportSettings,
    sandbox: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let input = InputFile::read(&settings.input)?;
    let earlier = settings.resume.as_deref().map(|path| Earlier::read(path, &input)).transpose()?;
    let mut results = ResultsWriter::create(&settings.results, &input)?;
    let mut progress = Progress::new(input.rows.len() as u64, settings.quiet);
    let carried = carry_earlier(earlier.as_ref(), &mut results, &mut progress)?;
    let rules = settings.tenant.rules();
    let checked: Vec<_> = validation::validate_for(&input, &rules)
        .into_iter()
        .filter(|c| !carried.contains_key(&c.line))
        .collect();

    let needs = Needs::of(&checked, settings.sync);
    let directory = tokio::select! {
        directory = provider.snapshot(&needs) => Some(directory),
        () = cancel.cancelled() => None,
    };
    let directory = match directory {
        Some(Ok(directory)) => directory,
        Some(Err(error)) => {
            let reason = format!("not attempted: {error}");
            record_unreached(&checked, &reason, &mut results, &mut progress)?;
            finish(results, &progress, settings, provider, started, sandbox, &[])?;
            return Err(error.into());
        }
        None => {
            let reason = "not attempted: the run was interrupted; rerun with --resume";
            record_unreached(&checked, reason, &mut results, &mut progress)?;
            finish(results, &progress, settings, provider, started, sandbox, &[])?;
            return Ok(Exit::Interrupted);
        }
    };
    let mut plan = plan::plan(&checked, &directory);
    let refusal = if settings.sync {
        let report = sync::add_removals(&mut plan, &checked, &directory);
        register_synced_rows(&plan, &input, &mut results);
        report.refusal(settings.max_removals)
    } else {
        None
    };
    let calls = provider.batch(&plan.effects);
    let invalid = plan.rows.iter().filter(|r| matches!(r.disposition, Disposition::Invalid(_))).count();
    let mut notes = notes_for(&plan, invalid, settings);

    // A dry run shows what the valid rows would do even when others are invalid.
    if settings.dry_run {
        execution::preview::<P>(&plan, &calls, &mut results, &mut progress)?;
        notes.extend(refusal.map(|why| format!("a real run would refuse: {why}")));
    } else if let Some(why) = refusal {
        let reason = format!("not sent: {why}");
        execution::hold(&plan, Status::Skipped, &reason, &mut results, &mut progress)?;
        finish(results, &progress, settings, provider, started, sandbox, &notes)?;
        anyhow::bail!("{why}; nothing was sent");
    } else if invalid > 0 && !settings.skip_invalid {
        let reason = format!(
            "not sent: {invalid} row(s) of this file are invalid; fix them, or rerun with --skip-invalid to send the valid rows"
        );
        execution::hold(&plan, Status::Skipped, &reason, &mut results, &mut progress)?;
    } else if !confirmed(&plan, settings) {
        let reason = "not sent: removals and deletions need confirmation; rerun with --yes (see them first with --dry-run)";
        execution::hold(&plan, Status::Skipped, reason, &mut results, &mut progress)?;
        finish(results, &progress, settings, provider, started, sandbox, &notes)?;
        anyhow::bail!("{}; nothing was sent. Rerun with --yes to confirm", destructive_summary(&plan));
    } else {
        execution::apply(
            provider,
            &plan,
            &calls,
            settings.concurrency.get(),
            &mut results,
            &mut progress,
            cancel,
        )
        .await?;
    }
    let (tally, rows) = finish(results, &progress, settings, provider, started, sandbox, &notes)?;
    if !settings.dry_run {
        write_undo(&undo::undo(&plan, &directory, &rows), settings, settings.quiet)?;
    }
    Ok(if cancel.is_cancelled() {
        Exit::Interrupted
    } else if tally.has_problems() {
        Exit::Failures
    } else {
        Exit::Success
    })
}

/// Gives the removals `--sync` added a row in the results: `remove`, the user, the group.
fn register_synced_rows(plan: &Plan, input: &InputFile, results: &mut ResultsWriter) {
    for row in &plan.rows {
        let Some((user, group)) = &row.synced else { continue };
        results.add_synthetic(row.line, &|header| {
            if header == input.header(Column::Action) {
                Some("remove".into())
            } else if header == input.header(Column::User) {
                Some(user.clone())
            } else if header == input.header(Column::Group) {
                Some(group.clone())
            } else {
                None
            }
        });
    }
}

/// Writes the undo file when the run changed something.
fn write_undo(table: &table::Table, settings: &ImportSettings, quiet: bool) -> anyhow::Result<()> {
    if table.rows.is_empty() {
        return Ok(());
    }
    table::write(table, Some(&settings.undo), table::Format::Csv, false)?;
    if !quiet {
        output::undo_note(&settings.undo, table.rows.len());
    }
    Ok(())
}

/// `roster export`: reads the tenant and writes the table.
pub(crate) async fn export(settings: &ExportSettings) -> anyhow::Result<Exit> {
    let cancel = CancellationToken::new();
    let (connected, sandbox) = connect(&settings.tenant, settings.rate, &cancel).await?;
    match &connected {
        Connected::Atlan(provider) => export_with(provider.as_ref(), settings, sandbox.is_some()).await,
        Connected::Uipath(provider) => export_with(provider.as_ref(), settings, sandbox.is_some()).await,
    }
}

async fn export_with<P: Provider>(
    provider: &P,
    settings: &ExportSettings,
    sandbox: bool,
) -> anyhow::Result<Exit> {
    let started = Instant::now();
    // A file that can't be written fails now, before the tenant's budget is spent on reads.
    if let Some(path) = &settings.output {
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let reading = output::progress::Reading::new("groups", settings.quiet);
    let view = provider.read_view(settings.kind, &|done, total| reading.update(done, total)).await;
    reading.finish();
    let table = export::table(settings.kind, &view?, settings.tenant.rules().roles);
    table::write(&table, settings.output.as_deref(), settings.format, settings.bom)?;
    if !settings.quiet {
        output::export_report(
            &table,
            settings.output.as_deref(),
            provider.budgets().stats().requests,
            started.elapsed(),
            sandbox,
        );
    }
    Ok(Exit::Success)
}

/// `roster diff OLD NEW`: what changed between two exports.
pub(crate) fn diff(
    old: &std::path::Path,
    new: &std::path::Path,
    output: Option<&std::path::Path>,
) -> anyhow::Result<Exit> {
    let table = crate::diff::diff(&InputFile::read(old)?, &InputFile::read(new)?);
    table::write(&table, output, table::Format::Csv, false)?;
    Ok(Exit::Success)
}

/// Rows an earlier run finished are written as they were and not planned again.
fn carry_earlier(
    earlier: Option<&Earlier>,
    results: &mut ResultsWriter,
    progress: &mut Progress,
) -> anyhow::Result<HashMap<u64, Status>> {
    let mut carried = HashMap::new();
    let Some(earlier) = earlier else { return Ok(carried) };
    let mut done: Vec<_> = earlier.rows.iter().filter(|(_, (status, _))| status.is_done()).collect();
    done.sort_by_key(|(line, _)| **line);
    for (line, (status, detail)) in done {
        let detail = if detail.ends_with("(earlier run)") {
            detail.clone()
        } else {
            format!("{detail} (earlier run)")
        };
        progress.row(*status);
        results.write(RowResult::new(*line, *status, detail))?;
        carried.insert(*line, *status);
    }
    Ok(carried)
}

/// The tenant could not be read (or the run was interrupted first): invalid rows are still
/// reported as invalid, and every other row as not attempted.
fn record_unreached(
    checked: &[validation::Checked],
    reason: &str,
    results: &mut ResultsWriter,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    for row in checked {
        let result = match &row.verdict {
            Verdict::Invalid(error) => RowResult::new(row.line, Status::Invalid, error.to_string()),
            Verdict::Empty => RowResult::new(row.line, Status::Skipped, "empty row"),
            _ => RowResult::new(row.line, Status::NotAttempted, reason),
        };
        progress.row(result.status);
        results.write(result)?;
    }
    Ok(())
}

/// A sandbox started for this run (`--sandbox`), kept alive while the run goes on.
#[expect(dead_code, reason = "held only so that the sandbox keeps serving until the run ends")]
enum RunSandbox {
    Atlan(Sandbox),
    Uipath(UiPathSandbox),
}

/// A client of one platform.
enum Connected {
    Atlan(Box<Atlan>),
    Uipath(Box<Uipath>),
}

/// Starts the in-process sandbox if asked, and builds the platform's client.
async fn connect(
    tenant: &TenantSettings,
    rate: std::num::NonZeroU32,
    cancel: &CancellationToken,
) -> anyhow::Result<(Connected, Option<RunSandbox>)> {
    let policy = RetryPolicy::default();
    Ok(match tenant {
        TenantSettings::Atlan { base_url, token } => {
            (Connected::Atlan(Box::new(Atlan::new(base_url, token, rate, policy, cancel.clone())?)), None)
        }
        TenantSettings::Uipath(config) => {
            (Connected::Uipath(Box::new(Uipath::new(config.clone(), policy, cancel.clone())?)), None)
        }
        TenantSettings::Sandbox { provider: ProviderName::Atlan, seed } => {
            let seed = Seed::load(seed)?;
            let key = format!("in-process-{}", uuid::Uuid::new_v4().simple());
            let sandbox = Sandbox::start(seed, SandboxOptions::new(key.clone())).await?;
            let provider = Atlan::new(&sandbox.base_url(), &Secret::new(key), rate, policy, cancel.clone())?;
            (Connected::Atlan(Box::new(provider)), Some(RunSandbox::Atlan(sandbox)))
        }
        TenantSettings::Sandbox { provider: ProviderName::Uipath, seed } => {
            let seed = UiPathSeed::load(seed)?;
            // The first application that may write both groups and users.
            let client = seed
                .clients
                .iter()
                .find(|c| ["PM.Group", "PM.User"].iter().all(|s| c.scopes.iter().any(|g| g == s)))
                .cloned()
                .ok_or_else(|| {
                    anyhow::anyhow!("the sandbox seed has no client with the scopes PM.Group and PM.User")
                })?;
            let sandbox = UiPathSandbox::start(seed, UiPathOptions::default()).await?;
            let config = UipathConfig {
                access_url: sandbox.base_url(),
                organization: sandbox.organization(),
                client_id: client.id,
                client_secret: Secret::new(client.secret),
                partition: Some(sandbox.partition_global_id()),
                budgets: Uipath::parse_budgets("").map_err(anyhow::Error::msg)?,
            };
            (
                Connected::Uipath(Box::new(Uipath::new(config, policy, cancel.clone())?)),
                Some(RunSandbox::Uipath(sandbox)),
            )
        }
    })
}

fn destructive_counts(plan: &Plan) -> (usize, usize) {
    let removals = plan.effects.iter().filter(|e| matches!(e, Effect::Leave { .. })).count();
    let deletions = plan.effects.iter().filter(|e| matches!(e, Effect::DeleteGroup { .. })).count();
    (removals, deletions)
}

fn destructive_summary(plan: &Plan) -> String {
    let (removals, deletions) = destructive_counts(plan);
    format!("this import would remove {removals} membership(s) and delete {deletions} group(s)")
}

/// Removals and deletions go ahead with `--yes`, or when a person at a terminal says so
/// after seeing the counts.
fn confirmed(plan: &Plan, settings: &ImportSettings) -> bool {
    let (removals, deletions) = destructive_counts(plan);
    if removals + deletions == 0 || settings.yes {
        return true;
    }
    let others = plan.effects.len() - removals - deletions;
    let question = format!("{} (and make {others} other change(s)). Continue?", destructive_summary(plan));
    output::confirm(&question)
}

fn notes_for(plan: &Plan, invalid: usize, settings: &ImportSettings) -> Vec<String> {
    let mut notes = Vec::new();
    if invalid > 0 && settings.skip_invalid {
        notes.push(format!("{invalid} invalid row(s) were not sent (--skip-invalid)"));
    }
    if settings.dry_run && !plan.effects.is_empty() {
        notes.push("dry run: nothing was changed".into());
    }
    notes
}

fn finish<P: Provider>(
    results: ResultsWriter,
    progress: &Progress,
    settings: &ImportSettings,
    provider: &P,
    started: Instant,
    sandbox: bool,
    notes: &[String],
) -> anyhow::Result<(Tally, std::collections::BTreeMap<u64, RowResult>)> {
    progress.finish();
    let path = results.path().to_owned();
    let rows = results.finish()?;
    let mut tally = Tally::default();
    for result in rows.values() {
        tally.add(result.status);
    }
    if !settings.quiet {
        let failures: Vec<&RowResult> = rows.values().filter(|r| r.status.is_problem()).collect();
        output::run_report(&RunReport {
            input: &settings.input,
            results: &path,
            tally: &tally,
            problems: &failures,
            budget: provider.budgets().stats(),
            elapsed: started.elapsed(),
            sandbox,
            notes,
        });
    }
    Ok((tally, rows))
}

/// Fatal errors are `ProviderError` when the tenant could not be reached or read.
#[must_use]
pub(crate) fn exit_code(error: &anyhow::Error) -> Exit {
    if error.chain().any(|cause| cause.downcast_ref::<ProviderError>().is_some()) {
        Exit::Unreachable
    } else {
        Exit::Usage
    }
}
