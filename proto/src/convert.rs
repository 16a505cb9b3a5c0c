//! Conversions between the domain vocabulary (`oversight-rating`) and the wire types.

use std::fmt::Display;

use oversight_rating::{
    Explanation, ExplanationText, KeyQuestion, NonRating, Rating, RatingValue, TrustType,
};

use crate::common::v1 as pb;

impl From<RatingValue> for pb::Rating {
    fn from(v: RatingValue) -> Self {
        match v {
            RatingValue::Rated(Rating::Outstanding) => pb::Rating::Outstanding,
            RatingValue::Rated(Rating::Good) => pb::Rating::Good,
            RatingValue::Rated(Rating::RequiresImprovement) => pb::Rating::RequiresImprovement,
            RatingValue::Rated(Rating::Inadequate) => pb::Rating::Inadequate,
            RatingValue::Unrated(NonRating::InspectedButNotRated) => {
                pb::Rating::InspectedButNotRated
            }
            RatingValue::Unrated(NonRating::InsufficientEvidenceToRate) => {
                pb::Rating::InsufficientEvidenceToRate
            }
            RatingValue::Unrated(NonRating::NoPublishedRating) => pb::Rating::NoPublishedRating,
            RatingValue::Unrated(NonRating::NotRated) => pb::Rating::NotRated,
        }
    }
}

impl From<Rating> for pb::Rating {
    fn from(r: Rating) -> Self {
        RatingValue::Rated(r).into()
    }
}

/// The wire value for an optional rating: "no rating" travels as `RATING_UNSPECIFIED`, with the
/// reason in the explanation.
pub fn rating_or_unspecified(r: Option<Rating>) -> pb::Rating {
    r.map_or(pb::Rating::Unspecified, pb::Rating::from)
}

/// Read a wire rating; `None` for `RATING_UNSPECIFIED` or an unknown number.
pub fn rating_value(raw: i32) -> Option<RatingValue> {
    let v = match pb::Rating::try_from(raw).ok()? {
        pb::Rating::Unspecified => return None,
        pb::Rating::Outstanding => RatingValue::Rated(Rating::Outstanding),
        pb::Rating::Good => RatingValue::Rated(Rating::Good),
        pb::Rating::RequiresImprovement => RatingValue::Rated(Rating::RequiresImprovement),
        pb::Rating::Inadequate => RatingValue::Rated(Rating::Inadequate),
        pb::Rating::InspectedButNotRated => RatingValue::Unrated(NonRating::InspectedButNotRated),
        pb::Rating::InsufficientEvidenceToRate => {
            RatingValue::Unrated(NonRating::InsufficientEvidenceToRate)
        }
        pb::Rating::NoPublishedRating => RatingValue::Unrated(NonRating::NoPublishedRating),
        pb::Rating::NotRated => RatingValue::Unrated(NonRating::NotRated),
    };
    Some(v)
}

/// Read a wire rating that must be a real rating.
pub fn real_rating(raw: i32) -> Option<Rating> {
    rating_value(raw).and_then(RatingValue::rating)
}

impl From<KeyQuestion> for pb::KeyQuestion {
    fn from(k: KeyQuestion) -> Self {
        match k {
            KeyQuestion::Safe => pb::KeyQuestion::Safe,
            KeyQuestion::Effective => pb::KeyQuestion::Effective,
            KeyQuestion::Caring => pb::KeyQuestion::Caring,
            KeyQuestion::Responsive => pb::KeyQuestion::Responsive,
            KeyQuestion::WellLed => pb::KeyQuestion::WellLed,
        }
    }
}

pub fn key_question(raw: i32) -> Option<KeyQuestion> {
    match pb::KeyQuestion::try_from(raw).ok()? {
        pb::KeyQuestion::Unspecified => None,
        pb::KeyQuestion::Safe => Some(KeyQuestion::Safe),
        pb::KeyQuestion::Effective => Some(KeyQuestion::Effective),
        pb::KeyQuestion::Caring => Some(KeyQuestion::Caring),
        pb::KeyQuestion::Responsive => Some(KeyQuestion::Responsive),
        pb::KeyQuestion::WellLed => Some(KeyQuestion::WellLed),
    }
}

impl From<TrustType> for pb::TrustType {
    fn from(t: TrustType) -> Self {
        match t {
            TrustType::Acute => pb::TrustType::Acute,
            TrustType::SpecialistAcute => pb::TrustType::SpecialistAcute,
            TrustType::MentalHealth => pb::TrustType::MentalHealth,
            TrustType::Community => pb::TrustType::Community,
            TrustType::Ambulance => pb::TrustType::Ambulance,
        }
    }
}

pub fn trust_type(raw: i32) -> Option<TrustType> {
    match pb::TrustType::try_from(raw).ok()? {
        pb::TrustType::Unspecified => None,
        pb::TrustType::Acute => Some(TrustType::Acute),
        pb::TrustType::SpecialistAcute => Some(TrustType::SpecialistAcute),
        pb::TrustType::MentalHealth => Some(TrustType::MentalHealth),
        pb::TrustType::Community => Some(TrustType::Community),
        pb::TrustType::Ambulance => Some(TrustType::Ambulance),
    }
}

/// The wire carries explanations in words: rendered here, at the edge.
impl<R: Display, I: Display, N: Display> From<&Explanation<R, I, N>> for pb::Explanation {
    fn from(e: &Explanation<R, I, N>) -> Self {
        pb::Explanation::from(e.text())
    }
}

impl From<ExplanationText> for pb::Explanation {
    fn from(e: ExplanationText) -> Self {
        pb::Explanation {
            rule_set: e.rule_set,
            rule: e.rule,
            inputs: e.inputs,
            notes: e.notes,
        }
    }
}

impl From<&ExplanationText> for pb::Explanation {
    fn from(e: &ExplanationText) -> Self {
        pb::Explanation::from(e.clone())
    }
}

impl From<&pb::Explanation> for ExplanationText {
    fn from(e: &pb::Explanation) -> Self {
        ExplanationText {
            rule_set: e.rule_set.clone(),
            rule: e.rule.clone(),
            inputs: e.inputs.clone(),
            notes: e.notes.clone(),
        }
    }
}

/// A dated rating on the wire; the explanation is structured ([`Explanation`]) or already in
/// words ([`ExplanationText`]).
pub fn dated<E>(rating: Option<Rating>, date: Option<String>, explanation: &E) -> pb::DatedRating
where
    for<'e> &'e E: Into<pb::Explanation>,
{
    pb::DatedRating {
        rating: rating_or_unspecified(rating) as i32,
        report_date: date.unwrap_or_default(),
        explanation: Some(explanation.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_round_trip() {
        for r in Rating::ALL {
            let wire: pb::Rating = r.into();
            assert_eq!(real_rating(wire as i32), Some(r));
        }
        assert_eq!(rating_value(0), None);
        assert_eq!(rating_value(99), None);
        assert_eq!(
            rating_value(pb::Rating::NotRated as i32),
            Some(RatingValue::Unrated(NonRating::NotRated))
        );
        for k in KeyQuestion::ALL {
            assert_eq!(key_question(pb::KeyQuestion::from(k) as i32), Some(k));
        }
        for t in TrustType::ALL {
            assert_eq!(trust_type(pb::TrustType::from(t) as i32), Some(t));
        }
    }
}
