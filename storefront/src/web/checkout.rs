//! Buying: Buy creates a pending order and a Checkout Session, then sends the
//! shopper to Stripe; `post_checkout` is where Stripe sends them back.

use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfVerifier, Data, Path, Redirect};
use poem::{Body, Request, Response, error::ResponseError, handler};

use super::templates::{error_page, internal_error_page, not_found_page};
use super::{SharedState, flash, parse_id, read_body};
use crate::catalogue;
use crate::orders::{self, CreateOrderError};
use crate::payments::{self, PaymentsError};

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("no such product")]
    NotFound,
    #[error("missing or invalid CSRF token")]
    CsrfRejected,
    #[error("{0:?} has no price and can't be bought")]
    NotForSale(String),
    #[error("the request body could not be read: {0}")]
    BadBody(#[source] poem::error::ReadBodyError),
    #[error("the payment provider failed")]
    PaymentProvider(#[source] PaymentsError),
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for CheckoutError {
    fn from(err: sea_orm::DbErr) -> Self {
        CheckoutError::Unexpected(anyhow::Error::new(err).context("database"))
    }
}

impl ResponseError for CheckoutError {
    fn status(&self) -> StatusCode {
        match self {
            CheckoutError::NotFound => StatusCode::NOT_FOUND,
            CheckoutError::CsrfRejected => StatusCode::FORBIDDEN,
            CheckoutError::NotForSale(_) => StatusCode::BAD_REQUEST,
            CheckoutError::BadBody(poem::error::ReadBodyError::PayloadTooLarge) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            CheckoutError::BadBody(_) => StatusCode::BAD_REQUEST,
            CheckoutError::PaymentProvider(_) => StatusCode::BAD_GATEWAY,
            CheckoutError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        match self {
            CheckoutError::NotFound => not_found_page(),
            CheckoutError::CsrfRejected => error_page(
                self.status(),
                "Your session expired",
                "Your session expired, reload the page and try again.",
            ),
            CheckoutError::NotForSale(name) => error_page(
                self.status(),
                "Not for sale",
                &format!("{name} can't be bought yet: it has no price."),
            ),
            CheckoutError::BadBody(poem::error::ReadBodyError::PayloadTooLarge) => {
                super::security::payload_too_large("/products/")
            }
            CheckoutError::BadBody(cause) => {
                tracing::warn!(error = %cause, "unreadable form");
                error_page(
                    self.status(),
                    "Bad request",
                    "The form couldn't be read. Reload the page and try again.",
                )
            }
            CheckoutError::PaymentProvider(cause) => {
                tracing::error!(error = %cause, "creating the Checkout Session failed");
                error_page(
                    self.status(),
                    "Payment provider unavailable",
                    "We couldn't reach the payment provider, please try again.",
                )
            }
            CheckoutError::Unexpected(cause) => {
                tracing::error!(error = ?cause, "checkout failed");
                internal_error_page()
            }
        }
    }
}

/// The first value of `name` in a urlencoded string (a form body or a query).
fn field(encoded: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[handler]
#[tracing::instrument(name = "buy", skip(state, verifier, body))]
pub async fn buy(
    Path(id): Path<String>,
    state: Data<&SharedState>,
    verifier: &CsrfVerifier,
    body: Body,
) -> Result<Redirect, CheckoutError> {
    let body = read_body(body).await.map_err(CheckoutError::BadBody)?;
    // The Csrf middleware only provides the verifier; rejecting is our job.
    // Checked first: without a valid token nothing else happens.
    let token = field(&body, "csrf_token").ok_or(CheckoutError::CsrfRejected)?;
    if !verifier.is_valid(&token) {
        return Err(CheckoutError::CsrfRejected);
    }

    let id = parse_id(&id).ok_or(CheckoutError::NotFound)?;
    let product = catalogue::find(&state.reader, id)
        .await?
        .ok_or(CheckoutError::NotFound)?;

    // The order exists before Stripe is called, so a failure below leaves a
    // visible pending order rather than nothing.
    let order = match state
        .writes
        .run({
            let product = product.clone();
            move |db| Box::pin(async move { orders::create_pending(&db, &product).await })
        })
        .await
    {
        Ok(order) => order,
        Err(CreateOrderError::NotForSale(name)) => return Err(CheckoutError::NotForSale(name)),
        Err(CreateOrderError::Db(err)) => return Err(err.into()),
    };
    tracing::info!(order_id = order.id, "pending order created");

    let redirect = state
        .payments
        .create_checkout_session(
            &product,
            order.id,
            &payments::success_url(&state.public_url, product.id),
            &payments::cancel_url(&state.public_url, product.id),
        )
        .await
        .map_err(CheckoutError::PaymentProvider)?;

    let attached = state
        .writes
        .run({
            let (order_id, session_id) = (order.id, redirect.session_id.clone());
            move |db| {
                Box::pin(async move {
                    orders::attach_checkout_session(&db, order_id, &session_id).await
                })
            }
        })
        .await?;
    if !attached {
        return Err(anyhow::anyhow!("order {} already has a Checkout Session", order.id).into());
    }
    if !(redirect.url.starts_with("https://") || redirect.url.starts_with("http://")) {
        return Err(CheckoutError::PaymentProvider(PaymentsError::MissingUrl(
            redirect.session_id,
        )));
    }
    tracing::info!(order_id = order.id, session_id = %redirect.session_id, "sending the shopper to Checkout");
    Ok(Redirect::see_other(redirect.url))
}

/// Where Stripe sends the shopper back. Anyone can load this URL, so it only
/// shows a message: purchases are recorded by the signed webhook alone.
#[handler]
#[tracing::instrument(name = "post_checkout", skip(state, session, req))]
pub async fn post_checkout(
    Path(id): Path<String>,
    state: Data<&SharedState>,
    session: &Session,
    req: &Request,
) -> Result<Redirect, CheckoutError> {
    let id = parse_id(&id).ok_or(CheckoutError::NotFound)?;
    let product = catalogue::find(&state.reader, id)
        .await?
        .ok_or(CheckoutError::NotFound)?;

    let query = req.uri().query().unwrap_or("").as_bytes();
    let has_session = field(query, "session_id").is_some_and(|s| !s.trim().is_empty());
    match field(query, "status").as_deref() {
        Some("success") if has_session => flash::push(
            session,
            flash::Category::Success,
            format!(
                "Thanks for purchasing {}. You will receive an email shortly",
                product.name
            ),
        ),
        Some("cancel") if has_session => flash::push(
            session,
            flash::Category::Danger,
            "There was an error while attempting to purchase this product. Try again",
        ),
        // Not a return from Checkout: just show the product.
        _ => {}
    }
    Ok(Redirect::see_other(format!("/products/{}", product.id)))
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(
            field(b"a=1&csrf_token=ab%2Bc%3D%3D", "csrf_token").as_deref(),
            Some("ab+c==")
        );
        assert_eq!(
            field(b"csrf_token=x&csrf_token=y", "csrf_token").as_deref(),
            Some("x")
        );
        assert_eq!(field(b"", "csrf_token"), None);
        assert_eq!(field(b"\xff\xfe=%%", "csrf_token"), None);
    }
}
