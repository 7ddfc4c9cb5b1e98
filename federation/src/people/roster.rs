//! The roster (网格员名册) a node keeps: a community keeps its grid workers, a street its own staff.
//! Every change is checked here before the state machine applies it: ids belong to the keeper,
//! assigned places lie within the keeper's area (and on its map, when it has one), roles hold the
//! places they lead. Refusals are typed and name the field.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::field::FieldError;
use super::worker::{Worker, WorkerId, MAX_PLACES};
use crate::code::{Code, Level};
use crate::geo::PlaceCode;

/// Which places exist, for checking assignments.
#[derive(Debug, Clone, Copy)]
pub enum KnownPlaces<'a> {
    /// No map: any grid or micro-grid code under the keeper is accepted.
    Any,
    /// Only these grids and micro-grids (the node's map or topology).
    Only(&'a BTreeSet<PlaceCode>),
}

impl<'a> KnownPlaces<'a> {
    /// The places of the node's map, when it holds one; any place under the keeper when not.
    pub fn of_map(map: Option<&'a BTreeSet<PlaceCode>>) -> KnownPlaces<'a> {
        map.map_or(KnownPlaces::Any, KnownPlaces::Only)
    }

    /// True when `place` exists.
    pub fn contains(&self, place: &PlaceCode) -> bool {
        match self {
            KnownPlaces::Any => true,
            KnownPlaces::Only(set) => set.contains(place),
        }
    }
}

/// Why a roster change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// A field's value is malformed.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The roster is kept by a node that does not keep workers.
    #[error("keeper: {keeper} is a {level} code; workers are kept by a community or a street")]
    NotAKeeper {
        /// The node given as keeper.
        keeper: Code,
        /// Its level (a district, or a grid).
        level: Level,
    },
    /// The worker's id names another keeper.
    #[error("{field}: {id} belongs to node {owner}, not to this roster's node {keeper}")]
    ForeignId {
        /// The field at fault.
        field: String,
        /// The worker id, e.g. `W370102001002-007`.
        id: WorkerId,
        /// The node the id names.
        owner: Code,
        /// The node that keeps this roster.
        keeper: Code,
    },
    /// The id is taken.
    #[error("{field}: worker {id} is already on the roster")]
    Duplicate {
        /// The field at fault.
        field: String,
        /// The worker id already on the roster.
        id: WorkerId,
    },
    /// No such worker.
    #[error("{field}: no worker {id} on the roster of {keeper}")]
    NotFound {
        /// The field at fault.
        field: String,
        /// The worker id asked for.
        id: WorkerId,
        /// The node that keeps this roster.
        keeper: Code,
    },
    /// An assigned place lies outside the keeper's area.
    #[error("{field}: {place} is not within {keeper}, the node that keeps this roster")]
    OutsideKeeper {
        /// The field at fault (`places[0]`, ...).
        field: String,
        /// The grid or micro-grid assigned.
        place: PlaceCode,
        /// The node that keeps this roster.
        keeper: Code,
    },
    /// An assigned place is not on the node's map.
    #[error("{field}: {place} is not a known grid or micro-grid of {keeper}")]
    UnknownPlace {
        /// The field at fault (`places[0]`, ...).
        field: String,
        /// The grid or micro-grid assigned.
        place: PlaceCode,
        /// The node that keeps this roster.
        keeper: Code,
    },
    /// The worker is deactivated.
    #[error("{field}: worker {id} is not active; reactivate them first")]
    Inactive {
        /// The field at fault.
        field: String,
        /// The deactivated worker.
        id: WorkerId,
    },
    /// Every number 001-999 of the keeper is used.
    #[error("id: all 999 worker numbers of {keeper} are used")]
    Full {
        /// The node whose worker numbers are used up.
        keeper: Code,
    },
}

impl RosterError {
    /// The field at fault, as the client named it (`id`, `places[0]`, `keeper`, ...).
    pub fn field(&self) -> &str {
        match self {
            RosterError::Field(e) => &e.field,
            RosterError::NotAKeeper { .. } => "keeper",
            RosterError::ForeignId { field, .. }
            | RosterError::Duplicate { field, .. }
            | RosterError::NotFound { field, .. }
            | RosterError::OutsideKeeper { field, .. }
            | RosterError::UnknownPlace { field, .. }
            | RosterError::Inactive { field, .. } => field,
            RosterError::Full { .. } => "id",
        }
    }
}

/// The workers a node keeps, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    keeper: Code,
    workers: BTreeMap<WorkerId, Worker>,
}

impl Roster {
    /// An empty roster kept by `keeper` (a community, or a street for its own staff).
    pub fn new(keeper: Code) -> Result<Roster, RosterError> {
        match keeper.level() {
            Level::Street | Level::Community => Ok(Roster { keeper, workers: BTreeMap::new() }),
            level => Err(RosterError::NotAKeeper { keeper, level }),
        }
    }

    /// The node that keeps this roster.
    pub fn keeper(&self) -> &Code {
        &self.keeper
    }

    /// The worker `id`, if on the roster.
    pub fn get(&self, id: &WorkerId) -> Option<&Worker> {
        self.workers.get(id)
    }

    /// Every worker, active or not, in id order.
    pub fn workers(&self) -> impl Iterator<Item = &Worker> {
        self.workers.values()
    }

    /// Active workers assigned exactly `place`, in id order.
    pub fn active_at<'a>(&'a self, place: &'a PlaceCode) -> impl Iterator<Item = &'a Worker> + 'a {
        self.workers.values().filter(move |w| w.active && w.holds(place))
    }

    /// The next unused id: one above the highest number ever on the roster (numbers are not reused).
    pub fn next_id(&self) -> Result<WorkerId, RosterError> {
        let next = self.workers.keys().map(WorkerId::number).max().unwrap_or(0) + 1;
        WorkerId::new("id", &self.keeper, next).map_err(|_| RosterError::Full { keeper: self.keeper.clone() })
    }

    /// Adds `worker`, checking every field and every place against the keeper and `known`.
    pub fn add(&mut self, worker: Worker, known: KnownPlaces<'_>) -> Result<(), RosterError> {
        self.check_own("id", &worker.id)?;
        if self.workers.contains_key(&worker.id) {
            return Err(RosterError::Duplicate { field: "id".into(), id: worker.id });
        }
        worker.check()?;
        for (i, place) in worker.places.iter().enumerate() {
            self.check_place(&format!("places[{i}]"), place, known)?;
        }
        self.workers.insert(worker.id.clone(), worker);
        Ok(())
    }

    /// Assigns `places` to the active worker `id` (in addition to what they hold).
    pub fn assign(
        &mut self,
        id: &WorkerId,
        places: &[PlaceCode],
        known: KnownPlaces<'_>,
    ) -> Result<(), RosterError> {
        let worker = self.active("id", id)?;
        for (i, place) in places.iter().enumerate() {
            let field = format!("places[{i}]");
            self.check_place(&field, place, known)?;
            worker.role.check_place(&field, place)?;
        }
        let total: BTreeSet<&PlaceCode> = worker.places.iter().chain(places).collect();
        if total.len() > MAX_PLACES {
            return Err(FieldError::new("places", format!("at most {MAX_PLACES} places per worker")).into());
        }
        let worker = self.lookup_mut(id)?;
        worker.places.extend(places.iter().cloned());
        Ok(())
    }

    /// Takes `place` from worker `id`; refused when they do not hold it.
    pub fn unassign(&mut self, id: &WorkerId, place: &PlaceCode) -> Result<(), RosterError> {
        let worker = self.lookup_mut(id)?;
        if !worker.places.remove(place) {
            return Err(FieldError::new("place", format!("worker {id} is not assigned {place}")).into());
        }
        Ok(())
    }

    /// Deactivates worker `id` (left, long leave): kept with their places for history, never
    /// dispatched to again until reactivated. Deactivating twice is refused.
    pub fn deactivate(&mut self, id: &WorkerId) -> Result<(), RosterError> {
        self.active("id", id)?;
        self.lookup_mut(id)?.active = false;
        Ok(())
    }

    /// Reactivates worker `id`.
    pub fn reactivate(&mut self, id: &WorkerId) -> Result<(), RosterError> {
        let worker = self.lookup_mut(id)?;
        if worker.active {
            return Err(FieldError::new("id", format!("worker {id} is already active")).into());
        }
        worker.active = true;
        Ok(())
    }

    /// The active worker `id`, or a refusal naming `field` (unknown, or deactivated).
    pub fn active(&self, field: &str, id: &WorkerId) -> Result<&Worker, RosterError> {
        let worker = self.lookup(field, id)?;
        if !worker.active {
            return Err(RosterError::Inactive { field: field.into(), id: id.clone() });
        }
        Ok(worker)
    }

    /// The worker `id`, active or not, or a refusal naming `field`.
    pub fn lookup(&self, field: &str, id: &WorkerId) -> Result<&Worker, RosterError> {
        self.workers.get(id).ok_or_else(|| self.not_found(field, id))
    }

    fn lookup_mut(&mut self, id: &WorkerId) -> Result<&mut Worker, RosterError> {
        let err = self.not_found("id", id);
        self.workers.get_mut(id).ok_or(err)
    }

    fn not_found(&self, field: &str, id: &WorkerId) -> RosterError {
        RosterError::NotFound { field: field.into(), id: id.clone(), keeper: self.keeper.clone() }
    }

    fn check_own(&self, field: &str, id: &WorkerId) -> Result<(), RosterError> {
        if id.keeper() != &self.keeper {
            return Err(RosterError::ForeignId {
                field: field.into(),
                id: id.clone(),
                owner: id.keeper().clone(),
                keeper: self.keeper.clone(),
            });
        }
        Ok(())
    }

    /// Checks that `place` lies within the keeper and, when the node has a map, is on it.
    pub fn check_place(
        &self,
        field: &str,
        place: &PlaceCode,
        known: KnownPlaces<'_>,
    ) -> Result<(), RosterError> {
        if !place.grid().is_within(&self.keeper) {
            return Err(RosterError::OutsideKeeper {
                field: field.into(),
                place: place.clone(),
                keeper: self.keeper.clone(),
            });
        }
        if !known.contains(place) {
            return Err(RosterError::UnknownPlace {
                field: field.into(),
                place: place.clone(),
                keeper: self.keeper.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::people::phone::Phone;
    use crate::people::worker::Role;

    pub(crate) const COMMUNITY: &str = "370102001001";

    pub(crate) fn place(s: &str) -> PlaceCode {
        PlaceCode::parse("place", s).unwrap()
    }

    pub(crate) fn worker(number: u16, name: &str, role: Role, places: &[&str]) -> Worker {
        let keeper = Code::parse("c", COMMUNITY).unwrap();
        Worker {
            id: WorkerId::new("id", &keeper, number).unwrap(),
            name: name.into(),
            role,
            phone: Phone::parse("phone", &format!("1395310{number:04}")).unwrap(),
            places: places.iter().map(|p| place(p)).collect(),
            active: true,
        }
    }

    pub(crate) fn roster(workers: Vec<Worker>) -> Roster {
        let mut r = Roster::new(Code::parse("c", COMMUNITY).unwrap()).unwrap();
        for w in workers {
            r.add(w, KnownPlaces::Any).unwrap();
        }
        r
    }

    #[test]
    fn add_assign_deactivate() {
        let mut r = roster(vec![worker(1, "刘晓燕", Role::GridLeader, &["370102001001001"])]);
        let id = r.next_id().unwrap();
        assert_eq!(id.to_string(), "W370102001001-002");
        let mut w = worker(2, "孙雅琴", Role::FullTime, &["370102001001001-03"]);
        w.id = id.clone();
        r.add(w, KnownPlaces::Any).unwrap();
        r.assign(&id, &[place("370102001001002")], KnownPlaces::Any).unwrap();
        assert_eq!(r.get(&id).unwrap().places.len(), 2);
        assert_eq!(r.active_at(&place("370102001001002")).count(), 1);
        r.deactivate(&id).unwrap();
        assert_eq!(r.active_at(&place("370102001001002")).count(), 0);
        assert!(matches!(r.deactivate(&id), Err(RosterError::Inactive { .. })));
        let err = r.assign(&id, &[place("370102001001003")], KnownPlaces::Any).unwrap_err();
        assert!(err.to_string().starts_with("id: worker W370102001001-002 is not active"), "{err}");
        r.reactivate(&id).unwrap();
        r.unassign(&id, &place("370102001001002")).unwrap();
        assert!(r.unassign(&id, &place("370102001001002")).is_err());
        assert_eq!(r.next_id().unwrap().number(), 3);
    }

    #[test]
    fn refusals_name_the_field() {
        let mut r = roster(vec![worker(1, "刘晓燕", Role::GridLeader, &["370102001001001"])]);
        let dup = worker(1, "王建国", Role::FullTime, &[]);
        assert_eq!(
            r.add(dup, KnownPlaces::Any).unwrap_err().to_string(),
            "id: worker W370102001001-001 is already on the roster"
        );

        let outside = worker(2, "王建国", Role::FullTime, &["370102001001001-02", "370102001002001"]);
        let err = r.add(outside, KnownPlaces::Any).unwrap_err();
        assert!(
            err.to_string().starts_with("places[1]: 370102001002001 is not within 370102001001"),
            "{err}"
        );

        let known: BTreeSet<PlaceCode> = [place("370102001001001"), place("370102001001001-01")].into();
        let unknown = worker(2, "王建国", Role::FullTime, &["370102001001001-02"]);
        let err = r.add(unknown, KnownPlaces::Only(&known)).unwrap_err();
        assert!(matches!(&err, RosterError::UnknownPlace { field, .. } if field == "places[0]"), "{err}");

        let leader_of_micro = worker(2, "王建国", Role::GridLeader, &["370102001001001-01"]);
        let err = r.add(leader_of_micro, KnownPlaces::Any).unwrap_err();
        assert!(err.to_string().starts_with("places[0]: 370102001001001-01 is a micro-grid"), "{err}");

        let nameless = worker(2, " ", Role::FullTime, &[]);
        assert!(r
            .add(nameless, KnownPlaces::Any)
            .unwrap_err()
            .to_string()
            .starts_with("name: must not be empty"));

        let other = Code::parse("c", "370102001002").unwrap();
        let mut foreign = worker(2, "王建国", Role::FullTime, &[]);
        foreign.id = WorkerId::new("id", &other, 2).unwrap();
        let err = r.add(foreign, KnownPlaces::Any).unwrap_err();
        assert!(matches!(err, RosterError::ForeignId { .. }), "{err}");

        let ghost = WorkerId::new("id", r.keeper(), 9).unwrap();
        assert!(r.deactivate(&ghost).unwrap_err().to_string().starts_with("id: no worker W370102001001-009"));
        assert!(matches!(
            Roster::new(Code::parse("c", "370102").unwrap()),
            Err(RosterError::NotAKeeper { .. })
        ));
    }

    #[test]
    fn a_street_keeps_its_own_staff_across_its_communities() {
        let street = Code::parse("c", "370102001").unwrap();
        let mut r = Roster::new(street.clone()).unwrap();
        let w = Worker {
            id: WorkerId::new("id", &street, 1).unwrap(),
            name: "赵明辉".into(),
            role: Role::FullTime,
            phone: Phone::parse("phone", "13705310001").unwrap(),
            places: [place("370102001001001"), place("370102001002004")].into(),
            active: true,
        };
        r.add(w, KnownPlaces::Any).unwrap();
        let id = r.next_id().unwrap();
        assert_eq!(id.to_string(), "W370102001-002");
        let outside = place("370102002001001");
        let err =
            r.assign(&WorkerId::new("id", &street, 1).unwrap(), &[outside], KnownPlaces::Any).unwrap_err();
        assert!(matches!(err, RosterError::OutsideKeeper { .. }));
    }
}
