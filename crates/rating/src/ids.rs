//! Identifiers, validated at the edge (DOMAIN.md §6). Inside the system a `TrustCode` is always a
//! well-formed ODS trust code.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

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

/// Longest id kept inline by [`Compact`].
const INLINE: usize = 22;

/// The text of an id that explanations copy many times per rating (service, location and rule
/// set ids): ids up to 22 bytes are stored inline, so cloning one copies 24 bytes and never
/// allocates or touches a shared counter; longer ones share one allocation.
#[derive(Clone)]
enum Compact {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

impl Compact {
    fn new(s: &str) -> Self {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                Compact::Inline { len, bytes }
            }
            _ => Compact::Shared(Arc::from(s)),
        }
    }

    /// An inline id from a compile-time string of at most 22 bytes (a longer one fails the build
    /// when used in a `const`).
    const fn from_static(s: &'static str) -> Self {
        let src = s.as_bytes();
        assert!(src.len() <= INLINE, "a static id must fit inline");
        let mut bytes = [0; INLINE];
        let mut i = 0;
        while i < src.len() {
            bytes[i] = src[i];
            i += 1;
        }
        Compact::Inline {
            len: src.len() as u8,
            bytes,
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            Compact::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Compact::Shared(s) => s.as_bytes(),
        }
    }

    #[inline]
    fn as_str(&self) -> &str {
        match self {
            // Built from a `&str` and cut at its length, so always UTF-8.
            Compact::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Compact::Shared(s) => s,
        }
    }
}

impl AsRef<str> for Compact {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<Compact> for String {
    fn from(c: Compact) -> String {
        c.as_str().to_string()
    }
}

impl fmt::Debug for Compact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

// Equality, order and hash are those of the text (byte order is `str` order).
impl PartialEq for Compact {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Compact {}

impl PartialOrd for Compact {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Compact {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            // Zero-padded, so comparing the padded bytes and then the lengths is `str` order:
            // a shorter id that is a prefix of a longer one compares less either way. Whole
            // words rather than a byte loop: services are sorted for every location rated.
            (Compact::Inline { len: a, bytes: x }, Compact::Inline { len: b, bytes: y }) => {
                Compact::words(x, *a).cmp(&Compact::words(y, *b))
            }
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

impl Compact {
    /// The inline bytes, then the length, as big-endian words: ordered as the text is.
    #[inline]
    fn words(bytes: &[u8; INLINE], len: u8) -> (u128, u64) {
        let mut head = [0; 16];
        head.copy_from_slice(&bytes[..16]);
        let mut tail = [0; 8];
        tail[..INLINE - 16].copy_from_slice(&bytes[16..]);
        tail[7] = len;
        (u128::from_be_bytes(head), u64::from_be_bytes(tail))
    }
}

impl Hash for Compact {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                self.0.as_ref()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
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
                v.0.into()
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
pub struct LocationId(Compact);
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
            return Ok(LocationId(Compact::new(t)));
        }
        ods(t, 5)
            .map(|s| LocationId(Compact::new(&s)))
            .ok_or_else(|| IdError::Location(s.to_string()))
    }
}

/// An inspection area (core or additional service) id as CQC's API uses it: `urgent`, `surgery`,
/// `npimaternity`. Lower-case letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceId(Compact);
string_id!(ServiceId);

impl FromStr for ServiceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let ok = !t.is_empty()
            && t.len() <= 64
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        ok.then(|| ServiceId(Compact::new(&t)))
            .ok_or_else(|| IdError::Service(s.to_string()))
    }
}

/// The name of a versioned rule set, recorded on every rating: `cqc-2018`, `saf-2023`,
/// `cqc-combined-2018`, `sof-2017`, `nof-2025`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleSetVersion(Compact);
string_id!(RuleSetVersion);

impl RuleSetVersion {
    /// A rule set name known at compile time, for `const` items: a name that is not valid (or
    /// longer than 22 bytes) fails the build.
    pub const fn from_static(name: &'static str) -> Self {
        let b = name.as_bytes();
        let mut ok = !b.is_empty() && b[0].is_ascii_lowercase();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            ok &= c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.';
            i += 1;
        }
        assert!(ok, "invalid rule set version");
        RuleSetVersion(Compact::from_static(name))
    }
}

impl PartialEq<str> for RuleSetVersion {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RuleSetVersion {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl FromStr for RuleSetVersion {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && s.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        ok.then(|| RuleSetVersion(Compact::new(s)))
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
        assert!("cqc-2018".parse::<RuleSetVersion>().is_ok());
        assert!("CQC 2018".parse::<RuleSetVersion>().is_err());
    }

    #[test]
    fn long_and_short_ids_behave_alike() {
        // 22 bytes are kept inline, 23 and more are shared: both compare, order and print as text.
        let short: ServiceId = "a".repeat(22).parse().expect("valid");
        let long: ServiceId = "a".repeat(23).parse().expect("valid");
        assert!(matches!(short.0, Compact::Inline { .. }));
        assert!(matches!(long.0, Compact::Shared(_)));
        assert!(short < long);
        assert_eq!(long.clone(), long);
        assert_eq!(long.as_str(), "a".repeat(23));
        assert_eq!(String::from(short.clone()), "a".repeat(22));
        assert_eq!(
            format!("{short:?}"),
            format!("ServiceId({:?})", "a".repeat(22))
        );
        let ids: std::collections::BTreeSet<ServiceId> = ["urgent", "care", "npimaternity"]
            .iter()
            .map(|s| s.parse().expect("valid"))
            .collect();
        let sorted: Vec<&str> = ids.iter().map(ServiceId::as_str).collect();
        assert_eq!(sorted, ["care", "npimaternity", "urgent"]);
        // Prefixes and the inline/shared boundary order as text does.
        let texts = [
            "",
            "a",
            "a-",
            "ab",
            "abc",
            &"z".repeat(21),
            &"z".repeat(22),
            &"z".repeat(23),
        ];
        for a in texts {
            for b in texts {
                assert_eq!(
                    Compact::new(a).cmp(&Compact::new(b)),
                    a.cmp(b),
                    "{a:?} {b:?}"
                );
            }
        }
        const SAF: RuleSetVersion = RuleSetVersion::from_static("saf-2023");
        assert_eq!(SAF, "saf-2023".parse::<RuleSetVersion>().expect("valid"));
        assert_eq!(SAF, "saf-2023");
    }

    proptest::proptest! {
        #[test]
        fn compact_order_and_equality_are_those_of_the_text(
            a in "[a-z0-9\\-]{0,30}",
            b in "[a-z0-9\\-]{0,30}",
        ) {
            let (x, y) = (Compact::new(&a), Compact::new(&b));
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
            proptest::prop_assert_eq!(x.as_str(), a.as_str());
        }
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<TrustCode>("\"RXX\"").is_ok());
        assert!(serde_json::from_str::<TrustCode>("\"R\"").is_err());
    }
}
