//! Form decoding (contract §1.4): `application/x-www-form-urlencoded` bodies and query
//! strings become a tree first, then each resource reads its parameters from the tree
//! through [`Fields`], so every error can name the full bracket path
//! (`line_items[0][price_data][unit_amount]`) the way Stripe's do.
//!
//! Tree rules:
//! * `a[b]=1` makes a map; `a[]=x` appends to a list; `a[0]=x` is a map entry whose key is
//!   all digits: it becomes a list element only when the resource asks for a list (as in
//!   Stripe, `metadata[0]=x` is an ordinary metadata key). Index gaps are rejected then.
//! * Rack style `a[][x]=1&a[][y]=2&a[][x]=3` gives `[{x:1,y:2},{x:3}]`.
//! * A repeated scalar key keeps the last value; `key=` (empty) means "unset".
//!
//! Limits: the tree is built (and dropped) recursively, one level per bracket segment, and
//! a body can be up to a megabyte, so a hostile request could otherwise nest tens of
//! thousands of levels and overflow the stack, or make lists of a million elements. Every
//! limit below is far above what Stripe's SDKs ever send and fails with a 400.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::error::{ApiError, ApiResult};

mod fields;

pub(crate) use fields::{Fields, Item, MapUpdate, parse_int};

/// Most bracket segments one key may have. Stripe's deepest real parameters have about five
/// (`line_items[0][price_data][product_data][metadata][k]`); the limit bounds the recursion
/// that builds, compares and drops the tree, so a deeply nested key cannot overflow the stack.
pub(crate) const MAX_DEPTH: usize = 8;

/// Most `key=value` pairs in one request (query string and body together).
pub(crate) const MAX_PARAMS: usize = 2_000;

/// Longest parameter name, brackets included, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 1_000;

/// Most elements one array may get, through `a[]=` appends or `a[0]=…` indexes.
pub(crate) const MAX_LIST_LEN: usize = 1_000;

/// How much of an over-long or malformed key an error message repeats.
const SHOWN_KEY_LEN: usize = 200;

/// One node of the decoded parameter tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Str(String),
    Map(BTreeMap<String, Value>),
    List(Vec<Value>),
}

impl Value {
    fn describe(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Map(_) => "an object",
            Value::List(_) => "an array",
        }
    }
}

/// The decoded parameters of one request: a map at the top.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pub root: BTreeMap<String, Value>,
}

/// One bracket segment of a key, borrowed from it: a segment becomes a `String` only
/// when it makes a new map entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seg<'a> {
    /// `[]`
    Append,
    /// `[word]` or `[12]`
    Key(&'a str),
}

/// A key's segments, on the stack (at most [`MAX_DEPTH`]; one per parameter decoded).
struct Segs<'a> {
    items: [Seg<'a>; MAX_DEPTH],
    len: usize,
}

impl<'a> Segs<'a> {
    fn as_slice(&self) -> &[Seg<'a>] {
        &self.items[..self.len]
    }
}

impl Params {
    /// Decodes one or more urlencoded strings (e.g. query string then body) into a tree.
    pub fn decode(sources: &[&[u8]]) -> ApiResult<Params> {
        let mut params = Params::default();
        let mut count = 0usize;
        for src in sources {
            for (key, value) in form_urlencoded::parse(src) {
                if key.is_empty() && value.is_empty() {
                    continue;
                }
                count += 1;
                if count > MAX_PARAMS {
                    return Err(ApiError::bad_request(format!(
                        "Too many parameters: a request may have at most {MAX_PARAMS}."
                    )));
                }
                params.insert(&key, value.into_owned())?;
            }
        }
        Ok(params)
    }

    fn insert(&mut self, raw_key: &str, value: String) -> ApiResult<()> {
        let (name, segs) = parse_key(raw_key)?;
        if raw_key.len() > MAX_KEY_LEN {
            let shown = shown_key(raw_key);
            return Err(ApiError::invalid(
                shown.as_ref(),
                format!(
                    "Invalid parameter name {shown}: a parameter name may be at most \
                     {MAX_KEY_LEN} bytes long."
                ),
            ));
        }
        insert_in_map(&mut self.root, name, segs.as_slice(), value, &|| {
            name.to_string()
        })
    }
}

/// The key as an error repeats it: cut (on a character boundary) if it is very long.
fn shown_key(raw: &str) -> Cow<'_, str> {
    if raw.len() <= SHOWN_KEY_LEN {
        return Cow::Borrowed(raw);
    }
    let mut end = SHOWN_KEY_LEN;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...", &raw[..end]))
}

/// Splits `a[b][]` into `a` and its bracket segments (at most [`MAX_DEPTH`]).
fn parse_key(raw: &str) -> ApiResult<(&str, Segs<'_>)> {
    let malformed = || {
        let shown = shown_key(raw);
        ApiError::invalid(shown.as_ref(), format!("Invalid parameter name: {shown}"))
    };
    let (name, mut rest) = match raw.find('[') {
        Some(i) => (&raw[..i], &raw[i..]),
        None => (raw, ""),
    };
    if name.is_empty() || name.contains(']') {
        return Err(malformed());
    }
    let mut segs = Segs {
        items: [Seg::Append; MAX_DEPTH],
        len: 0,
    };
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return Err(malformed());
        };
        let Some(end) = inner.find(']') else {
            return Err(malformed());
        };
        let seg = &inner[..end];
        if seg.contains('[') {
            return Err(malformed());
        }
        if segs.len == MAX_DEPTH {
            let shown = shown_key(raw);
            return Err(ApiError::invalid(
                shown.as_ref(),
                format!(
                    "Invalid parameter name {shown}: parameters may be nested at most \
                     {MAX_DEPTH} levels deep."
                ),
            ));
        }
        segs.items[segs.len] = if seg.is_empty() {
            Seg::Append
        } else {
            Seg::Key(seg)
        };
        segs.len += 1;
        rest = &inner[end + 1..];
    }
    Ok((name, segs))
}

fn conflict(path: &str, existing: &Value, wanted: &'static str) -> ApiError {
    ApiError::invalid(
        path,
        format!(
            "Invalid value for {path}: it is sent as {} and as {wanted}.",
            existing.describe()
        ),
    )
}

fn too_long(path: &str) -> ApiError {
    ApiError::invalid(
        path,
        format!("Invalid array: {path} may have at most {MAX_LIST_LEN} elements."),
    )
}

fn wanted_shape(segs: &[Seg]) -> &'static str {
    match segs.first() {
        None => "a string",
        Some(Seg::Append) => "an array",
        Some(Seg::Key(_)) => "an object",
    }
}

/// `path` makes the bracket path of `key` for an error message: only an error needs it,
/// so it is not built for every parameter.
fn insert_in_map(
    map: &mut BTreeMap<String, Value>,
    key: &str,
    segs: &[Seg],
    value: String,
    path: &dyn Fn() -> String,
) -> ApiResult<()> {
    match map.get_mut(key) {
        Some(existing) => insert_into(existing, segs, value, path),
        None => {
            map.insert(key.to_string(), build(segs, value));
            Ok(())
        }
    }
}

/// A fresh subtree holding just `value` at `segs`.
fn build(segs: &[Seg], value: String) -> Value {
    match segs.split_first() {
        None => Value::Str(value),
        Some((Seg::Append, rest)) => Value::List(vec![build(rest, value)]),
        Some((Seg::Key(k), rest)) => {
            let mut m = BTreeMap::new();
            m.insert((*k).to_string(), build(rest, value));
            Value::Map(m)
        }
    }
}

fn insert_into(
    node: &mut Value,
    segs: &[Seg],
    value: String,
    path: &dyn Fn() -> String,
) -> ApiResult<()> {
    match (node, segs.split_first()) {
        // Repeated scalar: the last one wins (Rack does the same).
        (node @ Value::Str(_), None) => {
            *node = Value::Str(value);
            Ok(())
        }
        (Value::Map(m), Some((Seg::Key(k), rest))) => {
            insert_in_map(m, k, rest, value, &|| format!("{}[{k}]", path()))
        }
        (Value::List(items), Some((Seg::Append, rest))) => {
            // Rack style: `a[][x]=1&a[][y]=2` fills the last element until a key repeats.
            let last_index = items.len().saturating_sub(1);
            if let (Some(Value::Map(last)), Some(Seg::Key(k))) = (items.last_mut(), rest.first())
                && !last.contains_key(*k)
            {
                let child = || format!("{}[{last_index}][{k}]", path());
                return insert_in_map(last, k, &rest[1..], value, &child);
            }
            if items.len() >= MAX_LIST_LEN {
                return Err(too_long(&path()));
            }
            items.push(build(rest, value));
            Ok(())
        }
        (node, _) => Err(conflict(&path(), node, wanted_shape(segs))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn decode(s: &str) -> Params {
        Params::decode(&[s.as_bytes()]).unwrap()
    }

    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }

    #[test]
    fn decodes_the_python_sdk_wire_sample() {
        let wire = "mode=payment\
            &success_url=https%3A%2F%2Fshop.test%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D\
            &line_items[0][price_data][currency]=usd\
            &line_items[0][price_data][unit_amount]=1999\
            &line_items[0][price_data][product_data][name]=T-shirt+%26+cap\
            &line_items[0][price_data][product_data][images][0]=https%3A%2F%2Fimg.test%2Fa.png\
            &line_items[0][quantity]=2\
            &metadata[order_id]=42\
            &metadata[clear_me]=\
            &expand[0]=line_items\
            &expand[1]=payment_intent\
            &allow_promotion_codes=true";
        let p = decode(wire);
        let mut f = Fields::root(&p);
        assert_eq!(f.string("mode").unwrap(), Some("payment"));
        assert_eq!(
            f.string("success_url").unwrap(),
            Some("https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}")
        );
        assert_eq!(f.bool("allow_promotion_codes").unwrap(), Some(true));
        assert_eq!(
            f.string_list("expand").unwrap().unwrap(),
            vec!["line_items".to_string(), "payment_intent".to_string()]
        );
        let md = f.string_map("metadata").unwrap().unwrap();
        assert_eq!(
            md.entries,
            vec![
                ("clear_me".to_string(), None),
                ("order_id".to_string(), Some("42".to_string()))
            ]
        );
        let items = f.list("line_items").unwrap().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].path, "line_items[0]");
        let mut li = items[0].fields().unwrap();
        assert_eq!(li.int("quantity").unwrap(), Some(2));
        let mut pd = li.object("price_data").unwrap().unwrap();
        assert_eq!(pd.int("unit_amount").unwrap(), Some(1999));
        let mut prod = pd.object("product_data").unwrap().unwrap();
        assert_eq!(prod.string("name").unwrap(), Some("T-shirt & cap"));
        assert_eq!(
            prod.string_list("images").unwrap().unwrap(),
            vec!["https://img.test/a.png".to_string()]
        );
        prod.finish().unwrap();
        pd.ignore("currency");
        pd.finish().unwrap();
        li.finish().unwrap();
        f.finish().unwrap();
    }

    #[test]
    fn percent_encoded_brackets_and_spaces() {
        let p = decode("metadata%5Bnote%5D=hello%20world+again&expand%5B%5D=line_items");
        assert_eq!(
            p.root["metadata"],
            Value::Map([("note".to_string(), s("hello world again"))].into())
        );
        assert_eq!(p.root["expand"], Value::List(vec![s("line_items")]));
    }

    #[test]
    fn append_brackets_and_rack_style_objects() {
        let p = decode("a[]=x&a[]=y&b[][x]=1&b[][y]=2&b[][x]=3");
        assert_eq!(p.root["a"], Value::List(vec![s("x"), s("y")]));
        let b = &p.root["b"];
        let Value::List(items) = b else {
            panic!("b should be a list: {b:?}")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0],
            Value::Map([("x".into(), s("1")), ("y".into(), s("2"))].into())
        );
        assert_eq!(items[1], Value::Map([("x".into(), s("3"))].into()));
    }

    #[test]
    fn indexes_sort_numerically_not_lexically() {
        let wire: String = (0..12).map(|i| format!("e[{i}]=v{i}&")).collect();
        let p = decode(&wire);
        let mut f = Fields::root(&p);
        let list = f.string_list("e").unwrap().unwrap();
        assert_eq!(list[2], "v2");
        assert_eq!(list[10], "v10");
    }

    #[test]
    fn index_gap_is_an_error_naming_the_array() {
        let p = decode("line_items[0][quantity]=1&line_items[2][quantity]=1");
        let mut f = Fields::root(&p);
        let err = f.list("line_items").err().unwrap();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.param.as_deref(), Some("line_items"));
        assert!(
            err.message.contains("index 1 is missing"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_nested_param_names_full_path() {
        let p = decode("line_items[0][foo]=1&line_items[0][quantity]=1");
        let mut f = Fields::root(&p);
        let items = f.list("line_items").unwrap().unwrap();
        let mut li = items[0].fields().unwrap();
        li.int("quantity").unwrap();
        let err = li.finish().unwrap_err();
        assert_eq!(err.code, Some("parameter_unknown"));
        assert_eq!(err.param.as_deref(), Some("line_items[0][foo]"));
        assert_eq!(
            err.message,
            "Received unknown parameter: line_items[0][foo]"
        );
    }

    #[test]
    fn paths_of_later_items_and_map_entries() {
        let mut form: String = (0..12).map(|i| format!("items[{i}][n]=1&")).collect();
        form.push_str("items[11][meta][k][x]=1");
        let p = decode(&form);
        let mut f = Fields::root(&p);
        let items = f.list("items").unwrap().unwrap();
        assert_eq!(items[11].path, "items[11]");
        let mut last = items[11].fields().unwrap();
        assert_eq!(last.path_of("n"), "items[11][n]");
        let err = last.string_map("meta").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("items[11][meta][k]"));
        assert_eq!(f.list("absent").unwrap().map(|l| l.len()), None);
    }

    #[test]
    fn integer_errors_name_the_path() {
        let p = decode("line_items[0][price_data][unit_amount]=12.5");
        let mut f = Fields::root(&p);
        let items = f.list("line_items").unwrap().unwrap();
        let mut li = items[0].fields().unwrap();
        let mut pd = li.object("price_data").unwrap().unwrap();
        let err = pd.int("unit_amount").unwrap_err();
        assert_eq!(err.code, Some("parameter_invalid_integer"));
        assert_eq!(
            err.param.as_deref(),
            Some("line_items[0][price_data][unit_amount]")
        );
        assert_eq!(err.message, "Invalid integer: 12.5");
    }

    #[test]
    fn empty_value_means_unset() {
        let p = decode("description=&metadata=&count=");
        let mut f = Fields::root(&p);
        assert_eq!(f.string("description").unwrap(), None);
        assert_eq!(f.int("count").unwrap(), None);
        let md = f.string_map("metadata").unwrap().unwrap();
        assert!(md.clear);
        let mut existing = BTreeMap::from([("a".to_string(), "1".to_string())]);
        md.apply(&mut existing);
        assert!(existing.is_empty());
    }

    #[test]
    fn digit_keys_stay_map_keys_for_maps() {
        let p = decode("metadata[0]=zero");
        let mut f = Fields::root(&p);
        let md = f.string_map("metadata").unwrap().unwrap();
        assert_eq!(md.to_map()["0"], "zero");
    }

    #[test]
    fn malformed_brackets_and_shape_conflicts_are_400() {
        for bad in ["a[b=1", "a]=1", "[a]=1", "a[b]c=1", "a[[b]]=1"] {
            let err = Params::decode(&[bad.as_bytes()]).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        let err = Params::decode(&[b"metadata[a]=1&metadata=2"]).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("metadata"));
        let err = Params::decode(&[b"a[b]=1&a[b][c]=2"]).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("a[b]"));
    }

    #[test]
    fn repeated_scalar_keeps_last() {
        let p = decode("mode=setup&mode=payment");
        assert_eq!(p.root["mode"], s("payment"));
    }

    #[test]
    fn deeply_nested_key_is_rejected_without_recursing() {
        // ~60 KB of `[x]`: before the depth limit this overflowed the test thread's stack.
        let key = format!("a{}", "[x]".repeat(20_000));
        let wire = format!("{key}=1");
        assert!(wire.len() > 60_000);
        let started = std::time::Instant::now();
        let err = Params::decode(&[wire.as_bytes()]).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("at most 8 levels"), "{}", err.message);
        // The error names the parameter, but does not echo 60 KB back.
        let param = err.param.unwrap();
        assert!(param.starts_with("a[x][x]"), "{param}");
        assert!(param.len() < 300 && err.message.len() < 500);
    }

    #[test]
    fn nesting_limit_is_exactly_max_depth() {
        let at_limit = format!("a{}=1", "[x]".repeat(MAX_DEPTH));
        let p = decode(&at_limit);
        assert!(matches!(p.root["a"], Value::Map(_)));
        let over = format!("a{}=1", "[x]".repeat(MAX_DEPTH + 1));
        let err = Params::decode(&[over.as_bytes()]).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.param.as_deref(), Some(&over[..over.len() - 2]));
        assert_eq!(
            err.message,
            format!(
                "Invalid parameter name {}: parameters may be nested at most 8 levels deep.",
                &over[..over.len() - 2]
            )
        );
        // Appends count as segments too.
        let over = format!("a{}=1", "[]".repeat(MAX_DEPTH + 1));
        assert!(Params::decode(&[over.as_bytes()]).is_err());
    }

    #[test]
    fn too_many_params_is_400_naming_the_limit() {
        let ok: String = (0..MAX_PARAMS)
            .map(|i| format!("metadata[k{i}]=v&"))
            .collect();
        decode(&ok);
        let wire: String = (0..=MAX_PARAMS).map(|i| format!("k{i}=v&")).collect();
        let err = Params::decode(&[wire.as_bytes()]).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("2000"), "{}", err.message);
        // Query string and body count together.
        let half: String = (0..MAX_PARAMS / 2 + 1)
            .map(|i| format!("k{i}=v&"))
            .collect();
        let err = Params::decode(&[half.as_bytes(), half.as_bytes()]).unwrap_err();
        assert!(err.message.contains("2000"), "{}", err.message);
        // Empty pairs (`&&&`) are skipped, not counted.
        let empties = "&".repeat(10 * MAX_PARAMS);
        assert!(decode(&empties).root.is_empty());
    }

    #[test]
    fn long_key_is_400() {
        let name = "k".repeat(MAX_KEY_LEN);
        decode(&format!(
            "metadata[{}]=v",
            &name[..MAX_KEY_LEN - "metadata[]".len()]
        ));
        let err = Params::decode(&[format!("{name}x=v").as_bytes()]).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("1000 bytes"), "{}", err.message);
        assert!(err.param.unwrap().len() < 300);
    }

    #[test]
    fn long_array_is_400() {
        let ok: String = (0..MAX_LIST_LEN)
            .map(|i| format!("expand[]=e{i}&"))
            .collect();
        let p = decode(&ok);
        let Value::List(items) = &p.root["expand"] else {
            panic!("expand should be a list")
        };
        assert_eq!(items.len(), MAX_LIST_LEN);

        let wire: String = (0..=MAX_LIST_LEN)
            .map(|i| format!("expand[]=e{i}&"))
            .collect();
        let err = Params::decode(&[wire.as_bytes()]).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.param.as_deref(), Some("expand"));
        assert_eq!(
            err.message,
            "Invalid array: expand may have at most 1000 elements."
        );

        // Rack-style objects count elements, not keys: 1000 objects of two keys are fine...
        let wire: String = (0..MAX_LIST_LEN)
            .map(|i| format!("b[][x]={i}&b[][y]={i}&"))
            .collect();
        let Value::List(items) = &decode(&wire).root["b"] else {
            panic!("b should be a list")
        };
        assert_eq!(items.len(), MAX_LIST_LEN);
        // ...and a 1001st object is not.
        let wire: String = (0..=MAX_LIST_LEN).map(|i| format!("b[][x]={i}&")).collect();
        let err = Params::decode(&[wire.as_bytes()]).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("b"));

        // Digit indexes: one key per element, so the same limit applies when read as a list.
        let wire: String = (0..=MAX_LIST_LEN).map(|i| format!("e[{i}]=v&")).collect();
        let p = decode(&wire);
        let mut f = Fields::root(&p);
        let err = f.list("e").err().unwrap();
        assert_eq!(err.param.as_deref(), Some("e"));
        assert!(err.message.contains("at most 1000"), "{}", err.message);
        // ...but they are ordinary keys to a map (Stripe caps metadata separately).
        let mut f = Fields::root(&p);
        assert_eq!(
            f.string_map("e").unwrap().unwrap().entries.len(),
            MAX_LIST_LEN + 1
        );
    }

    #[test]
    fn huge_sparse_index_is_a_gap_error_not_an_allocation() {
        let p = decode("a[999999999]=1");
        let mut f = Fields::root(&p);
        let err = f.list("a").err().unwrap();
        assert_eq!(err.param.as_deref(), Some("a"));
        assert!(
            err.message.contains("index 0 is missing"),
            "{}",
            err.message
        );
        let p = decode("a[0]=x&a[18446744073709551615]=y");
        let err = Fields::root(&p).list("a").err().unwrap();
        assert!(
            err.message.contains("index 1 is missing"),
            "{}",
            err.message
        );
        // Beyond usize: not an index at all.
        let p = decode("a[99999999999999999999999]=1");
        let err = Fields::root(&p).list("a").err().unwrap();
        assert!(err.message.contains("has the key"), "{}", err.message);
    }

    #[test]
    fn parse_int_is_strict() {
        assert_eq!(parse_int("1999"), Some(1999));
        assert_eq!(parse_int("-5"), Some(-5));
        for bad in ["", "-", "1e3", "12.0", " 1", "abc", "99999999999999999999"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }
}
