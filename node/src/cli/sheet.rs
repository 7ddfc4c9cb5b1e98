//! Reading the offices' spreadsheets (网格员花名册) into rows of text cells: XLSX (the first worksheet,
//! with calamine) or CSV (UTF-8, with or without a byte-order mark, RFC 4180 quoting). What the rows
//! mean is `federation::people::sheet`'s.

use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};

/// Most bytes of a sheet file read (a roster of 5,000 rows is far smaller).
const MAX_SHEET_BYTES: u64 = 16 * 1024 * 1024;

/// The rows of `path`, by its extension (`.xlsx`/`.xls`, or `.csv`).
pub fn read_rows(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let shown = path.display();
    let len = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("{shown}: cannot read: {e}"))?.len();
    if len > MAX_SHEET_BYTES {
        anyhow::bail!("{shown}: {len} bytes; a sheet may have at most {MAX_SHEET_BYTES}");
    }
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "csv" => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("{shown}: cannot read as UTF-8 text: {e}"))?;
            parse_csv(&text).map_err(|e| anyhow::anyhow!("{shown}: {e}"))
        }
        "xlsx" | "xls" | "xlsm" => {
            let mut book = open_workbook_auto(path)
                .map_err(|e| anyhow::anyhow!("{shown}: not a readable workbook: {e}"))?;
            let range = match book.worksheet_range_at(0) {
                Some(r) => r.map_err(|e| anyhow::anyhow!("{shown}: the first worksheet: {e}"))?,
                None => anyhow::bail!("{shown}: the workbook has no worksheet"),
            };
            Ok(range.rows().map(|row| row.iter().map(cell_text).collect()).collect())
        }
        _ => anyhow::bail!("{shown}: expected a .xlsx or .csv file"),
    }
}

/// A cell as text: whole numbers without a decimal point (phone numbers typed into Excel are numbers).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// Parses CSV text: fields separated by commas, quoted with `"` (a doubled `""` inside is a quote),
/// records ending in LF or CRLF; a leading byte-order mark is skipped.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut line) = (false, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                line += 1;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_a_bom_quotes_and_crlf_reads_as_excel_wrote_it() {
        let text = "\u{feff}工号,姓名,负责网格\r\n,刘晓燕,\"370102001001001,370102001001002\"\r\n,\"孙\"\"雅琴\",\r\n";
        let rows = parse_csv(text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], vec!["工号", "姓名", "负责网格"]);
        assert_eq!(rows[1], vec!["", "刘晓燕", "370102001001001,370102001001002"]);
        assert_eq!(rows[2], vec!["", "孙\"雅琴", ""]);
        assert!(parse_csv("a,\"b\n").unwrap_err().contains("not closed"));
    }

    #[test]
    fn whole_numbers_from_excel_read_without_a_decimal_point() {
        assert_eq!(cell_text(&Data::Float(13812341234.0)), "13812341234");
        assert_eq!(cell_text(&Data::Float(1.5)), "1.5");
        assert_eq!(cell_text(&Data::String("在岗".into())), "在岗");
    }
}
