//! The progress bar on stderr: rows done of all, ok and failed so far, the pace in calls a
//! minute and the time left at the budget's rate. Shown only on a terminal and without
//! `--quiet`; the engine reports events and never touches indicatif itself.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::outcome::{Status, Tally};

/// The run's progress display (possibly hidden).
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    tally: Tally,
    calls_total: u64,
    calls_done: u64,
}

impl Progress {
    /// A bar over `rows` rows, on stderr when it is a terminal and `quiet` is off.
    #[must_use]
    pub fn new(rows: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(rows), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} rows  {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress { bar, started: Instant::now(), tally: Tally::default(), calls_total: 0, calls_done: 0 }
    }

    /// Sets how many calls the run will make.
    pub fn expect_calls(&mut self, calls: u64) {
        self.calls_total = calls;
    }

    /// A row got its final status.
    pub fn row(&mut self, status: Status) {
        self.tally.add(status);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// A call finished; `rate` is the budget's current pace in calls a minute.
    pub fn call(&mut self, rate: u32) {
        self.calls_done += 1;
        let Some(bar) = &self.bar else { return };
        let elapsed_ms = self.started.elapsed().as_millis().max(1);
        let pace = u128::from(self.calls_done) * 60_000 / elapsed_ms;
        let left = self.calls_total.saturating_sub(self.calls_done);
        let eta = Duration::from_secs(left * 60 / u64::from(rate.max(1)));
        bar.set_message(format!(
            "ok {}  failed {}  {pace} calls/min  ETA {}",
            self.tally.count(Status::Ok),
            self.tally.count(Status::Failed),
            indicatif::HumanDuration(eta)
        ));
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar for reads before anything is written (an export's member listings).
#[derive(Debug)]
pub struct Reading {
    bar: Option<ProgressBar>,
}

impl Reading {
    /// A bar on stderr when it is a terminal and `quiet` is off.
    #[must_use]
    pub fn new(what: &str, quiet: bool) -> Reading {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what}  {{elapsed}}"))
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        Reading { bar }
    }

    /// `done` of `total` read.
    pub fn update(&self, done: usize, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
