//! API versions (contract §1.3): `YYYY-MM-DD` or `YYYY-MM-DD.<release>`, compared by date.

use std::fmt;

use super::error::ApiError;

/// A `Stripe-Version` value. Ordering is by date only (the release name is a label).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiVersion {
    date: (u16, u8, u8),
    /// Shared: every request and rendering carries a copy.
    text: std::sync::Arc<str>,
}

impl ApiVersion {
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let s = s.trim();
        let (date, release) = s.split_once('.').map_or((s, None), |(d, r)| (d, Some(r)));
        if let Some(r) = release
            && (r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return None;
        }
        let mut parts = date.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !(all_digits(y) && all_digits(m) && all_digits(d)) {
            return None;
        }
        let date = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        if !(1..=12).contains(&date.1) || !(1..=31).contains(&date.2) {
            return None;
        }
        Some(ApiVersion {
            date,
            text: s.into(),
        })
    }

    /// Parses the header value, answering 400 like Stripe for a malformed one.
    pub fn from_header(s: &str) -> Result<ApiVersion, ApiError> {
        ApiVersion::parse(s)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid Stripe API version: {s}")))
    }

    /// The `Stripe-Version` header of an answer at this version (no copy for the default
    /// version, which most answers carry).
    pub fn header_value(&self) -> http::HeaderValue {
        if &*self.text == DEFAULT_VERSION {
            return http::HeaderValue::from_static(DEFAULT_VERSION);
        }
        // Parsed versions are ASCII letters, digits, `-`, `.` and `_`.
        http::HeaderValue::from_str(&self.text)
            .unwrap_or_else(|_| http::HeaderValue::from_static(DEFAULT_VERSION))
    }

    /// True when this version is dated strictly before `y-m-d`.
    pub fn before(&self, y: u16, m: u8, d: u8) -> bool {
        self.date < (y, m, d)
    }
}

/// Stored (the data directory) as its text, read back through [`ApiVersion::parse`].
impl serde::Serialize for ApiVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for ApiVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ApiVersion::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an API version: {text:?}")))
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The version the mock behaves as when neither the request nor the object says otherwise:
/// the one async-stripe 1.0.0-rc.10 pins.
pub(crate) const DEFAULT_VERSION: &str = "2026-09-30.endive";

pub(crate) fn default_version() -> ApiVersion {
    ApiVersion::parse(DEFAULT_VERSION).expect("the default version is well formed")
}

/// 2022-08-01: legacy inline line items removed, PaymentIntent creation deferred.
pub(crate) fn allows_legacy_line_items(v: Option<&ApiVersion>) -> bool {
    v.is_none_or(|v| v.before(2022, 8, 1))
}

/// 2026-03-25.dahlia renamed `ui_mode` values (`hosted` → `hosted_page`, …).
pub(crate) fn uses_page_ui_modes(v: &ApiVersion) -> bool {
    !v.before(2026, 3, 25)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dated_and_named_versions() {
        let v = ApiVersion::parse("2026-09-30.endive").unwrap();
        assert_eq!(v.to_string(), "2026-09-30.endive");
        assert!(uses_page_ui_modes(&v));
        let old = ApiVersion::parse("2020-08-27").unwrap();
        assert!(old.before(2022, 8, 1));
        assert!(!uses_page_ui_modes(&old));
        assert!(ApiVersion::parse("2026-03-25.dahlia").is_some_and(|v| uses_page_ui_modes(&v)));
        assert!(ApiVersion::parse("2025-09-30.clover").is_some_and(|v| !uses_page_ui_modes(&v)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "latest",
            "2020-8-27",
            "2020-13-01",
            "2020-08-27.",
            "2020-08-27.a b",
            "2020-08-27-01",
        ] {
            assert!(ApiVersion::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            ApiVersion::from_header("nope").unwrap_err().message,
            "Invalid Stripe API version: nope"
        );
    }

    #[test]
    fn legacy_line_items_cutoff() {
        assert!(allows_legacy_line_items(None));
        assert!(allows_legacy_line_items(
            ApiVersion::parse("2022-07-31").as_ref()
        ));
        assert!(!allows_legacy_line_items(
            ApiVersion::parse("2022-08-01").as_ref()
        ));
    }
}
