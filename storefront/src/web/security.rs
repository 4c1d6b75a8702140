//! What every answer carries or is held to, whatever route it comes from: security
//! headers, and the request body limit.

use poem::http::StatusCode;
use poem::http::header::{self, HeaderName, HeaderValue};
use poem::web::Json;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, handler};
use serde_json::json;

use super::MAX_BODY_BYTES;
use super::templates::error_page;

/// Pages load nothing but our stylesheet and https images: no script at all (inline or
/// not), no inline style, no plugins, no `<base>`, and no framing (clickjacking).
/// `form-action` is left out on purpose: the Buy form's answer redirects to Stripe's
/// Checkout page, and browsers apply `form-action` to that redirect too.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' https:; base-uri 'none'; frame-ancestors 'none'";

const HEADERS: [(HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    // For browsers that predate frame-ancestors.
    (header::X_FRAME_OPTIONS, "DENY"),
    // The return URL carries the Checkout Session id: never hand it to other sites.
    (header::REFERRER_POLICY, "same-origin"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// Sets the security headers on every answer, error pages included (it turns errors
/// into their responses first, so none slips past without them).
pub struct SecurityHeaders;

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        SecurityHeadersEndpoint(ep)
    }
}

pub struct SecurityHeadersEndpoint<E>(E);

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut response = self.0.get_response(req).await;
        let headers = response.headers_mut();
        for (name, value) in HEADERS {
            headers.insert(name, HeaderValue::from_static(value));
        }
        Ok(response)
    }
}

/// Refuses a request whose declared body exceeds [`MAX_BODY_BYTES`] with a 413 before
/// any handler runs, on every route (those that never read a body too). A body without a
/// length (chunked) is cut off at the same size by the handlers that read one
/// (`read_body`), also as a 413.
pub struct BodyLimit;

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint(ep)
    }
}

pub struct BodyLimitEndpoint<E>(E);

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        // hyper has already refused a malformed Content-Length with a 400.
        let declared = req
            .header(header::CONTENT_LENGTH)
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            tracing::warn!(
                declared,
                limit = MAX_BODY_BYTES,
                path = req.uri().path(),
                "request body too large"
            );
            return Ok(payload_too_large(req.uri().path()));
        }
        self.0.call(req).await.map(IntoResponse::into_response)
    }
}

/// The 413: JSON for the webhook (Stripe reads JSON), a page for browsers.
pub fn payload_too_large(path: &str) -> Response {
    let message = format!(
        "the request body is larger than this shop accepts ({} KB)",
        MAX_BODY_BYTES / 1024
    );
    if path.starts_with("/webhooks/") {
        Json(json!({ "error": message }))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .into_response()
    } else {
        error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
            &format!(
                "That request is larger than this shop accepts ({} KB).",
                MAX_BODY_BYTES / 1024
            ),
        )
    }
}

const STYLESHEET: &str = include_str!("../../static/shop.css");

/// `/static/shop.css`: the pages' only stylesheet (compiled in).
#[handler]
pub fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(STYLESHEET)
}
