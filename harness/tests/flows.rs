//! The scenario catalogue, each scenario on its own stack (own ports, database, outbox),
//! as `harness run` runs it; plus proof that a scenario can fail.

use harness::scenarios::{Outcome, Scenario, run_isolated};
use harness::stack::{StackDatabase, StackOptions};

async fn assert_passes(scenario: Scenario, options: StackOptions) {
    let report = run_isolated(scenario, options).await;
    if let Outcome::Failed { message } = report.outcome {
        let steps: Vec<String> = report
            .timeline
            .iter()
            .map(|s| format!("{:>6} ms {:?} {}", s.at_ms, s.actor, s.summary))
            .collect();
        panic!(
            "{} failed: {message}\n{}",
            scenario.name(),
            steps.join("\n")
        );
    }
}

/// Every scenario of the catalogue, concurrently (each has its own stack).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_our_storefront() {
    let runs = Scenario::ALL.map(|s| tokio::spawn(run_isolated(s, StackOptions::default())));
    let mut failures = Vec::new();
    for (scenario, run) in Scenario::ALL.iter().zip(runs) {
        let report = run.await.expect("the runner does not crash");
        if let Outcome::Failed { message } = &report.outcome {
            failures.push(format!("{}: {message}", scenario.name()));
        }
        assert!(
            !report.timeline.is_empty(),
            "{} recorded no timeline",
            scenario.name()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The scenarios must be able to fail: when the mock signs with a secret the shop doesn't
/// know, the shop rejects the webhook and records nothing, and the pay scenario has to say
/// so rather than pass on the redirect alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pay_scenario_fails_when_the_shop_rejects_the_webhook() {
    let options = StackOptions {
        mock_signing_secret: Some("whsec_not_the_shops_secret".into()),
        ..Default::default()
    };
    let report = run_isolated(Scenario::PayWithTestCard, options).await;
    let Outcome::Failed { message } = report.outcome else {
        panic!("the scenario passed although no order could be recorded");
    };
    assert!(
        message.contains("expected \"paid\"") || message.contains("paid order"),
        "unexpected failure: {message}"
    );
}

/// The payment scenarios with the storefront on PostgreSQL: one schema serves both
/// databases. Needs a server: `TEST_POSTGRES_URL` names one whose user may create
/// databases (`.ci/run` starts one and sets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_scenarios_on_postgresql() {
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
    for scenario in [
        Scenario::PayWithTestCard,
        Scenario::DeclineGenericThenPay,
        Scenario::WebhookDuplicated,
        Scenario::DelayedPaymentSucceeds,
    ] {
        let options = StackOptions {
            database: StackDatabase::Postgres {
                admin_url: admin_url.clone(),
            },
            ..Default::default()
        };
        assert_passes(scenario, options).await;
    }
}
