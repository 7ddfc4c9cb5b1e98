//! What can go wrong importing grid boundaries: the file as a whole ([`ImportError`]), or one feature
//! ([`Problem`]). An import is all or nothing and reports every problem it finds, not the first.

use std::fmt;

/// One problem with one feature of the file (or one place of a stored map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index of the feature in the file's `features` array (of the place in a stored map).
    pub feature: usize,
    /// The feature's code as written, when it has one.
    pub code: Option<String>,
    /// What is wrong with the feature (`polygon 0 exterior ring has a self-intersection`).
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "feature {} ({code}): {}", self.feature, self.reason),
            None => write!(f, "feature {}: {}", self.feature, self.reason),
        }
    }
}

/// Why grid boundaries were not imported; nothing was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// The text is not JSON.
    #[error("grid boundaries: not JSON at line {line}, column {column}: {message}")]
    Json {
        /// Line of the error in the text, from 1.
        line: usize,
        /// Column of the error in the line, from 1.
        column: usize,
        /// The JSON parser's message.
        message: String,
    },
    /// The JSON is not a GeoJSON FeatureCollection.
    #[error("grid boundaries: expected a GeoJSON FeatureCollection, found {found}")]
    NotFeatureCollection {
        /// What the JSON is instead (`a GeoJSON Feature`, an array, an object without a `type`, ...).
        found: String,
    },
    /// The collection has no feature.
    #[error("grid boundaries: the FeatureCollection has no grid or micro-grid features")]
    Empty,
    /// A community outline given with the options cannot be used.
    #[error("community outline {community}: {reason}")]
    Outline {
        /// The code the outline was given under (meant to be a 12-digit community code).
        community: String,
        /// What is wrong with its outline.
        reason: String,
    },
    /// Features with problems; every problem found is listed.
    #[error("{}", list(problems))]
    Invalid {
        /// Every problem found, ordered by feature.
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    let mut out = format!("grid boundaries: {} problem(s), nothing imported:", problems.len());
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_on_its_own_line_with_feature_and_code() {
        let err = ImportError::Invalid {
            problems: vec![
                Problem { feature: 0, code: None, reason: "missing property \"code\"".into() },
                Problem {
                    feature: 3,
                    code: Some("370102001001002".into()),
                    reason: "polygon 0 exterior ring has a self-intersection".into(),
                },
            ],
        };
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[1], "  feature 0: missing property \"code\"");
        assert_eq!(
            lines[2],
            "  feature 3 (370102001001002): polygon 0 exterior ring has a self-intersection"
        );
    }
}
