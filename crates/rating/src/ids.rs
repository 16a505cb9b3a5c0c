//! Identifiers, validated at the edge (DOMAIN.md §6). Inside the system a `TrustCode` is always a
//! well-formed ODS trust code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "invalid trust code {0:?}: an ODS trust code is 3 letters or digits starting with a letter, e.g. RXX"
    )]
    Trust(String),
    #[error(
        "invalid site code {0:?}: an ODS site code is 5 letters or digits starting with a letter, e.g. RXX01"
    )]
    Site(String),
    #[error(
        "invalid location id {0:?}: expected a CQC location id like 1-123456789 or an ODS site code"
    )]
    Location(String),
    #[error(
        "invalid service id {0:?}: expected an inspection area id such as urgent, surgery or npimaternity"
    )]
    Service(String),
    #[error(
        "service id of {chars} characters is too long: at most {max} (CQC's longest core-service names are under 100)"
    )]
    ServiceTooLong { chars: usize, max: usize },
    #[error("invalid rule set version {0:?}: expected a name like cqc-2018")]
    RuleSet(String),
}

fn ods(s: &str, len: usize) -> Option<String> {
    let t = s.trim().to_ascii_uppercase();
    let ok = t.len() == len
        && t.chars().all(|c| c.is_ascii_alphanumeric())
        && t.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    ok.then_some(t)
}

macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

/// An ODS trust code such as `RXX` (upper-cased on parse).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustCode(String);
string_id!(TrustCode);

impl FromStr for TrustCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ods(s, 3)
            .map(TrustCode)
            .ok_or_else(|| IdError::Trust(s.to_string()))
    }
}

/// An ODS site code such as `RXX01`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteCode(String);
string_id!(SiteCode);

impl SiteCode {
    /// The trust the site belongs to: its first three characters.
    pub fn trust(&self) -> TrustCode {
        TrustCode(self.0[..3].to_string())
    }
}

impl FromStr for SiteCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ods(s, 5)
            .map(SiteCode)
            .ok_or_else(|| IdError::Site(s.to_string()))
    }
}

/// A location: a CQC location id (`1-123456789`) or an ODS site code (`RXX01`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocationId(String);
string_id!(LocationId);

impl FromStr for LocationId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some(digits) = t.strip_prefix("1-")
            && !digits.is_empty()
            && digits.len() <= 12
            && digits.chars().all(|c| c.is_ascii_digit())
        {
            return Ok(LocationId(t.to_string()));
        }
        ods(t, 5)
            .map(LocationId)
            .ok_or_else(|| IdError::Location(s.to_string()))
    }
}

/// The longest [`ServiceId`] accepted, in characters. Real ids run to about 80 characters (the
/// slug of "Community mental health services for people with a learning disability or autism");
/// the bound only keeps abusive input out.
pub const MAX_SERVICE_ID_CHARS: usize = 256;

/// An inspection area (core or additional service) id as CQC's API uses it: `urgent`, `surgery`,
/// `npimaternity`, or the slug of a CQC service name of any real length
/// (`long-stay-or-rehabilitation-mental-health-wards-for-working-age-adults`). Lower-case letters,
/// digits, `-` and `_`; at most [`MAX_SERVICE_ID_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceId(String);
string_id!(ServiceId);

impl FromStr for ServiceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let chars = t.chars().count();
        if chars > MAX_SERVICE_ID_CHARS {
            // Checked first so that an abusive value is not echoed back in the error.
            return Err(IdError::ServiceTooLong {
                chars,
                max: MAX_SERVICE_ID_CHARS,
            });
        }
        let ok = !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        ok.then_some(ServiceId(t))
            .ok_or_else(|| IdError::Service(s.to_string()))
    }
}

/// The name of a versioned rule set, recorded on every rating: `cqc-2018`, `saf-2023`,
/// `cqc-combined-2018`, `sof-2017`, `nof-2025`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleSetVersion(String);
string_id!(RuleSetVersion);

impl FromStr for RuleSetVersion {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && s.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        ok.then(|| RuleSetVersion(s.to_string()))
            .ok_or_else(|| IdError::RuleSet(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_codes() {
        assert_eq!(
            "rxx".parse::<TrustCode>().map(|t| t.to_string()),
            Ok("RXX".into())
        );
        assert!("RJ1".parse::<TrustCode>().is_ok());
        for bad in ["", "RX", "RXXX", "1XX", "R-X", "RX "] {
            if bad == "RX " {
                // surrounding whitespace is trimmed, leaving a 2-character code
                assert!(bad.parse::<TrustCode>().is_err());
                continue;
            }
            assert!(bad.parse::<TrustCode>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn site_codes_know_their_trust() {
        let s: SiteCode = "RXX01".parse().expect("valid");
        assert_eq!(s.trust().as_str(), "RXX");
        assert!("RXX0".parse::<SiteCode>().is_err());
    }

    #[test]
    fn location_ids() {
        assert!("1-123456789".parse::<LocationId>().is_ok());
        assert!("RXX01".parse::<LocationId>().is_ok());
        assert!("1-".parse::<LocationId>().is_err());
        assert!("2-123".parse::<LocationId>().is_err());
        assert!("1-12a".parse::<LocationId>().is_err());
    }

    #[test]
    fn service_ids_and_rule_sets() {
        assert_eq!(
            "NPIMaternity".parse::<ServiceId>().map(String::from),
            Ok("npimaternity".into())
        );
        assert!("a b".parse::<ServiceId>().is_err());
        // Long real names' slugs are ids; only abusive lengths are refused, with the length.
        let long =
            "community-mental-health-services-for-people-with-a-learning-disability-or-autism";
        assert_eq!(long.parse::<ServiceId>().map(String::from), Ok(long.into()));
        assert!(
            "a".repeat(MAX_SERVICE_ID_CHARS)
                .parse::<ServiceId>()
                .is_ok()
        );
        assert_eq!(
            "a".repeat(MAX_SERVICE_ID_CHARS + 1).parse::<ServiceId>(),
            Err(IdError::ServiceTooLong {
                chars: MAX_SERVICE_ID_CHARS + 1,
                max: MAX_SERVICE_ID_CHARS
            })
        );
        assert!("cqc-2018".parse::<RuleSetVersion>().is_ok());
        assert!("CQC 2018".parse::<RuleSetVersion>().is_err());
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<TrustCode>("\"RXX\"").is_ok());
        assert!(serde_json::from_str::<TrustCode>("\"R\"").is_err());
    }
}
