//! The `TrustRatings` gRPC API for regulator systems. Every authenticated caller may read, whatever
//! their role (the ratings are public): no call here checks a role. Each call is worked as a
//! [`CombinerError`] result and mapped to a status once, by the runtime's one error map.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_server::{
    TrustRatingsService, TrustRatingsServiceServer,
};
use oversight_proto::common::v1 as common;
use oversight_rating::TrustCode;
use oversight_runtime::Shutdown;
use oversight_runtime::outbox::StoredEvent;
use prost::Message;
use prost::bytes::Bytes;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tonic::{Request, Response, Status};

use crate::combining::{Combiner, dated_part, report_date};
use crate::error::CombinerError;
use crate::listing::flag_codes;

use chrono::NaiveDate;
use combined_rules::whatif::{
    Changeable, Direction, Moves, QualityAggregation, Step, Target, Unavailable, sentence,
};
use combined_rules::{ApprovedUor, CombineInput, CombinedRuleSet, RatingChanges, TrustType};
use oversight_proto::convert;

/// Largest page a caller may ask for (bounded inputs).
pub const MAX_PAGE_SIZE: u32 = 500;
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Longest region a filter may name (regions are at most 64 characters where they come in).
pub const MAX_REGION_CHARS: usize = 64;

pub struct TrustRatingsApi {
    pub combiner: Arc<Combiner>,
    /// Ends every `WatchRatings` stream, so that a graceful shutdown does not wait for watchers
    /// forever (the gRPC server drains in-flight calls before it stops).
    pub watch_stop: Shutdown,
}

fn trust_code(s: &str) -> Result<TrustCode, CombinerError> {
    s.parse()
        .map_err(|e| CombinerError::invalid("trust_code", e))
}

fn decode(e: &StoredEvent) -> Result<pb::CombinedRatingPublished, CombinerError> {
    Ok(pb::CombinedRatingPublished::decode(e.payload.as_slice())?)
}

/// The `TrustRatingsService` to route (the host puts it behind authentication): the generated
/// server, its hot reads served from bytes ([`crate::wire::FastReads`]).
pub fn service(
    api: TrustRatingsApi,
) -> crate::wire::FastReads<TrustRatingsServiceServer<TrustRatingsApi>> {
    let api = Arc::new(api);
    crate::wire::FastReads::new(TrustRatingsServiceServer::from_arc(api.clone()), api)
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchRatingsResponse, Status>> + Send>>;

impl TrustRatingsApi {
    /// `GetTrustRating`: the version as protobuf field 1 (a `GetTrustRatingResponse` as it is).
    pub async fn get_field_1(&self, r: pb::GetTrustRatingRequest) -> Result<Bytes, CombinerError> {
        let trust = trust_code(&r.trust_code)?;
        let as_of = convert::to_opt_date(r.as_of.as_ref())
            .map_err(|e| CombinerError::invalid("as_of", e))?;
        let Some(as_of) = as_of else {
            // The latest version comes from the read view, never the database.
            return self
                .combiner
                .view()
                .get_field_1(trust.as_str())
                .ok_or(CombinerError::NoRating(trust));
        };
        let event = {
            let history = self.combiner.outbox().history(trust.as_str()).await?;
            // The version published on or before that day (RFC 3339 timestamps start YYYY-MM-DD).
            let as_of = as_of.to_string();
            history
                .into_iter()
                .rfind(|e| e.created_at.get(..10).is_some_and(|d| d <= as_of.as_str()))
        };
        match event {
            Some(e) => {
                decode(&e)?;
                Ok(crate::view::as_field_1(&e.payload))
            }
            None => Err(CombinerError::NoRating(trust)),
        }
    }

    /// `ListTrustRatings`: the page's versions as protobuf field 1 each, and the next page token.
    pub fn list_field_1(
        &self,
        r: pb::ListTrustRatingsRequest,
    ) -> Result<(Vec<Bytes>, String), CombinerError> {
        if r.page_size > MAX_PAGE_SIZE {
            return Err(CombinerError::invalid(
                "page_size",
                format!("at most {MAX_PAGE_SIZE}"),
            ));
        }
        let page_size = if r.page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            r.page_size
        } as usize;
        let rating_filter = common::Rating::try_from(r.combined_rating).map_err(|_| {
            CombinerError::invalid(
                "combined_rating",
                format!("unknown value {}", r.combined_rating),
            )
        })?;
        let type_filter = common::TrustType::try_from(r.trust_type).map_err(|_| {
            CombinerError::invalid("trust_type", format!("unknown value {}", r.trust_type))
        })?;
        if !r.flag.is_empty() && !flag_codes().contains(&r.flag.as_str()) {
            return Err(CombinerError::invalid(
                "flag",
                format!(
                    "unknown flag {:?} (expected one of {})",
                    r.flag,
                    flag_codes().join(", ")
                ),
            ));
        }
        // Case-insensitive exact match; empty matches every trust.
        let region_filter = r.region.trim().to_lowercase();
        if region_filter.chars().count() > MAX_REGION_CHARS {
            return Err(CombinerError::invalid(
                "region",
                format!("at most {MAX_REGION_CHARS} characters"),
            ));
        }
        let after = match r.page_token.as_str() {
            "" => String::new(),
            token => trust_code(token)
                .map_err(|_| CombinerError::invalid("page_token", "not a token from this API"))?
                .to_string(),
        };
        let (page, more) = self
            .combiner
            .view()
            .page_field_1(&after, page_size, |rating| {
                let combined = rating.combined.as_ref().map_or(0, |c| c.rating);
                (rating_filter == common::Rating::Unspecified || combined == rating_filter as i32)
                    && (type_filter == common::TrustType::Unspecified
                        || rating.trust_type == type_filter as i32)
                    && (r.flag.is_empty() || rating.flags.iter().any(|f| f.code == r.flag))
                    && (region_filter.is_empty()
                        || rating.region.trim().to_lowercase() == region_filter)
            });
        let next = if more {
            page.last().map(|(t, _)| t.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((page.into_iter().map(|(_, b)| b).collect(), next))
    }

    /// `GetTrustHistory`: every version of a trust, oldest first, from the database.
    pub async fn history(
        &self,
        r: pb::GetTrustHistoryRequest,
    ) -> Result<pb::GetTrustHistoryResponse, CombinerError> {
        let trust = trust_code(&r.trust_code)?;
        let history = self.combiner.outbox().history(trust.as_str()).await?;
        if history.is_empty() {
            return Err(CombinerError::NoRating(trust));
        }
        let versions = history.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok(pb::GetTrustHistoryResponse { versions })
    }

    /// `GetRatingChanges`: the what-ifs of a trust's latest version (from the read view, like
    /// `GetTrustRating`).
    pub fn changes(
        &self,
        r: pb::GetRatingChangesRequest,
    ) -> Result<pb::GetRatingChangesResponse, CombinerError> {
        let trust = trust_code(&r.trust_code)?;
        let latest = self
            .combiner
            .view()
            .get(trust.as_str())
            .ok_or(CombinerError::NoRating(trust))?;
        Ok(rating_changes_pb(&latest)?)
    }
}

/// Why the what-ifs of a published version cannot be worked.
#[derive(Debug, thiserror::Error)]
pub enum WhatIfError {
    /// The version names a combined rule set this combiner does not have.
    #[error(
        "version {version} of trust {trust} was combined by rule set {rule_set:?}, which this combiner cannot work what-ifs for"
    )]
    UnknownRuleSet {
        trust: String,
        version: u64,
        rule_set: String,
    },
}

/// How the quality rule set that rated `r`'s overall quality aggregates the trust overall: the
/// §2.1 counting rule with its thresholds (`cqc-2018`, as `cqc-rules` rates it), or not by
/// counting (`saf-2023`, or a rule set this combiner does not know). The rule set is the one the
/// overall quality's (or else a key question's) explanation names; when none names one, the one
/// cqc-quality chooses by default for a rating of that date (`cqc_rules::RuleSet::select`).
fn quality_aggregation(r: &pb::CombinedRatingPublished, as_of: NaiveDate) -> QualityAggregation {
    let named = |d: Option<&common::DatedRating>| {
        d.and_then(|d| d.explanation.as_ref())
            .map(|e| e.rule_set.clone())
            .filter(|s| !s.is_empty())
    };
    let named = named(r.overall_quality.as_ref()).or_else(|| {
        combined_key_questions(r)
            .iter()
            .find_map(|k| named(k.rating.as_ref()))
    });
    let rules = match &named {
        Some(name) => cqc_rules::RuleSet::by_name(name),
        None => {
            let date = dated_part(r.overall_quality.as_ref()).date.unwrap_or(as_of);
            cqc_rules::RuleSet::select(date, None)
        }
    };
    match rules {
        Ok(rules) if rules.saf_bands().is_none() => QualityAggregation::Counting(rules.thresholds),
        Ok(rules) => QualityAggregation::NotCounting {
            rule_set: rules.name().to_string(),
        },
        Err(_) => QualityAggregation::NotCounting {
            rule_set: named.unwrap_or_default(),
        },
    }
}

/// The key questions a published version combined: those its overall quality stands on
/// (`overall_key_questions`), else the newest (`key_questions`, which are then the same). A focused
/// inspection without a well-led assessment moves the newest, not what was combined (§2.3).
pub fn combined_key_questions(r: &pb::CombinedRatingPublished) -> &[common::KeyQuestionRating] {
    if r.overall_key_questions.is_empty() {
        &r.key_questions
    } else {
        &r.overall_key_questions
    }
}

/// The what-ifs of a published combined version (`combined_rules::whatif`), worked from its
/// inputs as the combiner combined them: the same trust type, key questions (those the overall
/// stands on: [`combined_key_questions`]), overall quality and approved use of resources, dated by
/// its latest part (the combined rating's date), under the rule set it names in the mode it was
/// published in.
pub fn rating_changes(r: &pb::CombinedRatingPublished) -> Result<RatingChanges, WhatIfError> {
    let mut rules = CombinedRuleSet::cqc_combined_2018();
    if r.rule_set != rules.version.as_str() {
        return Err(WhatIfError::UnknownRuleSet {
            trust: r.trust_code.clone(),
            version: r.version,
            rule_set: r.rule_set.clone(),
        });
    }
    let uor = r.use_of_resources.as_ref().and_then(|u| {
        Some(ApprovedUor {
            rating: convert::real_rating(u.rating)?,
            date: report_date(Some(u))?,
            version: u32::try_from(r.use_of_resources_version).unwrap_or(u32::MAX),
        })
    });
    let input = CombineInput {
        trust_type: convert::trust_type(r.trust_type).unwrap_or(TrustType::Acute),
        key_questions: combined_key_questions(r)
            .iter()
            .filter_map(|k| {
                Some((
                    convert::key_question(k.key_question)?,
                    dated_part(k.rating.as_ref()),
                ))
            })
            .collect(),
        overall_quality: dated_part(r.overall_quality.as_ref()),
        uor,
        sources: Default::default(),
    };
    let as_of = input
        .latest_part_date()
        .unwrap_or_else(oversight_runtime::time::today);
    // Published in shadow mode on or after the first combined day: shadow by configuration.
    rules.force_shadow = r.mode() == pb::Mode::Shadow && as_of >= rules.combined_from;
    Ok(combined_rules::rating_changes(
        &input,
        as_of,
        &rules,
        &quality_aggregation(r, as_of),
    ))
}

fn change_pb(c: &combined_rules::whatif::Change) -> pb::RatingChange {
    use pb::rating_change::Part;
    pb::RatingChange {
        part: Some(match c.rating {
            Changeable::KeyQuestion(kq) => Part::KeyQuestion(common::KeyQuestion::from(kq) as i32),
            Changeable::UseOfResources => Part::UseOfResources(true),
        }),
        from: common::Rating::from(c.from) as i32,
        to: common::Rating::from(c.to) as i32,
    }
}

fn step_pb(target: Target, direction: Direction, step: &Step) -> pb::RatingStep {
    let (outcome, to, sets) = match step {
        Step::Changes { to, sets } => (pb::StepOutcome::Changes, Some(*to), sets.as_slice()),
        Step::AlreadyOutstanding => (pb::StepOutcome::AlreadyOutstanding, None, &[][..]),
        Step::AlreadyInadequate => (pb::StepOutcome::AlreadyInadequate, None, &[][..]),
        Step::NoExactStep { to } => (pb::StepOutcome::NoExactStep, Some(*to), &[][..]),
    };
    pb::RatingStep {
        direction: match direction {
            Direction::Up => pb::Direction::Up,
            Direction::Down => pb::Direction::Down,
        } as i32,
        outcome: outcome as i32,
        to: convert::rating_or_unspecified(to) as i32,
        change_sets: sets
            .iter()
            .map(|set| pb::RatingChangeSet {
                changes: set.changes.iter().map(change_pb).collect(),
                description: to.map(|to| sentence(set, target, to)).unwrap_or_default(),
            })
            .collect(),
    }
}

fn what_if_pb(target: Target, what: &Result<Moves, Unavailable>) -> pb::RatingWhatIf {
    match what {
        Ok(m) => pb::RatingWhatIf {
            current: common::Rating::from(m.current) as i32,
            up: Some(step_pb(target, Direction::Up, &m.up)),
            down: Some(step_pb(target, Direction::Down, &m.down)),
            unavailable: pb::WhatIfUnavailable::Unspecified as i32,
            unavailable_reason: String::new(),
        },
        Err(why) => pb::RatingWhatIf {
            current: common::Rating::Unspecified as i32,
            up: None,
            down: None,
            unavailable: match why {
                Unavailable::NoKeyQuestionRatings => pb::WhatIfUnavailable::NoKeyQuestionRatings,
                Unavailable::QualityNotCounted { .. } => pb::WhatIfUnavailable::QualityNotCounted,
                Unavailable::NoCombined { .. } => pb::WhatIfUnavailable::NoCombinedRating,
            } as i32,
            unavailable_reason: why.to_string(),
        },
    }
}

/// The `GetRatingChanges` answer for a published version.
pub fn rating_changes_pb(
    r: &pb::CombinedRatingPublished,
) -> Result<pb::GetRatingChangesResponse, WhatIfError> {
    let changes = rating_changes(r)?;
    Ok(pb::GetRatingChangesResponse {
        trust_code: r.trust_code.clone(),
        version: r.version,
        overall_quality: Some(what_if_pb(Target::OverallQuality, &changes.overall_quality)),
        combined: Some(what_if_pb(Target::Combined, &changes.combined)),
    })
}

#[tonic::async_trait]
impl TrustRatingsService for TrustRatingsApi {
    async fn get_trust_rating(
        &self,
        request: Request<pb::GetTrustRatingRequest>,
    ) -> Result<Response<pb::GetTrustRatingResponse>, Status> {
        // Served by `wire::FastReads` from bytes; this is the same answer decoded.
        let field_1 = self.get_field_1(request.into_inner()).await?;
        let response = pb::GetTrustRatingResponse::decode(field_1).map_err(CombinerError::from)?;
        Ok(Response::new(response))
    }

    async fn list_trust_ratings(
        &self,
        request: Request<pb::ListTrustRatingsRequest>,
    ) -> Result<Response<pb::ListTrustRatingsResponse>, Status> {
        // Served by `wire::FastReads` from bytes; this is the same answer decoded.
        let (ratings, next) = self.list_field_1(request.into_inner())?;
        let response =
            pb::ListTrustRatingsResponse::decode(crate::wire::list_response(&ratings, &next))
                .map_err(CombinerError::from)?;
        Ok(Response::new(response))
    }

    async fn get_trust_history(
        &self,
        request: Request<pb::GetTrustHistoryRequest>,
    ) -> Result<Response<pb::GetTrustHistoryResponse>, Status> {
        Ok(Response::new(self.history(request.into_inner()).await?))
    }

    async fn get_rating_changes(
        &self,
        request: Request<pb::GetRatingChangesRequest>,
    ) -> Result<Response<pb::GetRatingChangesResponse>, Status> {
        Ok(Response::new(self.changes(request.into_inner())?))
    }

    type WatchRatingsStream = WatchStream;

    async fn watch_ratings(
        &self,
        _request: Request<pb::WatchRatingsRequest>,
    ) -> Result<Response<Self::WatchRatingsStream>, Status> {
        let stream =
            BroadcastStream::new(self.combiner.subscribe()).filter_map(|item| match item {
                Ok(rating) => Some(Ok(pb::WatchRatingsResponse {
                    rating: Some(rating.as_ref().clone()),
                })),
                // A slow watcher misses some versions; it can read them with GetTrustHistory.
                Err(_lagged) => None,
            });
        let stream =
            futures::StreamExt::take_until(stream, self.watch_stop.clone().cancelled_owned());
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use combined_rules::Ineligible;
    use combined_rules::whatif::Unavailable;
    use oversight_rating::Rating;

    /// A wire date from ISO text.
    fn d(iso: &str) -> oversight_proto::google_type::Date {
        convert::date(iso.parse().unwrap())
    }

    fn dated(r: common::Rating, date: &str, rule_set: &str) -> Option<common::DatedRating> {
        Some(common::DatedRating {
            rating: r as i32,
            report_date: Some(d(date)),
            explanation: Some(common::Explanation {
                rule_set: rule_set.into(),
                ..Default::default()
            }),
        })
    }

    /// A published acute version: every key question and overall quality Good on `date` under the
    /// quality rule set `quality_rules`, use of resources Good on the same day, in `mode`.
    fn version(date: &str, quality_rules: &str, mode: pb::Mode) -> pb::CombinedRatingPublished {
        pb::CombinedRatingPublished {
            trust_code: "RXX".into(),
            trust_type: common::TrustType::Acute as i32,
            version: 1,
            rule_set: "cqc-combined-2018".into(),
            mode: mode as i32,
            key_questions: [
                common::KeyQuestion::Safe,
                common::KeyQuestion::Effective,
                common::KeyQuestion::Caring,
                common::KeyQuestion::Responsive,
                common::KeyQuestion::WellLed,
            ]
            .into_iter()
            .map(|k| common::KeyQuestionRating {
                key_question: k as i32,
                rating: dated(common::Rating::Good, date, quality_rules),
            })
            .collect(),
            overall_quality: dated(common::Rating::Good, date, quality_rules),
            use_of_resources: dated(common::Rating::Good, date, ""),
            use_of_resources_version: 1,
            ..Default::default()
        }
    }

    #[test]
    fn a_combined_version_is_worked_from_its_own_inputs() {
        let changes =
            rating_changes(&version("2018-06-01", "cqc-2018", pb::Mode::Combined)).unwrap();
        // Six good ratings: combined Good; five good key questions: overall quality Good.
        assert_eq!(changes.combined.as_ref().unwrap().current, Rating::Good);
        assert_eq!(
            changes.overall_quality.as_ref().unwrap().current,
            Rating::Good
        );
    }

    #[test]
    fn the_what_if_works_from_the_key_questions_that_were_combined() {
        // A focused inspection after the well-led assessment: effective is now Inadequate (shown,
        // `key_questions`) but the overall stands on effective Good (`overall_key_questions`), and
        // so does the combined rating. Six Good → Good; from the newest it would be one inadequate
        // of six → at best Requires improvement (§3), and overall quality likewise (§2.1).
        let mut v = version("2018-06-01", "cqc-2018", pb::Mode::Combined);
        v.overall_key_questions = v.key_questions.clone();
        v.key_questions[1].rating = dated(common::Rating::Inadequate, "2019-03-01", "cqc-2018");
        let changes = rating_changes(&v).unwrap();
        assert_eq!(changes.combined.as_ref().unwrap().current, Rating::Good);
        assert_eq!(
            changes.overall_quality.as_ref().unwrap().current,
            Rating::Good
        );
        // Without `overall_key_questions` the newest were combined.
        v.overall_key_questions.clear();
        let newest = rating_changes(&v).unwrap();
        assert_eq!(
            newest.combined.as_ref().unwrap().current,
            Rating::RequiresImprovement
        );
    }

    #[test]
    fn shadow_on_a_combined_date_is_shadow_by_configuration() {
        let changes = rating_changes(&version("2018-06-01", "cqc-2018", pb::Mode::Shadow)).unwrap();
        assert!(matches!(
            &changes.combined,
            Err(Unavailable::NoCombined { reasons }) if matches!(reasons[..], [Ineligible::Shadow { forced: true, .. }])
        ));
        let before = rating_changes(&version("2018-01-15", "cqc-2018", pb::Mode::Shadow)).unwrap();
        assert!(matches!(
            &before.combined,
            Err(Unavailable::NoCombined { reasons }) if matches!(reasons[..], [Ineligible::Shadow { forced: false, .. }])
        ));
    }

    #[test]
    fn the_quality_rule_set_decides_whether_overall_quality_is_counted() {
        let saf = rating_changes(&version("2024-06-01", "saf-2023", pb::Mode::Combined)).unwrap();
        assert_eq!(
            saf.overall_quality,
            Err(Unavailable::QualityNotCounted {
                rule_set: "saf-2023".into()
            })
        );
        // The combined rating counts six ratings whatever the quality rule set (§3).
        assert_eq!(saf.combined.as_ref().unwrap().current, Rating::Good);
        // No rule set named: the one cqc-quality chooses for the date (saf-2023 from 2023-11-01).
        let unnamed_2024 = rating_changes(&version("2024-06-01", "", pb::Mode::Combined)).unwrap();
        assert!(unnamed_2024.overall_quality.is_err());
        let unnamed_2018 = rating_changes(&version("2018-06-01", "", pb::Mode::Combined)).unwrap();
        assert!(unnamed_2018.overall_quality.is_ok());
    }

    #[test]
    fn an_unknown_combined_rule_set_is_a_typed_error() {
        let mut v = version("2018-06-01", "cqc-2018", pb::Mode::Combined);
        v.rule_set = "cqc-combined-2030".into();
        let e = rating_changes(&v).unwrap_err();
        assert!(e.to_string().contains("cqc-combined-2030"), "{e}");
        assert!(rating_changes_pb(&v).is_err());
    }
}
