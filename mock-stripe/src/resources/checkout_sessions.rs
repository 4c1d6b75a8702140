//! Checkout Sessions (contract §2): create/validate, the state machine (pay, decline,
//! expire) and rendering at the request's API version.
//!
//! Domain functions take `&mut Account` and are called under the account lock; events
//! they emit land in the account's outbox and are delivered after the lock is released.

use std::collections::BTreeMap;

use serde::Serialize;

use super::events::{EventRequest, emit, snapshot};
use super::payment_intents::{
    Charge, ChargeCard, LastError, PaymentIntent, PaymentIntentData, PiStatus,
};
use super::{check_metadata, check_url};
use crate::cards::{Card, CardError, Outcome};
use crate::ids::{object_id, prefix};
use crate::money;
use crate::protocol::form::Item;
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::version::{self, ApiVersion};
use crate::protocol::{
    ApiError, ApiResult, Fields, Params, RangeFilter, Reply, RequestCtx, read_expand,
};
use crate::store::{Account, Keyed};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    Payment,
    Setup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Open,
    Complete,
    Expired,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Complete => "complete",
            Status::Expired => "expired",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
}

/// `ui_mode`, stored by meaning and rendered with the spelling of the client's version
/// (contract §1.3: `hosted` before 2026-03-25, `hosted_page` from then on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UiMode {
    Hosted,
    Embedded,
    Elements,
    Form,
}

impl UiMode {
    fn parse(s: &str) -> Option<UiMode> {
        Some(match s {
            "hosted" | "hosted_page" => UiMode::Hosted,
            "embedded" | "embedded_page" => UiMode::Embedded,
            "custom" | "elements" => UiMode::Elements,
            "form" => UiMode::Form,
            _ => return None,
        })
    }

    fn render(self, v: &ApiVersion) -> &'static str {
        let new = version::uses_page_ui_modes(v);
        match self {
            UiMode::Hosted if new => "hosted_page",
            UiMode::Hosted => "hosted",
            UiMode::Embedded if new => "embedded_page",
            UiMode::Embedded => "embedded",
            UiMode::Elements if new => "elements",
            UiMode::Elements => "custom",
            UiMode::Form => "form",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Product {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub images: Vec<String>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Price {
    pub id: String,
    pub currency: String,
    pub unit_amount: Option<i64>,
    pub unit_amount_decimal: String,
    pub tax_behavior: &'static str,
    pub product: Product,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LineItem {
    pub id: String,
    pub description: String,
    pub quantity: i64,
    /// quantity × unit price (no discounts or taxes are modelled).
    pub amount: i64,
    pub metadata: BTreeMap<String, String>,
    pub price: Price,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CustomerDetails {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// `custom_text[<position>][message]`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CustomText {
    pub after_submit: Option<String>,
    pub shipping_address: Option<String>,
    pub submit: Option<String>,
    pub terms_of_service_acceptance: Option<String>,
}

/// A Checkout Session as stored.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    /// The `Stripe-Version` it was created with (`None`: no header, account default).
    pub api_version: Option<ApiVersion>,
    pub mode: Mode,
    pub ui_mode: UiMode,
    pub status: Status,
    pub payment_status: PaymentStatus,
    pub currency: Option<String>,
    pub line_items: Vec<LineItem>,
    pub amount_total: Option<i64>,
    /// The hosted page, rendered as `url` while the session is open.
    pub page_url: String,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub return_url: Option<String>,
    pub redirect_on_completion: Option<&'static str>,
    pub client_secret: Option<String>,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub customer_creation: Option<&'static str>,
    pub customer_details: Option<CustomerDetails>,
    pub metadata: BTreeMap<String, String>,
    pub payment_intent: Option<String>,
    pub payment_intent_data: PaymentIntentData,
    pub payment_method_types: Vec<String>,
    pub allow_promotion_codes: Option<bool>,
    pub billing_address_collection: Option<&'static str>,
    pub locale: Option<&'static str>,
    pub submit_type: Option<&'static str>,
    pub phone_number_collection: bool,
    pub tax_id_collection: bool,
    pub automatic_tax: bool,
    pub shipping_countries: Option<Vec<String>>,
    pub custom_text: CustomText,
    pub allowed_payment_method_types: Option<Vec<String>>,
    pub integration_identifier: Option<String>,
    pub managed_payments: Option<bool>,
    pub origin_context: Option<&'static str>,
}

impl Keyed for Session {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Session {
    /// Where the browser goes after paying: `success_url` (or `return_url`) with every
    /// `{CHECKOUT_SESSION_ID}` replaced by the id. Other `{…}` text is left alone.
    pub fn redirect_url(&self) -> Option<String> {
        self.success_url
            .as_deref()
            .or(self.return_url.as_deref())
            .map(|u| u.replace("{CHECKOUT_SESSION_ID}", &self.id))
    }

    /// The version this session is rendered at when the request does not say.
    pub fn version(&self) -> ApiVersion {
        self.api_version
            .clone()
            .unwrap_or_else(version::default_version)
    }
}

// ---------------------------------------------------------------------------------------
// Create: read the parameter tree (types and unknown keys), then validate the meaning.
// ---------------------------------------------------------------------------------------

const LOCALES: &[&str] = &[
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr",
    "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt",
    "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
];

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

struct ProductDataIn {
    path: String,
    name: Option<String>,
    description: Option<String>,
    images: Vec<String>,
    metadata: BTreeMap<String, String>,
}

struct PriceDataIn {
    path: String,
    currency: Option<String>,
    unit_amount: Option<i64>,
    unit_amount_decimal: Option<String>,
    product: Option<String>,
    product_data: Option<ProductDataIn>,
    tax_behavior: Option<&'static str>,
    recurring: bool,
}

/// The fields of the pre-2022-08-01 inline form (`line_items[0][name]` …).
#[derive(Default)]
struct LegacyIn {
    used: bool,
    name: Option<String>,
    amount: Option<i64>,
    currency: Option<String>,
    description: Option<String>,
    images: Vec<String>,
}

struct LineItemIn {
    path: String,
    price: Option<String>,
    price_data: Option<PriceDataIn>,
    quantity: Option<i64>,
    metadata: BTreeMap<String, String>,
    legacy: LegacyIn,
}

struct DiscountIn {
    path: String,
    coupon: Option<String>,
    promotion_code: Option<String>,
}

#[derive(Default)]
struct CreateIn {
    mode: Option<&'static str>,
    ui_mode: Option<UiMode>,
    line_items: Option<Vec<LineItemIn>>,
    success_url: Option<String>,
    cancel_url: Option<String>,
    return_url: Option<String>,
    redirect_on_completion: Option<&'static str>,
    client_reference_id: Option<String>,
    customer: Option<String>,
    customer_email: Option<String>,
    customer_creation: Option<&'static str>,
    metadata: BTreeMap<String, String>,
    expires_at: Option<i64>,
    payment_intent_data: Option<PaymentIntentData>,
    allow_promotion_codes: Option<bool>,
    discounts: Vec<DiscountIn>,
    locale: Option<&'static str>,
    submit_type: Option<&'static str>,
    billing_address_collection: Option<&'static str>,
    phone_number_collection: Option<bool>,
    tax_id_collection: Option<bool>,
    automatic_tax: Option<bool>,
    shipping_countries: Option<Vec<String>>,
    custom_text: CustomText,
    payment_method_types: Option<Vec<String>>,
    allowed_payment_method_types: Option<Vec<String>>,
    currency: Option<String>,
    customer_account: Option<String>,
    integration_identifier: Option<String>,
    managed_payments: Option<bool>,
    origin_context: Option<&'static str>,
    expand: Vec<&'static str>,
}

const SESSION_EXPANDABLE: &[&str] = &[
    "line_items",
    "line_items.data.price.product",
    "payment_intent",
    "payment_intent.latest_charge",
    "customer",
    "invoice",
    "payment_link",
    "setup_intent",
    "subscription",
];

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
    let tax_behavior = f.one_of("tax_behavior", &["inclusive", "exclusive", "unspecified"])?;
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
    for extra in ["adjustable_quantity", "tax_rates", "dynamic_tax_rates"] {
        f.ignore(extra);
    }
    let mut legacy = LegacyIn::default();
    if legacy_allowed {
        legacy.used = ["name", "amount", "currency", "description", "images"]
            .iter()
            .any(|k| f.has(k));
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
    })
}

fn read_create(params: &Params, version: Option<&ApiVersion>) -> ApiResult<CreateIn> {
    let mut f = Fields::root(params);
    let legacy_allowed = version::allows_legacy_line_items(version);
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
    c.redirect_on_completion = f.one_of(
        "redirect_on_completion",
        &["always", "if_required", "never"],
    )?;
    c.client_reference_id = f.owned("client_reference_id")?;
    c.customer = f.owned("customer")?;
    c.customer_email = f.owned("customer_email")?;
    c.customer_creation = f.one_of("customer_creation", &["always", "if_required"])?;
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
    c.locale = f.one_of("locale", LOCALES)?;
    c.submit_type = f.one_of(
        "submit_type",
        &["auto", "book", "donate", "pay", "subscribe"],
    )?;
    c.billing_address_collection = f.one_of("billing_address_collection", &["auto", "required"])?;
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
    c.origin_context = f.one_of("origin_context", &["mobile_app", "web"])?;
    c.expand = read_expand(&mut f, SESSION_EXPANDABLE)?;
    for key in ACCEPTED_NOT_MODELLED {
        f.ignore(key);
    }
    // Only meaningful with mode=subscription, which is refused below with a clear message.
    f.ignore("subscription_data");
    f.finish()?;
    Ok(c)
}

fn check_email(param: &str, email: &str) -> ApiResult<()> {
    let plausible = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !email.contains(char::is_whitespace)
        && email.len() <= 512;
    if plausible {
        Ok(())
    } else {
        Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("email_invalid"),
            format!("Invalid email address: {email}"),
        )
        .with_param(param))
    }
}

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

fn build_line_item(li: LineItemIn) -> ApiResult<LineItem> {
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
            // There is no /v1/prices yet, so no price id can exist.
            (Some(id), None) => return Err(ApiError::no_such("price", &id, &p("price"), false)),
            (None, None) => return Err(ApiError::missing(&p("price_data"))),
            (None, Some(pd)) => pd,
        }
    };
    let amount_param = if legacy.used {
        p("amount")
    } else {
        format!("{}[unit_amount]", price_data.path)
    };
    let pp = |k: &str| format!("{}[{k}]", price_data.path);
    if price_data.recurring {
        return Err(ApiError::invalid(
            pp("recurring"),
            "mock-stripe does not support recurring prices (mode=subscription) yet.",
        ));
    }
    let currency_param = if legacy.used {
        p("currency")
    } else {
        pp("currency")
    };
    let raw_currency = price_data
        .currency
        .ok_or_else(|| ApiError::missing(&currency_param))?;
    let currency = money::normalize(&raw_currency).ok_or_else(|| {
        ApiError::invalid(
            &currency_param,
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
                    &amount_param,
                    &pp("unit_amount_decimal"),
                ));
            }
            (None, None) => return Err(ApiError::missing(&amount_param)),
            (Some(u), None) => {
                if u < 0 {
                    return Err(ApiError::too_small(&amount_param, 0));
                }
                if u > MAX_UNIT_AMOUNT {
                    return Err(ApiError::too_large(&amount_param, MAX_UNIT_AMOUNT));
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
        (Some(id), None) => return Err(ApiError::no_such("product", &id, &pp("product"), false)),
        (None, None) => return Err(ApiError::missing(&pp("product_data"))),
        (None, Some(pd)) => {
            let name_param = if legacy.used {
                p("name")
            } else {
                format!("{}[name]", pd.path)
            };
            let name = pd.name.ok_or_else(|| ApiError::missing(&name_param))?;
            if pd.images.len() > 8 {
                return Err(ApiError::invalid(
                    format!("{}[images]", pd.path),
                    "You may only specify up to 8 images.",
                ));
            }
            check_metadata(&format!("{}[metadata]", pd.path), &pd.metadata)?;
            Product {
                id: object_id(prefix::PRODUCT),
                name,
                description: pd.description,
                images: pd.images,
                metadata: pd.metadata,
            }
        }
    };
    check_metadata(&p("metadata"), &li.metadata)?;
    Ok(LineItem {
        id: object_id(prefix::LINE_ITEM),
        description: product.name.clone(),
        quantity,
        amount,
        metadata: li.metadata,
        price: Price {
            id: object_id(prefix::PRICE),
            currency,
            unit_amount,
            unit_amount_decimal,
            tax_behavior: price_data.tax_behavior.unwrap_or("unspecified"),
            product,
        },
    })
}

/// Validates a create request and stores the new session. Returns its id.
pub(crate) fn create_session(
    account: &mut Account,
    params: &Params,
    ctx: &RequestCtx,
    base_url: &str,
) -> ApiResult<(String, Vec<&'static str>)> {
    let c = read_create(params, ctx.version.as_ref())?;
    let now = account.now();

    let mode = match c.mode {
        None => return Err(ApiError::missing("mode")),
        Some("payment") => Mode::Payment,
        Some("setup") => Mode::Setup,
        Some(_) => {
            return Err(ApiError::invalid(
                "mode",
                "mock-stripe does not support mode=subscription yet: use payment or setup.",
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
        check_url("success_url", success)?;
        if let Some(u) = &c.cancel_url {
            check_url("cancel_url", u)?;
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
            (Some(u), _) => check_url("return_url", u)?,
            (None, Some("never")) => {}
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
        // There is no /v1/customers yet, so no customer id can exist.
        return Err(ApiError::no_such("customer", id, "customer", false));
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
    if let Some(d) = c.discounts.first() {
        // No coupons or promotion codes exist in the mock.
        match (&d.coupon, &d.promotion_code) {
            (Some(id), _) => {
                return Err(ApiError::no_such(
                    "coupon",
                    id,
                    &format!("{}[coupon]", d.path),
                    false,
                ));
            }
            (None, Some(id)) => {
                return Err(ApiError::no_such(
                    "promotion code",
                    id,
                    &format!("{}[promotion_code]", d.path),
                    false,
                ));
            }
            (None, None) => {}
        }
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
    let (line_items, currency, amount_total) = match mode {
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
            let items = inputs
                .into_iter()
                .map(build_line_item)
                .collect::<ApiResult<Vec<_>>>()?;
            let currency = items[0].price.currency.clone();
            if let Some((i, other)) = items
                .iter()
                .enumerate()
                .find(|(_, li)| li.price.currency != currency)
            {
                return Err(ApiError::invalid(
                    format!("line_items[{i}]"),
                    format!(
                        "All line items must have the same currency: line_items[0] is in {currency}, line_items[{i}] in {}.",
                        other.price.currency
                    ),
                ));
            }
            let total: i64 = items.iter().map(|li| li.amount).sum();
            let minimum = money::minimum_charge(&currency);
            if total < minimum {
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
            (items, Some(currency), Some(total))
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
            (Vec::new(), currency, None)
        }
    };
    if mode == Mode::Setup && c.payment_intent_data.is_some() {
        return Err(ApiError::invalid(
            "payment_intent_data",
            "You can not pass `payment_intent_data` in `setup` mode.",
        ));
    }

    let id = crate::ids::session_id();
    let client_secret =
        (ui_mode != UiMode::Hosted).then(|| format!("{id}_secret_{}", crate::ids::new_id("", 24)));
    let session = Session {
        page_url: format!("{base_url}/c/pay/{id}"),
        id: id.clone(),
        created: now,
        expires_at,
        api_version: ctx.version.clone(),
        mode,
        ui_mode,
        status: Status::Open,
        payment_status: if mode == Mode::Payment {
            PaymentStatus::Unpaid
        } else {
            PaymentStatus::NoPaymentRequired
        },
        currency,
        line_items,
        amount_total,
        success_url: c.success_url,
        cancel_url: c.cancel_url,
        return_url: c.return_url,
        redirect_on_completion: c
            .redirect_on_completion
            .or((ui_mode != UiMode::Hosted).then_some("always")),
        client_secret,
        client_reference_id: c.client_reference_id,
        customer_email: c.customer_email,
        customer_creation: Some(c.customer_creation.unwrap_or("if_required")),
        customer_details: None,
        metadata: c.metadata,
        payment_intent: None,
        payment_intent_data: c.payment_intent_data.unwrap_or_default(),
        payment_method_types: c
            .payment_method_types
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| vec!["card".into()]),
        allow_promotion_codes: c.allow_promotion_codes,
        billing_address_collection: c.billing_address_collection,
        locale: c.locale,
        submit_type: c.submit_type,
        phone_number_collection: c.phone_number_collection.unwrap_or(false),
        tax_id_collection: c.tax_id_collection.unwrap_or(false),
        automatic_tax: c.automatic_tax.unwrap_or(false),
        shipping_countries: c.shipping_countries,
        custom_text: c.custom_text,
        allowed_payment_method_types: c.allowed_payment_method_types.filter(|t| !t.is_empty()),
        integration_identifier: c.integration_identifier,
        managed_payments: c.managed_payments,
        origin_context: c.origin_context,
    };
    account.sessions.insert(session);
    Ok((id, c.expand))
}

// ---------------------------------------------------------------------------------------
// State machine
// ---------------------------------------------------------------------------------------

fn event_version(session: &Session) -> String {
    session.version().as_str().to_string()
}

/// Moves an open session to `expired`: cancels a PaymentIntent left by declines, then
/// emits `checkout.session.expired`. The caller checked the status.
fn do_expire(account: &mut Account, id: &str, request: &EventRequest) -> ApiResult<()> {
    let now = account.now();
    let Some(session) = account.sessions.get_mut(id) else {
        return Ok(());
    };
    session.status = Status::Expired;
    let session = session.clone();
    let v = event_version(&session);
    if let Some(pi_id) = &session.payment_intent
        && let Some(pi) = account.payment_intents.get_mut(pi_id)
        && pi.status == PiStatus::RequiresPaymentMethod
    {
        pi.status = PiStatus::Canceled;
        pi.canceled_at = Some(now);
        pi.cancellation_reason = Some("abandoned");
        let obj = snapshot(&pi.json(None))?;
        emit(account, "payment_intent.canceled", obj, &v, request)?;
    }
    let obj = snapshot(&session.json(&session.version(), &Expansion::default()))?;
    emit(account, "checkout.session.expired", obj, &v, request)
}

/// Expires the session if its `expires_at` has passed (expiry is evaluated lazily on
/// access, and by the sweeper in the background).
pub(crate) fn refresh(account: &mut Account, id: &str) -> ApiResult<()> {
    let now = account.now();
    let due = account
        .sessions
        .get(id)
        .is_some_and(|s| s.status == Status::Open && now >= s.expires_at);
    if due {
        do_expire(account, id, &EventRequest::default())
    } else {
        Ok(())
    }
}

/// Expires every open session whose time is up. Returns how many.
pub(crate) fn expire_due(account: &mut Account) -> ApiResult<usize> {
    let now = account.now();
    let due: Vec<String> = account
        .sessions
        .as_slice()
        .iter()
        .filter(|s| s.status == Status::Open && now >= s.expires_at)
        .map(|s| s.id.clone())
        .collect();
    for id in &due {
        do_expire(account, id, &EventRequest::default())?;
    }
    Ok(due.len())
}

/// `POST /v1/checkout/sessions/{id}/expire` semantics: only from `open`.
pub(crate) fn expire(account: &mut Account, id: &str, request: &EventRequest) -> ApiResult<()> {
    refresh(account, id)?;
    let session = account
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    if session.status != Status::Open {
        return Err(ApiError::bad_request(format!(
            "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `{}`.",
            session.status.as_str()
        )));
    }
    do_expire(account, id, request)
}

/// What the payer typed, checked.
pub(crate) struct Payer<'a> {
    pub card: &'a Card,
    pub email: &'a str,
    pub name: Option<&'a str>,
}

/// The result of submitting the payment form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PayResult {
    /// Paid now; events emitted. Carries the redirect URL (if any).
    Completed(Option<String>),
    /// Paid earlier (double submit): nothing new happens.
    AlreadyComplete(Option<String>),
    Expired,
    Declined(CardError),
}

/// Charges the card for an open session (contract §2.3).
///
/// Success: the session becomes `complete`/`paid` and the events `payment_intent.created`
/// (first attempt only), `charge.succeeded`, `payment_intent.succeeded`,
/// `checkout.session.completed` are emitted in that order. A decline leaves the session open
/// and emits `payment_intent.created` (first attempt), `charge.failed`,
/// `payment_intent.payment_failed`.
pub(crate) fn pay(account: &mut Account, id: &str, payer: &Payer<'_>) -> ApiResult<PayResult> {
    refresh(account, id)?;
    let now = account.now();
    let request = EventRequest::default(); // a browser, not an API call
    let session = account
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    match session.status {
        Status::Complete => return Ok(PayResult::AlreadyComplete(session.redirect_url())),
        Status::Expired => return Ok(PayResult::Expired),
        Status::Open => {}
    }
    let v = event_version(session);
    let details = CustomerDetails {
        email: Some(payer.email.to_string()),
        name: payer.name.map(str::to_string),
    };

    if session.mode == Mode::Setup {
        // Saving a card for later: no money moves, so no PaymentIntent.
        let session = account.sessions.get_mut(id).expect("looked up above");
        session.status = Status::Complete;
        session.customer_details = Some(details);
        let session = session.clone();
        let obj = snapshot(&session.json(&session.version(), &Expansion::default()))?;
        emit(account, "checkout.session.completed", obj, &v, &request)?;
        return Ok(PayResult::Completed(session.redirect_url()));
    }

    // The PaymentIntent is created on the first attempt and reused by later ones.
    let pi_id = match &session.payment_intent {
        Some(pi) => pi.clone(),
        None => {
            let pi = PaymentIntent::new(
                now,
                session.amount_total.unwrap_or(0),
                session.currency.as_deref().unwrap_or("usd"),
                &session.payment_intent_data,
            );
            let pi_id = pi.id.clone();
            let obj = snapshot(&pi.json(None))?;
            account.payment_intents.insert(pi);
            account
                .sessions
                .get_mut(id)
                .expect("looked up above")
                .payment_intent = Some(pi_id.clone());
            emit(account, "payment_intent.created", obj, &v, &request)?;
            pi_id
        }
    };

    let outcome = crate::cards::outcome(&payer.card.number);
    let (amount, currency, description) = {
        let pi = account.payment_intents.get(&pi_id).expect("created above");
        (pi.amount, pi.currency.clone(), pi.data.description.clone())
    };
    let charge = Charge {
        id: object_id(prefix::CHARGE),
        created: now,
        amount,
        currency,
        payment_intent: pi_id.clone(),
        payment_method: object_id(prefix::PAYMENT_METHOD),
        card: ChargeCard::from(payer.card),
        email: Some(payer.email.to_string()),
        name: payer.name.map(str::to_string),
        failure: match &outcome {
            Outcome::Succeeds => None,
            Outcome::Declined(e) => Some(e.clone()),
        },
        description,
    };
    let charge_obj = snapshot(&charge.json())?;
    let (charge_id, pm_id) = (charge.id.clone(), charge.payment_method.clone());
    account.charges.insert(charge);
    let pi = account
        .payment_intents
        .get_mut(&pi_id)
        .expect("created above");
    pi.latest_charge = Some(charge_id.clone());
    pi.payment_method = Some(pm_id);

    match outcome {
        Outcome::Declined(error) => {
            pi.last_payment_error = Some(LastError {
                error: error.clone(),
                charge: charge_id,
            });
            let pi_obj = snapshot(&pi.json(None))?;
            emit(account, "charge.failed", charge_obj, &v, &request)?;
            emit(
                account,
                "payment_intent.payment_failed",
                pi_obj,
                &v,
                &request,
            )?;
            Ok(PayResult::Declined(error))
        }
        Outcome::Succeeds => {
            pi.status = PiStatus::Succeeded;
            pi.last_payment_error = None;
            let pi_obj = snapshot(&pi.json(None))?;
            let session = account.sessions.get_mut(id).expect("looked up above");
            session.status = Status::Complete;
            session.payment_status = PaymentStatus::Paid;
            session.customer_details = Some(details);
            let session = session.clone();
            let session_obj = snapshot(&session.json(&session.version(), &Expansion::default()))?;
            emit(account, "charge.succeeded", charge_obj, &v, &request)?;
            emit(account, "payment_intent.succeeded", pi_obj, &v, &request)?;
            emit(
                account,
                "checkout.session.completed",
                session_obj,
                &v,
                &request,
            )?;
            Ok(PayResult::Completed(session.redirect_url()))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

/// What to expand when rendering a session.
#[derive(Default)]
pub(crate) struct Expansion<'a> {
    pub line_items: bool,
    pub products: bool,
    pub payment_intent: Option<&'a PaymentIntent>,
    /// `payment_intent.latest_charge`: the expanded PaymentIntent's charge, expanded too.
    pub latest_charge: Option<&'a Charge>,
}

#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Serialize)]
struct AutomaticTaxJson {
    enabled: bool,
    liability: (),
    provider: (),
    status: Option<&'static str>,
}

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

#[derive(Serialize)]
struct CustomTextJson<'a> {
    after_submit: Option<Message<'a>>,
    shipping_address: Option<Message<'a>>,
    submit: Option<Message<'a>>,
    terms_of_service_acceptance: Option<Message<'a>>,
}

#[derive(Serialize)]
struct CustomerDetailsJson<'a> {
    address: (),
    business_name: (),
    email: Option<&'a str>,
    individual_name: (),
    name: Option<&'a str>,
    phone: (),
    tax_exempt: &'static str,
    tax_ids: [(); 0],
}

#[derive(Serialize)]
struct TaxIdCollectionJson {
    enabled: bool,
    required: &'static str,
}

#[derive(Serialize)]
struct ShippingAddressCollectionJson<'a> {
    allowed_countries: &'a [String],
}

#[derive(Serialize)]
struct TotalDetailsJson {
    amount_discount: i64,
    amount_shipping: i64,
    amount_tax: i64,
}

#[derive(Serialize)]
struct CardOptionsJson {
    request_three_d_secure: &'static str,
}

#[derive(Serialize)]
struct PaymentMethodOptionsJson {
    card: CardOptionsJson,
}

#[derive(Serialize)]
#[serde(untagged)]
enum PaymentIntentRef<'a> {
    Id(&'a str),
    Object(Box<super::payment_intents::PaymentIntentJson<'a>>),
}

/// The JSON of a session. Field set per contract §2.1 ("always present" ones included).
#[derive(Serialize)]
pub(crate) struct SessionJson<'a> {
    id: &'a str,
    object: &'static str,
    adaptive_pricing: Enabled,
    after_expiration: (),
    allow_promotion_codes: Option<bool>,
    allowed_payment_method_types: Option<&'a [String]>,
    amount_subtotal: Option<i64>,
    amount_total: Option<i64>,
    automatic_tax: AutomaticTaxJson,
    billing_address_collection: Option<&'static str>,
    cancel_url: Option<&'a str>,
    client_reference_id: Option<&'a str>,
    client_secret: Option<&'a str>,
    collected_information: (),
    consent: (),
    consent_collection: (),
    created: i64,
    currency: Option<&'a str>,
    currency_conversion: (),
    custom_fields: [(); 0],
    custom_text: CustomTextJson<'a>,
    customer: (),
    customer_account: (),
    customer_creation: Option<&'static str>,
    customer_details: Option<CustomerDetailsJson<'a>>,
    customer_email: Option<&'a str>,
    discounts: [(); 0],
    expires_at: i64,
    integration_identifier: Option<&'a str>,
    invoice: (),
    invoice_creation: (),
    #[serde(skip_serializing_if = "Option::is_none")]
    line_items: Option<ListJson<ItemJson<'a>>>,
    livemode: bool,
    locale: Option<&'static str>,
    managed_payments: Option<Enabled>,
    metadata: &'a BTreeMap<String, String>,
    mode: Mode,
    origin_context: Option<&'static str>,
    payment_intent: Option<PaymentIntentRef<'a>>,
    payment_link: (),
    payment_method_collection: Option<&'static str>,
    payment_method_configuration_details: (),
    payment_method_options: Option<PaymentMethodOptionsJson>,
    payment_method_types: &'a [String],
    payment_status: PaymentStatus,
    permissions: (),
    phone_number_collection: Enabled,
    recovered_from: (),
    redirect_on_completion: Option<&'static str>,
    return_url: Option<&'a str>,
    saved_payment_method_options: (),
    setup_intent: (),
    shipping_address_collection: Option<ShippingAddressCollectionJson<'a>>,
    shipping_cost: (),
    /// Moved to `collected_information` in 2025-03-31.basil; older clients still see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_details: Option<()>,
    shipping_options: [(); 0],
    status: Status,
    submit_type: Option<&'static str>,
    subscription: (),
    success_url: Option<&'a str>,
    tax_id_collection: TaxIdCollectionJson,
    total_details: Option<TotalDetailsJson>,
    ui_mode: &'static str,
    url: Option<&'a str>,
    wallet_options: (),
}

/// A line item (`object: "item"`, contract §2.6) with its embedded Price.
#[derive(Serialize)]
pub(crate) struct ItemJson<'a> {
    id: &'a str,
    object: &'static str,
    /// Accepted on create, not modelled (the page has no quantity picker).
    adjustable_quantity: (),
    amount_discount: i64,
    amount_subtotal: i64,
    amount_tax: i64,
    amount_total: i64,
    currency: &'a str,
    description: &'a str,
    metadata: &'a BTreeMap<String, String>,
    price: PriceJson<'a>,
    quantity: i64,
}

#[derive(Serialize)]
struct PriceJson<'a> {
    id: &'a str,
    object: &'static str,
    active: bool,
    billing_scheme: &'static str,
    created: i64,
    currency: &'a str,
    custom_unit_amount: (),
    livemode: bool,
    lookup_key: (),
    metadata: BTreeMap<String, String>,
    nickname: (),
    product: ProductRef<'a>,
    recurring: (),
    tax_behavior: &'static str,
    tiers_mode: (),
    transform_quantity: (),
    #[serde(rename = "type")]
    kind: &'static str,
    unit_amount: Option<i64>,
    unit_amount_decimal: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ProductRef<'a> {
    Id(&'a str),
    Object(ProductJson<'a>),
}

#[derive(Serialize)]
struct ProductJson<'a> {
    id: &'a str,
    object: &'static str,
    active: bool,
    attributes: [(); 0],
    created: i64,
    default_price: (),
    description: Option<&'a str>,
    images: &'a [String],
    livemode: bool,
    marketing_features: [(); 0],
    metadata: &'a BTreeMap<String, String>,
    name: &'a str,
    package_dimensions: (),
    shippable: (),
    statement_descriptor: (),
    tax_code: (),
    tax_details: (),
    #[serde(rename = "type")]
    kind: &'static str,
    unit_label: (),
    updated: i64,
    url: (),
}

impl LineItem {
    fn json(&self, created: i64, expand_product: bool) -> ItemJson<'_> {
        let product = &self.price.product;
        ItemJson {
            id: &self.id,
            object: "item",
            adjustable_quantity: (),
            amount_discount: 0,
            amount_subtotal: self.amount,
            amount_tax: 0,
            amount_total: self.amount,
            currency: &self.price.currency,
            description: &self.description,
            metadata: &self.metadata,
            price: PriceJson {
                id: &self.price.id,
                object: "price",
                // Prices made from price_data are inline one-offs.
                active: false,
                billing_scheme: "per_unit",
                created,
                currency: &self.price.currency,
                custom_unit_amount: (),
                livemode: false,
                lookup_key: (),
                metadata: BTreeMap::new(),
                nickname: (),
                product: if expand_product {
                    ProductRef::Object(ProductJson {
                        id: &product.id,
                        object: "product",
                        active: false,
                        attributes: [],
                        created,
                        default_price: (),
                        description: product.description.as_deref(),
                        images: &product.images,
                        livemode: false,
                        marketing_features: [],
                        metadata: &product.metadata,
                        name: &product.name,
                        package_dimensions: (),
                        shippable: (),
                        statement_descriptor: (),
                        tax_code: (),
                        tax_details: (),
                        kind: "service",
                        unit_label: (),
                        updated: created,
                        url: (),
                    })
                } else {
                    ProductRef::Id(&product.id)
                },
                recurring: (),
                tax_behavior: self.price.tax_behavior,
                tiers_mode: (),
                transform_quantity: (),
                kind: "one_time",
                unit_amount: self.price.unit_amount,
                unit_amount_decimal: &self.price.unit_amount_decimal,
            },
            quantity: self.quantity,
        }
    }
}

fn message(m: &Option<String>) -> Option<Message<'_>> {
    m.as_deref().map(|message| Message { message })
}

impl Session {
    pub(crate) fn line_items_url(&self) -> String {
        format!("/v1/checkout/sessions/{}/line_items", self.id)
    }

    /// Renders at API version `v`. Event payloads use `Expansion::default()` (never expanded).
    pub(crate) fn json<'a>(&'a self, v: &ApiVersion, expand: &Expansion<'a>) -> SessionJson<'a> {
        let payment = self.mode == Mode::Payment;
        SessionJson {
            id: &self.id,
            object: "checkout.session",
            adaptive_pricing: Enabled { enabled: false },
            after_expiration: (),
            allow_promotion_codes: self.allow_promotion_codes,
            allowed_payment_method_types: self.allowed_payment_method_types.as_deref(),
            amount_subtotal: self.amount_total,
            amount_total: self.amount_total,
            automatic_tax: AutomaticTaxJson {
                enabled: self.automatic_tax,
                liability: (),
                provider: (),
                status: self.automatic_tax.then_some("complete"),
            },
            billing_address_collection: self.billing_address_collection,
            cancel_url: self.cancel_url.as_deref(),
            client_reference_id: self.client_reference_id.as_deref(),
            client_secret: match self.status {
                Status::Open => self.client_secret.as_deref(),
                _ => None,
            },
            collected_information: (),
            consent: (),
            consent_collection: (),
            created: self.created,
            currency: self.currency.as_deref(),
            currency_conversion: (),
            custom_fields: [],
            custom_text: CustomTextJson {
                after_submit: message(&self.custom_text.after_submit),
                shipping_address: message(&self.custom_text.shipping_address),
                submit: message(&self.custom_text.submit),
                terms_of_service_acceptance: message(&self.custom_text.terms_of_service_acceptance),
            },
            customer: (),
            customer_account: (),
            customer_creation: self.customer_creation,
            customer_details: self.customer_details.as_ref().map(|d| CustomerDetailsJson {
                address: (),
                business_name: (),
                email: d.email.as_deref(),
                individual_name: (),
                name: d.name.as_deref(),
                phone: (),
                tax_exempt: "none",
                tax_ids: [],
            }),
            customer_email: self.customer_email.as_deref(),
            discounts: [],
            expires_at: self.expires_at,
            integration_identifier: self.integration_identifier.as_deref(),
            invoice: (),
            invoice_creation: (),
            line_items: expand.line_items.then(|| {
                let data = self
                    .line_items
                    .iter()
                    .map(|li| li.json(self.created, expand.products))
                    .collect();
                ListJson::new(data, false, self.line_items_url())
            }),
            livemode: false,
            locale: self.locale,
            managed_payments: self.managed_payments.map(|enabled| Enabled { enabled }),
            metadata: &self.metadata,
            mode: self.mode,
            origin_context: self.origin_context,
            payment_intent: match (expand.payment_intent, &self.payment_intent) {
                (Some(pi), _) => Some(PaymentIntentRef::Object(Box::new(
                    pi.json(expand.latest_charge),
                ))),
                (None, Some(id)) => Some(PaymentIntentRef::Id(id)),
                (None, None) => None,
            },
            payment_link: (),
            payment_method_collection: Some(if payment { "if_required" } else { "always" }),
            payment_method_configuration_details: (),
            payment_method_options: payment.then_some(PaymentMethodOptionsJson {
                card: CardOptionsJson {
                    request_three_d_secure: "automatic",
                },
            }),
            payment_method_types: &self.payment_method_types,
            payment_status: self.payment_status,
            permissions: (),
            phone_number_collection: Enabled {
                enabled: self.phone_number_collection,
            },
            recovered_from: (),
            redirect_on_completion: self.redirect_on_completion,
            return_url: self.return_url.as_deref(),
            saved_payment_method_options: (),
            setup_intent: (),
            shipping_address_collection: self.shipping_countries.as_deref().map(|c| {
                ShippingAddressCollectionJson {
                    allowed_countries: c,
                }
            }),
            shipping_cost: (),
            shipping_details: v.before(2025, 3, 31).then_some(()),
            shipping_options: [],
            status: self.status,
            submit_type: self.submit_type,
            subscription: (),
            success_url: self.success_url.as_deref(),
            tax_id_collection: TaxIdCollectionJson {
                enabled: self.tax_id_collection,
                required: "never",
            },
            total_details: payment.then_some(TotalDetailsJson {
                amount_discount: 0,
                amount_shipping: 0,
                amount_tax: 0,
            }),
            ui_mode: self.ui_mode.render(v),
            url: (self.status == Status::Open && self.ui_mode == UiMode::Hosted)
                .then_some(self.page_url.as_str()),
            wallet_options: (),
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP handlers (thin): parse, call the domain function, render.
// ---------------------------------------------------------------------------------------

fn render_version(ctx: &RequestCtx, session: &Session) -> ApiVersion {
    ctx.version.clone().unwrap_or_else(|| session.version())
}

/// The objects behind `expand[]=payment_intent` and `expand[]=payment_intent.latest_charge`
/// (the nested path expands the PaymentIntent as well, as in Stripe).
fn expand_payment_intent<'a>(
    account: &'a Account,
    session: &Session,
    intent: bool,
    charge: bool,
) -> (Option<&'a PaymentIntent>, Option<&'a Charge>) {
    if !(intent || charge) {
        return (None, None);
    }
    let pi = session
        .payment_intent
        .as_deref()
        .and_then(|p| account.payment_intents.get(p));
    let ch = pi
        .filter(|_| charge)
        .and_then(|pi| pi.latest_charge.as_deref())
        .and_then(|c| account.charges.get(c));
    (pi, ch)
}

fn render(account: &Account, id: &str, ctx: &RequestCtx, expand: &[&str]) -> ApiResult<Reply> {
    let session = account
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    let (payment_intent, latest_charge) = expand_payment_intent(
        account,
        session,
        expand.contains(&"payment_intent"),
        expand.contains(&"payment_intent.latest_charge"),
    );
    let products = expand.contains(&"line_items.data.price.product");
    let x = Expansion {
        line_items: products || expand.contains(&"line_items"),
        products,
        payment_intent,
        latest_charge,
    };
    Reply::json(&session.json(&render_version(ctx, session), &x))
}

/// `POST /v1/checkout/sessions`. Returns the new id too (the router indexes it).
pub(crate) fn create(
    account: &mut Account,
    params: &Params,
    ctx: &RequestCtx,
    base_url: &str,
) -> ApiResult<(String, Reply)> {
    let (id, expand) = create_session(account, params, ctx, base_url)?;
    let reply = render(account, &id, ctx, &expand)?;
    Ok((id, reply))
}

/// `GET /v1/checkout/sessions/{id}`
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let expand = read_expand(&mut f, SESSION_EXPANDABLE)?;
    f.finish()?;
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
    let mut f = Fields::root(params);
    let metadata = f.string_map("metadata")?;
    let expand = read_expand(&mut f, SESSION_EXPANDABLE)?;
    f.finish()?;
    refresh(account, id)?;
    let session = account
        .sessions
        .get_mut(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    if let Some(m) = metadata {
        let mut updated = session.metadata.clone();
        m.apply(&mut updated);
        check_metadata("metadata", &updated)?;
        session.metadata = updated;
    }
    render(account, id, ctx, &expand)
}

/// `POST /v1/checkout/sessions/{id}/expire`
pub(crate) fn expire_handler(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let expand = read_expand(&mut f, SESSION_EXPANDABLE)?;
    f.finish()?;
    let request = EventRequest {
        id: Some(ctx.request_id.clone()),
        idempotency_key: ctx.idempotency_key.clone(),
    };
    expire(account, id, &request)?;
    render(account, id, ctx, &expand)
}

/// `GET /v1/checkout/sessions`
pub(crate) fn list(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
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
    // Customers, payment links, subscriptions do not exist in the mock: such filters match nothing.
    let mut matches_nothing = false;
    for key in [
        "customer",
        "customer_account",
        "payment_link",
        "subscription",
    ] {
        matches_nothing |= f.string(key)?.is_some();
    }
    let expand = read_expand(
        &mut f,
        &[
            "data.line_items",
            "data.payment_intent",
            "data.payment_intent.latest_charge",
        ],
    )?;
    f.finish()?;
    expire_due(account)?;

    let keep = |s: &Session| {
        !matches_nothing
            && status.is_none_or(|st| s.status.as_str() == st)
            && payment_intent
                .as_deref()
                .is_none_or(|p| s.payment_intent.as_deref() == Some(p))
            && email.as_deref().is_none_or(|e| {
                s.customer_details.as_ref().and_then(|d| d.email.as_deref()) == Some(e)
            })
            && created.matches(s.created)
    };
    let sessions = &account.sessions;
    let (data, has_more) = paginate(
        sessions.as_slice(),
        |id| sessions.position(id),
        keep,
        &page,
        "checkout.session",
    )?;
    let data: Vec<_> = data
        .into_iter()
        .map(|s| {
            let (payment_intent, latest_charge) = expand_payment_intent(
                account,
                s,
                expand.contains(&"data.payment_intent"),
                expand.contains(&"data.payment_intent.latest_charge"),
            );
            let x = Expansion {
                line_items: expand.contains(&"data.line_items"),
                products: false,
                payment_intent,
                latest_charge,
            };
            s.json(&render_version(ctx, s), &x)
        })
        .collect();
    Reply::json(&ListJson::new(
        data,
        has_more,
        "/v1/checkout/sessions".into(),
    ))
}

/// `GET /v1/checkout/sessions/{id}/line_items`
pub(crate) fn line_items(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let expand = read_expand(&mut f, &["data.price.product"])?;
    f.finish()?;
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
    let data: Vec<_> = data
        .into_iter()
        .map(|li| li.json(session.created, expand.contains(&"data.price.product")))
        .collect();
    Reply::json(&ListJson::new(data, has_more, session.line_items_url()))
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
                    li.price.product.description.clone(),
                    li.quantity,
                    li.amount,
                )
            })
            .collect(),
        total: s.amount_total.unwrap_or(0),
        customer_email: s.customer_email.clone(),
        cancel_url: s.cancel_url.clone(),
        submit_type: s.submit_type,
        redirect: s.redirect_url(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    const NOW: i64 = 1_700_000_000;

    fn account() -> Account {
        Account::new(Clock::Fixed(NOW), Default::default())
    }

    fn ctx(version: Option<&str>) -> RequestCtx {
        RequestCtx {
            request_id: "req_test".into(),
            version: version.map(|v| ApiVersion::parse(v).unwrap()),
            idempotency_key: None,
        }
    }

    const BASIC: &str = "mode=payment&success_url=https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}\
        &cancel_url=https://shop.test/cart\
        &line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1999\
        &line_items[0][price_data][product_data][name]=T-shirt&line_items[0][quantity]=2";

    fn try_create(
        a: &mut Account,
        wire: &str,
        version: Option<&str>,
    ) -> ApiResult<serde_json::Value> {
        let params = Params::decode(&[wire.as_bytes()])?;
        let (_, reply) = create(a, &params, &ctx(version), "http://127.0.0.1:12111")?;
        Ok(serde_json::from_slice(&reply.body).unwrap())
    }

    fn create_err(wire: &str, version: Option<&str>) -> ApiError {
        try_create(&mut account(), wire, version).unwrap_err()
    }

    fn with(extra: &str) -> String {
        format!("{BASIC}&{extra}")
    }

    #[test]
    fn created_session_has_the_always_present_fields() {
        let v = try_create(&mut account(), BASIC, Some("2026-09-30.endive")).unwrap();
        let id = v["id"].as_str().unwrap();
        assert!(id.starts_with("cs_test_"));
        assert_eq!(v["object"], "checkout.session");
        assert_eq!(v["status"], "open");
        assert_eq!(v["payment_status"], "unpaid");
        assert_eq!(v["mode"], "payment");
        assert_eq!(v["amount_total"], 3998);
        assert_eq!(v["amount_subtotal"], 3998);
        assert_eq!(v["currency"], "usd");
        assert_eq!(v["created"], NOW);
        assert_eq!(v["expires_at"], NOW + 86_400);
        assert_eq!(v["livemode"], false);
        assert_eq!(v["payment_intent"], serde_json::Value::Null);
        assert_eq!(v["url"], format!("http://127.0.0.1:12111/c/pay/{id}"));
        assert_eq!(
            v["success_url"],
            "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(
            v["automatic_tax"],
            // `provider` is required (nullable) in the official SDKs' types for 2026-10-28.
            serde_json::json!({"enabled": false, "liability": null, "provider": null, "status": null})
        );
        assert_eq!(v["custom_fields"], serde_json::json!([]));
        assert_eq!(v["shipping_options"], serde_json::json!([]));
        assert_eq!(v["payment_method_types"], serde_json::json!(["card"]));
        assert_eq!(v["custom_text"]["submit"], serde_json::Value::Null);
        assert_eq!(v["metadata"], serde_json::json!({}));
        assert_eq!(v["ui_mode"], "hosted_page");
        assert!(
            v.get("line_items").is_none(),
            "line_items only when expanded"
        );
    }

    #[test]
    fn ui_mode_follows_the_version() {
        let old = try_create(&mut account(), BASIC, Some("2024-06-20")).unwrap();
        assert_eq!(old["ui_mode"], "hosted");
        assert!(old.as_object().unwrap().contains_key("shipping_details"));
        let new = try_create(&mut account(), BASIC, Some("2026-03-25.dahlia")).unwrap();
        assert_eq!(new["ui_mode"], "hosted_page");
        assert!(!new.as_object().unwrap().contains_key("shipping_details"));
    }

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
        for version in [None, Some("2020-08-27")] {
            let v = try_create(&mut account(), legacy, version).unwrap();
            assert_eq!(v["amount_total"], 2900, "{version:?}");
            assert_eq!(v["line_items"]["data"][0]["description"], "Book");
        }
        let e = create_err(legacy, Some("2022-08-01"));
        assert_eq!(e.code, Some("parameter_unknown"));
        assert_eq!(e.param.as_deref(), Some("line_items[0][amount]"));
        let e = create_err(
            "mode=payment&success_url=https://shop.test/ok&line_items[0][name]=Book&line_items[0][currency]=usd&line_items[0][quantity]=1",
            None,
        );
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("parameter_missing"), Some("line_items[0][amount]"))
        );
    }

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

    fn card(number: &str) -> Card {
        crate::cards::check(number, "12/34", "123", NOW).unwrap()
    }

    fn new_session(a: &mut Account) -> String {
        try_create(a, &with("customer_email=buyer@example.com"), None).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn event_types(a: &Account) -> Vec<&'static str> {
        a.events.as_slice().iter().map(|e| e.kind).collect()
    }

    #[test]
    fn paying_completes_once_with_events_in_order() {
        let mut a = account();
        let id = new_session(&mut a);
        let c = card("4242424242424242");
        let payer = Payer {
            card: &c,
            email: "buyer@example.com",
            name: Some("Jenny Rosen"),
        };
        let r = pay(&mut a, &id, &payer).unwrap();
        assert_eq!(
            r,
            PayResult::Completed(Some(format!("https://shop.test/ok?session_id={id}")))
        );
        assert_eq!(
            event_types(&a),
            [
                "payment_intent.created",
                "charge.succeeded",
                "payment_intent.succeeded",
                "checkout.session.completed"
            ]
        );
        let s = a.sessions.get(&id).unwrap();
        assert_eq!(
            (s.status, s.payment_status),
            (Status::Complete, PaymentStatus::Paid)
        );
        let pi = a
            .payment_intents
            .get(s.payment_intent.as_deref().unwrap())
            .unwrap();
        assert_eq!(pi.status, PiStatus::Succeeded);
        assert_eq!(pi.amount, 3998);
        let completed = &a.events.as_slice()[3];
        let obj: serde_json::Value = serde_json::from_str(completed.object.get()).unwrap();
        assert_eq!(obj["status"], "complete");
        assert_eq!(obj["url"], serde_json::Value::Null);
        assert_eq!(obj["customer_details"]["email"], "buyer@example.com");
        assert_eq!(obj["customer_details"]["name"], "Jenny Rosen");
        assert!(obj.get("line_items").is_none());
        assert_eq!(completed.api_version, "2026-09-30.endive");

        // A second submit changes nothing.
        let again = pay(&mut a, &id, &payer).unwrap();
        assert!(matches!(again, PayResult::AlreadyComplete(Some(_))));
        assert_eq!(a.events.len(), 4);
    }

    #[test]
    fn decline_keeps_session_open_then_retry_succeeds() {
        let mut a = account();
        let id = new_session(&mut a);
        let bad = card("4000000000000002");
        let r = pay(
            &mut a,
            &id,
            &Payer {
                card: &bad,
                email: "b@e.test",
                name: None,
            },
        )
        .unwrap();
        let PayResult::Declined(e) = r else {
            panic!("{r:?}")
        };
        assert_eq!(e.decline_code, Some("generic_decline"));
        assert_eq!(
            event_types(&a),
            [
                "payment_intent.created",
                "charge.failed",
                "payment_intent.payment_failed"
            ]
        );
        let s = a.sessions.get(&id).unwrap();
        assert_eq!(s.status, Status::Open);
        let pi_id = s.payment_intent.clone().unwrap();

        let good = card("4242424242424242");
        let r = pay(
            &mut a,
            &id,
            &Payer {
                card: &good,
                email: "b@e.test",
                name: None,
            },
        )
        .unwrap();
        assert!(matches!(r, PayResult::Completed(_)));
        assert_eq!(
            a.sessions.get(&id).unwrap().payment_intent.as_deref(),
            Some(pi_id.as_str())
        );
        assert_eq!(
            &event_types(&a)[3..],
            [
                "charge.succeeded",
                "payment_intent.succeeded",
                "checkout.session.completed"
            ]
        );
    }

    #[test]
    fn expire_only_from_open() {
        let mut a = account();
        let id = new_session(&mut a);
        expire(
            &mut a,
            &id,
            &EventRequest {
                id: Some("req_1".into()),
                idempotency_key: None,
            },
        )
        .unwrap();
        assert_eq!(a.sessions.get(&id).unwrap().status, Status::Expired);
        assert_eq!(event_types(&a), ["checkout.session.expired"]);
        assert_eq!(a.events.as_slice()[0].request.id.as_deref(), Some("req_1"));
        let e = expire(&mut a, &id, &EventRequest::default()).unwrap_err();
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `expired`."
        );
        let e = expire(&mut a, "cs_test_nope", &EventRequest::default()).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.param.as_deref()),
            (404, Some("session"))
        );
        assert_eq!(
            pay(
                &mut a,
                &id,
                &Payer {
                    card: &card("4242424242424242"),
                    email: "x@y.test",
                    name: None
                }
            )
            .unwrap(),
            PayResult::Expired
        );
    }

    #[test]
    fn time_passing_expires_lazily_and_cancels_a_declined_intent() {
        let mut a = account();
        let id = new_session(&mut a);
        let bad = card("4000000000009995");
        pay(
            &mut a,
            &id,
            &Payer {
                card: &bad,
                email: "b@e.test",
                name: None,
            },
        )
        .unwrap();
        a.clock = Clock::Fixed(NOW + 86_400);
        assert_eq!(expire_due(&mut a).unwrap(), 1);
        assert_eq!(a.sessions.get(&id).unwrap().status, Status::Expired);
        assert_eq!(
            &event_types(&a)[3..],
            ["payment_intent.canceled", "checkout.session.expired"]
        );
        assert_eq!(expire_due(&mut a).unwrap(), 0, "expired exactly once");
    }

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
