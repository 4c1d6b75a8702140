//! Everything that talks to Stripe, in one place (the seed's `Checkout` extension).
//!
//! Built once at start-up from the settings and shared with the handlers, which
//! never build clients or call async-stripe themselves.

use std::collections::HashMap;
use std::time::Duration;

use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_checkout::CheckoutSession;
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::CheckoutSessionPaymentStatus;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    ProductData,
};
use stripe_webhook::{Event, EventObject, Webhook, WebhookError};

use crate::catalogue::Product;
use crate::orders::CompletedCheckout;
use crate::settings::{Secret, Settings};

/// Stripe's placeholder, replaced by the real session id when it redirects the shopper.
pub const CHECKOUT_SESSION_ID_PLACEHOLDER: &str = "{CHECKOUT_SESSION_ID}";

/// A bound on each Stripe call, so a stalled provider can't hold a shopper's request forever.
const STRIPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts at creating a Checkout Session, and the pause before the second (doubled for
/// the third): short, because a shopper is waiting on the Buy button.
const CREATE_ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Whether trying again (with the same idempotency key) may succeed: the network, a
/// conflict with a request still running, rate limiting, or Stripe's own errors.
fn is_retryable(err: &stripe::StripeError) -> bool {
    match err {
        stripe::StripeError::ClientError(_) | stripe::StripeError::Timeout => true,
        stripe::StripeError::Stripe(_, status) => {
            *status == 409 || *status == 429 || *status >= 500
        }
        _ => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("the product {0} has no price")]
    NotForSale(i64),
    #[error("Stripe call failed: {0}")]
    Stripe(#[from] stripe::StripeError),
    #[error("Stripe returned a Checkout Session without a url (session {0})")]
    MissingUrl(String),
}

/// Where to send the shopper: the hosted payment page of a new Checkout Session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutRedirect {
    pub session_id: String,
    pub url: String,
}

pub struct Payments {
    client: stripe::Client,
    publishable_key: String,
    webhook_secret: Secret,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("publishable_key", &self.publishable_key)
            .finish_non_exhaustive()
    }
}

impl Payments {
    pub fn new(settings: &Settings) -> Result<Payments, stripe::StripeError> {
        // async-stripe builds request URLs as `{base}v1/…`: the base must end in '/'.
        let base = format!("{}/", settings.stripe_api_base.trim_end_matches('/'));
        let client = stripe::ClientBuilder::new(settings.stripe_secret_key.expose())
            .url(base)
            .timeout(STRIPE_TIMEOUT)
            .build()?;
        Ok(Payments {
            client,
            publishable_key: settings.stripe_publishable_key.clone(),
            webhook_secret: settings.stripe_webhook_secret.clone(),
        })
    }

    /// For pages that embed Stripe.js (none yet: Checkout is hosted).
    pub fn publishable_key(&self) -> &str {
        &self.publishable_key
    }

    /// Creates a payment-mode Checkout Session for one unit of `product`, tied to our order.
    ///
    /// Sent with the idempotency key `order-{order_id}` and retried (a few times, briefly:
    /// a shopper is waiting) when Stripe is unreachable, times out, or answers 409, 429 or
    /// 5xx. If an attempt created the session but its answer was lost, the retry gets that
    /// same session back, so one order never gets two sessions.
    pub async fn create_checkout_session(
        &self,
        product: &Product,
        order_id: i64,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<CheckoutRedirect, PaymentsError> {
        let request = checkout_session_request(product, order_id, success_url, cancel_url)?;
        let key = IdempotencyKey::new(format!("order-{order_id}"))
            .map_err(|e| stripe::StripeError::ConfigError(e.to_string()))?;
        let mut attempt = 0;
        let session = loop {
            attempt += 1;
            let result = request
                .customize()
                .request_strategy(RequestStrategy::Idempotent(key.clone()))
                .send(&self.client)
                .await;
            match result {
                Err(err) if attempt < CREATE_ATTEMPTS && is_retryable(&err) => {
                    tracing::warn!(order_id, attempt, error = %err, "creating the Checkout Session failed; retrying with the same idempotency key");
                    tokio::time::sleep(RETRY_PAUSE * attempt).await;
                }
                other => break other?,
            }
        };
        let session_id = session.id.as_str().to_owned();
        let url = session
            .url
            .ok_or_else(|| PaymentsError::MissingUrl(session_id.clone()))?;
        Ok(CheckoutRedirect { session_id, url })
    }

    /// Checks the `Stripe-Signature` header against the raw body, then parses the event.
    ///
    /// `construct_event` compares in constant time, accepts the event if any `v1`
    /// signature matches (so secret rolling works), and rejects a timestamp more
    /// than 300 s away from now in either direction.
    pub fn verify_webhook(
        &self,
        payload: &str,
        signature_header: &str,
    ) -> Result<Event, WebhookError> {
        if let Some(t) =
            timestamp_beyond_arithmetic(signature_header, chrono::Utc::now().timestamp())
        {
            return Err(WebhookError::BadTimestamp(t));
        }
        Webhook::construct_event(payload, signature_header, self.webhook_secret.expose())
    }
}

/// The header's `t` (the last one, as async-stripe reads it) when `now - t` overflows.
/// async-stripe computes `(now - t).abs()` unchecked once the signature matches: such a
/// `t` (only a holder of the secret can sign one) panics a debug build and, in a release
/// build, can wrap to a difference inside the tolerance. No such `t` is ever fresh.
fn timestamp_beyond_arithmetic(signature_header: &str, now: i64) -> Option<i64> {
    let t = signature_header
        .rsplit(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "t")?
        .1
        .parse::<i64>()
        .ok()?;
    now.checked_sub(t)
        .and_then(i64::checked_abs)
        .is_none()
        .then_some(t)
}

/// What a verified event means for the shop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckoutEvent {
    /// `checkout.session.completed` with `payment_status = paid`, or
    /// `checkout.session.async_payment_succeeded`: fulfil.
    Paid(CompletedCheckout),
    /// Completed with a delayed method (a bank debit): the money isn't there yet.
    AwaitingPayment(CompletedCheckout),
    /// `checkout.session.async_payment_failed`: the delayed payment never came.
    PaymentFailed(CompletedCheckout),
    /// `checkout.session.expired`: the shopper never paid.
    Expired(CompletedCheckout),
    /// Any other event type.
    Other { event_type: String },
}

/// Reads the parts of a verified event the shop acts on.
pub fn checkout_event(event: &Event) -> CheckoutEvent {
    match &event.data.object {
        EventObject::CheckoutSessionCompleted(session) => {
            if session.payment_status == CheckoutSessionPaymentStatus::Paid {
                CheckoutEvent::Paid(completed_checkout(session))
            } else {
                CheckoutEvent::AwaitingPayment(completed_checkout(session))
            }
        }
        EventObject::CheckoutSessionAsyncPaymentSucceeded(session) => {
            CheckoutEvent::Paid(completed_checkout(session))
        }
        EventObject::CheckoutSessionAsyncPaymentFailed(session) => {
            CheckoutEvent::PaymentFailed(completed_checkout(session))
        }
        EventObject::CheckoutSessionExpired(session) => {
            CheckoutEvent::Expired(completed_checkout(session))
        }
        _ => CheckoutEvent::Other {
            event_type: event.type_.as_str().to_owned(),
        },
    }
}

fn completed_checkout(session: &CheckoutSession) -> CompletedCheckout {
    let buyer_email = session
        .customer_details
        .as_ref()
        .and_then(|details| details.email.clone())
        .or_else(|| session.customer_email.clone())
        .filter(|email| !email.trim().is_empty());
    CompletedCheckout {
        session_id: session.id.as_str().to_owned(),
        order_id: session
            .metadata
            .as_ref()
            .and_then(|m| m.get("order_id"))
            .and_then(|id| id.parse().ok()),
        buyer_email,
        amount_cents: session.amount_total,
        currency: session.currency.as_ref().map(|c| c.to_string()),
    }
}

/// The request we send, built apart from sending so tests can inspect it.
fn checkout_session_request(
    product: &Product,
    order_id: i64,
    success_url: &str,
    cancel_url: &str,
) -> Result<CreateCheckoutSession, PaymentsError> {
    let unit_amount = product
        .price_cents
        .ok_or(PaymentsError::NotForSale(product.id))?;

    let mut product_data = ProductData::new(product.name.clone());
    if !product.description.trim().is_empty() {
        product_data.description = Some(product.description.clone());
    }
    product_data.images = product.image_url.clone().map(|url| vec![url]);

    let price_data = CreateCheckoutSessionLineItemsPriceData {
        // `Currency` lives in a crate we don't name; its FromStr can't fail.
        currency: product
            .currency
            .to_ascii_lowercase()
            .parse()
            .unwrap_or_else(|never| match never {}),
        unit_amount: Some(unit_amount),
        product_data: Some(product_data),
        product: None,
        recurring: None,
        tax_behavior: None,
        unit_amount_decimal: None,
    };

    let mut line_item = CreateCheckoutSessionLineItems::new();
    line_item.price_data = Some(price_data);
    line_item.quantity = Some(1);

    let metadata = HashMap::from([
        ("order_id".to_owned(), order_id.to_string()),
        ("product_id".to_owned(), product.id.to_string()),
    ]);

    Ok(CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![line_item])
        .success_url(success_url)
        .cancel_url(cancel_url)
        // As in the seed: the product id. The order travels in metadata.
        .client_reference_id(product.id.to_string())
        .metadata(metadata))
}

/// The URL Stripe sends the shopper back to, e.g.
/// `https://shop/products/3/post_checkout?status=success&session_id={CHECKOUT_SESSION_ID}`.
///
/// Built by hand: a URL builder would percent-encode the braces (`%7B…%7D`) and
/// Stripe would no longer recognise the placeholder (the seed's gotcha).
pub fn post_checkout_url(public_url: &str, product_id: i64, status: &str) -> String {
    format!(
        "{}/products/{product_id}/post_checkout?status={status}&session_id={CHECKOUT_SESSION_ID_PLACEHOLDER}",
        public_url.trim_end_matches('/')
    )
}

pub fn success_url(public_url: &str, product_id: i64) -> String {
    post_checkout_url(public_url, product_id, "success")
}

pub fn cancel_url(public_url: &str, product_id: i64) -> String {
    post_checkout_url(public_url, product_id, "cancel")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(price: Option<i64>) -> Product {
        Product {
            id: 3,
            name: "Knife Skills Cheat Sheet".into(),
            description: "A printable guide & more".into(),
            price_cents: price,
            currency: "usd".into(),
            image_url: Some("https://img.test/k.png".into()),
            created_at: chrono::Utc::now().fixed_offset(),
        }
    }

    #[test]
    fn return_urls_keep_the_placeholder_braces_literally() {
        let ok = success_url("http://127.0.0.1:8000/", 3);
        assert_eq!(
            ok,
            "http://127.0.0.1:8000/products/3/post_checkout?status=success&session_id={CHECKOUT_SESSION_ID}"
        );
        let cancel = cancel_url("https://shop.test", 12);
        assert_eq!(
            cancel,
            "https://shop.test/products/12/post_checkout?status=cancel&session_id={CHECKOUT_SESSION_ID}"
        );
        assert!(!ok.contains("%7B") && !cancel.contains("%7D"));
    }

    /// The form body async-stripe would send, decoded into (key, value) pairs.
    fn wire_form(request: &CreateCheckoutSession) -> HashMap<String, String> {
        use stripe::StripeRequest;
        let body = request.build().body.expect("a POST has a form body");
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn the_placeholder_reaches_stripe_literally() {
        let ok = success_url("http://s.test", 3);
        let request = checkout_session_request(
            &product(Some(500)),
            42,
            &ok,
            &cancel_url("http://s.test", 3),
        )
        .unwrap();
        let form = wire_form(&request);
        assert_eq!(
            form["success_url"],
            "http://s.test/products/3/post_checkout?status=success&session_id={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(
            form["cancel_url"],
            "http://s.test/products/3/post_checkout?status=cancel&session_id={CHECKOUT_SESSION_ID}"
        );
    }

    #[test]
    fn the_request_has_one_priced_line_item_and_our_references() {
        let request =
            checkout_session_request(&product(Some(500)), 42, "http://s/ok", "http://s/no")
                .unwrap();
        let form = wire_form(&request);
        assert_eq!(form["mode"], "payment");
        assert_eq!(form["client_reference_id"], "3");
        assert_eq!(form["metadata[order_id]"], "42");
        assert_eq!(form["metadata[product_id]"], "3");
        assert_eq!(form["line_items[0][quantity]"], "1");
        assert_eq!(form["line_items[0][price_data][currency]"], "usd");
        assert_eq!(form["line_items[0][price_data][unit_amount]"], "500");
        assert_eq!(
            form["line_items[0][price_data][product_data][name]"],
            "Knife Skills Cheat Sheet"
        );
        assert_eq!(
            form["line_items[0][price_data][product_data][description]"],
            "A printable guide & more"
        );
        assert_eq!(
            form["line_items[0][price_data][product_data][images][0]"],
            "https://img.test/k.png"
        );
        assert!(
            !form.keys().any(|k| k.starts_with("line_items[1]")),
            "{form:?}"
        );
    }

    #[test]
    fn a_signed_timestamp_too_far_for_the_arithmetic_is_refused_not_a_panic() {
        let now = 1_800_000_000;
        for t in [i64::MIN, i64::MIN + 1, now + i64::MIN] {
            let header = Webhook::generate_test_header("{}", "whsec_x", Some(t));
            assert_eq!(
                timestamp_beyond_arithmetic(&header, now),
                Some(t),
                "{header}"
            );
        }
        // Stale or from the future but computable: async-stripe's own check refuses those.
        for t in [0, -1, now - 301, now + 301, i64::MAX, now + i64::MIN + 1] {
            let header = Webhook::generate_test_header("{}", "whsec_x", Some(t));
            assert_eq!(timestamp_beyond_arithmetic(&header, now), None, "{header}");
        }
        // The last `t` counts, as in async-stripe; headers it can't read are its to refuse.
        let last = format!("t={},t=5,v1=00", i64::MIN);
        assert_eq!(timestamp_beyond_arithmetic(&last, now), None);
        let last = format!("t=5,t={},v1=00", i64::MIN);
        assert_eq!(timestamp_beyond_arithmetic(&last, now), Some(i64::MIN));
        for odd in ["", "t=", "t=x,v1=00", "v1=00", "garbage"] {
            assert_eq!(timestamp_beyond_arithmetic(odd, now), None, "{odd}");
        }
    }

    #[test]
    fn a_product_without_price_gets_no_session() {
        let err = checkout_session_request(&product(None), 1, "a", "b").unwrap_err();
        assert!(matches!(err, PaymentsError::NotForSale(3)));
    }
}
