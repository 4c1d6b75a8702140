//! Running an official SDK's check script against a live mock: shared by the Python and
//! Node drop-in tests, which differ only in the interpreter, the script and how to tell
//! whether the SDK is installed.
//!
//! Such a test is skipped with a message when its SDK is missing, unless
//! `REQUIRE_SDK_TESTS` is set (CI sets it), where it fails instead.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::spawn_mock;

/// The scripts take seconds; this only stops a hung run from hanging the suite.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// One SDK's check script and how to run it.
pub struct SdkScript {
    /// For messages: "Python", "Node".
    pub sdk: &'static str,
    /// The interpreter, configured (environment, working folder); the script is appended.
    pub interpreter: fn() -> Command,
    pub script: PathBuf,
    /// `None` when the SDK can be used, else why not.
    pub missing: fn() -> Option<String>,
    /// What a developer runs to install the SDK.
    pub install: &'static str,
}

/// A command with the environment's proxies removed: the scripts talk to 127.0.0.1 only.
pub fn without_proxies(program: &str) -> Command {
    let mut cmd = Command::new(program);
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
    cmd.env("NO_PROXY", "*");
    cmd
}

impl SdkScript {
    /// Starts a mock on a free port, runs the script against it, and fails with the
    /// script's output unless it exits 0 in time.
    pub async fn run_against_a_mock(self) {
        let missing = self.missing;
        if let Some(why) = tokio::task::spawn_blocking(missing).await.unwrap() {
            let (sdk, install) = (self.sdk, self.install);
            if std::env::var_os("REQUIRE_SDK_TESTS").is_some() {
                panic!(
                    "REQUIRE_SDK_TESTS is set but Stripe's {sdk} SDK is not usable ({why}); \
                     install it with: {install}"
                );
            }
            eprintln!("skipped: Stripe's {sdk} SDK is not installed ({install}) [{why}]");
            return;
        }

        let t = spawn_mock(vec![]).await;
        let mut command = (self.interpreter)();
        command.arg(&self.script).arg(&t.base);
        // Blocking pool: the mock keeps serving on this runtime while the script runs.
        let (out, timed_out) = tokio::task::spawn_blocking(move || run_with_deadline(command))
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !timed_out && out.status.success(),
            "{} {} against {} {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            self.script.display(),
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
}

/// Runs `command` to completion, or kills it at the deadline (the flag says which).
fn run_with_deadline(mut command: Command) -> (Output, bool) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the interpreter starts");
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
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed script");
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
