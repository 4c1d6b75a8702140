//! One module per Stripe resource. Domain logic (create, validate, complete, expire) is in
//! plain functions over an [`Account`](crate::store::Account) that unit tests call
//! directly; the router only picks the function.

pub(crate) mod charges;
pub(crate) mod checkout_sessions;
pub(crate) mod coupons;
pub(crate) mod customers;
pub(crate) mod events;
pub(crate) mod expandable;
pub(crate) mod payment_intents;
pub(crate) mod payment_methods;
pub(crate) mod payment_pages;
pub(crate) mod prices;
pub(crate) mod products;
pub(crate) mod promotion_codes;
pub(crate) mod refunds;
pub(crate) mod search;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod webhook_endpoints;

use std::collections::BTreeMap;

use crate::protocol::{ApiError, ApiResult, Fields};

/// A closed set of values that Stripe spells as strings, stored as an enum (objects own
/// their data: no `&'static str` in stored state). [`string_enum!`] writes the impl.
pub(crate) trait StringEnum: Sized + Copy + 'static {
    /// Every spelling, in the order `Invalid …: must be one of …` lists them.
    const NAMES: &'static [&'static str];
    /// The value of a spelling in [`Self::NAMES`].
    fn parse(s: &str) -> Option<Self>;
}

/// Declares a [`StringEnum`]: `enum Name { Variant = "spelling", … }` gets
/// `Clone, Copy, Debug, PartialEq, Eq`, an `as_str()` for rendering JSON and the
/// `NAMES`/`parse` that [`one_of`] reads parameters with.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// The value as Stripe spells it.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl $crate::resources::StringEnum for $name {
            const NAMES: &'static [&'static str] = &[$($text),+];

            fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use string_enum;

/// [`Fields::one_of`] for a [`StringEnum`]: the same checks and error message, an owned
/// value.
pub(crate) fn one_of<T: StringEnum>(f: &mut Fields<'_>, key: &str) -> ApiResult<Option<T>> {
    Ok(f.one_of(key, T::NAMES)?
        .map(|s| T::parse(s).expect("one_of returns one of T::NAMES")))
}

/// An absolute `http`/`https` URL with a host, as Stripe requires for redirect and webhook
/// URLs. `{CHECKOUT_SESSION_ID}` is allowed anywhere (it is substituted later).
pub(crate) fn check_url(param: &str, value: &str) -> ApiResult<()> {
    let candidate = value.replace("{CHECKOUT_SESSION_ID}", "cs_test_x");
    match url::Url::parse(&candidate) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::url_invalid(param)),
    }
}

/// Stripe's metadata limits (contract §1.11): ≤ 50 keys, key ≤ 40 chars without brackets,
/// value ≤ 500 chars.
pub(crate) fn check_metadata(param: &str, metadata: &BTreeMap<String, String>) -> ApiResult<()> {
    if metadata.is_empty() {
        return Ok(());
    }
    if metadata.len() > 50 {
        return Err(ApiError::invalid(
            param,
            "Invalid metadata: metadata can have up to 50 keys.",
        ));
    }
    for (k, v) in metadata {
        let path = || format!("{param}[{k}]");
        if k.chars().count() > 40 || k.contains(['[', ']']) {
            return Err(ApiError::invalid(
                path(),
                "Invalid metadata: keys must be at most 40 characters and cannot contain '[' or ']'.",
            ));
        }
        if v.chars().count() > 500 {
            return Err(ApiError::invalid(
                path(),
                "Invalid metadata: values must be at most 500 characters.",
            ));
        }
    }
    Ok(())
}

/// A parameter that may be cleared: `None` when absent, `Some(None)` for `key=` (Stripe's
/// "unset"), `Some(Some(v))` otherwise.
pub(crate) fn clearable(f: &mut Fields<'_>, key: &str) -> ApiResult<Option<Option<String>>> {
    let present = f.has(key);
    let value = f.owned(key)?;
    Ok(present.then_some(value))
}

/// The request an event records as its cause (`event.request`).
pub(crate) fn event_request(ctx: &crate::protocol::RequestCtx) -> events::EventRequest {
    events::EventRequest {
        id: Some(ctx.request_id.clone()),
        idempotency_key: ctx.idempotency_key.clone(),
    }
}

/// A plausible email address (Stripe's own check is not published): `email_invalid`.
pub(crate) fn check_email(param: &str, email: &str) -> ApiResult<()> {
    let plausible = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !email.contains(char::is_whitespace)
        && email.len() <= 512;
    if plausible {
        Ok(())
    } else {
        Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("email_invalid"),
            format!("Invalid email address: {email}"),
        )
        .with_param(param))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(
            check_url(
                "success_url",
                "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}"
            )
            .is_ok()
        );
        assert!(check_url("success_url", "http://localhost:8000/ok").is_ok());
        for bad in [
            "shop.test/ok",
            "ftp://shop.test/",
            "https://",
            "not a url",
            "javascript:alert(1)",
        ] {
            let e = check_url("success_url", bad).unwrap_err();
            assert_eq!(e.code, Some("url_invalid"), "{bad}");
            assert_eq!(e.param.as_deref(), Some("success_url"));
        }
    }

    #[test]
    fn metadata_limits() {
        let many: BTreeMap<_, _> = (0..51).map(|i| (i.to_string(), "v".to_string())).collect();
        assert!(check_metadata("metadata", &many).is_err());
        let bad_key = BTreeMap::from([("x".repeat(41), "v".to_string())]);
        assert!(check_metadata("metadata", &bad_key).is_err());
        let ok = BTreeMap::from([("order_id".to_string(), "42".to_string())]);
        assert!(check_metadata("metadata", &ok).is_ok());
    }
}
