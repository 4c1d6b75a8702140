//! End-to-end tests: a real `MockStripe` on port 0, driven over HTTP with reqwest, and a
//! real webhook receiver. One test binary (modules below) to keep link time down.

mod api_faults;
mod catalog;
mod challenges;
mod clock;
mod complete;
mod connect;
mod control;
mod customers;
mod dashboard;
mod durability;
mod expand;
mod helpers;
mod hostile;
mod idempotency;
mod limits;
mod node_sdk;
mod payment;
mod payment_intents;
mod protocol;
mod python_sdk;
mod redirect_timing;
mod refunds;
mod sdk_script;
mod search;
mod sessions;
mod stripe_cli;
mod stripejs;
mod versions;
mod webhook_faults;
mod webhooks;
