//! `/_config/faults`: inject API and webhook faults (see `engine/faults.rs` for what each
//! kind does). Rules apply in the order created and are used up.

use serde::Serialize;

use super::{Call, ok};
use crate::engine::faults::{Fault, FaultKind, FaultTarget, MAX_RULES};
use crate::protocol::{ApiError, ApiResult, Fields};
use crate::server::Resp;
use crate::store::lock;

/// Bounds on what one rule may ask for.
const MAX_COUNT: i64 = 10_000;
/// API delays and timeouts hold a connection in real time: keep them short.
const MAX_API_SECONDS: i64 = 120;
/// Webhook delays are on the account's clock: up to Stripe's retry horizon and beyond.
const MAX_WEBHOOK_SECONDS: i64 = 30 * 86_400;

#[derive(Serialize)]
struct FaultJson<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    target: FaultTarget,
    kind: &'static str,
    status: Option<u16>,
    seconds: Option<u64>,
    remaining: u32,
    path: Option<&'a str>,
    event_type: Option<&'a str>,
}

fn render(f: &Fault) -> FaultJson<'_> {
    let (status, seconds) = match f.kind {
        FaultKind::Status(s) => (Some(s), None),
        FaultKind::Timeout(s) | FaultKind::Delay(s) | FaultKind::Reorder(s) => (None, Some(s)),
        _ => (None, None),
    };
    FaultJson {
        id: &f.id,
        object: "mock_fault",
        created: f.created,
        target: f.target,
        kind: f.kind.name(),
        status,
        seconds,
        remaining: f.remaining,
        path: f.path.as_deref(),
        event_type: f.event_type.as_deref(),
    }
}

/// `POST /_config/faults`
pub(super) fn create(call: &Call<'_>) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let target = match f.one_of("target", &["api", "webhook"])? {
        Some("api") => FaultTarget::Api,
        Some(_) => FaultTarget::Webhook,
        None => return Err(ApiError::missing("target")),
    };
    let kind_name = f
        .one_of(
            "kind",
            &[
                "status",
                "timeout",
                "duplicate",
                "reorder",
                "delay",
                "bad_signature",
                "drop",
            ],
        )?
        .ok_or_else(|| ApiError::missing("kind"))?;
    let status = f.int("status")?;
    let seconds = f.int("seconds")?;
    let count = f.int("count")?.unwrap_or(1);
    let path = f.owned("path")?;
    let event_type = f.owned("event_type")?;
    f.finish()?;

    let max_seconds = match target {
        FaultTarget::Api => MAX_API_SECONDS,
        FaultTarget::Webhook => MAX_WEBHOOK_SECONDS,
    };
    let secs = |default: Option<i64>| -> ApiResult<u64> {
        let s = seconds
            .or(default)
            .ok_or_else(|| ApiError::missing("seconds"))?;
        if s < 0 {
            return Err(ApiError::too_small("seconds", 0));
        }
        if s > max_seconds {
            return Err(ApiError::too_large("seconds", max_seconds));
        }
        Ok(s as u64)
    };
    let kind = match kind_name {
        "status" => {
            let s = status.ok_or_else(|| ApiError::missing("status"))?;
            if !(400..=599).contains(&s) {
                return Err(ApiError::invalid(
                    "status",
                    "status must be an HTTP error status, from 400 to 599.",
                ));
            }
            FaultKind::Status(s as u16)
        }
        "timeout" => FaultKind::Timeout(secs(Some(0))?),
        "duplicate" => FaultKind::Duplicate,
        "reorder" => FaultKind::Reorder(secs(Some(5))?),
        "delay" => FaultKind::Delay(secs(None)?),
        "bad_signature" => FaultKind::BadSignature,
        _ => FaultKind::Drop,
    };
    if status.is_some() && kind_name != "status" {
        return Err(ApiError::invalid(
            "status",
            "status is only for kind=status.",
        ));
    }
    if target == FaultTarget::Api && !kind.applies_to_api() {
        return Err(ApiError::invalid(
            "kind",
            format!(
                "kind={kind_name} is a webhook fault. API faults are status, timeout, delay and drop."
            ),
        ));
    }
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ApiError::invalid(
            "count",
            format!("count must be between 1 and {MAX_COUNT}."),
        ));
    }
    if let Some(p) = &path {
        if target != FaultTarget::Api {
            return Err(ApiError::invalid("path", "path is only for target=api."));
        }
        if !p.starts_with("/v1/") || p.len() > 200 {
            return Err(ApiError::invalid(
                "path",
                "path must be an API path such as /v1/checkout/sessions.",
            ));
        }
    }
    if let Some(t) = &event_type {
        if target != FaultTarget::Webhook {
            return Err(ApiError::invalid(
                "event_type",
                "event_type is only for target=webhook.",
            ));
        }
        if t.is_empty() || t.len() > 100 {
            return Err(ApiError::invalid(
                "event_type",
                "event_type must be an event type such as checkout.session.completed.",
            ));
        }
    }
    let account = call.account()?;
    let added = call
        .app
        .engine
        .step(account, |acc| {
            let fault = Fault {
                id: acc.ids.object("flt_"),
                created: acc.now(),
                target,
                kind,
                remaining: count as u32,
                path,
                event_type,
            };
            acc.faults.add(fault.clone()).map(|()| fault)
        })
        .value;
    match added {
        Ok(fault) => ok(&render(&fault)),
        Err(_) => Err(ApiError::bad_request(format!(
            "An account can have at most {MAX_RULES} active faults. DELETE /_config/faults clears them."
        ))),
    }
}

/// `GET /_config/faults`: the active rules with their remaining counts, in order.
pub(super) fn list(call: &Call<'_>) -> ApiResult<Resp> {
    Fields::root(&call.params).finish()?;
    let acc = lock(call.account()?);
    let data: Vec<_> = acc.faults.list().iter().map(render).collect();
    ok(
        &serde_json::json!({"object": "list", "data": data, "has_more": false, "url": "/_config/faults"}),
    )
}

/// `DELETE /_config/faults`
pub(super) fn clear(call: &Call<'_>) -> ApiResult<Resp> {
    Fields::root(&call.params).finish()?;
    let cleared = call
        .app
        .engine
        .step(call.account()?, |acc| {
            let n = acc.faults.list().len();
            acc.faults.clear();
            n
        })
        .value;
    ok(&serde_json::json!({"object": "mock_faults", "deleted": cleared}))
}
