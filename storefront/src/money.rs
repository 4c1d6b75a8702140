//! Money is kept as integer cents; this is the one place that turns it into text.

/// Formats an amount in cents as pages and receipts show it: `2900` → `$29.00`.
///
/// Only USD is sold (the seed's choice); another currency is shown with its code,
/// e.g. `12.50 EUR`, rather than with a wrong symbol.
pub fn format_cents(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let (units, rest) = (abs / 100, abs % 100);
    if currency.eq_ignore_ascii_case("usd") {
        format!("{sign}${units}.{rest:02}")
    } else {
        format!("{sign}{units}.{rest:02} {}", currency.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::format_cents;

    #[test]
    fn formats_usd_with_two_decimals() {
        assert_eq!(format_cents(2900, "usd"), "$29.00");
        assert_eq!(format_cents(1299, "usd"), "$12.99");
        assert_eq!(format_cents(500, "USD"), "$5.00");
        assert_eq!(format_cents(5, "usd"), "$0.05");
        assert_eq!(format_cents(0, "usd"), "$0.00");
        assert_eq!(format_cents(123456789, "usd"), "$1234567.89");
        assert_eq!(format_cents(-150, "usd"), "-$1.50");
        assert_eq!(format_cents(i64::MIN, "usd"), "-$92233720368547758.08");
    }

    #[test]
    fn other_currencies_show_their_code() {
        assert_eq!(format_cents(1250, "eur"), "12.50 EUR");
    }
}
