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

/// `harness up --data-dir`: a stack started again on its folder finds what the mock kept,
/// under the same keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_stack_comes_back_with_the_mocks_state() {
    let dir = tempfile::tempdir().unwrap();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let options = StackOptions {
        data_dir: Some(dir.path().to_path_buf()),
        mock_port: free_port(),
        shop_port: free_port(),
        ..Default::default()
    };
    let http = reqwest::Client::new();
    let stack = harness::stack::Stack::start(options.clone()).await.unwrap();
    let customer: serde_json::Value = http
        .post(stack.mock_url.join("/v1/customers").unwrap())
        .bearer_auth(&stack.secret_key)
        .form(&[("email", "kept@example.com")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = stack.secret_key.clone();
    stack.shutdown().await;

    // The ports were just given up: the new listeners may need a moment.
    let mut again = None;
    for _ in 0..100 {
        match harness::stack::Stack::start(options.clone()).await {
            Ok(s) => {
                again = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    let stack = again.expect("the stack starts again on its folder");
    assert_eq!(stack.secret_key, key, "the same keys");
    let id = customer["id"].as_str().unwrap();
    let kept = http
        .get(stack.mock_url.join(&format!("/v1/customers/{id}")).unwrap())
        .bearer_auth(&stack.secret_key)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200, "the mock kept the customer");
    assert!(dir.path().join("mock-stripe").is_dir());
    stack.shutdown().await;
}
