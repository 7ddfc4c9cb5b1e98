//! A grid worker (网格员) as the roster keeps them: id, name, role, phone, assigned places, active.
//!
//! ```text
//! W370102001001-007    worker 007 of community 370102001001 (12 digits: kept by the community)
//! W370102001-012       worker 012 of street 370102001 (9 digits: the street's own staff)
//! ```
//! The id names the node that keeps the worker, so it is unique across the district and a node can
//! tell its own staff from another's. Numbers run 001-999 within the keeper and are never reused.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::field::{check_name, id_as_string, parse_keyed_id, parse_label, FieldError};
use super::phone::Phone;
use crate::code::{Code, Level};
use crate::geo::PlaceCode;

/// Most places (grids and micro-grids) one worker may be assigned.
pub const MAX_PLACES: usize = 64;

/// The levels that keep workers: a community, or a street for its own staff.
pub const KEEPERS: &[Level] = &[Level::Street, Level::Community];

/// A worker id: `W`, the keeping node's code (community or street), a hyphen, 3 digits 001-999.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkerId {
    keeper: Code,
    number: u16,
}

impl WorkerId {
    /// Parses `value`, naming `field` in the error.
    pub fn parse(field: &str, value: &str) -> Result<WorkerId, FieldError> {
        let (keeper, number) = parse_keyed_id(field, value, ('W', 3, "W370102001001-007"), KEEPERS)?;
        // Three digits: at most 999.
        Ok(WorkerId { keeper, number: number as u16 })
    }

    /// The id of worker `number` (1-999) of `keeper` (a street or a community).
    pub fn new(field: &str, keeper: &Code, number: u16) -> Result<WorkerId, FieldError> {
        WorkerId::parse(field, &format!("W{keeper}-{number:03}"))
    }

    /// The node that keeps this worker.
    pub fn keeper(&self) -> &Code {
        &self.keeper
    }

    /// The number within the keeper (1-999).
    pub fn number(&self) -> u16 {
        self.number
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "W{}-{:03}", self.keeper, self.number)
    }
}

impl FromStr for WorkerId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WorkerId::parse("worker", s)
    }
}

id_as_string!(WorkerId, "worker");

/// A worker's post in the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格长: leads a unit grid (usually a member of the community committee); assigned unit grids.
    GridLeader,
    /// 专职网格员: a full-time, paid grid worker.
    FullTime,
    /// 兼职网格员: a part-time worker (property staff, retired cadres, volunteers with a post).
    PartTime,
    /// 楼栋长: a resident who looks after one building or courtyard; assigned micro-grids.
    BuildingLeader,
    /// 网格信息员: reports what they see, handles nothing themselves.
    Informant,
}

impl Role {
    /// Every role, in the order of [`Role::dispatch_rank`].
    pub const ALL: [Role; 5] =
        [Role::FullTime, Role::PartTime, Role::BuildingLeader, Role::Informant, Role::GridLeader];

    /// The snake_case name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridLeader => "grid_leader",
            Role::FullTime => "full_time",
            Role::PartTime => "part_time",
            Role::BuildingLeader => "building_leader",
            Role::Informant => "informant",
        }
    }

    /// The Chinese label shown to operators and written in spreadsheets.
    pub fn zh(self) -> &'static str {
        match self {
            Role::GridLeader => "网格长",
            Role::FullTime => "专职网格员",
            Role::PartTime => "兼职网格员",
            Role::BuildingLeader => "楼栋长",
            Role::Informant => "网格信息员",
        }
    }

    /// Parses the snake_case name or the Chinese label, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Role, FieldError> {
        parse_label(field, s, "role", &Role::ALL, |r| (r.as_str(), r.zh()))
    }

    /// Order among workers of the same place for automatic dispatch (lower first): a full-time worker
    /// handles a ticket before a part-time one, a building leader or informant only when nobody else
    /// is there; a grid leader is the last resort (their own rule, see `dispatch`).
    pub fn dispatch_rank(self) -> u8 {
        match self {
            Role::FullTime => 0,
            Role::PartTime => 1,
            Role::BuildingLeader => 2,
            Role::Informant => 3,
            Role::GridLeader => 4,
        }
    }

    /// Checks that this role may be assigned `place`: a grid leader leads unit grids, a building
    /// leader looks after micro-grids; the others may hold either.
    pub fn check_place(self, field: &str, place: &PlaceCode) -> Result<(), FieldError> {
        match (self, place.is_micro()) {
            (Role::GridLeader, true) => {
                Err(FieldError::new(field, format!("{place} is a micro-grid; a 网格长 leads unit grids")))
            }
            (Role::BuildingLeader, false) => Err(FieldError::new(
                field,
                format!("{place} is a unit grid; a 楼栋长 looks after micro-grids"),
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.zh())
    }
}

/// A grid worker on a roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    /// The worker's id; its code is the keeping node.
    pub id: WorkerId,
    /// Full name, e.g. 刘晓燕.
    pub name: String,
    /// Post in the grid.
    pub role: Role,
    /// Mobile number; shown masked to all but the keeper's own operators.
    pub phone: Phone,
    /// Unit grids and micro-grids the worker is responsible for.
    pub places: BTreeSet<PlaceCode>,
    /// False once deactivated (left, on long leave): kept for history, never dispatched to.
    pub active: bool,
}

impl Worker {
    /// Checks the fields that stand on their own: the name, the number of places, each place against
    /// the role. Where the places lie is the roster's check (see `Roster::add`).
    pub fn check(&self) -> Result<(), FieldError> {
        check_name("name", &self.name)?;
        if self.places.len() > MAX_PLACES {
            return Err(FieldError::new("places", format!("at most {MAX_PLACES} places per worker")));
        }
        for (i, place) in self.places.iter().enumerate() {
            self.role.check_place(&format!("places[{i}]"), place)?;
        }
        Ok(())
    }

    /// True when the worker is assigned exactly `place`.
    pub fn holds(&self, place: &PlaceCode) -> bool {
        self.places.contains(place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_name_their_keeper() {
        let id = WorkerId::parse("id", "W370102001001-007").unwrap();
        assert_eq!(id.keeper().as_str(), "370102001001");
        assert_eq!(id.number(), 7);
        assert_eq!(id.to_string(), "W370102001001-007");
        let street = WorkerId::parse("id", "W370102001-012").unwrap();
        assert_eq!(street.keeper().level(), Level::Street);
        let c = Code::parse("c", "370102001001").unwrap();
        assert_eq!(WorkerId::new("id", &c, 42).unwrap().to_string(), "W370102001001-042");
        assert!(WorkerId::new("id", &c, 1000).is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"W370102001001-007\"");
    }

    #[test]
    fn bad_worker_ids_name_the_field() {
        for bad in [
            "",
            "370102001001-007",
            "W370102001001007",
            "W370102-007",
            "W370102001001001-007",
            "W370102001001-07",
            "W370102001001-000",
            "W37010200100a-007",
        ] {
            let err = WorkerId::parse("workers[3].id", bad).unwrap_err();
            assert_eq!(err.field, "workers[3].id", "{bad}");
            assert!(err.reason.ends_with("e.g. W370102001001-007"), "{err}");
        }
    }

    #[test]
    fn roles_parse_from_english_and_chinese() {
        assert_eq!(Role::parse("role", "网格长").unwrap(), Role::GridLeader);
        assert_eq!(Role::parse("role", "part_time").unwrap(), Role::PartTime);
        assert_eq!(Role::parse("role", " 楼栋长 ").unwrap(), Role::BuildingLeader);
        let err = Role::parse("role", "组长").unwrap_err();
        assert!(err.to_string().starts_with("role: \"组长\" is not a role"), "{err}");
        for r in Role::ALL {
            assert_eq!(Role::parse("role", r.as_str()).unwrap(), r);
            assert_eq!(Role::parse("role", r.zh()).unwrap(), r);
        }
    }

    #[test]
    fn roles_hold_the_places_they_lead() {
        let grid = PlaceCode::parse("p", "370102001001001").unwrap();
        let micro = PlaceCode::parse("p", "370102001001001-03").unwrap();
        assert!(Role::GridLeader.check_place("places[0]", &grid).is_ok());
        assert_eq!(Role::GridLeader.check_place("places[0]", &micro).unwrap_err().field, "places[0]");
        assert!(Role::BuildingLeader.check_place("places[0]", &grid).is_err());
        assert!(Role::FullTime.check_place("places[0]", &micro).is_ok());
    }
}
