//! The model-based property test against our storefront, with a fixed seed and a modest
//! number of cases so `cargo test` stays quick (`harness run` runs more).
//!
//! `PROPERTY_CASES`, `PROPERTY_SEED` and `PROPERTY_MAX_STEPS` change the run (to replay a
//! failure, or to search harder).

use harness::properties::{PropertyConfig, run};
use harness::stack::StackDatabase;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn purchases_agree_with_the_model_on_our_storefront() {
    let cases = env_or("PROPERTY_CASES", 64);
    let config = PropertyConfig {
        cases,
        seed: env_or("PROPERTY_SEED", 20_240_607),
        max_steps: env_or("PROPERTY_MAX_STEPS", 8),
        ..PropertyConfig::default()
    };
    let report = run(config);
    eprintln!("{}", report.to_text());
    assert!(report.passed, "{}", report.to_text());
    assert_eq!(report.cases, cases);
}

/// The same on PostgreSQL, with 8 cases: each creates and drops a scratch database (about
/// 1 s a case). Needs a server: `TEST_POSTGRES_URL` names one whose user may create
/// databases (`.ci/run` sets it).
#[test]
fn purchases_agree_with_the_model_on_postgresql() {
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
    let cases = env_or("PROPERTY_POSTGRES_CASES", 8);
    let report = run(PropertyConfig {
        cases,
        seed: env_or("PROPERTY_SEED", 20_240_607),
        database: StackDatabase::Postgres { admin_url },
        ..PropertyConfig::default()
    });
    eprintln!("{}", report.to_text());
    assert!(report.passed, "{}", report.to_text());
    assert_eq!(report.cases, cases);
}
