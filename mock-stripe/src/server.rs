//! The HTTP server: a hyper 1 accept loop with graceful shutdown that knows no routes. It
//! serves any [`Handler`]; each request runs in its own task, so a bug that panics answers
//! the handler's error page instead of dropping the connection.

use std::future::Future;
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

pub(crate) type Resp = Response<Full<Bytes>>;

/// A handler's decision to close the connection without answering (a lost response, or
/// an injected network fault).
#[derive(Debug)]
pub(crate) struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed without an answer")
    }
}

impl std::error::Error for CloseConnection {}

/// What the server serves.
pub(crate) trait Handler: Send + Sync + 'static {
    fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Result<Resp, CloseConnection>> + Send;

    /// The answer when handling a request panicked.
    fn panicked(&self) -> Resp;
}

/// How long shutdown waits for in-flight requests before closing their connections.
const GRACE: Duration = Duration::from_secs(5);

/// Accepts connections until `shutdown` turns true, then lets in-flight requests finish.
pub(crate) async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
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
                let handler = handler.clone();
                let service = service_fn(move |req| isolate(handler.clone(), req));
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

/// Runs one request in its own task: a panic becomes the handler's error answer.
async fn isolate<H: Handler>(
    handler: Arc<H>,
    req: Request<Incoming>,
) -> Result<Resp, CloseConnection> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let h = handler.clone();
    match tokio::spawn(async move { h.handle(req).await }).await {
        Ok(result) => result,
        Err(e) => {
            tracing::error!("{method} {path} failed: {e}");
            Ok(handler.panicked())
        }
    }
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
    json_response(e.status, e.body())
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
