//! Delayed-notification payment methods (contract §2.3, §5.4): SEPA Direct Debit and US
//! bank accounts (ACH). Submitting one completes the Checkout Session with
//! `payment_status=unpaid`; the debit settles or fails later, on the account's clock.
//!
//! Stripe's test account numbers choose the outcome; any other well-formed account
//! succeeds, as a real account with funds would.

use crate::cards::{CardError, CardErrorSpec, ErrorCode};

/// Which kind of bank debit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum BankKind {
    SepaDebit,
    UsBankAccount,
}

impl BankKind {
    /// The payment method type, as in `payment_method_types`.
    pub fn as_str(self) -> &'static str {
        match self {
            BankKind::SepaDebit => "sepa_debit",
            BankKind::UsBankAccount => "us_bank_account",
        }
    }

    pub fn parse(s: &str) -> Option<BankKind> {
        match s {
            "sepa_debit" => Some(BankKind::SepaDebit),
            "us_bank_account" => Some(BankKind::UsBankAccount),
            _ => None,
        }
    }

    /// The currency the method debits in.
    pub fn currency(self) -> &'static str {
        match self {
            BankKind::SepaDebit => "eur",
            BankKind::UsBankAccount => "usd",
        }
    }

    /// A test account that settles (`true`) or fails, for headless completion.
    pub fn test_account(self, succeeds: bool) -> BankAccount {
        let (a, b) = match (self, succeeds) {
            (BankKind::SepaDebit, true) => ("AT611904300234573201", ""),
            (BankKind::SepaDebit, false) => ("AT861904300235473202", ""),
            (BankKind::UsBankAccount, true) => ("110000000", "000123456789"),
            (BankKind::UsBankAccount, false) => ("110000000", "000111111116"),
        };
        match self {
            BankKind::SepaDebit => check_iban(a),
            BankKind::UsBankAccount => check_us_account(a, b),
        }
        .expect("the test accounts are well formed")
    }
}

/// A bank account the payer entered, checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct BankAccount {
    pub kind: BankKind,
    pub last4: String,
    /// SEPA: the IBAN's country; US: `US`.
    pub country: String,
    /// SEPA: the bank code inside the IBAN; US: the routing number.
    pub bank_code: String,
    /// How the debit ends: `None` settles, `Some` fails with this error.
    pub failure: Option<CardError>,
}

fn input_error(code: ErrorCode, message: &'static str) -> CardError {
    CardError::new(code, message)
}

const NOT_AUTHORIZED: CardErrorSpec = CardErrorSpec {
    code: ErrorCode::DebitNotAuthorized,
    decline_code: None,
    message: "The customer's bank did not authorize this debit.",
};

/// Stripe's SEPA test IBANs that fail (contract §5.4).
const FAILING_IBANS: &[&str] = &["AT861904300235473202"];

/// Stripe's ACH test account numbers that fail, with the failure each gives.
const FAILING_US_ACCOUNTS: &[(&str, CardErrorSpec)] = &[
    (
        "000111111116",
        CardErrorSpec {
            code: ErrorCode::NoAccount,
            decline_code: None,
            message: "The customer's bank account could not be located.",
        },
    ),
    (
        "000111111113",
        CardErrorSpec {
            code: ErrorCode::AccountClosed,
            decline_code: None,
            message: "The customer's bank account has been closed.",
        },
    ),
    (
        "000222222227",
        CardErrorSpec {
            code: ErrorCode::InsufficientFunds,
            decline_code: None,
            message: "The customer's account has insufficient funds to cover this payment.",
        },
    ),
];

/// An IBAN: country, check digits, then the account; the ISO 13616 mod-97 check.
pub(crate) fn check_iban(input: &str) -> Result<BankAccount, CardError> {
    let iban: String = input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if iban.is_empty() {
        return Err(input_error(
            ErrorCode::IncompleteIban,
            "Your IBAN is incomplete.",
        ));
    }
    let well_formed = (15..=34).contains(&iban.len())
        && iban.bytes().all(|b| b.is_ascii_alphanumeric())
        && iban.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
        && iban.as_bytes()[2..4].iter().all(u8::is_ascii_digit);
    if !well_formed || !iban_checksum_ok(&iban) {
        return Err(input_error(ErrorCode::InvalidIban, "Your IBAN is invalid."));
    }
    Ok(BankAccount {
        kind: BankKind::SepaDebit,
        last4: iban[iban.len() - 4..].to_string(),
        country: iban[..2].to_string(),
        bank_code: iban[4..9.min(iban.len())].to_string(),
        failure: FAILING_IBANS
            .contains(&iban.as_str())
            .then(|| NOT_AUTHORIZED.into()),
    })
}

fn iban_checksum_ok(iban: &str) -> bool {
    // Move the first four characters to the end, letters to numbers (A=10…), mod 97 == 1.
    let rearranged = iban[4..].bytes().chain(iban[..4].bytes());
    let mut rem: u32 = 0;
    for b in rearranged {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// A US routing number (9 digits, ABA checksum) and an account number (4 to 17 digits).
pub(crate) fn check_us_account(routing: &str, account: &str) -> Result<BankAccount, CardError> {
    let routing = routing.trim();
    let account = account.trim();
    if routing.is_empty() || account.is_empty() {
        return Err(input_error(
            ErrorCode::IncompleteBankAccount,
            "Your bank account details are incomplete.",
        ));
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if routing.len() != 9 || !digits(routing) || !aba_checksum_ok(routing) {
        return Err(input_error(
            ErrorCode::InvalidRoutingNumber,
            "Your routing number is invalid.",
        ));
    }
    if !(4..=17).contains(&account.len()) || !digits(account) {
        return Err(input_error(
            ErrorCode::InvalidAccountNumber,
            "Your account number is invalid.",
        ));
    }
    Ok(BankAccount {
        kind: BankKind::UsBankAccount,
        last4: account[account.len() - 4..].to_string(),
        country: "US".into(),
        bank_code: routing.to_string(),
        failure: FAILING_US_ACCOUNTS
            .iter()
            .find(|(n, _)| *n == account)
            .map(|(_, e)| (*e).into()),
    })
}

fn aba_checksum_ok(routing: &str) -> bool {
    let d: Vec<u32> = routing.bytes().map(|b| u32::from(b - b'0')).collect();
    (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])).is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_test_ibans_choose_the_outcome() {
        let ok = check_iban("AT61 1904 3002 3457 3201").unwrap();
        assert_eq!((ok.last4.as_str(), ok.country.as_str()), ("3201", "AT"));
        assert!(ok.failure.is_none());
        let fails = check_iban("AT861904300235473202").unwrap();
        assert_eq!(fails.failure.unwrap().code, ErrorCode::DebitNotAuthorized);
        assert!(
            check_iban("DE89370400440532013000")
                .unwrap()
                .failure
                .is_none()
        );
    }

    #[test]
    fn malformed_ibans_are_refused() {
        assert_eq!(check_iban("").unwrap_err().code, ErrorCode::IncompleteIban);
        for bad in [
            "AT611904300234573202x",
            "AT611904300234573200",
            "1234",
            "ATXX1904300234573201",
        ] {
            assert_eq!(
                check_iban(bad).unwrap_err().code,
                ErrorCode::InvalidIban,
                "{bad}"
            );
        }
    }

    #[test]
    fn us_test_accounts_choose_the_outcome() {
        assert!(
            check_us_account("110000000", "000123456789")
                .unwrap()
                .failure
                .is_none()
        );
        let e = check_us_account("110000000", "000222222227")
            .unwrap()
            .failure
            .unwrap();
        assert_eq!(e.code, ErrorCode::InsufficientFunds);
        assert_eq!(
            check_us_account("110000001", "000123456789")
                .unwrap_err()
                .code,
            ErrorCode::InvalidRoutingNumber
        );
        assert_eq!(
            check_us_account("110000000", "12").unwrap_err().code,
            ErrorCode::InvalidAccountNumber
        );
        assert_eq!(
            check_us_account("", "").unwrap_err().code,
            ErrorCode::IncompleteBankAccount
        );
    }

    #[test]
    fn headless_test_accounts_exist_for_both_outcomes() {
        for kind in [BankKind::SepaDebit, BankKind::UsBankAccount] {
            assert!(kind.test_account(true).failure.is_none());
            assert!(kind.test_account(false).failure.is_some());
        }
    }
}
