//! PaymentIntents and Charges (contract §2.7). Since API 2022-08-01 Checkout creates the
//! PaymentIntent when the customer first submits payment, not when the session is created.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bank_debits::{BankAccount, BankKind};
use crate::cards::{Brand, Card, CardError, DeclineCode, ErrorCode, Funding};
use crate::protocol::{ApiError, ApiResult, Fields, Params, Reply, read_expand};
use crate::resources::string_enum;
use crate::store::{Account, Keyed};

string_enum! {
    /// `payment_intent_data[setup_future_usage]`.
    pub(crate) enum SetupFutureUsage {
        OnSession = "on_session",
        OffSession = "off_session",
    }
}

string_enum! {
    /// `cancellation_reason`: the ones the mock gives (Stripe has more, for API cancels).
    pub(crate) enum CancellationReason {
        /// The Checkout Session expired with the PaymentIntent unpaid.
        Abandoned = "abandoned",
    }
}

/// A payment method type the mock simulates: `card`, `sepa_debit`, `us_bank_account`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

/// `payment_intent_data[...]` of a Checkout Session: what the PaymentIntent will carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PaymentIntentData {
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub receipt_email: Option<String>,
    pub setup_future_usage: Option<SetupFutureUsage>,
    pub statement_descriptor: Option<String>,
    pub statement_descriptor_suffix: Option<String>,
    pub transfer_group: Option<String>,
}

impl PaymentIntentData {
    pub fn read(mut f: Fields<'_>) -> ApiResult<PaymentIntentData> {
        let capture = f.one_of(
            "capture_method",
            &["automatic", "automatic_async", "manual"],
        )?;
        if capture == Some("manual") {
            return Err(ApiError::invalid(
                f.path_of("capture_method"),
                "mock-stripe does not support capture_method=manual yet: use automatic.",
            ));
        }
        let metadata = f
            .string_map("metadata")?
            .map(|m| m.to_map())
            .unwrap_or_default();
        super::check_metadata(&f.path_of("metadata"), &metadata)?;
        let data = PaymentIntentData {
            description: f.owned("description")?,
            metadata,
            receipt_email: f.owned("receipt_email")?,
            setup_future_usage: super::one_of(&mut f, "setup_future_usage")?,
            statement_descriptor: f.owned("statement_descriptor")?,
            statement_descriptor_suffix: f.owned("statement_descriptor_suffix")?,
            transfer_group: f.owned("transfer_group")?,
        };
        // Accepted, not modelled: they concern Connect and shipping labels.
        for key in [
            "shipping",
            "transfer_data",
            "application_fee_amount",
            "on_behalf_of",
        ] {
            f.ignore(key);
        }
        f.finish()?;
        Ok(data)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PiStatus {
    RequiresPaymentMethod,
    /// 3-D Secure: waiting for the payer to authenticate.
    RequiresAction,
    /// A bank debit on its way (settles or fails days later).
    Processing,
    Succeeded,
    Canceled,
}

/// A card error remembered as `last_payment_error`.
#[derive(Clone, Debug)]
pub(crate) struct LastError {
    pub error: CardError,
    pub method_type: MethodType,
    /// The failed charge; `None` when no charge was made (3-D Secure failed).
    pub charge: Option<String>,
}

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
        }
    }

    pub fn json<'a>(&'a self, latest_charge: Option<&'a Charge>) -> PaymentIntentJson<'a> {
        PaymentIntentJson {
            id: &self.id,
            object: "payment_intent",
            allowed_payment_method_types: (),
            amount: self.amount,
            amount_capturable: 0,
            amount_received: if self.status == PiStatus::Succeeded {
                self.amount
            } else {
                0
            },
            application: (),
            application_fee_amount: (),
            automatic_payment_methods: (),
            canceled_at: self.canceled_at,
            cancellation_reason: self.cancellation_reason.map(CancellationReason::as_str),
            capture_method: "automatic",
            client_secret: &self.client_secret,
            confirmation_method: "automatic",
            created: self.created,
            currency: &self.currency,
            customer: (),
            customer_account: (),
            description: self.data.description.as_deref(),
            excluded_payment_method_types: (),
            last_payment_error: self
                .last_payment_error
                .as_ref()
                .map(|e| CardErrorJson::new(&e.error, e.charge.as_deref(), e.method_type)),
            latest_charge: match (latest_charge, &self.latest_charge) {
                (Some(ch), _) => Some(ChargeRef::Object(Box::new(ch.json()))),
                (None, Some(id)) => Some(ChargeRef::Id(id)),
                (None, None) => None,
            },
            livemode: false,
            managed_payments: (),
            metadata: &self.data.metadata,
            next_action: (),
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
            shipping: (),
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
pub(crate) struct PaymentIntentJson<'a> {
    id: &'a str,
    object: &'static str,
    allowed_payment_method_types: (),
    amount: i64,
    amount_capturable: i64,
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
    customer: (),
    customer_account: (),
    description: Option<&'a str>,
    excluded_payment_method_types: (),
    last_payment_error: Option<CardErrorJson<'a>>,
    latest_charge: Option<ChargeRef<'a>>,
    livemode: bool,
    managed_payments: (),
    metadata: &'a BTreeMap<String, String>,
    next_action: (),
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
    shipping: (),
    source: (),
    statement_descriptor: Option<&'a str>,
    statement_descriptor_suffix: Option<&'a str>,
    status: PiStatus,
    transfer_data: (),
    transfer_group: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum ChargeRef<'a> {
    Id(&'a str),
    Object(Box<ChargeJson<'a>>),
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

/// The card and billing details a charge was made with.
#[derive(Clone, Debug)]
pub(crate) struct ChargeCard {
    pub brand: Brand,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: i64,
    pub funding: Funding,
}

impl From<&Card> for ChargeCard {
    fn from(c: &Card) -> Self {
        ChargeCard {
            brand: c.brand,
            last4: c.last4().to_string(),
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            funding: c.funding,
        }
    }
}

pub(crate) struct Charge {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub payment_intent: String,
    pub payment_method: String,
    pub method: ChargeMethod,
    pub email: Option<String>,
    pub name: Option<String>,
    /// A bank debit submitted but not settled yet (`status: pending`).
    pub pending: bool,
    /// `None` unless the charge failed.
    pub failure: Option<CardError>,
    pub description: Option<String>,
}

/// What a charge was paid with.
#[derive(Clone, Debug)]
pub(crate) enum ChargeMethod {
    Card(ChargeCard),
    Bank(BankAccount),
}

impl Keyed for Charge {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Charge {
    pub fn json(&self) -> ChargeJson<'_> {
        let ok = self.failure.is_none() && !self.pending;
        let outcome = match &self.failure {
            None => OutcomeJson {
                advice_code: (),
                network_advice_code: (),
                network_decline_code: (),
                network_status: "approved_by_network",
                reason: None,
                risk_level: "normal",
                seller_message: "Payment complete.",
                kind: "authorized",
            },
            Some(e) if e.decline_code == Some(DeclineCode::Fraudulent) => OutcomeJson {
                advice_code: (),
                network_advice_code: (),
                network_decline_code: (),
                network_status: "not_sent_to_network",
                reason: Some("highest_risk_level"),
                risk_level: "highest",
                seller_message: "Stripe blocked this payment as too risky.",
                kind: "blocked",
            },
            Some(e) => OutcomeJson {
                advice_code: (),
                network_advice_code: (),
                network_decline_code: (),
                network_status: "declined_by_network",
                reason: Some(e.decline_code.map_or(e.code.as_str(), DeclineCode::as_str)),
                risk_level: "normal",
                seller_message: "The bank did not return any further details with this decline.",
                kind: "issuer_declined",
            },
        };
        let cvc_check = match &self.failure {
            Some(e) if e.code == ErrorCode::IncorrectCvc => "fail",
            _ => "pass",
        };
        ChargeJson {
            id: &self.id,
            object: "charge",
            amount: self.amount,
            amount_captured: if ok { self.amount } else { 0 },
            amount_refunded: 0,
            application: (),
            application_fee: (),
            application_fee_amount: (),
            balance_transaction: (),
            billing_details: BillingDetailsJson {
                address: (),
                email: self.email.as_deref(),
                name: self.name.as_deref(),
                phone: (),
                tax_id: (),
            },
            calculated_statement_descriptor: ok.then_some("MOCK-STRIPE"),
            captured: ok,
            created: self.created,
            currency: &self.currency,
            customer: (),
            description: self.description.as_deref(),
            disputed: false,
            failure_balance_transaction: (),
            failure_code: self.failure.as_ref().map(|e| e.code.as_str()),
            failure_message: self.failure.as_ref().map(|e| e.message.as_str()),
            fraud_details: EmptyObject {},
            livemode: false,
            metadata: EmptyObject {},
            on_behalf_of: (),
            outcome,
            paid: ok,
            payment_intent: &self.payment_intent,
            payment_method: &self.payment_method,
            payment_method_details: match &self.method {
                ChargeMethod::Card(card) => PaymentMethodDetailsJson {
                    card: Some(CardDetailsJson {
                        amount_authorized: ok.then_some(self.amount),
                        authorization_code: (),
                        brand: card.brand.as_str(),
                        checks: ChecksJson {
                            address_line1_check: (),
                            address_postal_code_check: (),
                            cvc_check,
                        },
                        country: "US",
                        electronic_commerce_indicator: (),
                        exp_month: card.exp_month,
                        exp_year: card.exp_year,
                        funding: card.funding.as_str(),
                        installments: (),
                        last4: &card.last4,
                        mandate: (),
                        network: card.brand.as_str(),
                        network_transaction_id: (),
                        regulated_status: "unregulated",
                        three_d_secure: (),
                        transaction_link_id: (),
                        wallet: (),
                    }),
                    sepa_debit: None,
                    us_bank_account: None,
                    kind: "card",
                },
                ChargeMethod::Bank(bank) => {
                    let details = BankDetailsJson {
                        bank_code: &bank.bank_code,
                        country: &bank.country,
                        fingerprint: (),
                        last4: &bank.last4,
                        mandate: (),
                    };
                    let (sepa_debit, us_bank_account) = match bank.kind {
                        BankKind::SepaDebit => (Some(details), None),
                        BankKind::UsBankAccount => (None, Some(details)),
                    };
                    PaymentMethodDetailsJson {
                        card: None,
                        sepa_debit,
                        us_bank_account,
                        kind: bank.kind.as_str(),
                    }
                }
            },
            receipt_email: (),
            receipt_number: (),
            receipt_url: (),
            refunded: false,
            review: (),
            shipping: (),
            source: (),
            source_transfer: (),
            statement_descriptor: (),
            statement_descriptor_suffix: (),
            status: match (&self.failure, self.pending) {
                (Some(_), _) => "failed",
                (None, true) => "pending",
                (None, false) => "succeeded",
            },
            transfer_data: (),
            transfer_group: (),
        }
    }
}

#[derive(Serialize)]
struct EmptyObject {}

#[derive(Serialize)]
pub(crate) struct ChargeJson<'a> {
    id: &'a str,
    object: &'static str,
    amount: i64,
    amount_captured: i64,
    amount_refunded: i64,
    application: (),
    application_fee: (),
    application_fee_amount: (),
    balance_transaction: (),
    billing_details: BillingDetailsJson<'a>,
    calculated_statement_descriptor: Option<&'static str>,
    captured: bool,
    created: i64,
    currency: &'a str,
    customer: (),
    description: Option<&'a str>,
    disputed: bool,
    failure_balance_transaction: (),
    failure_code: Option<&'static str>,
    failure_message: Option<&'a str>,
    fraud_details: EmptyObject,
    livemode: bool,
    metadata: EmptyObject,
    on_behalf_of: (),
    outcome: OutcomeJson,
    paid: bool,
    payment_intent: &'a str,
    payment_method: &'a str,
    payment_method_details: PaymentMethodDetailsJson<'a>,
    receipt_email: (),
    receipt_number: (),
    receipt_url: (),
    refunded: bool,
    review: (),
    shipping: (),
    source: (),
    source_transfer: (),
    statement_descriptor: (),
    statement_descriptor_suffix: (),
    status: &'static str,
    transfer_data: (),
    transfer_group: (),
}

#[derive(Serialize)]
struct BillingDetailsJson<'a> {
    address: (),
    email: Option<&'a str>,
    name: Option<&'a str>,
    phone: (),
    tax_id: (),
}

#[derive(Serialize)]
struct OutcomeJson {
    advice_code: (),
    network_advice_code: (),
    network_decline_code: (),
    network_status: &'static str,
    reason: Option<&'static str>,
    risk_level: &'static str,
    seller_message: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct PaymentMethodDetailsJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    card: Option<CardDetailsJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sepa_debit: Option<BankDetailsJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    us_bank_account: Option<BankDetailsJson<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `sepa_debit` / `us_bank_account` details (the fields both share; SEPA's `bank_code` is
/// the code inside the IBAN, a US account's is its routing number).
#[derive(Serialize)]
struct BankDetailsJson<'a> {
    bank_code: &'a str,
    country: &'a str,
    fingerprint: (),
    last4: &'a str,
    mandate: (),
}

#[derive(Serialize)]
struct CardDetailsJson<'a> {
    amount_authorized: Option<i64>,
    authorization_code: (),
    brand: &'static str,
    checks: ChecksJson,
    country: &'static str,
    electronic_commerce_indicator: (),
    exp_month: u32,
    exp_year: i64,
    funding: &'static str,
    installments: (),
    last4: &'a str,
    mandate: (),
    network: &'static str,
    network_transaction_id: (),
    regulated_status: &'static str,
    three_d_secure: (),
    transaction_link_id: (),
    wallet: (),
}

#[derive(Serialize)]
struct ChecksJson {
    address_line1_check: (),
    address_postal_code_check: (),
    cvc_check: &'static str,
}

/// `GET /v1/payment_intents/{id}`
///
/// `client_secret` is optional with a secret key (Stripe.js sends it with a publishable one);
/// when given it must be the PaymentIntent's own.
pub(crate) fn retrieve(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let client_secret = f.owned("client_secret")?;
    let expand = read_expand(&mut f, &["latest_charge"])?;
    f.finish()?;
    let pi = account
        .payment_intents
        .get(id)
        .ok_or_else(|| ApiError::no_such("payment_intent", id, "intent", true))?;
    if client_secret.is_some_and(|s| s != pi.client_secret) {
        return Err(ApiError::invalid(
            "client_secret",
            "The client_secret provided does not match the client_secret associated with the \
             PaymentIntent.",
        ));
    }
    let charge = if expand.contains(&"latest_charge") {
        pi.latest_charge
            .as_deref()
            .and_then(|c| account.charges.get(c))
    } else {
        None
    };
    Reply::json(&pi.json(charge))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `client_secret` is a typed retrieve parameter in the official SDKs: accepted when it
    /// is the intent's own, refused otherwise.
    #[test]
    fn retrieve_accepts_the_intents_own_client_secret() {
        let mut a = Account::at(1_700_000_000);
        let pi = PaymentIntent::new(
            &mut a.ids,
            1_700_000_000,
            3998,
            "usd",
            &PaymentIntentData::default(),
        );
        let (id, secret) = (pi.id.clone(), pi.client_secret.clone());
        a.payment_intents.insert(pi);
        let get =
            |a: &mut Account, q: &str| retrieve(a, &id, &Params::decode(&[q.as_bytes()]).unwrap());
        let v: serde_json::Value = serde_json::from_slice(
            &get(&mut a, &format!("client_secret={secret}"))
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(v["id"], id.as_str());
        let Err(e) = get(&mut a, "client_secret=pi_other_secret_x") else {
            panic!("a foreign client_secret must be refused");
        };
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert_eq!(e.param.as_deref(), Some("client_secret"));
        // Fields Stripe always sends at 2026-10-28 are present, null when not modelled.
        for key in [
            "allowed_payment_method_types",
            "customer_account",
            "excluded_payment_method_types",
            "managed_payments",
            "payment_method_configuration_details",
            "payment_method_options",
            "payment_record",
        ] {
            assert_eq!(v.get(key), Some(&serde_json::Value::Null), "{key}");
        }
    }
}
