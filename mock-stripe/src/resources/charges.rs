//! Charges (contract §2.7): the money movement behind a PaymentIntent, made by Checkout's
//! payment page or by confirming a PaymentIntent through the API. Retrieve and list here;
//! captures and refunds change them (`payment_intents`, `refunds`).

use serde::Serialize;

use crate::bank_debits::{BankAccount, BankKind};
use crate::cards::{Brand, Card, CardError, DeclineCode, ErrorCode, Funding};
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::{ApiError, ApiResult, Fields, Params, RangeFilter, Reply, RequestCtx};
use crate::resources::expandable;
use crate::store::{Account, Keyed};

/// How long an authorization can wait for its capture (card-not-present, most brands).
const AUTHORIZATION_VALIDITY_SECS: i64 = 7 * 86_400;

/// The card and billing details a charge was made with.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
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

/// What a charge was paid with.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum ChargeMethod {
    Card(ChargeCard),
    Bank(BankAccount),
}

/// How much of a successful charge is captured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Capture {
    /// All of it (automatic capture, or a manual capture of the whole amount).
    #[default]
    Full,
    /// Nothing yet: an authorization waiting for `POST /v1/payment_intents/{id}/capture`.
    Authorized,
    /// This much; the rest was released (and counts as refunded, as on Stripe).
    Partial(i64),
}

#[derive(serde::Serialize, serde::Deserialize)]
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
    pub capture: Capture,
    /// Refunded so far, released authorizations included.
    pub amount_refunded: i64,
    pub customer: Option<String>,
}

impl Keyed for Charge {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Charge {
    /// Paid (or authorized): neither failed nor waiting for a bank debit to settle.
    pub fn succeeded(&self) -> bool {
        self.failure.is_none() && !self.pending
    }

    /// What was captured: the whole amount, nothing, or the part a partial capture took.
    pub fn amount_captured(&self) -> i64 {
        if !self.succeeded() {
            return 0;
        }
        match self.capture {
            Capture::Full => self.amount,
            Capture::Authorized => 0,
            Capture::Partial(n) => n,
        }
    }

    /// What a refund may still take back (Stripe's "unrefunded amount on charge").
    pub fn refundable(&self) -> i64 {
        (self.amount - self.amount_refunded).max(0)
    }

    pub fn json(&self) -> ChargeJson<'_> {
        let ok = self.succeeded();
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
        let authorized_only = ok && self.capture == Capture::Authorized;
        ChargeJson {
            id: &self.id,
            object: "charge",
            amount: self.amount,
            amount_captured: self.amount_captured(),
            amount_refunded: self.amount_refunded,
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
            captured: ok && self.capture != Capture::Authorized,
            created: self.created,
            currency: &self.currency,
            customer: self.customer.as_deref(),
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
                        capture_before: authorized_only
                            .then_some(self.created + AUTHORIZATION_VALIDITY_SECS),
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
            refunded: self.amount_refunded > 0 && self.amount_refunded >= self.amount,
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

/// An id, or the object when expanded.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Expandable<'a, T> {
    Id(&'a str),
    Object(Box<T>),
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
    customer: Option<&'a str>,
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
    /// Only while an authorization waits for its capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    capture_before: Option<i64>,
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

fn no_such_charge(id: &str) -> ApiError {
    ApiError::no_such("charge", id, "id", true)
}

/// `GET /v1/charges/{id}`
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let x = expandable::read(&mut f, "charge")?;
    f.finish()?;
    let charge = account.charges.get(id).ok_or_else(|| no_such_charge(id))?;
    let v = ctx.version_for(account);
    expandable::reply(account, "charge", &charge.json(), &x, &v)
}

/// `GET /v1/charges`: newest first; `customer`, `payment_intent`, `created` filters.
pub(crate) fn list(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let customer = f.owned("customer")?;
    let payment_intent = f.owned("payment_intent")?;
    let created = RangeFilter::read(&mut f, "created")?;
    f.ignore("transfer_group");
    let x = expandable::read_list(&mut f, "charge")?;
    f.finish()?;
    let charges = &account.charges;
    let (data, has_more) = paginate(
        charges.rows(),
        |id| charges.position(id),
        |c: &Charge| {
            customer
                .as_deref()
                .is_none_or(|x| c.customer.as_deref() == Some(x))
                && payment_intent
                    .as_deref()
                    .is_none_or(|x| c.payment_intent == x)
                && created.matches(c.created)
        },
        &page,
        "charge",
    )?;
    let data: Vec<_> = data.into_iter().map(Charge::json).collect();
    let list = ListJson::new(data, has_more, "/v1/charges".into());
    let v = ctx.version_for(account);
    expandable::reply_list(account, "charge", &list, &x, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestCtx {
        RequestCtx {
            request_id: "req_charges".into(),
            version: None,
            idempotency_key: None,
        }
    }

    fn call(r: ApiResult<Reply>) -> serde_json::Value {
        match r {
            Ok(r) => serde_json::from_slice(&r.body).unwrap(),
            Err(e) => panic!("{}", e.message),
        }
    }

    fn pay(a: &mut Account, wire: &str) -> serde_json::Value {
        let p = Params::decode(&[wire.as_bytes()]).unwrap();
        let r = crate::resources::payment_intents::create(a, &p, &ctx(), "http://x.test");
        call(r.map(|(r, _)| r))
    }

    #[test]
    fn retrieve_and_list_by_payment_intent_and_customer() {
        let mut a = Account::at(1_700_000_000);
        let p = |q: &str| Params::decode(&[q.as_bytes()]).unwrap();
        let cus = call(crate::resources::customers::create(&mut a, &p(""), &ctx()))["id"]
            .as_str()
            .unwrap()
            .to_string();
        let one = pay(
            &mut a,
            &format!(
                "amount=1000&currency=usd&confirm=true&payment_method=pm_card_visa&customer={cus}"
            ),
        );
        let two = pay(
            &mut a,
            "amount=2000&currency=usd&confirm=true&payment_method=pm_card_amex",
        );
        let ch = one["latest_charge"].as_str().unwrap();
        let got = call(retrieve(&mut a, ch, &p("expand[]=payment_intent"), &ctx()));
        assert_eq!(got["customer"], cus.as_str());
        assert_eq!(got["payment_intent"]["id"], one["id"]);
        assert_eq!(got["payment_method_details"]["card"]["brand"], "visa");
        let all = call(list(&mut a, &p(""), &ctx()));
        assert_eq!(all["data"].as_array().unwrap().len(), 2);
        assert_eq!(all["data"][0]["amount"], 2000, "newest first");
        assert_eq!(all["url"], "/v1/charges");
        let only = call(list(
            &mut a,
            &p(&format!("payment_intent={}", two["id"].as_str().unwrap())),
            &ctx(),
        ));
        assert_eq!(
            only["data"][0]["payment_method_details"]["card"]["brand"],
            "amex"
        );
        let mine = call(list(&mut a, &p(&format!("customer={cus}")), &ctx()));
        assert_eq!(mine["data"].as_array().unwrap().len(), 1);
        let Err(e) = retrieve(&mut a, "ch_nope", &p(""), &ctx()) else {
            panic!("unknown charge")
        };
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (404, "No such charge: 'ch_nope'")
        );
    }
}
