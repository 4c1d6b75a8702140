//! `mock-stripe trigger EVENT`: what `stripe trigger EVENT` does, against a running mock:
//! runs the event's fixture file, whose API calls make the mock emit the event. The files
//! are ours, in the Stripe CLI's format, in `fixtures/stripe-cli/triggers/` (embedded
//! here); the Checkout ones go through Checkout's own payment-page API as the CLI's do
//! (`GET /v1/payment_pages/{cs}`, `POST /v1/payment_methods`, `POST
//! /v1/payment_pages/{cs}/confirm`), so the real CLI and this command take the same path.
//!
//! The bank-debit events (`checkout.session.async_payment_*`) come when a SEPA debit
//! settles, which on the mock takes the account's `async_payment_delay` (3 days by
//! default, on the account's clock). In Stripe's test mode the test IBANs settle within
//! moments, so the trigger sets the delay to 0 for its run (`POST /_config/settings`) and
//! puts the old value back: the debit settles at once and nothing else about the account
//! (its clock, other jobs) moves.

use std::io::Write;
use std::path::Path;

use http::Method;

use super::client::{Api, error_message};
use super::fixtures::{self, FixtureError, FixtureFile, Options, Run};

/// An event `trigger` can make, and the fixture file that makes it.
pub struct Trigger {
    pub event: &'static str,
    /// The fixture file (JSON text).
    pub fixture: &'static str,
    /// It is emitted when a bank debit settles (see the module docs).
    pub settles_a_debit: bool,
}

macro_rules! triggers {
    ($($event:literal $(, $settles:ident)?;)+) => {
        &[$(Trigger {
            event: $event,
            fixture: include_str!(concat!(
                "../../../fixtures/stripe-cli/triggers/",
                $event,
                ".json"
            )),
            settles_a_debit: triggers!(@settles $($settles)?),
        },)+]
    };
    (@settles settles) => { true };
    (@settles) => { false };
}

/// Every event `trigger` knows.
pub const TRIGGERS: &[Trigger] = triggers! {
    "charge.captured";
    "charge.failed";
    "charge.refunded";
    "charge.succeeded";
    "checkout.session.async_payment_failed", settles;
    "checkout.session.async_payment_succeeded", settles;
    "checkout.session.completed";
    "checkout.session.expired";
    "customer.created";
    "customer.deleted";
    "customer.updated";
    "payment_intent.amount_capturable_updated";
    "payment_intent.canceled";
    "payment_intent.created";
    "payment_intent.payment_failed";
    "payment_intent.succeeded";
    "price.created";
    "price.updated";
    "product.created";
    "product.updated";
};

/// The trigger for `event`.
pub fn find(event: &str) -> Option<&'static Trigger> {
    TRIGGERS.iter().find(|t| t.event == event)
}

/// Why a trigger did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error(
        "The event `{0}` is not supported by mock-stripe trigger. Supported events: {list}. \
         Run your own fixture file with `mock-stripe fixtures FILE.json`.",
        list = TRIGGERS.iter().map(|t| t.event).collect::<Vec<_>>().join(", ")
    )]
    Unknown(String),
    #[error("Trigger failed: {0}")]
    Fixture(#[from] FixtureError),
    #[error(
        "Trigger failed: {event} needs a bank debit to settle at once, through the mock's control API, and {call} did not work ({reason}). Is {base} a mock-stripe?"
    )]
    Control {
        event: String,
        call: String,
        reason: String,
        base: String,
    },
}

/// Runs the trigger for `event` (or the fixture file `raw` instead of the built-in one)
/// against `api`, printing the Stripe CLI's lines to `out`, `Trigger succeeded! …` last.
pub async fn run<W: Write>(
    api: &Api,
    event: &str,
    raw: Option<&str>,
    options: &Options,
    out: &mut W,
) -> Result<Run, TriggerError> {
    let builtin = find(event);
    let text = match (raw, builtin) {
        (Some(raw), _) => raw,
        (None, Some(t)) => t.fixture,
        (None, None) => return Err(TriggerError::Unknown(event.to_string())),
    };
    let mut file = FixtureFile::parse(text.as_bytes())?;
    file.rewrite(options)?;
    let settles = builtin.is_some_and(|t| t.settles_a_debit);
    let restore = if settles {
        Some(settle_at_once(api, event).await?)
    } else {
        None
    };
    let result = fixtures::execute(&file, api, options, Path::new("."), out).await;
    if let Some(delay) = restore {
        set_delay(api, event, &delay).await?;
    }
    let run = result?;
    let _ = writeln!(out, "Trigger succeeded! Check dashboard for event details.");
    Ok(run)
}

/// Sets the account's `async_payment_delay` to 0; answers the value to put back.
async fn settle_at_once(api: &Api, event: &str) -> Result<String, TriggerError> {
    let failed = |reason: String| TriggerError::Control {
        event: event.to_string(),
        call: "GET /_config/settings".into(),
        reason,
        base: api.base.clone(),
    };
    let answer = api
        .control(Method::GET, "/settings", &[])
        .await
        .map_err(|e| failed(e.to_string()))?;
    let delay = answer.json()["async_payment_delay"].clone();
    let delay = match (answer.is_success(), delay.as_i64()) {
        (true, Some(d)) => d.to_string(),
        _ => return Err(failed(error_message(&answer))),
    };
    set_delay(api, event, "0").await?;
    Ok(delay)
}

async fn set_delay(api: &Api, event: &str, seconds: &str) -> Result<(), TriggerError> {
    let failed = |reason: String| TriggerError::Control {
        event: event.to_string(),
        call: format!("POST /_config/settings async_payment_delay={seconds}"),
        reason,
        base: api.base.clone(),
    };
    let answer = api
        .control(
            Method::POST,
            "/settings",
            &[("async_payment_delay", seconds.to_string())],
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
    if answer.is_success() {
        Ok(())
    } else {
        Err(failed(error_message(&answer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_fixture_is_a_valid_file_for_its_event() {
        for t in TRIGGERS {
            let file = FixtureFile::parse(t.fixture.as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", t.event));
            assert!(!file.fixtures.is_empty(), "{}", t.event);
            let names: Vec<&str> = file.fixtures.iter().map(|f| f.name.as_str()).collect();
            let mut unique = names.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{}: duplicate names", t.event);
        }
        let mut events: Vec<&str> = TRIGGERS.iter().map(|t| t.event).collect();
        events.sort();
        events.dedup();
        assert_eq!(events.len(), TRIGGERS.len());
        assert!(find("checkout.session.completed").is_some());
        assert!(find("invoice.paid").is_none());
    }

    #[test]
    fn checkout_completion_takes_the_stripe_cli_path() {
        let file = FixtureFile::parse(
            find("checkout.session.completed")
                .unwrap()
                .fixture
                .as_bytes(),
        )
        .unwrap();
        let calls: Vec<(String, String)> = file
            .fixtures
            .iter()
            .map(|f| (f.method.to_uppercase(), f.path.clone()))
            .collect();
        assert_eq!(
            calls,
            [
                ("POST", "/v1/products"),
                ("POST", "/v1/prices"),
                ("POST", "/v1/checkout/sessions"),
                ("GET", "/v1/payment_pages/${checkout_session:id}"),
                ("POST", "/v1/payment_methods"),
                ("POST", "/v1/payment_pages/${checkout_session:id}/confirm"),
            ]
            .map(|(m, p)| (m.to_string(), p.to_string()))
        );
    }

    #[test]
    fn unknown_events_list_the_known_ones() {
        let e = TriggerError::Unknown("invoice.paid".into()).to_string();
        assert!(e.contains("`invoice.paid` is not supported"), "{e}");
        assert!(e.contains("checkout.session.completed"), "{e}");
    }
}
