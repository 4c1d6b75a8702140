//! Checkout Sessions (contract §2). This file is the crate-facing surface: the thin HTTP
//! functions the router calls (parse, call the domain function, render) and the hosted
//! page's view. The work is in plain functions the tests call directly:
//!
//! - `params`: request parameters → typed inputs (phase 1: types, unknown keys);
//! - `create`: create's meaning checks and the new session (phase 2);
//! - `object`: the stored session and its JSON per API version;
//! - `line_item`: line items as stored (one-off prices and products compactly) and their JSON;
//! - `lifecycle`: pay, decline, expire, and the events they emit.
//!
//! Domain functions take `&mut Account` and are called under the account lock; events
//! they emit land in the account's outbox and are delivered after the lock is released.

mod bank_debit;
mod catalog;
mod create;
mod lifecycle;
mod line_item;
mod object;
mod params;
#[cfg(test)]
mod test_support;

pub(crate) use bank_debit::{pay_by_bank, pay_by_bank_with_method, settle_payment};
#[cfg(test)]
pub(crate) use create::create_session;
pub(crate) use create::{Prepared, prepare};
pub(crate) use lifecycle::{
    PayResult, Payer, authenticate, decline_error, expire, expire_if_due, pay, pay_with_method,
};
pub(crate) use object::{Mode, PaymentStatus, Session, Status};

use std::borrow::Cow;

use bytes::Bytes;

use lifecycle::refresh;
use object::{Expansion, LineItem, SubmitType};
use params::{read_expand_only, read_line_items, read_list, read_update};

use crate::protocol::expand::Expand;
use crate::protocol::list::{ListJson, ListWriter, paginate, paginate_positions};
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Params, Reply, RequestCtx, to_json};
use crate::resources::check_metadata;
use crate::resources::events::EventRequest;
use crate::resources::expandable;
use crate::store::Account;

/// What `expand[]` may name on a session: see `resources/expandable.rs`.
const SESSION: &str = "checkout.session";

/// The request's version (the router always sets one), else the session's own. Borrowed
/// when it can be: the version's text is shared by every request of the account, and
/// counting copies of it from both cores, ten times a list, cost more than the list's
/// own work on it.
fn render_version<'a>(ctx: &'a RequestCtx, session: &Session) -> Cow<'a, ApiVersion> {
    match &ctx.version {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(session.version()),
    }
}

/// What a session's own JSON includes for `x`: its line items (and their products, kept
/// in the line items); everything else `x` names is expanded by `expandable`.
fn includes(x: &Expand) -> Expansion<'static> {
    let products = x.at("line_items.data.price.product").is_some();
    Expansion {
        line_items: x.has("line_items"),
        products,
        payment_intent: None,
        latest_charge: None,
    }
}

/// A session's JSON at `v` with `x` applied, for expansions from other objects.
pub(crate) fn json_value(
    account: &Account,
    id: &str,
    x: &Expand,
    v: &ApiVersion,
) -> Option<serde_json::Value> {
    let session = account.sessions.get(id)?;
    serde_json::to_value(session.json(v, &includes(x))).ok()
}

fn render(account: &mut Account, id: &str, ctx: &RequestCtx, x: &Expand) -> ApiResult<Reply> {
    let missing = || ApiError::no_such("checkout.session", id, "session", true);
    if x.is_empty() {
        let position = account.sessions.position(id).ok_or_else(missing)?;
        return Ok(Reply::ok(cached_json(account, position, ctx)?));
    }
    let session = account.sessions.get(id).ok_or_else(missing)?;
    let v = render_version(ctx, session);
    expandable::reply(account, SESSION, &session.json(&v, &includes(x)), x, &v)
}

/// The unexpanded JSON of the session at `position`, from the table's cache when it was
/// read recently at the same version.
fn cached_json(account: &mut Account, position: usize, ctx: &RequestCtx) -> ApiResult<Bytes> {
    let sessions = &mut account.sessions;
    let v = render_version(ctx, &sessions.rows()[position]);
    sessions.rendered(position, &v, |session| render_plain(session, &v))
}

fn render_plain(session: &Session, v: &ApiVersion) -> ApiResult<Bytes> {
    Ok(to_json(&session.json(v, &Expansion::default()))?.into())
}

/// `POST /v1/checkout/sessions`, `prepared` by [`prepare`] before the account's turn when
/// it could be. Returns the new id too (the router indexes it).
pub(crate) fn create(
    account: &mut Account,
    prepared: Option<Prepared>,
    params: &Params,
    ctx: &RequestCtx,
    base_url: &str,
) -> ApiResult<(String, Reply)> {
    let (id, expand) = create::create_prepared(account, prepared, params, ctx, base_url)?;
    let request = EventRequest {
        id: Some(ctx.request_id.clone()),
        idempotency_key: ctx.idempotency_key.clone(),
    };
    lifecycle::create_intent_up_front(account, &id, &request)?;
    if !expand.is_empty() {
        return Ok((id.clone(), render(account, &id, ctx, &expand)?));
    }
    // Not kept in the render cache: a new session is seldom read again before it changes
    // (the shopper pays first), and keeping every create's JSON made each create free one
    // kept long ago, cold in the CPU's caches (over 50 accounts, 22 MB of them).
    let session = account
        .sessions
        .get(&id)
        .ok_or_else(|| ApiError::internal(format!("the new session {id} is missing")))?;
    let body = render_plain(session, &render_version(ctx, session))?;
    Ok((id, Reply::ok(body)))
}

/// `GET /v1/checkout/sessions/{id}`
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let expand = read_expand_only(params)?;
    refresh(account, id)?;
    render(account, id, ctx, &expand)
}

/// `POST /v1/checkout/sessions/{id}`: hosted sessions can only change `metadata`.
pub(crate) fn update(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let input = read_update(params)?;
    refresh(account, id)?;
    let session = account
        .sessions
        .get_mut(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    if let Some(m) = input.metadata {
        let mut updated = session.metadata.clone();
        m.apply(&mut updated);
        check_metadata("metadata", &updated)?;
        session.metadata = updated;
    }
    render(account, id, ctx, &input.expand)
}

/// `POST /v1/checkout/sessions/{id}/expire`
pub(crate) fn expire_handler(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let expand = read_expand_only(params)?;
    let request = EventRequest {
        id: Some(ctx.request_id.clone()),
        idempotency_key: ctx.idempotency_key.clone(),
    };
    expire(account, id, &request)?;
    render(account, id, ctx, &expand)
}

/// `GET /v1/checkout/sessions`
pub(crate) fn list(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let query = read_list(params)?;
    let expand = &query.expand;

    let sessions = &account.sessions;
    let (positions, has_more) = paginate_positions(
        sessions.rows(),
        |id| sessions.position(id),
        |s| query.matches(s),
        &query.page,
        "checkout.session",
    )?;
    const URL: &str = "/v1/checkout/sessions";
    if expand.is_empty() {
        // Each session's JSON from the cache (or rendered and kept), copied into the list.
        let mut list = ListWriter::new(positions.len());
        for p in positions {
            let sessions = &mut account.sessions;
            let v = render_version(ctx, &sessions.rows()[p]);
            list.push(&sessions.rendered_in_list(p, &v, |s| render_plain(s, &v))?);
        }
        return Ok(Reply::ok(list.finish(has_more, URL)));
    }
    let v = ctx.version_for(account);
    let sessions = account.sessions.rows();
    let data: Vec<_> = positions
        .into_iter()
        .map(|p| &sessions[p])
        .map(|s| s.json(&render_version(ctx, s), &includes(expand)))
        .collect();
    let list = ListJson::new(data, has_more, URL.into());
    expandable::reply_list(account, SESSION, &list, expand, &v)
}

/// `GET /v1/checkout/sessions/{id}/line_items`
pub(crate) fn line_items(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let (page, expand) = read_line_items(params)?;
    let session = account
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    // Line items are listed in the order given at creation, so page over the reversed list.
    let items: Vec<&LineItem> = session.line_items.iter().rev().collect();
    let (data, has_more) = paginate(
        &items,
        |lid| items.iter().position(|li| li.id == lid),
        |_| true,
        &page,
        "line item",
    )?;
    let products = expand.at("price.product").is_some();
    let data: Vec<_> = data
        .into_iter()
        .map(|li| li.json(session.created, products))
        .collect();
    let list = ListJson::new(data, has_more, session.line_items_url());
    expandable::reply_list(account, "item", &list, &expand, &session.version())
}

/// What the hosted page shows, copied out so the page renders without the lock.
#[derive(Clone, Debug)]
pub(crate) struct PageView {
    pub id: String,
    pub status: Status,
    pub mode: Mode,
    pub currency: String,
    pub items: Vec<(String, Option<String>, i64, i64)>,
    pub total: i64,
    pub customer_email: Option<String>,
    pub cancel_url: Option<String>,
    pub submit_type: Option<&'static str>,
    pub redirect: Option<String>,
    /// The payment methods the page offers: `card`, and the bank debits the session lists
    /// whose currency it is in.
    pub methods: Vec<&'static str>,
}

pub(crate) fn page_view(account: &mut Account, id: &str) -> ApiResult<Option<PageView>> {
    refresh(account, id)?;
    Ok(account.sessions.get(id).map(|s| PageView {
        id: s.id.clone(),
        status: s.status,
        mode: s.mode,
        currency: s.currency.clone().unwrap_or_else(|| "usd".into()),
        items: s
            .line_items
            .iter()
            .map(|li| {
                (
                    li.description.clone(),
                    li.product.description.clone(),
                    li.quantity,
                    li.amount,
                )
            })
            .collect(),
        total: s.amount_total.unwrap_or(0),
        // Prefilled from the session's Customer when it has one, as on Stripe's page.
        customer_email: s.customer_email.clone().or_else(|| {
            s.customer
                .as_deref()
                .and_then(|c| account.customers.get(c))
                .and_then(|c| c.email.clone())
        }),
        cancel_url: s.cancel_url.clone(),
        submit_type: s.submit_type.map(SubmitType::as_str),
        redirect: s.redirect_url(),
        methods: offered_methods(s),
    }))
}

/// What the hosted page offers: the session's `payment_method_types` (or
/// `allowed_payment_method_types`) that the mock simulates, bank debits only in their
/// currency; a card when nothing else is left.
fn offered_methods(s: &Session) -> Vec<&'static str> {
    let listed = s
        .allowed_payment_method_types
        .as_ref()
        .unwrap_or(&s.payment_method_types);
    let currency = s.currency.as_deref().unwrap_or("usd");
    let mut methods: Vec<&'static str> = ["card", "sepa_debit", "us_bank_account"]
        .into_iter()
        .filter(|m| listed.iter().any(|l| l == m))
        .filter(|m| crate::bank_debits::BankKind::parse(m).is_none_or(|k| k.currency() == currency))
        .collect();
    if methods.is_empty() {
        methods.push("card");
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn line_items_endpoint_pages_in_creation_order() {
        let mut a = account();
        let mut wire = String::from("mode=payment&success_url=https://shop.test/ok");
        for i in 0..3 {
            wire.push_str(&format!(
                "&line_items[{i}][price_data][currency]=usd&line_items[{i}][price_data][unit_amount]=100\
                 &line_items[{i}][price_data][product_data][name]=Item{i}&line_items[{i}][quantity]=1"
            ));
        }
        let id = try_create(&mut a, &wire, None).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let p = Params::decode(&[b"limit=2"]).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&line_items(&mut a, &id, &p).unwrap().body).unwrap();
        assert_eq!(v["data"][0]["description"], "Item0");
        assert_eq!(v["data"][1]["description"], "Item1");
        assert_eq!(v["has_more"], true);
        assert_eq!(v["url"], format!("/v1/checkout/sessions/{id}/line_items"));
    }

    /// A list copies each session's kept JSON: whatever was kept before (a retrieve, an
    /// earlier list, a session changed since), it is byte for byte serde's rendering of
    /// the whole list, at the account's version and at an older one.
    #[test]
    fn a_list_from_kept_json_is_what_serde_renders() {
        let mut a = account();
        let ids: Vec<String> = (0..4).map(|_| new_session(&mut a)).collect();
        let none = Params::decode(&[]).unwrap();
        for version in [None, Some("2020-08-27")] {
            let expected = |a: &Account| {
                let v = ctx(version).version_for(a);
                let data: Vec<_> = a
                    .sessions
                    .rows()
                    .iter()
                    .rev()
                    .map(|s| s.json(&v, &Expansion::default()))
                    .collect();
                to_json(&ListJson::new(data, false, "/v1/checkout/sessions".into())).unwrap()
            };
            retrieve(&mut a, &ids[1], &none, &ctx(version)).unwrap();
            for round in 0..3 {
                if round == 2 {
                    let meta = Params::decode(&[b"metadata[k]=v".as_slice()]).unwrap();
                    update(&mut a, &ids[2], &meta, &ctx(version)).unwrap();
                }
                let listed = list(&mut a, &none, &ctx(version)).unwrap().body;
                assert_eq!(
                    String::from_utf8_lossy(&listed),
                    String::from_utf8_lossy(&expected(&a)),
                    "version {version:?}, round {round}"
                );
            }
        }
    }

    #[test]
    fn expands_the_payment_intent_and_its_latest_charge() {
        let mut a = account();
        let id = new_session(&mut a);
        pay(
            &mut a,
            &id,
            &Payer {
                card: &card("4242424242424242"),
                email: "buyer@example.com",
                name: Some("Jenny Rosen"),
                authenticated: None,
            },
        )
        .unwrap();
        let get = |a: &mut Account, q: &str| -> serde_json::Value {
            let p = Params::decode(&[q.as_bytes()]).unwrap();
            serde_json::from_slice(&retrieve(a, &id, &p, &ctx(None)).unwrap().body).unwrap()
        };
        let v = get(&mut a, "expand[]=payment_intent.latest_charge");
        assert_eq!(v["payment_intent"]["object"], "payment_intent");
        let charge = &v["payment_intent"]["latest_charge"];
        assert_eq!(charge["object"], "charge");
        assert_eq!(charge["amount"], 3998);
        assert_eq!(charge["billing_details"]["name"], "Jenny Rosen");
        let v = get(&mut a, "expand[]=payment_intent");
        assert!(
            v["payment_intent"]["latest_charge"]
                .as_str()
                .unwrap()
                .starts_with("ch_")
        );

        let p =
            Params::decode(&[b"expand[]=data.payment_intent.latest_charge".as_slice()]).unwrap();
        let listed: serde_json::Value =
            serde_json::from_slice(&list(&mut a, &p, &ctx(None)).unwrap().body).unwrap();
        assert_eq!(
            listed["data"][0]["payment_intent"]["latest_charge"]["object"],
            "charge"
        );
    }
}
