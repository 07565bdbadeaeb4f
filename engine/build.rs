//! Generates the gRPC contract between nodes from `proto/tumult.proto`, with
//! the protoc binary vendored by `protoc-bin-vendored` (never downloaded).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // prost would generate HashMap for map<> fields: iteration order must be deterministic.
    config.btree_map(["."]);
    tonic_prost_build::configure().compile_with_config(
        config,
        &["proto/tumult.proto"],
        &["proto"],
    )?;
    println!("cargo:rerun-if-changed=proto/tumult.proto");
    Ok(())
}
