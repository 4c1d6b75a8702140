//! Phase 2 of create: check the meaning of the decoded parameters (missing, ranges,
//! cross-field rules, contract §2.4), build the line items and store the new session.
//! Phase 1 (reading the typed parameters, checking the URLs' syntax) runs here too, or
//! before the account's turn when [`prepare`] could do it.

use std::collections::BTreeMap;

use super::catalog::{apply_discounts, check_adjustable, price_line_item};
use super::object::{
    CustomText, CustomerCreation, LineItem, Mode, PaymentStatus, RedirectOnCompletion, Session,
    Status, TaxBehavior, UiMode,
};
use super::params::{CreateIn, LineItemIn, PriceDataIn, ProductDataIn, read_create};
use crate::engine::agenda::Job;
use crate::ids::prefix;
use crate::money;
use crate::protocol::{ApiError, ApiResult, Params, RequestCtx};
use crate::resources::payment_intents::PaymentIntentData;
use crate::resources::prices::Price;
use crate::resources::products::Product;
use crate::resources::{check_email, check_metadata, check_url};
use crate::store::Account;

/// Session lifetime bounds (contract §2.4): default 24 h, allowed 30 min … 24 h.
const MIN_LIFETIME: i64 = 30 * 60;
const MAX_LIFETIME: i64 = 24 * 60 * 60;
/// Payment mode accepts at most 100 line items.
const MAX_LINE_ITEMS: usize = 100;
/// Stripe's per-item bounds; they also keep totals far from overflowing.
const MAX_UNIT_AMOUNT: i64 = 99_999_999;
const MAX_QUANTITY: i64 = 999_999;
/// $999,999.99 in minor units: the largest total a session may carry.
const MAX_TOTAL: i64 = 99_999_999;

/// `unit_amount_decimal` × quantity, rounded half up to the minor unit.
fn decimal_total(path: &str, decimal: &str, quantity: i64) -> ApiResult<i64> {
    let bad = || ApiError::invalid(path, format!("Invalid decimal: {decimal}"));
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    if int.is_empty() && frac.is_empty()
        || frac.len() > 12
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || int.len() > 12
    {
        return Err(bad());
    }
    let scale = 10i128.pow(frac.len() as u32);
    let numerator: i128 = format!("{int}{frac}").parse().map_err(|_| bad())?;
    let total = (numerator * i128::from(quantity) * 2 + scale) / (2 * scale);
    i64::try_from(total).map_err(|_| bad())
}

fn build_line_item(account: &mut Account, li: LineItemIn) -> ApiResult<LineItem> {
    if let (Some(id), None, false) = (&li.price, &li.price_data, li.legacy.used) {
        let id = id.clone();
        return price_line_item(account, li, &id);
    }
    let now = account.now();
    let p = |k: &str| format!("{}[{k}]", li.path);
    let legacy = li.legacy;
    let price_data = if legacy.used {
        if li.price.is_some() {
            return Err(ApiError::exclusive(&p("price"), &p("name")));
        }
        if li.price_data.is_some() {
            return Err(ApiError::exclusive(&p("price_data"), &p("name")));
        }
        // The inline form maps onto price_data/product_data (contract §2.4).
        PriceDataIn {
            path: li.path.clone(),
            currency: Some(
                legacy
                    .currency
                    .ok_or_else(|| ApiError::missing(&p("currency")))?,
            ),
            unit_amount: Some(
                legacy
                    .amount
                    .ok_or_else(|| ApiError::missing(&p("amount")))?,
            ),
            unit_amount_decimal: None,
            product: None,
            product_data: Some(ProductDataIn {
                path: li.path.clone(),
                name: Some(legacy.name.ok_or_else(|| ApiError::missing(&p("name")))?),
                description: legacy.description,
                images: legacy.images,
                metadata: BTreeMap::new(),
            }),
            tax_behavior: None,
            recurring: false,
        }
    } else {
        match (li.price, li.price_data) {
            (Some(_), Some(_)) => return Err(ApiError::exclusive(&p("price"), &p("price_data"))),
            (Some(_), None) => unreachable!("price ids are handled above"),
            (None, None) => return Err(ApiError::missing(&p("price_data"))),
            (None, Some(pd)) => pd,
        }
    };
    // Parameter paths are formatted only for an error.
    let pp = |k: &str| format!("{}[{k}]", price_data.path);
    let amount_param = || {
        if legacy.used {
            p("amount")
        } else {
            pp("unit_amount")
        }
    };
    if price_data.recurring {
        return Err(ApiError::invalid(
            pp("recurring"),
            "You specified `payment` mode but passed a recurring price. Either switch to \
             `subscription` mode or use only one-time prices. (mock-stripe does not simulate \
             subscriptions yet.)",
        ));
    }
    let currency_param = || {
        if legacy.used {
            p("currency")
        } else {
            pp("currency")
        }
    };
    let raw_currency = price_data
        .currency
        .ok_or_else(|| ApiError::missing(&currency_param()))?;
    let currency = money::normalize(&raw_currency).ok_or_else(|| {
        ApiError::invalid(
            currency_param(),
            format!("Invalid currency: {raw_currency}. See https://stripe.com/docs/currencies for supported currencies."),
        )
    })?;
    let quantity = li
        .quantity
        .ok_or_else(|| ApiError::missing(&p("quantity")))?;
    if quantity < 1 {
        return Err(ApiError::too_small(&p("quantity"), 1));
    }
    if quantity > MAX_QUANTITY {
        return Err(ApiError::too_large(&p("quantity"), MAX_QUANTITY));
    }
    let (unit_amount, unit_amount_decimal, amount) =
        match (price_data.unit_amount, price_data.unit_amount_decimal) {
            (Some(_), Some(_)) => {
                return Err(ApiError::exclusive(
                    &amount_param(),
                    &pp("unit_amount_decimal"),
                ));
            }
            (None, None) => return Err(ApiError::missing(&amount_param())),
            (Some(u), None) => {
                if u < 0 {
                    return Err(ApiError::too_small(&amount_param(), 0));
                }
                if u > MAX_UNIT_AMOUNT {
                    return Err(ApiError::too_large(&amount_param(), MAX_UNIT_AMOUNT));
                }
                (Some(u), u.to_string(), u * quantity)
            }
            (None, Some(d)) => {
                let path = pp("unit_amount_decimal");
                let one = decimal_total(&path, &d, 1)?;
                if one > MAX_UNIT_AMOUNT {
                    return Err(ApiError::too_large(&path, MAX_UNIT_AMOUNT));
                }
                (None, d.clone(), decimal_total(&path, &d, quantity)?)
            }
        };
    let product = match (price_data.product, price_data.product_data) {
        (Some(_), Some(_)) => return Err(ApiError::exclusive(&pp("product"), &pp("product_data"))),
        (Some(id), None) => account
            .products
            .get(&id)
            .cloned()
            .ok_or_else(|| ApiError::no_such("product", &id, &pp("product"), false))?,
        (None, None) => return Err(ApiError::missing(&pp("product_data"))),
        (None, Some(pd)) => {
            let name = pd.name.ok_or_else(|| {
                ApiError::missing(&if legacy.used {
                    p("name")
                } else {
                    format!("{}[name]", pd.path)
                })
            })?;
            if pd.images.len() > 8 {
                return Err(ApiError::invalid(
                    format!("{}[images]", pd.path),
                    "You may only specify up to 8 images.",
                ));
            }
            if !pd.metadata.is_empty() {
                check_metadata(&format!("{}[metadata]", pd.path), &pd.metadata)?;
            }
            Product::inline(
                account.ids.object(prefix::PRODUCT),
                now,
                name,
                pd.description,
                pd.images,
                pd.metadata,
            )
        }
    };
    if !li.metadata.is_empty() {
        check_metadata(&p("metadata"), &li.metadata)?;
    }
    let adjustable_quantity = match li.adjustable_quantity {
        None => None,
        adjustable => check_adjustable(adjustable, quantity, &p("quantity"))?,
    };
    // Drawn before the price's, as always (replays with `--seed` keep their ids).
    let id = account.ids.object(prefix::LINE_ITEM);
    // Prices made from price_data are inline one-offs (`active: false`), never listed.
    let price = Price {
        id: account.ids.object(prefix::PRICE),
        created: now,
        active: false,
        currency,
        unit_amount,
        unit_amount_decimal,
        product: product.id.clone(),
        lookup_key: None,
        metadata: BTreeMap::new(),
        nickname: None,
        recurring: None,
        tax_behavior: price_data.tax_behavior.unwrap_or(TaxBehavior::Unspecified),
    };
    Ok(LineItem::new(
        id,
        quantity,
        amount,
        li.metadata,
        adjustable_quantity,
        price,
        product,
    ))
}

/// A create's parameters read and its redirect URLs checked before the account's turn
/// ([`prepare`]).
pub(crate) struct Prepared {
    input: CreateIn,
}

/// What of a create needs nothing of the account, done before the request takes its
/// account's turn, while other requests of the account run: on one key, work inside the
/// turn costs about 1.7 times its CPU (bench/README.md). Read as for API versions that
/// refuse legacy line-item keys, which reads any request without them exactly as every
/// version does. `None` (legacy keys, or anything wrong) leaves the reading to
/// [`create_session`] inside the turn, so every error, and which comes first, is as it
/// would be without this.
pub(crate) fn prepare(params: &Params) -> Option<Prepared> {
    let input = read_create(params, false).ok()?;
    let urls = [
        ("success_url", &input.success_url),
        ("cancel_url", &input.cancel_url),
        ("return_url", &input.return_url),
    ];
    for (param, url) in urls {
        if let Some(url) = url {
            check_url(param, url).ok()?;
        }
    }
    Some(Prepared { input })
}

/// Validates a create request and stores the new session. Returns its id. (For tests
/// elsewhere in the crate; requests go through `create`.)
#[cfg(test)]
pub(crate) fn create_session(
    account: &mut Account,
    params: &Params,
    ctx: &RequestCtx,
    base_url: &str,
) -> ApiResult<(String, crate::protocol::expand::Expand)> {
    create_prepared(account, None, params, ctx, base_url)
}

/// [`create_session`], with the parameters already read and the URLs checked when
/// `prepared` is there (see [`prepare`]).
pub(crate) fn create_prepared(
    account: &mut Account,
    prepared: Option<Prepared>,
    params: &Params,
    ctx: &RequestCtx,
    base_url: &str,
) -> ApiResult<(String, crate::protocol::expand::Expand)> {
    let version = ctx.version_for(account);
    let urls_checked = prepared.is_some();
    let c = match prepared {
        Some(p) => p.input,
        None => read_create(
            params,
            crate::protocol::version::allows_legacy_line_items(Some(&version)),
        )?,
    };
    let now = account.now();

    let mode = match c.mode {
        None => return Err(ApiError::missing("mode")),
        Some("payment") => Mode::Payment,
        Some("setup") => Mode::Setup,
        Some(_) => {
            return Err(ApiError::invalid(
                "mode",
                "mock-stripe does not simulate subscriptions yet (mode=subscription): use mode=payment or mode=setup.",
            ));
        }
    };
    let ui_mode = c.ui_mode.unwrap_or(UiMode::Hosted);
    if ui_mode == UiMode::Hosted {
        if c.return_url.is_some() {
            return Err(ApiError::invalid(
                "return_url",
                "return_url can only be used with an embedded or custom ui_mode.",
            ));
        }
        let success = c
            .success_url
            .as_deref()
            .ok_or_else(|| ApiError::missing("success_url"))?;
        if !urls_checked {
            check_url("success_url", success)?;
            if let Some(u) = &c.cancel_url {
                check_url("cancel_url", u)?;
            }
        }
    } else {
        if c.success_url.is_some() {
            return Err(ApiError::invalid(
                "success_url",
                "success_url cannot be used with this ui_mode: use return_url.",
            ));
        }
        if c.cancel_url.is_some() {
            return Err(ApiError::invalid(
                "cancel_url",
                "cancel_url cannot be used with this ui_mode.",
            ));
        }
        match (&c.return_url, c.redirect_on_completion) {
            (Some(_), _) if urls_checked => {}
            (Some(u), _) => check_url("return_url", u)?,
            (None, Some(RedirectOnCompletion::Never)) => {}
            (None, _) => return Err(ApiError::missing("return_url")),
        }
    }
    if let Some(id) = &c.client_reference_id
        && id.chars().count() > 200
    {
        return Err(ApiError::invalid(
            "client_reference_id",
            "This value must be at most 200 characters.",
        ));
    }
    if c.customer.is_some() && c.customer_email.is_some() {
        return Err(ApiError::exclusive("customer", "customer_email"));
    }
    if let Some(id) = &c.customer {
        crate::resources::customers::existing(account, id, "customer")?;
        if c.customer_creation.is_some() {
            return Err(ApiError::exclusive("customer", "customer_creation"));
        }
    }
    if let Some(id) = &c.customer_account {
        // Nor any Account (v2) to stand for a customer.
        return Err(ApiError::no_such("account", id, "customer_account", false));
    }
    if let Some(email) = &c.customer_email {
        check_email("customer_email", email)?;
    }
    check_metadata("metadata", &c.metadata)?;
    if c.allow_promotion_codes.is_some() && !c.discounts.is_empty() {
        return Err(ApiError::exclusive("allow_promotion_codes", "discounts"));
    }
    if c.discounts.len() > 1 {
        return Err(ApiError::invalid(
            "discounts",
            "You may only specify one discount.",
        ));
    }
    let expires_at = match c.expires_at {
        None => now + MAX_LIFETIME,
        Some(t) if t < now + MIN_LIFETIME => {
            return Err(ApiError::invalid(
                "expires_at",
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            ));
        }
        Some(t) if t > now + MAX_LIFETIME => {
            return Err(ApiError::invalid(
                "expires_at",
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            ));
        }
        Some(t) => t,
    };

    let inputs = c.line_items.unwrap_or_default();
    let (line_items, currency, amount_total, subtotal, discount, discounts) = match mode {
        Mode::Payment => {
            if inputs.is_empty() {
                return Err(ApiError::missing("line_items"));
            }
            if inputs.len() > MAX_LINE_ITEMS {
                return Err(ApiError::invalid(
                    "line_items",
                    "You may only specify up to 100 line items.",
                ));
            }
            // Sized exactly: collecting through `Result` starts at a capacity of four, which
            // kept three unused line items (~2 KB) in every stored session.
            let mut items = Vec::with_capacity(inputs.len());
            for li in inputs {
                items.push(build_line_item(account, li)?);
            }
            let currency = items[0].currency().to_string();
            if let Some((i, other)) = items
                .iter()
                .enumerate()
                .find(|(_, li)| li.currency() != currency)
            {
                return Err(ApiError::invalid(
                    format!("line_items[{i}]"),
                    format!(
                        "All line items must have the same currency: line_items[0] is in {currency}, line_items[{i}] in {}.",
                        other.currency()
                    ),
                ));
            }
            let subtotal: i64 = items.iter().map(|li| li.amount).sum();
            let (discount, discounts) = apply_discounts(
                account,
                &c.discounts,
                &mut items,
                &currency,
                c.customer.as_deref(),
            )?;
            let total = subtotal - discount;
            let minimum = money::minimum_charge(&currency);
            // A discount may bring the total to zero (nothing to pay), never just above it.
            if total < minimum && !(discount > 0 && total == 0) {
                return Err(ApiError::new(
                    http::StatusCode::BAD_REQUEST,
                    Some("amount_too_small"),
                    format!(
                        "The Checkout Session's total amount due must add up to at least {} {currency}",
                        money::format_amount(minimum, &currency)
                    ),
                ));
            }
            if total > MAX_TOTAL {
                return Err(ApiError::new(
                    http::StatusCode::BAD_REQUEST,
                    Some("amount_too_large"),
                    format!(
                        "The Checkout Session's total amount due must be no more than {} {currency}",
                        money::format_amount(MAX_TOTAL, &currency)
                    ),
                ));
            }
            (
                items,
                Some(currency),
                Some(total),
                Some(subtotal),
                discount,
                discounts,
            )
        }
        Mode::Setup => {
            if !inputs.is_empty() {
                return Err(ApiError::invalid(
                    "line_items",
                    "You can not pass `line_items` in `setup` mode.",
                ));
            }
            let currency = match &c.currency {
                Some(raw) => Some(money::normalize(raw).ok_or_else(|| {
                    ApiError::invalid("currency", format!("Invalid currency: {raw}."))
                })?),
                None => None,
            };
            if !c.discounts.is_empty() {
                return Err(ApiError::invalid(
                    "discounts",
                    "You can not pass `discounts` in `setup` mode.",
                ));
            }
            (Vec::new(), currency, None, None, 0, Vec::new())
        }
    };
    if mode == Mode::Setup && c.payment_intent_data.is_some() {
        return Err(ApiError::invalid(
            "payment_intent_data",
            "You can not pass `payment_intent_data` in `setup` mode.",
        ));
    }

    let id = account.ids.session();
    let client_secret = (ui_mode != UiMode::Hosted).then(|| account.ids.client_secret(&id));
    let session = Session {
        page_base: account.page_base(base_url),
        id: id.clone(),
        created: now,
        expires_at,
        api_version: version.clone(),
        mode,
        ui_mode,
        status: Status::Open,
        payment_status: if mode == Mode::Payment && amount_total != Some(0) {
            PaymentStatus::Unpaid
        } else {
            PaymentStatus::NoPaymentRequired
        },
        currency,
        line_items,
        amount_total,
        amount_subtotal: subtotal,
        amount_discount: discount,
        discounts,
        customer: c.customer.clone(),
        success_url: c.success_url,
        cancel_url: c.cancel_url,
        return_url: c.return_url,
        redirect_on_completion: c
            .redirect_on_completion
            .or((ui_mode != UiMode::Hosted).then_some(RedirectOnCompletion::Always)),
        client_secret,
        client_reference_id: c.client_reference_id,
        customer_email: c.customer_email,
        // Before 2022-08-01 every payment-mode session made a Customer (contract §1.3).
        // Not with a given `customer` (Stripe answers `null` then).
        customer_creation: c.customer.is_none().then(|| {
            c.customer_creation.unwrap_or(
                if crate::protocol::version::allows_legacy_line_items(Some(&version)) {
                    CustomerCreation::Always
                } else {
                    CustomerCreation::IfRequired
                },
            )
        }),
        customer_details: None,
        metadata: c.metadata,
        payment_intent: None,
        payment_intent_data: c
            .payment_intent_data
            .filter(|d| *d != PaymentIntentData::default())
            .map(Box::new),
        // Empty: the default, `["card"]` (no allocation).
        payment_method_types: c
            .payment_method_types
            .filter(|t| *t != ["card"])
            .unwrap_or_default(),
        allow_promotion_codes: c.allow_promotion_codes,
        billing_address_collection: c.billing_address_collection,
        locale: c.locale,
        submit_type: c.submit_type,
        phone_number_collection: c.phone_number_collection.unwrap_or(false),
        tax_id_collection: c.tax_id_collection.unwrap_or(false),
        automatic_tax: c.automatic_tax.unwrap_or(false),
        shipping_countries: c.shipping_countries,
        custom_text: (c.custom_text != CustomText::default()).then(|| Box::new(c.custom_text)),
        allowed_payment_method_types: c.allowed_payment_method_types.filter(|t| !t.is_empty()),
        integration_identifier: c.integration_identifier,
        managed_payments: c.managed_payments,
        origin_context: c.origin_context,
        pending_authentication: None,
    };
    account.sessions.insert(session);
    // `checkout.session.expired` is sent at the moment `expires_at` passes.
    account.agenda.schedule(
        expires_at.saturating_mul(1000),
        Job::ExpireSession(id.clone()),
    );
    Ok((id, c.expand))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn validation_errors_name_param_and_code() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "success_url=https://shop.test/ok&line_items[0][price]=price_x&line_items[0][quantity]=1",
                Some("parameter_missing"),
                "mode",
            ),
            (
                "mode=payment&line_items[0][price]=price_x&line_items[0][quantity]=1",
                Some("parameter_missing"),
                "success_url",
            ),
            (
                "mode=payment&success_url=shop.test/ok",
                Some("url_invalid"),
                "success_url",
            ),
            (
                "mode=payment&success_url=https://shop.test/ok",
                Some("parameter_missing"),
                "line_items",
            ),
            (
                "mode=payment&success_url=https://shop.test/ok&line_items[0][price]=price_nope&line_items[0][quantity]=1",
                Some("resource_missing"),
                "line_items[0][price]",
            ),
            (
                "mode=payment&success_url=https://shop.test/ok&foo=bar",
                Some("parameter_unknown"),
                "foo",
            ),
            ("mode=bogus&success_url=https://shop.test/ok", None, "mode"),
        ];
        for (wire, code, param) in cases {
            let e = create_err(wire, Some("2026-09-30.endive"));
            assert_eq!(
                (e.code, e.param.as_deref()),
                (*code, Some(*param)),
                "{wire}: {}",
                e.message
            );
            assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        }
        let e = create_err(&BASIC.replace("[quantity]=2", "[quantity]=0"), None);
        assert_eq!(e.param.as_deref(), Some("line_items[0][quantity]"));
        assert_eq!(e.message, "This value must be greater than or equal to 1.");
        let e = create_err(&BASIC.replace("unit_amount]=1999", "unit_amount]=-5"), None);
        assert_eq!(
            e.param.as_deref(),
            Some("line_items[0][price_data][unit_amount]")
        );
        assert_eq!(e.message, "This value must be greater than or equal to 0.");
        let e = create_err(
            &BASIC.replace("unit_amount]=1999", "unit_amount]=abc"),
            None,
        );
        assert_eq!(
            (e.code, e.message.as_str()),
            (Some("parameter_invalid_integer"), "Invalid integer: abc")
        );
        let e = create_err(
            &BASIC
                .replace("unit_amount]=1999", "unit_amount]=20")
                .replace("[quantity]=2", "[quantity]=1"),
            None,
        );
        assert_eq!(e.code, Some("amount_too_small"));
        assert_eq!(
            e.message,
            "The Checkout Session's total amount due must add up to at least $0.50 usd"
        );
        let e = create_err(&with("customer=cus_1&customer_email=a@b.test"), None);
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                Some("parameters_exclusive"),
                "You may only specify one of these parameters: customer, customer_email."
            )
        );
        let e = create_err(&with("customer_email=not-an-email"), None);
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("email_invalid"), Some("customer_email"))
        );
        let e = create_err(&with(&format!("expires_at={}", NOW + 60)), None);
        assert_eq!(e.param.as_deref(), Some("expires_at"));
        let e = create_err(&with(&format!("expires_at={}", NOW + 90_000)), None);
        assert_eq!(e.param.as_deref(), Some("expires_at"));
        let e = create_err(
            &with(
                "line_items[1][price_data][currency]=eur&line_items[1][price_data][unit_amount]=100&line_items[1][price_data][product_data][name]=X&line_items[1][quantity]=1",
            ),
            None,
        );
        assert_eq!(e.param.as_deref(), Some("line_items[1]"));
        assert!(e.message.contains("same currency"), "{}", e.message);
        let e = create_err(
            &with("line_items[0][price_data][product_data][colour]=red"),
            None,
        );
        assert_eq!(
            e.param.as_deref(),
            Some("line_items[0][price_data][product_data][colour]")
        );
        let e = create_err(
            &BASIC.replace(
                "[product_data][name]=T-shirt",
                "[product_data][description]=x",
            ),
            None,
        );
        assert_eq!(
            (e.code, e.param.as_deref()),
            (
                Some("parameter_missing"),
                Some("line_items[0][price_data][product_data][name]")
            )
        );
        let e = create_err(&BASIC.replace("currency]=usd", "currency]=xyz"), None);
        assert_eq!(
            e.param.as_deref(),
            Some("line_items[0][price_data][currency]")
        );
    }

    #[test]
    fn custom_expiry_and_decimal_amounts() {
        let v = try_create(
            &mut account(),
            &with(&format!("expires_at={}", NOW + 3600)),
            None,
        )
        .unwrap();
        assert_eq!(v["expires_at"], NOW + 3600);
        let wire = BASIC.replace("[unit_amount]=1999", "[unit_amount_decimal]=33.335");
        let v = try_create(&mut account(), &wire, None).unwrap();
        assert_eq!(v["amount_total"], 67); // 33.335 × 2 = 66.67 → 67
    }

    /// What `prepare` reads before the account's turn changes nothing a client sees: every
    /// create below gives the same answer, or the same error, with and without it.
    #[test]
    fn a_prepared_create_answers_as_an_unprepared_one() {
        use super::super::create as create_reply;
        use super::prepare;
        use crate::protocol::Params;
        let legacy = "mode=payment&success_url=https://shop.test/ok&line_items[0][name]=Tee\
            &line_items[0][amount]=500&line_items[0][currency]=usd&line_items[0][quantity]=1";
        // (wire, API version, whether `prepare` takes it)
        let cases: &[(String, Option<&str>, bool)] = &[
            (BASIC.to_string(), None, true),
            (with("customer_email=buyer@example.com&metadata[order]=7"), None, true),
            (with("ui_mode=embedded"), None, true),
            (
                "mode=payment&ui_mode=embedded&return_url=https://shop.test/r?s={CHECKOUT_SESSION_ID}\
                 &line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=5\
                 &line_items[0][price_data][product_data][name]=x&line_items[0][quantity]=1"
                    .to_string(),
                None,
                true,
            ),
            (with("return_url=https://shop.test/r"), None, true),
            (with("mode=setup"), None, true),
            (BASIC.replace("https://shop.test/cart", "not a url"), None, false),
            (with("return_url=nope"), None, false),
            (BASIC.replace("quantity]=2", "quantity]=two"), None, false),
            (with("foo=bar"), None, false),
            (legacy.to_string(), Some("2020-08-27"), false),
            (legacy.to_string(), None, false),
            (BASIC.to_string(), Some("2020-08-27"), true),
        ];
        let answer = |wire: &str, version: Option<&str>, prepared: bool| {
            let params = Params::decode(&[wire.as_bytes()]).unwrap();
            let prepared = if prepared { prepare(&params) } else { None };
            let mut a = account();
            match create_reply(
                &mut a,
                prepared,
                &params,
                &ctx(version),
                "http://127.0.0.1:12111",
            ) {
                Ok((_, reply)) => {
                    let mut v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
                    mask_ids(&mut v);
                    Ok(v)
                }
                Err(e) => Err((e.status, e.body())),
            }
        };
        for (wire, version, takes) in cases {
            let params = Params::decode(&[wire.as_bytes()]).unwrap();
            assert_eq!(prepare(&params).is_some(), *takes, "{wire}");
            assert_eq!(
                answer(wire, *version, true),
                answer(wire, *version, false),
                "{wire} at {version:?}"
            );
        }
    }

    /// Ids, secrets and the URLs built from them differ between two new sessions.
    fn mask_ids(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s)
                if s.contains("_test_") || s.starts_with("pi_") || s.starts_with("http://127") =>
            {
                *s = "<id>".into()
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(mask_ids),
            serde_json::Value::Object(o) => o.values_mut().for_each(mask_ids),
            _ => {}
        }
    }
}
