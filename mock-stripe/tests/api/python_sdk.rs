//! Drop-in check with Stripe's official Python SDK: `tests/sdk/python_checkout.py` drives a
//! real mock through `stripe.StripeClient(..., base_addresses={"api": base_url})` (create,
//! retrieve, line items, lists, errors, webhook endpoint, payment, signature verification,
//! expiry), then injects API faults through `/_config/faults` and checks that the SDK's own
//! retries (500, 429, a lost response) and explicit idempotency keys end in exactly one
//! session. Needs `python3` with `pip install stripe==16.1.0`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::sdk_script::{SdkScript, without_proxies};

fn python() -> Command {
    let mut cmd = without_proxies("python3");
    cmd.env("PYTHONUNBUFFERED", "1");
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

#[tokio::test]
async fn official_python_sdk_checkout_flow() {
    SdkScript {
        sdk: "Python",
        interpreter: python,
        script: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/python_checkout.py"),
        missing: sdk_missing,
        install: "pip install stripe==16.1.0",
    }
    .run_against_a_mock()
    .await;
}
