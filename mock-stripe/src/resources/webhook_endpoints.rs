//! Webhook endpoints (contract §3.3): per-account targets, each with its own `whsec_` secret,
//! receiving only that account's events filtered by `enabled_events`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{check_metadata, check_url};
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Fields, Params, Reply, read_expand};
use crate::store::{Account, Keyed};

/// Stripe's limit of endpoints per account.
const MAX_ENDPOINTS: usize = 16;

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct WebhookEndpoint {
    pub id: String,
    pub created: i64,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub secret: String,
    pub disabled: bool,
    pub api_version: Option<String>,
    /// Connect endpoints (`connect=true`) receive the events of the platform's connected
    /// accounts (`Stripe-Account`) instead of the account's own.
    pub connect: bool,
}

impl Keyed for WebhookEndpoint {
    fn key(&self) -> &str {
        &self.id
    }
}

impl WebhookEndpoint {
    /// Whether an event of this type goes to this endpoint: an event of the account itself
    /// (`from_connected` false) to its plain endpoints, an event of one of its connected
    /// accounts to its Connect endpoints.
    pub fn receives(&self, kind: &str, from_connected: bool) -> bool {
        !self.disabled
            && self.connect == from_connected
            && self.enabled_events.iter().any(|e| e == "*" || e == kind)
    }

    fn json(&self, with_secret: bool) -> EndpointJson<'_> {
        EndpointJson {
            id: &self.id,
            object: "webhook_endpoint",
            api_version: self.api_version.as_deref(),
            application: (),
            created: self.created,
            description: self.description.as_deref(),
            enabled_events: &self.enabled_events,
            livemode: false,
            metadata: &self.metadata,
            secret: with_secret.then_some(self.secret.as_str()),
            status: if self.disabled { "disabled" } else { "enabled" },
            url: &self.url,
        }
    }
}

#[derive(Serialize)]
struct EndpointJson<'a> {
    id: &'a str,
    object: &'static str,
    api_version: Option<&'a str>,
    application: (),
    created: i64,
    description: Option<&'a str>,
    enabled_events: &'a [String],
    livemode: bool,
    metadata: &'a BTreeMap<String, String>,
    /// Only in the answer to create, as in Stripe.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    status: &'static str,
    url: &'a str,
}

fn read_events(f: &mut Fields<'_>) -> ApiResult<Option<Vec<String>>> {
    let Some(events) = f.string_list("enabled_events")? else {
        return Ok(None);
    };
    if events.is_empty() {
        return Err(ApiError::missing("enabled_events"));
    }
    for (i, e) in events.iter().enumerate() {
        let plausible = e == "*"
            || (e.contains('.')
                && e.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_'
                }));
        if !plausible {
            return Err(ApiError::invalid(
                format!("enabled_events[{i}]"),
                format!("Invalid enabled_events[{i}]: {e} is not a known event type"),
            ));
        }
    }
    Ok(Some(events))
}

fn read_url(f: &mut Fields<'_>) -> ApiResult<Option<String>> {
    let url = f.owned("url")?;
    if let Some(u) = &url {
        check_url("url", u)?;
    }
    Ok(url)
}

/// `POST /v1/webhook_endpoints`
pub(crate) fn create(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let url = read_url(&mut f)?;
    let enabled_events = read_events(&mut f)?;
    let description = f.owned("description")?;
    let metadata = f.string_map("metadata")?;
    let api_version = f.owned("api_version")?;
    let connect = f.bool("connect")?.unwrap_or(false);
    read_expand(&mut f, &[])?;
    f.finish()?;

    let url = url.ok_or_else(|| ApiError::missing("url"))?;
    let enabled_events = enabled_events.ok_or_else(|| ApiError::missing("enabled_events"))?;
    if let Some(v) = &api_version
        && ApiVersion::parse(v).is_none()
    {
        return Err(ApiError::invalid(
            "api_version",
            format!("Invalid Stripe API version: {v}"),
        ));
    }
    let metadata = metadata.map(|m| m.to_map()).unwrap_or_default();
    check_metadata("metadata", &metadata)?;
    if account.webhook_endpoints.len() >= MAX_ENDPOINTS {
        return Err(ApiError::bad_request(format!(
            "You have reached the maximum of {MAX_ENDPOINTS} test webhook endpoints."
        )));
    }
    let endpoint = WebhookEndpoint {
        id: account.ids.object(crate::ids::prefix::WEBHOOK_ENDPOINT),
        created: account.now(),
        url,
        enabled_events,
        description,
        metadata,
        secret: account.ids.webhook_secret(),
        disabled: false,
        api_version,
        connect,
    };
    let reply = Reply::json(&endpoint.json(true));
    account.webhook_endpoints.insert(endpoint);
    reply
}

/// localstripe's `POST /_config/webhooks/{id}`: an endpoint with a chosen id and secret,
/// replacing one with the same id.
pub(crate) fn register_named(
    account: &mut Account,
    id: &str,
    url: String,
    secret: String,
    enabled_events: Vec<String>,
) -> ApiResult<Reply> {
    let replaced = account.webhook_endpoints.remove(id).is_some();
    if !replaced && account.webhook_endpoints.len() >= MAX_ENDPOINTS {
        return Err(ApiError::bad_request(format!(
            "You have reached the maximum of {MAX_ENDPOINTS} test webhook endpoints."
        )));
    }
    let endpoint = WebhookEndpoint {
        id: id.to_string(),
        created: account.now(),
        url,
        enabled_events,
        description: Some("registered through /_config/webhooks (localstripe)".into()),
        metadata: BTreeMap::new(),
        secret,
        disabled: false,
        api_version: None,
        connect: false,
    };
    let reply = Reply::json(&endpoint.json(false));
    account.webhook_endpoints.insert(endpoint);
    reply
}

fn find<'a>(account: &'a mut Account, id: &str) -> ApiResult<&'a mut WebhookEndpoint> {
    account
        .webhook_endpoints
        .get_mut(id)
        .ok_or_else(|| ApiError::no_such("webhook endpoint", id, "id", true))
}

/// `GET /v1/webhook_endpoints/{id}`
pub(crate) fn retrieve(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    read_expand(&mut f, &[])?;
    f.finish()?;
    Reply::json(&find(account, id)?.json(false))
}

/// `POST /v1/webhook_endpoints/{id}`
pub(crate) fn update(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let url = read_url(&mut f)?;
    let enabled_events = read_events(&mut f)?;
    let description = f
        .has("description")
        .then(|| f.owned("description"))
        .transpose()?;
    let metadata = f.string_map("metadata")?;
    let disabled = f.bool("disabled")?;
    read_expand(&mut f, &[])?;
    f.finish()?;

    let endpoint = find(account, id)?;
    let mut new_metadata = endpoint.metadata.clone();
    if let Some(m) = &metadata {
        m.apply(&mut new_metadata);
    }
    check_metadata("metadata", &new_metadata)?;
    endpoint.metadata = new_metadata;
    if let Some(u) = url {
        endpoint.url = u;
    }
    if let Some(e) = enabled_events {
        endpoint.enabled_events = e;
    }
    if let Some(d) = description {
        endpoint.description = d;
    }
    if let Some(d) = disabled {
        endpoint.disabled = d;
    }
    Reply::json(&endpoint.json(false))
}

/// `DELETE /v1/webhook_endpoints/{id}`
pub(crate) fn delete(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    Fields::root(params).finish()?;
    let removed = account
        .webhook_endpoints
        .remove(id)
        .ok_or_else(|| ApiError::no_such("webhook endpoint", id, "id", true))?;
    #[derive(Serialize)]
    struct Deleted<'a> {
        id: &'a str,
        object: &'static str,
        deleted: bool,
    }
    Reply::json(&Deleted {
        id: &removed.id,
        object: "webhook_endpoint",
        deleted: true,
    })
}

/// `GET /v1/webhook_endpoints`
pub(crate) fn list(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    read_expand(&mut f, &[])?;
    f.finish()?;
    let endpoints = &account.webhook_endpoints;
    let (data, has_more) = paginate(
        endpoints.rows(),
        |id| endpoints.position(id),
        |_| true,
        &page,
        "webhook endpoint",
    )?;
    let data: Vec<_> = data.into_iter().map(|e| e.json(false)).collect();
    Reply::json(&ListJson::new(
        data,
        has_more,
        "/v1/webhook_endpoints".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account::at(1_700_000_000)
    }

    fn params(s: &str) -> Params {
        Params::decode(&[s.as_bytes()]).unwrap()
    }

    fn body(r: ApiResult<Reply>) -> serde_json::Value {
        serde_json::from_slice(&r.unwrap().body).unwrap()
    }

    #[test]
    fn create_returns_secret_once() {
        let mut a = account();
        let v = body(create(
            &mut a,
            &params("url=http://127.0.0.1:9/hook&enabled_events[]=checkout.session.completed"),
        ));
        assert!(v["id"].as_str().unwrap().starts_with("we_"));
        assert!(v["secret"].as_str().unwrap().starts_with("whsec_"));
        assert_eq!(v["status"], "enabled");
        let again = body(retrieve(
            &mut a,
            v["id"].as_str().unwrap(),
            &Params::default(),
        ));
        assert!(again.get("secret").is_none());
        assert_eq!(again["enabled_events"][0], "checkout.session.completed");
    }

    #[test]
    fn create_validates() {
        let mut a = account();
        let e = create(&mut a, &params("enabled_events[]=*")).err().unwrap();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("parameter_missing"), Some("url"))
        );
        let e = create(&mut a, &params("url=http://x.test/")).err().unwrap();
        assert_eq!(e.param.as_deref(), Some("enabled_events"));
        let e = create(&mut a, &params("url=not a url&enabled_events[]=*"))
            .err()
            .unwrap();
        assert_eq!(e.code, Some("url_invalid"));
        let e = create(
            &mut a,
            &params("url=http://x.test/&enabled_events[]=*&colour=red"),
        )
        .err()
        .unwrap();
        assert_eq!(e.code, Some("parameter_unknown"));
    }

    #[test]
    fn filtering_and_disable() {
        let mut a = account();
        let v = body(create(
            &mut a,
            &params("url=http://x.test/&enabled_events[0]=charge.succeeded"),
        ));
        let id = v["id"].as_str().unwrap();
        let ep = a.webhook_endpoints.get(id).unwrap();
        assert!(ep.receives("charge.succeeded", false));
        assert!(!ep.receives("charge.succeeded", true));
        assert!(!ep.receives("checkout.session.completed", false));
        body(update(&mut a, id, &params("disabled=true")));
        assert!(
            !a.webhook_endpoints
                .get(id)
                .unwrap()
                .receives("charge.succeeded", false)
        );
        let d = body(delete(&mut a, id, &Params::default()));
        assert_eq!(d["deleted"], true);
        assert_eq!(
            retrieve(&mut a, id, &Params::default())
                .err()
                .unwrap()
                .status,
            404
        );
    }
}
