//! The caring-visit register a community keeps, and visits checked in at the door (爱心敲门).
//!
//! ```text
//! phone scans the door's QR ──► Scan { token, nonce, scanned_at } + worker, note, point
//!   1. token::KeyRing::verify      signed by this node, its household, not expired
//!   2. Register::check_visit       household active, code not superseded, worker active, not a
//!                                  double scan within MIN_GAP_MS of the last visit
//!   3. replay::ReplayGuard::admit  this scan not seen before, not stale
//!   4. Register::record            last visit moves forward ──► Visit (kept in the community)
//! ```
//! [`Register::scan_in`] does the four in order, so a refused scan changes nothing. The visit's time
//! is the scan's time (bounded by the replay guard's age and skew), not the upload's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::field::{check_text, FieldError, Point, MAX_TEXT_CHARS};
use super::household::{Household, HouseholdId};
use super::replay::{ReplayError, ReplayGuard, Scan, ScanPolicy};
use super::roster::{KnownPlaces, Roster, RosterError};
use super::token::{Claims, KeyRing, TokenError};
use super::worker::WorkerId;
use crate::code::{Code, Level};
use crate::Millis;

/// Two check-ins of one household closer than this are one visit scanned twice: the second is refused.
pub const MIN_GAP_MS: Millis = 30 * 60_000;

/// A visit checked in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// The household visited.
    pub household: HouseholdId,
    /// Who visited.
    pub worker: WorkerId,
    /// When the door's code was scanned.
    pub at: Millis,
    /// What the worker noted (may hold personal data: stays in the community).
    pub note: String,
    /// Where the phone was, if it said.
    pub point: Option<Point>,
    /// True when the visitor is the household's responsible worker (not a colleague standing in).
    pub by_responsible: bool,
}

/// A check-in as the worker's phone posts it: the scan of the door's code and what the worker adds.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIn {
    /// The scan of the door's code.
    pub scan: Scan,
    /// The household the worker means to check in, when the client names one (`gridnode visits
    /// checkin H370102001001-0042 --token …`): a code of another household is then refused.
    pub household: Option<HouseholdId>,
    /// Who is at the door.
    pub worker: WorkerId,
    /// A short note (optional).
    pub note: String,
    /// The phone's position (optional).
    pub point: Option<Point>,
}

/// Why a register change or a check-in was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitError {
    /// A field's value is not acceptable.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The worker does not fit the roster.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// The QR token was refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The scan was refused.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The register is kept by a node that is not a community.
    #[error("community: {code} is not a community; households are kept by communities")]
    NotACommunity {
        /// The node given as keeper of the register.
        code: Code,
    },
    /// The household's id names another community.
    #[error("{field}: {id} belongs to another community than {community}")]
    Foreign {
        /// The field at fault.
        field: String,
        /// The household id, e.g. `H370102001002-0042`.
        id: HouseholdId,
        /// The community that keeps this register.
        community: Code,
    },
    /// The id is taken.
    #[error("id: household {id} is already on the register")]
    Duplicate {
        /// The household id already on the register.
        id: HouseholdId,
    },
    /// No such household.
    #[error("{field}: no household {id} on the register")]
    NotFound {
        /// The field at fault.
        field: String,
        /// The household id asked for.
        id: HouseholdId,
    },
    /// The household was taken off the register.
    #[error("household: {id} is no longer on the visit register")]
    Inactive {
        /// The household taken off the register.
        id: HouseholdId,
    },
    /// The code scanned was replaced by a newer one.
    #[error("token: code {serial} of {household} was replaced by code {current}; scan the new code")]
    Superseded {
        /// The household.
        household: HouseholdId,
        /// The serial of the code scanned.
        serial: u32,
        /// The serial of the household's current code.
        current: u32,
    },
    /// Scanned again right after a visit.
    #[error("scanned_at: {household} was checked in at {last}, less than 30 minutes before {at}")]
    TooSoon {
        /// The household.
        household: HouseholdId,
        /// When its last visit was checked in.
        last: Millis,
        /// When this scan was made: within `MIN_GAP_MS` of `last`, before or after it.
        at: Millis,
    },
}

/// The households a community visits, and when each was last visited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    community: Code,
    households: BTreeMap<HouseholdId, Household>,
    last_visit: BTreeMap<HouseholdId, Millis>,
}

impl Register {
    /// An empty register of `community`.
    pub fn new(community: Code) -> Result<Register, VisitError> {
        if community.level() != Level::Community {
            return Err(VisitError::NotACommunity { code: community });
        }
        Ok(Register { community, households: BTreeMap::new(), last_visit: BTreeMap::new() })
    }

    /// The community that keeps the register.
    pub fn community(&self) -> &Code {
        &self.community
    }

    /// Every household, active or not, in id order.
    pub fn households(&self) -> impl Iterator<Item = &Household> {
        self.households.values()
    }

    /// The household `id`, or a refusal naming `field`.
    pub fn lookup(&self, field: &str, id: &HouseholdId) -> Result<&Household, VisitError> {
        self.households.get(id).ok_or_else(|| VisitError::NotFound { field: field.into(), id: id.clone() })
    }

    /// When `id` was last visited, if ever.
    pub fn last_visit(&self, id: &HouseholdId) -> Option<Millis> {
        self.last_visit.get(id).copied()
    }

    /// The next unused id (numbers are never reused).
    pub fn next_id(&self) -> Result<HouseholdId, VisitError> {
        let next = self.households.keys().map(HouseholdId::number).max().unwrap_or(0) + 1;
        Ok(HouseholdId::new("id", &self.community, next)?)
    }

    /// Adds `household`: its fields, its place within the community (and on its map), its worker
    /// active on `roster`.
    pub fn add(
        &mut self,
        household: Household,
        roster: &Roster,
        known: KnownPlaces<'_>,
    ) -> Result<(), VisitError> {
        if household.id.community() != &self.community {
            let community = self.community.clone();
            return Err(VisitError::Foreign { field: "id".into(), id: household.id, community });
        }
        if self.households.contains_key(&household.id) {
            return Err(VisitError::Duplicate { id: household.id });
        }
        household.check()?;
        if !household.place.grid().is_within(&self.community) || !known.contains(&household.place) {
            let reason =
                format!("{} is not a known grid or micro-grid of {}", household.place, self.community);
            return Err(FieldError::new("place", reason).into());
        }
        roster.active("worker", &household.worker)?;
        self.households.insert(household.id.clone(), household);
        Ok(())
    }

    /// Makes the active worker `worker` responsible for household `id`.
    pub fn reassign(
        &mut self,
        id: &HouseholdId,
        worker: &WorkerId,
        roster: &Roster,
    ) -> Result<(), VisitError> {
        roster.active("worker", worker)?;
        self.entry(id)?.worker = worker.clone();
        Ok(())
    }

    /// Takes household `id` off the register (kept for history; no longer due).
    pub fn deactivate(&mut self, id: &HouseholdId) -> Result<(), VisitError> {
        self.entry(id)?.active = false;
        Ok(())
    }

    /// Replaces household `id`'s code (lost, damaged, photographed): returns the new serial to sign;
    /// every older code is refused from now on.
    pub fn reissue(&mut self, id: &HouseholdId) -> Result<u32, VisitError> {
        let h = self.entry(id)?;
        h.token_serial += 1;
        Ok(h.token_serial)
    }

    fn entry(&mut self, id: &HouseholdId) -> Result<&mut Household, VisitError> {
        self.households
            .get_mut(id)
            .ok_or_else(|| VisitError::NotFound { field: "household".into(), id: id.clone() })
    }

    /// Checks a visit of the household of `claims` by `check_in` at `at`, changing nothing.
    pub fn check_visit(
        &self,
        roster: &Roster,
        claims: &Claims,
        check_in: &CheckIn,
        at: Millis,
    ) -> Result<(), VisitError> {
        let h = self.lookup("household", &claims.household)?;
        if !h.active {
            return Err(VisitError::Inactive { id: h.id.clone() });
        }
        if claims.serial != h.token_serial {
            let (serial, current) = (claims.serial, h.token_serial);
            return Err(VisitError::Superseded { household: h.id.clone(), serial, current });
        }
        roster.active("worker", &check_in.worker)?;
        check_text("note", &check_in.note, MAX_TEXT_CHARS, false)?;
        if let Some(p) = &check_in.point {
            p.check("point")?;
        }
        if let Some(last) = self.last_visit(&h.id).filter(|&last| (at - last).abs() < MIN_GAP_MS) {
            return Err(VisitError::TooSoon { household: h.id.clone(), last, at });
        }
        Ok(())
    }

    /// Records a checked visit: the household's last visit moves forward (never back).
    pub fn record(&mut self, claims: &Claims, check_in: CheckIn, at: Millis) -> Visit {
        let last = self.last_visit.entry(claims.household.clone()).or_insert(at);
        *last = (*last).max(at);
        let responsible = self.households.get(&claims.household).is_some_and(|h| h.worker == check_in.worker);
        Visit {
            household: claims.household.clone(),
            worker: check_in.worker,
            at,
            note: check_in.note,
            point: check_in.point,
            by_responsible: responsible,
        }
    }

    /// Checks in `check_in`, received at `now`: verify the token, check the visit, admit the
    /// scan, record it (see the module's diagram). A refusal at any step changes nothing.
    pub fn scan_in(
        &mut self,
        ring: &KeyRing,
        guard: &mut ReplayGuard,
        roster: &Roster,
        check_in: CheckIn,
        now: Millis,
        policy: &ScanPolicy,
    ) -> Result<Visit, VisitError> {
        let scan = &check_in.scan;
        let expected = check_in.household.as_ref();
        let claims = ring.verify(&scan.token, &self.community, expected, now, policy.validity_ms)?;
        self.check_visit(roster, &claims, &check_in, scan.scanned_at)?;
        guard.admit(&claims.household, &scan.nonce, scan.scanned_at, now, policy)?;
        let at = scan.scanned_at;
        Ok(self.record(&claims, check_in, at))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::people::household::{Category, Interval};
    use crate::people::phone::Phone;
    use crate::people::roster::tests::{place, roster, worker};
    use crate::people::worker::Role;

    pub(crate) const SECRET: &[u8] = b"a community secret, 32 bytes min";
    pub(crate) const T: Millis = 1_764_028_800_000; // 2025-11-25 08:00 Beijing time
    const MIN: Millis = 60_000;

    pub(crate) fn staff() -> Roster {
        roster(vec![
            worker(2, "孙雅琴", Role::FullTime, &["370102001001001"]),
            worker(3, "马俊峰", Role::PartTime, &["370102001001002"]),
        ])
    }

    pub(crate) fn household(
        n: u16,
        category: Category,
        place_code: &str,
        interval: Interval,
        since: Millis,
    ) -> Household {
        let community = Code::parse("c", "370102001001").unwrap();
        Household {
            id: HouseholdId::new("id", &community, n).unwrap(),
            category,
            name: "周桂兰".into(),
            address: "山大路47号3号楼2单元501".into(),
            phone: Some(Phone::parse("phone", "13805319876").unwrap()),
            place: place(place_code),
            interval,
            worker: worker(2, "孙雅琴", Role::FullTime, &[]).id,
            since,
            active: true,
            token_serial: 1,
        }
    }

    pub(crate) fn register(households: Vec<Household>) -> Register {
        let mut r = Register::new(Code::parse("c", "370102001001").unwrap()).unwrap();
        for h in households {
            r.add(h, &staff(), KnownPlaces::Any).unwrap();
        }
        r
    }

    /// A check-in by worker `n` of a scan of `token`.
    pub(crate) fn by(n: u16, token: &str, nonce: &str, at: Millis) -> CheckIn {
        CheckIn {
            scan: Scan { token: token.into(), nonce: nonce.into(), scanned_at: at },
            household: None,
            worker: worker(n, "", Role::FullTime, &[]).id,
            note: "血压正常,精神很好".into(),
            point: None,
        }
    }

    #[test]
    fn a_scan_at_the_door_checks_in_a_visit_once() {
        let h42 = || household(42, Category::ElderlyAlone, "370102001001001-03", Interval::DAILY, T);
        let mut reg = register(vec![h42()]);
        let ring = KeyRing::new("k2026", SECRET).unwrap();
        let hh = h42().id;
        let token = ring.sign(&hh, 1, T).unwrap();
        let (mut guard, p, staff) = (ReplayGuard::default(), ScanPolicy::default(), staff());

        let first = by(2, &token, "k3Jd8aPq0ZxW5mLc", T + 60 * MIN);
        let visit = reg.scan_in(&ring, &mut guard, &staff, first.clone(), T + 61 * MIN, &p).unwrap();
        assert_eq!((visit.at, visit.by_responsible), (T + 60 * MIN, true));
        assert_eq!(reg.last_visit(&hh), Some(T + 60 * MIN));

        // The same request again: a double scan of the visit; on a register without it, a replay.
        let err = reg.scan_in(&ring, &mut guard, &staff, first.clone(), T + 62 * MIN, &p).unwrap_err();
        assert!(matches!(err, VisitError::TooSoon { .. }), "{err}");
        let mut fresh = register(vec![h42()]);
        let err = fresh.scan_in(&ring, &mut guard, &staff, first, T + 62 * MIN, &p).unwrap_err();
        assert!(matches!(err, VisitError::Replay(ReplayError::Replayed { .. })), "{err}");

        // A colleague the next day, with a new scan: recorded, not by the responsible worker.
        let day2 = T + 24 * 60 * MIN;
        let visit = reg
            .scan_in(&ring, &mut guard, &staff, by(3, &token, "Tq9vB4nXe2Hs7RkM", day2), day2, &p)
            .unwrap();
        assert!(!visit.by_responsible);

        // The code of this door, checked in as another household's: refused.
        let mut elsewhere = by(2, &token, "Wm5tL0aZ3bHc8QeR", day2 + 60 * MIN);
        elsewhere.household = Some(HouseholdId::parse("h", "H370102001001-0043").unwrap());
        let err = reg.scan_in(&ring, &mut guard, &staff, elsewhere, day2 + 60 * MIN, &p).unwrap_err();
        assert!(matches!(err, VisitError::Token(TokenError::WrongHousehold { .. })), "{err}");

        // A forged code changes nothing.
        let forged = format!("{}x", &token[..token.len() - 1]);
        let day3 = T + 48 * 60 * MIN;
        let err = reg
            .scan_in(&ring, &mut guard, &staff, by(2, &forged, "Yc6pN1wRf8Gj3KuD", day3), day3, &p)
            .unwrap_err();
        assert!(matches!(err, VisitError::Token(_)), "{err}");
        assert_eq!(reg.last_visit(&hh), Some(day2));
    }

    #[test]
    fn a_reissued_code_voids_the_old_one_and_inactive_households_are_not_visited() {
        let mut reg =
            register(vec![household(7, Category::Disabled, "370102001001002", Interval::WEEKLY, T)]);
        let ring = KeyRing::new("k2026", SECRET).unwrap();
        let hh = reg.households().next().unwrap().id.clone();
        let old = ring.sign(&hh, 1, T).unwrap();
        assert_eq!(reg.reissue(&hh).unwrap(), 2);
        let (mut guard, p, staff) = (ReplayGuard::default(), ScanPolicy::default(), staff());
        let err =
            reg.scan_in(&ring, &mut guard, &staff, by(3, &old, "A1b2C3d4E5f6G7h8", T), T, &p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "token: code 1 of H370102001001-0007 was replaced by code 2; scan the new code"
        );
        assert!(guard.is_empty(), "a refused scan is not remembered");
        let new = ring.sign(&hh, 2, T).unwrap();
        reg.scan_in(&ring, &mut guard, &staff, by(3, &new, "A1b2C3d4E5f6G7h8", T), T, &p).unwrap();
        reg.deactivate(&hh).unwrap();
        let later = T + 60 * MIN;
        let err = reg.scan_in(&ring, &mut guard, &staff, by(3, &new, "Q1b2C3d4E5f6G7h8", later), later, &p);
        assert!(matches!(err, Err(VisitError::Inactive { .. })));
    }

    #[test]
    fn register_refusals_name_the_field() {
        let mut reg = register(vec![]);
        let staff = staff();
        let mut h = household(1, Category::LeftBehindChild, "370102001001001", Interval::TWICE_WEEKLY, T);
        h.address = String::new();
        assert!(reg.add(h, &staff, KnownPlaces::Any).unwrap_err().to_string().starts_with("address:"));
        let h = household(1, Category::LeftBehindChild, "370102001002001", Interval::TWICE_WEEKLY, T);
        assert!(reg
            .add(h, &staff, KnownPlaces::Any)
            .unwrap_err()
            .to_string()
            .starts_with("place: 370102001002001"));
        let mut h = household(1, Category::LeftBehindChild, "370102001001001", Interval::TWICE_WEEKLY, T);
        h.worker = worker(9, "", Role::FullTime, &[]).id;
        assert!(reg
            .add(h, &staff, KnownPlaces::Any)
            .unwrap_err()
            .to_string()
            .starts_with("worker: no worker W370102001001-009"));
        let h = household(1, Category::LeftBehindChild, "370102001001001", Interval::TWICE_WEEKLY, T);
        reg.add(h.clone(), &staff, KnownPlaces::Any).unwrap();
        assert!(matches!(reg.add(h, &staff, KnownPlaces::Any), Err(VisitError::Duplicate { .. })));
        assert_eq!(reg.next_id().unwrap().to_string(), "H370102001001-0002");
        let ghost = HouseholdId::parse("h", "H370102001001-0099").unwrap();
        assert!(reg.reissue(&ghost).unwrap_err().to_string().starts_with("household: no household"));
        assert!(Register::new(Code::parse("c", "370102001").unwrap()).is_err());
    }
}
