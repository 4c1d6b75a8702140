//! Helpers shared by the unit tests of the catalog, customer, coupon and search modules.

use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiResult, Params, Reply, RequestCtx};
use crate::store::Account;

/// A handler of the usual shape (create and the like).
pub(crate) type Handler = fn(&mut Account, &Params, &RequestCtx) -> ApiResult<Reply>;

/// A request without `Stripe-Version`: the account's default applies.
pub(crate) fn ctx() -> RequestCtx {
    RequestCtx {
        request_id: "req_test".into(),
        version: None,
        idempotency_key: None,
    }
}

/// Calls `handler` with the decoded `wire` parameters; the answer as JSON.
pub(crate) fn call(handler: Handler, a: &mut Account, wire: &str) -> ApiResult<serde_json::Value> {
    let params = Params::decode(&[wire.as_bytes()])?;
    let reply = handler(a, &params, &ctx())?;
    Ok(serde_json::from_slice(&reply.body).expect("handlers answer JSON"))
}

/// [`call`] with a `Stripe-Version`.
pub(crate) fn call_at(
    handler: Handler,
    a: &mut Account,
    wire: &str,
    version: &str,
) -> ApiResult<serde_json::Value> {
    let params = Params::decode(&[wire.as_bytes()])?;
    let ctx = RequestCtx {
        version: Some(ApiVersion::parse(version).expect("a valid version")),
        ..ctx()
    };
    let reply = handler(a, &params, &ctx)?;
    Ok(serde_json::from_slice(&reply.body).expect("handlers answer JSON"))
}

/// The types of the events recorded so far, oldest first.
pub(crate) fn event_types(a: &Account) -> Vec<&str> {
    a.events.rows().iter().map(|e| e.kind.as_str()).collect()
}
