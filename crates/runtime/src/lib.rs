//! Runtime glue that belongs to no single service: configuration shared by all services, telemetry,
//! the NATS subject map and JetStream wiring (publish with ack, consume with ack/nak/term +
//! dead-letter), the database pool and migrations, gRPC serving with health and reflection, and
//! graceful shutdown.
//!
//! Nothing here knows a rating rule.

pub mod auth;
pub mod config;
pub mod consumer;
pub mod crash;
pub mod db;
pub mod error;
pub mod grpc;
pub mod host;
pub mod metrics;
pub mod nats;
pub mod outbox;
pub mod shutdown;
pub mod subjects;
pub mod telemetry;
pub mod time;

pub use config::InfraConfig;
pub use shutdown::Shutdown;
pub use subjects::Subjects;
