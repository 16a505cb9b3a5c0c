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

/// Longest id kept inline by [`Compact`].
const INLINE: usize = 15;

/// The text of an id that explanations copy many times per rating (service, location and rule
/// set ids): ids up to 15 bytes (`npioutpatients`, `1-123456789`, `cqc-2018`) are stored inline,
/// so cloning one copies 16 aligned bytes and never allocates or touches a shared counter;
/// longer ones share one allocation. Three words in all.
#[derive(Clone)]
struct Compact {
    /// Length, then the text, zero-padded (`shared` is `None`); all zero otherwise.
    inline: Inline,
    /// A longer id (one pointer: an `Arc<str>` would make every id a word bigger).
    shared: Option<Arc<String>>,
}

/// Aligned so that a copy is one 16-byte move: ids are copied into every explanation.
#[derive(Clone, Copy)]
#[repr(align(8))]
struct Inline([u8; 16]);

impl Compact {
    fn new(s: &str) -> Self {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE => {
                let mut bytes = [0; 16];
                bytes[0] = len;
                bytes[1..=s.len()].copy_from_slice(s.as_bytes());
                Compact {
                    inline: Inline(bytes),
                    shared: None,
                }
            }
            _ => Compact {
                inline: Inline([0; 16]),
                shared: Some(Arc::new(s.to_string())),
            },
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match &self.shared {
            None => &self.inline.0[1..=usize::from(self.inline.0[0])],
            Some(s) => s.as_bytes(),
        }
    }

    #[inline]
    fn as_str(&self) -> &str {
        match &self.shared {
            // Built from a `&str` and cut at its length, so always UTF-8.
            None => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Some(s) => s,
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
        match (&self.shared, &other.shared) {
            (None, None) => self.inline.0 == other.inline.0,
            _ => self.as_bytes() == other.as_bytes(),
        }
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
        match (&self.shared, &other.shared) {
            // Zero-padded, so comparing the padded text and then the length is `str` order: a
            // shorter id that is a prefix of a longer one compares less either way. One word
            // rather than a byte loop: services are sorted for every location rated.
            (None, None) => self.inline.order_key().cmp(&other.inline.order_key()),
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

impl Inline {
    /// The text (big-endian, zero-padded) then the length, as one word: ordered as the text is.
    #[inline]
    fn order_key(&self) -> u128 {
        u128::from_be_bytes(self.0).rotate_left(8)
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
pub struct ServiceId(Compact);
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
    /// The name of a built-in rule set, a constant of the code (`"cqc-2018"`): not parsed, since
    /// it cannot come from outside; a test of each rule set checks it would parse.
    pub fn from_static(name: &'static str) -> Self {
        debug_assert!(
            name.parse::<RuleSetVersion>().is_ok(),
            "invalid rule set version {name:?}"
        );
        RuleSetVersion(Compact::new(name))
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
    fn long_and_short_ids_behave_alike() {
        // 15 bytes are kept inline, 16 and more are shared: both compare, order and print as text.
        let short: ServiceId = "a".repeat(15).parse().expect("valid");
        let long: ServiceId = "a".repeat(16).parse().expect("valid");
        assert!(short.0.shared.is_none());
        assert!(long.0.shared.is_some());
        assert!(short < long);
        assert_eq!(long.clone(), long);
        assert_eq!(long.as_str(), "a".repeat(16));
        assert_eq!(String::from(short.clone()), "a".repeat(15));
        assert_eq!(
            format!("{short:?}"),
            format!("ServiceId({:?})", "a".repeat(15))
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
            &"z".repeat(14),
            &"z".repeat(15),
            &"z".repeat(16),
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
        let saf = RuleSetVersion::from_static("saf-2023");
        assert_eq!(saf, "saf-2023".parse::<RuleSetVersion>().expect("valid"));
        assert_eq!(saf, "saf-2023");
        let combined = RuleSetVersion::from_static("cqc-combined-2018");
        assert_eq!(combined.as_str(), "cqc-combined-2018");
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
