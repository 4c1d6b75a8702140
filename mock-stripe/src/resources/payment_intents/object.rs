//! The stored PaymentIntent and its JSON (contract §2.7), and `payment_intent_data`, what a
//! Checkout Session passes on to the PaymentIntent it creates.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bank_debits::BankKind;
use crate::cards::{CardError, DeclineCode};
use crate::protocol::{ApiError, ApiResult, Fields};
use crate::resources::charges::{Charge, ChargeJson, Expandable};
use crate::resources::payment_methods::{Address, read_address};
use crate::resources::string_enum;
use crate::store::Keyed;

string_enum! {
    /// `setup_future_usage`.
    pub(crate) enum SetupFutureUsage {
        OnSession = "on_session",
        OffSession = "off_session",
    }
}

string_enum! {
    /// `cancellation_reason`.
    pub(crate) enum CancellationReason {
        /// The Checkout Session expired with the PaymentIntent unpaid (or the app said so).
        Abandoned = "abandoned",
        Duplicate = "duplicate",
        Fraudulent = "fraudulent",
        RequestedByCustomer = "requested_by_customer",
    }
}

string_enum! {
    /// `capture_method`: `manual` authorizes only; `POST …/capture` takes the money.
    pub(crate) enum CaptureMethod {
        Automatic = "automatic",
        AutomaticAsync = "automatic_async",
        Manual = "manual",
    }
}

impl Default for CaptureMethod {
    /// What the mock renders when none was asked for (`automatic_async`, Stripe's default
    /// since 2024-04-10, behaves the same here).
    fn default() -> Self {
        CaptureMethod::Automatic
    }
}

string_enum! {
    /// `confirmation_method`: `manual` makes the server confirm again after 3-D Secure.
    pub(crate) enum ConfirmationMethod {
        Automatic = "automatic",
        Manual = "manual",
    }
}

/// A payment method type the mock simulates: `card`, `sepa_debit`, `us_bank_account`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum MethodType {
    Card,
    Bank(BankKind),
}

impl MethodType {
    /// As in `payment_method_types`.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodType::Card => "card",
            MethodType::Bank(kind) => kind.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<MethodType> {
        match s {
            "card" => Some(MethodType::Card),
            other => BankKind::parse(other).map(MethodType::Bank),
        }
    }
}

/// `shipping`: where the goods go (Stripe requires `name` and `address`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Shipping {
    pub address: Address,
    pub carrier: Option<String>,
    pub name: String,
    pub phone: Option<String>,
    pub tracking_number: Option<String>,
}

impl Shipping {
    pub fn read(mut f: Fields<'_>) -> ApiResult<Shipping> {
        let name_path = f.path_of("name");
        let address_path = f.path_of("address");
        let name = f
            .owned("name")?
            .ok_or_else(|| ApiError::missing(&name_path))?;
        let address = f
            .object("address")?
            .map(read_address)
            .transpose()?
            .ok_or_else(|| ApiError::missing(&address_path))?;
        let s = Shipping {
            address,
            carrier: f.owned("carrier")?,
            name,
            phone: f.owned("phone")?,
            tracking_number: f.owned("tracking_number")?,
        };
        f.finish()?;
        Ok(s)
    }
}

/// `payment_intent_data[...]` of a Checkout Session: what the PaymentIntent will carry.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct PaymentIntentData {
    pub capture_method: CaptureMethod,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub receipt_email: Option<String>,
    pub setup_future_usage: Option<SetupFutureUsage>,
    pub shipping: Option<Shipping>,
    pub statement_descriptor: Option<String>,
    pub statement_descriptor_suffix: Option<String>,
    pub transfer_group: Option<String>,
}

impl PaymentIntentData {
    pub fn read(mut f: Fields<'_>) -> ApiResult<PaymentIntentData> {
        let capture_method = super::super::one_of(&mut f, "capture_method")?.unwrap_or_default();
        let metadata = f
            .string_map("metadata")?
            .map(|m| m.to_map())
            .unwrap_or_default();
        crate::resources::check_metadata(&f.path_of("metadata"), &metadata)?;
        let data = PaymentIntentData {
            capture_method,
            description: f.owned("description")?,
            metadata,
            receipt_email: f.owned("receipt_email")?,
            setup_future_usage: super::super::one_of(&mut f, "setup_future_usage")?,
            shipping: f.object("shipping")?.map(Shipping::read).transpose()?,
            statement_descriptor: f.owned("statement_descriptor")?,
            statement_descriptor_suffix: f.owned("statement_descriptor_suffix")?,
            transfer_group: f.owned("transfer_group")?,
        };
        // Accepted, not modelled: they concern Connect.
        for key in ["transfer_data", "application_fee_amount", "on_behalf_of"] {
            f.ignore(key);
        }
        f.finish()?;
        Ok(data)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(serde::Deserialize)]
pub(crate) enum PiStatus {
    RequiresPaymentMethod,
    /// A payment method is attached; the PaymentIntent waits for `confirm`.
    RequiresConfirmation,
    /// 3-D Secure: waiting for the payer to authenticate.
    RequiresAction,
    /// A bank debit on its way (settles or fails days later).
    Processing,
    /// Authorized (`capture_method=manual`): waiting for `capture` or `cancel`.
    RequiresCapture,
    Succeeded,
    Canceled,
}

impl PiStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PiStatus::RequiresPaymentMethod => "requires_payment_method",
            PiStatus::RequiresConfirmation => "requires_confirmation",
            PiStatus::RequiresAction => "requires_action",
            PiStatus::Processing => "processing",
            PiStatus::RequiresCapture => "requires_capture",
            PiStatus::Succeeded => "succeeded",
            PiStatus::Canceled => "canceled",
        }
    }
}

/// A card error remembered as `last_payment_error`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct LastError {
    pub error: CardError,
    pub method_type: MethodType,
    /// The failed charge; `None` when no charge was made (3-D Secure failed).
    pub charge: Option<String>,
}

/// A 3-D Secure challenge waiting for the payer (`next_action.redirect_to_url`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct NextAction {
    /// The mock's challenge page for this PaymentIntent.
    pub url: String,
    /// Where the page sends the payer afterwards (the `return_url` of the confirm).
    pub return_url: Option<String>,
    /// Proves an answer comes from the page that was shown.
    pub token: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct PaymentIntent {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub status: PiStatus,
    pub client_secret: String,
    pub data: PaymentIntentData,
    pub latest_charge: Option<String>,
    pub last_payment_error: Option<LastError>,
    pub payment_method: Option<String>,
    pub payment_method_types: Vec<String>,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<CancellationReason>,
    pub confirmation_method: ConfirmationMethod,
    pub customer: Option<String>,
    pub next_action: Option<NextAction>,
    /// Set by a partial capture: what was taken (`amount_received`).
    pub amount_captured: Option<i64>,
    /// 3-D Secure was completed for the attached payment method and not used yet (a
    /// `confirmation_method=manual` intent waits for its server to confirm).
    pub authenticated: bool,
}

impl Keyed for PaymentIntent {
    fn key(&self) -> &str {
        &self.id
    }
}

impl PaymentIntent {
    pub fn new(
        ids: &mut crate::ids::IdGen,
        now: i64,
        amount: i64,
        currency: &str,
        data: &PaymentIntentData,
    ) -> PaymentIntent {
        let id = ids.object(crate::ids::prefix::PAYMENT_INTENT);
        let client_secret = ids.client_secret(&id);
        PaymentIntent {
            id,
            created: now,
            amount,
            currency: currency.to_string(),
            status: PiStatus::RequiresPaymentMethod,
            client_secret,
            data: data.clone(),
            latest_charge: None,
            last_payment_error: None,
            payment_method: None,
            payment_method_types: vec!["card".into()],
            canceled_at: None,
            cancellation_reason: None,
            confirmation_method: ConfirmationMethod::Automatic,
            customer: None,
            next_action: None,
            amount_captured: None,
            authenticated: false,
        }
    }

    pub fn manual_capture(&self) -> bool {
        self.data.capture_method == CaptureMethod::Manual
    }

    /// A card charge of this intent succeeded: `succeeded`, or `requires_capture` when
    /// capture is manual. Returns the event that says so.
    pub fn card_charge_succeeded(&mut self) -> &'static str {
        self.last_payment_error = None;
        self.next_action = None;
        self.authenticated = false;
        if self.manual_capture() {
            self.status = PiStatus::RequiresCapture;
            "payment_intent.amount_capturable_updated"
        } else {
            self.status = PiStatus::Succeeded;
            "payment_intent.succeeded"
        }
    }

    /// How a successful card charge of this intent is captured.
    pub fn new_charge_capture(&self) -> crate::resources::charges::Capture {
        if self.manual_capture() {
            crate::resources::charges::Capture::Authorized
        } else {
            crate::resources::charges::Capture::Full
        }
    }

    pub fn amount_received(&self) -> i64 {
        match self.status {
            PiStatus::Succeeded => self.amount_captured.unwrap_or(self.amount),
            _ => 0,
        }
    }

    pub fn amount_capturable(&self) -> i64 {
        match self.status {
            PiStatus::RequiresCapture => self.amount,
            _ => 0,
        }
    }

    /// With `latest_charge` expanded when given (other expansions: `resources/expandable.rs`).
    pub fn json<'a>(&'a self, latest_charge: Option<&'a Charge>) -> PaymentIntentJson<'a> {
        PaymentIntentJson {
            id: &self.id,
            object: "payment_intent",
            allowed_payment_method_types: (),
            amount: self.amount,
            amount_capturable: self.amount_capturable(),
            amount_details: AmountDetailsJson { tip: EmptyJson {} },
            amount_received: self.amount_received(),
            application: (),
            application_fee_amount: (),
            automatic_payment_methods: (),
            canceled_at: self.canceled_at,
            cancellation_reason: self.cancellation_reason.map(CancellationReason::as_str),
            capture_method: self.data.capture_method.as_str(),
            client_secret: &self.client_secret,
            confirmation_method: self.confirmation_method.as_str(),
            created: self.created,
            currency: &self.currency,
            customer: self.customer.as_deref(),
            customer_account: (),
            description: self.data.description.as_deref(),
            excluded_payment_method_types: (),
            last_payment_error: self
                .last_payment_error
                .as_ref()
                .map(|e| CardErrorJson::new(&e.error, e.charge.as_deref(), e.method_type)),
            latest_charge: match (latest_charge, &self.latest_charge) {
                (Some(ch), _) => Some(Expandable::Object(Box::new(ch.json()))),
                (None, Some(id)) => Some(Expandable::Id(id)),
                (None, None) => None,
            },
            livemode: false,
            managed_payments: (),
            metadata: &self.data.metadata,
            next_action: self.next_action.as_ref().map(|a| NextActionJson {
                kind: "redirect_to_url",
                redirect_to_url: RedirectToUrlJson {
                    return_url: a.return_url.as_deref(),
                    url: &a.url,
                },
            }),
            on_behalf_of: (),
            payment_method: self.payment_method.as_deref(),
            payment_method_configuration_details: (),
            payment_method_options: (),
            payment_method_types: &self.payment_method_types,
            payment_record: (),
            processing: (),
            receipt_email: self.data.receipt_email.as_deref(),
            review: (),
            setup_future_usage: self.data.setup_future_usage.map(SetupFutureUsage::as_str),
            shipping: self.data.shipping.as_ref(),
            source: (),
            statement_descriptor: self.data.statement_descriptor.as_deref(),
            statement_descriptor_suffix: self.data.statement_descriptor_suffix.as_deref(),
            status: self.status,
            transfer_data: (),
            transfer_group: self.data.transfer_group.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct EmptyJson {}

/// `amount_details`: Stripe sends `{"tip": {}}` for a card PaymentIntent without extras.
#[derive(Serialize)]
struct AmountDetailsJson {
    tip: EmptyJson,
}

#[derive(Serialize)]
struct NextActionJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    redirect_to_url: RedirectToUrlJson<'a>,
}

#[derive(Serialize)]
struct RedirectToUrlJson<'a> {
    return_url: Option<&'a str>,
    url: &'a str,
}

#[derive(Serialize)]
pub(crate) struct PaymentIntentJson<'a> {
    id: &'a str,
    object: &'static str,
    allowed_payment_method_types: (),
    amount: i64,
    amount_capturable: i64,
    amount_details: AmountDetailsJson,
    amount_received: i64,
    application: (),
    application_fee_amount: (),
    automatic_payment_methods: (),
    canceled_at: Option<i64>,
    cancellation_reason: Option<&'static str>,
    capture_method: &'static str,
    client_secret: &'a str,
    confirmation_method: &'static str,
    created: i64,
    currency: &'a str,
    customer: Option<&'a str>,
    customer_account: (),
    description: Option<&'a str>,
    excluded_payment_method_types: (),
    last_payment_error: Option<CardErrorJson<'a>>,
    latest_charge: Option<Expandable<'a, ChargeJson<'a>>>,
    livemode: bool,
    managed_payments: (),
    metadata: &'a BTreeMap<String, String>,
    next_action: Option<NextActionJson<'a>>,
    on_behalf_of: (),
    payment_method: Option<&'a str>,
    payment_method_configuration_details: (),
    payment_method_options: (),
    payment_method_types: &'a [String],
    payment_record: (),
    processing: (),
    receipt_email: Option<&'a str>,
    review: (),
    setup_future_usage: Option<&'static str>,
    shipping: Option<&'a Shipping>,
    source: (),
    statement_descriptor: Option<&'a str>,
    statement_descriptor_suffix: Option<&'a str>,
    status: PiStatus,
    transfer_data: (),
    transfer_group: Option<&'a str>,
}

/// The card-error object of `last_payment_error` (contract §1.7).
#[derive(Serialize)]
pub(crate) struct CardErrorJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    charge: Option<&'a str>,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    decline_code: Option<&'static str>,
    doc_url: String,
    message: &'a str,
    payment_method_type: &'static str,
}

impl<'a> CardErrorJson<'a> {
    fn new(e: &'a CardError, charge: Option<&'a str>, method_type: MethodType) -> Self {
        CardErrorJson {
            kind: "card_error",
            charge,
            code: e.code.as_str(),
            decline_code: e.decline_code.map(DeclineCode::as_str),
            doc_url: format!(
                "https://stripe.com/docs/error-codes/{}",
                e.code.as_str().replace('_', "-")
            ),
            message: &e.message,
            payment_method_type: method_type.as_str(),
        }
    }
}

/// `payment_intent_unexpected_state`: the operation is not allowed in the intent's status
/// (Stripe's error carries the PaymentIntent).
pub(crate) fn unexpected_state(pi: &PaymentIntent, message: String) -> ApiError {
    let mut e = ApiError::new(
        http::StatusCode::BAD_REQUEST,
        Some("payment_intent_unexpected_state"),
        message,
    );
    e.card = Some(Box::new(crate::protocol::error::CardDetails {
        payment_intent: serde_json::to_value(pi.json(None)).ok(),
        ..Default::default()
    }));
    e
}
