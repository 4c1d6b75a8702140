//! Every purchase flow, each on its own stack (own ports, database, outbox),
//! so cargo runs them in parallel. These are the same flows `harness run` runs.

use harness::flows::{Flow, run_isolated};

async fn assert_flow_passes(flow: Flow) {
    let report = run_isolated(flow).await;
    if let Err(e) = report.result {
        panic!("{} failed: {e:#}", flow.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_with_4242_records_one_order_and_one_receipt() {
    assert_flow_passes(Flow::PayWithTestCard).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_records_nothing_and_says_so() {
    assert_flow_passes(Flow::CancelAtPaymentPage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_records_nothing_then_4242_succeeds_once() {
    assert_flow_passes(Flow::DeclineThenPay).await;
}

/// The flows must be able to fail: when the mock signs with a secret the shop
/// doesn't know, the shop rejects the webhook, records nothing, and the
/// pay flow has to say so rather than pass on the redirect alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pay_flow_fails_when_the_shop_rejects_the_webhook() {
    let options = harness::stack::StackOptions {
        mock_signing_secret: Some("whsec_not_the_shops_secret".into()),
        ..Default::default()
    };
    let report = harness::flows::run_isolated_with(Flow::PayWithTestCard, options).await;
    let error = format!(
        "{:#}",
        report
            .result
            .expect_err("the flow passed although no order could be recorded")
    );
    assert!(
        error.contains("exactly one paid order, found 0"),
        "unexpected failure: {error}"
    );
}

/// The same purchase with the storefront on PostgreSQL: one schema serves both
/// databases. Needs a server: `TEST_POSTGRES_URL` names one whose user may
/// create databases (`.ci/run` starts one and sets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_with_4242_on_postgresql() {
    let Some(admin_url) = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var_os("REQUIRE_POSTGRES_TESTS").is_none(),
            "REQUIRE_POSTGRES_TESTS is set but TEST_POSTGRES_URL is not"
        );
        eprintln!(
            "skipped: set TEST_POSTGRES_URL (e.g. postgres://postgres:postgres@127.0.0.1/postgres) to run it"
        );
        return;
    };
    for flow in [Flow::PayWithTestCard, Flow::DeclineThenPay] {
        let options = harness::stack::StackOptions {
            database: harness::stack::StackDatabase::Postgres {
                admin_url: admin_url.clone(),
            },
            ..Default::default()
        };
        let report = harness::flows::run_isolated_with(flow, options).await;
        if let Err(e) = report.result {
            panic!("{} on PostgreSQL failed: {e:#}", flow.name());
        }
    }
}
