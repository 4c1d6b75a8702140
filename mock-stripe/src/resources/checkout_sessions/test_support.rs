//! Helpers shared by the unit tests of this folder.

use super::create;
use crate::cards::Card;
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Params, RequestCtx};
use crate::store::Account;

pub(super) const NOW: i64 = 1_700_000_000;

pub(super) fn account() -> Account {
    Account::at(NOW)
}

pub(super) fn ctx(version: Option<&str>) -> RequestCtx {
    RequestCtx {
        request_id: "req_test".into(),
        version: version.map(|v| ApiVersion::parse(v).unwrap()),
        idempotency_key: None,
    }
}

pub(super) const BASIC: &str = "mode=payment&success_url=https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}\
    &cancel_url=https://shop.test/cart\
    &line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1999\
    &line_items[0][price_data][product_data][name]=T-shirt&line_items[0][quantity]=2";

/// Creates through the HTTP-facing `create`, so the result is the JSON a client sees.
pub(super) fn try_create(
    a: &mut Account,
    wire: &str,
    version: Option<&str>,
) -> ApiResult<serde_json::Value> {
    let params = Params::decode(&[wire.as_bytes()])?;
    let (_, reply) = create(a, None, &params, &ctx(version), "http://127.0.0.1:12111")?;
    Ok(serde_json::from_slice(&reply.body).unwrap())
}

pub(super) fn create_err(wire: &str, version: Option<&str>) -> ApiError {
    try_create(&mut account(), wire, version).unwrap_err()
}

pub(super) fn with(extra: &str) -> String {
    format!("{BASIC}&{extra}")
}

pub(super) fn card(number: &str) -> Card {
    crate::cards::check(number, "12/34", "123", NOW).unwrap()
}

pub(super) fn new_session(a: &mut Account) -> String {
    try_create(a, &with("customer_email=buyer@example.com"), None).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}
