//! Maps `(method, path)` to a resource function, running the protocol steps in the order
//! Stripe does: API key, version, route, parameters, then the resource.

use http::header::{AUTHORIZATION, HeaderValue};
use http::{Method, Request};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;

use crate::hosted;
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Params, Reply, RequestCtx, auth};
use crate::resources::{checkout_sessions, events, payment_intents, webhook_endpoints};
use crate::server::{App, Resp, html_response, json_error, json_response};
use crate::store::lock;

/// Larger bodies are refused (100 line items with every option fit easily).
const MAX_BODY: usize = 1024 * 1024;

enum Route {
    SessionCreate,
    SessionList,
    SessionRetrieve(String),
    SessionUpdate(String),
    SessionExpire(String),
    SessionLineItems(String),
    PaymentIntentRetrieve(String),
    EndpointCreate,
    EndpointList,
    EndpointRetrieve(String),
    EndpointUpdate(String),
    EndpointDelete(String),
    EventList,
    EventRetrieve(String),
}

fn match_route(method: &Method, segs: &[String]) -> Option<Route> {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let id = |i: usize| segs[i].clone();
    Some(match (method.as_str(), s.as_slice()) {
        ("POST", ["checkout", "sessions"]) => Route::SessionCreate,
        ("GET", ["checkout", "sessions"]) => Route::SessionList,
        ("GET", ["checkout", "sessions", _]) => Route::SessionRetrieve(id(2)),
        ("POST", ["checkout", "sessions", _]) => Route::SessionUpdate(id(2)),
        ("POST", ["checkout", "sessions", _, "expire"]) => Route::SessionExpire(id(2)),
        ("GET", ["checkout", "sessions", _, "line_items"]) => Route::SessionLineItems(id(2)),
        ("GET", ["payment_intents", _]) => Route::PaymentIntentRetrieve(id(1)),
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

/// Path segments after the prefix, percent-decoded (SDKs URL-encode ids).
fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

pub(crate) async fn route(app: &App, req: Request<Incoming>, request_id: &str) -> Resp {
    let path = req.uri().path().to_string();
    if let Some(id) = path.strip_prefix("/c/pay/") {
        let id = percent_decode_str(id).decode_utf8_lossy().into_owned();
        let reply = match *req.method() {
            Method::GET | Method::HEAD => hosted::show(app, &id),
            Method::POST => match read_body(req.into_body()).await {
                Ok(body) => hosted::submit(app, &id, &body).await,
                Err(e) => return json_error(&e),
            },
            _ => return json_error(&ApiError::unrecognized_url(req.method().as_str(), &path)),
        };
        return html_response(reply.status, reply.body, reply.location.as_deref());
    }
    api(app, req, request_id).await
}

async fn read_body(body: Incoming) -> ApiResult<bytes::Bytes> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("Request body too large: the limit is {MAX_BODY} bytes."),
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "Could not read the request body: {e}"
        ))),
    }
}

async fn api(app: &App, req: Request<Incoming>, request_id: &str) -> Resp {
    let headers = req.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let version_header = header("stripe-version")
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let idempotency_key = header("idempotency-key").map(str::to_string);

    let result = api_inner(
        app,
        req,
        request_id,
        version_header.as_deref(),
        idempotency_key,
    )
    .await;
    let mut resp = match result {
        Ok(reply) => json_response(reply.status, reply.body),
        Err(e) => json_error(&e),
    };
    let h = resp.headers_mut();
    if let Some(k) = headers.get("idempotency-key") {
        h.insert("idempotency-key", k.clone());
    }
    let used = version_header
        .as_deref()
        .and_then(ApiVersion::parse)
        .map_or_else(
            || crate::protocol::version::DEFAULT_VERSION.to_string(),
            |v| v.to_string(),
        );
    if let Ok(v) = HeaderValue::from_str(&used) {
        h.insert("stripe-version", v);
    }
    resp
}

async fn api_inner(
    app: &App,
    req: Request<Incoming>,
    request_id: &str,
    version_header: Option<&str>,
    idempotency_key: Option<String>,
) -> ApiResult<Reply> {
    // Outside /v1 there is nothing to authenticate for: say the URL is unknown.
    if !req.uri().path().starts_with("/v1/") {
        return Err(ApiError::unrecognized_url(
            req.method().as_str(),
            req.uri().path(),
        ));
    }
    let key = auth::authenticate(req.headers().get(AUTHORIZATION).map(|v| v.as_bytes()))?;
    let version = version_header.map(ApiVersion::from_header).transpose()?;
    let ctx = RequestCtx {
        request_id: request_id.to_string(),
        version,
        idempotency_key,
    };

    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = path
        .strip_prefix("/v1/")
        .and_then(|rest| match_route(&method, &segments(rest)))
        .ok_or_else(|| ApiError::unrecognized_url(method.as_str(), &path))?;

    let query = req.uri().query().unwrap_or("").as_bytes().to_vec();
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = if method == Method::GET {
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
    let params = Params::decode(&[&query, &body])?;

    let account = app.store.account(&key);
    let (result, outbox, created) = {
        // Synchronous section under the account lock: no await until the guard is gone.
        let mut acc = lock(&account);
        let mut created = None;
        let a = &mut *acc;
        let result = match &route {
            Route::SessionCreate => {
                checkout_sessions::create(a, &params, &ctx, &app.base_url).map(|(id, r)| {
                    created = Some(id);
                    r
                })
            }
            Route::SessionList => checkout_sessions::list(a, &params, &ctx),
            Route::SessionRetrieve(id) => checkout_sessions::retrieve(a, id, &params, &ctx),
            Route::SessionUpdate(id) => checkout_sessions::update(a, id, &params, &ctx),
            Route::SessionExpire(id) => checkout_sessions::expire_handler(a, id, &params, &ctx),
            Route::SessionLineItems(id) => checkout_sessions::line_items(a, id, &params),
            Route::PaymentIntentRetrieve(id) => payment_intents::retrieve(a, id, &params),
            Route::EndpointCreate => webhook_endpoints::create(a, &params),
            Route::EndpointList => webhook_endpoints::list(a, &params),
            Route::EndpointRetrieve(id) => webhook_endpoints::retrieve(a, id, &params),
            Route::EndpointUpdate(id) => webhook_endpoints::update(a, id, &params),
            Route::EndpointDelete(id) => webhook_endpoints::delete(a, id, &params),
            Route::EventList => events::list(a, &params),
            Route::EventRetrieve(id) => events::retrieve(a, id, &params),
        };
        (result, acc.take_outbox(), created)
    };
    if let Some(id) = created {
        app.store.index_session(&id, &account);
    }
    app.deliverer.dispatch(&account, outbox, None);
    result
}
