//! End-to-end tests: a real `MockStripe` on port 0, driven over HTTP with reqwest, and a
//! real webhook receiver. One test binary (modules below) to keep link time down.

mod api_faults;
mod challenges;
mod clock;
mod complete;
mod control;
mod dashboard;
mod helpers;
mod hostile;
mod idempotency;
mod node_sdk;
mod payment;
mod protocol;
mod python_sdk;
mod redirect_timing;
mod sdk_script;
mod sessions;
mod webhook_faults;
mod webhooks;
