//! What `expand[]` may name on each kind of object (from the official SDKs' types: a field
//! typed `string | Object` expands, a field only present when asked for is includable),
//! and how to find an object of a kind by id, so that nested paths work across resources:
//! `payment_intent.latest_charge` on a session, `data.line_items.data.price.product`, …
//!
//! Using it in a resource (see `checkout_sessions/mod.rs`):
//!
//! ```text
//! let x = expandable::read(&mut f, "checkout.session")?;      // or read_list for lists
//! …
//! expandable::reply(account, "checkout.session", &object.json(v), &x, &v)
//! ```
//!
//! A new resource adds its [`Schema`] to [`lookup`] and its objects to [`find`]; then every
//! path through it works, from any object that points at it. Kinds without a schema here
//! accept any path below them (their fields are `null` in the mock).

use serde::Serialize;
use serde_json::Value;

use crate::protocol::expand::{self, Expand, Field, Schema};
use crate::protocol::list::ListJson;
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Fields, Reply};
use crate::store::Account;

use Field::{Embedded, Includable, List, Object};

static CHECKOUT_SESSION: Schema = Schema {
    object: "checkout.session",
    fields: &[
        ("customer", Object("customer")),
        ("invoice", Object("invoice")),
        ("line_items", List("item")),
        ("payment_intent", Object("payment_intent")),
        ("payment_link", Object("payment_link")),
        ("setup_intent", Object("setup_intent")),
        ("subscription", Object("subscription")),
        ("total_details", Embedded("checkout.session.total_details")),
    ],
};

static SESSION_TOTAL_DETAILS: Schema = Schema {
    object: "checkout.session.total_details",
    fields: &[(
        "breakdown",
        Includable("checkout.session.total_details.breakdown"),
    )],
};

/// A Checkout Session's line item.
static ITEM: Schema = Schema {
    object: "item",
    fields: &[
        ("price", Embedded("price")),
        ("discounts", Includable("item.discounts")),
        ("taxes", Includable("item.taxes")),
    ],
};

static PRICE: Schema = Schema {
    object: "price",
    fields: &[
        ("product", Object("product")),
        ("currency_options", Includable("price.currency_options")),
        ("tiers", Includable("price.tiers")),
    ],
};

static PRODUCT: Schema = Schema {
    object: "product",
    fields: &[
        ("default_price", Object("price")),
        ("tax_code", Object("tax_code")),
    ],
};

static PAYMENT_INTENT: Schema = Schema {
    object: "payment_intent",
    fields: &[
        ("application", Object("application")),
        ("customer", Object("customer")),
        ("latest_charge", Object("charge")),
        ("on_behalf_of", Object("account")),
        ("payment_method", Object("payment_method")),
        ("payment_record", Object("payment_record")),
        ("review", Object("review")),
        ("source", Object("source")),
        ("transfer_data", Embedded("transfer_data")),
    ],
};

static CHARGE: Schema = Schema {
    object: "charge",
    fields: &[
        ("application", Object("application")),
        ("application_fee", Object("application_fee")),
        ("balance_transaction", Object("balance_transaction")),
        ("customer", Object("customer")),
        ("failure_balance_transaction", Object("balance_transaction")),
        ("on_behalf_of", Object("account")),
        ("payment_intent", Object("payment_intent")),
        ("refunds", List("refund")),
        ("review", Object("review")),
        ("source_transfer", Object("transfer")),
        ("transfer", Object("transfer")),
        ("transfer_data", Embedded("transfer_data")),
    ],
};

static TRANSFER_DATA: Schema = Schema {
    object: "transfer_data",
    fields: &[("destination", Object("account"))],
};

static CUSTOMER: Schema = Schema {
    object: "customer",
    fields: &[
        ("cash_balance", Includable("cash_balance")),
        ("default_source", Object("source")),
        (
            "invoice_credit_balance",
            Includable("invoice_credit_balance"),
        ),
        ("invoice_settings", Embedded("customer.invoice_settings")),
        ("sources", List("source")),
        ("subscriptions", List("subscription")),
        ("tax", Includable("customer.tax")),
        ("tax_ids", List("tax_id")),
        ("test_clock", Object("test_clock")),
    ],
};

static CUSTOMER_INVOICE_SETTINGS: Schema = Schema {
    object: "customer.invoice_settings",
    fields: &[("default_payment_method", Object("payment_method"))],
};

static REFUND: Schema = Schema {
    object: "refund",
    fields: &[
        ("balance_transaction", Object("balance_transaction")),
        ("charge", Object("charge")),
        ("failure_balance_transaction", Object("balance_transaction")),
        ("payment_intent", Object("payment_intent")),
        ("source_transfer_reversal", Object("transfer_reversal")),
        ("transfer_reversal", Object("transfer_reversal")),
    ],
};

static PAYMENT_METHOD: Schema = Schema {
    object: "payment_method",
    fields: &[("customer", Object("customer"))],
};

static COUPON: Schema = Schema {
    object: "coupon",
    fields: &[("applies_to", Includable("coupon.applies_to"))],
};

static PROMOTION_CODE: Schema = Schema {
    object: "promotion_code",
    fields: &[
        ("customer", Object("customer")),
        ("promotion", Embedded("promotion_code.promotion")),
    ],
};

static PROMOTION: Schema = Schema {
    object: "promotion_code.promotion",
    fields: &[("coupon", Object("coupon"))],
};

/// Events are snapshots: nothing in them expands (`data.object` neither).
static EVENT: Schema = Schema {
    object: "event",
    fields: &[],
};

static WEBHOOK_ENDPOINT: Schema = Schema {
    object: "webhook_endpoint",
    fields: &[],
};

/// The schema of a kind; `None` for kinds the mock does not model.
pub(crate) fn lookup(kind: &str) -> Option<&'static Schema> {
    Some(match kind {
        "checkout.session" => &CHECKOUT_SESSION,
        "checkout.session.total_details" => &SESSION_TOTAL_DETAILS,
        "item" => &ITEM,
        "price" => &PRICE,
        "product" => &PRODUCT,
        "payment_intent" => &PAYMENT_INTENT,
        "charge" => &CHARGE,
        "transfer_data" => &TRANSFER_DATA,
        "customer" => &CUSTOMER,
        "customer.invoice_settings" => &CUSTOMER_INVOICE_SETTINGS,
        "refund" => &REFUND,
        "payment_method" => &PAYMENT_METHOD,
        "coupon" => &COUPON,
        "promotion_code" => &PROMOTION_CODE,
        "promotion_code.promotion" => &PROMOTION,
        "event" => &EVENT,
        "webhook_endpoint" => &WEBHOOK_ENDPOINT,
        _ => return None,
    })
}

fn schema(kind: &str) -> ApiResult<&'static Schema> {
    lookup(kind)
        .filter(|s| s.object == kind)
        .ok_or_else(|| ApiError::internal(format!("no expand schema for {kind}")))
}

/// `expand[]` of a request answering one object of `kind`.
pub(crate) fn read(f: &mut Fields<'_>, kind: &str) -> ApiResult<Expand> {
    expand::read(f, schema(kind)?, lookup)
}

/// `expand[]` of a list of `kind` (paths start with `data.`): what to expand in each.
pub(crate) fn read_list(f: &mut Fields<'_>, kind: &str) -> ApiResult<Expand> {
    expand::read_list(f, schema(kind)?, lookup)
}

fn to_value(value: &impl Serialize) -> Option<Value> {
    serde_json::to_value(value).ok()
}

/// The object of `kind` with this id in the account, rendered at `v` with what `x`
/// includes; `None` when the mock does not have it (the id stays an id).
pub(crate) fn find(
    account: &Account,
    kind: &str,
    id: &str,
    x: &Expand,
    v: &ApiVersion,
) -> Option<Value> {
    match kind {
        "checkout.session" => super::checkout_sessions::json_value(account, id, x, v),
        "payment_intent" => to_value(&account.payment_intents.get(id)?.json(None)),
        "charge" => to_value(&account.charges.get(id)?.json()),
        "payment_method" => to_value(&account.payment_methods.get(id)?.json()),
        "refund" => to_value(&account.refunds.get(id)?.json()),
        "customer" => {
            let c = account.customers.get(id)?;
            if c.deleted {
                Some(serde_json::json!({"id": c.id, "object": "customer", "deleted": true}))
            } else {
                to_value(&c.json())
            }
        }
        "price" => to_value(&account.prices.get(id)?.json(None)),
        "product" => to_value(&account.products.get(id)?.json(None)),
        "coupon" => to_value(&account.coupons.get(id)?.json(account.now())),
        "promotion_code" => {
            let p = account.promotion_codes.get(id)?;
            let coupon = account.coupons.get(&p.coupon);
            to_value(&p.json(v, coupon, account.now(), false))
        }
        _ => None,
    }
}

fn rendered(json: &Value) -> ApiResult<Reply> {
    Reply::json(&expand::StripeOrder(json))
}

/// The answer for one object of `kind`: `value` as it is when nothing is expanded, else
/// with `x` applied (ids looked up in `account`, rendered at `v`).
pub(crate) fn reply<T: Serialize>(
    account: &Account,
    kind: &str,
    value: &T,
    x: &Expand,
    v: &ApiVersion,
) -> ApiResult<Reply> {
    if x.is_empty() {
        return Reply::json(value);
    }
    let mut json = serde_json::to_value(value)
        .map_err(|e| ApiError::internal(format!("could not render JSON: {e}")))?;
    apply(account, kind, &mut json, x, v)?;
    rendered(&json)
}

/// The answer for a list of `kind`: `x` (from [`read_list`]) applied to every element.
pub(crate) fn reply_list<T: Serialize>(
    account: &Account,
    kind: &str,
    list: &ListJson<T>,
    x: &Expand,
    v: &ApiVersion,
) -> ApiResult<Reply> {
    if x.is_empty() {
        return Reply::json(list);
    }
    let mut json = serde_json::to_value(list)
        .map_err(|e| ApiError::internal(format!("could not render JSON: {e}")))?;
    if let Some(Value::Array(items)) = json.get_mut("data") {
        for item in items {
            apply(account, kind, item, x, v)?;
        }
    }
    rendered(&json)
}

/// Applies `x` to the JSON of an object of `kind` (for resources that build their own
/// answer).
pub(crate) fn apply(
    account: &Account,
    kind: &str,
    json: &mut Value,
    x: &Expand,
    v: &ApiVersion,
) -> ApiResult<()> {
    let resolve = |kind: &str, id: &str, below: &Expand| find(account, kind, id, below, v);
    expand::apply(json, x, schema(kind)?, lookup, &resolve);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_is_found_under_its_own_name() {
        for kind in [
            "checkout.session",
            "checkout.session.total_details",
            "item",
            "price",
            "product",
            "payment_intent",
            "charge",
            "transfer_data",
            "customer",
            "customer.invoice_settings",
            "refund",
            "payment_method",
            "coupon",
            "promotion_code",
            "promotion_code.promotion",
            "event",
            "webhook_endpoint",
        ] {
            assert_eq!(lookup(kind).map(|s| s.object), Some(kind));
        }
    }
}
