//! HTTP tests: each starts its own shop on port 0 with a temporary SQLite file
//! and outbox, and drives it with a cookie-keeping client, as a browser would.

mod helpers;

mod checkout;
mod crash;
mod pages;
mod postgres;
mod security;
mod startup;
mod webhooks;
