//! The gRPC services of a replica. Handlers validate at the edge, then call the replica; domain and
//! storage errors become `tonic::Status` only here.

mod authz;
mod case;
mod cluster;
mod federation;
mod raft;

pub use case::{now_ms, CaseApi};
pub use cluster::ClusterApi;
pub use federation::FederationApi;
pub use raft::RaftApi;
