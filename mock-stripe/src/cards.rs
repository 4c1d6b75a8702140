//! Test cards (contract §4): what a card number does when it is charged, plus the
//! checks the payment form makes before charging (number, expiry, CVC).

use crate::engine::clock::year_month;
use crate::resources::string_enum;

string_enum! {
    /// The `code` of a card (or bank debit) error: every code the mock gives.
    pub(crate) enum ErrorCode {
        CardDeclined = "card_declined",
        ExpiredCard = "expired_card",
        IncorrectCvc = "incorrect_cvc",
        ProcessingError = "processing_error",
        PaymentIntentAuthenticationFailure = "payment_intent_authentication_failure",
        IncompleteNumber = "incomplete_number",
        InvalidNumber = "invalid_number",
        IncorrectNumber = "incorrect_number",
        InvalidExpiryYear = "invalid_expiry_year",
        InvalidExpiryMonth = "invalid_expiry_month",
        IncompleteExpiry = "incomplete_expiry",
        InvalidCvc = "invalid_cvc",
        IncompleteIban = "incomplete_iban",
        InvalidIban = "invalid_iban",
        IncompleteBankAccount = "incomplete_bank_account",
        InvalidRoutingNumber = "invalid_routing_number",
        InvalidAccountNumber = "invalid_account_number",
        DebitNotAuthorized = "debit_not_authorized",
        NoAccount = "no_account",
        AccountClosed = "account_closed",
        InsufficientFunds = "insufficient_funds",
        AuthenticationRequired = "authentication_required",
    }
}

string_enum! {
    /// The `decline_code` of a declined card.
    pub(crate) enum DeclineCode {
        GenericDecline = "generic_decline",
        InsufficientFunds = "insufficient_funds",
        LostCard = "lost_card",
        StolenCard = "stolen_card",
        CardVelocityExceeded = "card_velocity_exceeded",
        Fraudulent = "fraudulent",
        TestModeLiveCard = "test_mode_live_card",
        AuthenticationRequired = "authentication_required",
    }
}

string_enum! {
    /// `payment_method_details.card.brand` (and `network`).
    pub(crate) enum Brand {
        Visa = "visa",
        Mastercard = "mastercard",
        Amex = "amex",
        Discover = "discover",
        Jcb = "jcb",
        Diners = "diners",
        Unionpay = "unionpay",
        Unknown = "unknown",
    }
}

string_enum! {
    /// `payment_method_details.card.funding`.
    pub(crate) enum Funding {
        Credit = "credit",
        Debit = "debit",
        Prepaid = "prepaid",
    }
}

/// A card error: the `code`, `decline_code` and message Stripe shows. Owned: charges and
/// PaymentIntents keep it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CardError {
    pub code: ErrorCode,
    pub decline_code: Option<DeclineCode>,
    pub message: String,
}

impl CardError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> CardError {
        CardError {
            code,
            decline_code: None,
            message: message.into(),
        }
    }
}

/// A card error as the const tables write it (static text); [`CardError::from`] makes
/// the owned copy that is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CardErrorSpec {
    pub code: ErrorCode,
    pub decline_code: Option<DeclineCode>,
    pub message: &'static str,
}

impl From<CardErrorSpec> for CardError {
    fn from(e: CardErrorSpec) -> CardError {
        CardError {
            code: e.code,
            decline_code: e.decline_code,
            message: e.message.to_string(),
        }
    }
}

/// What charging a card leads to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Outcome {
    Succeeds,
    Declined(CardError),
}

const DECLINED: &str = "Your card was declined.";
const INSUFFICIENT: &str = "Your card has insufficient funds.";

/// A row of [`TABLE`]: `None` succeeds, `Some` declines with this error.
type Row = Option<CardErrorSpec>;

const SUCCEEDS: Row = None;

const fn decline(code: ErrorCode, decline_code: Option<DeclineCode>, message: &'static str) -> Row {
    Some(CardErrorSpec {
        code,
        decline_code,
        message,
    })
}

const fn declined(decline_code: DeclineCode, message: &'static str) -> Row {
    decline(ErrorCode::CardDeclined, Some(decline_code), message)
}

/// Number (digits only) → outcome. For the cards that require 3-D Secure
/// ([`requires_authentication`]), the outcome once the payer has authenticated.
const TABLE: &[(&str, Row)] = &[
    ("4242424242424242", SUCCEEDS),
    ("5555555555554444", SUCCEEDS),
    ("378282246310005", SUCCEEDS),
    ("6011111111111117", SUCCEEDS),
    ("4000056655665556", SUCCEEDS),
    ("4000000000000077", SUCCEEDS),
    ("4000000000000259", SUCCEEDS),
    ("4000000000003220", SUCCEEDS),
    ("4000002500003155", SUCCEEDS),
    ("4000002760003184", SUCCEEDS),
    ("5200828282828210", SUCCEEDS),
    ("5105105105105100", SUCCEEDS),
    ("3056930009020004", SUCCEEDS),
    ("3566002020360505", SUCCEEDS),
    ("6200000000000005", SUCCEEDS),
    // Succeeds; a refund of it fails later (`refund.failed`).
    ("4000000000005126", SUCCEEDS),
    (
        "4000000000000002",
        declined(DeclineCode::GenericDecline, DECLINED),
    ),
    (
        "4000000000009995",
        declined(DeclineCode::InsufficientFunds, INSUFFICIENT),
    ),
    (
        "4000000000009987",
        declined(DeclineCode::LostCard, DECLINED),
    ),
    (
        "4000000000009979",
        declined(DeclineCode::StolenCard, DECLINED),
    ),
    (
        "4000000000000069",
        decline(ErrorCode::ExpiredCard, None, "Your card has expired."),
    ),
    (
        "4000000000000127",
        decline(
            ErrorCode::IncorrectCvc,
            None,
            "Your card's security code is incorrect.",
        ),
    ),
    (
        "4000000000000119",
        decline(
            ErrorCode::ProcessingError,
            None,
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
    (
        "4000000000006975",
        declined(
            DeclineCode::CardVelocityExceeded,
            "Your card was declined for making repeated attempts too frequently or exceeding its amount limit.",
        ),
    ),
    (
        "4100000000000019",
        declined(DeclineCode::Fraudulent, DECLINED),
    ),
    // Declined when a CVC is entered; the form always asks for one.
    (
        "4000000000000101",
        decline(
            ErrorCode::IncorrectCvc,
            None,
            "Your card's security code is incorrect.",
        ),
    ),
    (
        "4000000000000341",
        declined(DeclineCode::GenericDecline, DECLINED),
    ),
    (
        "4000008260003178",
        declined(DeclineCode::InsufficientFunds, INSUFFICIENT),
    ),
    (
        "4000008400001629",
        declined(DeclineCode::GenericDecline, DECLINED),
    ),
];

/// Stripe's test PaymentMethods and tokens (contract §4): `pm_card_<name>` and `tok_<name>`
/// stand for these numbers of [`TABLE`] (the API takes them where a `pm_…` or `tok_…` goes).
const TEST_NAMES: &[(&str, &str)] = &[
    ("visa", "4242424242424242"),
    ("visa_debit", "4000056655665556"),
    ("mastercard", "5555555555554444"),
    ("mastercard_debit", "5200828282828210"),
    ("mastercard_prepaid", "5105105105105100"),
    ("amex", "378282246310005"),
    ("discover", "6011111111111117"),
    ("diners", "3056930009020004"),
    ("jcb", "3566002020360505"),
    ("unionpay", "6200000000000005"),
    ("bypassPending", "4000000000000077"),
    ("createDispute", "4000000000000259"),
    ("chargeDeclined", "4000000000000002"),
    ("visa_chargeDeclined", "4000000000000002"),
    ("chargeDeclinedInsufficientFunds", "4000000000009995"),
    ("visa_chargeDeclinedInsufficientFunds", "4000000000009995"),
    ("chargeDeclinedLostCard", "4000000000009987"),
    ("visa_chargeDeclinedLostCard", "4000000000009987"),
    ("chargeDeclinedStolenCard", "4000000000009979"),
    ("visa_chargeDeclinedStolenCard", "4000000000009979"),
    ("chargeDeclinedExpiredCard", "4000000000000069"),
    ("chargeDeclinedIncorrectCvc", "4000000000000127"),
    ("chargeDeclinedProcessingError", "4000000000000119"),
    ("chargeDeclinedVelocityLimitExceeded", "4000000000006975"),
    (
        "visa_chargeDeclinedVelocityLimitExceeded",
        "4000000000006975",
    ),
    ("chargeDeclinedFraudulent", "4100000000000019"),
    ("radarBlock", "4100000000000019"),
    ("chargeCustomerFail", "4000000000000341"),
    ("threeDSecure2Required", "4000000000003220"),
    ("authenticationRequired", "4000002760003184"),
    ("authenticationRequiredOnSetup", "4000002500003155"),
    (
        "authenticationRequiredChargeDeclinedInsufficientFunds",
        "4000008260003178",
    ),
    ("threeDSecureRequiredChargeDeclined", "4000008400001629"),
    ("refundFail", "4000000000005126"),
];

/// The card number a test PaymentMethod id (`pm_card_visa`) or token (`tok_visa`) stands for.
pub(crate) fn test_card_number(id: &str) -> Option<&'static str> {
    let name = id
        .strip_prefix("pm_card_")
        .or_else(|| id.strip_prefix("tok_"))?;
    TEST_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| *number)
}

/// The card behind a test PaymentMethod or token, expiring in December five years on.
pub(crate) fn test_card(id: &str, now: i64) -> Option<Card> {
    let number = test_card_number(id)?;
    let cvc = if brand(number) == Brand::Amex {
        "1234"
    } else {
        "123"
    };
    check(number, &future_expiry(now), cvc, now).ok()
}

/// An expiry [`check`] accepts on the clock at `now`: December five years on, as
/// `MM/YYYY` (capped at 9999, the last year a clock may be pinned to).
pub(crate) fn future_expiry(now: i64) -> String {
    let (year, _) = year_month(now);
    format!("12/{}", (year + 5).min(9999))
}

/// A test card whose refunds fail after they were accepted (`refund.failed`).
pub(crate) fn refund_fails(number: &str) -> bool {
    number == "4000000000005126"
}

/// Cards that ask the payer to authenticate (3-D Secure) before they are charged.
const AUTHENTICATION_REQUIRED: &[&str] = &[
    "4000000000003220",
    "4000002500003155",
    "4000002760003184",
    "4000008260003178",
    "4000008400001629",
];

pub(crate) fn requires_authentication(number: &str) -> bool {
    AUTHENTICATION_REQUIRED.contains(&number)
}

/// What the payment fails with when the payer fails 3-D Secure (contract §4).
pub(crate) const AUTHENTICATION_FAILED: CardErrorSpec = CardErrorSpec {
    code: ErrorCode::PaymentIntentAuthenticationFailure,
    decline_code: None,
    message: "The provided PaymentMethod has failed authentication. You can provide \
              payment_method_data or a new PaymentMethod to attempt to fulfill this \
              PaymentIntent again.",
};

/// A Luhn-valid number outside the table: a real card, which test mode refuses.
const LIVE_CARD: Row = declined(
    DeclineCode::TestModeLiveCard,
    "Your card was declined. Your request was in test mode, but used a non test card. \
     For a list of valid test cards, visit: https://stripe.com/docs/testing.",
);

/// The outcome of charging `number` (digits only).
pub(crate) fn outcome(number: &str) -> Outcome {
    let row = TABLE
        .iter()
        .find(|(n, _)| *n == number)
        .map_or(LIVE_CARD, |(_, row)| *row);
    match row {
        None => Outcome::Succeeds,
        Some(e) => Outcome::Declined(e.into()),
    }
}

/// A card as typed into the form, checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Card {
    pub number: String,
    pub exp_month: u32,
    pub exp_year: i64,
    pub brand: Brand,
    pub funding: Funding,
}

impl Card {
    pub fn last4(&self) -> &str {
        &self.number[self.number.len() - 4..]
    }
}

fn input_error(code: ErrorCode, message: &'static str) -> CardError {
    CardError::new(code, message)
}

/// Checks number (Luhn), expiry (`MM / YY`, `MM/YY`, `MM/YYYY`) and CVC as Stripe's form
/// does before anything is charged. `now` is unix seconds.
pub(crate) fn check(number: &str, expiry: &str, cvc: &str, now: i64) -> Result<Card, CardError> {
    let number: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if number.is_empty() {
        return Err(input_error(
            ErrorCode::IncompleteNumber,
            "Your card number is incomplete.",
        ));
    }
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(input_error(
            ErrorCode::InvalidNumber,
            "Your card number is invalid.",
        ));
    }
    if number.len() < 12 {
        return Err(input_error(
            ErrorCode::IncompleteNumber,
            "Your card number is incomplete.",
        ));
    }
    if number.len() > 19 || !luhn(&number) {
        return Err(input_error(
            ErrorCode::IncorrectNumber,
            "Your card number is incorrect.",
        ));
    }
    let (exp_month, exp_year) = parse_expiry(expiry)?;
    let (year, month) = year_month(now);
    if exp_year < year {
        return Err(input_error(
            ErrorCode::InvalidExpiryYear,
            "Your card's expiration year is in the past.",
        ));
    }
    if exp_year == year && exp_month < month {
        return Err(input_error(
            ErrorCode::InvalidExpiryMonth,
            "Your card's expiration date is in the past.",
        ));
    }
    if exp_year > year + 50 {
        return Err(input_error(
            ErrorCode::InvalidExpiryYear,
            "Your card's expiration year is invalid.",
        ));
    }
    let brand = brand(&number);
    let cvc = cvc.trim();
    let cvc_len = if brand == Brand::Amex { 4 } else { 3 };
    if cvc.is_empty() || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(input_error(
            ErrorCode::InvalidCvc,
            "Your card's security code is invalid.",
        ));
    }
    if cvc.len() < cvc_len {
        return Err(input_error(
            ErrorCode::InvalidCvc,
            "Your card's security code is incomplete.",
        ));
    }
    if cvc.len() > cvc_len {
        return Err(input_error(
            ErrorCode::InvalidCvc,
            "Your card's security code is invalid.",
        ));
    }
    let funding = match number.as_str() {
        "4000056655665556" | "5200828282828210" => Funding::Debit,
        "5105105105105100" => Funding::Prepaid,
        _ => Funding::Credit,
    };
    Ok(Card {
        number,
        exp_month,
        exp_year,
        brand,
        funding,
    })
}

fn parse_expiry(expiry: &str) -> Result<(u32, i64), CardError> {
    let incomplete = || {
        input_error(
            ErrorCode::IncompleteExpiry,
            "Your card's expiration date is incomplete.",
        )
    };
    let compact: String = expiry.chars().filter(|c| !c.is_whitespace()).collect();
    let (mm, yy) = match compact.split_once('/') {
        Some(parts) => parts,
        // `MMYY`/`MMYYYY` without a slash; bytes are characters only in ASCII.
        None if (compact.len() == 4 || compact.len() == 6) && compact.is_ascii() => {
            compact.split_at(2)
        }
        None => return Err(incomplete()),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(mm) || !digits(yy) || mm.len() > 2 || !(yy.len() == 2 || yy.len() == 4) {
        return Err(incomplete());
    }
    let month: u32 = mm.parse().map_err(|_| incomplete())?;
    if !(1..=12).contains(&month) {
        return Err(input_error(
            ErrorCode::InvalidExpiryMonth,
            "Your card's expiration month is invalid.",
        ));
    }
    let year: i64 = yy.parse().map_err(|_| incomplete())?;
    let year = if yy.len() == 2 { 2000 + year } else { year };
    Ok((month, year))
}

fn luhn(number: &str) -> bool {
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The brand of a card number by its prefix; any string (a short or empty one is
/// `Unknown` unless it starts with `4`).
pub(crate) fn brand(number: &str) -> Brand {
    let prefix = |n: usize| -> u32 { number.get(..n).and_then(|p| p.parse().ok()).unwrap_or(0) };
    let (p2, p4) = (prefix(2), prefix(4));
    match () {
        _ if number.starts_with('4') => Brand::Visa,
        _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => Brand::Mastercard,
        _ if p2 == 34 || p2 == 37 => Brand::Amex,
        _ if number.starts_with("6011") || p2 == 65 || (644..=649).contains(&(p4 / 10)) => {
            Brand::Discover
        }
        _ if (3528..=3589).contains(&p4) => Brand::Jcb,
        _ if p2 == 36 || p2 == 30 || p2 == 38 => Brand::Diners,
        _ if p2 == 62 => Brand::Unionpay,
        _ => Brand::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_work_on_every_clock_a_test_may_pin() {
        // Found by tests/fuzz: with the clock pinned near 9999, `12/{year + 5}` had five
        // digits and `pm_card_visa` was "No such PaymentMethod" (headless completion's
        // `(year + 5) % 100` made the card expired from 2095 on).
        for now in [0, 1_700_000_000, 4_000_000_000, 253_402_300_799] {
            let card = test_card("pm_card_visa", now).expect("a card at every time");
            assert!(check(&card.number, &future_expiry(now), "123", now).is_ok());
        }
    }

    #[test]
    fn an_expiry_of_four_bytes_that_are_not_four_characters_is_incomplete() {
        // Found by tests/fuzz: `cardExpiry=𑵠` (one 4-byte character) was split at byte 2,
        // inside the character, and the payment page answered 500.
        for expiry in ["𑵠", "é1", "1é", "😀12", "ab", "１２３４"] {
            let e = check("4242424242424242", expiry, "123", NOW).unwrap_err();
            assert_eq!(e.code, ErrorCode::IncompleteExpiry, "{expiry}");
        }
        assert!(check("4242424242424242", "1234", "123", NOW).is_ok());
    }

    #[test]
    fn brand_of_short_or_odd_input_does_not_panic() {
        // Found by tests/fuzz: `/_config/checkout/sessions/{id}/complete card=1` sliced
        // `number[..2]` of a 1-digit number and answered 500.
        for n in ["", "4", "3", "37", "601", "é", "😀12", "42é"] {
            let _ = brand(n);
        }
        assert_eq!(brand("4"), Brand::Visa);
        assert_eq!(brand("37"), Brand::Amex);
        assert_eq!(brand(""), Brand::Unknown);
    }

    // 2023-11-14
    const NOW: i64 = 1_700_000_000;

    fn ok(n: &str) -> Card {
        check(n, "12 / 34", "123", NOW).unwrap()
    }

    #[test]
    fn success_cards_succeed() {
        for n in [
            "4242 4242 4242 4242",
            "5555555555554444",
            "6011111111111117",
            "4000000000003220",
        ] {
            let card = ok(n);
            assert_eq!(outcome(&card.number), Outcome::Succeeds, "{n}");
        }
        let amex = check("3782 822463 10005", "12/34", "1234", NOW).unwrap();
        assert_eq!(amex.brand, Brand::Amex);
        assert_eq!(outcome(&amex.number), Outcome::Succeeds);
        assert_eq!(ok("4242424242424242").last4(), "4242");
        assert_eq!(ok("4000056655665556").funding, Funding::Debit);
    }

    #[test]
    fn decline_cards_carry_codes_and_messages() {
        let Outcome::Declined(e) = outcome(&ok("4000 0000 0000 0002").number) else {
            panic!()
        };
        assert_eq!(
            (e.code, e.decline_code, e.message.as_str()),
            (
                ErrorCode::CardDeclined,
                Some(DeclineCode::GenericDecline),
                "Your card was declined."
            )
        );
        let Outcome::Declined(e) = outcome(&ok("4000000000009995").number) else {
            panic!()
        };
        assert_eq!(e.decline_code, Some(DeclineCode::InsufficientFunds));
        assert_eq!(e.message, "Your card has insufficient funds.");
        let Outcome::Declined(e) = outcome(&ok("4000000000000069").number) else {
            panic!()
        };
        assert_eq!((e.code, e.decline_code), (ErrorCode::ExpiredCard, None));
        let Outcome::Declined(e) = outcome(&ok("4000000000000127").number) else {
            panic!()
        };
        assert_eq!(e.code, ErrorCode::IncorrectCvc);
        let Outcome::Declined(e) = outcome(&ok("4000000000000119").number) else {
            panic!()
        };
        assert_eq!(e.code, ErrorCode::ProcessingError);
        let Outcome::Declined(e) = outcome(&ok("4100000000000019").number) else {
            panic!()
        };
        assert_eq!(e.decline_code, Some(DeclineCode::Fraudulent));
    }

    #[test]
    fn test_payment_methods_and_tokens_are_table_cards() {
        for (id, number) in [
            ("pm_card_visa", "4242424242424242"),
            ("tok_visa", "4242424242424242"),
            ("pm_card_chargeDeclined", "4000000000000002"),
            (
                "pm_card_chargeDeclinedInsufficientFunds",
                "4000000000009995",
            ),
            ("tok_chargeDeclinedInsufficientFunds", "4000000000009995"),
            ("pm_card_authenticationRequired", "4000002760003184"),
            ("pm_card_threeDSecure2Required", "4000000000003220"),
        ] {
            assert_eq!(test_card_number(id), Some(number), "{id}");
        }
        assert_eq!(test_card_number("pm_card_nope"), None);
        assert_eq!(test_card_number("visa"), None);
        // Every name is a card of the table with a valid number, and every one checks.
        for (name, number) in TEST_NAMES {
            assert!(TABLE.iter().any(|(n, _)| n == number), "{name}: {number}");
            let card = test_card(&format!("pm_card_{name}"), NOW).unwrap();
            assert_eq!(card.number, *number);
            assert_eq!((card.exp_month, card.exp_year), (12, 2028));
        }
        assert_eq!(
            test_card("tok_mastercard_prepaid", NOW).unwrap().funding,
            Funding::Prepaid
        );
        assert_eq!(test_card("pm_card_amex", NOW).unwrap().brand, Brand::Amex);
        assert!(requires_authentication(
            test_card_number("pm_card_authenticationRequired").unwrap()
        ));
    }

    #[test]
    fn non_test_card_is_declined_in_test_mode() {
        // A Luhn-valid number that is not in the table.
        let Outcome::Declined(e) = outcome(&ok("4111111111111111").number) else {
            panic!()
        };
        assert_eq!(e.decline_code, Some(DeclineCode::TestModeLiveCard));
    }

    #[test]
    fn luhn_failure_is_incorrect_number() {
        let e = check("4242 4242 4242 4241", "12/34", "123", NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::IncorrectNumber);
        assert_eq!(e.message, "Your card number is incorrect.");
        assert_eq!(
            check("4242", "12/34", "123", NOW).unwrap_err().code,
            ErrorCode::IncompleteNumber
        );
        assert_eq!(
            check("4242x", "12/34", "123", NOW).unwrap_err().code,
            ErrorCode::InvalidNumber
        );
    }

    #[test]
    fn expiry_checks() {
        let n = "4242424242424242";
        assert_eq!(
            check(n, "13 / 30", "123", NOW).unwrap_err().code,
            ErrorCode::InvalidExpiryMonth
        );
        assert_eq!(
            check(n, "00/30", "123", NOW).unwrap_err().code,
            ErrorCode::InvalidExpiryMonth
        );
        assert_eq!(
            check(n, "12 / 22", "123", NOW).unwrap_err().code,
            ErrorCode::InvalidExpiryYear
        );
        assert_eq!(
            check(n, "10/23", "123", NOW).unwrap_err().code,
            ErrorCode::InvalidExpiryMonth
        );
        assert_eq!(
            check(n, "1", "123", NOW).unwrap_err().code,
            ErrorCode::IncompleteExpiry
        );
        // The current month is still valid; so are MMYY and MM/YYYY.
        assert_eq!(check(n, "11/23", "123", NOW).unwrap().exp_year, 2023);
        assert_eq!(check(n, "1234", "123", NOW).unwrap().exp_month, 12);
        assert_eq!(check(n, "07/2031", "123", NOW).unwrap().exp_year, 2031);
    }

    #[test]
    fn cvc_checks() {
        let n = "4242424242424242";
        assert_eq!(
            check(n, "12/34", "12", NOW).unwrap_err().code,
            ErrorCode::InvalidCvc
        );
        assert_eq!(
            check(n, "12/34", "", NOW).unwrap_err().code,
            ErrorCode::InvalidCvc
        );
        assert_eq!(
            check(n, "12/34", "12a", NOW).unwrap_err().code,
            ErrorCode::InvalidCvc
        );
        assert_eq!(
            check("378282246310005", "12/34", "123", NOW)
                .unwrap_err()
                .code,
            ErrorCode::InvalidCvc
        );
    }
}
