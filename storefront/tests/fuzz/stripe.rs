//! A stand-in for Stripe's `POST /v1/checkout/sessions` that opens a new session for
//! every request, so any number of Buys can succeed (the helpers' `FakeStripe` answers
//! from a fixed script, and one session id can belong to one order only).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use poem::listener::TcpAcceptor;
use poem::web::{Data, Json};
use poem::{EndpointExt, Route, Server, handler, post};

use crate::helpers::session_json;

/// Where a created session sends the shopper; the session id follows.
pub const CHECKOUT_URL: &str = "https://checkout.stripe.test/c/pay/";

pub struct FakeCheckout {
    pub base_url: String,
    created: Arc<AtomicUsize>,
}

impl FakeCheckout {
    pub async fn start() -> FakeCheckout {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let created = Arc::new(AtomicUsize::new(0));
        let routes = Route::new()
            .at("/v1/checkout/sessions", post(create_session))
            .data(created.clone());
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(routes));
        FakeCheckout { base_url, created }
    }

    /// Sessions created so far.
    pub fn created(&self) -> usize {
        self.created.load(Ordering::SeqCst)
    }
}

/// An open, unpaid session with a fresh id and its payment page's URL.
#[handler]
fn create_session(created: Data<&Arc<AtomicUsize>>) -> Json<serde_json::Value> {
    let n = created.fetch_add(1, Ordering::SeqCst) + 1;
    let id = format!("cs_test_fuzz_{n}");
    let mut session = session_json(&id, 0, "unpaid", 0);
    session["status"] = "open".into();
    session["customer_details"] = serde_json::Value::Null;
    session["url"] = format!("{CHECKOUT_URL}{id}").into();
    Json(session)
}
