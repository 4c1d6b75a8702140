//! Maps requests to handlers: `/c/pay/…` to the hosted page (`/c/3ds/…` to a
//! PaymentIntent's 3-D Secure page), `/_config/…` to the control
//! API, `/v1/…` to a resource function. For `/v1` it runs the protocol steps in the order
//! Stripe does (API key, version, route, parameters), then injected faults, idempotency,
//! and the resource as one engine step.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;

use crate::app::App;
use crate::engine::faults::FaultKind;
use crate::protocol::idempotency::{self, Claim, MAX_KEY_LEN};
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Params, Reply, RequestCtx, auth};
use crate::resources::{checkout_sessions, events, payment_intents, webhook_endpoints};
use crate::server::{Body, CloseConnection, Resp, json_error, json_response};
use crate::store::Account;
use crate::{control, hosted, stripejs};

/// Larger bodies are refused (100 line items with every option fit easily).
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// Longest request target (path and query string), in bytes: a 414 in Stripe's shape.
/// SDK GETs stay far below it (a list call with `expand[]`, a search `query`); hyper's own
/// bound on the whole head (`server::MAX_HEAD_BYTES`) is a bare 431.
pub(crate) const MAX_TARGET_LEN: usize = 16 * 1024;

enum Route {
    SessionCreate,
    SessionList,
    SessionRetrieve(String),
    SessionUpdate(String),
    SessionExpire(String),
    SessionLineItems(String),
    PaymentIntentRetrieve(String),
    // PaymentIntents, PaymentMethods, Charges, Refunds (resources/{payment_intents/,
    // payment_methods,charges,refunds}.rs).
    PaymentIntentCreate,
    PaymentIntentList,
    PaymentIntentUpdate(String),
    PaymentIntentConfirm(String),
    PaymentIntentCapture(String),
    PaymentIntentCancel(String),
    PaymentMethodCreate,
    PaymentMethodRetrieve(String),
    // Checkout's own payment-page API, as the Stripe CLI's fixtures call it
    // (resources/payment_pages.rs).
    PaymentPageRetrieve(String),
    PaymentPageConfirm(String),
    ChargeList,
    ChargeRetrieve(String),
    RefundCreate,
    RefundList,
    RefundRetrieve(String),
    RefundUpdate(String),
    RefundCancel(String),
    // Catalog, customers, discounts, search (resources/{products,prices,customers,coupons,
    // promotion_codes,search}.rs).
    ProductCreate,
    ProductList,
    ProductSearch,
    ProductRetrieve(String),
    ProductUpdate(String),
    ProductDelete(String),
    PriceCreate,
    PriceList,
    PriceSearch,
    PriceRetrieve(String),
    PriceUpdate(String),
    CustomerCreate,
    CustomerList,
    CustomerSearch,
    CustomerRetrieve(String),
    CustomerUpdate(String),
    CustomerDelete(String),
    CouponCreate,
    CouponList,
    CouponRetrieve(String),
    PromotionCodeCreate,
    PromotionCodeList,
    PromotionCodeRetrieve(String),
    PromotionCodeUpdate(String),
    PaymentIntentSearch,
    EndpointCreate,
    EndpointList,
    EndpointRetrieve(String),
    EndpointUpdate(String),
    EndpointDelete(String),
    EventList,
    EventRetrieve(String),
}

fn match_route(method: &Method, segs: &[Cow<'_, str>]) -> Option<Route> {
    let s: Vec<&str> = segs.iter().map(|s| &**s).collect();
    let id = |i: usize| segs[i].to_string();
    Some(match (method.as_str(), s.as_slice()) {
        ("POST", ["checkout", "sessions"]) => Route::SessionCreate,
        ("GET", ["checkout", "sessions"]) => Route::SessionList,
        ("GET", ["checkout", "sessions", _]) => Route::SessionRetrieve(id(2)),
        ("POST", ["checkout", "sessions", _]) => Route::SessionUpdate(id(2)),
        ("POST", ["checkout", "sessions", _, "expire"]) => Route::SessionExpire(id(2)),
        ("GET", ["checkout", "sessions", _, "line_items"]) => Route::SessionLineItems(id(2)),
        ("GET", ["payment_intents", "search"]) => Route::PaymentIntentSearch,
        ("GET", ["payment_intents", _]) => Route::PaymentIntentRetrieve(id(1)),
        ("POST", ["payment_intents"]) => Route::PaymentIntentCreate,
        ("GET", ["payment_intents"]) => Route::PaymentIntentList,
        ("POST", ["payment_intents", _]) => Route::PaymentIntentUpdate(id(1)),
        ("POST", ["payment_intents", _, "confirm"]) => Route::PaymentIntentConfirm(id(1)),
        ("POST", ["payment_intents", _, "capture"]) => Route::PaymentIntentCapture(id(1)),
        ("POST", ["payment_intents", _, "cancel"]) => Route::PaymentIntentCancel(id(1)),
        ("POST", ["payment_methods"]) => Route::PaymentMethodCreate,
        ("GET", ["payment_methods", _]) => Route::PaymentMethodRetrieve(id(1)),
        ("GET", ["payment_pages", _]) => Route::PaymentPageRetrieve(id(1)),
        ("POST", ["payment_pages", _, "confirm"]) => Route::PaymentPageConfirm(id(1)),
        ("GET", ["charges"]) => Route::ChargeList,
        ("GET", ["charges", _]) => Route::ChargeRetrieve(id(1)),
        ("POST", ["refunds"]) => Route::RefundCreate,
        ("GET", ["refunds"]) => Route::RefundList,
        ("GET", ["refunds", _]) => Route::RefundRetrieve(id(1)),
        ("POST", ["refunds", _]) => Route::RefundUpdate(id(1)),
        ("POST", ["refunds", _, "cancel"]) => Route::RefundCancel(id(1)),
        ("POST", ["products"]) => Route::ProductCreate,
        ("GET", ["products"]) => Route::ProductList,
        ("GET", ["products", "search"]) => Route::ProductSearch,
        ("GET", ["products", _]) => Route::ProductRetrieve(id(1)),
        ("POST", ["products", _]) => Route::ProductUpdate(id(1)),
        ("DELETE", ["products", _]) => Route::ProductDelete(id(1)),
        ("POST", ["prices"]) => Route::PriceCreate,
        ("GET", ["prices"]) => Route::PriceList,
        ("GET", ["prices", "search"]) => Route::PriceSearch,
        ("GET", ["prices", _]) => Route::PriceRetrieve(id(1)),
        ("POST", ["prices", _]) => Route::PriceUpdate(id(1)),
        ("POST", ["customers"]) => Route::CustomerCreate,
        ("GET", ["customers"]) => Route::CustomerList,
        ("GET", ["customers", "search"]) => Route::CustomerSearch,
        ("GET", ["customers", _]) => Route::CustomerRetrieve(id(1)),
        ("POST", ["customers", _]) => Route::CustomerUpdate(id(1)),
        ("DELETE", ["customers", _]) => Route::CustomerDelete(id(1)),
        ("POST", ["coupons"]) => Route::CouponCreate,
        ("GET", ["coupons"]) => Route::CouponList,
        ("GET", ["coupons", _]) => Route::CouponRetrieve(id(1)),
        ("POST", ["promotion_codes"]) => Route::PromotionCodeCreate,
        ("GET", ["promotion_codes"]) => Route::PromotionCodeList,
        ("GET", ["promotion_codes", _]) => Route::PromotionCodeRetrieve(id(1)),
        ("POST", ["promotion_codes", _]) => Route::PromotionCodeUpdate(id(1)),
        ("POST", ["webhook_endpoints"]) => Route::EndpointCreate,
        ("GET", ["webhook_endpoints"]) => Route::EndpointList,
        ("GET", ["webhook_endpoints", _]) => Route::EndpointRetrieve(id(1)),
        ("POST", ["webhook_endpoints", _]) => Route::EndpointUpdate(id(1)),
        ("DELETE", ["webhook_endpoints", _]) => Route::EndpointDelete(id(1)),
        ("GET", ["events"]) => Route::EventList,
        ("GET", ["events", _]) => Route::EventRetrieve(id(1)),
        _ => return None,
    })
}

/// Path segments after the prefix, percent-decoded (SDKs URL-encode ids); borrowed from
/// the path unless a segment has an escape.
pub(crate) fn segments(path: &str) -> Vec<Cow<'_, str>> {
    path.split('/')
        .map(|s| {
            // Most segments have no escape: spare them the decoder's walk (2.5% of a
            // retrieve's CPU, perf under wrk).
            if s.contains('%') {
                percent_decode_str(s).decode_utf8_lossy()
            } else {
                Cow::Borrowed(s)
            }
        })
        .collect()
}

/// Header names used on every request, made once: a `&str` name is parsed and checked
/// again on every lookup or insert.
static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
static STRIPE_VERSION: HeaderName = HeaderName::from_static("stripe-version");
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static STRIPE_ACCOUNT: HeaderName = HeaderName::from_static("stripe-account");

/// Every request starts here; every answer gets a `Request-Id`.
pub(crate) async fn route(app: &Arc<App>, req: Request<Incoming>) -> Result<Resp, CloseConnection> {
    let request_id = app.request_id();
    let method = req.method().clone();
    let path = req.uri().path();
    let target_len = path.len() + req.uri().query().map_or(0, |q| q.len() + 1);
    // Copied only for the debug log: the request moves into its handler.
    let logged_path = tracing::enabled!(tracing::Level::DEBUG).then(|| path.to_string());
    let mut resp = if target_len > MAX_TARGET_LEN {
        target_too_long(path, target_len)
    } else if path.starts_with("/c/pay/") {
        hosted::route(app, req).await
    } else if path.starts_with("/c/3ds/") {
        hosted::three_d_secure::route(app, req).await
    } else if path == "/_config" || path.starts_with("/_config/") {
        control::route(app, req, &request_id).await
    } else if path == "/v3" || path.starts_with("/v3/") {
        stripejs::route(app, &req)
    } else {
        api(app, req, &request_id).await?
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    if let Some(path) = logged_path {
        tracing::debug!(request_id = %request_id, "{method} {path} -> {}", resp.status().as_u16());
    }
    Ok(resp)
}

/// A 414 for a request target over [`MAX_TARGET_LEN`]: Stripe's envelope, or a page for
/// the payment pages.
fn target_too_long(path: &str, len: usize) -> Resp {
    let e = ApiError::new(
        StatusCode::URI_TOO_LONG,
        None,
        format!(
            "Request URI too long: {len} bytes, where the limit is {MAX_TARGET_LEN}. Send \
             long parameters in a POST body."
        ),
    );
    if hosted::is_page(path) {
        hosted::error_page(&e)
    } else {
        json_error(&e)
    }
}

/// Reads a request body, refusing bodies over [`MAX_BODY`] with a 413 (a declared
/// `Content-Length` over it before reading any), and bodies that do not arrive within the
/// body read timeout with a 408.
pub(crate) async fn read_body(body: Incoming) -> ApiResult<bytes::Bytes> {
    use hyper::body::Body as _;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("Request body too large: the limit is {MAX_BODY} bytes."),
        )
    };
    if body.size_hint().lower() > MAX_BODY as u64 {
        return Err(too_large());
    }
    let timeout = crate::server::body_read_timeout();
    let Ok(read) = tokio::time::timeout(timeout, Limited::new(body, MAX_BODY).collect()).await
    else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            None,
            format!(
                "The request body did not arrive within {} seconds.",
                timeout.as_secs_f64()
            ),
        ));
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!(
            "Could not read the request body: {e}"
        ))),
    }
}

/// Decodes a form-encoded request: query string, then body (JSON bodies are refused, as
/// on Stripe's v1).
pub(crate) async fn read_params(req: Request<Incoming>) -> ApiResult<Params> {
    let query = req.uri().query().unwrap_or("").as_bytes().to_vec();
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = if req.method() == Method::GET {
        bytes::Bytes::new()
    } else {
        read_body(req.into_body()).await?
    };
    let looks_json = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[');
    if content_type.contains("json") || content_type.starts_with("multipart/") || looks_json {
        return Err(ApiError::bad_request(
            "Invalid request (check that your POST content type is application/x-www-form-urlencoded). \
             If you have any questions, we can help at https://support.stripe.com/.",
        ));
    }
    Params::decode(&[&query, &body])
}

/// What a `/v1` request became.
struct Answer {
    resp: Resp,
    /// Close the connection after `Duration` instead of answering (an injected timeout).
    lose_after: Option<Duration>,
    /// The API version the request ran at (its `Stripe-Version`, else the account's).
    version: Option<ApiVersion>,
}

/// The headers a `/v1` answer depends on, read once (the request itself is consumed).
struct ApiHeaders {
    version: Option<String>,
    idempotency_key: Option<String>,
    /// Echoed as sent.
    idempotency_raw: Option<HeaderValue>,
}

impl ApiHeaders {
    fn read(headers: &http::HeaderMap) -> ApiHeaders {
        let header = |name: &HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        ApiHeaders {
            version: header(&STRIPE_VERSION),
            idempotency_key: header(&IDEMPOTENCY_KEY),
            idempotency_raw: headers.get(&IDEMPOTENCY_KEY).cloned(),
        }
    }
}

async fn api(
    app: &Arc<App>,
    req: Request<Incoming>,
    request_id: &str,
) -> Result<Resp, CloseConnection> {
    let headers = ApiHeaders::read(req.headers());
    let answer = match api_inner(app, req, request_id, &headers).await {
        Ok(answer) => answer?,
        Err(e) => Answer {
            resp: json_error(&e),
            lose_after: None,
            version: None,
        },
    };
    if let Some(wait) = answer.lose_after {
        tokio::time::sleep(wait).await;
        return Err(CloseConnection);
    }
    let mut resp = answer.resp;
    let h = resp.headers_mut();
    if let Some(k) = headers.idempotency_raw {
        h.insert(IDEMPOTENCY_KEY.clone(), k);
    }
    let used = answer
        .version
        .or_else(|| headers.version.as_deref().and_then(ApiVersion::parse))
        .unwrap_or_else(crate::protocol::version::default_version);
    h.insert(STRIPE_VERSION.clone(), used.header_value());
    Ok(resp)
}

/// A `/v1` request once parsed: what runs, with which key.
struct Call {
    route: Route,
    params: Params,
    /// A session create's parameters read before the account's turn, when they could be
    /// (`checkout_sessions::prepare`); taken by the run.
    prepared: Option<checkout_sessions::Prepared>,
    path: String,
    /// The idempotency key with the request's fingerprint (POST only: GET and DELETE are
    /// idempotent by nature).
    idempotent: Option<(String, idempotency::Fingerprint)>,
    request_id: String,
}

/// What running a call in a step gave.
enum Ran {
    /// The resource's answer (saved under the idempotency key, if any), and the id of a
    /// session or PaymentIntent a browser will ask for.
    Answered {
        status: StatusCode,
        body: Body,
        created: Option<String>,
    },
    /// The key's earlier answer.
    Replayed(idempotency::Saved),
}

impl Call {
    fn ctx(&self, version: &ApiVersion) -> RequestCtx {
        RequestCtx {
            request_id: self.request_id.clone(),
            version: Some(version.clone()),
            idempotency_key: self.idempotent.as_ref().map(|(k, _)| k.clone()),
        }
    }

    /// Claims the idempotency key: `Ok(None)` to run, `Ok(Some)` to replay.
    fn claim(&self, acc: &mut Account) -> ApiResult<Option<idempotency::Saved>> {
        let Some((k, fingerprint)) = &self.idempotent else {
            return Ok(None);
        };
        let now = acc.clock.now_ms();
        match acc.idempotency.claim(k, *fingerprint, now) {
            Claim::Run => Ok(None),
            Claim::Replay(saved) => Ok(Some(saved)),
            Claim::Mismatch => Err(ApiError::idempotency_mismatch(k)),
            Claim::InUse => Err(ApiError::idempotency_in_use(k)),
        }
    }

    /// Runs the resource (the key already claimed) and saves its answer under the key.
    fn run(&mut self, acc: &mut Account, base_url: &str, version: &ApiVersion) -> Ran {
        let mut created = None;
        let result = execute(
            acc,
            &self.route,
            &self.params,
            self.prepared.take(),
            &self.ctx(version),
            base_url,
            &mut created,
        );
        let (status, body) = match result {
            Ok(reply) => (reply.status, reply.body),
            Err(e) => (e.status, e.body().into()),
        };
        if let Some((k, _)) = &self.idempotent {
            acc.idempotency.finish(k, status, &body);
        }
        Ran::Answered {
            status,
            body: body.into(),
            created,
        }
    }

    fn claim_and_run(
        &mut self,
        acc: &mut Account,
        base_url: &str,
        version: &ApiVersion,
    ) -> ApiResult<Ran> {
        Ok(match self.claim(acc)? {
            Some(saved) => Ran::Replayed(saved),
            None => self.run(acc, base_url, version),
        })
    }
}

/// The outer `Result` is the answer; the inner one says to close the connection instead.
async fn api_inner(
    app: &Arc<App>,
    req: Request<Incoming>,
    request_id: &str,
    headers: &ApiHeaders,
) -> ApiResult<Result<Answer, CloseConnection>> {
    // Outside /v1 there is nothing to authenticate for: say the URL is unknown.
    if !req.uri().path().starts_with("/v1/") {
        return Err(ApiError::unrecognized_url(
            req.method().as_str(),
            req.uri().path(),
        ));
    }
    let key = auth::authenticate(req.headers().get(AUTHORIZATION).map(|v| v.as_bytes()))?;
    let connected = auth::connected_account(
        req.headers().get(&STRIPE_ACCOUNT).map(|v| v.as_bytes()),
        &key,
    )?;
    let version = headers
        .version
        .as_deref()
        .map(ApiVersion::from_header)
        .transpose()?;
    if headers
        .idempotency_key
        .as_ref()
        .is_some_and(|k| k.len() > MAX_KEY_LEN)
    {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!("Idempotency keys must be at most {MAX_KEY_LEN} characters long."),
        ));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = path
        .strip_prefix("/v1/")
        .and_then(|rest| match_route(&method, &segments(rest)))
        .ok_or_else(|| ApiError::unrecognized_url(method.as_str(), &path))?;
    let params = read_params(req).await?;
    let idempotent = match &headers.idempotency_key {
        Some(k) if method == Method::POST => Some((
            k.clone(),
            idempotency::fingerprint(method.as_str(), &path, &params),
        )),
        _ => None,
    };
    // Before the turn: nothing of the account is needed to read a session create's
    // parameters, and the turn's time is the account's throughput.
    let prepared = match route {
        Route::SessionCreate => checkout_sessions::prepare(&params),
        _ => None,
    };
    let mut call = Call {
        route,
        params,
        prepared,
        path,
        idempotent,
        request_id: request_id.to_string(),
    };
    let account = app.store.account_for(&key, connected.as_deref())?;

    // One step (one lock of the account) for the usual request: the version (the header,
    // else the account's default, for the whole request), no fault to inject, the key
    // claimed, the resource run. An injected fault takes the longer way below.
    let turn = account.api_turn.lock().await;
    let first = app.engine.step(&account, |acc| {
        let version = version.unwrap_or_else(|| acc.api_version().clone());
        match acc.faults.take_api(&call.path) {
            None => {
                let ran = call.claim_and_run(acc, &app.base_url, &version);
                (version, None, Some(ran))
            }
            fault => (version, fault, None),
        }
    });
    drop(turn);
    let (version, fault, ran) = first.value;
    let ran = match (ran, fault) {
        (Some(ran), _) => ran?,
        (None, Some(FaultKind::Status(status))) => {
            return Ok(Ok(Answer {
                resp: injected_status(status),
                lose_after: None,
                version: Some(version),
            }));
        }
        (None, Some(FaultKind::Drop)) => return Ok(Err(CloseConnection)),
        (None, Some(FaultKind::Delay(secs))) => {
            // The key is claimed (in use) while the request waits, as a slow request's is.
            match app.engine.step(&account, |acc| call.claim(acc)).value? {
                Some(saved) => Ran::Replayed(saved),
                None => {
                    // In a task of its own, so that it runs to its end even if the client
                    // hangs up meanwhile: a claimed key is always finished.
                    let (app2, account2) = (app.clone(), account.clone());
                    let version2 = version.clone();
                    let finish = tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                        app2.engine
                            .step(&account2, |acc| call.run(acc, &app2.base_url, &version2))
                            .value
                    });
                    let ran = finish.await.map_err(|e| {
                        ApiError::internal(format!("the delayed request failed: {e}"))
                    })?;
                    return answer(app, &account, ran, None, version);
                }
            }
        }
        // A timeout runs the request and loses its answer (below); webhook-only kinds
        // change nothing here.
        (None, _) => {
            app.engine
                .step(&account, |acc| {
                    call.claim_and_run(acc, &app.base_url, &version)
                })
                .value?
        }
    };
    let lose_after = match fault {
        Some(FaultKind::Timeout(secs)) => Some(Duration::from_secs(secs)),
        _ => None,
    };
    answer(app, &account, ran, lose_after, version)
}

/// The answer for what ran (a browser's session indexed first).
fn answer(
    app: &App,
    account: &crate::store::AccountRef,
    ran: Ran,
    lose_after: Option<Duration>,
    version: ApiVersion,
) -> ApiResult<Result<Answer, CloseConnection>> {
    let resp = match ran {
        Ran::Replayed(saved) => {
            let mut resp = json_response(saved.status, saved.body);
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            resp
        }
        Ran::Answered {
            status,
            body,
            created,
        } => {
            if let Some(id) = created {
                app.store.index_session(&id, account);
            }
            json_response(status, body)
        }
    };
    Ok(Ok(Answer {
        resp,
        lose_after,
        version: Some(version),
    }))
}

/// An injected error status, with the headers Stripe sends with it.
fn injected_status(status: u16) -> Resp {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_error(&ApiError::for_status(status));
    let h = resp.headers_mut();
    if status == StatusCode::TOO_MANY_REQUESTS {
        h.insert("retry-after", HeaderValue::from_static("1"));
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        // Nothing was executed, so a retry is safe: the SDKs retry when told so (they do
        // not retry a bare 429), as Stripe tells them for lock timeouts.
        h.insert("stripe-should-retry", HeaderValue::from_static("true"));
    }
    resp
}

/// Runs one `/v1` route against the account (inside a step).
fn execute(
    a: &mut Account,
    route: &Route,
    params: &Params,
    prepared: Option<checkout_sessions::Prepared>,
    ctx: &RequestCtx,
    base_url: &str,
    created: &mut Option<String>,
) -> ApiResult<Reply> {
    match route {
        Route::SessionCreate => {
            checkout_sessions::create(a, prepared, params, ctx, base_url).map(|(id, r)| {
                *created = Some(id);
                r
            })
        }
        Route::SessionList => checkout_sessions::list(a, params, ctx),
        Route::SessionRetrieve(id) => checkout_sessions::retrieve(a, id, params, ctx),
        Route::SessionUpdate(id) => checkout_sessions::update(a, id, params, ctx),
        Route::SessionExpire(id) => checkout_sessions::expire_handler(a, id, params, ctx),
        Route::SessionLineItems(id) => checkout_sessions::line_items(a, id, params),
        Route::PaymentIntentRetrieve(id) => payment_intents::retrieve(a, id, params, ctx),
        // Intents waiting for 3-D Secure are indexed like sessions, for the browser.
        Route::PaymentIntentCreate => {
            payment_intents::create(a, params, ctx, base_url).map(|(r, browser)| {
                *created = browser;
                r
            })
        }
        Route::PaymentIntentConfirm(id) => payment_intents::confirm(a, id, params, ctx, base_url)
            .map(|(r, browser)| {
                *created = browser;
                r
            }),
        Route::PaymentIntentList => payment_intents::list(a, params, ctx),
        Route::PaymentIntentUpdate(id) => payment_intents::update(a, id, params, ctx),
        Route::PaymentIntentCapture(id) => payment_intents::capture(a, id, params, ctx),
        Route::PaymentIntentCancel(id) => payment_intents::cancel(a, id, params, ctx),
        Route::PaymentMethodCreate => crate::resources::payment_methods::create(a, params, ctx),
        Route::PaymentMethodRetrieve(id) => {
            crate::resources::payment_methods::retrieve(a, id, params, ctx)
        }
        Route::PaymentPageRetrieve(id) => crate::resources::payment_pages::retrieve(a, id, params),
        Route::PaymentPageConfirm(id) => crate::resources::payment_pages::confirm(a, id, params),
        Route::ChargeList => crate::resources::charges::list(a, params, ctx),
        Route::ChargeRetrieve(id) => crate::resources::charges::retrieve(a, id, params, ctx),
        Route::RefundCreate => crate::resources::refunds::create(a, params, ctx),
        Route::RefundList => crate::resources::refunds::list(a, params, ctx),
        Route::RefundRetrieve(id) => crate::resources::refunds::retrieve(a, id, params, ctx),
        Route::RefundUpdate(id) => crate::resources::refunds::update(a, id, params, ctx),
        Route::RefundCancel(id) => crate::resources::refunds::cancel(a, id, params, ctx),
        Route::ProductCreate => crate::resources::products::create(a, params, ctx),
        Route::ProductList => crate::resources::products::list(a, params, ctx),
        Route::ProductSearch => crate::resources::search::products(a, params),
        Route::ProductRetrieve(id) => crate::resources::products::retrieve(a, id, params, ctx),
        Route::ProductUpdate(id) => crate::resources::products::update(a, id, params, ctx),
        Route::ProductDelete(id) => crate::resources::products::delete(a, id, params, ctx),
        Route::PriceCreate => crate::resources::prices::create(a, params, ctx),
        Route::PriceList => crate::resources::prices::list(a, params, ctx),
        Route::PriceSearch => crate::resources::search::prices(a, params),
        Route::PriceRetrieve(id) => crate::resources::prices::retrieve(a, id, params, ctx),
        Route::PriceUpdate(id) => crate::resources::prices::update(a, id, params, ctx),
        Route::CustomerCreate => crate::resources::customers::create(a, params, ctx),
        Route::CustomerList => crate::resources::customers::list(a, params),
        Route::CustomerSearch => crate::resources::search::customers(a, params),
        Route::CustomerRetrieve(id) => crate::resources::customers::retrieve(a, id, params),
        Route::CustomerUpdate(id) => crate::resources::customers::update(a, id, params, ctx),
        Route::CustomerDelete(id) => crate::resources::customers::delete(a, id, params, ctx),
        Route::CouponCreate => crate::resources::coupons::create(a, params, ctx),
        Route::CouponList => crate::resources::coupons::list(a, params),
        Route::CouponRetrieve(id) => crate::resources::coupons::retrieve(a, id, params),
        Route::PromotionCodeCreate => crate::resources::promotion_codes::create(a, params, ctx),
        Route::PromotionCodeList => crate::resources::promotion_codes::list(a, params, ctx),
        Route::PromotionCodeRetrieve(id) => {
            crate::resources::promotion_codes::retrieve(a, id, params, ctx)
        }
        Route::PromotionCodeUpdate(id) => {
            crate::resources::promotion_codes::update(a, id, params, ctx)
        }
        Route::PaymentIntentSearch => crate::resources::search::payment_intents(a, params),
        Route::EndpointCreate => webhook_endpoints::create(a, params),
        Route::EndpointList => webhook_endpoints::list(a, params),
        Route::EndpointRetrieve(id) => webhook_endpoints::retrieve(a, id, params),
        Route::EndpointUpdate(id) => webhook_endpoints::update(a, id, params),
        Route::EndpointDelete(id) => webhook_endpoints::delete(a, id, params),
        Route::EventList => events::list(a, params),
        Route::EventRetrieve(id) => events::retrieve(a, id, params),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_decoded_and_borrowed_unless_escaped() {
        let segs = segments("v1/checkout/sessions/cs_test%5Fa%2Fb");
        assert_eq!(segs, ["v1", "checkout", "sessions", "cs_test_a/b"]);
        assert!(matches!(segs[2], Cow::Borrowed(_)));
        assert!(matches!(segs[3], Cow::Owned(_)));
        // A broken escape or bytes that are not UTF-8 are kept as Stripe's parser would
        // see them, not refused here.
        assert_eq!(segments("a%zz/%FF"), ["a%zz", "\u{fffd}"]);
    }
}
