//! `Stripe-Signature` (contract §3.4): the mock only signs (`mock_stripe::signature::sign`);
//! its headers must round-trip through Stripe's format and through an SDK's verifier
//! (async-stripe's), for any secret, timestamp and body, and must stop verifying when any
//! of the three changes.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use stripe_webhook::{Webhook, WebhookError};

use mock_stripe::signature::sign;

/// Stripe's header, parsed the way its libraries do: `t` and every `v1`.
fn parse(header: &str) -> Option<(i64, Vec<String>)> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.split_once('=')?;
        match k {
            "t" => t = Some(v.parse().ok()?),
            "v1" => v1.push(v.to_string()),
            _ => {}
        }
    }
    Some((t?, v1))
}

fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "whsec_[A-Za-z0-9]{1,40}",
        "\\PC{0,80}",
        Just(String::new()),
        (65usize..300).prop_map(|n| format!("whsec_{}", "k".repeat(n))),
    ]
}

fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        Just(
            "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"checkout.session.completed\"}"
                .into()
        ),
        (1usize..100_000).prop_map(|n| "é".repeat(n)),
    ]
}

fn verify(body: &str, header: &str, secret: &str, now: i64) -> Result<(), WebhookError> {
    match Webhook::construct_event_with_timestamp(body, header, secret, now) {
        // The signature held; the body need not be an event.
        Ok(_) | Err(WebhookError::BadParse(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[test]
fn fuzz_signatures_round_trip() {
    let started = std::time::Instant::now();
    let mut runner = crate_runner();
    let strategy = (
        secret(),
        any::<i64>().prop_map(|t| t / 2),
        body(),
        any::<prop::sample::Index>(),
    );
    let result = runner.run(&strategy, |(secret, t, body, at)| {
        let header = sign(&secret, t, body.as_bytes());
        // Stripe's format: no spaces, `t` first, one lowercase-hex SHA-256 `v1`.
        prop_assert!(!header.contains(' '));
        let (parsed_t, v1) =
            parse(&header).ok_or_else(|| TestCaseError::fail(format!("unparsable: {header}")))?;
        prop_assert_eq!(parsed_t, t);
        prop_assert_eq!(v1.len(), 1);
        prop_assert_eq!(v1[0].len(), 64);
        prop_assert!(
            v1[0]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        // The same bytes as an SDK's own signer.
        prop_assert_eq!(
            &header,
            &Webhook::generate_test_header(&body, &secret, Some(t))
        );
        // An SDK verifies it...
        verify(&body, &header, &secret, t)
            .map_err(|e| TestCaseError::fail(format!("rejected: {e:?}")))?;
        // ...and not once the body, the secret or the timestamp changes.
        let mut tampered = body.clone().into_bytes();
        if !tampered.is_empty() {
            let i = at.index(tampered.len());
            tampered[i] ^= 0x01;
            if let Ok(tampered) = String::from_utf8(tampered) {
                prop_assert!(verify(&tampered, &header, &secret, t).is_err());
            }
        }
        let other_secret = format!("{secret}x");
        prop_assert!(verify(&body, &header, &other_secret, t).is_err());
        let other_t = format!("t={},v1={}", t.wrapping_add(1), v1[0]);
        prop_assert!(verify(&body, &other_t, &secret, t).is_err());
        Ok(())
    });
    println!(
        "fuzz signature: {} cases in {:.1?}",
        http_fuzz::campaign::cases(500),
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("signature: {e}");
    }
}

fn crate_runner() -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngSeed, TestRunner};
    TestRunner::new(Config {
        cases: http_fuzz::campaign::cases(500),
        rng_seed: RngSeed::Fixed(0x5712_1be5),
        failure_persistence: None,
        ..Config::default()
    })
}
