//! The HTTP server: a hyper 1 accept loop with graceful shutdown that knows no routes. It
//! serves any [`Handler`]; each request runs in its own task, so a bug that panics answers
//! the handler's error page instead of dropping the connection.
//!
//! What one client may take (see [`Limits`]): at most [`MAX_HEADERS`] header lines and
//! [`MAX_HEAD_BYTES`] of request line and headers (hyper answers 431 and closes); the head
//! within `header_read_timeout` (also how long an idle keep-alive connection stays open;
//! checked every quarter of it, at most every second, see `head_deadlines`);
//! the body within `body_read_timeout` (a 408, see [`body_read_timeout`]); and
//! `max_connections` connections at once: beyond that, a new connection is answered a
//! Stripe-shaped 503 with `Stripe-Should-Retry` and closed, and once [`MAX_TURNED_AWAY`]
//! of those are pending, further ones are closed unanswered.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::protocol::ApiError;

mod head_deadlines;

use head_deadlines::HeadDeadlines;

pub(crate) type Resp = Response<Body>;

/// A response body: one buffer, already whole (a list copies its elements' kept JSON into
/// it, see [`ListWriter`](crate::protocol::list::ListWriter)).
pub(crate) type Body = http_body_util::Full<Bytes>;

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

    /// Whether `req` may run in its connection's task: only when dropping it at any
    /// `.await` (the client hung up) leaves no change half made. Others run in a task of
    /// their own, to their end.
    fn runs_inline(&self, _req: &Request<Incoming>) -> bool {
        false
    }
}

/// How long shutdown waits for in-flight requests before closing their connections.
const GRACE: Duration = Duration::from_secs(5);

/// Most header lines in one request (hyper's default, made explicit); more is a 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// Most bytes of a request's head (request line and headers); more is a 431. The request
/// target has its own, lower limit (`router::MAX_TARGET_LEN`), answered in Stripe's shape.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Connections beyond `max_connections` that are still answered (a 503); past this many
/// at once, further ones are closed without an answer.
pub(crate) const MAX_TURNED_AWAY: usize = 64;

/// The longest a turned-away connection may take to send the head of its request.
const TURN_AWAY_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What one client may take; from the [`Config`](crate::Config).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
}

tokio::task_local! {
    /// The body read timeout of the request this task serves (set by [`isolate`]).
    static BODY_READ_TIMEOUT: Duration;
}

/// How long the current request's body may take to arrive (`body_read_timeout`); the
/// default outside a request task (unit tests).
pub(crate) fn body_read_timeout() -> Duration {
    BODY_READ_TIMEOUT
        .try_with(|t| *t)
        .unwrap_or(Duration::from_secs(30))
}

/// Accepts connections until `shutdown` turns true, then lets in-flight requests finish.
pub(crate) async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    mut shutdown: watch::Receiver<bool>,
    limits: Limits,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.header_read_timeout(limits.header_read_timeout)
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEAD_BYTES);
    let head_deadlines = HeadDeadlines::new(limits.header_read_timeout);
    tokio::spawn(HeadDeadlines::sweep(Arc::downgrade(&head_deadlines)));
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let turned_away = Arc::new(Semaphore::new(MAX_TURNED_AWAY));
    let mut warned_at: Option<tokio::time::Instant> = None;
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
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    if warned_at.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(
                            "{} connections open (--max-connections): answering new ones 503",
                            limits.max_connections
                        );
                        warned_at = Some(tokio::time::Instant::now());
                    }
                    turn_away(stream, &turned_away, limits);
                    continue;
                };
                let handler = handler.clone();
                let body_timeout = limits.body_read_timeout;
                let service =
                    service_fn(move |req| isolate(handler.clone(), req, body_timeout));
                // Each connection's head deadline on a timer of its own (head_deadlines.rs).
                let conn = http
                    .clone()
                    .timer(head_deadlines.connection())
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection closed with error: {e}");
                    }
                    drop(permit);
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

/// Answers a connection beyond the cap with a 503 (`Stripe-Should-Retry: true`,
/// `Retry-After: 1`) and closes it; closes it at once when too many are being turned away.
fn turn_away(stream: TcpStream, turned_away: &Arc<Semaphore>, limits: Limits) {
    let Ok(permit) = turned_away.clone().try_acquire_owned() else {
        drop(stream);
        return;
    };
    let max = limits.max_connections;
    let service = service_fn(move |_req: Request<Incoming>| async move {
        let e = ApiError::unavailable(format!(
            "mock-stripe is serving its maximum of {max} connections (--max-connections). \
             Retry shortly, or reuse connections."
        ));
        let mut resp = json_error(&e);
        let h = resp.headers_mut();
        h.insert("stripe-should-retry", HeaderValue::from_static("true"));
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        Ok::<_, std::convert::Infallible>(resp)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.min(TURN_AWAY_READ_TIMEOUT))
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEAD_BYTES)
        .keep_alive(false);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::spawn(async move {
        let _ = conn.await;
        drop(permit);
    });
}

/// Runs one request, in its own task unless [`Handler::runs_inline`] allows the
/// connection's (a task per request is measurable at tens of thousands of requests a
/// second): a panic becomes the handler's error answer either way.
async fn isolate<H: Handler>(
    handler: Arc<H>,
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Result<Resp, CloseConnection> {
    use futures::FutureExt as _;
    let method = req.method().clone();
    let uri = req.uri().clone();
    let h = handler.clone();
    let inline = handler.runs_inline(&req);
    let task = BODY_READ_TIMEOUT.scope(body_timeout, async move { h.handle(req).await });
    let outcome = if inline {
        std::panic::AssertUnwindSafe(task)
            .catch_unwind()
            .await
            .map_err(|_| "panicked".to_string())
    } else {
        tokio::spawn(task).await.map_err(|e| e.to_string())
    };
    outcome.unwrap_or_else(|e| {
        tracing::error!("{method} {} failed: {e}", uri.path());
        Ok(handler.panicked())
    })
}

pub(crate) fn json_response(status: StatusCode, body: impl Into<Body>) -> Resp {
    let mut resp = Response::new(body.into());
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
    let mut resp = Response::new(Body::from(body));
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

    /// Panics on `/boom…`; runs `/v1/…` inline, the rest in tasks of their own.
    struct Boom;

    impl Handler for Boom {
        async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Resp, CloseConnection> {
            if req.uri().path().contains("boom") {
                panic!("boom");
            }
            Ok(json_response(StatusCode::OK, "{}"))
        }

        fn panicked(&self) -> Resp {
            json_response(StatusCode::INTERNAL_SERVER_ERROR, "{\"panicked\":true}")
        }

        fn runs_inline(&self, req: &Request<Incoming>) -> bool {
            req.uri().path().starts_with("/v1/")
        }
    }

    #[tokio::test]
    async fn a_panicking_request_gets_the_panic_answer_inline_or_not_and_the_server_goes_on() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, shutdown) = watch::channel(false);
        let limits = Limits {
            max_connections: 8,
            header_read_timeout: Duration::from_secs(5),
            body_read_timeout: Duration::from_secs(5),
        };
        let server = tokio::spawn(serve(listener, Arc::new(Boom), shutdown, limits));
        let http = reqwest::Client::new();
        for path in ["/v1/boom", "/boom", "/v1/fine", "/fine"] {
            let resp = http
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            let panicked = path.contains("boom");
            assert_eq!(
                resp.status().as_u16(),
                if panicked { 500 } else { 200 },
                "{path}"
            );
            assert_eq!(
                resp.text().await.unwrap(),
                if panicked {
                    "{\"panicked\":true}"
                } else {
                    "{}"
                },
                "{path}"
            );
        }
        stop.send(true).unwrap();
        server.await.unwrap();
    }
}
