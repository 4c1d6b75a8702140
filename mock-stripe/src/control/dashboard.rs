//! `GET /_config/dashboard`: a page to look at one account, like Stripe's test-mode
//! dashboard: sessions, payments, events (each with a Resend button), every delivery
//! attempt with the endpoint's answer, and the active faults. The account is chosen by its
//! secret key (`?key=sk_test_…`, or the form the page shows without one); the page swaps in
//! fresh content every two seconds.

use askama::Template;
use http::StatusCode;

use super::Call;
use crate::engine::delivery::AttemptRecord;
use crate::money::format_amount;
use crate::protocol::{ApiError, ApiResult, Fields, auth};
use crate::server::{Resp, html_response};
use crate::store::{Account, AccountRef, lock};

/// Rows per table: the newest.
const ROWS: usize = 50;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    view: Option<AccountView>,
    error: Option<String>,
}

struct AccountView {
    key: String,
    masked_key: String,
    clock: String,
    clock_mode: &'static str,
    redirect_timing: &'static str,
    pending: usize,
    session_count: usize,
    event_count: usize,
    sessions: Vec<SessionRow>,
    payments: Vec<PaymentRow>,
    events: Vec<EventRow>,
    attempts: Vec<AttemptRow>,
    faults: Vec<FaultRow>,
}

struct SessionRow {
    created: String,
    id: String,
    status: String,
    payment_status: String,
    amount: String,
    email: String,
}

struct PaymentRow {
    created: String,
    id: String,
    status: String,
    amount: String,
    error: String,
}

struct EventRow {
    created: String,
    kind: String,
    id: String,
    pending: i64,
}

struct AttemptRow {
    created: String,
    event: String,
    event_type: String,
    endpoint: String,
    attempt: u32,
    succeeded: bool,
    answer: String,
    latency_ms: u64,
    response: String,
    fault: String,
}

struct FaultRow {
    id: String,
    target: String,
    kind: &'static str,
    remaining: u32,
    filter: String,
}

/// `2026-11-27 06:02:27` (UTC).
fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// An enum's wire name (they all serialise as their Stripe string).
fn name(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn attempt_row(a: &AttemptRecord) -> AttemptRow {
    AttemptRow {
        created: when(a.created),
        event: a.event.clone(),
        event_type: a.event_type.clone(),
        endpoint: a.endpoint.clone(),
        attempt: a.attempt,
        succeeded: a.succeeded,
        answer: match (a.status, &a.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => e.clone(),
            (None, None) => "—".into(),
        },
        latency_ms: a.latency_ms,
        response: a.response_body.chars().take(200).collect(),
        fault: a.fault.clone().unwrap_or_default(),
    }
}

fn view_of(acc: &Account, key: &str) -> AccountView {
    let sessions = acc.sessions.rows();
    let events = acc.events.rows();
    AccountView {
        key: key.to_string(),
        masked_key: auth::mask_key(key),
        clock: when(acc.now()),
        clock_mode: if acc.clock.is_virtual() {
            "virtual"
        } else {
            "real"
        },
        redirect_timing: acc.settings.redirect_timing.as_str(),
        pending: acc.deliveries.pending_count(),
        session_count: sessions.len(),
        event_count: events.len(),
        sessions: sessions
            .iter()
            .rev()
            .take(ROWS)
            .map(|s| SessionRow {
                created: when(s.created),
                id: s.id.clone(),
                status: name(s.status),
                payment_status: name(s.payment_status),
                amount: s
                    .amount_total
                    .map(|a| format_amount(a, s.currency.as_deref().unwrap_or("usd")))
                    .unwrap_or_default(),
                email: s
                    .customer_details
                    .as_ref()
                    .and_then(|d| d.email.clone())
                    .or_else(|| s.customer_email.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        payments: acc
            .payment_intents
            .rows()
            .iter()
            .rev()
            .take(ROWS)
            .map(|p| PaymentRow {
                created: when(p.created),
                id: p.id.clone(),
                status: name(p.status),
                amount: format_amount(p.amount, &p.currency),
                error: p
                    .last_payment_error
                    .as_ref()
                    .map(|e| e.error.message.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        events: events
            .iter()
            .rev()
            .take(ROWS)
            .map(|e| EventRow {
                created: when(e.created),
                kind: e.kind.clone(),
                id: e.id.clone(),
                pending: e.pending_webhooks,
            })
            .collect(),
        attempts: acc.deliveries.log().take(ROWS).map(attempt_row).collect(),
        faults: acc
            .faults
            .list()
            .iter()
            .map(|f| FaultRow {
                id: f.id.clone(),
                target: name(f.target),
                kind: f.kind.name(),
                remaining: f.remaining,
                filter: f
                    .path
                    .clone()
                    .or_else(|| f.event_type.clone())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

fn page(view: Option<AccountView>, error: Option<String>) -> Resp {
    let html = DashboardPage { view, error }.render().unwrap_or_else(|e| {
        tracing::error!("rendering the dashboard failed: {e}");
        "<!DOCTYPE html><title>Dashboard</title><p>mock-stripe could not render the dashboard. See its log.</p>".into()
    });
    html_response(StatusCode::OK, html, None)
}

/// The account a `key` form field names, checked like an `Authorization` header.
fn keyed_account(call: &Call<'_>, key: &str) -> Result<AccountRef, ApiError> {
    let header = format!("Bearer {key}");
    let key = auth::authenticate(Some(header.as_bytes()))?;
    call.app.store.account(&key)
}

/// `GET /_config/dashboard[?key=sk_test_…]`
pub(super) fn show(call: &Call<'_>) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let key = f.owned("key")?;
    f.finish()?;
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Ok(page(None, None));
    };
    match keyed_account(call, &key) {
        Ok(account) => {
            let view = view_of(&lock(&account), &key);
            Ok(page(Some(view), None))
        }
        Err(e) => Ok(page(None, Some(e.message))),
    }
}

/// `POST /_config/dashboard/redeliver` with `key` and `event`: the Resend button. Sends
/// the browser back to the dashboard.
pub(super) fn resend(call: &Call<'_>) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let key = f.owned("key")?.ok_or_else(|| ApiError::missing("key"))?;
    let event = f
        .owned("event")?
        .ok_or_else(|| ApiError::missing("event"))?;
    f.finish()?;
    let account = keyed_account(call, &key)?;
    super::deliveries::redeliver_to_all(call.app, &account, &event)?;
    let back = format!(
        "/_config/dashboard?key={}",
        percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC)
    );
    Ok(html_response(
        StatusCode::SEE_OTHER,
        String::new(),
        Some(&back),
    ))
}
