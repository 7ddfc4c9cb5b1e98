//! The gRPC services of a replica. Handlers validate at the edge, then commit through the leader (see
//! `commit`); domain, write and storage errors become `tonic::Status` only here.
//!
//! ```text
//! case     CaseService     operators: report, act, list, stats, departments
//! cluster  ClusterService  operators: Raft status, links, membership changes, backups (backup)
//! peer     PeerService     neighbour nodes: handshake, deliveries, rollups
//! raft     RaftService     the node's other replicas: openraft's messages
//! access   AccessService   operators: the console's access tokens
//! apikeys  ApiKeyService   operators: keys of systems reporting through Open311
//! grids    GridService     grid boundaries: import (operators), list, locate a point
//! staff    StaffService    the roster of grid workers: add, assign, deactivate, import, list
//! patrol   PatrolService   the patrol log (日巡查): start, end, list, figures per grid
//! arrivals hotline tickets routed down here, registered and dispatched by the roster on arrival
//! authz    who may call what: one rule for certificates and tokens, gRPC and HTTP
//! commit   commit here or forward once to the leader; errors to statuses
//! ```

mod access;
mod apikeys;
mod arrivals;
pub mod authz;
mod backup;
mod case;
mod cluster;
mod codes;
pub(crate) mod commit;
mod days;
mod grids;
mod patrol;
mod peer;
mod raft;
mod staff;

pub use access::AccessApi;
pub use backup::{BackupSource, BackupStream};
pub use case::CaseApi;
pub use cluster::ClusterApi;
pub use codes::StatusCodesLayer;
pub use commit::FORWARDED;
pub use grids::{GridApi, MAX_GEOJSON_BYTES};
pub use patrol::PatrolApi;
pub use peer::PeerApi;
pub use raft::RaftApi;
pub use staff::StaffApi;
