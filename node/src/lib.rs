//! The gridfed node: RocksDB storage, openraft replication, the tonic servers and clients, config and
//! the `gridnode` CLI. It wires the I/O-free `federation` crate to the world.
//!
//! ```text
//! cli ──▶ client ──gRPC──▶ rpc::serve ─▶ service::{CaseApi, ClusterApi, RaftApi}
//!                                              │             │
//!                                         replica ─▶ proposer ─▶ openraft ─▶ network (to other replicas)
//!                                              │                    │
//!                                    storage::state_machine   storage::log_store   (RocksDB)
//! ```

pub mod certs;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod demo_data;
pub mod federation;
pub mod network;
pub mod proposer;
pub mod render;
pub mod replica;
pub mod rpc;
pub mod service;
pub mod storage;
pub mod tls;
pub mod types;
pub mod version;
