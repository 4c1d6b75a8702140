//! Runs complete Stripe Checkout purchase flows (shopper → shop → payment page
//! → webhook → order → email) against mock-stripe and the storefront, started
//! in process. `harness up` starts the same stack for a person to try.

pub mod catalogue;
pub mod cli;
pub mod flows;
pub mod html;
pub mod shopper;
pub mod stack;
