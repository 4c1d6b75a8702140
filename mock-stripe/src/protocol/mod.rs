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
    /// The rest of the body, sent after `body` as they are: the elements of a list
    /// ([`list::assemble`]). Empty for everything else.
    pub more: Vec<bytes::Bytes>,
}

impl Reply {
    /// A 200 answering `body`, JSON already rendered.
    pub fn ok(body: bytes::Bytes) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
            more: Vec::new(),
        }
    }

    pub fn json<T: Serialize + ?Sized>(value: &T) -> ApiResult<Reply> {
        Ok(Reply::ok(to_json(value)?.into()))
    }

    /// The whole body in one buffer.
    #[cfg(test)]
    pub fn whole(&self) -> Vec<u8> {
        [&[self.body.clone()][..], &self.more].concat().concat()
    }
}

/// Pretty-printed like Stripe's own responses (2-space indent).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> ApiResult<Vec<u8>> {
    // Most objects render to 1–4 KB: starting there saves the copies of growing from
    // serde_json's 128 bytes.
    let mut out = Vec::with_capacity(4096);
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(|e| ApiError::internal(format!("could not render JSON: {e}")))?;
    Ok(out)
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
