//! The results file: every input row with its own cells plus `line`, `status`, `detail`,
//! `http_status`, `attempts`, `request_id`, `user_id` and `group_id`.
//!
//! It is opened before the first request (a bad path fails the run early), each row is
//! written and flushed as it finishes (a killed run keeps what it had), and at the end the
//! file is rewritten in input order, atomically.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::input::{InputFile, RESULT_COLUMNS};
use crate::outcome::{RowResult, Status};

/// Why the results file can't be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Writing failed.
    #[error("cannot write the results file {path}: {error} (choose another place with --results)")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS or CSV error, shown in the message (not named `source`: the error
        /// chain would print it twice).
        error: std::io::Error,
    },
    /// An earlier results file (for `--resume`) can't be used.
    #[error("cannot resume from {path}: {problem}")]
    Resume {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// Writes the results of one run.
#[derive(Debug)]
pub struct ResultsWriter {
    path: PathBuf,
    writer: csv::Writer<File>,
    header: Vec<String>,
    cells: HashMap<u64, Vec<String>>,
    kept_headers: Vec<String>,
    synthetic: std::collections::HashSet<u64>,
    delimiter: u8,
    bom: bool,
    written: BTreeMap<u64, RowResult>,
}

impl ResultsWriter {
    /// Creates (or truncates) the file and writes the header.
    pub fn create(path: &Path, input: &InputFile) -> Result<ResultsWriter, ResultsError> {
        let kept = input.kept_columns();
        let mut header: Vec<String> = kept.iter().map(|i| input.headers[*i].clone()).collect();
        header.extend(RESULT_COLUMNS.iter().map(|c| (*c).to_string()));
        let cells = input
            .rows
            .iter()
            .map(|row| (row.line, kept.iter().map(|i| row.cells[*i].clone()).collect()))
            .collect();
        let file = open(path, input.bom)?;
        let mut writer = csv::WriterBuilder::new().delimiter(input.delimiter).from_writer(file);
        writer.write_record(&header).map_err(|e| write_error(path, e))?;
        writer.flush().map_err(|e| write_error(path, e.into()))?;
        Ok(ResultsWriter {
            path: path.to_owned(),
            writer,
            kept_headers: kept.iter().map(|i| input.headers[*i].clone()).collect(),
            synthetic: std::collections::HashSet::new(),
            header,
            cells,
            delimiter: input.delimiter,
            bom: input.bom,
            written: BTreeMap::new(),
        })
    }

    /// Registers a row that has no input line (a removal `--sync` added) with the cells it
    /// shows: `action`, `user` and `group` filled in, the rest empty. Its `line` column stays
    /// empty.
    pub fn add_synthetic(&mut self, line: u64, fill: &dyn Fn(&str) -> Option<String>) {
        let cells = self.kept_headers.iter().map(|h| fill(h).unwrap_or_default()).collect();
        self.cells.insert(line, cells);
        self.synthetic.insert(line);
    }

    /// Where the results go.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a row has its result already.
    #[must_use]
    pub fn has(&self, line: u64) -> bool {
        self.written.contains_key(&line)
    }

    /// Writes one row's result and flushes it to disk.
    pub fn write(&mut self, result: RowResult) -> Result<(), ResultsError> {
        let record = self.record(&result);
        self.writer.write_record(&record).map_err(|e| write_error(&self.path, e))?;
        self.writer.flush().map_err(|e| write_error(&self.path, e.into()))?;
        self.written.insert(result.line, result);
        Ok(())
    }

    /// Rewrites the file with every row in input order, replacing it atomically.
    pub fn finish(mut self) -> Result<BTreeMap<u64, RowResult>, ResultsError> {
        self.writer.flush().map_err(|e| write_error(&self.path, e.into()))?;
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_owned();
        tmp_name.push(".tmp");
        let tmp = self.path.with_file_name(tmp_name);
        {
            let file = open(&tmp, self.bom)?;
            let mut sorted = csv::WriterBuilder::new().delimiter(self.delimiter).from_writer(file);
            sorted.write_record(&self.header).map_err(|e| write_error(&tmp, e))?;
            for result in self.written.values() {
                sorted.write_record(self.record(result)).map_err(|e| write_error(&tmp, e))?;
            }
            let file = sorted.into_inner().map_err(|e| write_error(&tmp, e.into_error().into()))?;
            file.sync_all().map_err(|e| write_error(&tmp, e.into()))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| write_error(&self.path, e.into()))?;
        Ok(self.written)
    }

    fn record(&self, result: &RowResult) -> Vec<String> {
        let mut record = self.cells.get(&result.line).cloned().unwrap_or_default();
        let optional = |value: Option<String>| value.unwrap_or_default();
        let line =
            if self.synthetic.contains(&result.line) { String::new() } else { result.line.to_string() };
        record.extend([
            line,
            result.status.to_string(),
            result.detail.clone(),
            optional(result.http_status.map(|s| s.to_string())),
            optional(result.attempts.map(|a| a.to_string())),
            optional(result.request_id.clone()),
            optional(result.user_id.clone()),
            optional(result.group_id.clone()),
        ]);
        record
    }
}

fn open(path: &Path, bom: bool) -> Result<File, ResultsError> {
    let mut file = File::create(path).map_err(|e| write_error(path, e.into()))?;
    if bom {
        file.write_all(b"\xEF\xBB\xBF").map_err(|e| write_error(path, e.into()))?;
    }
    Ok(file)
}

fn write_error(path: &Path, error: csv::Error) -> ResultsError {
    let cause = match error.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    };
    ResultsError::Write { path: path.to_owned(), error: cause }
}

/// The default results path: beside the input, `<stem>.results.csv`.
#[must_use]
pub fn default_path(input: &Path) -> PathBuf {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    input.with_file_name(format!("{stem}.results.csv"))
}

/// What an earlier run did with each line, read back for `--resume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earlier {
    /// Each line's status and detail.
    pub rows: HashMap<u64, (Status, String)>,
}

impl Earlier {
    /// Reads an earlier results file and checks it belongs to `input`: every line it has
    /// must carry the same cells as that line of the input.
    pub fn read(path: &Path, input: &InputFile) -> Result<Earlier, ResultsError> {
        let problem = |problem: String| ResultsError::Resume { path: path.to_owned(), problem };
        let earlier = InputFile::read(path).map_err(|e| problem(e.to_string()))?;
        let column =
            |name: &str| {
                earlier.headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name)).ok_or_else(|| {
                    problem(format!("it has no {name} column; is it a results file of roster?"))
                })
            };
        let (line_at, status_at, detail_at) = (column("line")?, column("status")?, column("detail")?);
        let kept = input.kept_columns();
        let by_line: HashMap<u64, &crate::input::RawRow> = input.rows.iter().map(|r| (r.line, r)).collect();
        let mut rows = HashMap::new();
        for row in &earlier.rows {
            let cell = |i: usize| row.cells.get(i).map_or("", |c| c.as_str());
            let line: u64 = cell(line_at).trim().parse().map_err(|_| {
                problem(format!("line {}: {:?} is not a line number", row.line, cell(line_at)))
            })?;
            let status: Status =
                cell(status_at).parse().map_err(|e| problem(format!("line {}: {e}", row.line)))?;
            let original = by_line.get(&line).ok_or_else(|| {
                problem(format!("it has line {line}, which {} does not", input.path.display()))
            })?;
            let same = kept.iter().enumerate().all(|(position, i)| cell(position) == original.cells[*i]);
            if !same {
                return Err(problem(format!(
                    "line {line} differs from line {line} of {}; resume with the input file that run used",
                    input.path.display()
                )));
            }
            rows.insert(line, (status, cell(detail_at).to_string()));
        }
        Ok(Earlier { rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dir: &Path, text: &str) -> InputFile {
        let path = dir.join("in.csv");
        std::fs::write(&path, text).unwrap();
        InputFile::read(&path).unwrap()
    }

    #[test]
    fn rows_are_flushed_as_they_finish_and_sorted_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let input = input(dir.path(), "ticket;action;user;group\nT-1;add;jdoe;finance\nT-2;remove;ann;hr\n");
        let path = dir.path().join("out.csv");
        let mut writer = ResultsWriter::create(&path, &input).unwrap();
        writer.write(RowResult::new(3, Status::Failed, "HTTP 404: gone")).unwrap();
        let partial = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            partial,
            "ticket;action;user;group;line;status;detail;http_status;attempts;request_id;user_id;group_id\n\
             T-2;remove;ann;hr;3;failed;HTTP 404: gone;;;;;\n"
        );
        writer
            .write(RowResult { user_id: Some("u1".into()), ..RowResult::new(2, Status::Ok, "added") })
            .unwrap();
        writer.finish().unwrap();
        let lines: Vec<String> =
            std::fs::read_to_string(&path).unwrap().lines().skip(1).map(String::from).collect();
        assert_eq!(
            lines,
            ["T-1;add;jdoe;finance;2;ok;added;;;;u1;", "T-2;remove;ann;hr;3;failed;HTTP 404: gone;;;;;"]
        );
    }

    #[test]
    fn a_results_file_is_read_back_for_resume_and_must_match_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let original = input(dir.path(), "action,user,group\nadd,jdoe,finance\nadd,ann,hr\n");
        let path = dir.path().join("in.results.csv");
        let mut writer = ResultsWriter::create(&path, &original).unwrap();
        writer.write(RowResult::new(2, Status::Ok, "added")).unwrap();
        writer.write(RowResult::new(3, Status::Failed, "boom")).unwrap();
        writer.finish().unwrap();
        let earlier = Earlier::read(&path, &original).unwrap();
        assert_eq!(earlier.rows[&2], (Status::Ok, "added".to_string()));
        assert_eq!(earlier.rows[&3].0, Status::Failed);
        let edited = input(dir.path(), "action,user,group\nadd,jdoe,finance\nadd,bob,hr\n");
        let error = Earlier::read(&path, &edited).unwrap_err().to_string();
        assert!(error.contains("line 3 differs"), "{error}");
    }

    #[test]
    fn the_default_path_sits_beside_the_input() {
        assert_eq!(default_path(Path::new("dir/assignments.csv")), Path::new("dir/assignments.results.csv"));
    }
}
