//! A small creator shop selling digital products through Stripe Checkout
//! (the real one, or mock-stripe, chosen by `STRIPE_API_BASE`).
//!
//! Flow: Buy (POST, CSRF-checked) records a pending order and creates a
//! Checkout Session → the shopper pays on Stripe → Stripe's signed
//! `checkout.session.completed` webhook marks the order paid and claims its receipt in
//! one commit, answers, and the receipt is written right after (`receipts`) → the
//! shopper lands on `post_checkout`, which only shows a message.

pub mod app;
pub mod catalogue;
pub mod cli;
pub mod db;
pub mod mail;
pub mod money;
pub mod orders;
pub mod payments;
pub mod receipts;
pub mod settings;
pub mod web;

pub use app::Application;
pub use settings::{Secret, Settings, SettingsError, Tuning};
