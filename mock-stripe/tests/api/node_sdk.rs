//! Drop-in check with Stripe's official Node SDK: `tests/sdk/node/checkout.mjs` drives a real
//! mock through `new Stripe(key, {host, port, protocol: 'http'})` (create with `%20` and
//! `key=` encodings, retrieve, auto-paginated line items and sessions in both directions,
//! errors, idempotency keys, webhook endpoint, payment, `constructEvent`, expiry), then
//! injects API faults through `/_config/faults` and checks that the SDK's own retries (500,
//! 429, a lost response) end in exactly one session.
//! Needs `node` and `npm install --prefix mock-stripe/tests/sdk/node` (npm `stripe` 23.1.0, pinned
//! in that folder's package-lock.json).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::sdk_script::{SdkScript, without_proxies};

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/node")
}

fn node() -> Command {
    let mut cmd = without_proxies("node");
    cmd.env_remove("NODE_OPTIONS").current_dir(sdk_dir());
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

#[tokio::test]
async fn official_node_sdk_checkout_flow() {
    SdkScript {
        sdk: "Node",
        interpreter: node,
        script: sdk_dir().join("checkout.mjs"),
        missing: sdk_missing,
        install: "npm install --prefix mock-stripe/tests/sdk/node",
    }
    .run_against_a_mock()
    .await;
}
