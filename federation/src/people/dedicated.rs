//! Dedicated grids (专属网格): a school, a hospital, a shopping mall, an industrial park … managed with
//! the unit that runs it, laid over the ordinary grids and micro-grids it touches.
//!
//! ```text
//! Z370102001001-01   dedicated grid 01 of community 370102001001 (all its overlaps in that community)
//! Z370102001-03      dedicated grid 03 of street 370102001 (a mall on the boundary of two communities)
//! ```
//! A dedicated grid is kept by the lowest node whose area holds every place it overlaps: a mall on the
//! boundary of two communities (世纪联华 between 桐福社区 and 城开社区) is kept by their street.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::field::{check_name, id_as_string, parse_keyed_id, parse_label, FieldError};
use super::roster::KnownPlaces;
use super::worker::KEEPERS;
use crate::code::Code;
use crate::geo::PlaceCode;

/// Most ordinary grids and micro-grids one dedicated grid may overlap.
pub const MAX_OVERLAPS: usize = 32;

/// What a dedicated grid is drawn around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedicatedKind {
    /// 学校 (schools and kindergartens).
    School,
    /// 医院.
    Hospital,
    /// 商场 / 商圈 (malls and shopping streets).
    Mall,
    /// 园区 (industrial and business parks).
    IndustrialPark,
    /// 农贸市场 (markets).
    Market,
    /// 建筑工地.
    ConstructionSite,
    /// 景区.
    ScenicArea,
    /// 机关企事业单位 (a large unit's compound).
    Institution,
}

impl DedicatedKind {
    /// Every kind.
    pub const ALL: [DedicatedKind; 8] = [
        DedicatedKind::School,
        DedicatedKind::Hospital,
        DedicatedKind::Mall,
        DedicatedKind::IndustrialPark,
        DedicatedKind::Market,
        DedicatedKind::ConstructionSite,
        DedicatedKind::ScenicArea,
        DedicatedKind::Institution,
    ];

    /// The snake_case name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            DedicatedKind::School => "school",
            DedicatedKind::Hospital => "hospital",
            DedicatedKind::Mall => "mall",
            DedicatedKind::IndustrialPark => "industrial_park",
            DedicatedKind::Market => "market",
            DedicatedKind::ConstructionSite => "construction_site",
            DedicatedKind::ScenicArea => "scenic_area",
            DedicatedKind::Institution => "institution",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            DedicatedKind::School => "学校",
            DedicatedKind::Hospital => "医院",
            DedicatedKind::Mall => "商场",
            DedicatedKind::IndustrialPark => "园区",
            DedicatedKind::Market => "农贸市场",
            DedicatedKind::ConstructionSite => "建筑工地",
            DedicatedKind::ScenicArea => "景区",
            DedicatedKind::Institution => "机关企事业单位",
        }
    }

    /// Parses the snake_case name or the Chinese label, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<DedicatedKind, FieldError> {
        parse_label(field, s, "kind of dedicated grid", &DedicatedKind::ALL, |k| (k.as_str(), k.zh()))
    }
}

/// A dedicated grid's id: `Z`, the keeping node's code (street or community), a hyphen, 2 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DedicatedId {
    keeper: Code,
    number: u8,
}

impl DedicatedId {
    /// Parses `value`, naming `field` in the error.
    pub fn parse(field: &str, value: &str) -> Result<DedicatedId, FieldError> {
        let (keeper, number) = parse_keyed_id(field, value, ('Z', 2, "Z370102001-01"), KEEPERS)?;
        // Two digits: at most 99.
        Ok(DedicatedId { keeper, number: number as u8 })
    }

    /// The node that keeps this dedicated grid.
    pub fn keeper(&self) -> &Code {
        &self.keeper
    }
}

impl fmt::Display for DedicatedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Z{}-{:02}", self.keeper, self.number)
    }
}

id_as_string!(DedicatedId, "id");

/// A dedicated grid (专属网格).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedicatedGrid {
    /// Its id; its code is the keeping node.
    pub id: DedicatedId,
    /// What it is drawn around.
    pub kind: DedicatedKind,
    /// Its name, e.g. 世纪联华专属网格.
    pub name: String,
    /// The unit that manages it with the grid workers, e.g. 世纪联华超市桐柏路店.
    pub managing_unit: String,
    /// The ordinary grids and micro-grids it overlaps.
    pub overlaps: BTreeSet<PlaceCode>,
}

/// Why a dedicated grid was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DedicatedError {
    /// A field's value is malformed.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// An overlapped place lies outside the keeping node.
    #[error("{field}: {place} is not within {keeper}; a dedicated grid across communities is kept by their street")]
    OutsideKeeper {
        /// The field at fault (`overlaps[1]`, ...).
        field: String,
        /// The overlapped grid or micro-grid.
        place: PlaceCode,
        /// The node that keeps the dedicated grid (a community, or a street for one across communities).
        keeper: Code,
    },
    /// An overlapped place is not on the node's map.
    #[error("{field}: {place} is not a known grid or micro-grid")]
    UnknownPlace {
        /// The field at fault (`overlaps[1]`, ...).
        field: String,
        /// The grid or micro-grid the node's map does not hold.
        place: PlaceCode,
    },
    /// The id is taken.
    #[error("id: dedicated grid {id} already exists")]
    Duplicate {
        /// The id already kept, e.g. `Z370102001-01`.
        id: DedicatedId,
    },
}

impl DedicatedGrid {
    /// Checks every field against the node `keeper` and its map.
    pub fn check(&self, keeper: &Code, known: KnownPlaces<'_>) -> Result<(), DedicatedError> {
        if self.id.keeper() != keeper {
            return Err(FieldError::new("id", format!("{} is not kept by node {keeper}", self.id)).into());
        }
        check_name("name", &self.name)?;
        check_name("managing_unit", &self.managing_unit)?;
        if self.overlaps.is_empty() || self.overlaps.len() > MAX_OVERLAPS {
            return Err(
                FieldError::new("overlaps", format!("1 to {MAX_OVERLAPS} grids or micro-grids")).into()
            );
        }
        for (i, place) in self.overlaps.iter().enumerate() {
            let field = format!("overlaps[{i}]");
            if !place.grid().is_within(keeper) {
                return Err(DedicatedError::OutsideKeeper {
                    field,
                    place: place.clone(),
                    keeper: keeper.clone(),
                });
            }
            if !known.contains(place) {
                return Err(DedicatedError::UnknownPlace { field, place: place.clone() });
            }
        }
        Ok(())
    }

    /// True when this dedicated grid overlaps `place`, or the grid `place` lies in, or a micro-grid of
    /// `place` when it is a unit grid.
    pub fn touches(&self, place: &PlaceCode) -> bool {
        self.overlaps
            .iter()
            .any(|o| o == place || o.grid() == place.grid() && (!o.is_micro() || !place.is_micro()))
    }
}

/// The dedicated grids a node keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedicatedGrids {
    keeper: Code,
    grids: BTreeMap<DedicatedId, DedicatedGrid>,
}

impl DedicatedGrids {
    /// None yet, kept by `keeper`.
    pub fn new(keeper: Code) -> DedicatedGrids {
        DedicatedGrids { keeper, grids: BTreeMap::new() }
    }

    /// Adds `grid` after checking it.
    pub fn add(&mut self, grid: DedicatedGrid, known: KnownPlaces<'_>) -> Result<(), DedicatedError> {
        grid.check(&self.keeper, known)?;
        if self.grids.contains_key(&grid.id) {
            return Err(DedicatedError::Duplicate { id: grid.id });
        }
        self.grids.insert(grid.id.clone(), grid);
        Ok(())
    }

    /// Every dedicated grid, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &DedicatedGrid> {
        self.grids.values()
    }

    /// The dedicated grids that touch `place` (see [`DedicatedGrid::touches`]), in id order.
    pub fn touching<'a>(&'a self, place: &'a PlaceCode) -> impl Iterator<Item = &'a DedicatedGrid> + 'a {
        self.grids.values().filter(move |g| g.touches(place))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(s: &str) -> PlaceCode {
        PlaceCode::parse("p", s).unwrap()
    }

    fn mall() -> DedicatedGrid {
        DedicatedGrid {
            id: DedicatedId::parse("id", "Z370102001-01").unwrap(),
            kind: DedicatedKind::Mall,
            name: "世纪联华专属网格".into(),
            managing_unit: "世纪联华超市桐柏路店".into(),
            overlaps: [place("370102001001004-02"), place("370102001002001")].into(),
        }
    }

    #[test]
    fn a_mall_on_a_community_boundary_is_kept_by_the_street() {
        let street = Code::parse("c", "370102001").unwrap();
        let mut grids = DedicatedGrids::new(street);
        grids.add(mall(), KnownPlaces::Any).unwrap();
        assert!(matches!(grids.add(mall(), KnownPlaces::Any), Err(DedicatedError::Duplicate { .. })));
        assert_eq!(grids.touching(&place("370102001001004")).count(), 1);
        assert_eq!(grids.touching(&place("370102001001004-02")).count(), 1);
        assert_eq!(grids.touching(&place("370102001001004-03")).count(), 0);
        assert_eq!(grids.touching(&place("370102001002001-05")).count(), 1);

        let community = Code::parse("c", "370102001001").unwrap();
        let mut g = mall();
        g.id = DedicatedId::parse("id", "Z370102001001-01").unwrap();
        let err = g.check(&community, KnownPlaces::Any).unwrap_err();
        assert!(
            err.to_string().starts_with("overlaps[1]: 370102001002001 is not within 370102001001"),
            "{err}"
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let street = Code::parse("c", "370102001").unwrap();
        let mut g = mall();
        g.managing_unit = String::new();
        assert!(g.check(&street, KnownPlaces::Any).unwrap_err().to_string().starts_with("managing_unit:"));
        let mut g = mall();
        g.overlaps.clear();
        assert!(g.check(&street, KnownPlaces::Any).unwrap_err().to_string().starts_with("overlaps:"));
        let known: BTreeSet<PlaceCode> = [place("370102001002001")].into();
        let err = mall().check(&street, KnownPlaces::Only(&known)).unwrap_err();
        assert!(matches!(err, DedicatedError::UnknownPlace { ref field, .. } if field == "overlaps[0]"));
        let other = Code::parse("c", "370102002").unwrap();
        assert!(mall().check(&other, KnownPlaces::Any).unwrap_err().to_string().starts_with("id:"));
        for bad in ["Z370102001-1", "370102001-01", "Z370102-01", "Z370102001-00"] {
            assert_eq!(DedicatedId::parse("id", bad).unwrap_err().field, "id", "{bad}");
        }
        assert_eq!(DedicatedKind::parse("kind", "园区").unwrap(), DedicatedKind::IndustrialPark);
        assert_eq!(DedicatedKind::parse("kind", "hospital").unwrap(), DedicatedKind::Hospital);
        assert!(DedicatedKind::parse("kind", "网吧").unwrap_err().to_string().starts_with("kind:"));
    }
}
