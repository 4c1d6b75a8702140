//! API keys (contract §1.2): `Authorization: Bearer <key>` or HTTP Basic with the key as the
//! user name. Only test-mode secret (`sk_test_`) and restricted (`rk_test_`) keys are
//! accepted: the mock is test-only, so live keys are refused rather than half-emulated.

use base64::Engine as _;

use super::error::ApiError;

const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the \
    Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). \
    See https://stripe.com/docs/api#authentication for details, or we can help at \
    https://support.stripe.com/.";

const PUBLISHABLE: &str = "This API call cannot be made with a publishable API key. Please use \
    a secret API key. You can find a list of your API keys at \
    https://dashboard.stripe.com/account/apikeys.";

/// Returns the API key of the request, or the 401 Stripe would answer.
pub(crate) fn authenticate(authorization: Option<&[u8]>) -> Result<String, ApiError> {
    let key = extract_key(authorization)?;
    check_key(&key)?;
    Ok(key)
}

fn extract_key(authorization: Option<&[u8]>) -> Result<String, ApiError> {
    let no_key = || ApiError::unauthorized(None, NO_KEY);
    let Some(raw) = authorization else {
        return Err(no_key());
    };
    let header = std::str::from_utf8(raw)
        .map_err(|_| invalid_key(""))?
        .trim();
    if header.is_empty() {
        return Err(no_key());
    }
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let rest = rest.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| invalid_key(rest))?;
        let text = String::from_utf8(decoded).map_err(|_| invalid_key(rest))?;
        // The key is the user name; the password (normally empty) is ignored.
        text.split_once(':')
            .map_or(text.as_str(), |(user, _)| user)
            .to_string()
    } else {
        // A bare key without a scheme: Stripe does not accept it either.
        return Err(invalid_key(header));
    };
    if key.is_empty() {
        return Err(no_key());
    }
    Ok(key)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.starts_with("pk_") {
        return Err(ApiError::unauthorized(
            Some("secret_key_required"),
            PUBLISHABLE,
        ));
    }
    if key.starts_with("sk_live_") || key.starts_with("rk_live_") {
        return Err(ApiError::unauthorized(
            None,
            format!(
                "Invalid API Key provided: {}. mock-stripe only runs in test mode: use a key \
                 that starts with sk_test_ or rk_test_.",
                mask_key(key)
            ),
        ));
    }
    let suffix = key
        .strip_prefix("sk_test_")
        .or_else(|| key.strip_prefix("rk_test_"));
    let well_formed = suffix.is_some_and(|s| {
        !s.is_empty() && s.len() <= 247 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if well_formed {
        Ok(())
    } else {
        Err(invalid_key(key))
    }
}

/// The longest `Stripe-Account` value accepted (Stripe's ids stay far below).
const MAX_ACCOUNT_ID: usize = 255;

/// The `Stripe-Account` header (Connect): `None` when absent or empty, the `acct_…` id when
/// well formed, else the 403 `account_invalid` Stripe answers for an account the key
/// cannot reach. Any well-formed id is a connected account of the key (made on first use).
pub(crate) fn connected_account(
    header: Option<&[u8]>,
    key: &str,
) -> Result<Option<String>, ApiError> {
    let Some(raw) = header else {
        return Ok(None);
    };
    let value = String::from_utf8_lossy(raw).trim().to_string();
    if value.is_empty() {
        return Ok(None);
    }
    let well_formed = value.len() <= MAX_ACCOUNT_ID
        && value
            .strip_prefix("acct_")
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if well_formed {
        return Ok(Some(value));
    }
    let shown: String = value.chars().take(MAX_ACCOUNT_ID).collect();
    Err(ApiError::new(
        http::StatusCode::FORBIDDEN,
        Some("account_invalid"),
        format!(
            "The provided key '{}' does not have access to account '{shown}' (or that account \
             does not exist). Application access may have been revoked.",
            mask_key(key)
        ),
    ))
}

/// The longest prefix [`mask_key`] shows (`sk_test_`, `whsec_`, `hello_world_`).
const MAX_SHOWN_PREFIX: usize = 12;

fn invalid_key(key: &str) -> ApiError {
    ApiError::unauthorized(None, format!("Invalid API Key provided: {}", mask_key(key)))
}

/// `sk_test_****abcd`: the prefix (up to the second `_`) and the last 4 characters, never more.
/// Used for every secret that may reach a log or an error message (API keys, `whsec_` secrets).
/// A prefix is shown only when it looks like one (at most [`MAX_SHOWN_PREFIX`] bytes of
/// lowercase letters and `_`): a garbage "key" whose first `_` comes late is not echoed.
pub fn mask_key(key: &str) -> String {
    let prefix_len = key
        .char_indices()
        .filter(|(_, c)| *c == '_')
        .nth(1)
        .or_else(|| key.char_indices().find(|(_, c)| *c == '_'))
        .map_or(0, |(i, _)| i + 1);
    let looks_like_a_prefix = prefix_len <= MAX_SHOWN_PREFIX
        && key[..prefix_len]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_');
    let prefix_len = if looks_like_a_prefix { prefix_len } else { 0 };
    let prefix = &key[..prefix_len];
    let rest: Vec<char> = key[prefix_len..].chars().collect();
    if rest.len() <= 4 {
        return format!("{prefix}****");
    }
    let last4: String = rest[rest.len() - 4..].iter().collect();
    format!("{prefix}****{last4}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn basic(user_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    #[test]
    fn accepts_bearer_and_basic_test_keys() {
        assert_eq!(
            authenticate(Some(b"Bearer sk_test_abc123")).unwrap(),
            "sk_test_abc123"
        );
        assert_eq!(
            authenticate(Some(b"bearer rk_test_XYZ")).unwrap(),
            "rk_test_XYZ"
        );
        let h = basic("sk_test_abc123:");
        assert_eq!(authenticate(Some(h.as_bytes())).unwrap(), "sk_test_abc123");
        let h = basic("sk_test_abc123:ignored-password");
        assert_eq!(authenticate(Some(h.as_bytes())).unwrap(), "sk_test_abc123");
    }

    #[test]
    fn missing_key_is_401_with_stripe_message() {
        for header in [
            None,
            Some(&b""[..]),
            Some(&b"Bearer "[..]),
            Some(&b"Bearer"[..]),
        ] {
            let err = authenticate(header).unwrap_err();
            assert_eq!(err.status, StatusCode::UNAUTHORIZED);
            assert!(
                err.message.starts_with("You did not provide an API key."),
                "{header:?}"
            );
        }
    }

    #[test]
    fn malformed_keys_are_401_and_masked() {
        let err = authenticate(Some(b"Bearer sk_test_nope!abcd")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert_eq!(err.message, "Invalid API Key provided: sk_test_****abcd");
        let err = authenticate(Some(b"Bearer sk_test_")).unwrap_err();
        assert_eq!(err.message, "Invalid API Key provided: sk_test_****");
        let err = authenticate(Some(b"Token sk_test_abc")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        let err = authenticate(Some(b"Bearer hello_world_secret")).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid API Key provided: hello_world_****cret"
        );
    }

    #[test]
    fn publishable_key_needs_secret_key() {
        let err = authenticate(Some(b"Bearer pk_test_123")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert_eq!(err.code, Some("secret_key_required"));
        assert!(
            err.message
                .starts_with("This API call cannot be made with a publishable API key.")
        );
    }

    #[test]
    fn live_keys_are_refused() {
        let err = authenticate(Some(b"Bearer sk_live_51Habcdefgh1234")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(
            err.message
                .starts_with("Invalid API Key provided: sk_live_****1234.")
        );
        assert!(!err.message.contains("51Habcdefgh"));
    }

    #[test]
    fn stripe_account_must_be_an_account_id() {
        let key = "sk_test_platform1234";
        assert_eq!(connected_account(None, key).unwrap(), None);
        assert_eq!(connected_account(Some(b"  "), key).unwrap(), None);
        assert_eq!(
            connected_account(Some(b"acct_1Seller"), key)
                .unwrap()
                .as_deref(),
            Some("acct_1Seller")
        );
        let long = format!("acct_{}", "a".repeat(300));
        for bad in ["cus_123", "acct_", "acct_x y", "acct_1;drop", long.as_str()] {
            let e = connected_account(Some(bad.as_bytes()), key).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (403, Some("account_invalid")),
                "{bad}"
            );
            assert!(e.message.starts_with(
                "The provided key 'sk_test_****1234' does not have access to account"
            ));
            assert!(e.message.len() < 600);
        }
    }

    #[test]
    fn mask_shows_prefix_and_last_four_only() {
        assert_eq!(
            mask_key("sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
            "sk_test_****p7dc"
        );
        assert_eq!(mask_key("whsec_abcdefgh1234"), "whsec_****1234");
        assert_eq!(mask_key("abc"), "****");
        // Found by the fuzzer (protocol/fuzz.rs): a "prefix" is everything up to the first
        // `_`, which for a garbage key was most of it (`Σଵa!𐞀A_` came back whole).
        assert_eq!(mask_key("Σଵa!𐞀A_"), "****!𐞀A_");
        assert_eq!(mask_key("mysecretpassword_x"), "****rd_x");
        assert_eq!(mask_key("Secret_value_12345"), "****2345");
    }
}
