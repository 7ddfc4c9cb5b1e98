//! The gridfed node: RocksDB storage, openraft replication, the tonic servers and clients, config and
//! the `gridnode` CLI. It wires the I/O-free `federation` crate to the world.

pub mod storage;
pub mod types;
