//! Drop-in check with Stripe's official Node SDK: `tests/sdk/node/checkout.mjs` drives a real
//! mock through `new Stripe(key, {host, port, protocol: 'http'})` and nothing else
//! mock-specific (create with `%20` and `key=` encodings, retrieve, auto-paginated line items
//! and sessions in both directions, errors, idempotency keys, webhook endpoint, payment,
//! `constructEvent`, expiry).
//!
//! Needs `node` and `npm ci --prefix mock-stripe/tests/sdk/node` (npm `stripe` 23.1.0, pinned
//! in that folder's package-lock.json). Without them the test is skipped with a message,
//! unless `REQUIRE_SDK_TESTS` is set (CI sets it), where it fails instead.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::spawn_mock;

const INSTALL: &str = "npm ci --prefix mock-stripe/tests/sdk/node";
/// The script takes about a second; this only stops a hung run from hanging the suite.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/node")
}

fn script_path() -> PathBuf {
    sdk_dir().join("checkout.mjs")
}

fn node() -> Command {
    let mut cmd = Command::new("node");
    // The script talks to 127.0.0.1 only; keep proxies from the environment out of it.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "NODE_OPTIONS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "*").current_dir(sdk_dir());
    cmd
}

/// `None` when `node` runs and the SDK is installed next to the script, else why not.
fn sdk_missing() -> Option<String> {
    match node().arg("--version").stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Some(format!("node --version failed ({})", out.status)),
        Err(e) => return Some(format!("cannot run node: {e}")),
    }
    let sdk = sdk_dir().join("node_modules/stripe/package.json");
    if !sdk.is_file() {
        return Some(format!("{} is missing", sdk.display()));
    }
    None
}

/// Runs the script to completion (or kills it at the deadline), off the async runtime.
fn run_script(base_url: &str) -> (Output, bool) {
    let mut child = node()
        .arg(script_path())
        .arg(base_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    // Drain both pipes in threads so a chatty script cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).ok();
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).ok();
        buf
    });
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for killed node");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    };
    (output, timed_out)
}

#[tokio::test]
async fn official_node_sdk_checkout_flow() {
    if let Some(why) = tokio::task::spawn_blocking(sdk_missing).await.unwrap() {
        if std::env::var_os("REQUIRE_SDK_TESTS").is_some() {
            panic!(
                "REQUIRE_SDK_TESTS is set but Stripe's Node SDK is not usable ({why}); \
                 run: {INSTALL}"
            );
        }
        eprintln!("skipped: Node package stripe not installed ({INSTALL}) [{why}]");
        return;
    }

    let t = spawn_mock(vec![]).await;
    let base = t.base.clone();
    // Blocking pool: the mock keeps serving on this runtime while node runs.
    let (out, timed_out) = tokio::task::spawn_blocking(move || run_script(&base))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !timed_out && out.status.success(),
        "{} {} against {} {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        script_path().display(),
        if timed_out {
            format!("timed out after {SCRIPT_TIMEOUT:?}")
        } else {
            format!("failed ({})", out.status)
        },
        t.base,
        "(fix mock-stripe, not the script, if the SDK rejects what real Stripe would send)",
    );
    // Visible with --nocapture: the list of what was checked.
    println!("{stdout}");
    t.mock.shutdown().await;
}
