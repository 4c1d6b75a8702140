//! Currencies: which ones exist, their minor units, Stripe's minimum charge, and how an
//! amount is shown on the payment page (`$29.00`, `¥500`).

/// Lowercase ISO-4217 codes Stripe settles in (a broad, not exhaustive, list).
const CURRENCIES: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf", "chf",
    "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb", "eur",
    "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg", "huf",
    "idr", "ils", "inr", "isk", "jmd", "jpy", "kes", "kgs", "khr", "kmf", "krw", "kyd", "kzt",
    "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop", "mur",
    "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr", "nzd", "pab", "pen",
    "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub", "rwf", "sar", "sbd", "scr",
    "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl", "thb", "tjs", "top", "try", "ttd",
    "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd", "vuv", "wst", "xaf", "xcd", "xof",
    "xpf", "yer", "zar", "zmw",
];

/// Currencies whose amounts are whole units (no cents).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Stripe's minimum charge per currency, in minor units; others use 50.
const MINIMUMS: &[(&str, i64)] = &[
    ("usd", 50),
    ("aed", 200),
    ("aud", 50),
    ("bgn", 100),
    ("brl", 50),
    ("cad", 50),
    ("chf", 50),
    ("czk", 1500),
    ("dkk", 250),
    ("eur", 50),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("inr", 50),
    ("jpy", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("nzd", 50),
    ("pln", 200),
    ("ron", 200),
    ("sek", 300),
    ("sgd", 50),
    ("thb", 1000),
];

const SYMBOLS: &[(&str, &str)] = &[
    ("usd", "$"),
    ("eur", "€"),
    ("gbp", "£"),
    ("jpy", "¥"),
    ("cad", "CA$"),
    ("aud", "A$"),
    ("nzd", "NZ$"),
    ("inr", "₹"),
    ("krw", "₩"),
    ("cny", "CN¥"),
    ("brl", "R$"),
    ("mxn", "MX$"),
    ("hkd", "HK$"),
    ("ils", "₪"),
    ("vnd", "₫"),
];

/// Lowercases and checks a currency code.
pub(crate) fn normalize(code: &str) -> Option<String> {
    let lower = code.to_ascii_lowercase();
    // Sorted (tested), so a binary search: every price a session creates asks.
    CURRENCIES
        .binary_search(&lower.as_str())
        .is_ok()
        .then_some(lower)
}

pub(crate) fn is_zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency)
}

pub(crate) fn minimum_charge(currency: &str) -> i64 {
    MINIMUMS
        .iter()
        .find(|(c, _)| *c == currency)
        .map_or(50, |(_, m)| *m)
}

/// `format_amount(2900, "usd") == "$29.00"`, `format_amount(500, "jpy") == "¥500"`,
/// `format_amount(123456, "sek") == "1,234.56 SEK"`.
pub(crate) fn format_amount(amount: i64, currency: &str) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    let number = if is_zero_decimal(currency) {
        group_thousands(abs)
    } else {
        format!("{}.{:02}", group_thousands(abs / 100), abs % 100)
    };
    match SYMBOLS.iter().find(|(c, _)| *c == currency) {
        Some((_, symbol)) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{number} {}", currency.to_ascii_uppercase()),
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_sorted_for_the_binary_search() {
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(normalize("USD").as_deref(), Some("usd"));
        assert_eq!(normalize("aed").as_deref(), Some("aed"));
        assert_eq!(normalize("zzz"), None);
    }

    #[test]
    fn formats_money_like_a_checkout_page() {
        assert_eq!(format_amount(2900, "usd"), "$29.00");
        assert_eq!(format_amount(5, "usd"), "$0.05");
        assert_eq!(format_amount(123_456_789, "usd"), "$1,234,567.89");
        assert_eq!(format_amount(500, "jpy"), "¥500");
        assert_eq!(format_amount(1999, "eur"), "€19.99");
        assert_eq!(format_amount(123_456, "sek"), "1,234.56 SEK");
    }

    #[test]
    fn currency_rules() {
        assert_eq!(normalize("USD").as_deref(), Some("usd"));
        assert_eq!(normalize("xyz"), None);
        assert_eq!(minimum_charge("usd"), 50);
        assert_eq!(minimum_charge("gbp"), 30);
        assert!(is_zero_decimal("jpy"));
    }
}
