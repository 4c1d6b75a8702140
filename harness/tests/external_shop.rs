//! `harness run --shop …` against a shop the harness does not start: our storefront as a
//! separate process (its own binary), selling through a mock on a port of its own. What
//! needs the shop's records is skipped; the rest is judged from the shopper's side and
//! Stripe's. A shop whose webhook secret is wrong must fail the run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::scenarios::external::ExternalShop;
use harness::scenarios::{Outcome, Scenario, run_external};
use mock_stripe::{Config, MockStripe, WebhookTarget};

/// The storefront binary next to this test's (built if `cargo test -p harness` alone
/// did not build it).
fn storefront_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test knows where it is");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests live in target/<profile>/deps");
    let bin = dir.join(format!("storefront{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "storefront", "--bin", "storefront"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the storefront binary failed");
    }
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Storefront {
    child: Child,
    url: url::Url,
    _dir: tempfile::TempDir,
}

impl Drop for Storefront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_storefront(stripe_base: &str, key: &str, webhook_secret: &str) -> Storefront {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(storefront_binary())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("shop.sqlite").display()
            ),
        )
        .env("STRIPE_API_BASE", stripe_base)
        .env("STRIPE_SECRET_KEY", key)
        .env("STRIPE_PUBLISHABLE_KEY", "pk_test_external")
        .env("STRIPE_WEBHOOK_SECRET", webhook_secret)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("MAIL_OUTBOX", dir.path().join("outbox"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the storefront binary starts");
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if reqwest::get(url.clone())
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the storefront did not answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Storefront {
        child,
        url,
        _dir: dir,
    }
}

async fn run_all(
    signing_secret: &str,
    scenarios: &[Scenario],
) -> Vec<harness::scenarios::ScenarioReport> {
    let mock = MockStripe::start(Config {
        port: 0,
        ..Config::default()
    })
    .await
    .unwrap();
    let key = "sk_test_external_shop";
    let shop_secret = "whsec_external_shop_secret";
    let shop = start_storefront(&mock.base_url(), key, shop_secret).await;
    mock.add_webhook(WebhookTarget {
        url: shop.url.join("/webhooks/stripe").unwrap().to_string(),
        secret: signing_secret.to_string(),
    });
    let target = ExternalShop {
        shop_url: shop.url.clone(),
        buy_path: "/products/1".into(),
        stripe_base: url::Url::parse(&format!("{}/", mock.base_url())).unwrap(),
        stripe_key: key.into(),
    };
    let mut reports = Vec::new();
    for scenario in scenarios {
        reports.push(run_external(*scenario, &target).await);
    }
    reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_shop_passes_what_can_be_seen_from_outside() {
    let reports = run_all("whsec_external_shop_secret", &Scenario::ALL).await;
    let failed: Vec<String> = reports
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed { message } => Some(format!("{}: {message}", r.name)),
            _ => None,
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    let ran = reports.iter().filter(|r| !r.skipped()).count();
    let skipped: Vec<_> = reports.iter().filter(|r| r.skipped()).collect();
    assert!(
        ran >= 10,
        "only {ran} scenarios ran against the external shop"
    );
    assert!(
        skipped.iter().all(
            |r| matches!(&r.outcome, Outcome::Skipped { reason } if reason.contains("records"))
        ),
        "skips must say why"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_with_the_wrong_signing_secret_fails_the_run() {
    let reports = run_all(
        "whsec_not_what_the_shop_expects",
        &[Scenario::PayWithTestCard],
    )
    .await;
    let pay = reports
        .iter()
        .find(|r| r.name == Scenario::PayWithTestCard.name())
        .unwrap();
    let Outcome::Failed { message } = &pay.outcome else {
        panic!("paying passed although the shop refuses every webhook");
    };
    assert!(message.contains("never answered 2xx"), "{message}");
}
