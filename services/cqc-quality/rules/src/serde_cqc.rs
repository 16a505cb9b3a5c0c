//! Serde helpers that write ratings the way CQC publishes them ("Requires improvement"), so JSON
//! inputs and outputs read like CQC's own data.

/// A [`RatingValue`](oversight_rating::RatingValue) as its CQC string.
pub mod rating_value {
    use oversight_rating::RatingValue;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes the CQC string.
    pub fn serialize<S: Serializer>(v: &RatingValue, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.cqc_str())
    }

    /// Reads any string [`RatingValue`]'s `FromStr` accepts.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RatingValue, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// An optional [`Rating`](oversight_rating::Rating) as its CQC string or `null`.
pub mod opt_rating {
    use oversight_rating::Rating;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes the CQC string or `null`.
    pub fn serialize<S: Serializer>(v: &Option<Rating>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(r) => s.serialize_str(r.cqc_str()),
            None => s.serialize_none(),
        }
    }

    /// Reads a CQC rating string or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Rating>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| s.parse().map_err(D::Error::custom))
            .transpose()
    }
}
