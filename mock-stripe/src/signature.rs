//! Webhook signatures (contract §3.4): `Stripe-Signature: t=<unix>,v1=<hex>`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Signs a webhook body the way Stripe does and returns the `Stripe-Signature` header value.
///
/// `v1` is the lowercase hex HMAC-SHA256 of `"{timestamp}." + body`, keyed with the whole
/// secret string, `whsec_` prefix included (it is not base64-decoded). No spaces.
///
/// ```
/// let header = mock_stripe::signature::sign(
///     "whsec_test_secret_for_fake_stripe_0123456789",
///     1_700_000_000,
///     br#"{"id":"evt_test_123","object":"event","type":"checkout.session.completed"}"#,
/// );
/// assert_eq!(
///     header,
///     "t=1700000000,v1=b3dc91ca32ed29a5d2e688a58216e19d45c8e1e5b20434a759aa6c94de1da275"
/// );
/// ```
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret_for_fake_stripe_0123456789";
    const T: i64 = 1_700_000_000;
    const BODY1: &[u8] =
        br#"{"id":"evt_test_123","object":"event","type":"checkout.session.completed"}"#;

    fn v1(header: &str) -> &str {
        header.split_once(",v1=").unwrap().1
    }

    #[test]
    fn vector_1_exact_header() {
        assert_eq!(BODY1.len(), 74);
        assert_eq!(
            sign(SECRET, T, BODY1),
            "t=1700000000,v1=b3dc91ca32ed29a5d2e688a58216e19d45c8e1e5b20434a759aa6c94de1da275"
        );
    }

    #[test]
    fn vector_2_non_ascii_body() {
        let body = "{\"name\":\"café\"}".as_bytes();
        assert_eq!(hex::encode(body), "7b226e616d65223a22636166c3a9227d");
        assert_eq!(
            v1(&sign(SECRET, T, body)),
            "d35961ea33d3627fa0b027e635d9676f6ccfe24376e80fb8851a7b6083f8873a"
        );
    }

    #[test]
    fn vector_3_old_secret() {
        assert_eq!(
            v1(&sign("whsec_old_secret_abcdef", T, BODY1)),
            "6374cd502c4326ee2b2396956fcf8e7141d283126d2e22d6dc2a36a6d8fb42d7"
        );
    }

    #[test]
    fn negative_control_key_without_prefix_differs() {
        let without = SECRET.strip_prefix("whsec_").unwrap();
        assert_eq!(
            v1(&sign(without, T, BODY1)),
            "9b3999aff4a8d9f5644058e983be03c81d169c577fb09b7fbaaeb2a71432b681"
        );
        assert_ne!(sign(without, T, BODY1), sign(SECRET, T, BODY1));
    }

    #[test]
    fn header_has_no_spaces_and_changes_with_timestamp() {
        let a = sign(SECRET, T, BODY1);
        assert!(!a.contains(' '));
        assert_ne!(v1(&a), v1(&sign(SECRET, T + 1, BODY1)));
    }
}
