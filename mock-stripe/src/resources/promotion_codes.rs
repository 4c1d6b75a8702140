//! Promotion codes (`/v1/promotion_codes`): customer-facing codes for a coupon; create,
//! retrieve, update (`active`, `metadata`), list, and `promotion_code.created` /
//! `promotion_code.updated`.
//!
//! API 2025-09-30.clover moved the coupon from `coupon` (the whole object) to
//! `promotion: {type: "coupon", coupon: id}`: both are accepted on create and the object is
//! rendered at the version of the request (events: each endpoint's version).

use std::collections::BTreeMap;

use serde::Serialize;

use super::coupons::{self, Coupon, CouponJson};
use super::{check_metadata, event_request};
use crate::money;
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::version::ApiVersion;
use crate::protocol::{
    ApiError, ApiResult, Fields, Params, RangeFilter, Reply, RequestCtx, read_expand,
};
use crate::resources::events::{emit, snapshot, versioned};
use crate::store::{Account, Keyed};

const MAX_CODE: usize = 500;

/// A promotion code as stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct PromotionCode {
    pub id: String,
    pub created: i64,
    pub code: String,
    pub coupon: String,
    pub active: bool,
    /// Only this customer may redeem it.
    pub customer: Option<String>,
    pub expires_at: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub times_redeemed: i64,
    pub metadata: BTreeMap<String, String>,
    pub first_time_transaction: bool,
    pub minimum_amount: Option<(i64, String)>,
}

impl Keyed for PromotionCode {
    fn key(&self) -> &str {
        &self.id
    }
}

/// `promotion` (from 2025-09-30.clover) or `coupon` (before).
fn uses_promotion(v: &ApiVersion) -> bool {
    !v.before(2025, 9, 30)
}

impl PromotionCode {
    /// Why it cannot be used for a purchase of `subtotal` in `currency` by `customer`.
    pub fn refusal(
        &self,
        coupon: &Coupon,
        now: i64,
        subtotal: i64,
        currency: &str,
        customer: Option<&str>,
    ) -> Option<String> {
        let code = &self.code;
        if !self.active {
            return Some(format!("The promotion code `{code}` is not active."));
        }
        if self.expires_at.is_some_and(|t| now >= t)
            || self
                .max_redemptions
                .is_some_and(|m| self.times_redeemed >= m)
        {
            return Some(format!(
                "The promotion code `{code}` has expired or reached its maximum number of redemptions."
            ));
        }
        if let Some(only) = &self.customer
            && customer != Some(only.as_str())
        {
            return Some(format!(
                "The promotion code `{code}` can only be redeemed by another customer."
            ));
        }
        if let Some((min, min_currency)) = &self.minimum_amount
            && (min_currency != currency || subtotal < *min)
        {
            return Some(format!(
                "The promotion code `{code}` requires a minimum order of {} {min_currency}.",
                money::format_amount(*min, min_currency)
            ));
        }
        coupon.refusal(now, currency)
    }

    pub fn json<'a>(
        &'a self,
        v: &ApiVersion,
        coupon: Option<&'a Coupon>,
        now: i64,
        expand_coupon: bool,
    ) -> PromotionCodeJson<'a> {
        let new = uses_promotion(v);
        PromotionCodeJson {
            id: &self.id,
            object: "promotion_code",
            active: self.active,
            code: &self.code,
            coupon: if new {
                None
            } else {
                coupon.map(|c| c.json(now))
            },
            created: self.created,
            customer: self.customer.as_deref(),
            customer_account: (),
            expires_at: self.expires_at,
            livemode: false,
            max_redemptions: self.max_redemptions,
            metadata: &self.metadata,
            promotion: new.then(|| PromotionJson {
                coupon: match (expand_coupon, coupon) {
                    (true, Some(c)) => CouponRef::Object(Box::new(c.json(now))),
                    _ => CouponRef::Id(&self.coupon),
                },
                kind: "coupon",
            }),
            restrictions: RestrictionsJson {
                currency_options: EmptyObject {},
                first_time_transaction: self.first_time_transaction,
                minimum_amount: self.minimum_amount.as_ref().map(|(a, _)| *a),
                minimum_amount_currency: self.minimum_amount.as_ref().map(|(_, c)| c.as_str()),
            },
            times_redeemed: self.times_redeemed,
        }
    }
}

#[derive(Serialize)]
struct EmptyObject {}

#[derive(Serialize)]
#[serde(untagged)]
enum CouponRef<'a> {
    Id(&'a str),
    Object(Box<CouponJson<'a>>),
}

#[derive(Serialize)]
struct PromotionJson<'a> {
    coupon: CouponRef<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct RestrictionsJson<'a> {
    currency_options: EmptyObject,
    first_time_transaction: bool,
    minimum_amount: Option<i64>,
    minimum_amount_currency: Option<&'a str>,
}

/// The JSON of a promotion code at one API version.
#[derive(Serialize)]
pub(crate) struct PromotionCodeJson<'a> {
    id: &'a str,
    object: &'static str,
    active: bool,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon: Option<CouponJson<'a>>,
    created: i64,
    customer: Option<&'a str>,
    customer_account: (),
    expires_at: Option<i64>,
    livemode: bool,
    max_redemptions: Option<i64>,
    metadata: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    promotion: Option<PromotionJson<'a>>,
    restrictions: RestrictionsJson<'a>,
    times_redeemed: i64,
}

/// A promotion code named in a parameter: 400 `resource_missing` when it does not exist.
pub(crate) fn existing<'a>(
    account: &'a Account,
    id: &str,
    param: &str,
) -> ApiResult<&'a PromotionCode> {
    account
        .promotion_codes
        .get(id)
        .ok_or_else(|| ApiError::no_such("promotion_code", id, param, false))
}

/// The active promotion code with this `code` (case-insensitive, as shoppers type it).
pub(crate) fn by_code<'a>(account: &'a Account, code: &str) -> Option<&'a PromotionCode> {
    account
        .promotion_codes
        .rows()
        .iter()
        .rev()
        .find(|p| p.active && p.code.eq_ignore_ascii_case(code))
}

/// A completed purchase used it.
pub(crate) fn redeem(account: &mut Account, id: &str) {
    if let Some(p) = account.promotion_codes.get_mut(id) {
        p.times_redeemed += 1;
    }
}

/// An event whose object is rendered at each endpoint's version.
fn emit_versioned(account: &mut Account, kind: &str, id: &str, ctx: &RequestCtx) -> ApiResult<()> {
    let now = account.now();
    let promo = account.promotion_codes.get(id).expect("stored").clone();
    let coupon = account.coupons.get(&promo.coupon).cloned();
    let object = versioned(
        (promo, coupon),
        move |(p, c): &(PromotionCode, Option<Coupon>), v| {
            snapshot(&p.json(v, c.as_ref(), now, false))
        },
    );
    emit(account, kind, object, &event_request(ctx))
}

fn render(account: &Account, id: &str, ctx: &RequestCtx, expand: &[&str]) -> ApiResult<Reply> {
    let promo = account
        .promotion_codes
        .get(id)
        .ok_or_else(|| ApiError::no_such("promotion_code", id, "promotion_code", true))?;
    let coupon = account.coupons.get(&promo.coupon);
    let v = ctx.version_for(account);
    Reply::json(&promo.json(
        &v,
        coupon,
        account.now(),
        expand.contains(&"promotion.coupon"),
    ))
}

const EXPANDABLE: &[&str] = &["customer", "promotion.coupon", "coupon"];

/// `POST /v1/promotion_codes`
pub(crate) fn create(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let promotion_coupon = match f.object("promotion")? {
        Some(mut o) => {
            let kind = o.one_of("type", &["coupon"])?;
            let coupon = o.owned("coupon")?;
            o.finish()?;
            if kind.is_none() {
                return Err(ApiError::missing("promotion[type]"));
            }
            Some(coupon.ok_or_else(|| ApiError::missing("promotion[coupon]"))?)
        }
        None => None,
    };
    let legacy_coupon = f.owned("coupon")?;
    let code = f.owned("code")?;
    let active = f.bool("active")?;
    let customer = f.owned("customer")?;
    let expires_at = f.int("expires_at")?;
    let max_redemptions = f.int("max_redemptions")?;
    let metadata = f
        .string_map("metadata")?
        .map(|m| m.to_map())
        .unwrap_or_default();
    let (first_time, minimum, minimum_currency) = match f.object("restrictions")? {
        Some(mut o) => {
            let r = (
                o.bool("first_time_transaction")?,
                o.int("minimum_amount")?,
                o.owned("minimum_amount_currency")?,
            );
            if o.has("currency_options") {
                return Err(ApiError::invalid(
                    "restrictions[currency_options]",
                    "mock-stripe does not simulate `currency_options` on promotion codes yet.",
                ));
            }
            o.finish()?;
            r
        }
        None => (None, None, None),
    };
    f.ignore("customer_account");
    let expand = read_expand(&mut f, EXPANDABLE)?;
    f.finish()?;

    let now = account.now();
    let (coupon_id, coupon_param) = match (promotion_coupon, legacy_coupon) {
        (Some(_), Some(_)) => return Err(ApiError::exclusive("promotion", "coupon")),
        (Some(c), None) => (c, "promotion[coupon]"),
        (None, Some(c)) => (c, "coupon"),
        (None, None) => return Err(ApiError::missing("promotion")),
    };
    let coupon = coupons::existing(account, &coupon_id, coupon_param)?;
    if let Some(id) = &customer {
        super::customers::existing(account, id, "customer")?;
    }
    if let Some(t) = expires_at {
        if t <= now {
            return Err(ApiError::invalid(
                "expires_at",
                "Invalid timestamp: expires_at must be in the future.",
            ));
        }
        if coupon.redeem_by.is_some_and(|r| t > r) {
            return Err(ApiError::invalid(
                "expires_at",
                "The promotion code cannot expire after its coupon's redeem_by date.",
            ));
        }
    }
    if let Some(m) = max_redemptions
        && m < 1
    {
        return Err(ApiError::too_small("max_redemptions", 1));
    }
    check_metadata("metadata", &metadata)?;
    let minimum_amount = match (minimum, minimum_currency) {
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::missing("restrictions[minimum_amount_currency]")),
        (None, Some(_)) => return Err(ApiError::missing("restrictions[minimum_amount]")),
        (Some(a), Some(raw)) => {
            if a < 0 {
                return Err(ApiError::too_small("restrictions[minimum_amount]", 0));
            }
            let c = money::normalize(&raw).ok_or_else(|| {
                ApiError::invalid(
                    "restrictions[minimum_amount_currency]",
                    format!("Invalid currency: {raw}."),
                )
            })?;
            Some((a, c))
        }
    };
    let code = match code {
        Some(code) => {
            let ok = code.len() <= MAX_CODE
                && code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(ApiError::invalid(
                    "code",
                    "A promotion code may only contain letters, digits, `-` and `_`.",
                ));
            }
            if by_code(account, &code).is_some() {
                return Err(ApiError::invalid(
                    "code",
                    format!("An active promotion code with `code: {code}` already exists."),
                ));
            }
            code
        }
        None => account.ids.with_len("", 8).to_ascii_uppercase(),
    };
    let promo = PromotionCode {
        id: account.ids.object(crate::ids::prefix::PROMOTION_CODE),
        created: now,
        code,
        coupon: coupon_id,
        active: active.unwrap_or(true),
        customer,
        expires_at,
        max_redemptions,
        times_redeemed: 0,
        metadata,
        first_time_transaction: first_time.unwrap_or(false),
        minimum_amount,
    };
    let id = promo.id.clone();
    account.promotion_codes.insert(promo);
    emit_versioned(account, "promotion_code.created", &id, ctx)?;
    render(account, &id, ctx, &expand)
}

/// `GET /v1/promotion_codes/{id}`
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let expand = read_expand(&mut f, EXPANDABLE)?;
    f.finish()?;
    render(account, id, ctx, &expand)
}

/// `POST /v1/promotion_codes/{id}`: `active`, `metadata`; emits `promotion_code.updated`.
pub(crate) fn update(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let active = f.bool("active")?;
    let metadata = f.string_map("metadata")?;
    if f.has("restrictions") {
        return Err(ApiError::invalid(
            "restrictions",
            "mock-stripe does not simulate changing a promotion code's restrictions yet.",
        ));
    }
    let expand = read_expand(&mut f, EXPANDABLE)?;
    f.finish()?;
    let promo = account
        .promotion_codes
        .get(id)
        .ok_or_else(|| ApiError::no_such("promotion_code", id, "promotion_code", true))?;
    if active == Some(true) && !promo.active && by_code(account, &promo.code).is_some() {
        return Err(ApiError::invalid(
            "active",
            format!(
                "An active promotion code with `code: {}` already exists.",
                promo.code
            ),
        ));
    }
    let mut new_metadata = promo.metadata.clone();
    if let Some(m) = &metadata {
        m.apply(&mut new_metadata);
        check_metadata("metadata", &new_metadata)?;
    }
    let promo = account.promotion_codes.get_mut(id).expect("found above");
    promo.metadata = new_metadata;
    if let Some(a) = active {
        promo.active = a;
    }
    emit_versioned(account, "promotion_code.updated", id, ctx)?;
    render(account, id, ctx, &expand)
}

/// `GET /v1/promotion_codes`: filters `active`, `code`, `coupon`, `customer`, `created`.
pub(crate) fn list(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let active = f.bool("active")?;
    let code = f.owned("code")?;
    let coupon = f.owned("coupon")?;
    let customer = f.owned("customer")?;
    let created = RangeFilter::read(&mut f, "created")?;
    f.ignore("customer_account");
    let expand = read_expand(&mut f, &["data.promotion.coupon", "data.customer"])?;
    f.finish()?;
    let keep = |p: &PromotionCode| {
        active.is_none_or(|a| p.active == a)
            && code.as_ref().is_none_or(|c| p.code.eq_ignore_ascii_case(c))
            && coupon.as_ref().is_none_or(|c| &p.coupon == c)
            && customer
                .as_ref()
                .is_none_or(|c| p.customer.as_ref() == Some(c))
            && created.matches(p.created)
    };
    let table = &account.promotion_codes;
    let (data, has_more) = paginate(
        table.rows(),
        |id| table.position(id),
        keep,
        &page,
        "promotion_code",
    )?;
    let v = ctx.version_for(account);
    let now = account.now();
    let expand_coupon = expand.contains(&"data.promotion.coupon");
    let data: Vec<_> = data
        .into_iter()
        .map(|p| p.json(&v, account.coupons.get(&p.coupon), now, expand_coupon))
        .collect();
    Reply::json(&ListJson::new(data, has_more, "/v1/promotion_codes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{call, call_at, ctx, event_types};

    fn setup(a: &mut Account) {
        call(coupons::create, a, "id=SPRING&percent_off=20").unwrap();
    }

    #[test]
    fn create_both_spellings_and_render_per_version() {
        let mut a = Account::at(1_700_000_000);
        setup(&mut a);
        let v = call(
            create,
            &mut a,
            "promotion[type]=coupon&promotion[coupon]=SPRING&code=SPRING20&metadata[k]=v",
        )
        .unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("promo_"));
        assert_eq!(v["code"], "SPRING20");
        assert_eq!(
            v["promotion"],
            serde_json::json!({"coupon": "SPRING", "type": "coupon"})
        );
        assert!(v.get("coupon").is_none());
        assert_eq!(v["restrictions"]["first_time_transaction"], false);
        let old = call_at(create, &mut a, "coupon=SPRING", "2024-06-20").unwrap();
        assert_eq!(old["coupon"]["id"], "SPRING");
        assert_eq!(old["coupon"]["percent_off"], 20.0);
        assert!(old.get("promotion").is_none());
        assert_eq!(old["code"].as_str().unwrap().len(), 8);
        assert_eq!(
            event_types(&a),
            [
                "coupon.created",
                "promotion_code.created",
                "promotion_code.created"
            ]
        );

        let id = v["id"].as_str().unwrap();
        let p = Params::decode(&[b"active=false".as_slice()]).unwrap();
        let u: serde_json::Value =
            serde_json::from_slice(&update(&mut a, id, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(u["active"], false);
        assert!(by_code(&a, "spring20").is_none());
        let p = Params::decode(&[b"code=SPRING20".as_slice()]).unwrap();
        let l: serde_json::Value =
            serde_json::from_slice(&list(&mut a, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(l["data"][0]["id"], id);
    }

    #[test]
    fn refusals() {
        let mut a = Account::at(1_700_000_000);
        setup(&mut a);
        let v = call(
            create,
            &mut a,
            "coupon=SPRING&code=BIG&restrictions[minimum_amount]=5000&restrictions[minimum_amount_currency]=usd",
        )
        .unwrap();
        let promo = a.promotion_codes.get(v["id"].as_str().unwrap()).unwrap();
        let coupon = a.coupons.get("SPRING").unwrap();
        let now = a.now();
        assert!(promo.refusal(coupon, now, 4999, "usd", None).is_some());
        assert!(promo.refusal(coupon, now, 5000, "eur", None).is_some());
        assert_eq!(promo.refusal(coupon, now, 5000, "usd", None), None);
        for (wire, param) in [
            ("code=X", "promotion"),
            ("coupon=NOPE", "coupon"),
            (
                "promotion[type]=coupon&promotion[coupon]=NOPE",
                "promotion[coupon]",
            ),
            ("coupon=SPRING&code=BIG", "code"),
            ("coupon=SPRING&code=bad%20code", "code"),
            ("coupon=SPRING&customer=cus_nope", "customer"),
            ("coupon=SPRING&expires_at=1600000000", "expires_at"),
            (
                "coupon=SPRING&restrictions[minimum_amount]=5",
                "restrictions[minimum_amount_currency]",
            ),
        ] {
            let e = call(create, &mut a, wire).err().unwrap();
            assert_eq!(e.param.as_deref(), Some(param), "{wire}: {}", e.message);
        }
    }
}
