//! `POST /webhooks/stripe`: the only place a purchase is recorded.
//!
//! Order of work: raw body and signature → verify → parse → one database
//! commit (the order paid, and its receipt claimed) → answer 2xx only after commit →
//! the receipt is written after the answer, by the receipt worker (`crate::receipts`),
//! whose sweep sends any receipt a crash left unsent. Stripe retries anything but a
//! 2xx, so every answer here is a decision about whether it should try again.

use poem::error::ReadBodyError;
use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{Body, IntoResponse, Request, Response, error::ResponseError, handler};
use serde_json::json;
use stripe_webhook::WebhookError;
use tracing::Instrument;

use super::{SharedState, read_body};
use crate::mail::MailError;
use crate::orders::{self, CompletedCheckout, MarkPaid, ReceiptError, ReceiptOutcome, Transition};
use crate::payments::{self, CheckoutEvent};
use crate::receipts;

#[derive(Debug, thiserror::Error)]
pub enum WebhookHandlerError {
    #[error("missing Stripe-Signature header")]
    MissingSignature,
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("the body could not be read: {0}")]
    BadBody(#[source] ReadBodyError),
    #[error("invalid signature")]
    BadSignature,
    #[error("signature timestamp outside the tolerance")]
    StaleTimestamp,
    #[error("signed event could not be parsed: {0}")]
    Unparseable(String),
    /// After commit: the order is recorded but its receipt wasn't written;
    /// a 5xx makes Stripe redeliver, which retries the mail.
    #[error("receipt not sent")]
    Receipt(#[source] ReceiptError),
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for WebhookHandlerError {
    fn status(&self) -> StatusCode {
        match self {
            WebhookHandlerError::MissingSignature
            | WebhookHandlerError::NotUtf8
            | WebhookHandlerError::BadSignature
            | WebhookHandlerError::StaleTimestamp
            | WebhookHandlerError::Unparseable(_) => StatusCode::BAD_REQUEST,
            WebhookHandlerError::BadBody(ReadBodyError::PayloadTooLarge) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            WebhookHandlerError::BadBody(_) => StatusCode::BAD_REQUEST,
            WebhookHandlerError::Receipt(_) | WebhookHandlerError::Unexpected(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn as_response(&self) -> Response {
        let message = match self {
            WebhookHandlerError::Receipt(cause) => {
                tracing::error!(error = ?cause, "webhook: order recorded, receipt failed; asking Stripe to retry");
                "internal error".to_owned()
            }
            WebhookHandlerError::Unexpected(cause) => {
                tracing::error!(error = ?cause, "webhook failed");
                "internal error".to_owned()
            }
            WebhookHandlerError::BadBody(ReadBodyError::PayloadTooLarge) => {
                return super::security::payload_too_large("/webhooks/stripe");
            }
            WebhookHandlerError::Unparseable(detail) => {
                tracing::error!(detail, "webhook: signed event could not be parsed");
                self.to_string()
            }
            other => {
                tracing::warn!(reason = %other, "webhook rejected");
                other.to_string()
            }
        };
        Json(json!({ "error": message }))
            .with_status(self.status())
            .into_response()
    }
}

impl From<WebhookError> for WebhookHandlerError {
    fn from(err: WebhookError) -> Self {
        match err {
            WebhookError::BadTimestamp(_) => WebhookHandlerError::StaleTimestamp,
            WebhookError::BadParse(detail) => WebhookHandlerError::Unparseable(detail),
            WebhookError::BadKey | WebhookError::BadHeader(_) | WebhookError::BadSignature => {
                WebhookHandlerError::BadSignature
            }
        }
    }
}

/// The orders table's text columns with a length (m20250101_000002_create_orders).
const SESSION_ID_MAX_CHARS: usize = 255;
const CURRENCY_MAX_CHARS: usize = 3;

/// Whether the text the shop records from a checkout fits its columns on every database:
/// PostgreSQL refuses a NUL character and text longer than its column (SQLite takes both),
/// which would be a 500 on every redelivery. Refused alike on both.
fn storable(checkout: &CompletedCheckout) -> bool {
    let fits =
        |text: &str, max_chars: usize| !text.contains('\0') && text.chars().count() <= max_chars;
    fits(&checkout.session_id, SESSION_ID_MAX_CHARS)
        && checkout
            .currency
            .as_deref()
            .is_none_or(|c| fits(c, CURRENCY_MAX_CHARS))
        && checkout
            .buyer_email
            .as_deref()
            .is_none_or(|e| fits(e, usize::MAX))
}

fn received(outcome: &str) -> Response {
    Json(json!({ "received": true, "outcome": outcome })).into_response()
}

/// A paid order's answer, saying what became of its receipt (for logs and tests).
fn paid(receipt: &str) -> Response {
    Json(json!({ "received": true, "outcome": "paid", "receipt": receipt })).into_response()
}

#[handler]
#[tracing::instrument(name = "stripe_webhook", skip_all, fields(event_id, event_type))]
pub async fn stripe(
    state: Data<&SharedState>,
    req: &Request,
    body: Body,
) -> Result<Response, WebhookHandlerError> {
    let signature = req
        .header("Stripe-Signature")
        .ok_or(WebhookHandlerError::MissingSignature)?;
    let body = read_body(body)
        .await
        .map_err(WebhookHandlerError::BadBody)?;
    // The signature covers the exact bytes: verify those, not a re-serialisation.
    let payload = std::str::from_utf8(&body).map_err(|_| WebhookHandlerError::NotUtf8)?;
    let event = state.payments.verify_webhook(payload, signature)?;
    let span = tracing::Span::current();
    span.record("event_id", event.id.as_str());
    span.record("event_type", event.type_.as_str());

    use crate::db::entities::orders::OrderStatus::{
        AwaitingPayment, Expired, PaymentFailed, Pending,
    };
    let (checkout, from, to) = match payments::checkout_event(&event) {
        CheckoutEvent::Paid(checkout) => (checkout, &[][..], None),
        // Delayed methods: the order waits for async_payment_succeeded or _failed.
        CheckoutEvent::AwaitingPayment(checkout) => {
            (checkout, &[Pending][..], Some(AwaitingPayment))
        }
        CheckoutEvent::PaymentFailed(checkout) => (
            checkout,
            &[Pending, AwaitingPayment][..],
            Some(PaymentFailed),
        ),
        CheckoutEvent::Expired(checkout) => (checkout, &[Pending][..], Some(Expired)),
        CheckoutEvent::Other { .. } => return Ok(received("ignored")),
    };
    if !storable(&checkout) {
        return Err(WebhookHandlerError::Unparseable(
            "the Checkout Session holds text the database can't store".to_owned(),
        ));
    }
    if let Some(to) = to {
        let moved = orders::transition(&state.db, &checkout, from, to)
            .await
            .map_err(|e| anyhow::Error::new(e).context("recording the checkout's turn"))?;
        return Ok(match moved {
            Transition::Moved(order) => {
                tracing::info!(order_id = order.id, session_id = %checkout.session_id, status = %to, "order updated");
                received(to.as_str())
            }
            Transition::Unchanged(order) => {
                tracing::info!(order_id = order.id, status = %order.status, "order already past this event; nothing changed");
                received("unchanged")
            }
            Transition::UnknownOrder => {
                tracing::warn!(session_id = %checkout.session_id, "no order matches this Checkout Session");
                received("unknown_order")
            }
        });
    }

    // The payment and, when the order is newly paid, its receipt's claim: one commit.
    let payment = state
        .writes
        .run({
            let checkout = checkout.clone();
            move |db| {
                Box::pin(async move {
                    orders::record_payment(&db, &checkout, Some(chrono::Utc::now())).await
                })
            }
        })
        .await
        .map_err(|e: sea_orm::DbErr| anyhow::Error::new(e).context("recording the payment"))?;
    let order = match &payment.outcome {
        MarkPaid::Recorded(order) => {
            tracing::info!(order_id = order.id, session_id = %checkout.session_id, "order paid");
            order
        }
        MarkPaid::AlreadyPaid(order) => {
            tracing::info!(order_id = order.id, session_id = %checkout.session_id, "order already paid; redelivery");
            order
        }
        MarkPaid::UnknownOrder => {
            // Answer 2xx: Stripe would retry a 4xx/5xx for days, and a session
            // we never created (another shop on the account, a test trigger)
            // won't become ours by retrying.
            tracing::warn!(session_id = %checkout.session_id, order_id = ?checkout.order_id, "no order matches this Checkout Session");
            return Ok(received("unknown_order"));
        }
    };

    if let MarkPaid::Recorded(order) = &payment.outcome {
        // Newly paid: the receipt is written after the answer. Its claim is committed with
        // the payment, so if this process dies before writing it the sweep sends it.
        return Ok(match payment.claim {
            Some(claim) => {
                if let Err(claim) = state.receipts.push(claim) {
                    // No worker (the server is stopping): write it on a task of its own.
                    let state = SharedState::clone(&state);
                    tokio::spawn(
                        async move {
                            receipts::send_claimed(&state.db, &state.mailer, vec![*claim]).await;
                        }
                        .in_current_span(),
                    );
                }
                paid("queued")
            }
            None => match order.buyer_email.as_deref() {
                None => {
                    tracing::warn!(
                        order_id = order.id,
                        "paid without a buyer email; no receipt"
                    );
                    paid("no_buyer_email")
                }
                // Retrying can't fix an address Stripe sent us: don't ask for redelivery.
                Some(email) => {
                    tracing::warn!(
                        order_id = order.id,
                        email,
                        "the buyer's address can't take mail; no receipt"
                    );
                    paid("bad_recipient")
                }
            },
        });
    }

    // A redelivery: the receipt may still be unsent (a failed write released its claim,
    // or its writer died and the claim expired). Sent before answering, so a failure is
    // a 5xx and Stripe retries. A claim still held by another writer (the worker, another
    // process) is waited for briefly, then answered 2xx: that claim is committed, so its
    // writer or, if it dies, the sweep once the claim expires sends the receipt; a retry
    // from Stripe would add nothing (and a correct shop answers 2xx to every genuine
    // delivery it has recorded). On a task of its own: if Stripe hangs
    // up mid-way (its timeout), the receipt's claim → write → mark still runs to the end
    // instead of stopping where the request was dropped (which would leave a claim to
    // expire and delay the receipt).
    let receipt = tokio::spawn({
        let (state, order_id) = (SharedState::clone(&state), order.id);
        async move { orders::send_receipt_if_due(&state.db, &state.mailer, order_id).await }
            .in_current_span()
    })
    .await
    .map_err(|e| anyhow::Error::new(e).context("sending the receipt"))?;
    match receipt {
        Ok(ReceiptOutcome::Sent(message_id)) => {
            tracing::info!(order_id = order.id, message_id, "receipt written");
            Ok(paid("sent"))
        }
        Ok(ReceiptOutcome::AlreadySent) => Ok(paid("already_sent")),
        Ok(ReceiptOutcome::NotPaid) => Ok(paid("not_due")),
        Ok(ReceiptOutcome::NoBuyerEmail) => {
            tracing::warn!(
                order_id = order.id,
                "paid without a buyer email; no receipt"
            );
            Ok(paid("no_buyer_email"))
        }
        Ok(ReceiptOutcome::InProgress) => {
            tracing::info!(
                order_id = order.id,
                "receipt claimed by another writer that has not finished; it (or the sweep) sends it"
            );
            Ok(paid("in_progress"))
        }
        // Retrying can't fix an address Stripe sent us: don't ask for redelivery.
        Err(ReceiptError::Mail(err @ MailError::BadRecipient(_))) => {
            tracing::warn!(order_id = order.id, error = %err, "no receipt");
            Ok(paid("bad_recipient"))
        }
        Err(err) => Err(WebhookHandlerError::Receipt(err)),
    }
}
