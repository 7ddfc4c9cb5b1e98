//! Compiles the gridfed.v1 contracts with protox (no system protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/gridfed/v1/case.proto", "proto/gridfed/v1/peer.proto", "proto/gridfed/v1/raft.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    Ok(())
}
