//! `POST /_config/checkout/sessions/{id}/complete`: pays a session exactly as the hosted
//! page would (same checks, same events, same redirect timing), for fast headless tests.

use super::Call;
use crate::cards;
use crate::engine::clock::year_month;
use crate::engine::step::Routing;
use crate::protocol::error::CardDetails;
use crate::protocol::{ApiError, ApiResult, Fields, Params};
use crate::resources::checkout_sessions::{self, PayResult, Payer};
use crate::server::{Resp, json_response};
use crate::store::{RedirectTiming, lock};

const COMPLETED: &str = "checkout.session.completed";

/// Answers the completed session, or for a decline the card error as Stripe answers a
/// declined charge (402 `card_error`).
pub(super) async fn complete(call: &Call<'_>, id: &str) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let number = f
        .owned("card")?
        .unwrap_or_else(|| "4242424242424242".to_string());
    let email = f
        .owned("email")?
        .unwrap_or_else(|| "buyer@example.com".to_string());
    let name = f.owned("name")?;
    f.finish()?;

    let account = call.account()?;
    let (now, timing) = {
        let acc = lock(account);
        (acc.now(), acc.settings.redirect_timing)
    };
    // Any future expiry and a CVC of the right length, as the test-card docs say.
    let (year, _) = year_month(now);
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let cvc = if cards::brand(&digits) == "amex" {
        "1234"
    } else {
        "123"
    };
    let card =
        cards::check(&number, &format!("12/{}", (year + 5) % 100), cvc, now).map_err(|e| {
            ApiError::card(
                e.code,
                e.message,
                CardDetails {
                    decline_code: e.decline_code.map(str::to_string),
                    charge: None,
                    payment_intent: None,
                },
            )
            .with_param("card")
        })?;
    let payer = Payer {
        card: &card,
        email: &email,
        name: name.as_deref(),
    };
    let stepped = call.app.engine.step_routed(
        account,
        Routing {
            hold: (timing == RedirectTiming::After).then_some(COMPLETED),
        },
        |acc| -> ApiResult<_> {
            if acc.sessions.get(id).is_none() {
                return Err(ApiError::no_such("checkout.session", id, "session", true));
            }
            match checkout_sessions::pay(acc, id, &payer)? {
                PayResult::Completed(_) => {}
                PayResult::Declined(e) => {
                    let session = acc.sessions.get(id).expect("checked above");
                    let pi = session
                        .payment_intent
                        .as_deref()
                        .and_then(|p| acc.payment_intents.get(p));
                    return Err(ApiError::card(
                        e.code,
                        e.message,
                        CardDetails {
                            decline_code: e.decline_code.map(str::to_string),
                            charge: pi.and_then(|p| p.latest_charge.clone()),
                            payment_intent: pi
                                .and_then(|p| serde_json::to_value(p.json(None)).ok()),
                        },
                    ));
                }
                PayResult::AlreadyComplete(_) => return Err(not_open(id, "complete")),
                PayResult::Expired => return Err(not_open(id, "expired")),
            }
            checkout_sessions::retrieve(acc, id, &Params::default(), &call.ctx)
        },
    );
    let completed = stepped.deliveries_of(COMPLETED);
    let reply = stepped.value?;
    crate::hosted::redirect_timed(call.app, account, timing, completed).await;
    Ok(json_response(reply.status, reply.body))
}

fn not_open(id: &str, status: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Only Checkout Sessions with a status in [\"open\"] can be completed. This Checkout Session ({id}) has a status of `{status}`."
    ))
    .with_param("session")
}
