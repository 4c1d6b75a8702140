//! `POST /_config/checkout/sessions/{id}/complete`: pays a session exactly as the hosted
//! page would (same checks, same events, same redirect timing), for fast headless tests.

use super::Call;
use crate::bank_debits::{BankAccount, BankKind};
use crate::cards;
use crate::engine::step::Routing;
use crate::protocol::error::CardDetails;
use crate::protocol::{ApiError, ApiResult, Fields, Params};
use crate::resources::checkout_sessions::{self, PayResult, Payer};
use crate::server::{Resp, json_response};
use crate::store::{AccountRef, RedirectTiming, lock};

const COMPLETED: &str = "checkout.session.completed";

/// Answers the completed session, or for a decline the card error as Stripe answers a
/// declined charge (402 `card_error`).
pub(super) async fn complete(call: &Call<'_>, id: &str) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let card_given = f.owned("card")?;
    let bank = f.one_of("payment_method", &["card", "sepa_debit", "us_bank_account"])?;
    let outcome = f.one_of("outcome", &["succeeded", "failed"])?;
    let bank = bank.and_then(BankKind::parse);
    if bank.is_some() && card_given.is_some() {
        return Err(ApiError::exclusive("card", "payment_method"));
    }
    if bank.is_none() && outcome.is_some() {
        return Err(ApiError::invalid(
            "outcome",
            "outcome is for payment_method=sepa_debit or us_bank_account; a card's outcome is its number.",
        ));
    }
    let number = card_given.unwrap_or_else(|| "4242424242424242".to_string());
    let email = f
        .owned("email")?
        .unwrap_or_else(|| "buyer@example.com".to_string());
    let name = f.owned("name")?;
    let three_d_secure = f.one_of("three_d_secure", &["complete", "fail"])?;
    f.finish()?;

    let account = call.account()?;
    if let Some(kind) = bank {
        let bank = kind.test_account(outcome != Some("failed"));
        return complete_by_bank(call, account, id, &bank, &email, name.as_deref()).await;
    }
    let (now, timing) = {
        let acc = lock(account);
        (acc.now(), acc.settings.redirect_timing)
    };
    // Any future expiry and a CVC of the right length, as the test-card docs say.
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let cvc = if cards::brand(&digits) == cards::Brand::Amex {
        "1234"
    } else {
        "123"
    };
    let card = cards::check(&number, &cards::future_expiry(now), cvc, now).map_err(|e| {
        ApiError::card(
            e.code.as_str(),
            e.message,
            CardDetails {
                decline_code: e.decline_code.map(|d| d.as_str().to_string()),
                charge: None,
                payment_intent: None,
                ..Default::default()
            },
        )
        .with_param("card")
    })?;
    let payer = Payer {
        card: &card,
        email: &email,
        name: name.as_deref(),
        // A card that requires 3-D Secure is authenticated unless told to fail.
        authenticated: Some(three_d_secure != Some("fail")),
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
                    return Err(checkout_sessions::decline_error(acc, id, e));
                }
                PayResult::AlreadyComplete(_) => return Err(not_open(id, "complete")),
                PayResult::Expired => return Err(not_open(id, "expired")),
                PayResult::RequiresAuthentication { .. } => {
                    return Err(ApiError::internal(
                        "headless completion answers 3-D Secure itself; it cannot be left waiting",
                    ));
                }
            }
            checkout_sessions::retrieve(acc, id, &Params::default(), &call.ctx)
        },
    );
    let completed = stepped.deliveries_of(COMPLETED);
    let reply = stepped.value?;
    crate::hosted::redirect_timed(call.app, account, timing, completed).await;
    Ok(json_response(reply.status, reply.body))
}

/// The delayed-notification path: the session completes unpaid now; the debit settles or
/// fails after the account's `async_payment_delay`, on its clock.
async fn complete_by_bank(
    call: &Call<'_>,
    account: &AccountRef,
    id: &str,
    bank: &BankAccount,
    email: &str,
    name: Option<&str>,
) -> ApiResult<Resp> {
    let timing = lock(account).settings.redirect_timing;
    let stepped = call.app.engine.step_routed(
        account,
        Routing {
            hold: (timing == RedirectTiming::After).then_some(COMPLETED),
        },
        |acc| -> ApiResult<_> {
            let session = acc
                .sessions
                .get(id)
                .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
            let wanted = bank.kind.currency();
            if session.currency.as_deref() != Some(wanted) {
                return Err(ApiError::invalid(
                    "payment_method",
                    format!(
                        "payment_method={} debits in {wanted}; this Checkout Session is in {}.",
                        bank.kind.as_str(),
                        session.currency.as_deref().unwrap_or("no currency")
                    ),
                ));
            }
            match checkout_sessions::pay_by_bank(acc, id, bank, email, name)? {
                PayResult::AlreadyComplete(_) => return Err(not_open(id, "complete")),
                PayResult::Expired => return Err(not_open(id, "expired")),
                _ => {}
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
