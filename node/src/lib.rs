//! The gridfed node: RocksDB storage, openraft replication, the tonic servers and clients, config and
//! the `gridnode` CLI. It wires the I/O-free `federation` crate to the world.
//!
//! ```text
//! cli ──▶ client ──gRPC──▶ rpc::serve ─▶ service::{CaseApi, ClusterApi, PeerApi, RaftApi}
//!                                             │ commit-or-forward
//!                             consensus::{Writer ─▶ Proposer ─▶ openraft ─▶ network (other replicas)}
//!                                                        │                  │
//!                                          storage::state_machine   storage::log_store   (RocksDB)
//! links (outbox, rollup, supervise) ─▶ consensus::Writer, storage::reader, PeerService of neighbours
//! ```
//! `http` serves the console's JSON API, live events, `/metrics` and the probes on each replica's HTTP
//! address, through the same services and authorization. `replica` wires them from a `config`; each part gets only the handles it needs (`local`,
//! `consensus::{Leadership, Writer}`, `storage::reader::CaseReader`, `clock::Clock`, `tasks::Tasks`).

pub mod backup;
pub mod certs;
pub mod cli;
pub mod client;
pub mod clock;
pub mod codec;
pub mod config;
pub mod consensus;
pub mod demo;
pub mod export;
pub mod health;
pub mod http;
pub mod links;
pub mod local;
pub mod metrics;
pub mod protocol;
pub mod render;
pub mod repair;
pub mod replica;
pub mod rpc;
pub mod service;
pub mod storage;
pub mod tasks;
pub mod tls;
pub mod version;
