//! The code of a place a report can be located in: a unit grid or a micro-grid (微网格) under it.
//!
//! ```text
//! 370102001001001       unit grid (网格): the 15-digit division code, see crate::code
//! 370102001001001-03    micro-grid (微网格) 03 of that grid: the grid code, a hyphen, two digits 01-99
//! ```
//! Micro-grids are numbered within their grid, so `370102001001001-03` and `370102001001002-03` are
//! different places. Codes order by grid, the grid itself before its micro-grids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::code::{Code, CodeError, Level};

/// A malformed place code, naming the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// The grid part is not a 15-digit grid code.
    #[error(transparent)]
    Grid {
        /// Why the grid part was refused.
        #[from]
        source: CodeError,
    },
    /// The part after the hyphen is not a micro-grid number.
    #[error("{field}: {value:?} is not a place code: {reason}")]
    Micro {
        /// The field the code came from.
        field: String,
        /// The code as given.
        value: String,
        /// What is wrong with the micro-grid number.
        reason: &'static str,
    },
}

/// A unit grid (`370102001001001`) or one of its micro-grids (`370102001001001-03`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlaceCode {
    grid: Code,
    micro: Option<u8>,
}

impl PlaceCode {
    /// Parses `s`, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<PlaceCode, PlaceError> {
        let micro_err = |reason| PlaceError::Micro { field: field.to_string(), value: s.to_string(), reason };
        let Some((grid, micro)) = s.split_once('-') else {
            return Ok(PlaceCode { grid: Code::parse_level(field, s, Level::Grid)?, micro: None });
        };
        let grid = Code::parse_level(field, grid, Level::Grid)?;
        if micro.len() != 2 || !micro.bytes().all(|b| b.is_ascii_digit()) {
            return Err(micro_err("after the hyphen expected two digits 01-99, e.g. 370102001001001-03"));
        }
        match micro.parse::<u8>() {
            Ok(n) if n > 0 => Ok(PlaceCode { grid, micro: Some(n) }),
            _ => Err(micro_err("micro-grids are numbered from 01; 00 is not a micro-grid")),
        }
    }

    /// The unit grid `grid` as a place; refused (naming `field`) if it is not a grid code.
    pub fn unit(field: &str, grid: &Code) -> Result<PlaceCode, PlaceError> {
        Ok(PlaceCode { grid: Code::parse_level(field, grid.as_str(), Level::Grid)?, micro: None })
    }

    /// The unit grid: the place itself, or the grid a micro-grid lies in.
    pub fn grid(&self) -> &Code {
        &self.grid
    }

    /// True for a micro-grid.
    pub fn is_micro(&self) -> bool {
        self.micro.is_some()
    }

    /// The micro-grid's number within its grid (1-99), `None` for a unit grid.
    pub fn micro(&self) -> Option<u8> {
        self.micro
    }
}

impl fmt::Display for PlaceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.micro {
            None => write!(f, "{}", self.grid),
            Some(n) => write!(f, "{}-{n:02}", self.grid),
        }
    }
}

impl FromStr for PlaceCode {
    type Err = PlaceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PlaceCode::parse("place", s)
    }
}

impl TryFrom<String> for PlaceCode {
    type Error = PlaceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PlaceCode::parse("place", &s)
    }
}

impl From<PlaceCode> for String {
    fn from(p: PlaceCode) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unit_grids_and_micro_grids() {
        let unit = PlaceCode::parse("code", "370102001001001").unwrap();
        assert!(!unit.is_micro());
        assert_eq!(unit.micro(), None);
        assert_eq!(unit.grid().as_str(), "370102001001001");
        assert_eq!(unit.to_string(), "370102001001001");

        let micro = PlaceCode::parse("code", "370102001001001-03").unwrap();
        assert!(micro.is_micro());
        assert_eq!(micro.micro(), Some(3));
        assert_eq!(micro.grid(), unit.grid());
        assert_eq!(micro.to_string(), "370102001001001-03");
        assert!(unit < micro, "a grid sorts before its micro-grids");
        assert!(micro < PlaceCode::parse("code", "370102001001002").unwrap());
        assert_eq!(PlaceCode::unit("grid", unit.grid()).unwrap(), unit);
    }

    #[test]
    fn errors_name_the_field() {
        for bad in [
            "",
            "370102001001",
            "370102001001001-",
            "370102001001001-3",
            "370102001001001-003",
            "370102001001001-00",
            "370102001001001-0a",
            "370102001001001-03-01",
            "370102001-03",
            "37010200100100a-03",
        ] {
            let err = PlaceCode::parse("features[4].properties.code", bad).unwrap_err();
            assert!(err.to_string().starts_with("features[4].properties.code: "), "{bad:?}: {err}");
        }
        let err = PlaceCode::parse("code", "370102001001001-00").unwrap_err();
        assert!(err.to_string().contains("numbered from 01"), "{err}");
        let err = PlaceCode::parse("code", "370102001001").unwrap_err();
        assert!(err.to_string().contains("expected a grid code"), "{err}");
    }

    #[test]
    fn serde_is_the_string() {
        let micro = PlaceCode::parse("code", "370102001001001-12").unwrap();
        assert_eq!(serde_json::to_string(&micro).unwrap(), "\"370102001001001-12\"");
        assert_eq!(serde_json::from_str::<PlaceCode>("\"370102001001001-12\"").unwrap(), micro);
        assert!(serde_json::from_str::<PlaceCode>("\"370102001001001-100\"").is_err());
    }

    proptest! {
        #[test]
        fn every_place_code_roundtrips(grid in "[1-9][0-9]{14}", micro in proptest::option::of(1u8..=99)) {
            let text = match micro {
                Some(n) => format!("{grid}-{n:02}"),
                None => grid.clone(),
            };
            let place: PlaceCode = text.parse().unwrap();
            prop_assert_eq!(place.to_string(), text);
            prop_assert_eq!(place.micro(), micro);
            prop_assert_eq!(place.grid().as_str(), grid.as_str());
        }
    }
}
