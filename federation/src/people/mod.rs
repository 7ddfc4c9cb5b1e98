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
