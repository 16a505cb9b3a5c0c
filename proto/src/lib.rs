//! The shared contract of the four services. Messages on NATS are these protobuf messages; the gRPC
//! services are generated with tonic. Sources: `proto/oversight/<area>/v1/*.proto`.

#![allow(
    clippy::doc_markdown,
    clippy::large_enum_variant,
    clippy::derive_partial_eq_without_eq
)]

/// Google's common types the contract uses (vendored `proto/google/type/date.proto`).
/// (`google.type`: `type` is a Rust keyword, and prost cannot refer to a raw-identifier module.)
pub mod google_type {
    include!(concat!(env!("OUT_DIR"), "/google.r#type.rs"));
}
pub mod common {
    pub mod v1 {
        tonic::include_proto!("oversight.common.v1");
    }
}
pub mod evidence {
    pub mod v1 {
        tonic::include_proto!("oversight.evidence.v1");
    }
}
pub mod ingestion {
    pub mod v1 {
        tonic::include_proto!("oversight.ingestion.v1");
    }
}
pub mod quality {
    pub mod v1 {
        tonic::include_proto!("oversight.quality.v1");
    }
}
pub mod resources {
    pub mod v1 {
        tonic::include_proto!("oversight.resources.v1");
    }
}
pub mod combined {
    pub mod v1 {
        tonic::include_proto!("oversight.combined.v1");
    }
}

pub mod convert;

/// The encoded `FileDescriptorSet` of every proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/oversight_descriptor.bin"));
