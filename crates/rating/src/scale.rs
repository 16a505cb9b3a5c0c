use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A real rating on CQC's four-point scale. Ordered worst to best so that `max`/`min` read naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Rating {
    Inadequate,
    RequiresImprovement,
    Good,
    Outstanding,
}

impl Rating {
    pub const ALL: [Rating; 4] = [
        Rating::Inadequate,
        Rating::RequiresImprovement,
        Rating::Good,
        Rating::Outstanding,
    ];

    /// The string CQC publishes ("Requires improvement", not "RI").
    pub fn cqc_str(self) -> &'static str {
        match self {
            Rating::Outstanding => "Outstanding",
            Rating::Good => "Good",
            Rating::RequiresImprovement => "Requires improvement",
            Rating::Inadequate => "Inadequate",
        }
    }

    /// Short form for tables.
    pub fn short(self) -> &'static str {
        match self {
            Rating::Outstanding => "O",
            Rating::Good => "G",
            Rating::RequiresImprovement => "RI",
            Rating::Inadequate => "I",
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cqc_str())
    }
}

/// The values data carries that are not ratings. They are excluded from aggregation counts: they are
/// not "Good" (DOMAIN.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NonRating {
    InspectedButNotRated,
    InsufficientEvidenceToRate,
    NoPublishedRating,
    NotRated,
}

impl NonRating {
    pub fn cqc_str(self) -> &'static str {
        match self {
            NonRating::InspectedButNotRated => "Inspected but not rated",
            NonRating::InsufficientEvidenceToRate => "Insufficient evidence to rate",
            NonRating::NoPublishedRating => "No published rating",
            NonRating::NotRated => "Not rated",
        }
    }
}

/// What a rating field holds: a real rating or an explicit non-rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RatingValue {
    Rated(Rating),
    Unrated(NonRating),
}

impl RatingValue {
    pub fn rating(self) -> Option<Rating> {
        match self {
            RatingValue::Rated(r) => Some(r),
            RatingValue::Unrated(_) => None,
        }
    }

    pub fn cqc_str(self) -> &'static str {
        match self {
            RatingValue::Rated(r) => r.cqc_str(),
            RatingValue::Unrated(n) => n.cqc_str(),
        }
    }
}

impl From<Rating> for RatingValue {
    fn from(r: Rating) -> Self {
        RatingValue::Rated(r)
    }
}

impl fmt::Display for RatingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cqc_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    #[error(
        "unknown rating {0:?} (expected Outstanding, Good, Requires improvement, Inadequate or a CQC non-rating)"
    )]
    UnknownRating(String),
    #[error(
        "unknown key question {0:?} (expected safe, effective, caring, responsive or well-led)"
    )]
    UnknownKeyQuestion(String),
    #[error(
        "unknown trust type {0:?} (expected acute, specialist_acute, mental_health, community or ambulance)"
    )]
    UnknownTrustType(String),
}

fn normalise(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

impl FromStr for RatingValue {
    type Err = ScaleError;

    /// Accepts CQC's published strings in any case and spacing, plus the common short forms
    /// (`O`, `G`, `RI`, `I`) and the enum names used in the proto contract.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = match normalise(s).as_str() {
            "outstanding" | "o" | "ratingoutstanding" => RatingValue::Rated(Rating::Outstanding),
            "good" | "g" | "ratinggood" => RatingValue::Rated(Rating::Good),
            "requiresimprovement" | "ri" | "ratingrequiresimprovement" => {
                RatingValue::Rated(Rating::RequiresImprovement)
            }
            "inadequate" | "i" | "ratinginadequate" => RatingValue::Rated(Rating::Inadequate),
            "inspectedbutnotrated" | "ratinginspectedbutnotrated" => {
                RatingValue::Unrated(NonRating::InspectedButNotRated)
            }
            "insufficientevidencetorate" | "ratinginsufficientevidencetorate" => {
                RatingValue::Unrated(NonRating::InsufficientEvidenceToRate)
            }
            "nopublishedrating" | "ratingnopublishedrating" => {
                RatingValue::Unrated(NonRating::NoPublishedRating)
            }
            "notrated" | "ratingnotrated" => RatingValue::Unrated(NonRating::NotRated),
            _ => return Err(ScaleError::UnknownRating(s.to_string())),
        };
        Ok(v)
    }
}

impl FromStr for Rating {
    type Err = ScaleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<RatingValue>()? {
            RatingValue::Rated(r) => Ok(r),
            RatingValue::Unrated(_) => Err(ScaleError::UnknownRating(s.to_string())),
        }
    }
}

/// CQC's five key questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KeyQuestion {
    Safe,
    Effective,
    Caring,
    Responsive,
    WellLed,
}

impl KeyQuestion {
    pub const ALL: [KeyQuestion; 5] = [
        KeyQuestion::Safe,
        KeyQuestion::Effective,
        KeyQuestion::Caring,
        KeyQuestion::Responsive,
        KeyQuestion::WellLed,
    ];

    /// The name CQC's API uses ("Well-led").
    pub fn cqc_str(self) -> &'static str {
        match self {
            KeyQuestion::Safe => "Safe",
            KeyQuestion::Effective => "Effective",
            KeyQuestion::Caring => "Caring",
            KeyQuestion::Responsive => "Responsive",
            KeyQuestion::WellLed => "Well-led",
        }
    }

    /// lowerCamelCase, as in JSON output (`wellLed`).
    pub fn camel(self) -> &'static str {
        match self {
            KeyQuestion::Safe => "safe",
            KeyQuestion::Effective => "effective",
            KeyQuestion::Caring => "caring",
            KeyQuestion::Responsive => "responsive",
            KeyQuestion::WellLed => "wellLed",
        }
    }
}

impl fmt::Display for KeyQuestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cqc_str())
    }
}

impl FromStr for KeyQuestion {
    type Err = ScaleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise(s).as_str() {
            "safe" | "keyquestionsafe" => Ok(KeyQuestion::Safe),
            "effective" | "keyquestioneffective" => Ok(KeyQuestion::Effective),
            "caring" | "keyquestioncaring" => Ok(KeyQuestion::Caring),
            "responsive" | "keyquestionresponsive" => Ok(KeyQuestion::Responsive),
            "wellled" | "keyquestionwellled" => Ok(KeyQuestion::WellLed),
            _ => Err(ScaleError::UnknownKeyQuestion(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cqc_strings_and_short_forms() {
        let cases = [
            ("Outstanding", RatingValue::Rated(Rating::Outstanding)),
            ("good", RatingValue::Rated(Rating::Good)),
            (
                "Requires improvement",
                RatingValue::Rated(Rating::RequiresImprovement),
            ),
            (
                "Requires Improvement",
                RatingValue::Rated(Rating::RequiresImprovement),
            ),
            ("RI", RatingValue::Rated(Rating::RequiresImprovement)),
            ("Inadequate", RatingValue::Rated(Rating::Inadequate)),
            (
                "Inspected but not rated",
                RatingValue::Unrated(NonRating::InspectedButNotRated),
            ),
            (
                "Insufficient evidence to rate",
                RatingValue::Unrated(NonRating::InsufficientEvidenceToRate),
            ),
            (
                "No published rating",
                RatingValue::Unrated(NonRating::NoPublishedRating),
            ),
            ("Not rated", RatingValue::Unrated(NonRating::NotRated)),
        ];
        for (s, want) in cases {
            assert_eq!(s.parse::<RatingValue>(), Ok(want), "{s}");
        }
        assert!("Excellent".parse::<RatingValue>().is_err());
        assert!("".parse::<RatingValue>().is_err());
        assert!("Not rated".parse::<Rating>().is_err());
    }

    #[test]
    fn cqc_strings_round_trip() {
        for r in Rating::ALL {
            assert_eq!(r.cqc_str().parse::<Rating>(), Ok(r));
        }
        for kq in KeyQuestion::ALL {
            assert_eq!(kq.cqc_str().parse::<KeyQuestion>(), Ok(kq));
            assert_eq!(kq.camel().parse::<KeyQuestion>(), Ok(kq));
        }
        assert_eq!("well_led".parse::<KeyQuestion>(), Ok(KeyQuestion::WellLed));
    }

    #[test]
    fn scale_is_ordered_worst_to_best() {
        assert!(Rating::Inadequate < Rating::RequiresImprovement);
        assert!(Rating::RequiresImprovement < Rating::Good);
        assert!(Rating::Good < Rating::Outstanding);
    }
}

/// The kind of NHS trust: it decides which rating levels apply (no location level for mental
/// health, community and ambulance trusts) and whether a combined rating exists (non-specialist
/// acute trusts only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustType {
    Acute,
    SpecialistAcute,
    MentalHealth,
    Community,
    Ambulance,
}

impl TrustType {
    pub const ALL: [TrustType; 5] = [
        TrustType::Acute,
        TrustType::SpecialistAcute,
        TrustType::MentalHealth,
        TrustType::Community,
        TrustType::Ambulance,
    ];

    /// snake_case name used in feeds and JSON (`specialist_acute`).
    pub fn as_str(self) -> &'static str {
        match self {
            TrustType::Acute => "acute",
            TrustType::SpecialistAcute => "specialist_acute",
            TrustType::MentalHealth => "mental_health",
            TrustType::Community => "community",
            TrustType::Ambulance => "ambulance",
        }
    }

    /// Words for explanations ("mental health").
    pub fn describe(self) -> &'static str {
        match self {
            TrustType::Acute => "acute",
            TrustType::SpecialistAcute => "specialist acute",
            TrustType::MentalHealth => "mental health",
            TrustType::Community => "community",
            TrustType::Ambulance => "ambulance",
        }
    }

    /// Whether quality is rated through a location (hospital) level.
    pub fn has_location_level(self) -> bool {
        matches!(self, TrustType::Acute | TrustType::SpecialistAcute)
    }
}

impl fmt::Display for TrustType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrustType {
    type Err = ScaleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise(s).as_str() {
            "acute" | "trusttypeacute" => Ok(TrustType::Acute),
            "specialistacute" | "acutespecialist" | "specialist" | "trusttypespecialistacute" => {
                Ok(TrustType::SpecialistAcute)
            }
            "mentalhealth" | "trusttypementalhealth" => Ok(TrustType::MentalHealth),
            "community" | "trusttypecommunity" => Ok(TrustType::Community),
            "ambulance" | "trusttypeambulance" => Ok(TrustType::Ambulance),
            _ => Err(ScaleError::UnknownTrustType(s.to_string())),
        }
    }
}
