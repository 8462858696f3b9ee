//! Carrying out a plan: the provider's calls fan out with `buffer_unordered`, and one loop
//! owns the results file and the progress bar, writing each row as its call finishes.
//!
//! On cancellation (Ctrl-C) no new call starts, the calls in flight finish, and every row
//! still waiting is written as `not_attempted`. Rate limiting and retries live in the
//! provider, not here.

use std::collections::HashMap;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::outcome::{RowResult, Status};
use crate::output::progress::Progress;
use crate::output::results::{ResultsError, ResultsWriter};
use crate::plan::{Disposition, Effect, Plan, PlannedRow};
use crate::providers::{CallOutcome, EffectResult, Provider};

/// Writes row results, with the duplicates of each row following it.
struct Recorder<'a> {
    results: &'a mut ResultsWriter,
    progress: &'a mut Progress,
    rows: HashMap<u64, &'a PlannedRow>,
    duplicates: HashMap<u64, Vec<u64>>,
}

impl<'a> Recorder<'a> {
    fn new(plan: &'a Plan, results: &'a mut ResultsWriter, progress: &'a mut Progress) -> Recorder<'a> {
        let mut duplicates: HashMap<u64, Vec<u64>> = HashMap::new();
        for row in &plan.rows {
            if let Disposition::Duplicate { of } = row.disposition {
                duplicates.entry(of).or_default().push(row.line);
            }
        }
        Recorder { results, progress, rows: plan.rows.iter().map(|r| (r.line, r)).collect(), duplicates }
    }

    /// Writes a row's result (filling in its resolved GUIDs) and those of its duplicates.
    fn record(&mut self, mut result: RowResult) -> Result<(), ResultsError> {
        if let Some(row) = self.rows.get(&result.line) {
            result.user_id = result.user_id.or_else(|| row.user_id.clone());
            result.group_id = result.group_id.or_else(|| row.group_id.clone());
            if row.synced.is_some() {
                result.detail = format!("{} (--sync: the file does not list this membership)", result.detail);
            }
        }
        let copies: Vec<RowResult> = self
            .duplicates
            .get(&result.line)
            .into_iter()
            .flatten()
            .map(|line| RowResult {
                line: *line,
                detail: format!("duplicate of line {}, sent once: {}", result.line, result.detail),
                user_id: None,
                group_id: None,
                ..result.clone()
            })
            .collect();
        self.write(result)?;
        for copy in copies {
            self.record(copy)?;
        }
        Ok(())
    }

    fn write(&mut self, result: RowResult) -> Result<(), ResultsError> {
        self.progress.row(result.status);
        self.results.write(result)
    }

    /// Rows whose outcome the plan already decided: invalid, unchanged, skipped.
    fn settled(&mut self, plan: &Plan) -> Result<(), ResultsError> {
        for row in &plan.rows {
            let result = match &row.disposition {
                Disposition::Invalid(error) => RowResult::new(row.line, Status::Invalid, error.to_string()),
                Disposition::Unchanged(detail) => RowResult::new(row.line, Status::Unchanged, detail.clone()),
                Disposition::Skipped(detail) => RowResult::new(row.line, Status::Skipped, detail.clone()),
                Disposition::Change(_) | Disposition::Duplicate { .. } => continue,
            };
            self.record(result)?;
        }
        Ok(())
    }

    /// Every row of the plan that has no result yet gets `status` with `detail`.
    fn remaining(&mut self, plan: &Plan, status: Status, detail: &str) -> Result<(), ResultsError> {
        for row in &plan.rows {
            if matches!(row.disposition, Disposition::Change(_)) && !self.results.has(row.line) {
                self.record(RowResult::new(row.line, status, detail))?;
            }
        }
        Ok(())
    }
}

/// Makes the plan's changes and records every row.
pub async fn apply<P: Provider>(
    provider: &P,
    plan: &Plan,
    calls: &[P::Call],
    concurrency: usize,
    results: &mut ResultsWriter,
    progress: &mut Progress,
    cancel: &CancellationToken,
) -> Result<(), ResultsError> {
    let mut recorder = Recorder::new(plan, results, progress);
    recorder.settled(plan)?;
    recorder.progress.expect_calls(calls.len() as u64);
    let lines = plan.lines_by_effect();
    let outcomes = futures::stream::iter(calls)
        .take_until(cancel.cancelled())
        .map(|call| provider.execute(call))
        .buffer_unordered(concurrency.max(1));
    let mut outcomes = std::pin::pin!(outcomes);
    while let Some(outcome) = outcomes.next().await {
        recorder.progress.call(provider.budgets().current_rate());
        record_outcome(&mut recorder, &lines, &outcome)?;
    }
    recorder.remaining(
        plan,
        Status::NotAttempted,
        "not attempted: the run was interrupted; rerun with --resume",
    )
}

fn record_outcome(
    recorder: &mut Recorder<'_>,
    lines: &[Vec<u64>],
    outcome: &CallOutcome,
) -> Result<(), ResultsError> {
    for (effect, result) in &outcome.effects {
        let (status, detail) = match result {
            EffectResult::Done(detail) => (Status::Ok, detail.clone()),
            EffectResult::Failed(detail) => (Status::Failed, detail.clone()),
            EffectResult::NotSent(detail) => (Status::NotAttempted, detail.clone()),
        };
        for &line in &lines[*effect] {
            recorder.record(RowResult {
                http_status: outcome.http_status,
                attempts: Some(outcome.attempts),
                request_id: outcome.request_id.clone(),
                ..RowResult::new(line, status, detail.clone())
            })?;
        }
    }
    Ok(())
}

/// A dry run: every row that would change says what would be sent for it.
pub fn preview<P: Provider>(
    plan: &Plan,
    calls: &[P::Call],
    results: &mut ResultsWriter,
    progress: &mut Progress,
) -> Result<(), ResultsError> {
    let mut recorder = Recorder::new(plan, results, progress);
    recorder.settled(plan)?;
    let lines = plan.lines_by_effect();
    for call in calls {
        let effects = P::effects_of(call);
        let description = P::describe(call);
        for effect in effects {
            let detail = format!("would {}: {description}", intent(&plan.effects[effect]));
            for &line in &lines[effect] {
                recorder.record(RowResult::new(line, Status::WouldChange, detail.clone()))?;
            }
        }
    }
    Ok(())
}

/// Records the plan without sending anything: every row that would change gets `status`
/// with `reason` (`skipped` when other rows are invalid or removals were not confirmed,
/// `not_attempted` when the run stopped before its first call).
pub fn hold(
    plan: &Plan,
    status: Status,
    reason: &str,
    results: &mut ResultsWriter,
    progress: &mut Progress,
) -> Result<(), ResultsError> {
    let mut recorder = Recorder::new(plan, results, progress);
    recorder.settled(plan)?;
    recorder.remaining(plan, status, reason)
}

fn intent(effect: &Effect) -> String {
    match effect {
        Effect::Join { .. } => "add the user to the group".into(),
        Effect::Leave { .. } => "remove the user from the group".into(),
        Effect::SetRole { role_name, .. } => format!("set the role to {role_name}"),
        Effect::CreateGroup { name, .. } => format!("create group {name}"),
        Effect::UpdateGroup { name, .. } => format!("update group {name}"),
        Effect::DeleteGroup { .. } => "delete the group".into(),
    }
}
