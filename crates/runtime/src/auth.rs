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
//! Tokens are compared by SHA-256 digest and never logged.
//!
//! Authentication fails closed: without a tokens file a service refuses to start, unless it is
//! given `--insecure-no-auth` (`AUTH_INSECURE_NO_AUTH=true`, development and tests only, logged
//! as a warning). Then no caller is authenticated and [`require`] lets every call through in the
//! role it needs. That is decided by the authenticator's mode, carried in the request, never by a
//! caller's name: a token whose caller is called `anonymous` is checked like any other.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};
use tonic::{Request, Status};

pub use oversight_rating::Role;

/// An authenticated caller, put in each request's extensions by the interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// Put in a request's extensions instead of a [`Caller`] when authentication is off.
#[derive(Debug, Clone, Copy)]
struct Unauthenticated;

/// Token digests → callers.
#[derive(Clone)]
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
    /// Authentication off (`--insecure-no-auth`): no caller is authenticated and every call is
    /// allowed.
    pub fn insecure() -> Self {
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

    /// Load from a file. Without one, authentication is off only when `insecure` says so;
    /// otherwise the service must not start.
    pub fn load(path: Option<&Path>, insecure: bool) -> anyhow::Result<Self> {
        match (path, insecure) {
            (None, false) => anyhow::bail!(
                "no AUTH_TOKENS_FILE: gRPC authentication fails closed. Set AUTH_TOKENS_FILE \
                 (--auth-tokens-file) to a file of `role caller token` lines, or, for development \
                 only, pass --insecure-no-auth (AUTH_INSECURE_NO_AUTH=true)"
            ),
            (None, true) => {
                tracing::warn!(
                    "INSECURE: gRPC authentication is OFF (--insecure-no-auth); every caller may do \
                     everything. Never run like this outside development and tests"
                );
                Ok(Authenticator::insecure())
            }
            (Some(p), insecure) => {
                if insecure {
                    tracing::warn!(
                        "--insecure-no-auth ignored: AUTH_TOKENS_FILE is set, authentication is on"
                    );
                }
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("failed to read tokens file {}", p.display()))?;
                Authenticator::parse(&text)
                    .with_context(|| format!("invalid tokens file {}", p.display()))
            }
        }
    }

    /// Authenticate a request's metadata: `None` when authentication is off.
    pub fn authenticate(
        &self,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Option<Caller>, Status> {
        let Some(tokens) = &self.tokens else {
            return Ok(None);
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
            .map(Some)
            .ok_or_else(|| Status::unauthenticated("unknown token"))
    }

    /// A tonic interceptor that authenticates and stores the `Caller` in the request extensions.
    pub fn interceptor(&self) -> AuthInterceptor {
        AuthInterceptor { auth: self.clone() }
    }
}

/// The interceptor every service's gRPC API sits behind (see [`crate::host::Host::serve_grpc`]).
#[derive(Clone)]
pub struct AuthInterceptor {
    auth: Authenticator,
}

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        match self.auth.authenticate(req.metadata())? {
            Some(caller) => {
                req.extensions_mut().insert(caller);
            }
            None => {
                req.extensions_mut().insert(Unauthenticated);
            }
        }
        Ok(req)
    }
}

/// The caller authenticating as nobody, when authentication is off.
const ANONYMOUS: &str = "anonymous";

/// The caller of a request (set by the interceptor). With authentication off, the anonymous
/// operator.
pub fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    caller_in(req, Role::Operator)
}

fn caller_in<T>(req: &Request<T>, role_when_off: Role) -> Result<Caller, Status> {
    if let Some(c) = req.extensions().get::<Caller>() {
        return Ok(c.clone());
    }
    if req.extensions().get::<Unauthenticated>().is_some() {
        return Ok(Caller {
            name: ANONYMOUS.to_string(),
            role: role_when_off,
        });
    }
    Err(Status::unauthenticated("request was not authenticated"))
}

/// The caller, if their role is one of `allowed` (operators are not implied: list them). With
/// authentication off the anonymous caller acts in the first allowed role, so the role that later
/// checks see (the workflow's) is one the call permits.
pub fn require<T>(req: &Request<T>, allowed: &[Role]) -> Result<Caller, Status> {
    let c = caller_in(req, allowed.first().copied().unwrap_or(Role::Reader))?;
    if allowed.contains(&c.role) {
        return Ok(c);
    }
    // Roles as the tokens file spells them.
    let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    Err(Status::permission_denied(format!(
        "caller {} has role {}; this call needs {}",
        c.name,
        c.role.as_str(),
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
            Some(Caller {
                name: "inspections".into(),
                role: Role::Cqc
            })
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
        // A caller *named* anonymous with the operator role is checked like any other.
        let mut named = Request::new(());
        named.extensions_mut().insert(Caller {
            name: ANONYMOUS.into(),
            role: Role::Operator,
        });
        assert_eq!(
            require(&named, &[Role::Cqc]).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
    }

    fn intercepted(auth: &Authenticator, token: Option<&str>) -> Result<Request<()>, Status> {
        use tonic::service::Interceptor;
        let mut req = Request::new(());
        *req.metadata_mut() = meta(token);
        auth.interceptor().call(req)
    }

    #[test]
    fn insecure_mode_lets_calls_through_in_the_role_they_need() {
        let req = intercepted(&Authenticator::insecure(), None).expect("no auth");
        let c = require(&req, &[Role::Nhsi]).expect("allowed");
        assert_eq!(
            c.role,
            Role::Nhsi,
            "the workflow sees the role the call needs"
        );
        assert_eq!(caller(&req).expect("anonymous").role, Role::Operator);
        // With authentication on, nothing is let through without a token.
        let on = Authenticator::parse("reader board bbbbbbbbbbbbbbbbbbbb").expect("valid");
        assert_eq!(
            intercepted(&on, None).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let reader = intercepted(&on, Some("Bearer bbbbbbbbbbbbbbbbbbbb")).expect("known");
        assert_eq!(
            require(&reader, &[Role::Nhsi]).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
    }

    #[test]
    fn no_tokens_file_fails_closed_unless_insecure() {
        let e = Authenticator::load(None, false).unwrap_err().to_string();
        assert!(
            e.contains("AUTH_TOKENS_FILE") && e.contains("--insecure-no-auth"),
            "the error names both fixes: {e}"
        );
        assert!(!Authenticator::load(None, true).expect("insecure").is_on());
    }

    #[test]
    fn debug_never_shows_tokens() {
        let a = Authenticator::parse("cqc x aaaaaaaaaaaaaaaaaaaa").expect("valid");
        assert!(!format!("{a:?}").contains("aaaa"));
    }
}
