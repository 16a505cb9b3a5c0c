//! Connecting to a service over gRPC with the caller's bearer token.

use anyhow::Context;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds `authorization: Bearer <token>` to every call (nothing when no token is given).
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A channel that sends the token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// Connect to `server` (`what` names the service in errors) with an optional bearer token.
pub async fn connect(server: &str, token: Option<&str>, what: &str) -> anyhow::Result<Authed> {
    let bearer = match token {
        None => None,
        Some(t) => Some(
            format!("Bearer {}", t.trim())
                .parse::<MetadataValue<Ascii>>()
                .context("--token is not a valid header value")?,
        ),
    };
    let channel = Channel::from_shared(server.to_string())
        .with_context(|| format!("--server {server:?} is not a URL"))?
        .connect()
        .await
        .with_context(|| format!("failed to connect to {what} at {server}"))?;
    Ok(InterceptedService::new(channel, Bearer(bearer)))
}
