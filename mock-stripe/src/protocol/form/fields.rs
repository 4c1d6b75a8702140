//! Reading the decoded tree ([`Fields`]): each resource asks for its parameters by name and
//! type, errors name the full bracket path, and whatever nobody asked for is reported as
//! `parameter_unknown`.

use std::collections::BTreeMap;

use super::{MAX_LIST_LEN, Params, Value, too_long};
use crate::protocol::error::{ApiError, ApiResult};

/// Reads a map of parameters, remembering what was read so that whatever is left over is
/// reported as `parameter_unknown` by [`Fields::finish`].
pub(crate) struct Fields<'a> {
    path: String,
    map: &'a BTreeMap<String, Value>,
    seen: Vec<&'a str>,
}

/// A list element with its bracket path, e.g. `line_items[2]`.
pub(crate) struct Item<'a> {
    pub path: String,
    pub value: &'a Value,
}

impl<'a> Item<'a> {
    pub fn fields(&self) -> ApiResult<Fields<'a>> {
        match self.value {
            Value::Map(m) => Ok(Fields::new(self.path.clone(), m)),
            other => Err(ApiError::invalid(
                &self.path,
                format!(
                    "Invalid object: {} must be an object, not {}.",
                    self.path,
                    other.describe()
                ),
            )),
        }
    }

    pub fn string(&self) -> ApiResult<&'a str> {
        match self.value {
            Value::Str(s) => Ok(s),
            other => Err(ApiError::invalid(
                &self.path,
                format!(
                    "Invalid string: {} must be a string, not {}.",
                    self.path,
                    other.describe()
                ),
            )),
        }
    }
}

/// What `metadata`-like parameters ask for: key updates, or clearing everything (`metadata=`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MapUpdate {
    pub clear: bool,
    /// `None` deletes the key (`metadata[k]=`).
    pub entries: Vec<(String, Option<String>)>,
}

impl MapUpdate {
    pub fn apply(&self, target: &mut BTreeMap<String, String>) {
        if self.clear {
            target.clear();
        }
        for (k, v) in &self.entries {
            match v {
                Some(v) => {
                    target.insert(k.clone(), v.clone());
                }
                None => {
                    target.remove(k);
                }
            }
        }
    }

    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        self.apply(&mut m);
        m
    }
}

impl<'a> Fields<'a> {
    pub fn new(path: String, map: &'a BTreeMap<String, Value>) -> Self {
        Fields {
            path,
            map,
            seen: Vec::new(),
        }
    }

    pub fn root(params: &'a Params) -> Self {
        Fields::new(String::new(), &params.root)
    }

    /// The bracket path of a child key. Built by hand, not with `format!`: every nested
    /// object and list item a create reads gets one (perf had `format!` at 5% of a session
    /// create).
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            return key.to_string();
        }
        bracketed(&self.path, key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Every key at this level (resources ask by name; the fuzz tests read them all).
    #[cfg(test)]
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.map.keys().map(String::as_str)
    }

    /// Looks at a value without marking it as read.
    pub fn peek(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn take(&mut self, key: &str) -> Option<&'a Value> {
        let (k, v) = self.map.get_key_value(key)?;
        self.seen.push(k.as_str());
        Some(v)
    }

    /// Accepts the key whatever its content (harmless parameters we do not model).
    pub fn ignore(&mut self, key: &str) -> bool {
        self.take(key).is_some()
    }

    /// A string; `key=` (empty) reads as absent.
    pub fn string(&mut self, key: &str) -> ApiResult<Option<&'a str>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Str(s)) if s.is_empty() => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(other) => {
                let p = self.path_of(key);
                Err(ApiError::invalid(
                    &p,
                    format!(
                        "Invalid string: {p} must be a string, not {}.",
                        other.describe()
                    ),
                ))
            }
        }
    }

    pub fn owned(&mut self, key: &str) -> ApiResult<Option<String>> {
        Ok(self.string(key)?.map(str::to_string))
    }

    pub fn int(&mut self, key: &str) -> ApiResult<Option<i64>> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        parse_int(s)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_integer(&self.path_of(key), s))
    }

    pub fn bool(&mut self, key: &str) -> ApiResult<Option<bool>> {
        match self.string(key)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => {
                let p = self.path_of(key);
                Err(ApiError::invalid(&p, format!("Invalid boolean: {other}")))
            }
        }
    }

    /// One of a fixed set of values; Stripe answers `Invalid <name>: must be one of …`.
    pub fn one_of(
        &mut self,
        key: &str,
        allowed: &[&'static str],
    ) -> ApiResult<Option<&'static str>> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        match allowed.iter().find(|a| **a == s) {
            Some(a) => Ok(Some(a)),
            None => {
                let p = self.path_of(key);
                Err(ApiError::invalid(
                    &p,
                    format!("Invalid {p}: must be one of {}", one_of_list(allowed)),
                ))
            }
        }
    }

    /// A nested object; `key=` reads as absent.
    pub fn object(&mut self, key: &str) -> ApiResult<Option<Fields<'a>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Str(s)) if s.is_empty() => Ok(None),
            Some(Value::Map(m)) => Ok(Some(Fields::new(self.path_of(key), m))),
            Some(other) => {
                let p = self.path_of(key);
                Err(ApiError::invalid(
                    &p,
                    format!(
                        "Invalid object: {p} must be an object, not {}.",
                        other.describe()
                    ),
                ))
            }
        }
    }

    /// A list: `a[]=…` or `a[0]=…&a[1]=…` (indexes dense from 0). `key=` reads as an empty list.
    pub fn list(&mut self, key: &str) -> ApiResult<Option<Vec<Item<'a>>>> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        let path = self.path_of(key);
        let items: Vec<&'a Value> = match value {
            Value::Str(s) if s.is_empty() => Vec::new(),
            Value::List(items) => items.iter().collect(),
            Value::Map(m) => indexed_list(&path, m)?,
            other @ Value::Str(_) => {
                return Err(ApiError::invalid(
                    &path,
                    format!(
                        "Invalid array: {path} must be an array, not {}.",
                        other.describe()
                    ),
                ));
            }
        };
        Ok(Some(
            items
                .into_iter()
                .enumerate()
                .map(|(i, value)| Item {
                    path: item_path(&path, i),
                    value,
                })
                .collect(),
        ))
    }

    pub fn string_list(&mut self, key: &str) -> ApiResult<Option<Vec<String>>> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|i| i.string().map(str::to_string))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some)
    }

    /// A string→string map with Stripe's metadata semantics (`k=` deletes, `key=` clears).
    pub fn string_map(&mut self, key: &str) -> ApiResult<Option<MapUpdate>> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        let path = self.path_of(key);
        match value {
            Value::Str(s) if s.is_empty() => Ok(Some(MapUpdate {
                clear: true,
                entries: vec![],
            })),
            Value::Map(m) => {
                let mut entries = Vec::with_capacity(m.len());
                for (k, v) in m {
                    match v {
                        Value::Str(s) if s.is_empty() => entries.push((k.clone(), None)),
                        Value::Str(s) => entries.push((k.clone(), Some(s.clone()))),
                        other => {
                            let p = format!("{path}[{k}]");
                            return Err(ApiError::invalid(
                                &p,
                                format!(
                                    "Invalid string: {p} must be a string, not {}.",
                                    other.describe()
                                ),
                            ));
                        }
                    }
                }
                Ok(Some(MapUpdate {
                    clear: false,
                    entries,
                }))
            }
            other => Err(ApiError::invalid(
                &path,
                format!(
                    "Invalid object: {path} must be an object, not {}.",
                    other.describe()
                ),
            )),
        }
    }

    /// Fails with `parameter_unknown` naming the first key nobody read.
    pub fn finish(self) -> ApiResult<()> {
        match self.map.keys().find(|k| !self.seen.contains(&k.as_str())) {
            Some(k) => Err(ApiError::unknown(&self.path_of(k))),
            None => Ok(()),
        }
    }
}

/// `path[i]`, without `format!` (see [`Fields::path_of`]).
fn item_path(path: &str, i: usize) -> String {
    bracketed(path, itoa::Buffer::new().format(i))
}

/// `path[inner]`.
fn bracketed(path: &str, inner: &str) -> String {
    let mut out = String::with_capacity(path.len() + inner.len() + 2);
    out.push_str(path);
    out.push('[');
    out.push_str(inner);
    out.push(']');
    out
}

fn one_of_list(allowed: &[&str]) -> String {
    match allowed {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}

/// `a[0]=…&a[1]=…` arrives as a map with digit keys: order them and insist on 0..n.
/// Allocates per key, never per index: `a[999999999]=1` is one key and a gap error.
fn indexed_list<'a>(path: &str, m: &'a BTreeMap<String, Value>) -> ApiResult<Vec<&'a Value>> {
    if m.len() > MAX_LIST_LEN {
        return Err(too_long(path));
    }
    let mut indexed = Vec::with_capacity(m.len());
    for (k, v) in m {
        let Some(i) = (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
            .then(|| k.parse::<usize>().ok())
            .flatten()
        else {
            return Err(ApiError::invalid(
                path,
                format!("Invalid array: {path} must be an array, but it has the key {k:?}."),
            ));
        };
        indexed.push((i, v));
    }
    indexed.sort_by_key(|(i, _)| *i);
    for (expected, (i, _)) in indexed.iter().enumerate() {
        if *i != expected {
            return Err(ApiError::invalid(
                path,
                format!(
                    "Invalid array: the indexes of {path} must be consecutive and start at 0 \
                     (index {expected} is missing)."
                ),
            ));
        }
    }
    Ok(indexed.into_iter().map(|(_, v)| v).collect())
}

/// Decimal integer as the SDKs send it (`1999`, `-5`); no exponents, no fractions.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
