//! The error of a value parsed or checked on its own: which field, and why it is refused.

use std::fmt;

/// A refused value: the field at fault (`deadlines.default.grid_minutes`, `state`, ...) and the reason,
/// shown as `field: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field at fault, as the caller named it.
    pub field: String,
    /// Why the value is refused, with the value and what was expected.
    pub reason: String,
}

impl FieldError {
    /// A refusal of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), reason: reason.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// For callers that report refusals as text (CLI messages, gRPC statuses).
impl From<FieldError> for String {
    fn from(e: FieldError) -> String {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_field_then_the_reason() {
        let e = FieldError::new("deadlines.default.grid_minutes", "0 is out of range");
        assert_eq!(e.to_string(), "deadlines.default.grid_minutes: 0 is out of range");
        assert_eq!(String::from(e.clone()), e.to_string());
    }
}
