//! Grid-management domain and federation logic, free of I/O.
//!
//! ```text
//! access    who may read and act (one rule for gRPC and HTTP); access tokens, stored hashed
//! code      division codes and levels (区 / 街道 / 社区 / 网格)
//! category  the national event/component classification, shipped as data
//! case      the case record (案件/工单) and its audit trail
//! deadline  the deadline policy ("7123" by default)
//! geo       grid boundaries and where a GPS point lies: GCJ-02, place codes, GeoJSON import, R-tree
//! grids     grid boundaries as a node's replicated state: versions, bounds, each child's part
//! intake    photos, keys of integrating systems, Open311 GeoReport v2, unassigned (待分派) cases
//! workflow  the seven-stage lifecycle: which action is legal from which state
//! stats     the statistics algebra: per-case contributions summed into counters, rates
//! bulletin  weekly and monthly bulletins: the ranking rule of streets and communities
//! link      routing between nodes and the store-and-forward envelope
//! tally     statistics as versioned, mergeable state for rollups
//! machine   the replicated state machine's logic: cases, outbox/inbox, rollups
//! topology  the district topology file: parse and check
//! protocol  protocol versions: who understands whom, when new commands may be proposed
//! people    grid workers: the roster, dedicated grids, dispatch precedence, patrols, visits, privacy
//! calendar  the working calendar every handling clock counts in
//! light     the traffic light (绿/黄/红) of a case's running step
//! clock     whether a replica's clock agrees with its peers' (fit to lead and supervise)
//! identity  who a certificate names: node code and role
//! bounds    limits on what crosses an edge: field lengths, ids, rollup sizes
//! field     the error that names the field at fault
//! ```
//! `node/` wires this to RocksDB, openraft and gRPC; everything here is tested without sockets.

#![warn(missing_docs)]

pub mod access;
pub mod bounds;
pub mod bulletin;
pub mod calendar;
pub mod case;
pub mod category;
pub mod clock;
pub mod code;
pub mod deadline;
pub mod field;
pub mod geo;
pub mod grids;
pub mod identity;
pub mod intake;
pub mod light;
pub mod link;
pub mod machine;
#[cfg(test)]
pub(crate) mod mem;
pub mod people;
pub mod protocol;
#[cfg(test)]
mod sim;
pub mod stats;
pub mod tally;
pub mod topology;
pub mod workflow;

pub use case::{Case, CaseState, Priority, Source};
pub use code::{Code, CodeError, Level};

/// Milliseconds since the Unix epoch, assigned by the Raft leader at proposal.
pub type Millis = i64;
