//! Drop-in check with Stripe's official Python SDK: `tests/sdk/python_checkout.py` drives a
//! real mock through `stripe.StripeClient(..., base_addresses={"api": base_url})` and nothing
//! else mock-specific (create, retrieve, line items, lists, errors, webhook endpoint, payment,
//! signature verification, expiry).
//!
//! Needs `python3` with `pip install stripe==16.1.0`. Without it the test is skipped with a
//! message, unless `REQUIRE_SDK_TESTS` is set (CI sets it), where it fails instead.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::spawn_mock;

const INSTALL: &str = "pip install stripe==16.1.0";
/// The script takes a few seconds; this only stops a hung run from hanging the suite.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/python_checkout.py")
}

fn python() -> Command {
    let mut cmd = Command::new("python3");
    // The script talks to 127.0.0.1 only; keep proxies from the environment out of it.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "*").env("PYTHONUNBUFFERED", "1");
    cmd
}

/// `None` when `python3 -c "import stripe"` works, else why not.
fn sdk_missing() -> Option<String> {
    match python()
        .args(["-c", "import stripe"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            // The traceback's last line says why (e.g. `ModuleNotFoundError: …`).
            let why = stderr.trim().lines().last().unwrap_or("").to_string();
            Some(format!("python3 cannot import stripe: {why}"))
        }
        Err(e) => Some(format!("cannot run python3: {e}")),
    }
}

/// Runs the script to completion (or kills it at the deadline), off the async runtime.
fn run_script(base_url: &str) -> (Output, bool) {
    let mut child = python()
        .arg(script_path())
        .arg(base_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
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
        if let Some(status) = child.try_wait().expect("wait for python3") {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for killed python3");
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
async fn official_python_sdk_checkout_flow() {
    if let Some(why) = tokio::task::spawn_blocking(sdk_missing).await.unwrap() {
        if std::env::var_os("REQUIRE_SDK_TESTS").is_some() {
            panic!(
                "REQUIRE_SDK_TESTS is set but Stripe's Python SDK is not usable ({why}); \
                 install it with: {INSTALL}"
            );
        }
        eprintln!("skipped: Python package stripe not installed ({INSTALL}) [{why}]");
        return;
    }

    let t = spawn_mock(vec![]).await;
    let base = t.base.clone();
    // Blocking pool: the mock keeps serving on this runtime while python3 runs.
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
