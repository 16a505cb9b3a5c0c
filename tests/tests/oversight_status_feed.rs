//! The oversight status feed through the real stack (issue 14): a CSV of statuses submitted to
//! ingestion is validated record by record (a bad record rejected naming file, record and field),
//! travels as resource evidence, is recorded by nhsi-resources, and the override fires: financial
//! special measures make the SOF finance score 4 (DOMAIN.md §4.1), the computed score beside it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use oversight_e2e::Stack;
use oversight_proto::ingestion::v1 as ing;
use oversight_proto::resources::v1 as pb;
use oversight_proto::resources::v1::resources_service_client::ResourcesServiceClient;
use oversight_testkit::wait_until;

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_fed_through_ingestion_make_the_finance_score_4() {
    let stack = Stack::start().await.unwrap();
    // Finance scoring 1, 1, 2, 1, 1 (§4.1 bands: 3× > 2.5; 5 days > 0; 0.5 % in 0–1 → 2;
    // 0.5 pp ≥ 0; −5 % ≤ 0): mean 1.2 → 1.
    let finance = "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n\
RXX,2018-03-31,3,5,0.5,0.5,-5\n";
    let receipt = stack
        .submit(
            "finance",
            ing::FeedFormat::Csv,
            "finance.csv",
            finance.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!((receipt.accepted, receipt.rejected), (1, 0), "{receipt:?}");

    let statuses = "trust_code,kind,from,to,source\n\
RXX,financial_special_measures,2018-01-01,,NHSI board 2018-01\n\
RXX,special_measures,2018-01-01,,NHSI\n";
    let receipt = stack
        .submit(
            "statuses",
            ing::FeedFormat::Csv,
            "statuses.csv",
            statuses.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!((receipt.accepted, receipt.rejected), (1, 1), "{receipt:?}");
    let rejection = &receipt.rejections[0];
    assert_eq!(
        (
            rejection.file_name.as_str(),
            rejection.record_number,
            rejection.field.as_str()
        ),
        ("statuses.csv", 2, "kind")
    );

    let channel = Stack::channel(stack.nhsi).await.unwrap();
    let score = wait_until(
        DEADLINE,
        "RXX's finance score under special measures",
        || {
            let mut client = ResourcesServiceClient::new(channel.clone());
            async move {
                let f = client
                    .get_finance_score(pb::GetFinanceScoreRequest {
                        trust_code: "RXX".into(),
                        period: Some(oversight_e2e::date("2018-03-31")),
                    })
                    .await
                    .ok()?
                    .into_inner();
                (f.overall == 4).then_some(f)
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(score.computed_overall, 1);
    let status = score.financial_special_measures.unwrap();
    assert_eq!(
        (status.from_date, status.source.as_str(), status.to_date),
        (
            Some(oversight_e2e::date("2018-01-01")),
            "NHSI board 2018-01",
            None
        )
    );
    let history = ResourcesServiceClient::new(channel)
        .list_oversight_statuses(pb::ListOversightStatusesRequest {
            trust_code: "RXX".into(),
            as_of: Some(oversight_e2e::date("2018-03-31")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.history.len(), 1);
    assert_eq!(history.history[0].recorded_by, "feed statuses.csv");
    stack.stop().await.unwrap();
}
