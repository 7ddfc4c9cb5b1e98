//! The gridfed.v1 gRPC contracts (generated from `proto/gridfed/v1/*.proto`) and the one place where
//! protobuf messages are converted to and from the domain types of `federation`.

#![warn(missing_docs)]

pub mod convert;
pub mod intake;
pub mod patrol;
pub mod people;

/// Generated messages and service stubs of package `gridfed.v1`.
pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("gridfed.v1");
}

pub use convert::ConvertError;

/// The encoded `FileDescriptorSet` of every gridfed.v1 file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gridfed_descriptor.bin"));
