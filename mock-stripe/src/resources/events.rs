//! Events (contract §3.1, §3.2): recorded under the account lock together with the state
//! change that caused them. Routing them to endpoints and delivering them is the engine's
//! job (`engine/step.rs`, `engine/delivery.rs`).

use std::sync::OnceLock;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Fields, Params, RangeFilter, Reply};
use crate::store::{Account, Keyed};

/// Renders a copy of an event's object, as it was when the event happened, at a version.
type Renderer = Box<dyn Fn(&ApiVersion) -> ApiResult<Box<RawValue>> + Send>;

/// What an event carries: its object as it was, already rendered (`snapshot(..)?.into()`),
/// or a copy rendered when the event is first read ([`copied`], [`versioned`]).
pub(crate) enum EventObject {
    /// Rendered when emitted; the same JSON at every version.
    Rendered(Box<RawValue>),
    /// Rendered from this when first read.
    Later(Source),
}

/// Where an event's `data.object` comes from when it has not been rendered yet.
pub(crate) enum Source {
    /// A copy whose JSON is the same at every version.
    Copy(Box<dyn Fn() -> ApiResult<Box<RawValue>> + Send>),
    /// A copy whose JSON depends on the version.
    Versioned(Renderer),
}

impl From<Box<RawValue>> for EventObject {
    fn from(rendered: Box<RawValue>) -> Self {
        EventObject::Rendered(rendered)
    }
}

/// An event object whose JSON is the same at every version, rendered from `object` (a copy
/// taken now) the first time the event is read: a webhook, a list, the data directory. An
/// event nobody reads costs a copy, not a rendering (most customers a test creates).
pub(crate) fn copied<T: Send + 'static>(
    object: T,
    render: impl Fn(&T) -> ApiResult<Box<RawValue>> + Send + 'static,
) -> EventObject {
    EventObject::Later(Source::Copy(Box::new(move || render(&object))))
}

/// An event object whose JSON depends on the API version (a Checkout Session's `ui_mode`,
/// …): `object` is a copy taken now, rendered at the account's version when the event is
/// first read, and at the version of each webhook endpoint that asks for another.
pub(crate) fn versioned<T: Send + 'static>(
    object: T,
    render: impl Fn(&T, &ApiVersion) -> ApiResult<Box<RawValue>> + Send + 'static,
) -> EventObject {
    EventObject::Later(Source::Versioned(Box::new(move |v| render(&object, v))))
}

/// An event as stored: its payload is frozen JSON, rendered once (when the event is first
/// read) at the account's API version when it happened, from a copy of the object as it
/// was; other versions (webhook endpoints with their own `api_version`) are rendered once
/// each from that copy, and then frozen too.
pub(crate) struct Event {
    pub id: String,
    pub created: i64,
    pub kind: String,
    /// The account's default version when the event happened (Stripe's rule: not the
    /// version of the request that caused it).
    pub api_version: String,
    /// `data.object` at `api_version`, once rendered (see [`Event::object`]).
    object: OnceLock<Box<RawValue>>,
    /// What renders `object` and other versions' renditions (`None`: rendered when emitted
    /// or read back from a data directory, the same JSON at every version).
    source: Option<Source>,
    /// `data.object` at other versions, rendered at most once each.
    renditions: Vec<(String, Box<RawValue>)>,
    /// The connected account (`acct_…`) the event happened on (Connect), else `None`.
    pub account: Option<String>,
    /// Endpoints that have not yet answered 2xx.
    pub pending_webhooks: i64,
    /// `pending_webhooks` when the event was routed: what its deliveries carry, so every
    /// delivery and resend sends the same bytes.
    pub routed_pending: i64,
    pub request: EventRequest,
}

impl Keyed for Event {
    fn key(&self) -> &str {
        &self.id
    }
}

/// The API request that caused an event; both `None` for changes made on the payment page.
#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub(crate) struct EventRequest {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct EventJson<'a> {
    id: &'a str,
    object: &'static str,
    /// Only on events of connected accounts, as in Stripe.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    api_version: &'a str,
    created: i64,
    data: DataJson<'a>,
    livemode: bool,
    pending_webhooks: i64,
    request: RequestJson<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
pub(crate) struct DataJson<'a> {
    object: &'a RawValue,
}

#[derive(Serialize)]
pub(crate) struct RequestJson<'a> {
    id: Option<&'a str>,
    idempotency_key: Option<&'a str>,
}

/// An event as a data directory keeps it: everything but the renderer (a closure). An
/// event read back renders its frozen object at every version it has not been rendered at
/// yet (see the README's notes on `--data-dir`).
#[derive(Serialize)]
struct StoredEventOut<'a> {
    id: &'a str,
    created: i64,
    kind: &'a str,
    api_version: &'a str,
    object: &'a RawValue,
    renditions: &'a [(String, Box<RawValue>)],
    account: Option<&'a str>,
    pending_webhooks: i64,
    routed_pending: i64,
    request: &'a EventRequest,
}

#[derive(serde::Deserialize)]
struct StoredEventIn {
    id: String,
    created: i64,
    kind: String,
    api_version: String,
    object: Box<RawValue>,
    renditions: Vec<(String, Box<RawValue>)>,
    account: Option<String>,
    pending_webhooks: i64,
    routed_pending: i64,
    request: EventRequest,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let object = self
            .object()
            .map_err(|e| serde::ser::Error::custom(e.message))?;
        StoredEventOut {
            id: &self.id,
            created: self.created,
            kind: &self.kind,
            api_version: &self.api_version,
            object,
            renditions: &self.renditions,
            account: self.account.as_deref(),
            pending_webhooks: self.pending_webhooks,
            routed_pending: self.routed_pending,
            request: &self.request,
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let e = StoredEventIn::deserialize(d)?;
        Ok(Event {
            id: e.id,
            created: e.created,
            kind: e.kind,
            api_version: e.api_version,
            object: OnceLock::from(e.object),
            source: None,
            renditions: e.renditions,
            account: e.account,
            pending_webhooks: e.pending_webhooks,
            routed_pending: e.routed_pending,
            request: e.request,
        })
    }
}

impl Event {
    /// `data.object` at the event's version: rendered from the copy taken when the event
    /// happened the first time anything reads it, the same bytes ever after.
    pub fn object(&self) -> ApiResult<&RawValue> {
        if let Some(object) = self.object.get() {
            return Ok(object);
        }
        let rendered = match &self.source {
            None => return Err(ApiError::internal("an event without an object")),
            Some(Source::Copy(render)) => render()?,
            Some(Source::Versioned(render)) => render(&self.version()?)?,
        };
        Ok(self.object.get_or_init(|| rendered))
    }

    fn version(&self) -> ApiResult<ApiVersion> {
        ApiVersion::parse(&self.api_version).ok_or_else(|| {
            ApiError::internal(format!(
                "an event has the malformed version {}",
                self.api_version
            ))
        })
    }

    /// The body every delivery of this event sends (frozen when it was routed).
    pub fn delivery_body(&self) -> ApiResult<bytes::Bytes> {
        let mut json = self.json()?;
        json.pending_webhooks = self.routed_pending;
        crate::protocol::to_json(&json).map(bytes::Bytes::from)
    }

    /// The body of a delivery to an endpoint pinned to `version` (`None`: the account's
    /// version, [`Event::delivery_body`]). Rendered once per version, then the same bytes
    /// for every delivery and resend.
    pub fn delivery_body_at(&mut self, version: Option<&str>) -> ApiResult<bytes::Bytes> {
        let Some(v) = version.filter(|v| *v != self.api_version) else {
            return self.delivery_body();
        };
        let Some(Source::Versioned(render)) = &self.source else {
            // The same JSON at every version: only the label changes.
            let mut json = self.json()?;
            json.pending_webhooks = self.routed_pending;
            json.api_version = v;
            return crate::protocol::to_json(&json).map(bytes::Bytes::from);
        };
        if !self.renditions.iter().any(|(rv, _)| rv == v) {
            let parsed = ApiVersion::parse(v).ok_or_else(|| {
                ApiError::internal(format!("an endpoint has the malformed version {v}"))
            })?;
            let object = render(&parsed)?;
            self.renditions.push((v.to_string(), object));
        }
        let (v, object) = self
            .renditions
            .iter()
            .find(|(rv, _)| rv == v)
            .expect("rendered above");
        let mut json = self.json()?;
        json.pending_webhooks = self.routed_pending;
        json.api_version = v;
        json.data = DataJson { object };
        crate::protocol::to_json(&json).map(bytes::Bytes::from)
    }

    /// The event as the API shows it; renders its object if nothing has read it yet.
    pub fn json(&self) -> ApiResult<EventJson<'_>> {
        Ok(EventJson {
            id: &self.id,
            object: "event",
            account: self.account.as_deref(),
            api_version: &self.api_version,
            created: self.created,
            data: DataJson {
                object: self.object()?,
            },
            livemode: false,
            pending_webhooks: self.pending_webhooks,
            request: RequestJson {
                id: self.request.id.as_deref(),
                idempotency_key: self.request.idempotency_key.as_deref(),
            },
            kind: &self.kind,
        })
    }
}

/// Whether an event type matches a pattern where `*` matches any run of characters
/// (`checkout.session.*`, `*`). Linear time: patterns come from clients.
pub(crate) fn type_matches(pattern: &str, kind: &str) -> bool {
    crate::protocol::wildcard::matches(pattern, kind)
}

/// Renders an object for an event payload (done before [`emit`] borrows the account).
pub(crate) fn snapshot(object: &impl Serialize) -> ApiResult<Box<RawValue>> {
    serde_json::value::to_raw_value(object)
        .map_err(|e| ApiError::internal(format!("could not render event object: {e}")))
}

/// Records an event; the step that emitted it routes it to endpoints when it ends.
///
/// `object`: a [`snapshot`] (`Box<RawValue>`, the same JSON at every version), a
/// [`copied`] or a [`versioned`] copy of the object. The event carries the account's API
/// version, as on Stripe, whatever version the request that caused it used.
pub(crate) fn emit(
    account: &mut Account,
    kind: &str,
    object: impl Into<EventObject>,
    request: &EventRequest,
) -> ApiResult<()> {
    let (rendered, source) = match object.into() {
        EventObject::Rendered(r) => (OnceLock::from(r), None),
        EventObject::Later(source) => (OnceLock::new(), Some(source)),
    };
    let event = Event {
        id: account.ids.object(crate::ids::prefix::EVENT),
        created: account.now(),
        kind: kind.to_string(),
        api_version: account.api_version().to_string(),
        object: rendered,
        source,
        renditions: Vec::new(),
        account: account.connected_id().map(str::to_string),
        pending_webhooks: 0,
        routed_pending: 0,
        request: request.clone(),
    };
    tracing::info!(event = %event.id, "--> {kind}");
    account.emitted.push(event.id.clone());
    account.events.insert(event);
    Ok(())
}

/// `GET /v1/events`
pub(crate) fn list(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let kind = f.owned("type")?;
    let types = f.string_list("types")?;
    if let Some(k) = &kind {
        crate::protocol::wildcard::check_pattern("type", k)?;
    }
    for t in types.iter().flatten() {
        crate::protocol::wildcard::check_pattern("types", t)?;
    }
    if kind.is_some() && types.is_some() {
        return Err(ApiError::exclusive("type", "types"));
    }
    if types.as_ref().is_some_and(|t| t.len() > 20) {
        return Err(ApiError::invalid(
            "types",
            "You may pass at most 20 event types.",
        ));
    }
    let created = RangeFilter::read(&mut f, "created")?;
    let delivery_success = f.bool("delivery_success")?;
    super::expandable::read_list(&mut f, "event")?;
    f.finish()?;

    let keep = |e: &Event| {
        kind.as_deref().is_none_or(|k| type_matches(k, &e.kind))
            && types
                .as_ref()
                .is_none_or(|ts| ts.iter().any(|t| type_matches(t, &e.kind)))
            && created.matches(e.created)
            && delivery_success.is_none_or(|ok| (e.pending_webhooks == 0) == ok)
    };
    let events = &account.events;
    let (data, has_more) = paginate(
        events.rows(),
        |id| events.position(id),
        keep,
        &page,
        "event",
    )?;
    let data = data
        .into_iter()
        .map(Event::json)
        .collect::<ApiResult<Vec<_>>>()?;
    Reply::json(&ListJson::new(data, has_more, "/v1/events".into()))
}

/// `GET /v1/events/{id}`
pub(crate) fn retrieve(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    super::expandable::read(&mut f, "event")?;
    f.finish()?;
    let event = account
        .events
        .get(id)
        .ok_or_else(|| ApiError::no_such("event", id, "id", true))?;
    Reply::json(&event.json()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(type_matches("*", "checkout.session.completed"));
        assert!(type_matches(
            "checkout.session.*",
            "checkout.session.completed"
        ));
        assert!(!type_matches("checkout.session.*", "charge.succeeded"));
        assert!(type_matches("charge.succeeded", "charge.succeeded"));
        assert!(!type_matches("charge", "charge.succeeded"));
        assert!(type_matches("*.succeeded", "payment_intent.succeeded"));
        assert!(!type_matches(
            "*.succeeded",
            "payment_intent.payment_failed"
        ));
    }
}
