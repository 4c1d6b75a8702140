//! What a session takes from the account's catalog, customers and discounts: line items
//! from a Price id (`line_items[][price]=price_…`), `adjustable_quantity`,
//! `discounts[0][coupon]` / `discounts[0][promotion_code]` spread over the line items, and
//! what completing the session does with them (a new Customer, redemptions).

use super::object::{AdjustableQuantity, CustomerCreation, LineItem, SessionDiscount};
use super::params::{DiscountIn, LineItemIn};
use crate::ids::prefix;
use crate::protocol::{ApiError, ApiResult, Fields};
use crate::resources::check_metadata;
use serde_json::value::RawValue;

use crate::resources::events::{EventRequest, snapshot};
use crate::resources::{coupons, customers, promotion_codes};
use crate::store::Account;

/// Stripe's bounds on a line item's quantity.
const MAX_QUANTITY: i64 = 999_999;
/// `adjustable_quantity[maximum]` when not given.
const DEFAULT_MAXIMUM: i64 = 99;

/// `line_items[][adjustable_quantity]` as sent.
pub(crate) struct AdjustableIn {
    path: String,
    enabled: Option<bool>,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

pub(super) fn read_adjustable(f: &mut Fields<'_>) -> ApiResult<Option<AdjustableIn>> {
    let path = f.path_of("adjustable_quantity");
    let Some(mut o) = f.object("adjustable_quantity")? else {
        return Ok(None);
    };
    let a = AdjustableIn {
        path,
        enabled: o.bool("enabled")?,
        minimum: o.int("minimum")?,
        maximum: o.int("maximum")?,
    };
    o.finish()?;
    Ok(Some(a))
}

/// Checks `adjustable_quantity` against the item's `quantity`.
pub(super) fn check_adjustable(
    a: Option<AdjustableIn>,
    quantity: i64,
    quantity_param: &str,
) -> ApiResult<Option<AdjustableQuantity>> {
    let Some(a) = a else {
        return Ok(None);
    };
    let p = |k: &str| format!("{}[{k}]", a.path);
    let enabled = a.enabled.ok_or_else(|| ApiError::missing(&p("enabled")))?;
    let (min, max) = (a.minimum.unwrap_or(0), a.maximum.unwrap_or(DEFAULT_MAXIMUM));
    if min < 0 {
        return Err(ApiError::too_small(&p("minimum"), 0));
    }
    if max > MAX_QUANTITY {
        return Err(ApiError::too_large(&p("maximum"), MAX_QUANTITY));
    }
    if max < 1 {
        return Err(ApiError::too_small(&p("maximum"), 1));
    }
    if min > max {
        return Err(ApiError::invalid(
            p("minimum"),
            "adjustable_quantity[minimum] must be less than or equal to adjustable_quantity[maximum].",
        ));
    }
    if enabled && !(min..=max).contains(&quantity) {
        return Err(ApiError::invalid(
            quantity_param,
            format!(
                "The quantity must be between adjustable_quantity[minimum] ({min}) and adjustable_quantity[maximum] ({max})."
            ),
        ));
    }
    Ok(Some(AdjustableQuantity {
        enabled,
        maximum: a.maximum,
        minimum: a.minimum,
    }))
}

/// A line item for `line_items[i][price]=price_…`: the price must exist, be active, be
/// one-time (payment mode), and belong to an active product. The line item keeps a copy
/// of the price and its product.
pub(super) fn price_line_item(
    account: &mut Account,
    li: LineItemIn,
    price_id: &str,
) -> ApiResult<LineItem> {
    let p = |k: &str| format!("{}[{k}]", li.path);
    let price = account
        .prices
        .get(price_id)
        .ok_or_else(|| ApiError::no_such("price", price_id, &p("price"), false))?
        .clone();
    if !price.active {
        return Err(ApiError::invalid(
            p("price"),
            "The price specified is inactive. This field only accepts active prices.",
        ));
    }
    if price.recurring.is_some() {
        return Err(ApiError::invalid(
            p("price"),
            "You specified `payment` mode but passed a recurring price. Either switch to \
             `subscription` mode or use only one-time prices. (mock-stripe does not simulate \
             subscriptions yet.)",
        ));
    }
    let product = account
        .products
        .get(&price.product)
        .cloned()
        .ok_or_else(|| ApiError::no_such("product", &price.product, &p("price"), false))?;
    if !product.active {
        return Err(ApiError::invalid(
            p("price"),
            format!(
                "The product `{}` of this price is not active. This field only accepts prices of active products.",
                product.id
            ),
        ));
    }
    let quantity = li
        .quantity
        .ok_or_else(|| ApiError::missing(&p("quantity")))?;
    if quantity < 1 {
        return Err(ApiError::too_small(&p("quantity"), 1));
    }
    if quantity > MAX_QUANTITY {
        return Err(ApiError::too_large(&p("quantity"), MAX_QUANTITY));
    }
    let adjustable_quantity = check_adjustable(li.adjustable_quantity, quantity, &p("quantity"))?;
    check_metadata(&p("metadata"), &li.metadata)?;
    let amount = price.amount_for(quantity);
    Ok(LineItem::new(
        account.ids.object(prefix::LINE_ITEM),
        quantity,
        amount,
        li.metadata,
        adjustable_quantity,
        price,
        product,
    ))
}

/// Applies `discounts[0]` (already checked to be at most one) to the items of a session in
/// `currency` for `customer`: sets each item's `amount_discount` and returns the total
/// discount and what the session shows in `discounts`.
pub(super) fn apply_discounts(
    account: &Account,
    discounts: &[DiscountIn],
    items: &mut [LineItem],
    currency: &str,
    customer: Option<&str>,
) -> ApiResult<(i64, Vec<SessionDiscount>)> {
    let Some(d) = discounts.first() else {
        return Ok((0, Vec::new()));
    };
    let now = account.now();
    let subtotal: i64 = items.iter().map(|li| li.amount).sum();
    let (coupon, shown) = match (&d.coupon, &d.promotion_code) {
        (Some(_), Some(_)) => {
            return Err(ApiError::exclusive(
                &format!("{}[coupon]", d.path),
                &format!("{}[promotion_code]", d.path),
            ));
        }
        (None, None) => return Err(ApiError::missing(&format!("{}[coupon]", d.path))),
        (Some(id), None) => {
            let param = format!("{}[coupon]", d.path);
            let coupon = coupons::existing(account, id, &param)?;
            if let Some(why) = coupon.refusal(now, currency) {
                return Err(ApiError::invalid(param, why));
            }
            let shown = SessionDiscount {
                coupon: Some(id.clone()),
                promotion_code: None,
            };
            (coupon, shown)
        }
        (None, Some(id)) => {
            let param = format!("{}[promotion_code]", d.path);
            let promo = promotion_codes::existing(account, id, &param)?;
            let coupon = coupons::existing(account, &promo.coupon, &param)?;
            if let Some(why) = promo.refusal(coupon, now, subtotal, currency, customer) {
                return Err(ApiError::invalid(param, why));
            }
            let shown = SessionDiscount {
                coupon: None,
                promotion_code: Some(id.clone()),
            };
            (coupon, shown)
        }
    };
    let lines: Vec<(&str, i64)> = items
        .iter()
        .map(|li| (&*li.product.id, li.amount))
        .collect();
    let shares = coupon.allocate(&lines);
    let mut total = 0;
    for (li, share) in items.iter_mut().zip(shares) {
        li.amount_discount = share;
        total += share;
    }
    Ok((total, vec![shown]))
}

/// A completed session redeems its coupon or promotion code once.
pub(super) fn redeem(account: &mut Account, discounts: &[SessionDiscount]) {
    for d in discounts {
        if let Some(id) = &d.promotion_code {
            let coupon = account.promotion_codes.get(id).map(|p| p.coupon.clone());
            promotion_codes::redeem(account, id);
            if let Some(c) = coupon {
                coupons::redeem(account, &c);
            }
        } else if let Some(c) = &d.coupon {
            coupons::redeem(account, c);
        }
    }
}

/// What completing a session does besides moving money: the Customer it asked for
/// (`customer_creation=always`, which sessions made before API 2022-08-01 imply), made from
/// what the payer typed (`customer.created`) and named in `session.customer` and on the
/// session's PaymentIntent and `charge` (when given); and one redemption of its coupon or
/// promotion code. Called by `lifecycle` when a session completes, before the objects are
/// snapshotted for their events. Returns the charge's JSON again when it changed.
pub(super) fn on_completion(
    account: &mut Account,
    id: &str,
    email: Option<&str>,
    name: Option<&str>,
    request: &EventRequest,
    charge: Option<&str>,
) -> ApiResult<Option<Box<RawValue>>> {
    let Some(session) = account.sessions.get(id) else {
        return Ok(None);
    };
    let creates =
        session.customer.is_none() && session.customer_creation == Some(CustomerCreation::Always);
    let discounts = session.discounts.clone();
    let pi = session.payment_intent.clone();
    redeem(account, &discounts);
    let Some(customer) = (if creates {
        Some(customers::create_for_checkout(
            account, email, name, request,
        )?)
    } else {
        account.sessions.get(id).and_then(|s| s.customer.clone())
    }) else {
        return Ok(None);
    };
    if let Some(s) = account.sessions.get_mut(id) {
        s.customer = Some(customer.clone());
    }
    if let Some(pi) = pi.and_then(|pi| account.payment_intents.get_mut(&pi)) {
        pi.customer.get_or_insert_with(|| customer.clone());
    }
    match charge.and_then(|c| account.charges.get_mut(c)) {
        Some(ch) if ch.customer.is_none() => {
            ch.customer = Some(customer);
            snapshot(&ch.json()).map(Some)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Payer, pay};
    use crate::resources::test_support::{call, event_types};
    use crate::resources::{coupons, customers, prices, products, promotion_codes};
    use crate::store::Account;
    use serde_json::Value;

    const SESSION: &str = "mode=payment&success_url=https://shop.test/ok";

    /// A product with a one-time price of 1500 (lookup key `book`); the price id.
    fn catalog(a: &mut Account) -> String {
        let prod = call(products::create, a, "name=Book&description=Hardback").unwrap();
        let prod = prod["id"].as_str().unwrap();
        call(
            prices::create,
            a,
            &format!("product={prod}&currency=usd&unit_amount=1500&lookup_key=book"),
        )
        .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn paid(a: &mut Account, id: &str) {
        let card = card("4242424242424242");
        pay(
            a,
            id,
            &Payer {
                card: &card,
                email: "jenny@example.com",
                name: Some("Jenny Rosen"),
                authenticated: None,
            },
        )
        .unwrap();
    }

    #[test]
    fn a_session_from_a_price_id() {
        let mut a = account();
        let price = catalog(&mut a);
        let v = try_create(
            &mut a,
            &format!(
                "{SESSION}&line_items[0][price]={price}&line_items[0][quantity]=2\
                 &line_items[0][adjustable_quantity][enabled]=true&line_items[0][adjustable_quantity][maximum]=5\
                 &expand[]=line_items.data.price.product"
            ),
            None,
        )
        .unwrap();
        assert_eq!(v["amount_total"], 3000);
        assert_eq!(v["amount_subtotal"], 3000);
        let item = &v["line_items"]["data"][0];
        assert_eq!(item["description"], "Book");
        assert_eq!(item["price"]["id"], price.as_str());
        assert_eq!(item["price"]["active"], true);
        assert_eq!(item["price"]["lookup_key"], "book");
        assert_eq!(item["price"]["product"]["description"], "Hardback");
        assert_eq!(
            item["adjustable_quantity"],
            serde_json::json!({"enabled": true, "maximum": 5, "minimum": null})
        );
    }

    #[test]
    fn prices_a_session_refuses() {
        let mut a = account();
        let price = catalog(&mut a);
        let item =
            |p: &str| format!("{SESSION}&line_items[0][price]={p}&line_items[0][quantity]=1");
        let e = create_err(&item("price_nope"), None);
        assert_eq!(
            (e.code, e.param.as_deref(), e.message.as_str()),
            (
                Some("resource_missing"),
                Some("line_items[0][price]"),
                "No such price: 'price_nope'"
            )
        );
        let ctx = ctx(None);
        let archive = crate::protocol::Params::decode(&[b"active=false".as_slice()]).unwrap();
        prices::update(&mut a, &price, &archive, &ctx).unwrap();
        let e = try_create(&mut a, &item(&price), None).err().unwrap();
        assert_eq!(e.param.as_deref(), Some("line_items[0][price]"));
        assert_eq!(
            e.message,
            "The price specified is inactive. This field only accepts active prices."
        );
        let prod = a.prices.get(&price).unwrap().product.clone();
        let monthly = call(
            prices::create,
            &mut a,
            &format!("product={prod}&currency=usd&unit_amount=500&recurring[interval]=month"),
        )
        .unwrap();
        let e = try_create(&mut a, &item(monthly["id"].as_str().unwrap()), None)
            .err()
            .unwrap();
        assert!(
            e.message
                .starts_with("You specified `payment` mode but passed a recurring price.")
        );
        let e = try_create(
            &mut a,
            &format!("{SESSION}&line_items[0][price]={}&line_items[0][quantity]=9&line_items[0][adjustable_quantity][enabled]=true&line_items[0][adjustable_quantity][maximum]=5", monthly["id"].as_str().unwrap()),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(e.param.as_deref(), Some("line_items[0][price]"));
        let e = create_err(
            &with("mode=subscription").replace("mode=payment&", ""),
            None,
        );
        assert!(
            e.message.contains("does not simulate subscriptions"),
            "{}",
            e.message
        );
    }

    #[test]
    fn customers_on_sessions() {
        let mut a = account();
        let cus = call(customers::create, &mut a, "email=jenny@example.com").unwrap();
        let cus = cus["id"].as_str().unwrap().to_string();
        let e = create_err(&with("customer=cus_nope"), None);
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("resource_missing"), Some("customer"))
        );
        let e = try_create(
            &mut a,
            &with(&format!("customer={cus}&customer_email=x@y.test")),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(e.code, Some("parameters_exclusive"));
        let v = try_create(&mut a, &with(&format!("customer={cus}")), None).unwrap();
        assert_eq!(v["customer"], cus.as_str());
        assert_eq!(v["customer_creation"], Value::Null);
        let id = v["id"].as_str().unwrap().to_string();
        paid(&mut a, &id);
        assert_eq!(a.customers.len(), 1, "a given customer is not duplicated");
        let pi = a.sessions.get(&id).unwrap().payment_intent.clone().unwrap();
        assert_eq!(
            a.payment_intents.get(&pi).unwrap().customer.as_deref(),
            Some(cus.as_str())
        );

        // customer_creation=always: the payer becomes a Customer, named everywhere.
        let v = try_create(&mut a, &with("customer_creation=always"), None).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        let before = a.events.len();
        paid(&mut a, &id);
        let s = a.sessions.get(&id).unwrap();
        let created = s.customer.clone().expect("a customer was made");
        let c = a.customers.get(&created).unwrap();
        assert_eq!(
            (c.email.as_deref(), c.name.as_deref()),
            (Some("jenny@example.com"), Some("Jenny Rosen"))
        );
        let pi = a
            .payment_intents
            .get(s.payment_intent.as_deref().unwrap())
            .unwrap();
        assert_eq!(pi.customer.as_deref(), Some(created.as_str()));
        let types = &event_types(&a)[before..];
        assert!(types.contains(&"customer.created"), "{types:?}");
        let completed = a.events.rows().iter().next_back().unwrap();
        assert_eq!(completed.kind, "checkout.session.completed");
        let obj: Value = serde_json::from_str(completed.object().unwrap().get()).unwrap();
        assert_eq!(obj["customer"], created.as_str());
        let charge = a
            .events
            .rows()
            .iter()
            .skip(before)
            .find(|e| e.kind == "charge.succeeded")
            .unwrap();
        let charge: Value = serde_json::from_str(charge.object().unwrap().get()).unwrap();
        assert_eq!(charge["customer"], created.as_str());

        // if_required (the default since 2022-08-01): a guest stays a guest.
        let id = new_session(&mut a);
        let customers_before = a.customers.len();
        paid(&mut a, &id);
        assert_eq!(a.customers.len(), customers_before);
        assert_eq!(a.sessions.get(&id).unwrap().customer, None);

        // Sessions list by customer.
        let p =
            crate::protocol::Params::decode(&[format!("customer={created}").as_bytes()]).unwrap();
        let l: Value =
            serde_json::from_slice(&super::super::list(&mut a, &p, &ctx(None)).unwrap().body)
                .unwrap();
        assert_eq!(l["data"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn coupons_and_promotion_codes_discount_the_totals() {
        let mut a = account();
        call(coupons::create, &mut a, "id=QUARTER&percent_off=25").unwrap();
        call(
            coupons::create,
            &mut a,
            "id=FIVE&amount_off=500&currency=usd&max_redemptions=1",
        )
        .unwrap();
        // BASIC: 2 × 1999 = 3998; plus a sticker of 500.
        let two = with(
            "line_items[1][price_data][currency]=usd&line_items[1][price_data][unit_amount]=500\
             &line_items[1][price_data][product_data][name]=Sticker&line_items[1][quantity]=1",
        );
        let v = try_create(
            &mut a,
            &format!("{two}&discounts[0][coupon]=QUARTER&expand[]=line_items"),
            None,
        )
        .unwrap();
        assert_eq!(v["amount_subtotal"], 4498);
        assert_eq!(v["total_details"]["amount_discount"], 1125); // 25 % of 4498, rounded
        assert_eq!(v["amount_total"], 4498 - 1125);
        assert_eq!(
            v["discounts"],
            serde_json::json!([{"coupon": "QUARTER", "promotion_code": null}])
        );
        let items = v["line_items"]["data"].as_array().unwrap();
        let shares: i64 = items
            .iter()
            .map(|i| i["amount_discount"].as_i64().unwrap())
            .sum();
        assert_eq!(shares, 1125);
        assert_eq!(
            items[0]["amount_total"],
            3998 - items[0]["amount_discount"].as_i64().unwrap()
        );

        let promo = call(promotion_codes::create, &mut a, "coupon=FIVE&code=FIVEOFF").unwrap();
        let promo = promo["id"].as_str().unwrap();
        let v = try_create(
            &mut a,
            &with(&format!("discounts[0][promotion_code]={promo}")),
            None,
        )
        .unwrap();
        assert_eq!(v["amount_total"], 3498);
        let id = v["id"].as_str().unwrap().to_string();
        paid(&mut a, &id);
        let pi = a.sessions.get(&id).unwrap().payment_intent.clone().unwrap();
        assert_eq!(
            a.payment_intents.get(&pi).unwrap().amount,
            3498,
            "charged the discounted total"
        );
        assert_eq!(a.coupons.get("FIVE").unwrap().times_redeemed, 1);
        assert_eq!(a.promotion_codes.get(promo).unwrap().times_redeemed, 1);
        // FIVE is used up (max_redemptions=1).
        let e = try_create(&mut a, &with("discounts[0][coupon]=FIVE"), None)
            .err()
            .unwrap();
        assert_eq!(e.param.as_deref(), Some("discounts[0][coupon]"));
        let e = create_err(&with("discounts[0][coupon]=NOPE"), None);
        assert_eq!(
            (e.code, e.message.as_str()),
            (Some("resource_missing"), "No such coupon: 'NOPE'")
        );
        let e = create_err(
            &with("discounts[0][coupon]=X&allow_promotion_codes=true"),
            None,
        );
        assert_eq!(e.code, Some("parameters_exclusive"));
    }

    #[test]
    fn a_free_session_completes_without_payment() {
        let mut a = account();
        call(coupons::create, &mut a, "id=FREE&percent_off=100").unwrap();
        let v = try_create(&mut a, &with("discounts[0][coupon]=FREE"), None).unwrap();
        assert_eq!(
            (v["amount_total"].clone(), v["payment_status"].clone()),
            (0.into(), "no_payment_required".into())
        );
        let id = v["id"].as_str().unwrap().to_string();
        paid(&mut a, &id);
        let s = a.sessions.get(&id).unwrap();
        assert_eq!(s.status, super::super::Status::Complete);
        assert_eq!(s.payment_intent, None);
        assert_eq!(event_types(&a).last(), Some(&"checkout.session.completed"));
        assert_eq!(a.coupons.get("FREE").unwrap().times_redeemed, 1);
    }
}
