//! The gRPC services of a replica. Handlers validate at the edge, then call the replica; domain and
//! storage errors become `tonic::Status` only here.

mod case;
mod cluster;
mod raft;

pub use case::CaseApi;
pub use cluster::ClusterApi;
pub use raft::RaftApi;
