//! Proof that the checks can fail: the property test and the catalogue, run against small
//! shops with planted bugs (`planted/`), catch each bug, and the property test shrinks it
//! to a few steps that name the right kind of step. The same shop without its bug passes,
//! so each failure is the bug's.

mod planted;

use harness::properties::{
    Card, PropertyConfig, PropertyReport, Transition, WebhookFault, run_async,
};
use harness::scenarios::{Outcome, Scenario, ScenarioReport, run_isolated};
use harness::stack::StackOptions;
use planted::{Bug, Planted};

/// Fixed, so a failure of these tests replays (`PLANTED_SEED` tries another).
fn seed() -> u64 {
    std::env::var("PLANTED_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(424_242)
}

fn property(planted: Planted, cases: u32) -> PropertyConfig {
    PropertyConfig {
        cases,
        seed: seed(),
        max_steps: 8,
        shop: Some(planted.starter()),
        ..PropertyConfig::default()
    }
}

async fn scenario(scenario: Scenario, planted: Planted) -> ScenarioReport {
    run_isolated(
        scenario,
        StackOptions {
            shop: Some(planted.starter()),
            ..StackOptions::default()
        },
    )
    .await
}

fn failure(report: &ScenarioReport) -> Option<&str> {
    match &report.outcome {
        Outcome::Failed { message } => Some(message),
        _ => None,
    }
}

fn timeline(report: &ScenarioReport) -> String {
    report
        .timeline
        .iter()
        .map(|s| format!("{:>6} ms {:?} {}", s.at_ms, s.actor, s.summary))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The property test failed, replayably, and shrank the failure to a few steps.
fn assert_caught_and_shrunk(report: &PropertyReport, bug: &str) {
    eprintln!("{}", report.to_text());
    assert!(!report.passed, "the property test missed a shop that {bug}");
    assert_eq!(
        report.replayed,
        Some(true),
        "the shrunk sequence must fail again when replayed:\n{}",
        report.to_text()
    );
    assert!(
        !report.shrunk.is_empty() && report.shrunk.len() <= 4,
        "a shop that {bug} should shrink to at most 4 steps:\n{}",
        report.to_text()
    );
    assert_eq!(
        report.steps.len(),
        report.shrunk.len() + 1,
        "step 0 and one line per step"
    );
    assert!(
        report.steps[1..]
            .iter()
            .enumerate()
            .all(|(i, s)| s.starts_with(&format!("{}. ", i + 1))),
        "numbered steps: {:?}",
        report.steps
    );
    assert!(report.failing_step.is_some() && report.message.is_some());
}

fn pays(t: &Transition) -> bool {
    matches!(t, Transition::Pay { card, .. } if card.pays())
}

fn fault(t: &Transition) -> Option<WebhookFault> {
    match t {
        Transition::FaultNextCompletion { fault } => Some(*fault),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planted_shop_without_a_bug_passes() {
    let shop = Planted::with_bug(Bug::None);
    let report = run_async(property(shop, 48)).await;
    assert!(report.passed, "{}", report.to_text());
    for s in [
        Scenario::PayWithTestCard,
        Scenario::WebhookDuplicated,
        Scenario::WebhookDropped,
        Scenario::WebhookDelayedMinutes,
        Scenario::WebhookFailsThenRetried,
        Scenario::SessionExpires,
    ] {
        let report = scenario(s, shop).await;
        assert!(
            report.passed(),
            "{} failed against the correct planted shop: {:?}\n{}",
            s.name(),
            failure(&report),
            timeline(&report)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfilling_on_the_redirect_is_caught() {
    let shop = Planted::with_bug(Bug::FulfilsOnRedirect);
    let report = run_async(property(shop, 64)).await;
    assert_caught_and_shrunk(&report, "fulfils on the redirect");
    // Fulfilled without a genuine delivery: the shopper came back without paying, or
    // paid while the completion was held back (dropped, delayed, failed, forged).
    let returned = report
        .shrunk
        .iter()
        .any(|t| matches!(t, Transition::ReturnWithoutPaying { .. }));
    let held_back = report.shrunk.iter().any(|t| {
        matches!(
            fault(t),
            Some(
                WebhookFault::Drop
                    | WebhookFault::Delay
                    | WebhookFault::Status500
                    | WebhookFault::BadSignature
            )
        )
    }) && report.shrunk.iter().any(pays);
    assert!(
        returned || held_back,
        "the shrunk steps should come back without paying, or pay with the completion held back:\n{}",
        report.to_text()
    );
    assert!(
        report.message.as_deref().unwrap_or("").contains("\"paid\""),
        "{:?}",
        report.message
    );

    let dropped = scenario(Scenario::WebhookDropped, shop).await;
    let message = failure(&dropped).expect("webhook-dropped must fail against this shop");
    assert!(message.contains("paid"), "{message}");
    let delayed = scenario(Scenario::WebhookDelayedMinutes, shop).await;
    assert!(
        failure(&delayed).is_some(),
        "webhook-delayed-minutes must fail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_deduplicating_events_is_caught() {
    let shop = Planted::with_bug(Bug::NoDedup);
    let report = run_async(property(shop, 64)).await;
    assert_caught_and_shrunk(&report, "does not deduplicate events");
    // A second delivery of one completion: a resend, a duplicate, or a timed-out attempt
    // that Stripe retried.
    let second_delivery = report.shrunk.iter().any(|t| {
        matches!(t, Transition::Redeliver { .. })
            || matches!(
                fault(t),
                Some(WebhookFault::Duplicate | WebhookFault::Timeout)
            )
    });
    assert!(
        second_delivery && report.shrunk.iter().any(pays),
        "the shrunk steps should pay and deliver the completion twice:\n{}",
        report.to_text()
    );
    assert!(
        report.message.as_deref().unwrap_or("").contains("receipt"),
        "{:?}",
        report.message
    );

    let duplicated = scenario(Scenario::WebhookDuplicated, shop).await;
    let message = failure(&duplicated).expect("webhook-duplicated must fail against this shop");
    assert!(message.contains("receipt"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_before_committing_is_caught() {
    let shop = Planted::with_bug(Bug::AcksBeforeCommit);
    let report = run_async(property(shop, 64)).await;
    assert_caught_and_shrunk(&report, "answers 200 before committing");
    assert!(
        matches!(
            report.shrunk[..],
            [Transition::Buy { .. }, Transition::Pay { card, .. }] if card.pays()
        ) || report.shrunk.iter().any(pays),
        "the shrunk steps should buy and pay:\n{}",
        report.to_text()
    );
    assert!(
        report
            .message
            .as_deref()
            .unwrap_or("")
            .contains("\"pending\""),
        "the payment is lost: {:?}",
        report.message
    );

    let retried = scenario(Scenario::WebhookFailsThenRetried, shop).await;
    assert!(
        failure(&retried).is_some(),
        "webhook-fails-then-retried must fail against this shop"
    );
    let paid = scenario(Scenario::PayWithTestCard, shop).await;
    assert!(
        failure(&paid).is_some(),
        "pay-with-test-card must fail against this shop"
    );
}

#[test]
fn cards_that_pay() {
    assert!(Card::Succeeds.pays() && Card::ThreeDSecureCompleted.pays());
    assert!(!Card::Declined.pays() && !Card::ThreeDSecureFailed.pays());
}
