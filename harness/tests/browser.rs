//! The purchase flow in a real browser (Chromium, driven by playwright-core
//! from `tests/browser/buy.mjs`), checked here from the shop's side: one paid
//! order, one receipt. Needs Node.js, `npm ci` in `tests/browser` and Debian's
//! Chromium; `.ci/run` installs them and sets REQUIRE_BROWSER_TESTS.

use std::path::Path;
use std::process::Command;

use harness::catalogue;
use harness::stack::{Stack, StackOptions};

fn browser_tools_missing(dir: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node on PATH".into());
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Some(format!(
            "playwright-core is not installed (npm ci --prefix {})",
            dir.display()
        ));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_in_chromium_is_declined_then_pays_once() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(missing) = browser_tools_missing(&dir) {
        assert!(
            std::env::var_os("REQUIRE_BROWSER_TESTS").is_none(),
            "REQUIRE_BROWSER_TESTS is set but {missing}"
        );
        eprintln!("skipped: {missing}");
        return;
    }
    let stack = Stack::start(StackOptions::default())
        .await
        .expect("the stack starts");
    let product = catalogue::first_for_sale();
    let email = "chromium@example.com";
    let script = dir.join("buy.mjs");
    let shop_url = stack.shop_url.to_string();
    let name = product.name.clone();
    // The browser runs on a blocking thread so this runtime keeps serving the stack.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(shop_url)
            .arg(name)
            .arg(email)
            .output()
    })
    .await
    .expect("the browser thread finishes")
    .expect("node starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let success_url = url::Url::parse(stdout.trim()).expect("the script prints the success URL");
    let session_id = success_url
        .query_pairs()
        .find(|(k, _)| k == "session_id")
        .map(|(_, v)| v.into_owned())
        .expect("the success URL carries session_id");
    assert!(
        session_id.starts_with("cs_test_"),
        "{{CHECKOUT_SESSION_ID}} was not substituted: {success_url}"
    );

    let orders = stack.orders().await.expect("orders can be read");
    let paid = harness::shop::paid(&orders);
    assert_eq!(paid.len(), 1, "one payment in the browser, one paid order");
    assert_eq!(paid[0].session_id.as_deref(), Some(session_id.as_str()));
    assert_eq!(paid[0].buyer_email.as_deref(), Some(email));
    let receipts = stack.receipts().expect("the outbox can be read");
    assert_eq!(receipts.len(), 1, "one receipt");
    assert!(receipts[0].contains(&product.name) && receipts[0].contains(email));
    stack.shutdown().await;
}
