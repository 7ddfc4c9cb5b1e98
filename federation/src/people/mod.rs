//! People and places of the grid (网格): who works where, and the daily work that is theirs.
//!
//! ```text
//!  community node 370102001001 (the street node for its own staff)
//!  ├── roster      Worker W370102001001-007 刘晓燕 专职网格员 138****1234
//!  │                 └── places: 370102001001001 (grid), 370102001001001-03 (micro-grid)
//!  ├── dedicated   专属网格 Z370102001-01 世纪联华 商场 ── overlaps grids / micro-grids
//!  ├── dispatch    place of a case ──► micro-grid worker ► grid worker ► grid leader (+ why)
//!  ├── patrol      日巡查: worker, grid, start/end, route ──► cases found carry the patrol id
//!  │                 └── figures: patrols per grid per day, unpatrolled grids, patrol vs public
//!  ├── household   爱心敲门 register: 独居老人, 残疾人, 留守儿童 … with a visit interval
//!  ├── visits      check-in: scanned QR (token) ─► each scan once (replay) ─► last visit moves on
//!  ├── missed      no visit within the interval ─► overdue list ─► per policy, a case; figures
//!  ├── token       the QR: base64url("v1|household|key|issued|serial") + HMAC-SHA256, node secret
//!  └── privacy     what may leave the community: counts up, reporter data only when allowed,
//!                  phones masked for all but the keeper's own operators
//!          │ rollups: counts only
//!          ▼
//!  street / district nodes
//! ```
//! Everything here is pure: the state machine (`machine`) applies these checks to replicated
//! commands, and `node/` wires files, QR images and the CLI to them.
//!
//! - `field`, `phone`: shared checks (named fields, points) and mainland mobile numbers with masking.
//! - `worker`, `roster`: worker ids, roles and the roster a node keeps.
//! - `dedicated`: dedicated grids (专属网格) over ordinary grids and micro-grids.
//! - `dispatch`: the worker who owns a place, and why; `workload`: figures per worker.
//! - `patrol`: the patrol log (日巡查) and its figures.
//! - `household`: the caring-visit register's entries, categories and visit intervals.
//! - `visits`: the register a community keeps and visits checked in by scanning the door's code.
//! - `missed`: missed visits, the policy that makes them cases, visit figures (counts only).
//! - `token`: the signed QR token of a household's door; `replay`: each scan counts once.
//! - `privacy`: the rule of what may leave a community, and phone masking.
//! - `sheet`: the offices' spreadsheets as rows: import all-or-nothing with a row report, export.
//!
//! Decisions, each documented where it lives:
//! - Ids name their keeper: `W370102001001-007` (worker), `Z370102001-01` (dedicated grid),
//!   `P370102001001-000123` (patrol), `H370102001001-0042` (household); numbers are never reused.
//! - Dispatch: micro-grid, then grid, then grid leader; ties by role (专职 before 兼职 before 楼栋长
//!   before 信息员), then id. Only the roster decides, so every replica picks the same worker.
//! - Visit intervals count working days of the node's calendar (daily = 1, twice a week = 3, weekly
//!   = 5) unless the register says calendar days; due by the end of the day.
//! - The QR token is `base64url("v1|household|key|issued_at|serial") "." base64url(HMAC-SHA256)`;
//!   a replay is the same (household, client nonce) twice, and scans older than 24 h are stale.
//! - What leaves a community: counts keyed by ids; reporter data only when needed and allowed.
//!
//! The state, as the state machine would keep it: [`Roster`], [`DedicatedGrids`], [`Patrol`]s,
//! [`Register`] and [`ReplayGuard`] (all serde, ids as text); the [`KeyRing`] is node configuration,
//! the same on every replica of a node, never replicated.

pub mod dedicated;
pub mod dispatch;
pub mod field;
pub mod household;
pub mod missed;
pub mod patrol;
pub mod phone;
pub mod privacy;
pub mod replay;
pub mod roster;
pub mod sheet;
pub mod token;
pub mod visits;
pub mod worker;
pub mod workload;

pub use dedicated::{DedicatedError, DedicatedGrid, DedicatedGrids, DedicatedId, DedicatedKind};
pub use dispatch::{choose_worker, Choice, DispatchError, Rule};
pub use field::{FieldError, Point};
pub use household::{Basis, Category, Household, HouseholdId, Interval};
pub use missed::{
    missed_cases, missed_visits, visit_figures, visits_per_grid, Missed, MissedCase, MissedPolicy,
    VisitFigures,
};
pub use patrol::{
    coverage, found_by, patrols_per_grid_per_day, Coverage, Found, FoundBy, Patrol, PatrolError, PatrolId,
    RoutePoint,
};
pub use phone::{mask_phone, Phone};
pub use privacy::{
    mask_phones_in, phone_for, redact_reporter, reporter_may_travel, rollup_may_carry, Datum, Need,
    PrivacyPolicy, Withheld,
};
pub use replay::{ReplayError, ReplayGuard, Scan, ScanPolicy};
pub use roster::{KnownPlaces, Roster, RosterError};
pub use sheet::{export_households, export_workers, import_households, import_workers, Row, RowError};
pub use token::{Claims, KeyRing, TokenError};
pub use visits::{CheckIn, Register, Visit, VisitError, MIN_GAP_MS};
pub use worker::{Role, Worker, WorkerId};
pub use workload::{per_worker, worker_of, WorkerFigures};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::household::Interval;
    use crate::people::roster::tests::{roster, worker};
    use crate::people::visits::tests::{by, household, register, staff, SECRET, T};

    #[test]
    fn the_state_roundtrips_through_serde() {
        let r = roster(vec![
            worker(1, "刘晓燕", Role::GridLeader, &["370102001001001"]),
            worker(2, "孙雅琴", Role::FullTime, &["370102001001001-03"]),
        ]);
        let back: Roster = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);

        let mut reg =
            register(vec![household(1, Category::ElderlyAlone, "370102001001001-03", Interval::DAILY, T)]);
        let ring = KeyRing::new("k1", SECRET).unwrap();
        let token = ring.sign(&reg.households().next().unwrap().id, 1, T).unwrap();
        let mut guard = ReplayGuard::default();
        let check_in = by(2, &token, "serde-roundtrip-0001", T + 1);
        reg.scan_in(&ring, &mut guard, &staff(), check_in, T + 2, &ScanPolicy::default()).unwrap();
        let back: Register = serde_json::from_str(&serde_json::to_string(&reg).unwrap()).unwrap();
        assert_eq!(back, reg);
        let back: ReplayGuard = serde_json::from_str(&serde_json::to_string(&guard).unwrap()).unwrap();
        assert_eq!(back, guard);
        let text = serde_json::to_string(&reg).unwrap();
        assert!(text.contains("\"H370102001001-0001\"") && text.contains("13805319876"), "{text}");
    }
}
