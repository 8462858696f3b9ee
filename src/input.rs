//! Reading assignment files: UTF-8 with or without a BOM, `,` `;` or tab delimiters
//! (sniffed from the header), CRLF or LF, headers case-insensitive and in any order.
//!
//! Columns roster doesn't know are kept as they are, to be carried into the results file.
//! Cells are kept raw; parsing them is validation's job, so that each error can name its
//! cell.

use std::path::{Path, PathBuf};

/// The columns roster reads. Any other column is carried through untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// `action`.
    Action,
    /// `user`: GUID, username or email.
    User,
    /// `group`: GUID or internal name.
    Group,
    /// `role`.
    Role,
    /// `alias` of a group.
    Alias,
    /// `description` of a group.
    Description,
    /// `is_default` of a group.
    IsDefault,
    /// `decision` of a reviewer on an exported `keep` row: `keep` or `revoke`.
    Decision,
    /// `new_name` of a group an `update_group` row renames.
    NewName,
}

impl Column {
    /// Every column roster reads.
    pub const ALL: [Column; 9] = [
        Column::Action,
        Column::User,
        Column::Group,
        Column::Role,
        Column::Alias,
        Column::Description,
        Column::IsDefault,
        Column::Decision,
        Column::NewName,
    ];

    /// The column's name in files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Column::Action => "action",
            Column::User => "user",
            Column::Group => "group",
            Column::Role => "role",
            Column::Alias => "alias",
            Column::Description => "description",
            Column::IsDefault => "is_default",
            Column::Decision => "decision",
            Column::NewName => "new_name",
        }
    }

    /// Other header names accepted for the column when its own name is absent.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::User => &["username", "email", "user_email"],
            Column::Group => &["group_name"],
            Column::Role => &["role_name"],
            Column::IsDefault => &["default"],
            _ => &[],
        }
    }
}

/// Columns roster writes into results files. Read back as input (a results file fed in
/// again), they are dropped rather than carried, so they are not written twice.
pub const RESULT_COLUMNS: [&str; 8] =
    ["line", "status", "detail", "http_status", "attempts", "request_id", "user_id", "group_id"];

/// Why a file can't be read at all (per-row problems are validation's).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file can't be opened or read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error, shown in the message (not named `source`: the error
        /// chain would print it twice).
        error: std::io::Error,
    },
    /// Not UTF-8.
    #[error(
        "{path}, line {line}: the file is not UTF-8 text; save it as \"CSV UTF-8\" (Excel) or convert it, e.g. `iconv -f latin1 -t utf-8`"
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The first line that isn't UTF-8.
        line: u64,
    },
    /// No header row.
    #[error("{path} is empty: it needs a header row naming its columns, e.g. action,user,group")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// No `action` column.
    #[error(
        "{path}, line 1: there is no \"action\" column (the header is: {header}); name the columns action,user,group,role,... (see README, \"Input format\")"
    )]
    NoActionColumn {
        /// The file.
        path: PathBuf,
        /// The header as read.
        header: String,
    },
    /// Two columns mean the same thing.
    #[error("{path}, line 1: columns {first:?} and {second:?} both give the {column} column; keep one")]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The column they both give.
        column: &'static str,
        /// The first header.
        first: String,
        /// The second header.
        second: String,
    },
    /// The CSV itself is malformed (e.g. an unterminated quote).
    #[error("{path}, line {line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Where.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
}

/// One data row, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// The cells, untouched, one per header column (missing cells are empty).
    pub cells: Vec<String>,
    /// How many cells the row really had, to report ragged rows.
    pub width: usize,
}

/// A whole input file.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The header cells, as written.
    pub headers: Vec<String>,
    /// For each column roster reads, its index in `headers`.
    known: Vec<(Column, usize)>,
    /// The indexes of the columns carried through (unknown, and not a result column).
    pub carried: Vec<usize>,
    /// The data rows.
    pub rows: Vec<RawRow>,
    /// The delimiter used.
    pub delimiter: u8,
    /// Whether the file started with a UTF-8 BOM (results then do too, for Excel).
    pub bom: bool,
}

impl InputFile {
    /// Reads and splits a file: an Excel workbook (`.xlsx`, its first sheet) or CSV; see the
    /// module docs for what is accepted.
    pub fn read(path: &Path) -> Result<InputFile, InputError> {
        let bytes = std::fs::read(path).map_err(|error| InputError::Read { path: path.to_owned(), error })?;
        if is_workbook(path, &bytes) {
            return InputFile::parse_workbook(path, bytes);
        }
        InputFile::parse(path, &bytes)
    }

    /// Splits CSV contents already in memory.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<InputFile, InputError> {
        let bom = bytes.starts_with(b"\xEF\xBB\xBF");
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if let Err(error) = std::str::from_utf8(bytes) {
            let line = bytes[..error.valid_up_to()].split(|b| *b == b'\n').count();
            return Err(InputError::NotUtf8 { path: path.to_owned(), line: line as u64 });
        }
        let delimiter = sniff_delimiter(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let malformed = |error: csv::Error| InputError::Malformed {
            path: path.to_owned(),
            line: LineCounter::new(bytes).line_of(error.position()),
            message: error.to_string(),
        };
        let mut lines = LineCounter::new(bytes);
        let mut records = Vec::new();
        for record in reader.records() {
            let record = record.map_err(malformed)?;
            let line = lines.line_of(record.position());
            records.push((line, record.iter().map(String::from).collect()));
        }
        InputFile::from_records(path, records, delimiter, bom)
    }

    /// Reads the first sheet of an Excel workbook; a row's line is its row number in Excel.
    /// Cells are workbook values, never formulas; each is kept in the form a CSV export
    /// writes it (`=x` as `'=x`, see [`restore`]), so that reading it gives the value back
    /// and the results file, which is CSV, can't run it.
    fn parse_workbook(path: &Path, bytes: Vec<u8>) -> Result<InputFile, InputError> {
        use calamine::Reader;
        let unreadable =
            |problem: String| InputError::Malformed { path: path.to_owned(), line: 0, message: problem };
        let mut workbook = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| unreadable(format!("not a readable Excel workbook: {e}")))?;
        let sheet = workbook
            .worksheet_range_at(0)
            .ok_or_else(|| InputError::Empty { path: path.to_owned() })?
            .map_err(|e| unreadable(format!("cannot read the first sheet: {e}")))?;
        let (first_row, first_column) = sheet.start().unwrap_or((0, 0));
        let records = sheet
            .rows()
            .enumerate()
            .map(|(index, row)| {
                // Columns left of the used range still count, so cells keep their places.
                let mut cells = vec![String::new(); first_column as usize];
                cells.extend(row.iter().map(|cell| as_csv_text(cell_text(cell))));
                (u64::from(first_row) + index as u64 + 1, cells)
            })
            .collect();
        InputFile::from_records(path, records, b',', false)
    }

    /// Builds the file from its records, the first being the header.
    fn from_records(
        path: &Path,
        records: Vec<(u64, Vec<String>)>,
        delimiter: u8,
        bom: bool,
    ) -> Result<InputFile, InputError> {
        let mut records = records.into_iter();
        let headers = match records.next() {
            None => return Err(InputError::Empty { path: path.to_owned() }),
            Some((_, headers)) => headers,
        };
        let known = map_columns(path, &headers)?;
        let carried = (0..headers.len())
            .filter(|i| !known.iter().any(|(_, k)| k == i))
            .filter(|i| !RESULT_COLUMNS.contains(&normalize(&headers[*i]).as_str()))
            .collect();
        let rows = records
            .map(|(line, mut cells)| {
                let width = cells.len();
                cells.resize(headers.len().max(width), String::new());
                cells.truncate(headers.len());
                RawRow { line, cells, width }
            })
            .collect();
        Ok(InputFile { path: path.to_owned(), headers, known, carried, rows, delimiter, bom })
    }

    /// A row's cell in a column roster reads: trimmed, and `None` when the column is absent
    /// or the cell empty.
    #[must_use]
    pub fn cell<'a>(&self, row: &'a RawRow, column: Column) -> Option<&'a str> {
        let index = self.index(column)?;
        row.cells.get(index).map(|cell| restore(cell.trim())).filter(|cell| !cell.is_empty())
    }

    /// The header of a column roster reads, as written in the file.
    #[must_use]
    pub fn header(&self, column: Column) -> &str {
        self.index(column).map_or(column.name(), |i| self.headers[i].as_str())
    }

    /// The columns a results file repeats: all but those of an earlier run's results.
    #[must_use]
    pub fn kept_columns(&self) -> Vec<usize> {
        (0..self.headers.len())
            .filter(|i| !RESULT_COLUMNS.contains(&normalize(&self.headers[*i]).as_str()))
            .collect()
    }

    /// Whether the file has the column.
    #[must_use]
    pub fn has(&self, column: Column) -> bool {
        self.index(column).is_some()
    }

    fn index(&self, column: Column) -> Option<usize> {
        self.known.iter().find(|(c, _)| *c == column).map(|(_, i)| *i)
    }
}

/// Counts lines up to records' byte offsets. (`Position::line` goes wrong with CRLF line
/// ends, which Excel on Windows writes: the reader leaves the `\n` of each `\r\n` to the
/// next record, BurntSushi/rust-csv#395.) Records come in order, so each count carries on
/// from the last one and a whole file costs one pass.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> LineCounter<'a> {
        LineCounter { bytes, offset: 0, line: 1 }
    }

    /// The line a record starts on.
    fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else { return 0 };
        let mut start =
            usize::try_from(position.byte()).map_or(self.bytes.len(), |byte| byte.min(self.bytes.len()));
        // Line ends at the offset are the rest of the line before, or blank lines skipped.
        while self.bytes.get(start).is_some_and(|byte| matches!(byte, b'\r' | b'\n')) {
            start += 1;
        }
        if start < self.offset {
            // Not in order (an error's position): count from the top.
            *self = LineCounter::new(self.bytes);
        }
        // Pieces split at line ends, less one, is the number of line ends.
        self.line += self.bytes[self.offset..start].split(|byte| *byte == b'\n').count() as u64 - 1;
        self.offset = start;
        self.line
    }
}

/// Whether the file is an Excel workbook: by its name, or by the zip signature.
fn is_workbook(path: &Path, bytes: &[u8]) -> bool {
    let named = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    named || bytes.starts_with(b"PK\x03\x04")
}

/// A workbook cell as text: whole numbers without `.0` (roster's columns hold text; a
/// ticket number typed into Excel comes back as it was typed).
fn cell_text(cell: &calamine::Data) -> String {
    match cell {
        calamine::Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        other => other.to_string(),
    }
}

/// Characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether export writes a cell with a leading `'`: it starts like a formula, or is such a
/// cell already quoted (`'=x`, which must not read back as `=x`).
#[must_use]
pub fn needs_quote(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// A value as a CSV export writes it: with a leading `'` when [`needs_quote`] says so.
fn as_csv_text(value: String) -> String {
    if needs_quote(&value) { format!("'{value}") } else { value }
}

/// Undoes export's neutralisation of formula-like cells: `'=x` was written for `=x`, and
/// `''=x` for `'=x`.
#[must_use]
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_quote(rest) => rest,
        _ => cell,
    }
}

/// Header comparison ignores case, surrounding space, and `-`/space versus `_`.
fn normalize(header: &str) -> String {
    header.trim().to_lowercase().replace(['-', ' '], "_")
}

fn map_columns(path: &Path, headers: &[String]) -> Result<Vec<(Column, usize)>, InputError> {
    let normalized: Vec<String> = headers.iter().map(|h| normalize(h)).collect();
    let mut known = Vec::new();
    for column in Column::ALL {
        let exact: Vec<usize> = (0..headers.len()).filter(|i| normalized[*i] == column.name()).collect();
        let found = if exact.is_empty() {
            (0..headers.len()).filter(|i| column.aliases().contains(&normalized[*i].as_str())).collect()
        } else {
            exact
        };
        if let [first, second, ..] = found[..] {
            return Err(InputError::DuplicateColumn {
                path: path.to_owned(),
                column: column.name(),
                first: headers[first].clone(),
                second: headers[second].clone(),
            });
        }
        if let Some(index) = found.first() {
            known.push((column, *index));
        }
    }
    if !known.iter().any(|(c, _)| *c == Column::Action) {
        return Err(InputError::NoActionColumn { path: path.to_owned(), header: headers.join(",") });
    }
    Ok(known)
}

/// Picks the delimiter that splits the header line into the most cells (Excel writes `;`
/// in locales where `,` is the decimal separator).
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let header = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |delimiter: u8| {
        let mut quoted = false;
        header
            .iter()
            .filter(|b| {
                if **b == b'"' {
                    quoted = !quoted;
                }
                !quoted && **b == delimiter
            })
            .count()
    };
    [b',', b';', b'\t'].into_iter().max_by_key(|d| (count(*d), *d == b',')).unwrap_or(b',')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> InputFile {
        InputFile::parse(Path::new("in.csv"), text.as_bytes()).unwrap()
    }

    #[test]
    fn headers_are_case_insensitive_in_any_order_and_unknown_ones_are_carried() {
        let file = parse("Ticket,GROUP,Action,User\nT-1,finance,add,jdoe\n");
        let row = &file.rows[0];
        assert_eq!(file.cell(row, Column::Action), Some("add"));
        assert_eq!(file.cell(row, Column::Group), Some("finance"));
        assert_eq!(file.cell(row, Column::Role), None);
        assert_eq!(file.carried, vec![0]);
        assert_eq!(row.line, 2);
    }

    #[test]
    fn bom_semicolons_tabs_and_crlf() {
        let file = parse("\u{feff}action;user;group\r\nadd;jdoe;\"a;b\"\r\n");
        assert_eq!(file.delimiter, b';');
        assert_eq!(file.cell(&file.rows[0], Column::Group), Some("a;b"));
        assert_eq!(file.headers[0], "action");
        let file = parse("action\tuser\tgroup\nremove\tjdoe\tfinance\n");
        assert_eq!(file.cell(&file.rows[0], Column::Action), Some("remove"));
    }

    #[test]
    fn line_numbers_are_physical_lines_whatever_the_line_ends() {
        let lines = |text: &str| parse(text).rows.iter().map(|r| r.line).collect::<Vec<_>>();
        let expected = [2, 3, 5, 7];
        assert_eq!(lines("action,user\nadd,a\nadd,b\n\nadd,\"c\nd\"\nadd,e\n"), expected);
        assert_eq!(lines("action,user\r\nadd,a\r\nadd,b\r\n\r\nadd,\"c\r\nd\"\r\nadd,e\r\n"), expected);
        assert_eq!(lines("\u{feff}action,user\r\nadd,a\r\nadd,b\r\n\r\nadd,\"c\nd\"\r\nadd,e"), expected);
    }

    #[test]
    fn aliases_count_only_without_the_real_column() {
        let file = parse("action,email,group\nadd,j@x.io,g\n");
        assert_eq!(file.cell(&file.rows[0], Column::User), Some("j@x.io"));
        let file = parse("action,user,user_email,group\nadd,jdoe,j@x.io,g\n");
        assert_eq!(file.cell(&file.rows[0], Column::User), Some("jdoe"));
        assert_eq!(file.carried, vec![2]);
    }

    #[test]
    fn result_columns_of_an_earlier_run_are_not_carried() {
        let file = parse("action,user,group,line,status,detail\nadd,jdoe,g,2,failed,boom\n");
        assert!(file.carried.is_empty());
    }

    #[test]
    fn whole_file_problems_name_the_file_and_line() {
        let error = |text: &[u8]| InputFile::parse(Path::new("in.csv"), text).unwrap_err().to_string();
        assert!(error(b"").contains("in.csv is empty"));
        assert!(error(b"user,group\njdoe,g\n").contains("no \"action\" column"));
        assert!(error(b"action,username,email\n").contains("both give the user column"));
        assert!(error(b"action,User,user\n").contains("both give the user column"));
        assert!(error(b"action,user\nadd,j\xe9\n").contains("line 2: the file is not UTF-8"));
    }

    #[test]
    fn ragged_rows_keep_their_width() {
        let file = parse("action,user,group\nadd,jdoe\nadd,jdoe,g,extra\n");
        assert_eq!((file.rows[0].width, file.rows[0].cells.len()), (2, 3));
        assert_eq!((file.rows[1].width, file.rows[1].cells.len()), (4, 3));
    }
}
