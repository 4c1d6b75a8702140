//! The protocol layer every `/v1` resource goes through: form decoding, API keys, versions,
//! errors, pagination, expansion and the JSON reply. Resource modules only say what their
//! parameters are and what happens.

pub(crate) mod auth;
pub(crate) mod error;
pub(crate) mod expand;
pub(crate) mod form;
#[cfg(test)]
mod fuzz;
pub(crate) mod idempotency;
pub(crate) mod list;
pub(crate) mod render_cache;
pub(crate) mod search;
pub(crate) mod version;
pub(crate) mod wildcard;

use std::cell::RefCell;

use http::StatusCode;
use serde::Serialize;

pub(crate) use error::{ApiError, ApiResult};
pub(crate) use form::{Fields, Params};
use version::ApiVersion;

/// What is known about a request before any resource looks at it.
#[derive(Clone, Debug)]
pub(crate) struct RequestCtx {
    pub request_id: String,
    /// The version this request runs at: its `Stripe-Version`, else the account's default.
    /// The router always resolves it; `None` (unit tests) means the account's default,
    /// see [`RequestCtx::version_for`].
    pub version: Option<ApiVersion>,
    pub idempotency_key: Option<String>,
}

impl RequestCtx {
    /// The version the request runs at on `account` (its own, else the account's default).
    pub fn version_for(&self, account: &crate::store::Account) -> ApiVersion {
        self.version
            .clone()
            .unwrap_or_else(|| account.api_version().clone())
    }
}

/// A successful JSON answer.
pub(crate) struct Reply {
    pub status: StatusCode,
    /// Shared, not copied, with the idempotency store and the render cache.
    pub body: bytes::Bytes,
}

impl Reply {
    /// A 200 answering `body`, JSON already rendered.
    pub fn ok(body: bytes::Bytes) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
        }
    }

    pub fn json<T: Serialize + ?Sized>(value: &T) -> ApiResult<Reply> {
        Ok(Reply::ok(to_json(value)?.into()))
    }
}

/// Pretty-printed like Stripe's own responses (2-space indent), in a buffer of exactly its
/// size.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> ApiResult<Vec<u8>> {
    // Rendered into a buffer the thread keeps, then copied out at its size. Rendering into
    // a fresh 4 KB buffer (to spare the copies of growing from serde_json's 128 bytes) left
    // what is kept, a saved idempotent answer or a cached one, holding 4 KB for a 2.3 KB
    // session or a 0.7 KB customer, beyond what the key store's byte bound counts.
    let render = |out: &mut Vec<u8>| {
        serde_json::to_writer_pretty(&mut *out, value)
            .map_err(|e| ApiError::internal(format!("could not render JSON: {e}")))
    };
    SCRATCH.with(|scratch| {
        let Ok(mut buf) = scratch.try_borrow_mut() else {
            // A value whose serialisation renders another (not done today).
            let mut out = Vec::new();
            render(&mut out)?;
            return Ok(out);
        };
        buf.clear();
        let rendered = render(&mut buf).map(|()| buf.to_vec());
        if buf.capacity() > SCRATCH_KEPT {
            // One huge answer (a page of 100 expanded objects) must not stay with the thread.
            *buf = Vec::with_capacity(SCRATCH_KEPT);
        }
        rendered
    })
}

/// What [`to_json`]'s buffer keeps between answers: the largest single object's JSON and
/// more.
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(SCRATCH_KEPT));
}

/// Reads `expand[]`, allowing only the given paths (exactly as written, `data.` included on
/// lists). Errors are Stripe's: more than 4 levels is `property_expansion_max_depth`; a path
/// allowed only with `data.` says so. For nested paths through other resources, see the
/// schema-based `resources::expandable`.
pub(crate) fn read_expand(
    f: &mut Fields<'_>,
    allowed: &[&'static str],
) -> ApiResult<Vec<&'static str>> {
    let Some(paths) = f.string_list("expand")? else {
        return Ok(Vec::new());
    };
    paths
        .iter()
        .map(|p| {
            if p.split('.').count() > expand::MAX_DEPTH {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    Some("property_expansion_max_depth"),
                    format!(
                        "You cannot expand more than {} levels of a property. Property: {p}",
                        expand::MAX_DEPTH
                    ),
                )
                .with_param("expand"));
            }
            allowed
                .iter()
                .find(|a| **a == p.as_str())
                .copied()
                .ok_or_else(|| {
                    let hint = format!("data.{p}");
                    let message = if allowed.contains(&hint.as_str()) {
                        format!(
                            "This property cannot be expanded ({p}). You may want to try expanding '{hint}' instead."
                        )
                    } else {
                        format!("This property cannot be expanded ({p}).")
                    };
                    ApiError::invalid("expand", message)
                })
        })
        .collect()
}

/// `created=<ts>` or `created[gt|gte|lt|lte]=<ts>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RangeFilter {
    gt: Option<i64>,
    gte: Option<i64>,
    lt: Option<i64>,
    lte: Option<i64>,
}

impl RangeFilter {
    pub fn read(f: &mut Fields<'_>, key: &str) -> ApiResult<RangeFilter> {
        if !matches!(f.peek(key), Some(form::Value::Map(_))) {
            let exact = f.int(key)?;
            return Ok(RangeFilter {
                gte: exact,
                lte: exact,
                ..Default::default()
            });
        }
        let Some(mut o) = f.object(key)? else {
            return Ok(RangeFilter::default());
        };
        let r = RangeFilter {
            gt: o.int("gt")?,
            gte: o.int("gte")?,
            lt: o.int("lt")?,
            lte: o.int("lte")?,
        };
        o.finish()?;
        Ok(r)
    }

    pub fn matches(&self, t: i64) -> bool {
        self.gt.is_none_or(|v| t > v)
            && self.gte.is_none_or(|v| t >= v)
            && self.lt.is_none_or(|v| t < v)
            && self.lte.is_none_or(|v| t <= v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_pretty_printed_in_a_buffer_of_its_size() {
        let v = serde_json::json!({"id": "cus_1", "metadata": {"a": "b"}, "list": [1, 2]});
        for _ in 0..3 {
            let out = to_json(&v).unwrap();
            assert_eq!(out, serde_json::to_vec_pretty(&v).unwrap());
            assert_eq!(out.capacity(), out.len(), "nothing held beyond the JSON");
        }
        // A huge answer is right, and the thread does not keep its buffer.
        let big = serde_json::json!({ "data": vec!["x".repeat(1000); 200] });
        assert_eq!(
            to_json(&big).unwrap(),
            serde_json::to_vec_pretty(&big).unwrap()
        );
        assert!(SCRATCH.with(|s| s.borrow().capacity()) <= SCRATCH_KEPT);
    }

    #[test]
    fn a_value_that_renders_another_while_rendering_still_renders() {
        struct Outer;
        impl Serialize for Outer {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let inner = to_json(&serde_json::json!({"inner": true})).unwrap();
                s.serialize_str(&String::from_utf8(inner).unwrap())
            }
        }
        let out = to_json(&Outer).unwrap();
        assert_eq!(out, serde_json::to_vec_pretty(&Outer).unwrap());
    }
}
