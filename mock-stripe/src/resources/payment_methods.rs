//! PaymentMethods: `POST /v1/payment_methods` (a card by test token or by number, a SEPA
//! Direct Debit IBAN, a US bank account) and retrieve; the test PaymentMethods
//! (`pm_card_visa`, `pm_card_chargeDeclined`, …) and tokens (`tok_visa`, …) stand for the
//! cards of the test-card table (`cards.rs`, contract §4), IBANs and account numbers for
//! the test bank accounts of `bank_debits.rs` (§5.4). Checkout's payment page records the
//! card or account the payer typed as a PaymentMethod too.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bank_debits::{self, BankAccount, BankKind};
use crate::cards::{self, Brand, Card, CardError, ErrorCode};
use crate::ids::prefix;
use crate::protocol::error::CardDetails;
use crate::protocol::{ApiError, ApiResult, Fields, Params, Reply, RequestCtx};
use crate::resources::charges::{ChargeCard, ChargeMethod};
use crate::resources::expandable;
use crate::resources::payment_intents::MethodType;
use crate::store::{Account, Keyed};

/// What a PaymentMethod pays with.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum Details {
    Card {
        card: Card,
        /// A CVC came with the number (`checks.cvc_check` says `pass`).
        cvc_given: bool,
    },
    Bank(BankAccount),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Address {
    pub city: Option<String>,
    pub country: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct BillingDetails {
    pub address: Option<Address>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub tax_id: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct PaymentMethod {
    pub id: String,
    pub created: i64,
    pub details: Details,
    pub billing: BillingDetails,
    pub metadata: BTreeMap<String, String>,
    pub customer: Option<String>,
}

impl Keyed for PaymentMethod {
    fn key(&self) -> &str {
        &self.id
    }
}

/// A PaymentMethod as the request described it, before it gets an id.
#[derive(Clone, Debug)]
pub(crate) struct NewPaymentMethod {
    pub details: Details,
    pub billing: BillingDetails,
    pub metadata: BTreeMap<String, String>,
}

impl NewPaymentMethod {
    /// Stores it; returns the new `pm_…` id.
    pub fn record(self, account: &mut Account) -> String {
        let id = account.ids.object(prefix::PAYMENT_METHOD);
        account.payment_methods.insert(PaymentMethod {
            id: id.clone(),
            created: account.now(),
            details: self.details,
            billing: self.billing,
            metadata: self.metadata,
            customer: None,
        });
        id
    }
}

impl PaymentMethod {
    pub fn method_type(&self) -> MethodType {
        match &self.details {
            Details::Card { .. } => MethodType::Card,
            Details::Bank(b) => MethodType::Bank(b.kind),
        }
    }

    /// What a charge made with it records.
    pub fn charge_method(&self) -> ChargeMethod {
        match &self.details {
            Details::Card { card, .. } => ChargeMethod::Card(ChargeCard::from(card)),
            Details::Bank(b) => ChargeMethod::Bank(b.clone()),
        }
    }

    pub fn card(&self) -> Option<&Card> {
        match &self.details {
            Details::Card { card, .. } => Some(card),
            Details::Bank(_) => None,
        }
    }

    pub fn json(&self) -> PaymentMethodJson<'_> {
        let (card, sepa_debit, us_bank_account) = match &self.details {
            Details::Card { card, cvc_given } => (
                Some(CardJson {
                    brand: card.brand.as_str(),
                    checks: ChecksJson {
                        address_line1_check: (),
                        address_postal_code_check: (),
                        cvc_check: if *cvc_given { "pass" } else { "unchecked" },
                    },
                    country: "US",
                    display_brand: display_brand(card.brand),
                    exp_month: card.exp_month,
                    exp_year: card.exp_year,
                    fingerprint: fingerprint(&card.number),
                    funding: card.funding.as_str(),
                    generated_from: (),
                    last4: card.last4(),
                    networks: NetworksJson {
                        available: [card.brand.as_str()],
                        preferred: (),
                    },
                    regulated_status: "unregulated",
                    three_d_secure_usage: ThreeDSecureUsageJson { supported: true },
                    wallet: (),
                }),
                None,
                None,
            ),
            Details::Bank(b) => match b.kind {
                BankKind::SepaDebit => (
                    None,
                    Some(SepaDebitJson {
                        bank_code: &b.bank_code,
                        branch_code: "",
                        country: &b.country,
                        fingerprint: fingerprint(&format!("{}{}", b.bank_code, b.last4)),
                        generated_from: (),
                        last4: &b.last4,
                    }),
                    None,
                ),
                BankKind::UsBankAccount => (
                    None,
                    None,
                    Some(UsBankAccountJson {
                        account_holder_type: "individual",
                        account_type: "checking",
                        bank_name: "STRIPE TEST BANK",
                        financial_connections_account: (),
                        fingerprint: fingerprint(&format!("{}{}", b.bank_code, b.last4)),
                        last4: &b.last4,
                        networks: UsNetworksJson {
                            preferred: "ach",
                            supported: ["ach"],
                        },
                        routing_number: &b.bank_code,
                        status_details: (),
                    }),
                ),
            },
        };
        let b = &self.billing;
        PaymentMethodJson {
            id: &self.id,
            object: "payment_method",
            allow_redisplay: "unspecified",
            billing_details: BillingDetailsJson {
                address: b.address.as_ref().map_or(
                    AddressJson {
                        city: None,
                        country: None,
                        line1: None,
                        line2: None,
                        postal_code: None,
                        state: None,
                    },
                    |a| AddressJson {
                        city: a.city.as_deref(),
                        country: a.country.as_deref(),
                        line1: a.line1.as_deref(),
                        line2: a.line2.as_deref(),
                        postal_code: a.postal_code.as_deref(),
                        state: a.state.as_deref(),
                    },
                ),
                email: b.email.as_deref(),
                name: b.name.as_deref(),
                phone: b.phone.as_deref(),
                tax_id: b.tax_id.as_deref(),
            },
            card,
            created: self.created,
            customer: self.customer.as_deref(),
            customer_account: (),
            livemode: false,
            metadata: &self.metadata,
            sepa_debit,
            us_bank_account,
            kind: self.method_type().as_str(),
        }
    }
}

/// `card.display_brand`: the brand as shown to people.
fn display_brand(brand: Brand) -> &'static str {
    match brand {
        Brand::Amex => "american_express",
        Brand::Diners => "diners_club",
        Brand::Unionpay => "union_pay",
        Brand::Unknown => "other",
        other => other.as_str(),
    }
}

/// The same card or account always gets the same fingerprint (apps dedupe on it).
fn fingerprint(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    digest
        .iter()
        .take(16)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[derive(Serialize)]
pub(crate) struct PaymentMethodJson<'a> {
    id: &'a str,
    object: &'static str,
    allow_redisplay: &'static str,
    billing_details: BillingDetailsJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card: Option<CardJson<'a>>,
    created: i64,
    customer: Option<&'a str>,
    customer_account: (),
    livemode: bool,
    metadata: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sepa_debit: Option<SepaDebitJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    us_bank_account: Option<UsBankAccountJson<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct BillingDetailsJson<'a> {
    address: AddressJson<'a>,
    email: Option<&'a str>,
    name: Option<&'a str>,
    phone: Option<&'a str>,
    tax_id: Option<&'a str>,
}

#[derive(Serialize)]
struct AddressJson<'a> {
    city: Option<&'a str>,
    country: Option<&'a str>,
    line1: Option<&'a str>,
    line2: Option<&'a str>,
    postal_code: Option<&'a str>,
    state: Option<&'a str>,
}

#[derive(Serialize)]
struct CardJson<'a> {
    brand: &'static str,
    checks: ChecksJson,
    country: &'static str,
    display_brand: &'static str,
    exp_month: u32,
    exp_year: i64,
    fingerprint: String,
    funding: &'static str,
    generated_from: (),
    last4: &'a str,
    networks: NetworksJson,
    regulated_status: &'static str,
    three_d_secure_usage: ThreeDSecureUsageJson,
    wallet: (),
}

#[derive(Serialize)]
struct ChecksJson {
    address_line1_check: (),
    address_postal_code_check: (),
    cvc_check: &'static str,
}

#[derive(Serialize)]
struct NetworksJson {
    available: [&'static str; 1],
    preferred: (),
}

#[derive(Serialize)]
struct ThreeDSecureUsageJson {
    supported: bool,
}

#[derive(Serialize)]
struct SepaDebitJson<'a> {
    bank_code: &'a str,
    branch_code: &'static str,
    country: &'a str,
    fingerprint: String,
    generated_from: (),
    last4: &'a str,
}

#[derive(Serialize)]
struct UsBankAccountJson<'a> {
    account_holder_type: &'static str,
    account_type: &'static str,
    bank_name: &'static str,
    financial_connections_account: (),
    fingerprint: String,
    last4: &'a str,
    networks: UsNetworksJson,
    routing_number: &'a str,
    status_details: (),
}

#[derive(Serialize)]
struct UsNetworksJson {
    preferred: &'static str,
    supported: [&'static str; 1],
}

/// Records what the payer typed on Checkout's page as a PaymentMethod; returns its id.
pub(crate) fn record_card(
    account: &mut Account,
    card: &Card,
    email: Option<&str>,
    name: Option<&str>,
) -> String {
    NewPaymentMethod {
        details: Details::Card {
            card: card.clone(),
            cvc_given: true,
        },
        billing: BillingDetails {
            email: email.map(str::to_string),
            name: name.map(str::to_string),
            ..BillingDetails::default()
        },
        metadata: BTreeMap::new(),
    }
    .record(account)
}

/// [`record_card`] for a bank account.
pub(crate) fn record_bank(
    account: &mut Account,
    bank: &BankAccount,
    email: Option<&str>,
    name: Option<&str>,
) -> String {
    NewPaymentMethod {
        details: Details::Bank(bank.clone()),
        billing: BillingDetails {
            email: email.map(str::to_string),
            name: name.map(str::to_string),
            ..BillingDetails::default()
        },
        metadata: BTreeMap::new(),
    }
    .record(account)
}

/// The stored PaymentMethod `id`; a test PaymentMethod (`pm_card_visa`) becomes a new one,
/// as on Stripe. `param` names the parameter in the error for an unknown id.
pub(crate) fn resolve(account: &mut Account, id: &str, param: &str) -> ApiResult<String> {
    if account.payment_methods.get(id).is_some() {
        return Ok(id.to_string());
    }
    let Some(card) = id
        .starts_with("pm_card_")
        .then(|| cards::test_card(id, account.now()))
        .flatten()
    else {
        return Err(ApiError::no_such("PaymentMethod", id, param, false));
    };
    Ok(NewPaymentMethod {
        details: Details::Card {
            card,
            cvc_given: false,
        },
        billing: BillingDetails::default(),
        metadata: BTreeMap::new(),
    }
    .record(account))
}

/// A card error of the card fields, as Stripe answers it (402 `card_error`, `param` the field).
fn card_field_error(f: &Fields<'_>, e: CardError) -> ApiError {
    let field = match e.code {
        ErrorCode::InvalidExpiryMonth => "exp_month",
        ErrorCode::InvalidExpiryYear | ErrorCode::IncompleteExpiry => "exp_year",
        ErrorCode::InvalidCvc => "cvc",
        _ => "number",
    };
    ApiError::card(e.code.as_str(), e.message, CardDetails::default()).with_param(f.path_of(field))
}

fn read_card(mut f: Fields<'_>, now: i64) -> ApiResult<Details> {
    if let Some(token) = f.owned("token")? {
        let path = f.path_of("token");
        f.finish()?;
        let card = cards::test_card(&token, now)
            .filter(|_| token.starts_with("tok_"))
            .ok_or_else(|| ApiError::no_such("token", &token, &path, false))?;
        return Ok(Details::Card {
            card,
            cvc_given: false,
        });
    }
    let number = f
        .owned("number")?
        .ok_or_else(|| ApiError::missing(&f.path_of("number")))?;
    let exp_month = f
        .int("exp_month")?
        .ok_or_else(|| ApiError::missing(&f.path_of("exp_month")))?;
    let exp_year = f
        .int("exp_year")?
        .ok_or_else(|| ApiError::missing(&f.path_of("exp_year")))?;
    let cvc = f.owned("cvc")?;
    f.ignore("networks");
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let amex = digits.starts_with("34") || digits.starts_with("37");
    let cvc_text = cvc
        .clone()
        .unwrap_or_else(|| if amex { "1234" } else { "123" }.to_string());
    let card = cards::check(&number, &format!("{exp_month}/{exp_year}"), &cvc_text, now)
        .map_err(|e| card_field_error(&f, e))?;
    f.finish()?;
    Ok(Details::Card {
        card,
        cvc_given: cvc.is_some(),
    })
}

fn bank_error(param: String, e: CardError) -> ApiError {
    ApiError::new(
        http::StatusCode::BAD_REQUEST,
        Some(e.code.as_str()),
        e.message,
    )
    .with_param(param)
}

/// An address hash (`…[address][line1]`, …): every field optional.
pub(crate) fn read_address(mut f: Fields<'_>) -> ApiResult<Address> {
    let a = Address {
        city: f.owned("city")?,
        country: f.owned("country")?,
        line1: f.owned("line1")?,
        line2: f.owned("line2")?,
        postal_code: f.owned("postal_code")?,
        state: f.owned("state")?,
    };
    f.finish()?;
    Ok(a)
}

fn read_billing(mut f: Fields<'_>) -> ApiResult<BillingDetails> {
    let b = BillingDetails {
        address: f.object("address")?.map(read_address).transpose()?,
        email: f.owned("email")?,
        name: f.owned("name")?,
        phone: f.owned("phone")?,
        tax_id: f.owned("tax_id")?,
    };
    f.finish()?;
    Ok(b)
}

/// A nested hash that must be there.
fn need<'a>(f: &mut Fields<'a>, key: &str) -> ApiResult<Fields<'a>> {
    let path = f.path_of(key);
    f.object(key)?.ok_or_else(|| ApiError::missing(&path))
}

/// `type`, the type's own hash (`card`, `sepa_debit`, `us_bank_account`),
/// `billing_details` and `metadata`: the parameters of `POST /v1/payment_methods` and of a
/// PaymentIntent's `payment_method_data`. Other keys are left to the caller's `finish`.
pub(crate) fn read_new(f: &mut Fields<'_>, now: i64) -> ApiResult<NewPaymentMethod> {
    let kind = f
        .one_of("type", &["card", "sepa_debit", "us_bank_account"])
        .map_err(|e| {
            ApiError::invalid(
                f.path_of("type"),
                format!(
                    "{} (mock-stripe simulates the payment method types card, sepa_debit and us_bank_account.)",
                    e.message
                ),
            )
        })?
        .ok_or_else(|| ApiError::missing(&f.path_of("type")))?;
    let details = match kind {
        "card" => read_card(need(f, "card")?, now)?,
        "sepa_debit" => {
            let mut s = need(f, "sepa_debit")?;
            let path = s.path_of("iban");
            let iban = s.owned("iban")?.ok_or_else(|| ApiError::missing(&path))?;
            s.finish()?;
            Details::Bank(bank_debits::check_iban(&iban).map_err(|e| bank_error(path, e))?)
        }
        _ => {
            let mut u = need(f, "us_bank_account")?;
            let routing_path = u.path_of("routing_number");
            let account_path = u.path_of("account_number");
            let routing = u
                .owned("routing_number")?
                .ok_or_else(|| ApiError::missing(&routing_path))?;
            let number = u
                .owned("account_number")?
                .ok_or_else(|| ApiError::missing(&account_path))?;
            u.one_of("account_holder_type", &["individual", "company"])?;
            u.one_of("account_type", &["checking", "savings"])?;
            u.ignore("financial_connections_account");
            u.finish()?;
            let bank = bank_debits::check_us_account(&routing, &number).map_err(|e| {
                let param = if e.code == ErrorCode::InvalidRoutingNumber {
                    routing_path.clone()
                } else {
                    account_path.clone()
                };
                bank_error(param, e)
            })?;
            Details::Bank(bank)
        }
    };
    // Only the chosen type's hash may be given.
    for other in ["card", "sepa_debit", "us_bank_account"] {
        if other != kind && f.has(other) {
            return Err(ApiError::invalid(
                f.path_of(other),
                format!("You cannot provide {other} details for a PaymentMethod of type {kind}."),
            ));
        }
    }
    let billing = f
        .object("billing_details")?
        .map(read_billing)
        .transpose()?
        .unwrap_or_default();
    let metadata = f
        .string_map("metadata")?
        .map(|m| m.to_map())
        .unwrap_or_default();
    crate::resources::check_metadata(&f.path_of("metadata"), &metadata)?;
    for ignored in ["allow_redisplay", "radar_options"] {
        f.ignore(ignored);
    }
    Ok(NewPaymentMethod {
        details,
        billing,
        metadata,
    })
}

/// `POST /v1/payment_methods`
pub(crate) fn create(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let new = read_new(&mut f, account.now())?;
    let x = expandable::read(&mut f, "payment_method")?;
    // Cloning a customer's PaymentMethod to a connected account: not modelled.
    if f.has("customer") {
        return Err(ApiError::invalid(
            "customer",
            "mock-stripe does not simulate cloning PaymentMethods (customer with payment_method).",
        ));
    }
    f.ignore("payment_method");
    f.finish()?;
    let id = new.record(account);
    let pm = account.payment_methods.get(&id).expect("just stored");
    let v = ctx.version_for(account);
    expandable::reply(account, "payment_method", &pm.json(), &x, &v)
}

/// `GET /v1/payment_methods/{id}`: test ids (`pm_card_visa`) give a new PaymentMethod each
/// time, as on Stripe.
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let x = expandable::read(&mut f, "payment_method")?;
    f.finish()?;
    let id = resolve(account, id, "payment_method").map_err(|mut e| {
        // An id in the path that does not exist is a 404.
        e.status = http::StatusCode::NOT_FOUND;
        e
    })?;
    let pm = account.payment_methods.get(&id).expect("resolved");
    let v = ctx.version_for(account);
    expandable::reply(account, "payment_method", &pm.json(), &x, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn ctx() -> RequestCtx {
        RequestCtx {
            request_id: "req_test".into(),
            version: None,
            idempotency_key: None,
        }
    }

    fn post(a: &mut Account, wire: &str) -> ApiResult<serde_json::Value> {
        let p = Params::decode(&[wire.as_bytes()]).unwrap();
        create(a, &p, &ctx()).map(|r| serde_json::from_slice(&r.body).unwrap())
    }

    #[test]
    fn a_card_by_test_token_or_by_number() {
        let mut a = Account::at(NOW);
        let pm = post(
            &mut a,
            "type=card&card[token]=tok_visa&billing_details[name]=Jenny+Rosen\
             &billing_details[email]=jenny@example.com&billing_details[address][country]=US\
             &metadata[order]=42",
        )
        .unwrap();
        assert!(pm["id"].as_str().unwrap().starts_with("pm_"));
        assert_eq!(pm["object"], "payment_method");
        assert_eq!(pm["type"], "card");
        assert_eq!(pm["card"]["brand"], "visa");
        assert_eq!(pm["card"]["last4"], "4242");
        assert_eq!(pm["card"]["checks"]["cvc_check"], "unchecked");
        assert_eq!(pm["billing_details"]["name"], "Jenny Rosen");
        assert_eq!(pm["billing_details"]["address"]["country"], "US");
        assert_eq!(
            pm["billing_details"]["address"]["city"],
            serde_json::Value::Null
        );
        assert_eq!(pm["metadata"]["order"], "42");
        assert!(pm.get("sepa_debit").is_none());

        let pm = post(
            &mut a,
            "type=card&card[number]=4000000000009995&card[exp_month]=12&card[exp_year]=2034&card[cvc]=123",
        )
        .unwrap();
        assert_eq!(pm["card"]["last4"], "9995");
        assert_eq!(pm["card"]["exp_year"], 2034);
        assert_eq!(pm["card"]["checks"]["cvc_check"], "pass");
        let stored = a.payment_methods.get(pm["id"].as_str().unwrap()).unwrap();
        assert_eq!(stored.card().unwrap().number, "4000000000009995");
    }

    #[test]
    fn bad_cards_and_tokens_are_refused_as_stripe_does() {
        let mut a = Account::at(NOW);
        let e = post(&mut a, "type=card&card[token]=tok_nope").unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code, e.param.as_deref()),
            (400, Some("resource_missing"), Some("card[token]"))
        );
        assert_eq!(e.message, "No such token: 'tok_nope'");
        let e = post(
            &mut a,
            "type=card&card[number]=4242424242424241&card[exp_month]=12&card[exp_year]=2034",
        )
        .unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code, e.param.as_deref()),
            (402, Some("incorrect_number"), Some("card[number]"))
        );
        let e = post(
            &mut a,
            "type=card&card[number]=4242424242424242&card[exp_month]=13&card[exp_year]=2034",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("card[exp_month]"));
        let e = post(&mut a, "type=card&card[number]=4242424242424242").unwrap_err();
        assert_eq!(e.code, Some("parameter_missing"));
        let e = post(&mut a, "type=card").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("card"));
        let e = post(&mut a, "type=ideal").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("type"));
        let e = post(&mut a, "card[token]=tok_visa").unwrap_err();
        assert_eq!(e.code, Some("parameter_missing"));
        let e = post(&mut a, "type=card&card[token]=tok_visa&sepa_debit[iban]=x").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("sepa_debit"));
        assert_eq!(a.payment_methods.rows().len(), 0, "nothing stored");
    }

    #[test]
    fn bank_accounts() {
        let mut a = Account::at(NOW);
        let pm = post(
            &mut a,
            "type=sepa_debit&sepa_debit[iban]=AT611904300234573201",
        )
        .unwrap();
        assert_eq!(pm["type"], "sepa_debit");
        assert_eq!(pm["sepa_debit"]["last4"], "3201");
        assert_eq!(pm["sepa_debit"]["country"], "AT");
        assert!(pm.get("card").is_none());
        let e = post(&mut a, "type=sepa_debit&sepa_debit[iban]=AT00").unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("invalid_iban"), Some("sepa_debit[iban]"))
        );
        let pm = post(
            &mut a,
            "type=us_bank_account&us_bank_account[routing_number]=110000000\
             &us_bank_account[account_number]=000123456789&us_bank_account[account_holder_type]=individual",
        )
        .unwrap();
        assert_eq!(pm["us_bank_account"]["routing_number"], "110000000");
        assert_eq!(pm["us_bank_account"]["last4"], "6789");
    }

    #[test]
    fn test_payment_methods_resolve_to_new_stored_ones() {
        let mut a = Account::at(NOW);
        let id = resolve(&mut a, "pm_card_chargeDeclined", "payment_method").unwrap();
        assert!(id.starts_with("pm_") && id != "pm_card_chargeDeclined");
        let pm = a.payment_methods.get(&id).unwrap();
        assert_eq!(pm.card().unwrap().number, "4000000000000002");
        assert_eq!(resolve(&mut a, &id, "payment_method").unwrap(), id);
        let e = resolve(&mut a, "pm_nope", "payment_method").unwrap_err();
        assert_eq!(e.message, "No such PaymentMethod: 'pm_nope'");
        assert_eq!(
            (e.status.as_u16(), e.param.as_deref()),
            (400, Some("payment_method"))
        );
        // Retrieve in the path: 404.
        let Err(e) = retrieve(&mut a, "pm_nope", &Params::default(), &ctx()) else {
            panic!("an unknown id in the path is a 404")
        };
        assert_eq!(e.status.as_u16(), 404);
        let got = retrieve(&mut a, "pm_card_visa", &Params::default(), &ctx()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(v["card"]["last4"], "4242");
    }
}
