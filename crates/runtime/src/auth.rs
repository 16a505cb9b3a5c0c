//! gRPC authentication and roles. Callers present `authorization: Bearer <token>`; tokens map to a
//! caller name and a role, configured from a file (a mounted Kubernetes Secret in production):
//!
//! ```text
//! # role     caller            token
//! cqc        cqc-inspections   3f1c…
//! nhsi       nhsi-uor-team     9a7e…
//! operator   ops               51d0…
//! reader     dashboard         c2b4…
//! ```
//!
//! Missing or unknown tokens → `UNAUTHENTICATED`; a write by the wrong role → `PERMISSION_DENIED`.
//! Tokens are compared by SHA-256 digest and never logged. Without a tokens file, authentication is
//! off (development and tests): every caller is the anonymous `operator`, and a warning says so.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};
use tonic::{Request, Status};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// CQC systems: record inspections, approve UoR ratings.
    Cqc,
    /// NHSI systems: propose UoR ratings, record segments.
    Nhsi,
    /// Operators: replay, backfill, everything read.
    Operator,
    /// Read-only.
    Reader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cqc => "cqc",
            Role::Nhsi => "nhsi",
            Role::Operator => "operator",
            Role::Reader => "reader",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cqc" => Ok(Role::Cqc),
            "nhsi" => Ok(Role::Nhsi),
            "operator" => Ok(Role::Operator),
            "reader" => Ok(Role::Reader),
            other => Err(format!(
                "unknown role {other:?} (expected cqc, nhsi, operator or reader)"
            )),
        }
    }
}

/// An authenticated caller, put in each request's extensions by the interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// Token digests → callers.
#[derive(Clone, Default)]
pub struct Authenticator {
    tokens: Option<Arc<HashMap<[u8; 32], Caller>>>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tokens {
            Some(t) => write!(f, "Authenticator({} tokens)", t.len()),
            None => f.write_str("Authenticator(off)"),
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Authenticator {
    /// Authentication off: every caller is the anonymous operator.
    pub fn off() -> Self {
        Authenticator { tokens: None }
    }

    pub fn is_on(&self) -> bool {
        self.tokens.is_some()
    }

    /// Parse the tokens file format (`role caller token` per line, `#` comments).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut tokens = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [role, caller, token] = parts.as_slice() else {
                anyhow::bail!("tokens file line {}: expected `role caller token`", i + 1);
            };
            let role: Role = role
                .parse()
                .map_err(|e| anyhow::anyhow!("tokens file line {}: {e}", i + 1))?;
            if token.len() < 16 {
                anyhow::bail!(
                    "tokens file line {}: token for {caller} is shorter than 16 characters",
                    i + 1
                );
            }
            tokens.insert(
                digest(token),
                Caller {
                    name: (*caller).to_string(),
                    role,
                },
            );
        }
        if tokens.is_empty() {
            anyhow::bail!("tokens file has no tokens");
        }
        Ok(Authenticator {
            tokens: Some(Arc::new(tokens)),
        })
    }

    /// Load from a file, or turn authentication off when `path` is `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        match path {
            None => {
                tracing::warn!(
                    "AUTH_TOKENS_FILE not set: gRPC authentication is OFF (development only)"
                );
                Ok(Authenticator::off())
            }
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("failed to read tokens file {}", p.display()))?;
                Authenticator::parse(&text)
                    .with_context(|| format!("invalid tokens file {}", p.display()))
            }
        }
    }

    /// Authenticate a request's metadata.
    pub fn authenticate(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Caller, Status> {
        let Some(tokens) = &self.tokens else {
            return Ok(Caller {
                name: "anonymous".into(),
                role: Role::Operator,
            });
        };
        let header = metadata
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token>"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))?;
        tokens
            .get(&digest(token.trim()))
            .cloned()
            .ok_or_else(|| Status::unauthenticated("unknown token"))
    }

    /// A tonic interceptor that authenticates and stores the `Caller` in the request extensions.
    pub fn interceptor(
        &self,
    ) -> impl Fn(Request<()>) -> Result<Request<()>, Status> + Clone + Send + Sync + 'static {
        let auth = self.clone();
        move |mut req: Request<()>| {
            let caller = auth.authenticate(req.metadata())?;
            req.extensions_mut().insert(caller);
            Ok(req)
        }
    }
}

/// The caller of a request (set by the interceptor).
pub fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("request was not authenticated"))
}

/// The caller, if their role is one of `allowed` (operators are not implied: list them).
pub fn require<T>(req: &Request<T>, allowed: &[Role]) -> Result<Caller, Status> {
    let c = caller(req)?;
    // With authentication off every caller is the anonymous operator and may do anything.
    if c.name == "anonymous" && c.role == Role::Operator || allowed.contains(&c.role) {
        return Ok(c);
    }
    let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    Err(Status::permission_denied(format!(
        "caller {} has role {}; this call needs {}",
        c.name,
        c.role,
        names.join(" or ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(v: Option<&str>) -> tonic::metadata::MetadataMap {
        let mut m = tonic::metadata::MetadataMap::new();
        if let Some(v) = v {
            m.insert("authorization", v.parse().expect("ascii"));
        }
        m
    }

    #[test]
    fn tokens_map_to_callers_and_roles() {
        let a = Authenticator::parse("# comment\ncqc  inspections  aaaaaaaaaaaaaaaaaaaa\nreader board bbbbbbbbbbbbbbbbbbbb\n").expect("valid");
        let c = a
            .authenticate(&meta(Some("Bearer aaaaaaaaaaaaaaaaaaaa")))
            .expect("known");
        assert_eq!(
            c,
            Caller {
                name: "inspections".into(),
                role: Role::Cqc
            }
        );
        assert_eq!(
            a.authenticate(&meta(None)).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            a.authenticate(&meta(Some("Bearer nope-nope-nope-nope")))
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            a.authenticate(&meta(Some("Basic xyz"))).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[test]
    fn bad_files_are_rejected() {
        assert!(Authenticator::parse("").is_err());
        assert!(Authenticator::parse("boss me aaaaaaaaaaaaaaaaaaaa").is_err());
        assert!(Authenticator::parse("cqc me short").is_err());
        assert!(Authenticator::parse("cqc me").is_err());
    }

    #[test]
    fn roles_are_checked() {
        let mut req = Request::new(());
        req.extensions_mut().insert(Caller {
            name: "board".into(),
            role: Role::Reader,
        });
        assert_eq!(
            require(&req, &[Role::Cqc]).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
        assert!(require(&req, &[Role::Reader, Role::Cqc]).is_ok());
        let mut anon = Request::new(());
        anon.extensions_mut().insert(Caller {
            name: "anonymous".into(),
            role: Role::Operator,
        });
        assert!(require(&anon, &[Role::Cqc]).is_ok());
    }

    #[test]
    fn debug_never_shows_tokens() {
        let a = Authenticator::parse("cqc x aaaaaaaaaaaaaaaaaaaa").expect("valid");
        assert!(!format!("{a:?}").contains("aaaa"));
    }
}
