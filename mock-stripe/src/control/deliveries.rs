//! `/_config/deliveries` (every attempt, newest first) and
//! `/_config/events/{id}/redeliver` (a manual resend).

use super::{Call, ok};
use crate::app::App;
use crate::engine::delivery::{Target, current_target, targets_for};
use crate::protocol::{ApiError, ApiResult, Fields};
use crate::server::Resp;
use crate::store::{AccountRef, lock};

/// `GET /_config/deliveries`, filterable by `event` and `endpoint` (`we_…` or a forward-to
/// URL), `limit` 1..=1000 (default 100).
pub(super) fn list(call: &Call<'_>) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let event = f.owned("event")?;
    let endpoint = f.owned("endpoint")?;
    let limit = f.int("limit")?.unwrap_or(100);
    f.finish()?;
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "limit must be between 1 and 1000.",
        ));
    }
    let acc = lock(call.account()?);
    let mut matching = acc
        .deliveries
        .log()
        .filter(|r| event.as_deref().is_none_or(|e| r.event == e))
        .filter(|r| endpoint.as_deref().is_none_or(|e| r.endpoint == e));
    let data: Vec<_> = matching.by_ref().take(limit as usize).collect();
    let has_more = matching.next().is_some();
    ok(&serde_json::json!({
        "object": "list",
        "data": data,
        "has_more": has_more,
        "url": "/_config/deliveries",
        "pending": acc.deliveries.pending_count(),
    }))
}

/// `POST /_config/events/{id}/redeliver`: to every endpoint that receives the event's type,
/// or only to `endpoint=we_…`. The same bytes, signed afresh.
pub(super) fn redeliver(call: &Call<'_>, event_id: &str) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let endpoint = f.owned("endpoint")?;
    f.finish()?;
    let queued = queue_redelivery(call.app, call.account()?, event_id, endpoint.as_deref())?;
    ok(
        &serde_json::json!({"object": "mock_redelivery", "event": event_id, "deliveries_queued": queued}),
    )
}

/// The dashboard's Resend button: every endpoint that receives the event.
pub(super) fn redeliver_to_all(
    app: &App,
    account: &AccountRef,
    event_id: &str,
) -> ApiResult<usize> {
    queue_redelivery(app, account, event_id, None)
}

fn queue_redelivery(
    app: &App,
    account: &AccountRef,
    event_id: &str,
    endpoint: Option<&str>,
) -> ApiResult<usize> {
    let globals = app
        .engine
        .globals
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let (kind, targets) = {
        let mut acc = lock(account);
        let kind = acc
            .events
            .get(event_id)
            .ok_or_else(|| ApiError::no_such("event", event_id, "id", true))?
            .kind
            .clone();
        let targets: Vec<(Target, Option<String>)> = match endpoint {
            Some(we) => {
                let ep = acc
                    .webhook_endpoints
                    .get(we)
                    .ok_or_else(|| ApiError::no_such("webhook_endpoint", we, "endpoint", false))?;
                let version = ep.api_version.clone();
                let target = Target::Endpoint {
                    id: ep.id.clone(),
                    url: ep.url.clone(),
                    secret: ep.secret.clone(),
                };
                let target = current_target(&acc, &target).ok_or_else(|| {
                    ApiError::invalid(
                        "endpoint",
                        format!("The webhook endpoint {we} is disabled."),
                    )
                })?;
                vec![(target, version)]
            }
            None => targets_for(&acc, &globals, &kind),
        };
        let event = acc.events.get_mut(event_id).expect("looked up above");
        let mut bodies = Vec::with_capacity(targets.len());
        for (target, version) in targets {
            bodies.push((target, event.delivery_body_at(version.as_deref())?));
        }
        (kind, bodies)
    };
    let queued = targets.len();
    app.engine.redeliver(account, event_id, &kind, targets);
    Ok(queued)
}
