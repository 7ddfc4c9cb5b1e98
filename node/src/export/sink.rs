//! The formats of an export behind one `Sink`: rows go straight to a temp file beside FILE (XLSX rows
//! to the writer's constant-memory temp file), renamed over FILE only when the export is complete, so
//! FILE is never half-written. A sink dropped before `finish` removes its temp file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format as XlsxFormat, Workbook};

use super::columns::{Cell, Column, Lang};
use super::ExportError;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// UTF-8 with a byte-order mark (Excel reads it right), comma-separated, RFC 4180 quoting.
    Csv,
    /// An Excel workbook with one worksheet.
    Xlsx,
    /// A JSON array of objects keyed by the English column ids.
    Json,
}

/// Where rows go.
pub trait Sink {
    /// Writes one row (cells in the order of the columns).
    fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError>;
    /// Completes the file and renames it into place; returns the rows written.
    fn finish(self: Box<Self>) -> Result<u64, ExportError>;
    /// Starts another table named `sheet` with `columns`, when the format holds several (an XLSX
    /// worksheet); false (and nothing written) when it holds one table only, as CSV and JSON do.
    fn sheet(&mut self, _sheet: &str, _columns: &[Column], _lang: Lang) -> Result<bool, ExportError> {
        Ok(false)
    }
}

/// Excel's last row (1,048,576) minus the header.
pub const XLSX_MAX_ROWS: u64 = 1_048_575;

/// A temp file beside the target, removed unless renamed over it.
struct Staged {
    target: PathBuf,
    temp: PathBuf,
    done: bool,
}

impl Staged {
    fn new(target: &Path) -> Staged {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = target.with_file_name(format!(".{name}.part-{}", std::process::id()));
        Staged { target: target.to_path_buf(), temp, done: false }
    }

    fn err(&self, source: std::io::Error) -> ExportError {
        ExportError::File { path: self.temp.clone(), source }
    }

    /// Fsyncs the temp file and renames it over the target.
    fn commit(&mut self) -> Result<(), ExportError> {
        File::open(&self.temp).and_then(|f| f.sync_all()).map_err(|e| self.err(e))?;
        std::fs::rename(&self.temp, &self.target)
            .map_err(|source| ExportError::File { path: self.target.clone(), source })?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Opens a sink writing `columns` (headers in `lang`) to `path` in `format`; `sheet` names the XLSX
/// worksheet.
pub fn open(
    path: &Path,
    format: Format,
    columns: &[Column],
    lang: Lang,
    sheet: &str,
) -> Result<Box<dyn Sink>, ExportError> {
    let staged = Staged::new(path);
    match format {
        Format::Csv => {
            let file = File::create(&staged.temp).map_err(|e| staged.err(e))?;
            let mut sink = Csv { out: BufWriter::with_capacity(1 << 16, file), staged, rows: 0 };
            sink.out.write_all("\u{feff}".as_bytes()).map_err(|e| sink.staged.err(e))?;
            let headers: Vec<Cell> = columns.iter().map(|c| Cell::Text(c.header(lang).into())).collect();
            sink.line(&headers)?;
            Ok(Box::new(sink))
        }
        Format::Json => {
            let file = File::create(&staged.temp).map_err(|e| staged.err(e))?;
            let mut sink = Json {
                out: BufWriter::with_capacity(1 << 16, file),
                staged,
                keys: columns.iter().map(|c| c.id).collect(),
                rows: 0,
            };
            sink.out.write_all(b"[").map_err(|e| sink.staged.err(e))?;
            Ok(Box::new(sink))
        }
        Format::Xlsx => Xlsx::open(staged, columns, lang, sheet).map(|s| Box::new(s) as Box<dyn Sink>),
    }
}

struct Csv {
    out: BufWriter<File>,
    staged: Staged,
    rows: u64,
}

/// A CSV field: quoted when it holds a comma, quote or line break; text that a spreadsheet would take
/// for a formula (`=`, `+`, `-`, `@` first) gets a leading apostrophe.
fn csv_field(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Int(n) => n.to_string(),
        Cell::Rate(r) => format!("{:.2}%", r * 100.0),
        Cell::Text(s) => {
            let guarded =
                if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.clone() };
            if guarded.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", guarded.replace('"', "\"\""))
            } else {
                guarded
            }
        }
    }
}

impl Csv {
    fn line(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        let line: Vec<String> = cells.iter().map(csv_field).collect();
        self.out.write_all(line.join(",").as_bytes()).map_err(|e| self.staged.err(e))?;
        self.out.write_all(b"\r\n").map_err(|e| self.staged.err(e))
    }
}

impl Sink for Csv {
    fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        self.line(cells)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<u64, ExportError> {
        self.out.flush().map_err(|e| self.staged.err(e))?;
        self.staged.commit()?;
        Ok(self.rows)
    }
}

struct Json {
    out: BufWriter<File>,
    staged: Staged,
    keys: Vec<&'static str>,
    rows: u64,
}

fn json_value(cell: &Cell) -> serde_json::Value {
    match cell {
        Cell::Empty => serde_json::Value::Null,
        Cell::Int(n) => (*n).into(),
        Cell::Rate(r) => (*r).into(),
        Cell::Text(s) => s.clone().into(),
    }
}

impl Sink for Json {
    fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        let obj: serde_json::Map<String, serde_json::Value> =
            self.keys.iter().zip(cells).map(|(k, c)| (k.to_string(), json_value(c))).collect();
        let sep: &[u8] = if self.rows == 0 { b"\n" } else { b",\n" };
        self.out.write_all(sep).map_err(|e| self.staged.err(e))?;
        self.out
            .write_all(serde_json::Value::Object(obj).to_string().as_bytes())
            .map_err(|e| self.staged.err(e))?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<u64, ExportError> {
        self.out.write_all(b"\n]\n").map_err(|e| self.staged.err(e))?;
        self.out.flush().map_err(|e| self.staged.err(e))?;
        self.staged.commit()?;
        Ok(self.rows)
    }
}

struct Xlsx {
    book: Workbook,
    staged: Staged,
    percent: Vec<bool>,
    pct: XlsxFormat,
    /// Rows written in all sheets, and in the current one (the last added).
    rows: u64,
    sheet_rows: u64,
    sheets: usize,
}

impl Xlsx {
    fn err(&self, source: rust_xlsxwriter::XlsxError) -> ExportError {
        ExportError::Xlsx { path: self.staged.target.clone(), source }
    }

    fn open(staged: Staged, columns: &[Column], lang: Lang, sheet: &str) -> Result<Xlsx, ExportError> {
        let mut x = Xlsx {
            book: Workbook::new(),
            staged,
            percent: Vec::new(),
            pct: XlsxFormat::new().set_num_format("0.00%"),
            rows: 0,
            sheet_rows: 0,
            sheets: 0,
        };
        x.add_sheet(sheet, columns, lang)?;
        Ok(x)
    }

    /// Adds worksheet `sheet` with a bold, frozen header row of `columns`; rows go to it from now on.
    fn add_sheet(&mut self, sheet: &str, columns: &[Column], lang: Lang) -> Result<(), ExportError> {
        let bold = XlsxFormat::new().set_bold();
        let result = (|| {
            let ws = self.book.add_worksheet_with_constant_memory()?;
            ws.set_name(sheet)?;
            for (i, c) in columns.iter().enumerate() {
                let width =
                    if c.id == "title" || c.id == "description" || c.id == "address" { 30 } else { 16 };
                ws.set_column_width(i as u16, width)?;
                ws.write_string_with_format(0, i as u16, c.header(lang), &bold)?;
            }
            ws.set_freeze_panes(1, 0)?;
            Ok(())
        })();
        result.map_err(|e| self.err(e))?;
        self.percent = columns.iter().map(|c| c.percent).collect();
        self.sheet_rows = 0;
        self.sheets += 1;
        Ok(())
    }
}

impl Sink for Xlsx {
    fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        if self.sheet_rows >= XLSX_MAX_ROWS {
            return Err(ExportError::Invalid {
                field: "--format",
                message: format!(
                    "an xlsx worksheet holds at most {XLSX_MAX_ROWS} rows; use --format csv or a shorter --from/--to"
                ),
            });
        }
        let row = (self.sheet_rows + 1) as u32;
        let sheet = self.sheets.saturating_sub(1);
        let result = (|| {
            let ws = self.book.worksheet_from_index(sheet)?;
            for (i, cell) in cells.iter().enumerate() {
                let col = i as u16;
                match cell {
                    Cell::Empty => {}
                    Cell::Text(s) => {
                        ws.write_string(row, col, s)?;
                    }
                    Cell::Int(n) => {
                        ws.write_number(row, col, *n as f64)?;
                    }
                    Cell::Rate(r) if self.percent.get(i).copied().unwrap_or(false) => {
                        ws.write_number_with_format(row, col, *r, &self.pct)?;
                    }
                    Cell::Rate(r) => {
                        ws.write_number(row, col, *r)?;
                    }
                }
            }
            Ok(())
        })();
        result.map_err(|e| self.err(e))?;
        self.rows += 1;
        self.sheet_rows += 1;
        Ok(())
    }

    fn sheet(&mut self, sheet: &str, columns: &[Column], lang: Lang) -> Result<bool, ExportError> {
        self.add_sheet(sheet, columns, lang)?;
        Ok(true)
    }

    fn finish(mut self: Box<Self>) -> Result<u64, ExportError> {
        let temp = self.staged.temp.clone();
        self.book.save(&temp).map_err(|e| self.err(e))?;
        self.staged.commit()?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field(&Cell::Text("a,b".into())), "\"a,b\"");
        assert_eq!(csv_field(&Cell::Text("说\"好\"".into())), "\"说\"\"好\"\"\"");
        assert_eq!(csv_field(&Cell::Text("=HYPERLINK(1)".into())), "'=HYPERLINK(1)");
        assert_eq!(csv_field(&Cell::Rate(0.93716)), "93.72%");
        assert_eq!(csv_field(&Cell::Empty), "");
    }

    #[test]
    fn an_unfinished_export_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let cols = &super::super::columns::CASE_COLUMNS[..2];
        let mut s = open(&path, Format::Csv, cols, Lang::Zh, "x").unwrap();
        s.row(&[Cell::Text("a".into()), Cell::Int(1)]).unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut s = open(&path, Format::Json, cols, Lang::Zh, "x").unwrap();
        s.row(&[Cell::Text("a".into()), Cell::Int(1)]).unwrap();
        assert_eq!(s.finish().unwrap(), 1);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v[0]["id"], "a");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
