//! Conversions between the domain vocabulary (`oversight-rating`) and the wire types.

use std::fmt::{self, Display};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use oversight_rating::{
    Explanation, ExplanationText, KeyQuestion, NonRating, Rating, RatingValue, Role, TrustType,
};

use crate::common::v1 as pb;
use crate::google_type::Date;

// ---- Dates (google.type.Date) and instants (google.protobuf.Timestamp) ----

/// A calendar date on the wire.
pub fn date(d: NaiveDate) -> Date {
    Date {
        year: d.year(),
        // Both at most 31: the casts cannot truncate.
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// An optional calendar date on the wire (unset when `None`).
pub fn opt_date(d: Option<NaiveDate>) -> Option<Date> {
    d.map(date)
}

/// A month on the wire: year and month, day 0 (google.type.Date's "year and month").
pub fn month(year: i32, month: u32) -> Date {
    Date {
        year,
        month: month as i32,
        day: 0,
    }
}

/// A wire date that is not the kind of date a field needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDate {
    /// The date as sent (`year-month-day`, zeros kept).
    pub given: String,
    /// What is wrong, e.g. "not a calendar date".
    pub problem: &'static str,
}

impl fmt::Display for BadDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}", self.given, self.problem)
    }
}

impl std::error::Error for BadDate {}

fn spelled(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// Read a full calendar date (year 1–9999, real month and day).
pub fn to_date(d: &Date) -> Result<NaiveDate, BadDate> {
    let bad = |problem| BadDate {
        given: spelled(d),
        problem,
    };
    if d.year < 1 || d.year > 9999 {
        return Err(bad("not a full date (year must be 1-9999)"));
    }
    let (Ok(m), Ok(day)) = (u32::try_from(d.month), u32::try_from(d.day)) else {
        return Err(bad("not a calendar date"));
    };
    if m == 0 || day == 0 {
        return Err(bad("not a full date (month and day are required)"));
    }
    NaiveDate::from_ymd_opt(d.year, m, day).ok_or_else(|| bad("not a calendar date"))
}

/// Read an optional full date: `None` when unset.
pub fn to_opt_date(d: Option<&Date>) -> Result<Option<NaiveDate>, BadDate> {
    d.map(to_date).transpose()
}

/// Read a month (year and month; day 0, or any real day of that month).
pub fn to_month(d: &Date) -> Result<(i32, u32), BadDate> {
    let bad = |problem| BadDate {
        given: spelled(d),
        problem,
    };
    if d.year < 1 || d.year > 9999 || !(1..=12).contains(&d.month) {
        return Err(bad("not a month (year 1-9999, month 1-12)"));
    }
    if d.day != 0 {
        to_date(d)?;
    }
    Ok((d.year, d.month as u32))
}

/// An instant on the wire.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        // Below 1e9: the cast cannot truncate.
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// Read an instant; `None` when out of range.
pub fn to_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// An RFC 3339 instant as stored (e.g. `2024-05-01T10:00:00Z`) on the wire; unset when it does not
/// parse (stores write these themselves, so that does not happen).
pub fn rfc3339_timestamp(s: &str) -> Option<prost_types::Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| timestamp(t.with_timezone(&Utc)))
}

/// A wire date as people read it: `YYYY-MM-DD`, or `YYYY-MM` for a month (day 0); empty when
/// unset. For text outputs (CLI tables, logs), never for parsing back.
pub fn iso(d: Option<&Date>) -> String {
    match d {
        None => String::new(),
        Some(d) if d.day == 0 => format!("{:04}-{:02}", d.year, d.month),
        Some(d) => spelled(d),
    }
}

/// A wire instant as RFC 3339 in UTC with milliseconds (`2024-05-01T10:00:00.000Z`); empty when
/// unset or out of range. For text outputs.
pub fn rfc3339(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(to_timestamp)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

// ---- Roles ----

impl From<Role> for pb::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Cqc => pb::Role::Cqc,
            Role::Nhsi => pb::Role::Nhsi,
            Role::Operator => pb::Role::Operator,
            Role::Reader => pb::Role::Reader,
        }
    }
}

/// Read a wire role; `None` for `ROLE_UNSPECIFIED` or an unknown number.
pub fn role(raw: i32) -> Option<Role> {
    match pb::Role::try_from(raw).ok()? {
        pb::Role::Unspecified => None,
        pb::Role::Cqc => Some(Role::Cqc),
        pb::Role::Nhsi => Some(Role::Nhsi),
        pb::Role::Operator => Some(Role::Operator),
        pb::Role::Reader => Some(Role::Reader),
    }
}

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
pub fn dated<E>(
    rating: Option<Rating>,
    report_date: Option<NaiveDate>,
    explanation: &E,
) -> pb::DatedRating
where
    for<'e> &'e E: Into<pb::Explanation>,
{
    pb::DatedRating {
        rating: rating_or_unspecified(rating) as i32,
        report_date: opt_date(report_date),
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
        for r in Role::ALL {
            assert_eq!(role(pb::Role::from(r) as i32), Some(r));
        }
        assert_eq!(role(0), None);
    }

    fn d(year: i32, month: i32, day: i32) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn dates_round_trip_and_bad_dates_are_named() {
        let leap = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(date(leap), d(2024, 2, 29));
        assert_eq!(to_date(&date(leap)), Ok(leap));
        assert_eq!(to_opt_date(None), Ok(None));
        let e = to_date(&d(2023, 2, 29)).unwrap_err();
        assert_eq!(e.to_string(), "2023-02-29 is not a calendar date");
        assert!(to_date(&d(2024, 5, 0)).is_err(), "a month is not a date");
        assert!(to_date(&d(0, 5, 1)).is_err(), "a date needs a year");
        assert!(to_date(&d(2024, -1, 1)).is_err());
        assert_eq!(to_month(&month(2024, 5)), Ok((2024, 5)));
        assert_eq!(to_month(&d(2024, 5, 31)), Ok((2024, 5)));
        assert!(to_month(&d(2024, 13, 0)).is_err());
        assert!(to_month(&d(2024, 2, 30)).is_err());
    }

    #[test]
    fn instants_round_trip() {
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let wire = timestamp(t);
        assert_eq!(wire.seconds, 1_714_557_600);
        assert_eq!(wire.nanos, 123_456_789);
        assert_eq!(to_timestamp(&wire), Some(t));
        assert_eq!(
            rfc3339_timestamp("2024-05-01T10:00:00.123456789Z"),
            Some(wire)
        );
        assert_eq!(rfc3339_timestamp("yesterday"), None);
        assert_eq!(rfc3339(Some(&wire)), "2024-05-01T10:00:00.123Z");
        assert_eq!(rfc3339(None), "");
    }

    #[test]
    fn dates_read_as_iso() {
        assert_eq!(iso(Some(&d(2024, 5, 1))), "2024-05-01");
        assert_eq!(iso(Some(&month(2024, 5))), "2024-05");
        assert_eq!(iso(None), "");
    }
}
