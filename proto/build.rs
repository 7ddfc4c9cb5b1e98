//! Compiles the gridfed.v1 contracts with protox (no system protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/gridfed/v1/case.proto",
        "proto/gridfed/v1/peer.proto",
        "proto/gridfed/v1/raft.proto",
        "proto/gridfed/v1/access.proto",
        "proto/gridfed/v1/grids.proto",
        "proto/gridfed/v1/photos.proto",
        "proto/gridfed/v1/apikeys.proto",
        "proto/gridfed/v1/staff.proto",
        "proto/gridfed/v1/patrol.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    // The descriptors for gRPC server reflection (grpcurl).
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("gridfed_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    Ok(())
}
