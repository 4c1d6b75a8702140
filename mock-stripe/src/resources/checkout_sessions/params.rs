//! Phase 1 of every request: read the parameter tree into typed inputs (types and unknown
//! keys, `parameter_unknown` with the full bracket path). The caller checks the meaning
//! (`create.rs` for create). Legacy line items are readable only at old API versions.

use std::collections::BTreeMap;

use super::object::{
    BillingAddressCollection, CustomText, CustomerCreation, Locale, OriginContext,
    RedirectOnCompletion, Session, SubmitType, TaxBehavior, UiMode,
};
use crate::protocol::expand::Expand;
use crate::protocol::form::{Item, MapUpdate};
use crate::protocol::list::ListParams;
use crate::protocol::{ApiError, ApiResult, Fields, Params, RangeFilter};
use crate::resources::expandable;
use crate::resources::one_of;
use crate::resources::payment_intents::PaymentIntentData;

/// Accepted and ignored on create: they change how Stripe's page looks or what it collects,
/// which the mock's page does not model. Rendered with their default values.
const ACCEPTED_NOT_MODELLED: &[&str] = &[
    "adaptive_pricing",
    "after_expiration",
    "branding_settings",
    "consent_collection",
    "custom_fields",
    "customer_update",
    "excluded_payment_method_types",
    "invoice_creation",
    "name_collection",
    "optional_items",
    "payment_method_collection",
    "payment_method_configuration",
    "payment_method_data",
    "payment_method_options",
    "permissions",
    "saved_payment_method_options",
    "setup_intent_data",
    "shipping_options",
    "wallet_options",
];

pub(super) struct ProductDataIn {
    pub path: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub images: Vec<String>,
    pub metadata: BTreeMap<String, String>,
}

pub(super) struct PriceDataIn {
    pub path: String,
    pub currency: Option<String>,
    pub unit_amount: Option<i64>,
    pub unit_amount_decimal: Option<String>,
    pub product: Option<String>,
    pub product_data: Option<ProductDataIn>,
    pub tax_behavior: Option<TaxBehavior>,
    pub recurring: bool,
}

/// The fields of the pre-2022-08-01 inline form (`line_items[0][name]` …).
#[derive(Default)]
pub(super) struct LegacyIn {
    pub used: bool,
    pub name: Option<String>,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub description: Option<String>,
    pub images: Vec<String>,
}

pub(super) struct LineItemIn {
    pub path: String,
    pub price: Option<String>,
    pub price_data: Option<PriceDataIn>,
    pub quantity: Option<i64>,
    pub metadata: BTreeMap<String, String>,
    pub legacy: LegacyIn,
    pub adjustable_quantity: Option<super::catalog::AdjustableIn>,
}

pub(super) struct DiscountIn {
    pub path: String,
    pub coupon: Option<String>,
    pub promotion_code: Option<String>,
}

#[derive(Default)]
pub(super) struct CreateIn {
    pub mode: Option<&'static str>,
    pub ui_mode: Option<UiMode>,
    pub line_items: Option<Vec<LineItemIn>>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub return_url: Option<String>,
    pub redirect_on_completion: Option<RedirectOnCompletion>,
    pub client_reference_id: Option<String>,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub customer_creation: Option<CustomerCreation>,
    pub metadata: BTreeMap<String, String>,
    pub expires_at: Option<i64>,
    pub payment_intent_data: Option<PaymentIntentData>,
    pub allow_promotion_codes: Option<bool>,
    pub discounts: Vec<DiscountIn>,
    pub locale: Option<Locale>,
    pub submit_type: Option<SubmitType>,
    pub billing_address_collection: Option<BillingAddressCollection>,
    pub phone_number_collection: Option<bool>,
    pub tax_id_collection: Option<bool>,
    pub automatic_tax: Option<bool>,
    pub shipping_countries: Option<Vec<String>>,
    pub custom_text: CustomText,
    pub payment_method_types: Option<Vec<String>>,
    pub allowed_payment_method_types: Option<Vec<String>>,
    pub currency: Option<String>,
    pub customer_account: Option<String>,
    pub integration_identifier: Option<String>,
    pub managed_payments: Option<bool>,
    pub origin_context: Option<OriginContext>,
    pub expand: Expand,
}

/// What `expand[]` may name on a session: see `resources/expandable.rs`.
const SESSION: &str = "checkout.session";

fn read_enabled(f: &mut Fields<'_>, key: &str) -> ApiResult<Option<bool>> {
    let Some(mut o) = f.object(key)? else {
        return Ok(None);
    };
    let enabled = o.bool("enabled")?;
    // Sub-options (`required`, `liability`, …) are accepted, not modelled.
    for extra in ["required", "liability"] {
        o.ignore(extra);
    }
    o.finish()?;
    Ok(enabled)
}

fn read_product_data(mut f: Fields<'_>, path: String) -> ApiResult<ProductDataIn> {
    let name = f.owned("name")?;
    let description = f.owned("description")?;
    let images = f.string_list("images")?.unwrap_or_default();
    let metadata = f
        .string_map("metadata")?
        .map(|m| m.to_map())
        .unwrap_or_default();
    for extra in ["tax_code", "unit_label", "tax_details"] {
        f.ignore(extra);
    }
    f.finish()?;
    Ok(ProductDataIn {
        path,
        name,
        description,
        images,
        metadata,
    })
}

fn read_price_data(mut f: Fields<'_>, path: String) -> ApiResult<PriceDataIn> {
    let currency = f.owned("currency")?;
    let unit_amount = f.int("unit_amount")?;
    let unit_amount_decimal = f.owned("unit_amount_decimal")?;
    let product = f.owned("product")?;
    let product_path = f.path_of("product_data");
    let product_data = f
        .object("product_data")?
        .map(|o| read_product_data(o, product_path))
        .transpose()?;
    let tax_behavior = one_of(&mut f, "tax_behavior")?;
    let recurring = f.ignore("recurring");
    f.finish()?;
    Ok(PriceDataIn {
        path,
        currency,
        unit_amount,
        unit_amount_decimal,
        product,
        product_data,
        tax_behavior,
        recurring,
    })
}

/// The inline line-item keys API 2022-08-01 removed (contract §2.4).
const LEGACY_KEYS: [&str; 5] = ["name", "amount", "currency", "description", "images"];

/// Stripe's answer to legacy line items at 2022-08-01 or later, and how to get the old
/// behaviour from the mock.
const LEGACY_REFUSED: &str = "You cannot use `line_items.amount`, `line_items.currency`, \
    `line_items.name`, `line_items.description`, or `line_items.images` in this API version. \
    Please use `line_items.price` or `line_items.price_data`. Please see \
    https://stripe.com/docs/payments/checkout/migrating-prices for more information. \
    (mock-stripe: to accept them, send `Stripe-Version: 2020-08-27` or any version before \
    2022-08-01, or make that the default: start mock-stripe with `--api-version 2020-08-27`, \
    or POST /_config/settings with api_version=2020-08-27 for one account.)";

fn read_line_item(item: &Item<'_>, legacy_allowed: bool) -> ApiResult<LineItemIn> {
    let mut f = item.fields()?;
    let price = f.owned("price")?;
    let price_data_path = f.path_of("price_data");
    let price_data = f
        .object("price_data")?
        .map(|o| read_price_data(o, price_data_path))
        .transpose()?;
    let quantity = f.int("quantity")?;
    let metadata = f
        .string_map("metadata")?
        .map(|m| m.to_map())
        .unwrap_or_default();
    let adjustable_quantity = super::catalog::read_adjustable(&mut f)?;
    for extra in ["tax_rates", "dynamic_tax_rates"] {
        f.ignore(extra);
    }
    let mut legacy = LegacyIn::default();
    if !legacy_allowed && LEGACY_KEYS.iter().any(|k| f.has(k)) {
        return Err(ApiError::bad_request(LEGACY_REFUSED));
    }
    if legacy_allowed {
        legacy.used = LEGACY_KEYS.iter().any(|k| f.has(k));
        legacy.name = f.owned("name")?;
        legacy.amount = f.int("amount")?;
        legacy.currency = f.owned("currency")?;
        legacy.description = f.owned("description")?;
        legacy.images = f.string_list("images")?.unwrap_or_default();
    }
    // With a newer version the legacy keys stay unread: `parameter_unknown`, as Stripe.
    f.finish()?;
    Ok(LineItemIn {
        path: item.path.clone(),
        price,
        price_data,
        quantity,
        metadata,
        legacy,
        adjustable_quantity,
    })
}

/// `legacy_allowed`: whether the request's API version still takes the legacy line-item
/// keys (`version::allows_legacy_line_items`). Without those keys, both read alike.
pub(super) fn read_create(params: &Params, legacy_allowed: bool) -> ApiResult<CreateIn> {
    let mut f = Fields::root(params);
    let mut c = CreateIn {
        mode: f.one_of("mode", &["payment", "setup", "subscription"])?,
        ..Default::default()
    };
    if let Some(ui) = f.string("ui_mode")? {
        c.ui_mode = Some(UiMode::parse(ui).ok_or_else(|| {
            ApiError::invalid(
                "ui_mode",
                "Invalid ui_mode: must be one of hosted, hosted_page, embedded, embedded_page, custom, elements, or form",
            )
        })?);
    }
    if let Some(items) = f.list("line_items")? {
        c.line_items = Some(
            items
                .iter()
                .map(|i| read_line_item(i, legacy_allowed))
                .collect::<ApiResult<_>>()?,
        );
    }
    c.success_url = f.owned("success_url")?;
    c.cancel_url = f.owned("cancel_url")?;
    c.return_url = f.owned("return_url")?;
    c.redirect_on_completion = one_of(&mut f, "redirect_on_completion")?;
    c.client_reference_id = f.owned("client_reference_id")?;
    c.customer = f.owned("customer")?;
    c.customer_email = f.owned("customer_email")?;
    c.customer_creation = one_of(&mut f, "customer_creation")?;
    c.metadata = f
        .string_map("metadata")?
        .map(|m| m.to_map())
        .unwrap_or_default();
    c.expires_at = f.int("expires_at")?;
    c.payment_intent_data = f
        .object("payment_intent_data")?
        .map(PaymentIntentData::read)
        .transpose()?;
    c.allow_promotion_codes = f.bool("allow_promotion_codes")?;
    for d in f.list("discounts")?.unwrap_or_default() {
        let mut o = d.fields()?;
        let din = DiscountIn {
            path: d.path.clone(),
            coupon: o.owned("coupon")?,
            promotion_code: o.owned("promotion_code")?,
        };
        o.finish()?;
        c.discounts.push(din);
    }
    c.locale = one_of(&mut f, "locale")?;
    c.submit_type = one_of(&mut f, "submit_type")?;
    c.billing_address_collection = one_of(&mut f, "billing_address_collection")?;
    c.phone_number_collection = read_enabled(&mut f, "phone_number_collection")?;
    c.tax_id_collection = read_enabled(&mut f, "tax_id_collection")?;
    c.automatic_tax = read_enabled(&mut f, "automatic_tax")?;
    if let Some(mut o) = f.object("shipping_address_collection")? {
        c.shipping_countries = o.string_list("allowed_countries")?;
        o.finish()?;
    }
    if let Some(mut o) = f.object("custom_text")? {
        let mut message = |key: &str| -> ApiResult<Option<String>> {
            let Some(mut m) = o.object(key)? else {
                return Ok(None);
            };
            let text = m.owned("message")?;
            m.finish()?;
            Ok(text)
        };
        c.custom_text = CustomText {
            after_submit: message("after_submit")?,
            shipping_address: message("shipping_address")?,
            submit: message("submit")?,
            terms_of_service_acceptance: message("terms_of_service_acceptance")?,
        };
        o.finish()?;
    }
    c.payment_method_types = f.string_list("payment_method_types")?;
    c.allowed_payment_method_types = f.string_list("allowed_payment_method_types")?;
    c.currency = f.owned("currency")?;
    c.customer_account = f.owned("customer_account")?;
    c.integration_identifier = f.owned("integration_identifier")?;
    c.managed_payments = read_enabled(&mut f, "managed_payments")?;
    c.origin_context = one_of(&mut f, "origin_context")?;
    c.expand = expandable::read(&mut f, SESSION)?;
    for key in ACCEPTED_NOT_MODELLED {
        f.ignore(key);
    }
    // Only meaningful with mode=subscription, which is refused below with a clear message.
    f.ignore("subscription_data");
    f.finish()?;
    Ok(c)
}

/// `expand[]` alone: all that retrieve and expire accept.
pub(super) fn read_expand_only(params: &Params) -> ApiResult<Expand> {
    let mut f = Fields::root(params);
    let expand = expandable::read(&mut f, SESSION)?;
    f.finish()?;
    Ok(expand)
}

/// Update: hosted sessions can only change `metadata`.
pub(super) struct UpdateIn {
    pub metadata: Option<MapUpdate>,
    pub expand: Expand,
}

pub(super) fn read_update(params: &Params) -> ApiResult<UpdateIn> {
    let mut f = Fields::root(params);
    let metadata = f.string_map("metadata")?;
    let expand = expandable::read(&mut f, SESSION)?;
    f.finish()?;
    Ok(UpdateIn { metadata, expand })
}

/// The page and filters of `GET /v1/checkout/sessions`.
pub(super) struct ListIn {
    pub page: ListParams,
    status: Option<&'static str>,
    payment_intent: Option<String>,
    customer: Option<String>,
    email: Option<String>,
    created: RangeFilter,
    matches_nothing: bool,
    /// What to expand in each session (paths without their `data.`).
    pub expand: Expand,
}

pub(super) fn read_list(params: &Params) -> ApiResult<ListIn> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let status = f.one_of("status", &["open", "complete", "expired"])?;
    let payment_intent = f.owned("payment_intent")?;
    let email = match f.object("customer_details")? {
        Some(mut o) => {
            let e = o.owned("email")?;
            o.finish()?;
            e
        }
        None => None,
    };
    let created = RangeFilter::read(&mut f, "created")?;
    let customer = f.owned("customer")?;
    // Accounts (v2), payment links, subscriptions do not exist in the mock: such filters
    // match nothing.
    let mut matches_nothing = false;
    for key in ["customer_account", "payment_link", "subscription"] {
        matches_nothing |= f.string(key)?.is_some();
    }
    let expand = expandable::read_list(&mut f, SESSION)?;
    f.finish()?;
    Ok(ListIn {
        page,
        status,
        payment_intent,
        customer,
        email,
        created,
        matches_nothing,
        expand,
    })
}

impl ListIn {
    /// Whether `s` passes every filter.
    pub(super) fn matches(&self, s: &Session) -> bool {
        !self.matches_nothing
            && self.status.is_none_or(|st| s.status.as_str() == st)
            && self
                .payment_intent
                .as_deref()
                .is_none_or(|p| s.payment_intent.as_deref() == Some(p))
            && self
                .customer
                .as_deref()
                .is_none_or(|c| s.customer.as_deref() == Some(c))
            && self.email.as_deref().is_none_or(|e| {
                s.customer_details.as_ref().and_then(|d| d.email.as_deref()) == Some(e)
            })
            && self.created.matches(s.created)
    }
}

/// `GET /v1/checkout/sessions/{id}/line_items`: the page, and `expand[]`.
pub(super) fn read_line_items(params: &Params) -> ApiResult<(ListParams, Expand)> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let expand = expandable::read_list(&mut f, "item")?;
    f.finish()?;
    Ok((page, expand))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn echoes_harmless_params() {
        let v = try_create(
            &mut account(),
            &with(
                "payment_method_types[]=card&metadata[order_id]=42&client_reference_id=order_42\
                 &customer_email=buyer@example.com&locale=fr&submit_type=pay&allow_promotion_codes=true\
                 &payment_intent_data[description]=Order+42&payment_intent_data[metadata][order]=42\
                 &billing_address_collection=required&expand[]=line_items&ui_mode=hosted\
                 &phone_number_collection[enabled]=true&custom_text[submit][message]=Thanks\
                 &shipping_address_collection[allowed_countries][]=US&custom_fields=&consent_collection[promotions]=auto",
            ),
            None,
        )
        .unwrap();
        assert_eq!(v["metadata"]["order_id"], "42");
        assert_eq!(v["client_reference_id"], "order_42");
        assert_eq!(v["customer_email"], "buyer@example.com");
        assert_eq!(v["locale"], "fr");
        assert_eq!(v["submit_type"], "pay");
        assert_eq!(v["allow_promotion_codes"], true);
        assert_eq!(v["billing_address_collection"], "required");
        assert_eq!(v["phone_number_collection"]["enabled"], true);
        assert_eq!(v["custom_text"]["submit"]["message"], "Thanks");
        assert_eq!(
            v["shipping_address_collection"]["allowed_countries"][0],
            "US"
        );
        assert_eq!(v["ui_mode"], "hosted_page");
        let items = &v["line_items"];
        assert_eq!(items["object"], "list");
        assert_eq!(items["data"][0]["object"], "item");
        assert_eq!(items["data"][0]["description"], "T-shirt");
        assert_eq!(items["data"][0]["quantity"], 2);
        assert_eq!(items["data"][0]["amount_total"], 3998);
        assert_eq!(items["data"][0]["price"]["unit_amount"], 1999);
        assert_eq!(items["data"][0]["price"]["unit_amount_decimal"], "1999");
        assert!(items["url"].as_str().unwrap().ends_with("/line_items"));
    }

    #[test]
    fn legacy_line_items_only_for_old_versions() {
        let legacy = "mode=payment&success_url=https://shop.test/ok&line_items[0][name]=Book\
            &line_items[0][description]=Nice&line_items[0][amount]=2900&line_items[0][currency]=usd\
            &line_items[0][quantity]=1&line_items[0][images][]=https://img.test/b.png&expand[]=line_items";
        // Without a header, the account's default decides (the latest, unless changed).
        let mut old_account = account();
        old_account.settings.api_version =
            crate::protocol::version::ApiVersion::parse("2020-08-27").unwrap();
        for (a, version) in [
            (&mut account(), Some("2020-08-27")),
            (&mut old_account, None),
        ] {
            let v = try_create(a, legacy, version).unwrap();
            assert_eq!(v["amount_total"], 2900, "{version:?}");
            assert_eq!(v["line_items"]["data"][0]["description"], "Book");
        }
        for version in [None, Some("2022-08-01")] {
            let e = create_err(legacy, version);
            assert_eq!((e.status.as_u16(), e.code, e.param), (400, None, None));
            assert!(
                e.message
                    .starts_with("You cannot use `line_items.amount`, `line_items.currency`")
                    && e.message.contains("--api-version 2020-08-27"),
                "{}",
                e.message
            );
        }
        let e = create_err(
            "mode=payment&success_url=https://shop.test/ok&line_items[0][name]=Book&line_items[0][currency]=usd&line_items[0][quantity]=1",
            Some("2020-08-27"),
        );
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("parameter_missing"), Some("line_items[0][amount]"))
        );
    }

    /// Parameters typed in the official SDKs (Python `stripe` 16.1.0, API 2026-10-28) that
    /// used to be `parameter_unknown` here: a drop-in must accept what the SDK sends.
    #[test]
    fn accepts_the_newer_create_params_of_the_official_sdks() {
        let v = try_create(
            &mut account(),
            &with(
                "integration_identifier=shop-v2&origin_context=web&managed_payments[enabled]=false\
                 &payment_method_data[allow_redisplay]=always\
                 &allowed_payment_method_types[0]=card",
            ),
            Some("2026-10-28.endive"),
        )
        .unwrap();
        assert_eq!(v["integration_identifier"], "shop-v2");
        assert_eq!(v["origin_context"], "web");
        assert_eq!(v["managed_payments"], serde_json::json!({"enabled": false}));
        assert_eq!(
            v["allowed_payment_method_types"],
            serde_json::json!(["card"])
        );

        // Not given: present and null, as Stripe always sends them.
        let v = try_create(&mut account(), BASIC, Some("2026-10-28.endive")).unwrap();
        for key in [
            "integration_identifier",
            "origin_context",
            "managed_payments",
            "allowed_payment_method_types",
            "customer_account",
            "permissions",
            "wallet_options",
        ] {
            assert_eq!(v.get(key), Some(&serde_json::Value::Null), "{key}");
        }
        assert_eq!(v["automatic_tax"]["provider"], serde_json::Value::Null);

        let e = create_err(&with("origin_context=tv"), None);
        assert_eq!(e.param.as_deref(), Some("origin_context"));
        // No Account (v2) exists in the mock, like `customer`.
        let e = create_err(&with("customer_account=acct_1Nope"), None);
        assert_eq!(
            (e.code, e.param.as_deref(), e.message.as_str()),
            (
                Some("resource_missing"),
                Some("customer_account"),
                "No such account: 'acct_1Nope'"
            )
        );
    }
}
