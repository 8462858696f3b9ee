//! What became of each row: a failed row is data, not an error. Every input row ends with a
//! [`Status`] in the results file; the statuses decide the exit code.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A row's final status, as written in the results file's `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The change was made.
    Ok,
    /// Already true; nothing was sent for it.
    Unchanged,
    /// Dry run: the change would be made.
    WouldChange,
    /// The row is wrong and was not sent; `detail` says how to fix it.
    Invalid,
    /// The tenant refused or kept failing; `detail` says why.
    Failed,
    /// Not acted on by design (`keep` rows, empty rows, or valid rows held back because
    /// others are invalid); `detail` says why.
    Skipped,
    /// The run stopped before the row's call was made.
    NotAttempted,
}

impl Status {
    /// Every status, in the order summaries list them.
    pub const ALL: [Status; 7] = [
        Status::Ok,
        Status::Unchanged,
        Status::WouldChange,
        Status::Skipped,
        Status::Invalid,
        Status::Failed,
        Status::NotAttempted,
    ];

    /// The status's name in results files.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Unchanged => "unchanged",
            Status::WouldChange => "would_change",
            Status::Invalid => "invalid",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotAttempted => "not_attempted",
        }
    }

    /// Whether the row needs nothing more (so `--resume` leaves it alone).
    #[must_use]
    pub fn is_done(self) -> bool {
        matches!(self, Status::Ok | Status::Unchanged)
    }

    /// Whether the row makes the run's exit code 1.
    #[must_use]
    pub fn is_problem(self) -> bool {
        matches!(self, Status::Invalid | Status::Failed | Status::NotAttempted)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| format!("{text:?} is not a status"))
    }
}

/// One row's result, as the results file has it (with the row's own cells beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    /// The input line.
    pub line: u64,
    /// Its status.
    pub status: Status,
    /// What was done, or the error and what to do.
    pub detail: String,
    /// HTTP status of the call that carried the row.
    pub http_status: Option<u16>,
    /// Attempts that call took.
    pub attempts: Option<u32>,
    /// The request id of that call's last attempt.
    pub request_id: Option<String>,
    /// The user's GUID.
    pub user_id: Option<String>,
    /// The group's GUID.
    pub group_id: Option<String>,
}

impl RowResult {
    /// A result with no call behind it.
    #[must_use]
    pub fn new(line: u64, status: Status, detail: impl Into<String>) -> RowResult {
        RowResult {
            line,
            status,
            detail: detail.into(),
            http_status: None,
            attempts: None,
            request_id: None,
            user_id: None,
            group_id: None,
        }
    }
}

/// Rows counted by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(BTreeMap<Status, usize>);

impl Tally {
    /// Counts one row.
    pub fn add(&mut self, status: Status) {
        *self.0.entry(status).or_default() += 1;
    }

    /// Rows with a status.
    #[must_use]
    pub fn count(&self, status: Status) -> usize {
        self.0.get(&status).copied().unwrap_or(0)
    }

    /// All rows counted.
    #[must_use]
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// Whether some row is invalid, failed or not attempted.
    #[must_use]
    pub fn has_problems(&self) -> bool {
        self.0.iter().any(|(status, count)| status.is_problem() && *count > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
        assert!("done".parse::<Status>().is_err());
    }

    #[test]
    fn only_invalid_failed_and_not_attempted_rows_are_problems() {
        let mut tally = Tally::default();
        for status in [Status::Ok, Status::Unchanged, Status::Skipped, Status::WouldChange] {
            tally.add(status);
        }
        assert!(!tally.has_problems());
        tally.add(Status::NotAttempted);
        assert!(tally.has_problems());
        assert_eq!(tally.total(), 5);
    }
}
