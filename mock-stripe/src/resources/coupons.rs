//! Coupons (`/v1/coupons`): create, retrieve, list, and `coupon.created`. A coupon takes a
//! percentage or a fixed amount off what a Checkout Session charges ([`Coupon::allocate`]),
//! optionally only on some products (`applies_to[products]`), and stops being `valid`
//! after `redeem_by` or `max_redemptions` redemptions (a completed session redeems it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{check_metadata, event_request, one_of, string_enum};
use crate::money;
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::{
    ApiError, ApiResult, Fields, Params, RangeFilter, Reply, RequestCtx, read_expand,
};
use crate::resources::events::{emit, snapshot};
use crate::store::{Account, Keyed};

const MAX_NAME: usize = 40;

string_enum! {
    /// `coupon.duration`: how long a subscription keeps the discount (one payment: `once`).
    pub(crate) enum Duration {
        Forever = "forever",
        Once = "once",
        Repeating = "repeating",
    }
}

/// What a coupon takes off.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Off {
    /// A percentage, 0 < p ≤ 100.
    Percent(f64),
    /// An amount in the minor unit of `currency`.
    Amount { amount: i64, currency: String },
}

/// A coupon as stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Coupon {
    pub id: String,
    pub created: i64,
    pub name: Option<String>,
    pub off: Off,
    pub duration: Duration,
    pub duration_in_months: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub redeem_by: Option<i64>,
    pub times_redeemed: i64,
    pub metadata: BTreeMap<String, String>,
    /// `applies_to[products]`: only these products are discounted (`None`: every one).
    pub applies_to: Option<Vec<String>>,
}

impl Keyed for Coupon {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Coupon {
    /// Whether it can still be redeemed at `now`.
    pub fn valid(&self, now: i64) -> bool {
        self.max_redemptions
            .is_none_or(|max| self.times_redeemed < max)
            && self.redeem_by.is_none_or(|t| now < t)
    }

    /// Why it cannot be applied to a purchase in `currency` at `now`, as Stripe says it.
    pub fn refusal(&self, now: i64, currency: &str) -> Option<String> {
        if !self.valid(now) {
            return Some(format!(
                "This coupon (`{}`) is no longer valid: it has expired or reached its maximum number of redemptions.",
                self.id
            ));
        }
        match &self.off {
            Off::Amount { currency: c, .. } if c != currency => Some(format!(
                "The coupon `{}` is for amounts in {c}: it cannot be applied to a purchase in {currency}.",
                self.id
            )),
            _ => None,
        }
    }

    /// Splits the discount over line items given as `(product id, amount)`: the coupon's
    /// share of each, summing to the whole discount (rounded half up; leftover cents go
    /// to the first items). Items of products outside `applies_to` get 0.
    pub fn allocate(&self, items: &[(&str, i64)]) -> Vec<i64> {
        let eligible: Vec<bool> = items
            .iter()
            .map(|(product, _)| {
                self.applies_to
                    .as_ref()
                    .is_none_or(|ps| ps.iter().any(|p| p == product))
            })
            .collect();
        let base: i64 = items
            .iter()
            .zip(&eligible)
            .filter(|(_, e)| **e)
            .map(|((_, a), _)| *a)
            .sum();
        if base <= 0 {
            return vec![0; items.len()];
        }
        let total = match &self.off {
            Off::Percent(p) => ((base as f64) * p / 100.0).round() as i64,
            Off::Amount { amount, .. } => *amount,
        }
        .clamp(0, base);
        let mut shares: Vec<i64> = items
            .iter()
            .zip(&eligible)
            .map(|((_, a), e)| {
                if *e {
                    (i128::from(total) * i128::from(*a) / i128::from(base)) as i64
                } else {
                    0
                }
            })
            .collect();
        let mut left = total - shares.iter().sum::<i64>();
        for (i, share) in shares.iter_mut().enumerate() {
            if left == 0 {
                break;
            }
            if eligible[i] && *share < items[i].1 {
                *share += 1;
                left -= 1;
            }
        }
        shares
    }

    pub fn json(&self, now: i64) -> CouponJson<'_> {
        let (percent_off, amount_off, currency) = match &self.off {
            Off::Percent(p) => (Some(*p), None, None),
            Off::Amount { amount, currency } => (None, Some(*amount), Some(currency.as_str())),
        };
        CouponJson {
            id: &self.id,
            object: "coupon",
            amount_off,
            applies_to: self
                .applies_to
                .as_ref()
                .map(|products| AppliesToJson { products }),
            created: self.created,
            currency,
            duration: self.duration.as_str(),
            duration_in_months: self.duration_in_months,
            livemode: false,
            max_redemptions: self.max_redemptions,
            metadata: &self.metadata,
            name: self.name.as_deref(),
            percent_off,
            redeem_by: self.redeem_by,
            times_redeemed: self.times_redeemed,
            valid: self.valid(now),
        }
    }
}

#[derive(Serialize)]
struct AppliesToJson<'a> {
    products: &'a [String],
}

/// The JSON of a coupon.
#[derive(Serialize)]
pub(crate) struct CouponJson<'a> {
    id: &'a str,
    object: &'static str,
    amount_off: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    applies_to: Option<AppliesToJson<'a>>,
    created: i64,
    currency: Option<&'a str>,
    duration: &'static str,
    duration_in_months: Option<i64>,
    livemode: bool,
    max_redemptions: Option<i64>,
    metadata: &'a BTreeMap<String, String>,
    name: Option<&'a str>,
    percent_off: Option<f64>,
    redeem_by: Option<i64>,
    times_redeemed: i64,
    valid: bool,
}

/// `12`, `12.5`, `33.33`: a plain decimal, as the SDKs send numbers.
fn parse_percent(param: &str, s: &str) -> ApiResult<f64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = !int.is_empty()
        && int.len() <= 3
        && frac.len() <= 12
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
    let value: f64 = if digits { s.parse().ok() } else { None }
        .ok_or_else(|| ApiError::invalid(param, format!("Invalid decimal: {s}")))?;
    if value <= 0.0 {
        return Err(ApiError::invalid(
            param,
            "This value must be greater than 0.",
        ));
    }
    if value > 100.0 {
        return Err(ApiError::too_large(param, 100));
    }
    Ok(value)
}

/// A coupon named in a parameter: 400 `resource_missing` when it does not exist.
pub(crate) fn existing<'a>(account: &'a Account, id: &str, param: &str) -> ApiResult<&'a Coupon> {
    account
        .coupons
        .get(id)
        .ok_or_else(|| ApiError::no_such("coupon", id, param, false))
}

/// A coupon has been used (a Checkout Session that applied it completed).
pub(crate) fn redeem(account: &mut Account, id: &str) {
    if let Some(c) = account.coupons.get_mut(id) {
        c.times_redeemed += 1;
    }
}

/// `POST /v1/coupons`: emits `coupon.created`.
pub(crate) fn create(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let id = f.owned("id")?;
    let percent_off = f.owned("percent_off")?;
    let amount_off = f.int("amount_off")?;
    let currency = f.owned("currency")?;
    let duration: Option<Duration> = one_of(&mut f, "duration")?;
    let duration_in_months = f.int("duration_in_months")?;
    let max_redemptions = f.int("max_redemptions")?;
    let redeem_by = f.int("redeem_by")?;
    let name = f.owned("name")?;
    let metadata = f
        .string_map("metadata")?
        .map(|m| m.to_map())
        .unwrap_or_default();
    let applies_to = match f.object("applies_to")? {
        Some(mut o) => {
            let products = o.string_list("products")?;
            o.finish()?;
            products
        }
        None => None,
    };
    if f.has("currency_options") {
        return Err(ApiError::invalid(
            "currency_options",
            "mock-stripe does not simulate `currency_options` on coupons yet.",
        ));
    }
    read_expand(&mut f, &["applies_to"])?;
    f.finish()?;

    let now = account.now();
    let off = match (percent_off, amount_off) {
        (Some(_), Some(_)) => return Err(ApiError::exclusive("percent_off", "amount_off")),
        (None, None) => {
            return Err(ApiError::invalid(
                "percent_off",
                "You must pass either `percent_off` or `amount_off` (with `currency`).",
            ));
        }
        (Some(p), None) => Off::Percent(parse_percent("percent_off", &p)?),
        (None, Some(amount)) => {
            if amount < 1 {
                return Err(ApiError::too_small("amount_off", 1));
            }
            let raw = currency.ok_or_else(|| ApiError::missing("currency"))?;
            let currency = money::normalize(&raw).ok_or_else(|| {
                ApiError::invalid("currency", format!("Invalid currency: {raw}."))
            })?;
            Off::Amount { amount, currency }
        }
    };
    let duration = duration.unwrap_or(Duration::Once);
    match (duration, duration_in_months) {
        (Duration::Repeating, None) => return Err(ApiError::missing("duration_in_months")),
        (Duration::Repeating, Some(m)) if m < 1 => {
            return Err(ApiError::too_small("duration_in_months", 1));
        }
        (Duration::Forever | Duration::Once, Some(_)) => {
            return Err(ApiError::invalid(
                "duration_in_months",
                "duration_in_months can only be set when duration is `repeating`.",
            ));
        }
        _ => {}
    }
    if let Some(m) = max_redemptions
        && m < 1
    {
        return Err(ApiError::too_small("max_redemptions", 1));
    }
    if let Some(t) = redeem_by
        && t <= now
    {
        return Err(ApiError::invalid(
            "redeem_by",
            "Invalid timestamp: redeem_by must be in the future.",
        ));
    }
    if let Some(n) = &name
        && n.chars().count() > MAX_NAME
    {
        return Err(ApiError::invalid(
            "name",
            format!("The coupon name must be at most {MAX_NAME} characters."),
        ));
    }
    check_metadata("metadata", &metadata)?;
    for (i, p) in applies_to.iter().flatten().enumerate() {
        super::products::existing(account, p, &format!("applies_to[products][{i}]"))?;
    }
    let id = match id {
        Some(id) => {
            if account.coupons.get(&id).is_some() {
                return Err(ApiError::new(
                    http::StatusCode::BAD_REQUEST,
                    Some("resource_already_exists"),
                    "Coupon already exists.",
                )
                .with_param("id"));
            }
            id
        }
        None => account.ids.with_len("", 8).to_ascii_uppercase(),
    };
    let coupon = Coupon {
        id: id.clone(),
        created: now,
        name,
        off,
        duration,
        duration_in_months,
        max_redemptions,
        redeem_by,
        times_redeemed: 0,
        metadata,
        applies_to,
    };
    let obj = snapshot(&coupon.json(now))?;
    let reply = Reply::json(&coupon.json(now));
    account.coupons.insert(coupon);
    emit(account, "coupon.created", obj, &event_request(ctx))?;
    reply
}

/// `GET /v1/coupons/{id}`
pub(crate) fn retrieve(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    read_expand(&mut f, &["applies_to"])?;
    f.finish()?;
    let now = account.now();
    let coupon = account
        .coupons
        .get(id)
        .ok_or_else(|| ApiError::no_such("coupon", id, "coupon", true))?;
    Reply::json(&coupon.json(now))
}

/// `GET /v1/coupons`
pub(crate) fn list(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let created = RangeFilter::read(&mut f, "created")?;
    read_expand(&mut f, &["data.applies_to"])?;
    f.finish()?;
    let now = account.now();
    let table = &account.coupons;
    let (data, has_more) = paginate(
        table.rows(),
        |id| table.position(id),
        |c| created.matches(c.created),
        &page,
        "coupon",
    )?;
    let data: Vec<_> = data.into_iter().map(|c| c.json(now)).collect();
    Reply::json(&ListJson::new(data, has_more, "/v1/coupons".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{call, event_types};

    fn coupon(off: Off, applies_to: Option<Vec<String>>) -> Coupon {
        Coupon {
            id: "C".into(),
            created: 0,
            name: None,
            off,
            duration: Duration::Once,
            duration_in_months: None,
            max_redemptions: None,
            redeem_by: None,
            times_redeemed: 0,
            metadata: BTreeMap::new(),
            applies_to,
        }
    }

    #[test]
    fn allocation_sums_to_the_discount() {
        let c = coupon(Off::Percent(25.0), None);
        assert_eq!(c.allocate(&[("a", 3998), ("b", 500)]), vec![1000, 125]);
        let third = coupon(Off::Percent(33.33), None);
        let shares = third.allocate(&[("a", 100), ("b", 100), ("c", 100)]);
        assert_eq!(shares.iter().sum::<i64>(), 100); // 33.33 % of 300, rounded
        let fixed = coupon(
            Off::Amount {
                amount: 1000,
                currency: "usd".into(),
            },
            None,
        );
        assert_eq!(fixed.allocate(&[("a", 600), ("b", 300)]), vec![600, 300]);
        assert_eq!(fixed.allocate(&[("a", 3000), ("b", 1000)]), vec![750, 250]);
        let only_b = coupon(Off::Percent(50.0), Some(vec!["b".into()]));
        assert_eq!(only_b.allocate(&[("a", 1000), ("b", 400)]), vec![0, 200]);
        assert_eq!(only_b.allocate(&[("a", 1000)]), vec![0]);
    }

    #[test]
    fn create_retrieve_list() {
        let mut a = Account::at(1_700_000_000);
        let v = call(create, &mut a, "percent_off=25&duration=once&name=Spring").unwrap();
        assert_eq!(v["object"], "coupon");
        assert_eq!(v["percent_off"], 25.0);
        assert_eq!(v["amount_off"], serde_json::Value::Null);
        assert_eq!(v["valid"], true);
        assert_eq!(v["times_redeemed"], 0);
        assert_eq!(v["id"].as_str().unwrap().len(), 8);
        let v = call(
            create,
            &mut a,
            "id=TENOFF&amount_off=1000&currency=USD&max_redemptions=1",
        )
        .unwrap();
        assert_eq!(v["id"], "TENOFF");
        assert_eq!(v["currency"], "usd");
        assert_eq!(event_types(&a), ["coupon.created", "coupon.created"]);
        redeem(&mut a, "TENOFF");
        let r: serde_json::Value =
            serde_json::from_slice(&retrieve(&mut a, "TENOFF", &Params::default()).unwrap().body)
                .unwrap();
        assert_eq!(
            (r["valid"].clone(), r["times_redeemed"].clone()),
            (false.into(), 1.into())
        );
        let l: serde_json::Value =
            serde_json::from_slice(&list(&mut a, &Params::default()).unwrap().body).unwrap();
        assert_eq!(l["data"][0]["id"], "TENOFF");
        assert_eq!(l["url"], "/v1/coupons");
    }

    #[test]
    fn errors() {
        let mut a = Account::at(1_700_000_000);
        for (wire, param) in [
            ("duration=once", "percent_off"),
            ("percent_off=0", "percent_off"),
            ("percent_off=101", "percent_off"),
            ("percent_off=abc", "percent_off"),
            ("amount_off=100", "currency"),
            ("percent_off=5&amount_off=100&currency=usd", "amount_off"),
            ("percent_off=5&duration=repeating", "duration_in_months"),
            ("percent_off=5&duration_in_months=3", "duration_in_months"),
            ("percent_off=5&redeem_by=1600000000", "redeem_by"),
            (
                "percent_off=5&applies_to[products][]=prod_nope",
                "applies_to[products][0]",
            ),
        ] {
            let e = call(create, &mut a, wire).err().unwrap();
            assert_eq!(e.param.as_deref(), Some(param), "{wire}: {}", e.message);
        }
        call(create, &mut a, "id=X&percent_off=5").unwrap();
        assert_eq!(
            call(create, &mut a, "id=X&percent_off=5")
                .err()
                .unwrap()
                .code,
            Some("resource_already_exists")
        );
        let e = retrieve(&mut a, "NOPE", &Params::default()).err().unwrap();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (404, "No such coupon: 'NOPE'")
        );
    }
}
