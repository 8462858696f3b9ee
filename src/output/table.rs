//! Tables roster writes for people to open in a spreadsheet: exports and diffs, as CSV or
//! as an Excel workbook.
//!
//! CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
//! tab or carriage return) get a leading `'` (OWASP's advice against CSV injection);
//! `input::restore` takes it off again on import. A value that starts with such a quote
//! already (`'=x`) gets one more, so that it reads back as itself. Workbook cells are written as text, which
//! Excel never evaluates, so they need no such prefix.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::input::needs_quote;

/// Rows under a header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column names.
    pub headers: Vec<String>,
    /// The rows, each as wide as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these columns.
    #[must_use]
    pub fn new(headers: &[&str]) -> Table {
        Table { headers: headers.iter().map(|h| (*h).to_string()).collect(), rows: Vec::new() }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.headers.len(), "a row as wide as the header");
        self.rows.push(row);
    }
}

/// The file format of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values.
    Csv,
    /// An Excel workbook with one sheet.
    Xlsx,
}

/// Why a table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Writing failed.
    #[error("cannot write {}: {error}", path.as_ref().map_or_else(|| "to standard output".to_string(), |p| p.display().to_string()))]
    Write {
        /// The file, or `None` for stdout.
        path: Option<PathBuf>,
        /// What went wrong.
        error: String,
    },
    /// A workbook can't go to a terminal.
    #[error("an Excel workbook can't be written to standard output; give a file with -o FILE")]
    WorkbookToStdout,
}

/// Writes `table` to `path` (or stdout when `None`). `bom` starts a CSV file with a UTF-8
/// byte order mark, which Excel needs to read UTF-8.
pub fn write(table: &Table, path: Option<&Path>, format: Format, bom: bool) -> Result<(), TableError> {
    let failed = |error: String| TableError::Write { path: path.map(Path::to_owned), error };
    match (format, path) {
        (Format::Xlsx, None) => Err(TableError::WorkbookToStdout),
        (Format::Xlsx, Some(path)) => {
            std::fs::write(path, workbook(table).map_err(failed)?).map_err(|e| failed(e.to_string()))
        }
        (Format::Csv, Some(path)) => {
            let file = std::fs::File::create(path).map_err(|e| failed(e.to_string()))?;
            write_csv(table, std::io::BufWriter::new(file), bom).map_err(failed)
        }
        (Format::Csv, None) => match write_csv(table, std::io::stdout().lock(), bom) {
            // A closed pipe (`roster export ... | head`) is the reader's choice, not an error.
            Err(error) if error.contains("Broken pipe") => Ok(()),
            other => other.map_err(failed),
        },
    }
}

fn write_csv(table: &Table, mut out: impl Write, bom: bool) -> Result<(), String> {
    if bom {
        out.write_all(b"\xEF\xBB\xBF").map_err(|e| e.to_string())?;
    }
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(&table.headers).map_err(|e| e.to_string())?;
    for row in &table.rows {
        writer
            .write_record(row.iter().map(|cell| neutralize(cell).into_owned()))
            .map_err(|e| e.to_string())?;
    }
    writer.flush().map_err(|e| e.to_string())
}

fn workbook(table: &Table) -> Result<Vec<u8>, String> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let text = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (column, header) in table.headers.iter().enumerate() {
        let column = u16::try_from(column).map_err(|_| "too many columns for Excel".to_string())?;
        sheet.write_string_with_format(0, column, header, &bold).map_err(text)?;
    }
    for (index, row) in table.rows.iter().enumerate() {
        let line = u32::try_from(index + 1).map_err(|_| "too many rows for Excel".to_string())?;
        for (column, cell) in row.iter().enumerate() {
            let column = u16::try_from(column).map_err(|_| "too many columns for Excel".to_string())?;
            sheet.write_string(line, column, cell).map_err(text)?;
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(text)?;
    sheet.autofit();
    workbook.save_to_buffer().map_err(text)
}

/// Prefixes `'` to a cell a spreadsheet would take for a formula (or that is one quoted
/// already, so that `input::restore` gives it back as it was).
#[must_use]
pub fn neutralize(cell: &str) -> Cow<'_, str> {
    if needs_quote(cell) { Cow::Owned(format!("'{cell}")) } else { Cow::Borrowed(cell) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{InputFile, restore};

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for cell in ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx"] {
            let written = neutralize(cell);
            assert!(written.starts_with('\''), "{cell}");
            assert_eq!(restore(&written), cell);
        }
        assert_eq!(neutralize("jdoe"), "jdoe");
        assert_eq!(restore("'quoted"), "'quoted", "only formula-like cells lose their quote");
        // Values that look neutralised already round-trip too.
        for cell in ["'=quoted", "''+1", "'", "'plain", "it's"] {
            assert_eq!(restore(&neutralize(cell)), cell, "{cell}");
        }
        assert_eq!(neutralize("'=quoted"), "''=quoted");
    }

    #[test]
    fn a_table_round_trips_through_csv_and_xlsx() {
        let dir = tempfile::tempdir().unwrap();
        let mut table = Table::new(&["action", "user", "group", "note"]);
        table.push(vec!["keep".into(), "jdoe".into(), "finance".into(), "=1+1".into()]);
        table.push(vec!["keep".into(), "ann".into(), "hr".into(), "Zoë, 1234".into()]);
        for (name, format) in [("t.csv", Format::Csv), ("t.xlsx", Format::Xlsx)] {
            let path = dir.path().join(name);
            write(&table, Some(&path), format, format == Format::Csv).unwrap();
            let read = InputFile::read(&path).unwrap();
            assert_eq!(read.headers, table.headers, "{name}");
            assert_eq!(read.rows[0].cells[3], "'=1+1", "{name}: read in the CSV form, neutralised");
            let cells: Vec<Vec<String>> =
                read.rows.iter().map(|r| r.cells.iter().map(|c| restore(c).to_string()).collect()).collect();
            assert_eq!(cells, table.rows, "{name}");
            assert_eq!(read.rows[0].line, 2, "{name}: data starts on line 2");
        }
    }
}
