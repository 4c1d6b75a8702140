//! Random object ids with Stripe's prefixes (contract §1.11). Ids are opaque to clients;
//! lengths roughly follow what real ones look like.

use rand::Rng;
use rand::distr::Alphanumeric;

fn random_alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// `prefix` followed by `len` random ASCII letters and digits.
pub(crate) fn new_id(prefix: &str, len: usize) -> String {
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    id.push_str(&random_alnum(len));
    id
}

/// `cs_test_` + 58 characters, about as long as real session ids (≈ 66 chars).
pub(crate) fn session_id() -> String {
    new_id("cs_test_", 58)
}

/// `req_` + 14 characters, like `req_7qTbBITXPt3pCH`.
pub(crate) fn request_id() -> String {
    new_id("req_", 14)
}

/// `whsec_` + 32 characters.
pub(crate) fn webhook_secret() -> String {
    new_id("whsec_", 32)
}

/// Prefixes of the other objects, each followed by 24 characters.
pub(crate) mod prefix {
    pub const PAYMENT_INTENT: &str = "pi_";
    pub const CHARGE: &str = "ch_";
    pub const EVENT: &str = "evt_";
    pub const WEBHOOK_ENDPOINT: &str = "we_";
    pub const LINE_ITEM: &str = "li_";
    pub const PRICE: &str = "price_";
    pub const PRODUCT: &str = "prod_";
    pub const PAYMENT_METHOD: &str = "pm_";
}

pub(crate) fn object_id(prefix: &str) -> String {
    new_id(prefix, 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let cs = session_id();
        assert!(cs.starts_with("cs_test_"));
        assert_eq!(cs.len(), 66);
        assert!(cs[8..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(request_id().len(), 18);
        assert!(object_id(prefix::EVENT).starts_with("evt_"));
        assert_ne!(session_id(), session_id());
    }
}
