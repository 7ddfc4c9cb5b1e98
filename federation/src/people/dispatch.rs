//! Dispatch by place (精准派单, `--to-worker auto`): the worker who owns the place of a case.
//!
//! ```text
//! case at 370102001001001-03 ─► 1. active workers assigned the micro-grid 370102001001001-03
//!                               2. active workers assigned the unit grid 370102001001001 (not leaders)
//!                               3. the active grid leader (网格长) of 370102001001001
//!                               ✗  nobody: NobodyAssigned, naming every place tried
//! ```
//! A case located only to a unit grid starts at rule 2. Within a rule the candidates are ordered by
//! role ([`Role::dispatch_rank`]: 专职网格员, 兼职网格员, 楼栋长, 网格信息员), then by worker id, lowest
//! first; the first is chosen. The order uses nothing but the roster, so every replica picks the same
//! worker. The choice comes with the rule that matched, for the case's audit trail.

use std::fmt;

use super::roster::Roster;
use super::worker::{Role, Worker, WorkerId};
use crate::case::{Handler, HandlerKind};
use crate::geo::{PlaceCode, PlaceError};

/// Which rule picked the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Assigned the micro-grid of the case.
    MicroGrid {
        /// The case's micro-grid (`370102001001001-03`).
        place: PlaceCode,
    },
    /// Assigned the unit grid of the case.
    Grid {
        /// The case's unit grid.
        place: PlaceCode,
    },
    /// The leader of the case's grid, nobody else being assigned.
    GridLeader {
        /// The case's unit grid, which the leader leads.
        place: PlaceCode,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::MicroGrid { place } => write!(f, "微网格 {place} 的网格员 (assigned the micro-grid)"),
            Rule::Grid { place } => write!(f, "网格 {place} 的网格员 (assigned the grid)"),
            Rule::GridLeader { place } => {
                write!(f, "网格 {place} 的网格长 (nobody else assigned; the grid leader)")
            }
        }
    }
}

/// The chosen worker and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Who handles the case.
    pub worker: WorkerId,
    /// Their role, for the handler's display.
    pub role: Role,
    /// The rule that matched.
    pub rule: Rule,
    /// How many workers the rule matched (the chosen one included).
    pub candidates: usize,
}

impl Choice {
    /// The case's handler: a grid worker named by the worker's id (what `workload` counts by).
    pub fn handler(&self) -> Handler {
        Handler { kind: HandlerKind::GridWorker, name: self.worker.to_string() }
    }

    /// The reason, as recorded in the case's audit note, with the worker's `name`:
    /// `自动派单 W… 孙雅琴 (专职网格员): 微网格 … 的网格员 (…); 1 of 2 candidates, chosen by role then id`.
    pub fn reason(&self, name: &str) -> String {
        let tie = if self.candidates > 1 {
            format!("; 1 of {} candidates, chosen by role then id", self.candidates)
        } else {
            String::new()
        };
        format!("自动派单 {} {name} ({}): {}{tie}", self.worker, self.role.zh(), self.rule)
    }
}

/// Why no worker could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The place is not in the roster keeper's area.
    #[error("place: {place} is not within {keeper}; dispatch it from the node that keeps its grid")]
    OutsideKeeper {
        /// The case's place.
        place: PlaceCode,
        /// The code of the node whose roster was asked.
        keeper: String,
    },
    /// Nobody active is assigned any of the places tried.
    #[error("place: no active worker is assigned {tried} (nor is there an active grid leader){inactive}; assign one with `gridnode staff assign`")]
    NobodyAssigned {
        /// The case's place.
        place: PlaceCode,
        /// The places tried, micro-grid first, joined by ` or `.
        tried: String,
        /// ` (inactive: W…, W…)` listing deactivated workers of those places, or empty.
        inactive: String,
    },
    /// The place code is malformed (a micro-grid's grid is always a grid: not expected).
    #[error(transparent)]
    Place(#[from] PlaceError),
}

/// Picks the worker for a case at `place` (see the module's rules).
pub fn choose_worker(roster: &Roster, place: &PlaceCode) -> Result<Choice, DispatchError> {
    if !place.grid().is_within(roster.keeper()) {
        return Err(DispatchError::OutsideKeeper {
            place: place.clone(),
            keeper: roster.keeper().to_string(),
        });
    }
    let grid = PlaceCode::unit("place", place.grid())?;
    let mut tried = Vec::new();
    if place.is_micro() {
        tried.push(place.clone());
        if let Some(c) = best(roster.active_at(place), |_| true, Rule::MicroGrid { place: place.clone() }) {
            return Ok(c);
        }
    }
    tried.push(grid.clone());
    let not_leader = |w: &Worker| w.role != Role::GridLeader;
    if let Some(c) = best(roster.active_at(&grid), not_leader, Rule::Grid { place: grid.clone() }) {
        return Ok(c);
    }
    let leader = |w: &Worker| w.role == Role::GridLeader;
    if let Some(c) = best(roster.active_at(&grid), leader, Rule::GridLeader { place: grid.clone() }) {
        return Ok(c);
    }
    let inactive: Vec<String> = roster
        .workers()
        .filter(|w| !w.active && tried.iter().any(|p| w.holds(p)))
        .map(|w| w.id.to_string())
        .collect();
    let tried: Vec<String> = tried.iter().map(ToString::to_string).collect();
    Err(DispatchError::NobodyAssigned {
        place: place.clone(),
        tried: tried.join(" or "),
        inactive: if inactive.is_empty() {
            String::new()
        } else {
            format!(" (inactive: {})", inactive.join(", "))
        },
    })
}

/// The first of `workers` passing `keep`, by role rank then id.
fn best<'a>(
    workers: impl Iterator<Item = &'a Worker>,
    keep: impl Fn(&Worker) -> bool,
    rule: Rule,
) -> Option<Choice> {
    let mut matched: Vec<&Worker> = workers.filter(|w| keep(w)).collect();
    matched.sort_by(|a, b| (a.role.dispatch_rank(), &a.id).cmp(&(b.role.dispatch_rank(), &b.id)));
    matched.first().map(|w| Choice { worker: w.id.clone(), role: w.role, rule, candidates: matched.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::roster::tests::{place, roster, worker};

    #[test]
    fn the_most_specific_place_wins() {
        let mut r = roster(vec![
            worker(1, "刘晓燕", Role::GridLeader, &["370102001001001"]),
            worker(2, "孙雅琴", Role::FullTime, &["370102001001001"]),
            worker(3, "马俊峰", Role::PartTime, &["370102001001001-03"]),
        ]);
        let micro = place("370102001001001-03");
        let c = choose_worker(&r, &micro).unwrap();
        assert_eq!((c.worker.number(), &c.rule), (3, &Rule::MicroGrid { place: micro.clone() }));
        assert_eq!(c.handler().name, "W370102001001-003");
        assert!(
            c.reason("王芳")
                .starts_with("自动派单 W370102001001-003 王芳 (兼职网格员): 微网格 370102001001001-03"),
            "{}",
            c.reason("王芳")
        );

        // Another micro-grid of the same grid: nobody there, so the grid's worker.
        let c = choose_worker(&r, &place("370102001001001-04")).unwrap();
        assert_eq!((c.worker.number(), &c.rule), (2, &Rule::Grid { place: place("370102001001001") }));

        // The micro-grid's worker leaves: the grid's worker; then the grid leader.
        r.deactivate(&c.worker).unwrap();
        let c = choose_worker(&r, &micro).unwrap();
        assert_eq!(c.worker.number(), 3);
        let leader = choose_worker(&r, &place("370102001001001")).unwrap();
        assert_eq!((leader.worker.number(), leader.role), (1, Role::GridLeader));
        assert!(matches!(leader.rule, Rule::GridLeader { .. }));
    }

    #[test]
    fn ties_go_by_role_then_id() {
        let r = roster(vec![
            worker(4, "王建国", Role::BuildingLeader, &["370102001001002-01"]),
            worker(7, "陈静怡", Role::PartTime, &["370102001001002-01"]),
            worker(9, "李红梅", Role::FullTime, &["370102001001002-01"]),
            worker(8, "张志强", Role::FullTime, &["370102001001002-01"]),
        ]);
        let c = choose_worker(&r, &place("370102001001002-01")).unwrap();
        assert_eq!((c.worker.number(), c.candidates), (8, 4));
        assert!(c.reason("").ends_with("1 of 4 candidates, chosen by role then id"), "{}", c.reason(""));
    }

    #[test]
    fn nobody_assigned_is_a_clear_refusal() {
        let mut r = roster(vec![worker(5, "赵丽", Role::FullTime, &["370102001001003-02"])]);
        r.deactivate(&worker(5, "赵丽", Role::FullTime, &[]).id).unwrap();
        let err = choose_worker(&r, &place("370102001001003-02")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "place: no active worker is assigned 370102001001003-02 or 370102001001003 (nor is there an active \
             grid leader) (inactive: W370102001001-005); assign one with `gridnode staff assign`"
        );
        let err = choose_worker(&r, &place("370102001002001")).unwrap_err();
        assert!(matches!(err, DispatchError::OutsideKeeper { .. }), "{err}");
    }
}
