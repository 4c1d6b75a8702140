//! Short soaks, as `harness soak` runs them: the mock-stripe and storefront binaries as
//! child processes, shoppers at once, faults injected, then the checks (no lost or
//! duplicate order, one receipt per paid order, no 5xx shown to a shopper). Plus proof
//! that a soak fails when orders are lost.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use harness::soak::process::Binaries;
use harness::soak::{SoakConfig, SoakReport, run};
use harness::stack::StackDatabase;

/// The two binaries of this test's profile, built first: `cargo test -p harness` does not
/// build other crates' binaries, and a stale one would be judged instead of the code.
/// Cargo makes this a no-op when they are fresh; it runs once for all the tests here.
fn binaries() -> Binaries {
    static BUILT: OnceLock<Binaries> = OnceLock::new();
    BUILT.get_or_init(build_binaries).clone()
}

fn build_binaries() -> Binaries {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--quiet",
            "-p",
            "mock-stripe",
            "-p",
            "storefront",
            "--bins",
        ])
        .arg("--manifest-path")
        .arg(manifest);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(
        status.success(),
        "building mock-stripe and storefront failed"
    );
    Binaries::beside_current_exe().expect("the binaries cargo just built")
}

async fn short_soak(database: StackDatabase) -> SoakReport {
    let config = SoakConfig {
        shoppers: 8,
        flows: 40,
        seed: 7,
        // Higher than the default: 40 flows should meet every kind of fault often.
        fault_rate: 0.5,
        database,
        binaries: Some(binaries()),
        ..SoakConfig::default()
    };
    run(config).await.expect("the soak runs to the end")
}

fn assert_clean(report: &SoakReport) {
    let shown = format!("{}\n{}", report.markdown_table(), report.details());
    assert!(report.passed(), "{shown}");
    assert!(report.findings.lost.is_empty(), "{shown}");
    assert!(report.findings.duplicates.is_empty(), "{shown}");
    assert_eq!(report.server_errors, 0, "{shown}");
    // It did what it says: purchases paid and expired, receipts sent, faults met.
    assert!(report.findings.paid_sessions >= 20, "{shown}");
    assert!(report.findings.expired_sessions >= 1, "{shown}");
    assert_eq!(
        report.findings.receipts, report.findings.paid_orders,
        "{shown}"
    );
    assert!(report.faults_total() >= 10, "{shown}");
    assert!(
        report.shop_rss.end_kib.is_some() && report.mock_rss.end_kib.is_some(),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_on_sqlite_loses_nothing() {
    let report = short_soak(StackDatabase::Sqlite).await;
    assert_clean(&report);
}

/// The same on PostgreSQL. Needs a server: `TEST_POSTGRES_URL` names one whose user may
/// create databases (`.ci/run` starts one and sets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_on_postgresql_loses_nothing() {
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
    let report = short_soak(StackDatabase::Postgres { admin_url }).await;
    assert_clean(&report);
}

/// The soak must be able to fail: when the mock signs with a secret the shop does not
/// know, the shop refuses every webhook, and every paid session is a lost order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_fails_when_the_shop_loses_orders() {
    let config = SoakConfig {
        shoppers: 4,
        flows: 8,
        seed: 3,
        fault_rate: 0.0,
        binaries: Some(binaries()),
        mock_signing_secret: Some("whsec_not_the_shops_secret".into()),
        ..SoakConfig::default()
    };
    let report = run(config).await.expect("the soak runs to the end");
    let shown = format!("{}\n{}", report.markdown_table(), report.details());
    assert!(
        !report.passed(),
        "the soak passed with every order lost:\n{shown}"
    );
    assert!(
        !report.findings.lost.is_empty()
            && report.findings.lost.len() == report.findings.paid_sessions,
        "{shown}"
    );
    assert!(report.details().contains("lost order"), "{shown}");
    // A failed soak keeps its logs and data for a person to look at.
    let kept = report.kept.as_ref().expect("a failed soak keeps its data");
    assert!(kept.dir.join("storefront.log").is_file(), "{shown}");
    let _ = std::fs::remove_dir_all(&kept.dir);
}
