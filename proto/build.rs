//! Compiles the protos with protox (pure Rust, no `protoc`) and generates prost + tonic code, plus a
//! file descriptor set for gRPC reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "oversight/common/v1/common.proto",
        "oversight/evidence/v1/evidence.proto",
        "oversight/ingestion/v1/ingestion.proto",
        "oversight/quality/v1/quality.proto",
        "oversight/resources/v1/resources.proto",
        "oversight/combined/v1/combined.proto",
    ];
    for f in files.iter().chain(&["google/type/date.proto"]) {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("oversight_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        // BTreeMap keeps map encoding deterministic, so content hashes of messages are stable.
        .btree_map(".")
        // Our packages sit at `crate::<area>::v1`, not `crate::oversight::<area>::v1`, so the
        // relative paths prost would write to google.type do not resolve: name it absolutely.
        .extern_path(".google.type", "crate::google_type")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    // google.type.Date itself, into `google.r#type.rs` (the pass above only refers to it).
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .compile_fds(protox::compile(["google/type/date.proto"], ["."])?)?;
    Ok(())
}
