//! Exports for the monthly report (`gridnode export cases|figures`): rows of cases or of figures per
//! node and period, written as CSV (UTF-8 with a byte-order mark, so Excel reads the Chinese right),
//! XLSX (a worksheet written in constant memory) or JSON (an array of objects keyed by English column
//! ids), with Chinese headers by default and English ones with `--lang en`.
//!
//! ```text
//! columns   the columns of a case row and of a figures row, headers in both languages, cell values
//! periods   splitting a date range into days, ISO weeks (Monday first) or calendar months
//! sink      the three formats behind one `Sink`, each into a temp file renamed over FILE when done
//! ```
//! The CLI (`cli::export`) pages through the node's List RPC and calls the Stats RPC per node and
//! period, so a year of a district never sits in memory: one page at a time.

pub mod columns;
pub mod periods;
pub mod sink;

use std::path::PathBuf;

pub use columns::{Cell, Column, Lang};
pub use sink::{open, Format, Sink};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output file (or its temp file) could not be written.
    #[error("{path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    /// The XLSX writer failed.
    #[error("{path}: xlsx: {source}")]
    Xlsx { path: PathBuf, source: rust_xlsxwriter::XlsxError },
    /// A flag's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
}
