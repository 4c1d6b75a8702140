//! The session as stored (typed structs, state enums) and its JSON, rendered at an API
//! version (contract §2.1, §2.6): `ui_mode` spelling and `shipping_details` depend on it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::protocol::list::ListJson;
use crate::protocol::version::{self, ApiVersion};
use crate::resources::payment_intents::{
    Charge, PaymentIntent, PaymentIntentData, PaymentIntentJson,
};
use crate::resources::string_enum;
use crate::store::Keyed;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(serde::Deserialize)]
pub(crate) enum Mode {
    Payment,
    Setup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(serde::Deserialize)]
pub(crate) enum Status {
    Open,
    Complete,
    Expired,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Complete => "complete",
            Status::Expired => "expired",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(serde::Deserialize)]
pub(crate) enum PaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
}

/// `ui_mode`, stored by meaning and rendered with the spelling of the client's version
/// (contract §1.3: `hosted` before 2026-03-25, `hosted_page` from then on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum UiMode {
    Hosted,
    Embedded,
    Elements,
    Form,
}

impl UiMode {
    pub(super) fn parse(s: &str) -> Option<UiMode> {
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

pub(crate) use crate::resources::prices::TaxBehavior;

string_enum! {
    /// `redirect_on_completion` (embedded and custom UI modes).
    pub(crate) enum RedirectOnCompletion {
        Always = "always",
        IfRequired = "if_required",
        Never = "never",
    }
}

string_enum! {
    /// `customer_creation`.
    pub(crate) enum CustomerCreation {
        Always = "always",
        IfRequired = "if_required",
    }
}

string_enum! {
    /// `billing_address_collection`.
    pub(crate) enum BillingAddressCollection {
        Auto = "auto",
        Required = "required",
    }
}

string_enum! {
    /// `submit_type`: the verb on the pay button.
    pub(crate) enum SubmitType {
        Auto = "auto",
        Book = "book",
        Donate = "donate",
        Pay = "pay",
        Subscribe = "subscribe",
    }
}

string_enum! {
    /// `origin_context`.
    pub(crate) enum OriginContext {
        MobileApp = "mobile_app",
        Web = "web",
    }
}

string_enum! {
    /// `locale`: the languages Checkout is offered in.
    pub(crate) enum Locale {
        Auto = "auto",
        Bg = "bg",
        Cs = "cs",
        Da = "da",
        De = "de",
        El = "el",
        En = "en",
        EnGb = "en-GB",
        Es = "es",
        Es419 = "es-419",
        Et = "et",
        Fi = "fi",
        Fil = "fil",
        Fr = "fr",
        FrCa = "fr-CA",
        Hr = "hr",
        Hu = "hu",
        Id = "id",
        It = "it",
        Ja = "ja",
        Ko = "ko",
        Lt = "lt",
        Lv = "lv",
        Ms = "ms",
        Mt = "mt",
        Nb = "nb",
        Nl = "nl",
        Pl = "pl",
        Pt = "pt",
        PtBr = "pt-BR",
        Ro = "ro",
        Ru = "ru",
        Sk = "sk",
        Sl = "sl",
        Sv = "sv",
        Th = "th",
        Tr = "tr",
        Vi = "vi",
        Zh = "zh",
        ZhHk = "zh-HK",
        ZhTw = "zh-TW",
    }
}

pub(crate) use super::line_item::{AdjustableQuantity, ItemJson, LineItem};

/// `discounts[0]`: what the session applies (as given: a coupon or a promotion code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct SessionDiscount {
    pub coupon: Option<String>,
    pub promotion_code: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CustomerDetails {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// `custom_text[<position>][message]`
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CustomText {
    pub after_submit: Option<String>,
    pub shipping_address: Option<String>,
    pub submit: Option<String>,
    pub terms_of_service_acceptance: Option<String>,
}

/// A Checkout Session as stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Session {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    /// The API version it was created with (the request's `Stripe-Version`, else the
    /// account's default then): what changed on 2022-08-01 follows it for the session's
    /// whole life (legacy line items, PaymentIntent at creation, Customer on completion).
    pub api_version: ApiVersion,
    pub mode: Mode,
    pub ui_mode: UiMode,
    pub status: Status,
    pub payment_status: PaymentStatus,
    pub currency: Option<String>,
    pub line_items: Vec<LineItem>,
    pub amount_total: Option<i64>,
    /// Before discounts (`None` in setup mode).
    pub amount_subtotal: Option<i64>,
    pub amount_discount: i64,
    pub discounts: Vec<SessionDiscount>,
    /// The Customer given on create, or the one the session made when it completed.
    pub customer: Option<String>,
    /// `http://host:port` of the hosted page, rendered as `url` (`{base}/c/pay/{id}`)
    /// while the session is open: one copy per account, not a URL per session.
    /// (`page_url`, the whole URL, in data directories written before.)
    #[serde(with = "shared_str", alias = "page_url")]
    pub page_base: Arc<str>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub return_url: Option<String>,
    pub redirect_on_completion: Option<RedirectOnCompletion>,
    pub client_secret: Option<String>,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub customer_creation: Option<CustomerCreation>,
    /// Boxed, like the other rarely set parts below: a stored session stays small.
    pub customer_details: Option<Box<CustomerDetails>>,
    pub metadata: BTreeMap<String, String>,
    pub payment_intent: Option<String>,
    /// `None` when nothing was given (the default).
    pub payment_intent_data: Option<Box<PaymentIntentData>>,
    /// Empty for the default, `["card"]` (see [`Session::payment_method_types`]): no
    /// allocation in most sessions.
    #[serde(with = "card_default")]
    pub payment_method_types: Vec<String>,
    pub allow_promotion_codes: Option<bool>,
    pub billing_address_collection: Option<BillingAddressCollection>,
    pub locale: Option<Locale>,
    pub submit_type: Option<SubmitType>,
    pub phone_number_collection: bool,
    pub tax_id_collection: bool,
    pub automatic_tax: bool,
    pub shipping_countries: Option<Vec<String>>,
    /// `None` when no message was given.
    pub custom_text: Option<Box<CustomText>>,
    pub allowed_payment_method_types: Option<Vec<String>>,
    pub integration_identifier: Option<String>,
    pub managed_payments: Option<bool>,
    pub origin_context: Option<OriginContext>,
    /// A 3-D Secure challenge the payer has not answered yet.
    pub pending_authentication: Option<Box<PendingAuthentication>>,
}

/// An `Arc<str>` stored as its text (serde's `rc` feature is off); a restored session gets
/// its own copy.
mod shared_str {
    use std::sync::Arc;

    pub fn serialize<S: serde::Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    /// A whole page URL (an older data directory's `page_url`) becomes its base again.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Ok(Arc::from(s.split("/c/pay/").next().unwrap_or_default()))
    }
}

/// `payment_method_types`, saved as rendered: the empty default as `["card"]`, and read
/// back so.
mod card_default {
    pub fn serialize<S: serde::Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(super::method_types(v), s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let v = <Vec<String> as serde::Deserialize>::deserialize(d)?;
        Ok(if v == super::method_types(&[]) {
            Vec::new()
        } else {
            v
        })
    }
}

/// `payment_method_types` of a session that keeps `stored` (empty: the default, a card).
fn method_types(stored: &[String]) -> &[String] {
    static CARD: std::sync::LazyLock<[String; 1]> =
        std::sync::LazyLock::new(|| ["card".to_string()]);
    if stored.is_empty() { &CARD[..] } else { stored }
}

/// What the payer submitted with a card that requires 3-D Secure, kept until they
/// complete or fail the challenge (`token` ties the challenge page to this attempt).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct PendingAuthentication {
    pub token: String,
    pub card: crate::cards::Card,
    pub email: String,
    pub name: Option<String>,
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

    /// `payment_method_types` as rendered: `["card"]` unless others were given.
    pub fn payment_method_types(&self) -> &[String] {
        method_types(&self.payment_method_types)
    }

    /// The version this session is rendered at when the request does not say.
    pub fn version(&self) -> ApiVersion {
        self.api_version.clone()
    }

    /// Created at a version before 2022-08-01: the PaymentIntent exists from creation and
    /// a payment-mode session creates a Customer when it completes.
    pub fn pre_2022_08_01(&self) -> bool {
        version::allows_legacy_line_items(Some(&self.api_version))
    }
}

// ---------------------------------------------------------------------------------------
// Rendering: `#[derive(Serialize)]` views borrowing the stored structs.
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
    Object(Box<PaymentIntentJson<'a>>),
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
    customer: Option<&'a str>,
    customer_account: (),
    customer_creation: Option<&'static str>,
    customer_details: Option<CustomerDetailsJson<'a>>,
    customer_email: Option<&'a str>,
    discounts: &'a [SessionDiscount],
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
    url: Option<PageUrl<'a>>,
    wallet_options: (),
}

/// The hosted page's URL, written straight into the JSON (nothing stored per session).
struct PageUrl<'a> {
    base: &'a str,
    id: &'a str,
}

impl Serialize for PageUrl<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}/c/pay/{}", self.base, self.id))
    }
}

fn message(m: Option<&String>) -> Option<Message<'_>> {
    m.map(|message| Message { message })
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
            amount_subtotal: self.amount_subtotal,
            amount_total: self.amount_total,
            automatic_tax: AutomaticTaxJson {
                enabled: self.automatic_tax,
                liability: (),
                provider: (),
                status: self.automatic_tax.then_some("complete"),
            },
            billing_address_collection: self
                .billing_address_collection
                .map(BillingAddressCollection::as_str),
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
            custom_text: {
                let t = self.custom_text.as_deref();
                CustomTextJson {
                    after_submit: message(t.and_then(|t| t.after_submit.as_ref())),
                    shipping_address: message(t.and_then(|t| t.shipping_address.as_ref())),
                    submit: message(t.and_then(|t| t.submit.as_ref())),
                    terms_of_service_acceptance: message(
                        t.and_then(|t| t.terms_of_service_acceptance.as_ref()),
                    ),
                }
            },
            customer: self.customer.as_deref(),
            customer_account: (),
            customer_creation: self.customer_creation.map(CustomerCreation::as_str),
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
            discounts: &self.discounts,
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
            locale: self.locale.map(Locale::as_str),
            managed_payments: self.managed_payments.map(|enabled| Enabled { enabled }),
            metadata: &self.metadata,
            mode: self.mode,
            origin_context: self.origin_context.map(OriginContext::as_str),
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
            payment_method_types: self.payment_method_types(),
            payment_status: self.payment_status,
            permissions: (),
            phone_number_collection: Enabled {
                enabled: self.phone_number_collection,
            },
            recovered_from: (),
            redirect_on_completion: self
                .redirect_on_completion
                .map(RedirectOnCompletion::as_str),
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
            submit_type: self.submit_type.map(SubmitType::as_str),
            subscription: (),
            success_url: self.success_url.as_deref(),
            tax_id_collection: TaxIdCollectionJson {
                enabled: self.tax_id_collection,
                required: "never",
            },
            total_details: payment.then_some(TotalDetailsJson {
                amount_discount: self.amount_discount,
                amount_shipping: 0,
                amount_tax: 0,
            }),
            ui_mode: self.ui_mode.render(v),
            url: (self.status == Status::Open && self.ui_mode == UiMode::Hosted).then_some(
                PageUrl {
                    base: &self.page_base,
                    id: &self.id,
                },
            ),
            wallet_options: (),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

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
}
