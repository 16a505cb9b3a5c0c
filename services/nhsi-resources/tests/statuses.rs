//! Oversight statuses through the service (issue 14): recorded over gRPC by NHSI, kept
//! append-only, and read by the rules on the as-of date — financial special measures make the SOF
//! finance score 4 (DOMAIN.md §4.1), special measures suggest segment 4 (§4.4) and deficit
//! support moves a NOF segment 1 or 2 provider to 3 (§5). Bad input is INVALID_ARGUMENT naming the
//! field.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use oversight_proto::common::v1 as pb_common;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::resources::v1 as pb;
use oversight_testkit::wait_until;
use tonic::Code;

use common::{
    CQC_TOKEN, DEADLINE, NHSI_TOKEN, READER_TOKEN, Service, bad_field, d, finance, operational,
    productivity, raw_date, req,
};
use oversight_proto::google_type::Date;

/// A date from its ISO spelling; unset for `""`.
fn on(s: &str) -> Option<Date> {
    (!s.is_empty()).then(|| d(s))
}

fn record_request(
    trust: &str,
    kind: pb_common::OversightStatusKind,
    from: &str,
    to: &str,
    source: &str,
) -> pb::RecordOversightStatusRequest {
    pb::RecordOversightStatusRequest {
        trust_code: trust.into(),
        kind: kind as i32,
        from_date: on(from),
        to_date: on(to),
        source: source.into(),
    }
}

async fn score(s: &Service, period: &str) -> pb::GetFinanceScoreResponse {
    s.client()
        .await
        .get_finance_score(req(
            pb::GetFinanceScoreRequest {
                trust_code: "RXX".into(),
                period: on(period),
            },
            READER_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn financial_special_measures_make_the_finance_score_4_while_they_stand() {
    let s = Service::start(true).await;
    // Two periods of finance scoring 1, 1, 2, 1, 1 (DOMAIN.md §4.1 bands: capital service
    // capacity 3× > 2.5 → 1, liquidity 5 days > 0 → 1, I&E margin 0.5 % in 0–1 → 2, distance from
    // plan 0.5 pp ≥ 0 → 1, agency −5 % ≤ 0 → 1): mean 1.2 → overall 1.
    for period in ["2018-03-31", "2018-09-30"] {
        s.publish(&finance(RXX, period, ["3", "5", "0.5", "0.5", "-5"]))
            .await;
    }
    let mut client = s.client().await;
    wait_until(DEADLINE, "both finance periods of RXX", || {
        let mut client = client.clone();
        async move {
            // The latest period is the second one once both are stored.
            let latest = client
                .get_finance_score(req(
                    pb::GetFinanceScoreRequest {
                        trust_code: RXX.into(),
                        period: None,
                    },
                    READER_TOKEN,
                ))
                .await
                .ok()?
                .into_inner();
            (latest.period == on("2018-09-30")).then_some(())
        }
    })
    .await
    .unwrap();
    let before = score(&s, "2018-03-31").await;
    assert_eq!((before.overall, before.computed_overall), (1, 1));
    assert_eq!(before.financial_special_measures, None);

    // NHSI records financial special measures from 2018-01-01, still standing.
    let opened = client
        .record_oversight_status(req(
            record_request(
                RXX,
                pb_common::OversightStatusKind::FinancialSpecialMeasures,
                "2018-01-01",
                "",
                "NHSI board 2018-01",
            ),
            NHSI_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(opened.recorded);
    let first = opened.status.unwrap();
    assert_eq!(
        (first.sequence, first.recorded_by.as_str(), first.to_date),
        (1, "nhsi-uor-team", None)
    );

    // Both periods now score 4 (§4.1: financial special measures → 4), the computed 1 beside it,
    // and the explanation says why.
    for period in ["2018-03-31", "2018-09-30"] {
        let f = score(&s, period).await;
        assert_eq!((f.overall, f.computed_overall), (4, 1), "{period}");
        let why = f.explanation.unwrap();
        assert!(
            why.rule.ends_with(
                "the trust is in financial special measures since 2018-01-01 (NHSI board 2018-01) → 4"
            ),
            "{why:?}"
        );
        assert!(
            why.notes.iter().any(|n| n.starts_with("computed score 1")),
            "{why:?}"
        );
        let status = f.financial_special_measures.unwrap();
        assert_eq!(
            (status.from_date, status.source.as_str()),
            (on("2018-01-01"), "NHSI board 2018-01")
        );
    }

    // Recording the same status again adds nothing.
    let again = client
        .record_oversight_status(req(
            record_request(
                RXX,
                pb_common::OversightStatusKind::FinancialSpecialMeasures,
                "2018-01-01",
                "",
                "NHSI board 2018-01",
            ),
            NHSI_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.recorded);
    assert_eq!(again.status.unwrap().sequence, 1);

    // They end on 2018-07-01 (recorded as a second record of the same status): the period ending
    // 2018-03-31 still scores 4; the period ending 2018-09-30 is back to its computed 1.
    let ended = client
        .record_oversight_status(req(
            record_request(
                RXX,
                pb_common::OversightStatusKind::FinancialSpecialMeasures,
                "2018-01-01",
                "2018-07-01",
                "NHSI board 2018-06",
            ),
            NHSI_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(ended.recorded);
    assert_eq!(ended.status.unwrap().sequence, 2);
    let during = score(&s, "2018-03-31").await;
    assert_eq!((during.overall, during.computed_overall), (4, 1));
    let after = score(&s, "2018-09-30").await;
    assert_eq!((after.overall, after.computed_overall), (1, 1));
    assert_eq!(after.financial_special_measures, None);
    assert_eq!(
        after.explanation.unwrap().rule,
        "mean of the 5 metric scores 1.2 (halves rounded up) → 1"
    );

    // History keeps both records, oldest first; on 2018-09-30 nothing stands, on 2018-03-31 the
    // latest record (with its end date) does.
    let list = |as_of: &str| pb::ListOversightStatusesRequest {
        trust_code: RXX.into(),
        as_of: on(as_of),
    };
    let late = client
        .list_oversight_statuses(req(list("2018-09-30"), READER_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let history: Vec<(u64, Option<Date>, &str)> = late
        .history
        .iter()
        .map(|h| (h.sequence, h.to_date, h.source.as_str()))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, None, "NHSI board 2018-01"),
            (2, on("2018-07-01"), "NHSI board 2018-06")
        ]
    );
    assert!(late.history.iter().all(|h| h.recorded_at.is_some()));
    assert_eq!(late.as_of, on("2018-09-30"));
    assert!(late.standing.is_empty(), "{late:?}");
    let early = client
        .list_oversight_statuses(req(list("2018-03-31"), READER_TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(early.standing.len(), 1);
    assert_eq!(
        (early.standing[0].sequence, early.standing[0].to_date),
        (2, on("2018-07-01"))
    );

    // Only NHSI records statuses.
    let e = client
        .record_oversight_status(req(
            record_request(
                RXX,
                pb_common::OversightStatusKind::DeficitSupport,
                "2018-01-01",
                "",
                "CQC",
            ),
            CQC_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    s.stop().await;
}

const RXX: &str = "RXX";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_status_records_are_invalid_arguments_naming_the_field() {
    let s = Service::start(true).await;
    s.publish(&finance(RXX, "2018-03-31", ["3", "5", "0.5", "0.5", "-5"]))
        .await;
    let mut client = s.client().await;
    wait_until(DEADLINE, "RXX known", || {
        let mut client = client.clone();
        async move {
            client
                .get_finance_score(req(
                    pb::GetFinanceScoreRequest {
                        trust_code: RXX.into(),
                        period: None,
                    },
                    READER_TOKEN,
                ))
                .await
                .ok()
        }
    })
    .await
    .unwrap();
    let fsm = pb_common::OversightStatusKind::FinancialSpecialMeasures;
    let unknown_kind = pb::RecordOversightStatusRequest {
        kind: 7,
        ..record_request(RXX, fsm, "2018-01-01", "", "NHSI")
    };
    let cases = [
        ("kind", unknown_kind),
        (
            "kind",
            record_request(
                RXX,
                pb_common::OversightStatusKind::Unspecified,
                "2018-01-01",
                "",
                "NHSI",
            ),
        ),
        (
            "to_date",
            record_request(RXX, fsm, "2018-01-01", "2017-12-31", "NHSI"),
        ),
        (
            "from_date",
            pb::RecordOversightStatusRequest {
                from_date: Some(raw_date(2018, 2, 30)),
                ..record_request(RXX, fsm, "2018-01-01", "", "NHSI")
            },
        ),
        // 2023 is not a leap year.
        (
            "from_date",
            pb::RecordOversightStatusRequest {
                from_date: Some(raw_date(2023, 2, 29)),
                ..record_request(RXX, fsm, "2018-01-01", "", "NHSI")
            },
        ),
        (
            "to_date",
            pb::RecordOversightStatusRequest {
                to_date: Some(raw_date(2018, 7, 0)),
                ..record_request(RXX, fsm, "2018-01-01", "", "NHSI")
            },
        ),
        ("from_date", record_request(RXX, fsm, "", "", "NHSI")),
        ("source", record_request(RXX, fsm, "2018-01-01", "", " ")),
        (
            "trust_code",
            record_request("RZZ", fsm, "2018-01-01", "", "NHSI"),
        ),
        (
            "trust_code",
            record_request("not a code", fsm, "2018-01-01", "", "NHSI"),
        ),
    ];
    for (field, request) in cases {
        let e = client
            .record_oversight_status(req(request.clone(), NHSI_TOKEN))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert_eq!(bad_field(&e), field, "{request:?}: {e:?}");
    }
    // A date that is not a calendar date is refused with what is wrong with it.
    let e = client
        .record_oversight_status(req(
            pb::RecordOversightStatusRequest {
                from_date: Some(raw_date(2023, 2, 29)),
                ..record_request(RXX, fsm, "2018-01-01", "", "NHSI")
            },
            NHSI_TOKEN,
        ))
        .await
        .unwrap_err();
    assert!(
        e.message().contains("2023-02-29 is not a calendar date"),
        "{e:?}"
    );
    // Nothing was recorded.
    let list = client
        .list_oversight_statuses(req(
            pb::ListOversightStatusesRequest {
                trust_code: RXX.into(),
                as_of: None,
            },
            READER_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(list.history.is_empty(), "{list:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_measures_suggest_segment_4_and_deficit_support_moves_nof_segment_2_to_3() {
    let s = Service::start(true).await;
    // Four acute trusts scored by NOF on A&E 4-hour (standard 78 %: meeting it scores 1, the rest
    // spread 2.00–4.00 by rank) and sickness absence (no standard: best 1.00 to worst 4.00
    // evenly): RAA 80 % / 3 % → 1.00; RBB 80 % / 4 % → 1.50; RCC 70 % / 5 % → 2.50; RDD 60 % /
    // 6 % → 4.00. Quartiles 1 to 4 → segments 1 to 4 (§5). No finance data: no deficit.
    for (trust, ae, sickness) in [
        ("RAA", "80", "3"),
        ("RBB", "80", "4"),
        ("RCC", "70", "5"),
        ("RDD", "60", "6"),
    ] {
        s.publish(&operational(trust, "2025-06-30", "ae_4h", ae))
            .await;
        s.publish(&productivity(
            trust,
            "2025-06-30",
            "sickness_absence_rate",
            sickness,
        ))
        .await;
    }
    let mut client = s.client().await;
    let segments = |rows: &[pb::LeagueTableRow]| -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = rows
            .iter()
            .map(|r| (r.trust_code.clone(), r.segment))
            .collect();
        v.sort();
        v
    };
    let league = |client: pb::resources_service_client::ResourcesServiceClient<_>| async move {
        let mut client = client;
        client
            .get_league_table(req(
                pb::GetLeagueTableRequest {
                    trust_type: 0,
                    peer_group: pb::NofPeerGroup::Acute as i32,
                },
                READER_TOKEN,
            ))
            .await
            .ok()
            .map(|r| r.into_inner().rows)
    };
    let before = wait_until(DEADLINE, "four scored acute trusts", || {
        let client = client.clone();
        async move {
            league(client)
                .await
                .filter(|rows| rows.len() == 4 && rows.iter().all(|r| r.segment > 0))
        }
    })
    .await
    .unwrap();
    assert_eq!(
        segments(&before),
        vec![
            ("RAA".into(), 1),
            ("RBB".into(), 2),
            ("RCC".into(), 3),
            ("RDD".into(), 4)
        ]
    );

    // RBB receives deficit support from 2025-04-01 (still standing today): segment 2 → 3.
    client
        .record_oversight_status(req(
            record_request(
                "RBB",
                pb_common::OversightStatusKind::DeficitSupport,
                "2025-04-01",
                "",
                "NHSE revenue support 2025-04",
            ),
            NHSI_TOKEN,
        ))
        .await
        .unwrap();
    let after = league(client.clone()).await.unwrap();
    assert_eq!(
        segments(&after),
        vec![
            ("RAA".into(), 1),
            ("RBB".into(), 3),
            ("RCC".into(), 3),
            ("RDD".into(), 4)
        ]
    );
    let rbb = after.iter().find(|r| r.trust_code == "RBB").unwrap();
    assert!(
        rbb.explanation
            .as_ref()
            .unwrap()
            .notes
            .iter()
            .any(|n| n == "segment 2 but the provider receives deficit support → segment 3"),
        "{rbb:?}"
    );

    // RAA is placed in quality special measures (standing today): segment 4 suggested (§4.4),
    // with the trigger named. Before it, RAA fires one SOF trigger (A&E 80 % misses the SOF's
    // 95 % standard; no CQC rating, no finance score) → segment 2.
    let suggest = |client: pb::resources_service_client::ResourcesServiceClient<_>| async move {
        let mut client = client;
        client
            .suggest_segment(req(
                pb::SuggestSegmentRequest {
                    trust_code: "RAA".into(),
                },
                READER_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner()
    };
    assert_eq!(suggest(client.clone()).await.segment, 2);
    client
        .record_oversight_status(req(
            record_request(
                "RAA",
                pb_common::OversightStatusKind::QualitySpecialMeasures,
                "2025-05-01",
                "",
                "CQC recommendation 2025-05",
            ),
            NHSI_TOKEN,
        ))
        .await
        .unwrap();
    let sm = suggest(client.clone()).await;
    assert_eq!(sm.segment, 4);
    assert_eq!(sm.segment_name, "special measures");
    assert_eq!(sm.triggers[0].kind(), pb::TriggerKind::SpecialMeasures);
    assert!(sm.triggers[0].serious);
    assert_eq!(
        sm.triggers[0].description,
        "in quality special measures since 2025-05-01 (CQC recommendation 2025-05)"
    );
    s.stop().await;
}

/// An oversight status as ingestion publishes it from the oversight status feed.
fn status_evidence(
    id: &str,
    trust: &str,
    kind: pb_common::OversightStatusKind,
    from: &str,
    to: &str,
) -> ev::ResourceEvidence {
    ev::ResourceEvidence {
        provenance: Some(ev::Provenance {
            evidence_id: id.into(),
            source: "nhsi-oversight-status".into(),
            batch_id: "statuses".into(),
            file_name: "statuses.csv".into(),
            record_number: 1,
        }),
        trust_code: trust.into(),
        trust_type: pb_common::TrustType::Unspecified as i32,
        body: Some(ev::resource_evidence::Body::OversightStatus(
            ev::OversightStatusEvidence {
                kind: kind as i32,
                from_date: on(from),
                to_date: on(to),
                source: "NHSI board 2018-01".into(),
            },
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_from_the_feed_are_recorded_once_and_fire_the_override() {
    let s = Service::start(true).await;
    s.publish(&finance(RXX, "2018-03-31", ["3", "5", "0.5", "0.5", "-5"]))
        .await;
    let opened = status_evidence(
        "status-1",
        RXX,
        pb_common::OversightStatusKind::FinancialSpecialMeasures,
        "2018-01-01",
        "",
    );
    s.publish(&opened).await;
    s.publish(&status_evidence(
        "status-2",
        RXX,
        pb_common::OversightStatusKind::FinancialSpecialMeasures,
        "2018-01-01",
        "2018-07-01",
    ))
    .await;
    // The first evidence again (a replay, or a redelivery past the duplicate window) after the
    // status's end was recorded: it must not be recorded again (that would reopen the status).
    // Then a deficit support record: one lane per trust applies them in order, so once it is
    // recorded the repeat has been handled.
    s.publish_again(&opened).await;
    s.publish(&status_evidence(
        "status-3",
        RXX,
        pb_common::OversightStatusKind::DeficitSupport,
        "2018-02-01",
        "",
    ))
    .await;
    let client = s.client().await;
    let history = wait_until(DEADLINE, "the deficit support record of RXX", || {
        let mut client = client.clone();
        async move {
            let r = client
                .list_oversight_statuses(req(
                    pb::ListOversightStatusesRequest {
                        trust_code: RXX.into(),
                        as_of: on("2018-03-31"),
                    },
                    READER_TOKEN,
                ))
                .await
                .ok()?
                .into_inner();
            (r.history
                .iter()
                .any(|h| h.kind == pb_common::OversightStatusKind::DeficitSupport as i32))
            .then_some(r)
        }
    })
    .await
    .unwrap();
    let records: Vec<(u64, i32, Option<Date>, &str)> = history
        .history
        .iter()
        .map(|h| (h.sequence, h.kind, h.to_date, h.recorded_by.as_str()))
        .collect();
    let fsm = pb_common::OversightStatusKind::FinancialSpecialMeasures as i32;
    let support = pb_common::OversightStatusKind::DeficitSupport as i32;
    assert_eq!(
        records,
        vec![
            (1, fsm, None, "feed statuses.csv"),
            (2, fsm, on("2018-07-01"), "feed statuses.csv"),
            (3, support, None, "feed statuses.csv"),
        ]
    );
    // On 2018-03-31 both stand; financial special measures as their latest record says.
    assert_eq!(
        history
            .standing
            .iter()
            .map(|h| (h.sequence, h.kind))
            .collect::<Vec<_>>(),
        vec![(2, fsm), (3, support)]
    );
    // The period ending 2018-03-31 is inside the status: score 4, computed 1 (1, 1, 2, 1, 1).
    let f = wait_until(DEADLINE, "finance score of RXX", || async {
        s.client()
            .await
            .get_finance_score(req(
                pb::GetFinanceScoreRequest {
                    trust_code: RXX.into(),
                    period: on("2018-03-31"),
                },
                READER_TOKEN,
            ))
            .await
            .ok()
            .map(tonic::Response::into_inner)
    })
    .await
    .unwrap();
    assert_eq!((f.overall, f.computed_overall), (4, 1));
    s.stop().await;
}
