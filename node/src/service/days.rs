//! Day arguments of the figures services (`YYYY-MM-DD`, Beijing time), parsed one way everywhere.

use federation::stats::{format_day, parse_day};
use tonic::Status;

/// A day argument: `YYYY-MM-DD`, or `default` when empty; a refusal names `field`.
pub(crate) fn day_arg(field: &str, value: &str, default: i64) -> Result<i64, Status> {
    match value.trim() {
        "" => Ok(default),
        s => parse_day(field, s).map_err(|e| Status::invalid_argument(e.to_string())),
    }
}

/// The days `from..=to` of a request, each `default` when empty; refused when `from` is after `to`.
pub(crate) fn day_range(from: &str, to: &str, default: (i64, i64)) -> Result<(i64, i64), Status> {
    let (from, to) = (day_arg("from", from, default.0)?, day_arg("to", to, default.1)?);
    if from > to {
        return Err(Status::invalid_argument(format!(
            "from: {} is after to ({})",
            format_day(from),
            format_day(to)
        )));
    }
    Ok((from, to))
}
