//! The HTTP server: hyper 1 accept loop with graceful shutdown, one spawned task per
//! request (a bug that panics answers 500 instead of dropping the connection), and the
//! headers every response carries.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::protocol::ApiError;
use crate::store::{GlobalTargets, Store};
use crate::webhooks::Deliverer;

pub(crate) type Resp = Response<Full<Bytes>>;

/// Shared by every request.
pub(crate) struct App {
    pub store: Store,
    pub globals: GlobalTargets,
    pub deliverer: Deliverer,
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    pub delivery_timeout: Duration,
}

/// How long shutdown waits for in-flight requests before closing their connections.
const GRACE: Duration = Duration::from_secs(5);

/// Accepts connections until `shutdown` turns true, then lets in-flight requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Usually too many open files: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = service_fn(move |req| handle(app.clone(), req));
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection closed with error: {e}");
                    }
                });
            }
            _ = crate::stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still busy after {GRACE:?}; closing them");
    }
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let request_id = crate::ids::request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let rid = request_id.clone();
    let mut resp =
        match tokio::spawn(async move { crate::router::route(&app, req, &rid).await }).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(request_id = %request_id, "{method} {path} failed: {e}");
                json_error(&ApiError::internal(
                    "An unexpected error occurred in mock-stripe. See its log.",
                ))
            }
        };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    tracing::debug!(request_id = %request_id, "{method} {path} -> {}", resp.status().as_u16());
    Ok(resp)
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    resp
}

pub(crate) fn json_error(e: &ApiError) -> Resp {
    let mut resp = json_response(e.status, e.body());
    if e.status.is_server_error() {
        // The mock's 5xx come from its own bugs, and it does not replay
        // idempotency keys yet: an SDK retrying (Node retries 5xx twice by
        // default) could apply a POST twice. The SDKs obey this header first.
        resp.headers_mut()
            .insert("stripe-should-retry", HeaderValue::from_static("false"));
    }
    resp
}

pub(crate) fn html_response(status: StatusCode, body: String, location: Option<&str>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    // Header values must be visible ASCII: escape spaces, controls and non-ASCII.
    const ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ');
    if let Some(loc) = location.and_then(|l| {
        HeaderValue::from_str(&percent_encoding::utf8_percent_encode(l, ESCAPE).to_string()).ok()
    }) {
        h.insert(http::header::LOCATION, loc);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_tell_sdks_not_to_retry_and_client_errors_say_nothing() {
        let internal = json_error(&ApiError::internal("boom"));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            internal.headers().get("stripe-should-retry").unwrap(),
            "false"
        );
        let missing = json_error(&ApiError::missing("success_url"));
        assert!(missing.headers().get("stripe-should-retry").is_none());
    }
}
