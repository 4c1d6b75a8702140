//! Small shops with planted bugs, to prove the property test and the catalogue catch what
//! they claim to. Each mimics the storefront closely enough for the shopper's steps (the
//! front page links products by name, the product page shows the price and a Buy form,
//! Buy creates a Checkout Session on the mock and redirects to it, the success URL sets
//! the thank-you flash and goes back to the product page, `/webhooks/stripe` verifies
//! Stripe's signature) and keeps its orders and receipts in memory.
//!
//! Without a bug ([`Bug::None`]) it is a correct shop, and passes: what fails with a bug
//! fails because of the bug.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use harness::catalogue::{CatalogueProduct, for_sale};
use harness::shop::{OrderRecord, Shop, ShopWiring, StartShop};
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::{Data, Html, Path, Query};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, Server, get, handler, post};
use url::Url;

/// What is wrong with the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// Nothing: a correct shop.
    None,
    /// The success URL marks the order paid and mails the receipt, trusting the redirect
    /// (it looks the session up for the buyer's email, but never checks it was paid).
    FulfilsOnRedirect,
    /// Every delivery of `checkout.session.completed` records the payment and mails a
    /// receipt again: no deduplication.
    NoDedup,
    /// Answers 200 first, then commits in the background; its commit fails the first time
    /// (a busy database) and nobody retries it, so the payment is lost. (With
    /// `flaky_commit` and no bug, the shop answers 500 instead and Stripe's retry
    /// records it.)
    AcksBeforeCommit,
}

/// The shop to start: its bug, and whether its first commit per order fails.
#[derive(Clone, Copy, Debug)]
pub struct Planted {
    pub bug: Bug,
    pub flaky_commit: bool,
}

impl Planted {
    pub fn with_bug(bug: Bug) -> Planted {
        Planted {
            bug,
            flaky_commit: bug == Bug::AcksBeforeCommit,
        }
    }

    /// For `StackOptions::shop` and `PropertyConfig::shop`.
    pub fn starter(self) -> StartShop {
        Arc::new(move |wiring| {
            Box::pin(async move {
                let shop = PlantedShop::start(wiring, self).await?;
                Ok(Box::new(shop) as Box<dyn Shop>)
            })
        })
    }
}

struct Order {
    record: OrderRecord,
    product: usize,
    /// Whether a commit of its payment was tried already (for `flaky_commit`).
    commit_tried: bool,
}

#[derive(Default)]
struct Books {
    orders: Vec<Order>,
    receipts: Vec<String>,
}

struct State {
    planted: Planted,
    api_base: String,
    secret_key: String,
    webhook_secret: String,
    public_url: String,
    http: reqwest::Client,
    books: Mutex<Books>,
}

impl State {
    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct PlantedShop {
    url: Url,
    state: Arc<State>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl PlantedShop {
    async fn start(wiring: ShopWiring, planted: Planted) -> anyhow::Result<PlantedShop> {
        let listener = tokio::net::TcpListener::bind((wiring.host, wiring.port)).await?;
        let addr = listener.local_addr()?;
        let public_url = format!("http://{addr}");
        let state = Arc::new(State {
            planted,
            api_base: wiring.stripe_api_base.trim_end_matches('/').to_string(),
            secret_key: wiring.secret_key,
            webhook_secret: wiring.webhook_secret,
            public_url: public_url.clone(),
            http: reqwest::Client::builder().no_proxy().build()?,
            books: Mutex::new(Books::default()),
        });
        let app = Route::new()
            .at("/", get(index))
            .at("/products/:id", get(product_page))
            .at("/products/:id/buy", post(buy))
            .at("/products/:id/post_checkout", get(post_checkout))
            .at("/webhooks/stripe", post(webhook))
            .data(state.clone());
        let acceptor = TcpAcceptor::from_tokio(listener)?;
        let server = tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Ok(PlantedShop {
            url: Url::parse(&public_url)?,
            state,
            server,
        })
    }
}

impl Shop for PlantedShop {
    fn url(&self) -> &Url {
        &self.url
    }

    fn orders(&self) -> BoxFuture<'_, anyhow::Result<Vec<OrderRecord>>> {
        let orders = self
            .state
            .books()
            .orders
            .iter()
            .map(|o| o.record.clone())
            .collect();
        Box::pin(async move { Ok(orders) })
    }

    fn receipts(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.state.books().receipts.clone())
    }

    fn describe(&self) -> String {
        format!("a planted shop ({:?}), in memory", self.state.planted)
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.server.abort();
            let _ = self.server.await;
        })
    }
}

fn products() -> Vec<CatalogueProduct> {
    for_sale()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body>{body}</body></html>",
        escape(title)
    ))
}

/// The product of a 1-based id.
fn product_of(id: usize) -> poem::Result<CatalogueProduct> {
    id.checked_sub(1)
        .and_then(|i| products().into_iter().nth(i))
        .ok_or_else(|| poem::Error::from_status(StatusCode::NOT_FOUND))
}

#[handler]
fn index() -> Html<String> {
    let items: String = products()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "<li><a href=\"/products/{}\">{}</a> <span class=\"price\">{}</span></li>",
                i + 1,
                escape(&p.name),
                p.price_label()
            )
        })
        .collect();
    page("Products", &format!("<h1>Products</h1><ul>{items}</ul>"))
}

const FLASH_COOKIE: &str = "planted_flash";

/// The product page, with the flash message the last redirect left (then cleared).
#[handler]
fn product_page(Path(id): Path<usize>, req: &Request) -> poem::Result<Response> {
    let product = product_of(id)?;
    let flash = req
        .header("cookie")
        .into_iter()
        .flat_map(|c| c.split(';'))
        .filter_map(|c| c.trim().strip_prefix(&format!("{FLASH_COOKIE}=")))
        .map(|v| {
            url::form_urlencoded::parse(format!("m={v}").as_bytes())
                .next()
                .map(|(_, m)| m.into_owned())
                .unwrap_or_default()
        })
        .find(|m| !m.is_empty());
    let body = format!(
        "{}<h1>{}</h1><p class=\"price\">{}</p>\
         <form method=\"post\" action=\"/products/{id}/buy\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"planted-not-checked\">\
         <button type=\"submit\">Buy for {}</button></form>",
        flash
            .as_deref()
            .map(|m| format!("<div class=\"flash\">{}</div>", escape(m)))
            .unwrap_or_default(),
        escape(&product.name),
        product.price_label(),
        product.price_label()
    );
    let mut response = page(&product.name, &body).into_response();
    if flash.is_some() {
        response.headers_mut().append(
            "set-cookie",
            format!("{FLASH_COOKIE}=; Path=/; Max-Age=0")
                .parse()
                .expect("a valid header"),
        );
    }
    Ok(response)
}

fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", location)
        .finish()
}

fn server_error(e: impl std::fmt::Display) -> poem::Error {
    poem::Error::from_string(e.to_string(), StatusCode::INTERNAL_SERVER_ERROR)
}

/// A pending order, then a Checkout Session for it, then off to Stripe.
#[handler]
async fn buy(Path(id): Path<usize>, state: Data<&Arc<State>>) -> poem::Result<Response> {
    let product = product_of(id)?;
    let order_id = {
        let mut books = state.books();
        let order_id = books.orders.len() as i64 + 1;
        books.orders.push(Order {
            record: OrderRecord {
                id: order_id,
                session_id: None,
                status: "pending".into(),
                amount_cents: product.price_cents,
                buyer_email: None,
            },
            product: id - 1,
            commit_tried: false,
        });
        order_id
    };
    let back = |status: &str| {
        format!(
            "{}/products/{id}/post_checkout?status={status}&session_id={{CHECKOUT_SESSION_ID}}",
            state.public_url
        )
    };
    let form = [
        ("mode", "payment".to_string()),
        ("success_url", back("success")),
        ("cancel_url", back("cancel")),
        ("line_items[0][price_data][currency]", "usd".into()),
        (
            "line_items[0][price_data][unit_amount]",
            product.price_cents.to_string(),
        ),
        (
            "line_items[0][price_data][product_data][name]",
            product.name.clone(),
        ),
        ("line_items[0][quantity]", "1".into()),
        ("metadata[order_id]", order_id.to_string()),
    ];
    let session: serde_json::Value = state
        .http
        .post(format!("{}/v1/checkout/sessions", state.api_base))
        .basic_auth(&state.secret_key, Some(""))
        .form(&form)
        .send()
        .await
        .map_err(server_error)?
        .error_for_status()
        .map_err(server_error)?
        .json()
        .await
        .map_err(server_error)?;
    let (Some(session_id), Some(url)) = (session["id"].as_str(), session["url"].as_str()) else {
        return Err(server_error(format!("no session in {session}")));
    };
    state.books().orders[order_id as usize - 1]
        .record
        .session_id = Some(session_id.to_string());
    Ok(see_other(url))
}

/// Where Stripe sends the shopper back: a flash, then the product page. The
/// `FulfilsOnRedirect` shop also records the purchase here.
#[handler]
async fn post_checkout(
    Path(id): Path<usize>,
    Query(query): Query<HashMap<String, String>>,
    state: Data<&Arc<State>>,
) -> poem::Result<Response> {
    let product = product_of(id)?;
    let session_id = query.get("session_id").cloned().unwrap_or_default();
    let flash = match query.get("status").map(String::as_str) {
        Some("success") if !session_id.is_empty() => {
            if state.planted.bug == Bug::FulfilsOnRedirect {
                // The bug: the redirect is taken as proof of payment.
                let session: serde_json::Value = state
                    .http
                    .get(format!(
                        "{}/v1/checkout/sessions/{session_id}",
                        state.api_base
                    ))
                    .basic_auth(&state.secret_key, Some(""))
                    .send()
                    .await
                    .map_err(server_error)?
                    .json()
                    .await
                    .map_err(server_error)?;
                let email = session["customer_details"]["email"]
                    .as_str()
                    .map(str::to_owned);
                fulfil(&state, &session_id, email, true);
            }
            Some(format!(
                "Thanks for purchasing {}. You will receive an email shortly",
                product.name
            ))
        }
        Some("cancel") if !session_id.is_empty() => Some(
            "There was an error while attempting to purchase this product. Try again".to_string(),
        ),
        _ => None,
    };
    let mut response = see_other(&format!("/products/{id}"));
    if let Some(flash) = flash {
        let value: String = url::form_urlencoded::byte_serialize(flash.as_bytes()).collect();
        response.headers_mut().append(
            "set-cookie",
            format!("{FLASH_COOKIE}={value}; Path=/")
                .parse()
                .expect("a valid header"),
        );
    }
    Ok(response)
}

/// Marks the session's order paid (once, unless `dedup` is off) and mails the receipt.
/// Returns false when the commit failed.
fn fulfil(state: &State, session_id: &str, email: Option<String>, dedup: bool) -> bool {
    let mut books = state.books();
    let Books { orders, receipts } = &mut *books;
    let Some(order) = orders
        .iter_mut()
        .find(|o| o.record.session_id.as_deref() == Some(session_id))
    else {
        return true;
    };
    if state.planted.flaky_commit && !order.commit_tried {
        order.commit_tried = true;
        return false;
    }
    if dedup && order.record.status == "paid" {
        return true;
    }
    order.record.status = "paid".into();
    order.record.buyer_email = email.clone();
    if let Some(email) = email {
        let product = &products()[order.product];
        receipts.push(format!(
            "To: {email}\r\nSubject: Your receipt for {name}\r\n\r\nOrder number: {id}\r\nProduct: {name}\r\nAmount paid: {price}\r\nBuyer: {email}\r\n",
            name = product.name,
            id = order.record.id,
            price = product.price_label(),
        ));
    }
    true
}

/// Stripe's signature check: `t=…,v1=…` over `"{t}.{body}"`, within 300 s of now.
fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if (now - t).abs() > 300 {
        return false;
    }
    let expected = mock_stripe::signature::sign(secret, t, body);
    let expected = expected.split_once(",v1=").map_or("", |(_, v)| v);
    signatures.contains(&expected)
}

#[handler]
async fn webhook(req: &Request, body: Vec<u8>, state: Data<&Arc<State>>) -> Response {
    let signature = req.header("stripe-signature").unwrap_or_default();
    if !verify(&state.webhook_secret, signature, &body) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let object = &event["data"]["object"];
    let session_id = object["id"].as_str().unwrap_or_default().to_string();
    match event["type"].as_str() {
        Some("checkout.session.completed") if object["payment_status"] == "paid" => {
            let email = object["customer_details"]["email"]
                .as_str()
                .map(str::to_owned);
            let dedup = state.planted.bug != Bug::NoDedup;
            if state.planted.bug == Bug::AcksBeforeCommit {
                // The bug: the answer goes first; a failed commit is never retried.
                let state = state.0.clone();
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    fulfil(&state, &session_id, email, dedup);
                });
                return StatusCode::OK.into_response();
            }
            if fulfil(&state, &session_id, email, dedup) {
                StatusCode::OK.into_response()
            } else {
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
        Some("checkout.session.expired") => {
            let mut books = state.books();
            if let Some(order) = books
                .orders
                .iter_mut()
                .find(|o| o.record.session_id.as_deref() == Some(session_id.as_str()))
                && order.record.status == "pending"
            {
                order.record.status = "expired".into();
            }
            StatusCode::OK.into_response()
        }
        _ => StatusCode::OK.into_response(),
    }
}
