//! Runs complete Stripe Checkout purchase flows (shopper → shop → payment page
//! → webhook → order → email) against mock-stripe and the storefront, started
//! in process: a catalogue of scenarios (`scenarios`), each recorded as a timeline
//! (`timeline`) and reported for people and CI (`report`). `harness up` starts the same
//! stack for a person to try; `harness soak` (`soak`) loads the real binaries with faults.

pub mod browser;
pub mod catalogue;
pub mod cli;
pub mod html;
pub mod patience;
pub mod properties;
pub mod report;
pub mod scenarios;
pub mod shop;
pub mod shopper;
pub mod soak;
pub mod stack;
pub mod timeline;
