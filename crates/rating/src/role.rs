//! Who a caller is to the system: the one role type. The gRPC layer authenticates a caller to a
//! role (`oversight-runtime`'s `auth`), and the same value reaches the rules that check it (the
//! use-of-resources workflow), so no layer substitutes a role of its own.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The Care Quality Commission: records inspections, approves (and revises) UoR ratings.
    Cqc,
    /// NHS Improvement: assessors who propose the UoR rating, record segments.
    Nhsi,
    /// The system's operator: replay, backfill, publishing an approved rating, everything read.
    Operator,
    /// Read-only access.
    Reader,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Cqc, Role::Nhsi, Role::Operator, Role::Reader];

    /// The role's name in configuration and storage (`cqc`, `nhsi`, `operator`, `reader`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cqc => "cqc",
            Role::Nhsi => "nhsi",
            Role::Operator => "operator",
            Role::Reader => "reader",
        }
    }
}

/// As people read it in messages: `CQC`, `NHSI`, `operator`, `reader`.
impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Cqc => "CQC",
            Role::Nhsi => "NHSI",
            Role::Operator => "operator",
            Role::Reader => "reader",
        })
    }
}

/// An unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected cqc, nhsi, operator or reader)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!(" CQC ".parse::<Role>(), Ok(Role::Cqc));
        assert!("boss".parse::<Role>().is_err());
    }
}
