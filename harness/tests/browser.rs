//! The purchase in a real browser: headless Chromium driven over WebDriver by the harness
//! itself (`harness run --browser`), clicking through the storefront and the payment page
//! by Stripe's input ids, checked from the shop's side (the order, the receipt), with a
//! screenshot per step. Needs Debian's `chromium` and `chromium-driver`; `.ci/run`
//! installs them and sets REQUIRE_BROWSER_TESTS.

use std::sync::Arc;

use harness::browser::{Driver, SCENARIOS, missing};
use harness::scenarios::{Outcome, run_in_browser};
use harness::stack::StackOptions;
use harness::timeline::Actor;

/// Whether Chromium and chromedriver are installed; where they are not, the test is
/// skipped, unless REQUIRE_BROWSER_TESTS says they must be.
fn chromium_here() -> bool {
    let Some(why) = missing() else {
        return true;
    };
    assert!(
        std::env::var_os("REQUIRE_BROWSER_TESTS").is_none(),
        "REQUIRE_BROWSER_TESTS is set but {why}"
    );
    eprintln!("skipped: {why}");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_decline_3ds_and_cancel_in_chromium() {
    if !chromium_here() {
        return;
    }
    let driver = Arc::new(Driver::start().await.expect("chromedriver starts"));
    for scenario in SCENARIOS {
        let report = run_in_browser(scenario, StackOptions::default(), driver.clone()).await;
        if let Outcome::Failed { message } = &report.outcome {
            panic!("{} failed in Chromium: {message}", report.name);
        }
        let screenshots = report
            .timeline
            .iter()
            .filter(|s| s.actor == Actor::Screenshot)
            .count();
        assert!(
            screenshots >= 2,
            "{}: {screenshots} screenshot(s)",
            report.name
        );
    }
    // Chromium's leftovers (a singleton-socket folder per session) stay in the driver's
    // own folder, not in the machine's /tmp, and go with the driver.
    let scratch = driver.scratch_dir().to_owned();
    let left = std::fs::read_dir(&scratch).unwrap().count();
    assert!(
        left > 0,
        "Chromium wrote nothing under {}",
        scratch.display()
    );
    drop(Arc::into_inner(driver).expect("the scenarios gave the driver back"));
    assert!(
        !scratch.exists(),
        "{} outlived the driver",
        scratch.display()
    );
}

/// Live (not yet reaped) processes in process group `group`, from /proc.
fn live_in_group(group: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp …": comm may hold spaces, so split after its ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == group.to_string() && fields[0] != "Z" {
            found.push(format!("{head})"));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_left_open_goes_with_the_driver() {
    if !chromium_here() {
        return;
    }
    let driver = Driver::start().await.expect("chromedriver starts");
    let group = driver.process_group();
    // A session never closed, as a scenario cut off by its deadline leaves it.
    let browser = driver.session().await.expect("a Chromium session");
    browser.goto("about:blank").await.expect("Chromium answers");
    let running = live_in_group(group);
    assert!(
        running.len() > 1,
        "chromedriver and its Chromium should share a process group: {running:?}"
    );
    drop(driver);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = live_in_group(group);
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after the driver was dropped: {left:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(browser);
}
