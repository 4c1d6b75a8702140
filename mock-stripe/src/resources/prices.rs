//! Prices (`/v1/prices`): one-time and recurring, per-unit amounts (`unit_amount` or
//! `unit_amount_decimal`), `product_data` inline, `lookup_key` with `transfer_lookup_key`,
//! and the `price.created` / `price.updated` events.
//!
//! Tiers, custom amounts, quantity transforms and currency options are not simulated: they
//! answer a 400 saying so rather than a price that would charge the wrong amount.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use super::products::{self, Product, ProductJson};
use super::{check_metadata, clearable, event_request, one_of, string_enum};
use crate::money;
use crate::protocol::expand::Expand;
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::{ApiError, ApiResult, Fields, Params, RangeFilter, Reply, RequestCtx};
use crate::resources::events::{emit, snapshot};
use crate::resources::expandable;
use crate::store::{Account, Keyed};

/// Stripe's per-unit bound (also keeps totals far from overflowing).
pub(crate) const MAX_UNIT_AMOUNT: i64 = 99_999_999;
const MAX_LOOKUP_KEY: usize = 200;
/// At most 10 `lookup_keys[]` in a list request.
const MAX_LOOKUP_KEYS: usize = 10;
/// Recurring prices bill at most every three years.
const MAX_INTERVAL_DAYS: i64 = 3 * 365;

string_enum! {
    /// `price.type`.
    pub(crate) enum PriceType {
        OneTime = "one_time",
        Recurring = "recurring",
    }
}

string_enum! {
    /// `price.tax_behavior`.
    pub(crate) enum TaxBehavior {
        Inclusive = "inclusive",
        Exclusive = "exclusive",
        Unspecified = "unspecified",
    }
}

string_enum! {
    /// `recurring.interval`.
    pub(crate) enum Interval {
        Day = "day",
        Week = "week",
        Month = "month",
        Year = "year",
    }
}

string_enum! {
    /// `recurring.usage_type`.
    pub(crate) enum UsageType {
        Licensed = "licensed",
        Metered = "metered",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Recurring {
    pub interval: Interval,
    pub interval_count: i64,
    pub usage_type: UsageType,
    pub trial_period_days: Option<i64>,
}

/// A price as stored. Checkout line items keep a copy of theirs (a snapshot at creation).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Price {
    pub id: String,
    pub created: i64,
    pub active: bool,
    pub currency: String,
    pub unit_amount: Option<i64>,
    pub unit_amount_decimal: String,
    /// The product's id.
    pub product: String,
    pub lookup_key: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub nickname: Option<String>,
    pub recurring: Option<Recurring>,
    pub tax_behavior: TaxBehavior,
}

impl Keyed for Price {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Price {
    pub fn kind(&self) -> PriceType {
        if self.recurring.is_some() {
            PriceType::Recurring
        } else {
            PriceType::OneTime
        }
    }

    /// `unit_amount_decimal` × `quantity`, rounded half up to the minor unit.
    pub fn amount_for(&self, quantity: i64) -> i64 {
        match self.unit_amount {
            Some(u) => u * quantity,
            None => decimal_total(&self.unit_amount_decimal, quantity).unwrap_or(0),
        }
    }

    /// The JSON; `product` expanded when given.
    pub fn json<'a>(&'a self, product: Option<&'a Product>) -> PriceJson<'a> {
        self.json_with(match product {
            Some(p) => ProductRef::Object(Box::new(p.json(None))),
            None => ProductRef::Id(&self.product),
        })
    }

    /// The JSON with `product` rendered as given.
    pub fn json_with<'a>(&'a self, product: ProductRef<'a>) -> PriceJson<'a> {
        PriceJson {
            id: &self.id,
            object: "price",
            active: self.active,
            billing_scheme: "per_unit",
            created: self.created,
            currency: &self.currency,
            custom_unit_amount: (),
            livemode: false,
            lookup_key: self.lookup_key.as_deref(),
            metadata: &self.metadata,
            nickname: self.nickname.as_deref(),
            product,
            recurring: self.recurring.as_ref().map(|r| RecurringJson {
                interval: r.interval.as_str(),
                interval_count: r.interval_count,
                meter: (),
                trial_period_days: r.trial_period_days,
                usage_type: r.usage_type.as_str(),
            }),
            tax_behavior: self.tax_behavior.as_str(),
            tiers_mode: (),
            transform_quantity: (),
            kind: self.kind().as_str(),
            unit_amount: self.unit_amount,
            unit_amount_decimal: Cow::Borrowed(&self.unit_amount_decimal),
        }
    }
}

/// What a one-off price (Checkout's `price_data`) has; the rest is fixed: inactive, no
/// lookup key, nickname, metadata or recurrence.
pub(crate) struct OneOffPriceJson<'a> {
    pub id: &'a str,
    pub created: i64,
    pub currency: &'a str,
    pub unit_amount: Option<i64>,
    pub unit_amount_decimal: Cow<'a, str>,
    pub tax_behavior: TaxBehavior,
    pub product: ProductRef<'a>,
}

/// Metadata of objects that never have any.
pub(crate) static NO_METADATA: BTreeMap<String, String> = BTreeMap::new();

impl<'a> OneOffPriceJson<'a> {
    /// The same JSON as [`Price::json`] of the equivalent stored price.
    pub fn json(self) -> PriceJson<'a> {
        PriceJson {
            id: self.id,
            object: "price",
            active: false,
            billing_scheme: "per_unit",
            created: self.created,
            currency: self.currency,
            custom_unit_amount: (),
            livemode: false,
            lookup_key: None,
            metadata: &NO_METADATA,
            nickname: None,
            product: self.product,
            recurring: None,
            tax_behavior: self.tax_behavior.as_str(),
            tiers_mode: (),
            transform_quantity: (),
            kind: PriceType::OneTime.as_str(),
            unit_amount: self.unit_amount,
            unit_amount_decimal: self.unit_amount_decimal,
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum ProductRef<'a> {
    Id(&'a str),
    Object(Box<ProductJson<'a>>),
}

#[derive(Serialize)]
struct RecurringJson {
    interval: &'static str,
    interval_count: i64,
    meter: (),
    trial_period_days: Option<i64>,
    usage_type: &'static str,
}

/// The JSON of a price (every field the official SDKs type as always present).
#[derive(Serialize)]
pub(crate) struct PriceJson<'a> {
    id: &'a str,
    object: &'static str,
    active: bool,
    billing_scheme: &'static str,
    created: i64,
    currency: &'a str,
    custom_unit_amount: (),
    livemode: bool,
    lookup_key: Option<&'a str>,
    metadata: &'a BTreeMap<String, String>,
    nickname: Option<&'a str>,
    product: ProductRef<'a>,
    recurring: Option<RecurringJson>,
    tax_behavior: &'static str,
    tiers_mode: (),
    transform_quantity: (),
    #[serde(rename = "type")]
    kind: &'static str,
    unit_amount: Option<i64>,
    unit_amount_decimal: Cow<'a, str>,
}

/// `decimal` × `quantity` in minor units, rounded half up; `None` if `decimal` is not a
/// decimal of at most 12 integer and 12 fractional digits.
pub(crate) fn decimal_total(decimal: &str, quantity: i64) -> Option<i64> {
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    if int.is_empty() && frac.is_empty()
        || frac.len() > 12
        || int.len() > 12
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = 10i128.pow(frac.len() as u32);
    let numerator: i128 = format!("{int}{frac}").parse().ok()?;
    let total = (numerator * i128::from(quantity) * 2 + scale) / (2 * scale);
    i64::try_from(total).ok()
}

// ---------------------------------------------------------------------------------------
// Phase 1: parameters.
// ---------------------------------------------------------------------------------------

/// `recurring[...]` as sent.
pub(crate) struct RecurringIn {
    interval: Option<Interval>,
    interval_count: Option<i64>,
    usage_type: Option<UsageType>,
    trial_period_days: Option<i64>,
}

/// The amount parameters a price, `default_price_data` and Checkout's `price_data` share.
pub(crate) struct AmountIn {
    pub currency: Option<String>,
    pub unit_amount: Option<i64>,
    pub unit_amount_decimal: Option<String>,
    pub recurring: Option<RecurringIn>,
    pub tax_behavior: Option<TaxBehavior>,
    pub metadata: BTreeMap<String, String>,
}

/// Parameters that would change what a price charges and that the mock does not simulate.
const NOT_SIMULATED: &[&str] = &[
    "currency_options",
    "custom_unit_amount",
    "tiers",
    "tiers_mode",
    "transform_quantity",
];

fn refuse_not_simulated(f: &mut Fields<'_>) -> ApiResult<()> {
    for key in NOT_SIMULATED {
        if f.has(key) {
            let path = f.path_of(key);
            return Err(ApiError::invalid(
                &path,
                format!("mock-stripe does not simulate `{key}` on prices yet: use unit_amount."),
            ));
        }
    }
    if f.one_of("billing_scheme", &["per_unit", "tiered"])? == Some("tiered") {
        return Err(ApiError::invalid(
            f.path_of("billing_scheme"),
            "mock-stripe does not simulate tiered prices yet: use billing_scheme=per_unit.",
        ));
    }
    Ok(())
}

fn read_recurring(f: &mut Fields<'_>) -> ApiResult<Option<RecurringIn>> {
    let Some(mut o) = f.object("recurring")? else {
        return Ok(None);
    };
    let r = RecurringIn {
        interval: one_of(&mut o, "interval")?,
        interval_count: o.int("interval_count")?,
        usage_type: one_of(&mut o, "usage_type")?,
        trial_period_days: o.int("trial_period_days")?,
    };
    // Metered usage is reported against a meter: accepted, not modelled.
    o.ignore("meter");
    o.ignore("aggregate_usage");
    o.finish()?;
    Ok(Some(r))
}

/// Reads the shared amount parameters from `f` (the caller reads the rest and finishes).
/// `metadata` is read only where Stripe takes it (`default_price_data`, not `price_data`).
pub(crate) fn read_amount(f: &mut Fields<'_>, with_metadata: bool) -> ApiResult<AmountIn> {
    refuse_not_simulated(f)?;
    Ok(AmountIn {
        currency: f.owned("currency")?,
        unit_amount: f.int("unit_amount")?,
        unit_amount_decimal: f.owned("unit_amount_decimal")?,
        recurring: read_recurring(f)?,
        tax_behavior: one_of(f, "tax_behavior")?,
        metadata: if with_metadata {
            f.string_map("metadata")?
                .map(|m| m.to_map())
                .unwrap_or_default()
        } else {
            BTreeMap::new()
        },
    })
}

/// `default_price_data[...]` of a product: the amount parameters and nothing else.
pub(crate) fn read_price_data(mut f: Fields<'_>) -> ApiResult<AmountIn> {
    let amount = read_amount(&mut f, true)?;
    f.finish()?;
    Ok(amount)
}

// ---------------------------------------------------------------------------------------
// Phase 2: checks and building.
// ---------------------------------------------------------------------------------------

/// `prefix[key]`, or `key` at the top level.
fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}[{key}]")
    }
}

/// The checked amount of a price: currency, unit amount (or decimal) and recurrence.
pub(crate) struct CheckedAmount {
    pub currency: String,
    pub unit_amount: Option<i64>,
    pub unit_amount_decimal: String,
    pub recurring: Option<Recurring>,
    pub tax_behavior: TaxBehavior,
}

/// Checks the amount parameters; errors name `prefix[key]`.
pub(crate) fn check_amount(a: &AmountIn, prefix: &str) -> ApiResult<CheckedAmount> {
    let currency_param = path(prefix, "currency");
    let raw = a
        .currency
        .as_deref()
        .ok_or_else(|| ApiError::missing(&currency_param))?;
    let currency = money::normalize(raw).ok_or_else(|| {
        ApiError::invalid(
            &currency_param,
            format!(
                "Invalid currency: {raw}. See https://stripe.com/docs/currencies for supported currencies."
            ),
        )
    })?;
    let (unit_amount, unit_amount_decimal) = match (a.unit_amount, &a.unit_amount_decimal) {
        (Some(_), Some(_)) => {
            return Err(ApiError::exclusive(
                &path(prefix, "unit_amount"),
                &path(prefix, "unit_amount_decimal"),
            ));
        }
        (None, None) => return Err(ApiError::missing(&path(prefix, "unit_amount"))),
        (Some(u), None) => {
            let param = path(prefix, "unit_amount");
            if u < 0 {
                return Err(ApiError::too_small(&param, 0));
            }
            if u > MAX_UNIT_AMOUNT {
                return Err(ApiError::too_large(&param, MAX_UNIT_AMOUNT));
            }
            (Some(u), u.to_string())
        }
        (None, Some(d)) => {
            let param = path(prefix, "unit_amount_decimal");
            let one = decimal_total(d, 1)
                .ok_or_else(|| ApiError::invalid(&param, format!("Invalid decimal: {d}")))?;
            if one > MAX_UNIT_AMOUNT {
                return Err(ApiError::too_large(&param, MAX_UNIT_AMOUNT));
            }
            (None, d.clone())
        }
    };
    let recurring = match &a.recurring {
        None => None,
        Some(r) => {
            let interval = r
                .interval
                .ok_or_else(|| ApiError::missing(&path(&path(prefix, "recurring"), "interval")))?;
            let count = r.interval_count.unwrap_or(1);
            let count_param = path(&path(prefix, "recurring"), "interval_count");
            if count < 1 {
                return Err(ApiError::too_small(&count_param, 1));
            }
            let days = match interval {
                Interval::Day => 1,
                Interval::Week => 7,
                Interval::Month => 31,
                Interval::Year => 365,
            };
            if count.saturating_mul(days) > MAX_INTERVAL_DAYS + 3 {
                return Err(ApiError::invalid(
                    &count_param,
                    "The maximum billing interval is 3 years (1095 days, 156 weeks, 36 months or 3 years).",
                ));
            }
            if let Some(t) = r.trial_period_days
                && !(0..=730).contains(&t)
            {
                return Err(ApiError::invalid(
                    path(&path(prefix, "recurring"), "trial_period_days"),
                    "trial_period_days must be between 0 and 730.",
                ));
            }
            Some(Recurring {
                interval,
                interval_count: count,
                usage_type: r.usage_type.unwrap_or(UsageType::Licensed),
                trial_period_days: r.trial_period_days,
            })
        }
    };
    Ok(CheckedAmount {
        currency,
        unit_amount,
        unit_amount_decimal,
        recurring,
        tax_behavior: a.tax_behavior.unwrap_or(TaxBehavior::Unspecified),
    })
}

/// A new active price of `product` from amount parameters, checked (not stored yet).
pub(crate) fn build(
    account: &mut Account,
    amount: AmountIn,
    product: String,
    now: i64,
    prefix: &str,
) -> ApiResult<Price> {
    let checked = check_amount(&amount, prefix)?;
    check_metadata(&path(prefix, "metadata"), &amount.metadata)?;
    Ok(Price {
        id: account.ids.object(crate::ids::prefix::PRICE),
        created: now,
        active: true,
        currency: checked.currency,
        unit_amount: checked.unit_amount,
        unit_amount_decimal: checked.unit_amount_decimal,
        product,
        lookup_key: None,
        metadata: amount.metadata,
        nickname: None,
        recurring: checked.recurring,
        tax_behavior: checked.tax_behavior,
    })
}

/// Inserts a price and emits `price.created`.
pub(crate) fn insert(account: &mut Account, price: Price, ctx: &RequestCtx) -> ApiResult<()> {
    let obj = snapshot(&price.json(None))?;
    account.prices.insert(price);
    emit(account, "price.created", obj, &event_request(ctx))
}

/// The price holding `lookup_key`, other than `except`.
fn holder_of(account: &Account, lookup_key: &str, except: &str) -> Option<String> {
    account
        .prices
        .rows()
        .iter()
        .find(|p| p.id != except && p.lookup_key.as_deref() == Some(lookup_key))
        .map(|p| p.id.clone())
}

fn check_lookup_key(account: &Account, key: &str, transfer: bool, except: &str) -> ApiResult<()> {
    if key.chars().count() > MAX_LOOKUP_KEY {
        return Err(ApiError::invalid(
            "lookup_key",
            format!("lookup_key must be at most {MAX_LOOKUP_KEY} characters."),
        ));
    }
    if !transfer && let Some(holder) = holder_of(account, key, except) {
        return Err(ApiError::invalid(
            "lookup_key",
            format!(
                "A price (`{holder}`) already uses that lookup key. Pass transfer_lookup_key=true to move it to this price."
            ),
        ));
    }
    Ok(())
}

/// Takes `key` away from the price holding it (`transfer_lookup_key`), with `price.updated`.
fn transfer_from_holder(
    account: &mut Account,
    key: &str,
    to: &str,
    ctx: &RequestCtx,
) -> ApiResult<()> {
    let Some(holder) = holder_of(account, key, to) else {
        return Ok(());
    };
    let price = account.prices.get_mut(&holder).expect("found above");
    price.lookup_key = None;
    let obj = snapshot(&price.json(None))?;
    emit(account, "price.updated", obj, &event_request(ctx))
}

// ---------------------------------------------------------------------------------------
// Handlers.
// ---------------------------------------------------------------------------------------

fn find<'a>(account: &'a Account, id: &str) -> ApiResult<&'a Price> {
    account
        .prices
        .get(id)
        .ok_or_else(|| ApiError::no_such("price", id, "price", true))
}

/// The answer: the price with `expand[]` applied (`product`, …).
fn render(account: &Account, id: &str, x: &Expand, ctx: &RequestCtx) -> ApiResult<Reply> {
    let price = find(account, id)?;
    let v = ctx.version_for(account);
    expandable::reply(account, "price", &price.json(None), x, &v)
}

/// `product_data[...]` of a price create.
struct ProductDataIn {
    name: Option<String>,
    id: Option<String>,
    active: Option<bool>,
    metadata: BTreeMap<String, String>,
    statement_descriptor: Option<String>,
    unit_label: Option<String>,
    tax_code: Option<String>,
}

fn read_product_data(f: &mut Fields<'_>) -> ApiResult<Option<ProductDataIn>> {
    let Some(mut o) = f.object("product_data")? else {
        return Ok(None);
    };
    let pd = ProductDataIn {
        name: o.owned("name")?,
        id: o.owned("id")?,
        active: o.bool("active")?,
        metadata: o
            .string_map("metadata")?
            .map(|m| m.to_map())
            .unwrap_or_default(),
        statement_descriptor: o.owned("statement_descriptor")?,
        unit_label: o.owned("unit_label")?,
        tax_code: o.owned("tax_code")?,
    };
    o.ignore("tax_details");
    o.finish()?;
    Ok(Some(pd))
}

/// `POST /v1/prices`: emits `product.created` (for `product_data`) and `price.created`.
pub(crate) fn create(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let amount = read_amount(&mut f, true)?;
    let product = f.owned("product")?;
    let product_data = read_product_data(&mut f)?;
    let active = f.bool("active")?;
    let lookup_key = f.owned("lookup_key")?;
    let transfer = f.bool("transfer_lookup_key")?.unwrap_or(false);
    let nickname = f.owned("nickname")?;
    let expand = expandable::read(&mut f, "price")?;
    f.finish()?;

    let now = account.now();
    let checked = check_amount(&amount, "")?;
    check_metadata("metadata", &amount.metadata)?;
    if let Some(key) = &lookup_key {
        check_lookup_key(account, key, transfer, "")?;
    }
    let new_product = match (product, product_data) {
        (Some(_), Some(_)) => return Err(ApiError::exclusive("product", "product_data")),
        (None, None) => return Err(ApiError::missing("product")),
        (Some(id), None) => {
            products::existing(account, &id, "product")?;
            Err(id)
        }
        (None, Some(pd)) => {
            let name = pd
                .name
                .ok_or_else(|| ApiError::missing("product_data[name]"))?;
            check_metadata("product_data[metadata]", &pd.metadata)?;
            let id = match pd.id {
                Some(id) if account.products.get(&id).is_some() => {
                    return Err(ApiError::new(
                        http::StatusCode::BAD_REQUEST,
                        Some("resource_already_exists"),
                        "Product already exists.",
                    )
                    .with_param("product_data[id]"));
                }
                Some(id) => id,
                None => account.ids.object(crate::ids::prefix::PRODUCT),
            };
            let mut p = Product::inline(id, now, name, None, Vec::new(), pd.metadata);
            p.active = pd.active.unwrap_or(true);
            p.statement_descriptor = pd.statement_descriptor;
            p.unit_label = pd.unit_label;
            p.tax_code = pd.tax_code;
            Ok(p)
        }
    };
    let product_id = match new_product {
        Ok(p) => {
            let id = p.id.clone();
            products::insert(account, p, ctx)?;
            id
        }
        Err(id) => id,
    };
    let price = Price {
        id: account.ids.object(crate::ids::prefix::PRICE),
        created: now,
        active: active.unwrap_or(true),
        currency: checked.currency,
        unit_amount: checked.unit_amount,
        unit_amount_decimal: checked.unit_amount_decimal,
        product: product_id,
        lookup_key: lookup_key.clone(),
        metadata: amount.metadata,
        nickname,
        recurring: checked.recurring,
        tax_behavior: checked.tax_behavior,
    };
    let id = price.id.clone();
    if let Some(key) = &lookup_key {
        transfer_from_holder(account, key, &id, ctx)?;
    }
    insert(account, price, ctx)?;
    render(account, &id, &expand, ctx)
}

/// `GET /v1/prices/{id}`
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let expand = expandable::read(&mut f, "price")?;
    f.finish()?;
    render(account, id, &expand, ctx)
}

/// `POST /v1/prices/{id}`: `active`, `lookup_key` (+ `transfer_lookup_key`), `metadata`,
/// `nickname`, `tax_behavior` (once, from `unspecified`); emits `price.updated`.
pub(crate) fn update(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let active = f.bool("active")?;
    let lookup_key = clearable(&mut f, "lookup_key")?;
    let transfer = f.bool("transfer_lookup_key")?.unwrap_or(false);
    let metadata = f.string_map("metadata")?;
    let nickname = clearable(&mut f, "nickname")?;
    let tax_behavior: Option<TaxBehavior> = one_of(&mut f, "tax_behavior")?;
    if f.has("currency_options") {
        return Err(ApiError::invalid(
            "currency_options",
            "mock-stripe does not simulate `currency_options` on prices yet.",
        ));
    }
    let expand = expandable::read(&mut f, "price")?;
    f.finish()?;

    let current = find(account, id)?;
    if let Some(t) = tax_behavior
        && current.tax_behavior != TaxBehavior::Unspecified
        && current.tax_behavior != t
    {
        return Err(ApiError::invalid(
            "tax_behavior",
            "tax_behavior cannot be changed once it is set to inclusive or exclusive.",
        ));
    }
    let mut new_metadata = current.metadata.clone();
    if let Some(m) = &metadata {
        m.apply(&mut new_metadata);
        check_metadata("metadata", &new_metadata)?;
    }
    if let Some(Some(key)) = &lookup_key {
        check_lookup_key(account, key, transfer, id)?;
    }
    if let Some(Some(key)) = &lookup_key {
        transfer_from_holder(account, key, id, ctx)?;
    }
    let price = account.prices.get_mut(id).expect("found above");
    if let Some(a) = active {
        price.active = a;
    }
    if let Some(k) = lookup_key {
        price.lookup_key = k;
    }
    price.metadata = new_metadata;
    if let Some(n) = nickname {
        price.nickname = n;
    }
    if let Some(t) = tax_behavior {
        price.tax_behavior = t;
    }
    let obj = snapshot(&price.json(None))?;
    emit(account, "price.updated", obj, &event_request(ctx))?;
    render(account, id, &expand, ctx)
}

/// `GET /v1/prices`: filters `active`, `currency`, `product`, `type`, `lookup_keys[]`,
/// `recurring[interval|usage_type]`, `created`.
pub(crate) fn list(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let active = f.bool("active")?;
    let currency = f.owned("currency")?.map(|c| c.to_ascii_lowercase());
    let product = f.owned("product")?;
    let kind: Option<PriceType> = one_of(&mut f, "type")?;
    let lookup_keys = f.string_list("lookup_keys")?;
    let (interval, usage_type) = match f.object("recurring")? {
        Some(mut o) => {
            let i: Option<Interval> = one_of(&mut o, "interval")?;
            let u: Option<UsageType> = one_of(&mut o, "usage_type")?;
            o.ignore("meter");
            o.finish()?;
            (i, u)
        }
        None => (None, None),
    };
    let created = RangeFilter::read(&mut f, "created")?;
    let expand = expandable::read_list(&mut f, "price")?;
    f.finish()?;
    if lookup_keys
        .as_ref()
        .is_some_and(|k| k.len() > MAX_LOOKUP_KEYS)
    {
        return Err(ApiError::invalid(
            "lookup_keys",
            format!("You may pass at most {MAX_LOOKUP_KEYS} lookup_keys."),
        ));
    }

    let keep = |p: &Price| {
        active.is_none_or(|a| p.active == a)
            && currency.as_ref().is_none_or(|c| &p.currency == c)
            && product.as_ref().is_none_or(|id| &p.product == id)
            && kind.is_none_or(|k| p.kind() == k)
            && lookup_keys
                .as_ref()
                .is_none_or(|keys| p.lookup_key.as_ref().is_some_and(|k| keys.contains(k)))
            && interval.is_none_or(|i| p.recurring.as_ref().is_some_and(|r| r.interval == i))
            && usage_type.is_none_or(|u| p.recurring.as_ref().is_some_and(|r| r.usage_type == u))
            && created.matches(p.created)
    };
    let table = &account.prices;
    let (data, has_more) = paginate(table.rows(), |id| table.position(id), keep, &page, "price")?;
    let data: Vec<_> = data.into_iter().map(|p| p.json(None)).collect();
    let list = ListJson::new(data, has_more, "/v1/prices".into());
    expandable::reply_list(account, "price", &list, &expand, &ctx.version_for(account))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{call, ctx, event_types};

    fn product(a: &mut Account) -> String {
        call(products::create, a, "name=Book").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn one_time_and_recurring_prices() {
        let mut a = Account::at(1_700_000_000);
        let prod = product(&mut a);
        let v = call(
            create,
            &mut a,
            &format!("product={prod}&unit_amount=1500&currency=USD&metadata[k]=v&nickname=Std"),
        )
        .unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("price_"));
        assert_eq!(v["object"], "price");
        assert_eq!(v["type"], "one_time");
        assert_eq!(v["currency"], "usd");
        assert_eq!(v["unit_amount"], 1500);
        assert_eq!(v["unit_amount_decimal"], "1500");
        assert_eq!(v["recurring"], serde_json::Value::Null);
        assert_eq!(v["tax_behavior"], "unspecified");
        assert_eq!(v["product"], prod.as_str());
        assert_eq!(v["active"], true);

        let v = call(
            create,
            &mut a,
            "product_data[name]=Club&unit_amount=900&currency=eur&recurring[interval]=month&expand[]=product",
        )
        .unwrap();
        assert_eq!(v["type"], "recurring");
        assert_eq!(
            v["recurring"],
            serde_json::json!({"interval": "month", "interval_count": 1, "meter": null,
                               "trial_period_days": null, "usage_type": "licensed"})
        );
        assert_eq!(v["product"]["name"], "Club");
        assert_eq!(v["product"]["active"], true);
        assert_eq!(
            event_types(&a),
            [
                "product.created",
                "price.created",
                "product.created",
                "price.created"
            ]
        );

        let p = Params::decode(&[b"type=recurring".as_slice()]).unwrap();
        let l: serde_json::Value =
            serde_json::from_slice(&list(&mut a, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(l["data"].as_array().unwrap().len(), 1);
        let p = Params::decode(&[format!("product={prod}").as_bytes()]).unwrap();
        let l: serde_json::Value =
            serde_json::from_slice(&list(&mut a, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(l["data"][0]["nickname"], "Std");
    }

    #[test]
    fn lookup_keys_are_unique_unless_transferred() {
        let mut a = Account::at(1_700_000_000);
        let prod = product(&mut a);
        let base = format!("product={prod}&currency=usd&unit_amount=100&lookup_key=standard");
        let first = call(create, &mut a, &base).unwrap();
        let e = call(create, &mut a, &base).err().unwrap();
        assert_eq!(e.param.as_deref(), Some("lookup_key"));
        assert!(e.message.contains(first["id"].as_str().unwrap()));
        let second = call(create, &mut a, &format!("{base}&transfer_lookup_key=true")).unwrap();
        assert_eq!(second["lookup_key"], "standard");
        let old = a.prices.get(first["id"].as_str().unwrap()).unwrap();
        assert_eq!(old.lookup_key, None);
        assert_eq!(event_types(&a).last(), Some(&"price.created"));
        assert!(event_types(&a).contains(&"price.updated"));

        let p =
            Params::decode(&[b"lookup_keys[]=standard&lookup_keys[]=other".as_slice()]).unwrap();
        let l: serde_json::Value =
            serde_json::from_slice(&list(&mut a, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(l["data"].as_array().unwrap().len(), 1);
        assert_eq!(l["data"][0]["id"], second["id"]);
    }

    #[test]
    fn update_archives_and_clears() {
        let mut a = Account::at(1_700_000_000);
        let prod = product(&mut a);
        let v = call(
            create,
            &mut a,
            &format!("product={prod}&currency=usd&unit_amount=100&nickname=x&lookup_key=k"),
        )
        .unwrap();
        let id = v["id"].as_str().unwrap();
        let p = Params::decode(&[b"active=false&nickname=&lookup_key=&metadata[a]=1".as_slice()])
            .unwrap();
        let u: serde_json::Value =
            serde_json::from_slice(&update(&mut a, id, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(u["active"], false);
        assert_eq!(u["nickname"], serde_json::Value::Null);
        assert_eq!(u["lookup_key"], serde_json::Value::Null);
        assert_eq!(u["metadata"]["a"], "1");
        assert_eq!(event_types(&a).last(), Some(&"price.updated"));
        let p = Params::decode(&[b"unit_amount=5".as_slice()]).unwrap();
        assert_eq!(
            update(&mut a, id, &p, &ctx()).err().unwrap().code,
            Some("parameter_unknown")
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        let mut a = Account::at(1_700_000_000);
        let prod = product(&mut a);
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "unit_amount=100&currency=usd",
                Some("parameter_missing"),
                "product",
            ),
            (
                "product=prod_nope&unit_amount=100&currency=usd",
                Some("resource_missing"),
                "product",
            ),
            (
                "product=P&unit_amount=100",
                Some("parameter_missing"),
                "currency",
            ),
            (
                "product=P&currency=usd",
                Some("parameter_missing"),
                "unit_amount",
            ),
            ("product=P&currency=usd&unit_amount=-1", None, "unit_amount"),
            ("product=P&currency=xyz&unit_amount=1", None, "currency"),
            (
                "product=P&currency=usd&unit_amount=1&recurring[interval]=fortnight",
                None,
                "recurring[interval]",
            ),
            (
                "product=P&currency=usd&unit_amount=1&recurring[interval_count]=2",
                Some("parameter_missing"),
                "recurring[interval]",
            ),
            (
                "product=P&currency=usd&unit_amount=1&recurring[interval]=month&recurring[interval_count]=37",
                None,
                "recurring[interval_count]",
            ),
            (
                "product=P&currency=usd&unit_amount=1&tiers[0][up_to]=inf",
                None,
                "tiers",
            ),
            (
                "product=P&currency=usd&unit_amount=1&billing_scheme=tiered",
                None,
                "billing_scheme",
            ),
            (
                "product=P&currency=usd&unit_amount=1&unit_amount_decimal=1.5",
                Some("parameters_exclusive"),
                "unit_amount_decimal",
            ),
        ];
        for (wire, code, param) in cases {
            let wire = wire.replace("product=P", &format!("product={prod}"));
            let e = call(create, &mut a, &wire).err().unwrap();
            assert_eq!(
                (e.code, e.param.as_deref()),
                (*code, Some(*param)),
                "{wire}: {}",
                e.message
            );
        }
        let e = retrieve(&mut a, "price_nope", &Params::default(), &ctx())
            .err()
            .unwrap();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (404, "No such price: 'price_nope'")
        );
    }

    #[test]
    fn decimal_totals_round_half_up() {
        assert_eq!(decimal_total("33.335", 2), Some(67));
        assert_eq!(decimal_total("0.5", 1), Some(1));
        assert_eq!(decimal_total("1999", 3), Some(5997));
        assert_eq!(decimal_total("1.2.3", 1), None);
        assert_eq!(decimal_total("", 1), None);
    }
}
