//! The parts of the workspace's HTTP fuzz tests that do not depend on the server under
//! test, shared by `mock-stripe/tests/fuzz` and `storefront/tests/fuzz` as a
//! dev-dependency.
//!
//! - [`wire`]: requests written byte for byte, answers parsed loosely, one exchange per
//!   connection with a deadline (a stall is a failure, not a hang);
//! - [`raw`]: strategies for request bytes no HTTP library would send, aimed at the
//!   routes each server passes in, and the verdict shared by every server;
//! - [`campaign`]: the proptest runner read from `FUZZ_CASES` / `FUZZ_SEED`, panics
//!   counted per server runtime, and the answers tallied by status.
//!
//! What a server's answers must look like, its routes and its set-up stay in its own test.

pub mod campaign;
pub mod raw;
pub mod wire;
