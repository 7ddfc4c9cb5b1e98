//! Administrative division codes (统计用区划代码) and the levels they name.
//!
//! ```text
//! 370102            district  (区)     6 digits
//! 370102001         street    (街道)   9 digits = district + 3
//! 370102001001      community (社区)  12 digits = street + 3
//! 370102001001002   unit grid (网格)  15 digits = community + 3
//! ```
//! A code's level and its parent follow from its length; a grid belongs to exactly one community.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A malformed or misplaced code, naming the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The text is not a 6, 9, 12 or 15 digit code.
    #[error("{field}: {value:?} is not a division code: {reason}")]
    Malformed {
        /// The field the text came from (`grid`, `topology.node`, ...).
        field: String,
        /// The text as given.
        value: String,
        /// What is wrong with it and what was expected.
        reason: &'static str,
    },
    /// The code is well formed but of the wrong level for the field.
    #[error("{field}: {value:?} is a {actual} code, expected a {expected} code")]
    WrongLevel {
        /// The field the code came from.
        field: String,
        /// The code as given.
        value: String,
        /// The level or levels the field takes (`grid`, `district, street or community`).
        expected: String,
        /// The level the code has.
        actual: Level,
    },
}

/// The four administrative levels; nodes run at the first three, grids are units inside a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 区: 6 digits (370102); the top node of a federation.
    District,
    /// 街道: 9 digits (370102001); a node under its district.
    Street,
    /// 社区: 12 digits (370102001001); the lowest node, which owns and handles its grids' cases.
    Community,
    /// 网格: 15 digits (370102001001002); a unit inside a community, not a node.
    Grid,
}

impl Level {
    /// Number of digits of a code at this level.
    pub fn digits(self) -> usize {
        match self {
            Level::District => 6,
            Level::Street => 9,
            Level::Community => 12,
            Level::Grid => 15,
        }
    }

    /// The level of a code with `len` digits.
    pub fn from_digits(len: usize) -> Option<Level> {
        match len {
            6 => Some(Level::District),
            9 => Some(Level::Street),
            12 => Some(Level::Community),
            15 => Some(Level::Grid),
            _ => None,
        }
    }

    /// Chinese name of the level, as shown to operators.
    pub fn zh(self) -> &'static str {
        match self {
            Level::District => "区",
            Level::Street => "街道",
            Level::Community => "社区",
            Level::Grid => "网格",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::District => "district",
            Level::Street => "street",
            Level::Community => "community",
            Level::Grid => "grid",
        })
    }
}

/// A validated division code at any level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

impl Code {
    /// Parses `value`, naming `field` in the error.
    pub fn parse(field: &str, value: &str) -> Result<Code, CodeError> {
        let malformed =
            |reason| CodeError::Malformed { field: field.to_string(), value: value.to_string(), reason };
        if value.is_empty() {
            return Err(malformed("it is empty; expected 6, 9, 12 or 15 digits"));
        }
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("only the digits 0-9 are allowed; expected 6, 9, 12 or 15 digits"));
        }
        if Level::from_digits(value.len()).is_none() {
            return Err(malformed("expected 6 digits (district), 9 (street), 12 (community) or 15 (grid)"));
        }
        if value[..2] == *"00" {
            return Err(malformed("the province part (first two digits) cannot be 00"));
        }
        Ok(Code(value.to_string()))
    }

    /// Parses `value` and requires it to be of `level`.
    pub fn parse_level(field: &str, value: &str, level: Level) -> Result<Code, CodeError> {
        let code = Code::parse(field, value)?;
        if code.level() != level {
            return Err(CodeError::WrongLevel {
                field: field.to_string(),
                value: value.to_string(),
                expected: level.to_string(),
                actual: code.level(),
            });
        }
        Ok(code)
    }

    /// Parses a code that may name a node (district, street or community) but not a grid.
    pub fn parse_node(field: &str, value: &str) -> Result<Code, CodeError> {
        let code = Code::parse(field, value)?;
        if code.level() == Level::Grid {
            return Err(CodeError::WrongLevel {
                field: field.to_string(),
                value: value.to_string(),
                expected: "district, street or community".to_string(),
                actual: Level::Grid,
            });
        }
        Ok(code)
    }

    /// The level, from the number of digits.
    pub fn level(&self) -> Level {
        Level::from_digits(self.0.len()).unwrap_or(Level::Grid)
    }

    /// The code one level up, or `None` for a district.
    pub fn parent(&self) -> Option<Code> {
        match self.level() {
            Level::District => None,
            _ => Some(Code(self.0[..self.0.len() - 3].to_string())),
        }
    }

    /// The child code with the 3-digit `suffix` (e.g. a grid `"002"` of a community).
    pub fn child(&self, field: &str, suffix: &str) -> Result<Code, CodeError> {
        if suffix.len() != 3 || !suffix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::Malformed {
                field: field.to_string(),
                value: suffix.to_string(),
                reason: "expected a 3-digit suffix such as \"001\"",
            });
        }
        Code::parse(field, &format!("{}{}", self.0, suffix))
    }

    /// True if `self` is `ancestor` or lies anywhere under it.
    pub fn is_within(&self, ancestor: &Code) -> bool {
        self.0.starts_with(&ancestor.0)
    }

    /// The digits, e.g. `"370102001"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The grid that stands for "no grid yet" at this node: its code padded with zeros to 15 digits.
    /// Grids (and streets and communities) are numbered from 001, so no real grid has this code. A
    /// case reported by a point in no known grid waits on it, unassigned (待分派), until an operator
    /// places it (see `machine::place`).
    pub fn unassigned_grid(&self) -> Code {
        Code(format!("{:0<15}", self.0))
    }

    /// True for a grid code whose own number is 000: an unassigned grid, never a real one.
    pub fn is_unassigned_grid(&self) -> bool {
        self.level() == Level::Grid && self.0.ends_with("000")
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Code {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::parse("code", s)
    }
}

impl TryFrom<String> for Code {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Code::parse("code", &s)
    }
}

impl From<Code> for String {
    fn from(c: Code) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn levels_and_parents_follow_from_length() {
        let grid = Code::parse("grid", "370102001001002").unwrap();
        assert_eq!(grid.level(), Level::Grid);
        let community = grid.parent().unwrap();
        assert_eq!(community.as_str(), "370102001001");
        assert_eq!(community.level(), Level::Community);
        let street = community.parent().unwrap();
        assert_eq!(street.as_str(), "370102001");
        let district = street.parent().unwrap();
        assert_eq!(district.level(), Level::District);
        assert_eq!(district.parent(), None);
        assert!(grid.is_within(&district));
        assert!(!district.is_within(&grid));
    }

    #[test]
    fn malformed_codes_name_the_field() {
        let err = Code::parse("grid", "37010200100100").unwrap_err();
        assert!(err.to_string().starts_with("grid: \"37010200100100\""), "{err}");
        let err = Code::parse("node.code", "37o102").unwrap_err();
        assert!(err.to_string().contains("node.code"), "{err}");
        assert!(Code::parse("x", "").is_err());
        let err = Code::parse_level("grid", "370102001", Level::Grid).unwrap_err();
        assert!(err.to_string().contains("is a street code, expected a grid code"), "{err}");
        assert!(Code::parse_node("node", "370102001001002").is_err());
    }

    #[test]
    fn the_unassigned_grid_lies_under_its_node_and_is_no_real_grid() {
        for node in ["370102", "370102001", "370102001001"] {
            let n = Code::parse("n", node).unwrap();
            let g = n.unassigned_grid();
            assert_eq!((g.level(), g.is_within(&n), g.is_unassigned_grid()), (Level::Grid, true, true));
        }
        assert!(!Code::parse("g", "370102001001001").unwrap().is_unassigned_grid());
        assert!(!Code::parse("c", "370102001000").unwrap().is_unassigned_grid());
    }

    #[test]
    fn child_suffix_must_be_three_digits() {
        let c = Code::parse("c", "370102001001").unwrap();
        assert_eq!(c.child("grids", "007").unwrap().as_str(), "370102001001007");
        assert!(c.child("grids", "07").is_err());
        assert!(c.child("grids", "0a7").is_err());
    }

    proptest! {
        #[test]
        fn every_valid_code_roundtrips_and_nests(digits in "[1-9][0-9]{14}", cut in 0usize..4) {
            let len = 6 + 3 * cut;
            let code = Code::parse("c", &digits[..len]).unwrap();
            prop_assert_eq!(code.level().digits(), len);
            if let Some(p) = code.parent() {
                prop_assert!(code.is_within(&p));
                prop_assert_eq!(p.level().digits() + 3, len);
            }
            let json = serde_json::to_string(&code).unwrap();
            let back: Code = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, code);
        }

        #[test]
        fn other_lengths_are_refused(digits in "[1-9][0-9]{0,20}") {
            prop_assume!(![6, 9, 12, 15].contains(&digits.len()));
            prop_assert!(Code::parse("c", &digits).is_err());
        }
    }
}
