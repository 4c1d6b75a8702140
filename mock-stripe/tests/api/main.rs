//! End-to-end tests: a real `MockStripe` on port 0, driven over HTTP with reqwest, and a
//! real webhook receiver. One test binary (modules below) to keep link time down.

mod helpers;
mod node_sdk;
mod payment;
mod protocol;
mod python_sdk;
mod sdk_script;
mod sessions;
mod webhooks;
