//! HTTP layer: thin handlers that parse, call the domain, and render.

pub mod checkout;
pub mod flash;
pub mod products;
pub mod security;
pub mod templates;
pub mod webhooks;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::mail::Mailer;
use crate::payments::Payments;
use crate::receipts::ReceiptQueue;

/// What every handler can reach, built once in `Application::build`.
pub struct AppState {
    /// Writes, and reads that must see them (orders).
    pub db: DatabaseConnection,
    /// Page reads (the catalogue): on SQLite, connections of their own beside the one
    /// writer (`db::connect_reader`); elsewhere the same pool as `db`.
    pub reader: DatabaseConnection,
    /// The order writes of requests (Buy, the webhook's payment): on a SQLite file, the
    /// writes waiting at once share one commit (`db::writes`).
    pub writes: crate::db::writes::Writes,
    pub payments: Payments,
    pub mailer: Mailer,
    /// Receipts claimed by the webhook, for the worker to write after the answer.
    pub receipts: ReceiptQueue,
    /// How browsers and Stripe reach us, without a trailing slash.
    pub public_url: String,
    pub shop_name: String,
}

pub type SharedState = Arc<AppState>;

/// Largest request body a handler reads: forms and Stripe events are a few KB.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

/// Reads a request body up to [`MAX_BODY_BYTES`]. (poem's `SizeLimit` middleware
/// would also refuse bodiless GETs, which carry no Content-Length.)
pub(crate) async fn read_body(body: poem::Body) -> Result<Vec<u8>, poem::error::ReadBodyError> {
    Ok(body.into_bytes_limit(MAX_BODY_BYTES).await?.to_vec())
}

/// Ids in paths are positive integers; anything else names no product (→ 404, not 400).
pub(crate) fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::parse_id;

    #[test]
    fn only_positive_integers_are_ids() {
        assert_eq!(parse_id("3"), Some(3));
        for bad in ["abc", "", "-1", "0", "1.5", "99999999999999999999", " 3"] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
    }
}
