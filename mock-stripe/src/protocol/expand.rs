//! `expand[]` (contract §1.10): the paths a request asks for, checked against what each kind
//! of object allows (a [`Schema`] per kind), and applied to an object's JSON.
//!
//! Rules, as Stripe applies them:
//! * a path names fields from the object down, separated by dots: `payment_intent`,
//!   `payment_intent.latest_charge`, `line_items.data.price.product`;
//! * at most [`MAX_DEPTH`] levels (a list's `data` counts): deeper is
//!   `property_expansion_max_depth`;
//! * on a list endpoint every path starts with `data.`;
//! * anything else is `This property cannot be expanded (…)`, before the request runs;
//! * an id becomes its object (`null` stays `null`), an includable field (a session's
//!   `line_items`) appears, and expanded objects are expanded further by the rest of the
//!   path.
//!
//! Resources declare their schemas and how to find an object by id in
//! `resources/expandable.rs`; this module knows no resource.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::form::Fields;

/// Stripe's limit on the levels of one path.
pub(crate) const MAX_DEPTH: usize = 4;

/// What a field allows under `expand[]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    /// An id (or `null`) that expands into the object of this kind: a session's
    /// `payment_intent` ("payment_intent").
    Object(&'static str),
    /// Absent unless expanded, then a list of objects of this kind: a session's
    /// `line_items` ("item"). Paths continue through `data`.
    List(&'static str),
    /// Always an object of this kind: not expandable itself, but paths go through it (a line
    /// item's `price`, whose `product` expands).
    Embedded(&'static str),
    /// Absent unless expanded, then an object of this kind (`total_details.breakdown`).
    Includable(&'static str),
}

/// The expandable fields of one kind of object (`object` is Stripe's `object` value).
pub(crate) struct Schema {
    pub object: &'static str,
    pub fields: &'static [(&'static str, Field)],
}

impl Schema {
    fn field(&self, name: &str) -> Option<Field> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }
}

/// Finds the schema of a kind. `None` for kinds the mock does not model (invoices,
/// subscriptions, …): any path below them is accepted, since their fields are `null` here.
pub(crate) type Lookup = fn(&str) -> Option<&'static Schema>;

/// The paths asked for, as a tree of field names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Expand {
    children: BTreeMap<String, Expand>,
}

impl Expand {
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Whether `field` is expanded (alone or with more below it).
    pub fn has(&self, field: &str) -> bool {
        self.children.contains_key(field)
    }

    /// What is expanded below `field`, if it is expanded.
    pub fn get(&self, field: &str) -> Option<&Expand> {
        self.children.get(field)
    }

    /// Follows a dotted path (`line_items.data.price`).
    pub fn at(&self, path: &str) -> Option<&Expand> {
        path.split('.').try_fold(self, |x, seg| x.get(seg))
    }

    fn insert(&mut self, segments: &[&str]) {
        if let Some((first, rest)) = segments.split_first() {
            self.children
                .entry((*first).to_string())
                .or_default()
                .insert(rest);
        }
    }

    /// Builds a tree from paths that are known to be valid.
    #[cfg(test)]
    pub fn of(paths: &[&str]) -> Expand {
        let mut x = Expand::default();
        for p in paths {
            x.insert(&p.split('.').collect::<Vec<_>>());
        }
        x
    }
}

fn cannot(path: &str) -> ApiError {
    ApiError::invalid(
        "expand",
        format!("This property cannot be expanded ({path})."),
    )
}

fn too_deep(path: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::BAD_REQUEST,
        Some("property_expansion_max_depth"),
        format!("You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}"),
    )
    .with_param("expand")
}

/// Checks one path (split at dots) from `schema` down. On failure, the prefix that cannot
/// be expanded.
fn check(segments: &[&str], schema: &Schema, lookup: Lookup) -> Result<(), usize> {
    let mut current = Some(schema);
    let mut i = 0;
    while i < segments.len() {
        // A kind the mock does not model: whatever is below it is accepted.
        let Some(s) = current else {
            return Ok(());
        };
        let last = i + 1 == segments.len();
        match s.field(segments[i]) {
            None => return Err(i),
            Some(Field::Object(kind) | Field::Includable(kind)) => current = lookup(kind),
            Some(Field::Embedded(_)) if last => return Err(i),
            Some(Field::Embedded(kind)) => current = lookup(kind),
            Some(Field::List(kind)) => {
                if !last {
                    // Through a list only by `data`.
                    if segments[i + 1] != "data" {
                        return Err(i + 1);
                    }
                    i += 1;
                }
                current = lookup(kind);
            }
        }
        i += 1;
    }
    Ok(())
}

fn paths(f: &mut Fields<'_>) -> ApiResult<Vec<String>> {
    Ok(f.string_list("expand")?.unwrap_or_default())
}

fn split(path: &str) -> ApiResult<Vec<&str>> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(cannot(path));
    }
    if segments.len() > MAX_DEPTH {
        return Err(too_deep(path));
    }
    Ok(segments)
}

/// Reads `expand[]` of a request answering one object of `schema`'s kind.
pub(crate) fn read(f: &mut Fields<'_>, schema: &Schema, lookup: Lookup) -> ApiResult<Expand> {
    let mut x = Expand::default();
    for path in paths(f)? {
        let segments = split(&path)?;
        check(&segments, schema, lookup).map_err(|at| cannot(&segments[..=at].join(".")))?;
        x.insert(&segments);
    }
    Ok(x)
}

/// Reads `expand[]` of a list endpoint of `schema`'s kind: every path starts with `data.`.
/// Returns what to expand in each element.
pub(crate) fn read_list(f: &mut Fields<'_>, schema: &Schema, lookup: Lookup) -> ApiResult<Expand> {
    let mut x = Expand::default();
    for path in paths(f)? {
        let segments = split(&path)?;
        let Some(("data", rest)) = segments.split_first().map(|(h, r)| (*h, r)) else {
            // Stripe points at the list form when the path would be fine on one object.
            let mut err = cannot(&path);
            if check(&segments, schema, lookup).is_ok() && segments.len() < MAX_DEPTH {
                err.message = format!(
                    "This property cannot be expanded ({path}). You may want to try expanding 'data.{path}' instead."
                );
            }
            return Err(err);
        };
        if rest.is_empty() {
            return Err(cannot(&path));
        }
        check(rest, schema, lookup).map_err(|at| cannot(&segments[..=at + 1].join(".")))?;
        x.insert(rest);
    }
    Ok(x)
}

/// Finds an object by kind and id, rendered with what is expanded below it (so it can
/// include fields that only appear when expanded); `None` leaves the id as it is.
pub(crate) type Resolve<'a> = &'a dyn Fn(&str, &str, &Expand) -> Option<Value>;

/// Applies `x` to the JSON of an object of `schema`'s kind: ids become what `resolve` finds
/// (expanded further), embedded objects and lists are expanded inside.
pub(crate) fn apply(
    value: &mut Value,
    x: &Expand,
    schema: &Schema,
    lookup: Lookup,
    resolve: Resolve<'_>,
) {
    let Value::Object(map) = value else {
        return;
    };
    for (name, below) in &x.children {
        let (Some(field), Some(slot)) = (schema.field(name), map.get_mut(name)) else {
            continue;
        };
        match field {
            Field::Object(kind) => {
                if let Value::String(id) = slot
                    && let Some(object) = resolve(kind, id, below)
                {
                    *slot = object;
                }
                if let Some(s) = lookup(kind) {
                    apply(slot, below, s, lookup, resolve);
                }
            }
            Field::Embedded(kind) | Field::Includable(kind) => {
                if let Some(s) = lookup(kind) {
                    apply(slot, below, s, lookup, resolve);
                }
            }
            Field::List(kind) => {
                if let (Some(each), Some(s), Some(Value::Array(items))) =
                    (below.get("data"), lookup(kind), slot.get_mut("data"))
                {
                    for item in items {
                        apply(item, each, s, lookup, resolve);
                    }
                }
            }
        }
    }
}

/// Serialises JSON the way Stripe orders it: `id` and `object` first, then the other keys
/// (alphabetically, as `serde_json::Map` keeps them).
pub(crate) struct StripeOrder<'a>(pub &'a Value);

impl Serialize for StripeOrder<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut out = s.serialize_map(Some(map.len()))?;
                for first in ["id", "object"] {
                    if let Some(v) = map.get(first) {
                        out.serialize_entry(first, &StripeOrder(v))?;
                    }
                }
                for (k, v) in map {
                    if k != "id" && k != "object" {
                        out.serialize_entry(k, &StripeOrder(v))?;
                    }
                }
                out.end()
            }
            Value::Array(items) => s.collect_seq(items.iter().map(StripeOrder)),
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Params;

    static SESSION: Schema = Schema {
        object: "checkout.session",
        fields: &[
            ("payment_intent", Field::Object("payment_intent")),
            ("line_items", Field::List("item")),
            ("invoice", Field::Object("invoice")),
        ],
    };
    static PI: Schema = Schema {
        object: "payment_intent",
        fields: &[("latest_charge", Field::Object("charge"))],
    };
    static CHARGE: Schema = Schema {
        object: "charge",
        fields: &[("payment_intent", Field::Object("payment_intent"))],
    };
    static ITEM: Schema = Schema {
        object: "item",
        fields: &[("price", Field::Embedded("price"))],
    };
    static PRICE: Schema = Schema {
        object: "price",
        fields: &[("product", Field::Object("product"))],
    };

    fn lookup(kind: &str) -> Option<&'static Schema> {
        Some(match kind {
            "payment_intent" => &PI,
            "charge" => &CHARGE,
            "item" => &ITEM,
            "price" => &PRICE,
            "checkout.session" => &SESSION,
            _ => return None,
        })
    }

    fn read_one(q: &str) -> ApiResult<Expand> {
        let p = Params::decode(&[q.as_bytes()]).unwrap();
        let mut f = Fields::root(&p);
        read(&mut f, &SESSION, lookup)
    }

    fn read_many(q: &str) -> ApiResult<Expand> {
        let p = Params::decode(&[q.as_bytes()]).unwrap();
        let mut f = Fields::root(&p);
        read_list(&mut f, &SESSION, lookup)
    }

    #[test]
    fn nested_paths_follow_the_schemas() {
        let x = read_one(
            "expand[]=payment_intent.latest_charge.payment_intent&expand[]=line_items.data.price.product",
        )
        .unwrap();
        assert!(x.has("payment_intent"));
        assert!(
            x.at("payment_intent.latest_charge.payment_intent")
                .is_some()
        );
        assert!(x.at("line_items.data.price.product").is_some());
        // Below a kind the mock does not model, anything goes.
        assert!(read_one("expand[]=invoice.subscription.latest_invoice").is_ok());
        assert!(read_one("expand[]=line_items").is_ok());
    }

    #[test]
    fn refusals_use_stripes_messages() {
        let e = read_one("expand[]=payment_intent.b").unwrap_err();
        assert_eq!(
            e.message,
            "This property cannot be expanded (payment_intent.b)."
        );
        assert_eq!(
            (e.status.as_u16(), e.param.as_deref()),
            (400, Some("expand"))
        );
        let e = read_one("expand[]=url").unwrap_err();
        assert_eq!(e.message, "This property cannot be expanded (url).");
        let e = read_one("expand[]=line_items.data.price").unwrap_err();
        assert_eq!(
            e.message,
            "This property cannot be expanded (line_items.data.price)."
        );
        let e = read_one("expand[]=line_items.price").unwrap_err();
        assert_eq!(
            e.message,
            "This property cannot be expanded (line_items.price)."
        );
        let e = read_one("expand[]=payment_intent..latest_charge").unwrap_err();
        assert!(e.message.starts_with("This property cannot be expanded"));
        let e = read_one("expand[]=payment_intent.latest_charge.payment_intent.latest_charge.x")
            .unwrap_err();
        assert_eq!(e.code, Some("property_expansion_max_depth"));
        assert_eq!(
            e.message,
            "You cannot expand more than 4 levels of a property. Property: payment_intent.latest_charge.payment_intent.latest_charge.x"
        );
    }

    #[test]
    fn lists_need_data_and_count_it() {
        let x = read_many("expand[]=data.payment_intent.latest_charge").unwrap();
        assert!(x.at("payment_intent.latest_charge").is_some());
        let e = read_many("expand[]=payment_intent").unwrap_err();
        assert_eq!(
            e.message,
            "This property cannot be expanded (payment_intent). You may want to try expanding 'data.payment_intent' instead."
        );
        let e = read_many("expand[]=data.nope").unwrap_err();
        assert_eq!(e.message, "This property cannot be expanded (data.nope).");
        let e = read_many("expand[]=data.line_items.data.price.product").unwrap_err();
        assert_eq!(e.code, Some("property_expansion_max_depth"));
    }

    #[test]
    fn apply_replaces_ids_and_descends() {
        let mut v = serde_json::json!({
            "id": "cs_1", "object": "checkout.session", "payment_intent": "pi_1", "invoice": null,
            "line_items": {"object": "list", "data": [{"price": {"product": "prod_1"}}]}
        });
        let x = Expand::of(&[
            "payment_intent.latest_charge",
            "invoice",
            "line_items.data.price.product",
        ]);
        let resolve = |kind: &str, id: &str, _: &Expand| -> Option<Value> {
            Some(match (kind, id) {
                ("payment_intent", "pi_1") => {
                    serde_json::json!({"id": "pi_1", "object": "payment_intent", "latest_charge": "ch_1"})
                }
                ("charge", "ch_1") => serde_json::json!({"id": "ch_1", "object": "charge"}),
                ("product", "prod_1") => serde_json::json!({"id": "prod_1", "object": "product"}),
                _ => return None,
            })
        };
        apply(&mut v, &x, &SESSION, lookup, &resolve);
        assert_eq!(v["payment_intent"]["latest_charge"]["object"], "charge");
        assert_eq!(v["invoice"], Value::Null);
        assert_eq!(
            v["line_items"]["data"][0]["price"]["product"]["object"],
            "product"
        );
        let text = serde_json::to_string(&StripeOrder(&v)).unwrap();
        assert!(
            text.starts_with(r#"{"id":"cs_1","object":"checkout.session","invoice""#),
            "{text}"
        );
    }
}
