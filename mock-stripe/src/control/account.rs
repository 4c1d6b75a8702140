//! Account-wide control calls: settings, emptying the account, health, and localstripe's
//! `/_config/webhooks/{id}` (so localstripe users' scripts keep working).

use serde::Serialize;

use super::{Call, ok};
use crate::WebhookTarget;
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Fields};
use crate::resources::{check_url, webhook_endpoints};
use crate::server::Resp;
use crate::store::{AccountSettings, RedirectTiming, lock};

#[derive(Serialize)]
struct SettingsJson {
    object: &'static str,
    redirect_timing: &'static str,
    async_payment_delay: i64,
    api_version: String,
}

fn render(s: &AccountSettings) -> SettingsJson {
    SettingsJson {
        object: "mock_settings",
        redirect_timing: s.redirect_timing.as_str(),
        async_payment_delay: s.async_payment_delay_secs,
        api_version: s.api_version.to_string(),
    }
}

/// `GET /_config/settings`
pub(super) fn settings(call: &Call<'_>) -> ApiResult<Resp> {
    Fields::root(&call.params).finish()?;
    ok(&render(&lock(call.account()?).settings))
}

/// `POST /_config/settings` with `redirect_timing=before|after|concurrent`,
/// `async_payment_delay` (seconds a bank debit takes to settle, on the account's clock) and
/// `api_version` (the account's default API version, as `--api-version` sets for all).
pub(super) fn update_settings(call: &Call<'_>) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let timing = f
        .one_of("redirect_timing", &["before", "after", "concurrent"])?
        .and_then(RedirectTiming::parse);
    let delay = f.int("async_payment_delay")?;
    let api_version = f
        .string("api_version")?
        .map(|v| {
            ApiVersion::parse(v).ok_or_else(|| {
                ApiError::invalid("api_version", format!("Invalid Stripe API version: {v}"))
            })
        })
        .transpose()?;
    f.finish()?;
    if let Some(d) = delay
        && !(0..=30 * 86_400).contains(&d)
    {
        return Err(ApiError::invalid(
            "async_payment_delay",
            "async_payment_delay must be between 0 and 2592000 seconds (30 days).",
        ));
    }
    let settings = call
        .app
        .engine
        .step(call.account()?, |acc| {
            if let Some(t) = timing {
                acc.settings.redirect_timing = t;
            }
            if let Some(d) = delay {
                acc.settings.async_payment_delay_secs = d;
            }
            if let Some(v) = api_version {
                acc.settings.api_version = v;
            }
            acc.settings.clone()
        })
        .value;
    ok(&render(&settings))
}

/// `DELETE /_config/data`: empties the caller's account (objects, events, pending
/// deliveries, faults, keys, settings, clock). Without a key, as in localstripe, every
/// account is emptied.
pub(super) fn clear_data(call: &Call<'_>) -> ApiResult<Resp> {
    Fields::root(&call.params).finish()?;
    let accounts = match &call.account {
        Some(a) => vec![a.clone()],
        None => call.app.store.all_accounts(),
    };
    for account in &accounts {
        let sessions = call.app.engine.step(account, |acc| acc.reset()).value;
        call.app.store.unindex_sessions(&sessions);
    }
    ok(&serde_json::json!({"object": "mock_data", "deleted": true, "accounts": accounts.len()}))
}

/// `POST /_config/webhooks/{id}` with `url`, `secret` and `events[]` (localstripe's call):
/// with a key, registers (or replaces) the account's endpoint `{id}`; without one, as in
/// localstripe, a forward-to target that receives every account's events.
pub(super) fn register_webhook(call: &Call<'_>, id: &str) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let url = f.owned("url")?.ok_or_else(|| ApiError::missing("url"))?;
    let secret = f
        .owned("secret")?
        .ok_or_else(|| ApiError::missing("secret"))?;
    let events = f.string_list("events")?;
    f.finish()?;
    check_url("url", &url)?;
    if secret.is_empty() || secret.len() > 200 {
        return Err(ApiError::invalid(
            "secret",
            "secret must be 1 to 200 characters.",
        ));
    }
    if id.is_empty() || id.len() > 100 {
        return Err(ApiError::invalid(
            "id",
            "The webhook id must be 1 to 100 characters.",
        ));
    }
    let events = events
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| vec!["*".into()]);
    match &call.account {
        Some(account) => {
            let reply = call
                .app
                .engine
                .step(account, |acc| {
                    webhook_endpoints::register_named(acc, id, url, secret, events)
                })
                .value?;
            Ok(crate::server::json_response(reply.status, reply.body))
        }
        None => {
            let mut globals = call
                .app
                .engine
                .globals
                .write()
                .unwrap_or_else(|p| p.into_inner());
            globals.retain(|g| g.url != url);
            globals.push(WebhookTarget {
                url: url.clone(),
                secret,
            });
            drop(globals);
            ok(
                &serde_json::json!({"object": "mock_forward", "id": id, "url": url, "events": ["*"]}),
            )
        }
    }
}
