//! Stripe's search query language (`GET /v1/<resource>/search?query=…`) for the common
//! cases, and the `search_result` page the search endpoints answer.
//!
//! A query is clauses joined by spaces or `AND` (all must hold) or by `OR` (one must hold),
//! never both; each clause is `field:value` (exact, case-insensitive), `field~"sub"`
//! (substring, at least 3 characters, on the fields that allow it), `field>n`, `>=`, `<`,
//! `<=` (numeric fields), `field:null` (no value), `metadata['key']:'value'`, and may be
//! negated with a leading `-`. Values are quoted with `'` or `"` (`\` escapes), or bare
//! numbers. Parsing is bounded: at most [`MAX_QUERY_LEN`] characters and [`MAX_CLAUSES`]
//! clauses, one pass, no recursion. Every error is a 400 naming `query`.

use std::borrow::Cow;

use base64::Engine;
use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::form::{Fields, parse_int};
use crate::rows::InOrder;

/// Longest query accepted, in characters.
pub(crate) const MAX_QUERY_LEN: usize = 1000;
/// Most clauses in one query (Stripe's limit).
pub(crate) const MAX_CLAUSES: usize = 10;
/// Substring matching needs at least this many characters.
const MIN_SUBSTRING: usize = 3;

/// What a field is, for the operators it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// Free text: `:` and `~`.
    Text,
    /// An identifier or enum value (`status`, `currency`, `active`): `:` only.
    Token,
    /// A number (`amount`, `created`): `:`, `>`, `>=`, `<`, `<=`.
    Numeric,
    /// `metadata['key']`: `:` only.
    Metadata,
}

/// The searchable fields of one resource.
pub(crate) struct Schema {
    /// As in Stripe's messages: `customers`, `payment_intents`, …
    pub resource: &'static str,
    pub fields: &'static [(&'static str, FieldKind)],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Contains,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Literal {
    Str(String),
    Num(i64),
    Null,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Clause {
    pub negated: bool,
    pub field: &'static str,
    /// The key of `metadata['key']`.
    pub key: Option<String>,
    pub op: Op,
    pub value: Literal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Join {
    And,
    Or,
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Query {
    pub clauses: Vec<Clause>,
    pub join: Join,
}

/// A field's value on one object, as a resource reports it.
pub(crate) enum FieldValue<'a> {
    Text(Option<Cow<'a, str>>),
    Num(Option<i64>),
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::invalid(
        "query",
        format!(
            "Invalid query: {}. See https://stripe.com/docs/search#search-query-language for the query syntax.",
            message.into()
        ),
    )
}

/// A cursor over the query's characters.
struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn new(query: &str) -> Self {
        Lexer {
            chars: query.chars().collect(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn skip_spaces(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// A word of letters, digits, `_` and `.`.
    fn word(&mut self) -> String {
        let mut w = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        {
            w.push(c);
            self.pos += 1;
        }
        w
    }

    /// `'…'` or `"…"` with `\` escaping the next character.
    fn quoted(&mut self) -> ApiResult<String> {
        let quote = self.bump().expect("called on a quote");
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(bad(format!("a value is missing its closing {quote}"))),
                Some('\\') => match self.bump() {
                    Some(c) => s.push(c),
                    None => return Err(bad("the query ends with a lone backslash")),
                },
                Some(c) if c == quote => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    /// Whether the next word is `AND`/`OR` (case-insensitive) followed by a space or the end.
    fn keyword(&mut self) -> Option<Join> {
        let rest: String = self.chars[self.pos..].iter().take(4).collect();
        let upper = rest.to_ascii_uppercase();
        let (join, len) = if upper.starts_with("AND") {
            (Join::And, 3)
        } else if upper.starts_with("OR") {
            (Join::Or, 2)
        } else {
            return None;
        };
        let after = self.chars.get(self.pos + len).copied();
        if after.is_none_or(char::is_whitespace) {
            self.pos += len;
            Some(join)
        } else {
            None
        }
    }
}

fn parse_clause(lx: &mut Lexer, schema: &Schema) -> ApiResult<Clause> {
    let negated = lx.peek() == Some('-');
    if negated {
        lx.bump();
    }
    let name = lx.word();
    if name.is_empty() {
        return Err(match lx.peek() {
            Some(c) => bad(format!("expected a field name, found `{c}`")),
            None => bad("expected a clause after the last operator"),
        });
    }
    let (field, kind) = schema
        .fields
        .iter()
        .find(|(f, _)| *f == name)
        .copied()
        .ok_or_else(|| {
            ApiError::invalid(
                "query",
                format!(
                    "Field `{name}` is an unsupported search field for resource {r}. See \
                     https://stripe.com/docs/search#query-fields-for-{r} for a list of supported fields.",
                    r = schema.resource.replace('_', "-")
                ),
            )
        })?;
    let key = if kind == FieldKind::Metadata {
        if lx.bump() != Some('[') || !matches!(lx.peek(), Some('\'' | '"')) {
            return Err(bad(format!(
                "`{field}` takes a key in brackets: {field}['key']:'value'"
            )));
        }
        let k = lx.quoted()?;
        if lx.bump() != Some(']') {
            return Err(bad(format!("`{field}['{k}']` is missing its `]`")));
        }
        Some(k)
    } else {
        None
    };
    let op = match lx.bump() {
        Some(':') => Op::Eq,
        Some('~') => Op::Contains,
        Some('>') if lx.peek() == Some('=') => {
            lx.bump();
            Op::Gte
        }
        Some('<') if lx.peek() == Some('=') => {
            lx.bump();
            Op::Lte
        }
        Some('>') => Op::Gt,
        Some('<') => Op::Lt,
        Some(c) => {
            return Err(bad(format!(
                "expected an operator after `{name}`, found `{c}`"
            )));
        }
        None => return Err(bad(format!("`{name}` has no operator and value"))),
    };
    let value = match lx.peek() {
        Some('\'' | '"') => Literal::Str(lx.quoted()?),
        Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_' => {
            let mut w = String::new();
            if c == '-' {
                w.push(lx.bump().expect("peeked"));
            }
            w.push_str(&lx.word());
            if w == "null" {
                Literal::Null
            } else if let Some(n) = parse_int(&w) {
                Literal::Num(n)
            } else {
                Literal::Str(w)
            }
        }
        Some(c) => return Err(bad(format!("expected a value after `{name}`, found `{c}`"))),
        None => return Err(bad(format!("`{name}` has no value"))),
    };
    match (kind, op, &value) {
        (_, Op::Eq, _) => {}
        (FieldKind::Text, Op::Contains, Literal::Str(s)) if s.chars().count() >= MIN_SUBSTRING => {}
        (FieldKind::Text, Op::Contains, _) => {
            return Err(bad(format!(
                "substring matching (`~`) needs a quoted value of at least {MIN_SUBSTRING} characters"
            )));
        }
        (FieldKind::Numeric, Op::Gt | Op::Gte | Op::Lt | Op::Lte, Literal::Num(_)) => {}
        (FieldKind::Numeric, _, _) => {
            return Err(bad(format!("`{field}` compares with a number")));
        }
        _ => {
            return Err(bad(format!("`{field}` supports exact matching (`:`) only")));
        }
    }
    Ok(Clause {
        negated,
        field,
        key,
        op,
        value,
    })
}

/// Parses `query` against the resource's fields.
pub(crate) fn parse(query: &str, schema: &Schema) -> ApiResult<Query> {
    if query.chars().count() > MAX_QUERY_LEN {
        return Err(bad(format!(
            "a query may have at most {MAX_QUERY_LEN} characters"
        )));
    }
    let mut lx = Lexer::new(query);
    lx.skip_spaces();
    if lx.at_end() {
        return Err(ApiError::missing("query"));
    }
    let mut clauses = Vec::new();
    let mut join: Option<Join> = None;
    loop {
        if clauses.len() == MAX_CLAUSES {
            return Err(bad(format!(
                "a query may combine at most {MAX_CLAUSES} clauses"
            )));
        }
        clauses.push(parse_clause(&mut lx, schema)?);
        let spaced = lx.skip_spaces();
        if lx.at_end() {
            break;
        }
        if !spaced {
            return Err(bad("clauses must be separated by a space, AND or OR"));
        }
        let this = lx.keyword().unwrap_or(Join::And);
        if join.is_some_and(|j| j != this) {
            return Err(bad("AND and OR cannot be combined in one query"));
        }
        join = Some(this);
        lx.skip_spaces();
        if lx.at_end() {
            return Err(bad("the query ends with AND or OR"));
        }
    }
    Ok(Query {
        clauses,
        join: join.unwrap_or(Join::And),
    })
}

fn eq_text(value: &Option<Cow<'_, str>>, lit: &Literal) -> bool {
    match (value, lit) {
        (None, Literal::Null) => true,
        (Some(v), Literal::Str(s)) => v.to_lowercase() == s.to_lowercase(),
        (Some(v), Literal::Num(n)) => v.as_ref() == n.to_string(),
        _ => false,
    }
}

impl Clause {
    fn holds(&self, value: &FieldValue<'_>) -> bool {
        let hit = match (value, self.op, &self.value) {
            (FieldValue::Text(v), Op::Eq, lit) => eq_text(v, lit),
            (FieldValue::Text(Some(v)), Op::Contains, Literal::Str(s)) => {
                v.to_lowercase().contains(&s.to_lowercase())
            }
            (FieldValue::Num(v), Op::Eq, Literal::Null) => v.is_none(),
            (FieldValue::Num(Some(v)), op, Literal::Num(n)) => match op {
                Op::Eq => v == n,
                Op::Gt => v > n,
                Op::Gte => v >= n,
                Op::Lt => v < n,
                Op::Lte => v <= n,
                Op::Contains => false,
            },
            _ => false,
        };
        hit != self.negated
    }
}

impl Query {
    /// Whether an object matches; `value(field, key)` reports its fields.
    pub fn matches<'a>(&self, value: impl Fn(&str, Option<&str>) -> FieldValue<'a>) -> bool {
        let mut results = self
            .clauses
            .iter()
            .map(|c| c.holds(&value(c.field, c.key.as_deref())));
        match self.join {
            Join::And => results.all(|r| r),
            Join::Or => results.any(|r| r),
        }
    }
}

/// `query`, `limit`, `page`, `expand[]` of a search request.
pub(crate) struct SearchParams {
    pub query: Query,
    pub limit: usize,
    /// The id the previous page ended with.
    pub after: Option<String>,
    pub total_count: bool,
}

const PAGE_PREFIX: &str = "page_";

fn page_token(id: &str) -> String {
    format!(
        "{PAGE_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
    )
}

fn read_page_token(token: &str) -> ApiResult<String> {
    token
        .strip_prefix(PAGE_PREFIX)
        .and_then(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "page",
                "Invalid page: use the `next_page` value of a previous search result.",
            )
        })
}

impl SearchParams {
    /// Reads the search parameters (the caller finishes `f`).
    pub fn read(f: &mut Fields<'_>, schema: &Schema) -> ApiResult<SearchParams> {
        let query = f
            .string("query")?
            .ok_or_else(|| ApiError::missing("query"))?;
        let query = parse(query, schema)?;
        let limit = match f.int("limit")? {
            None => 10,
            Some(n) if n < 1 => return Err(ApiError::too_small("limit", 1)),
            Some(n) if n > 100 => return Err(ApiError::too_large("limit", 100)),
            Some(n) => n as usize,
        };
        let after = f.string("page")?.map(read_page_token).transpose()?;
        let total_count = super::read_expand(f, &["total_count"])?.contains(&"total_count");
        Ok(SearchParams {
            query,
            limit,
            after,
            total_count,
        })
    }

    /// One page of `items` (kept oldest first, answered newest first) that `keep`, after
    /// the page token's object; `position` finds an id in `items`.
    pub fn page<'a, T: 'a>(
        &self,
        items: &'a (impl InOrder<T> + ?Sized),
        position: impl Fn(&str) -> Option<usize>,
        id_of: impl Fn(&T) -> &str,
        keep: impl Fn(&'a T) -> bool,
    ) -> ApiResult<SearchPage<'a, T>> {
        let end = match &self.after {
            Some(id) => position(id).ok_or_else(|| {
                ApiError::invalid(
                    "page",
                    "Invalid page: use the `next_page` value of a previous search result.",
                )
            })?,
            None => items.count(),
        };
        let mut data: Vec<&T> = (0..end)
            .rev()
            .map(|i| items.at(i))
            .filter(|t| keep(t))
            .take(self.limit + 1)
            .collect();
        let has_more = data.len() > self.limit;
        data.truncate(self.limit);
        let next_page = has_more
            .then(|| data.last().map(|t| page_token(id_of(t))))
            .flatten();
        let total_count = self
            .total_count
            .then(|| (0..items.count()).filter(|&i| keep(items.at(i))).count());
        Ok(SearchPage {
            data,
            has_more,
            next_page,
            total_count,
        })
    }
}

/// What [`SearchParams::page`] found.
pub(crate) struct SearchPage<'a, T> {
    pub data: Vec<&'a T>,
    pub has_more: bool,
    pub next_page: Option<String>,
    pub total_count: Option<usize>,
}

/// `{"object":"search_result","data":[…],"has_more":…,"next_page":…,"url":"/v1/…/search"}`
#[derive(Serialize)]
pub(crate) struct SearchResultJson<T: Serialize> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
    pub next_page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<usize>,
    pub url: String,
}

impl<T: Serialize> SearchResultJson<T> {
    pub fn new<'a, S>(page: SearchPage<'a, S>, render: impl Fn(&'a S) -> T, url: &str) -> Self {
        SearchResultJson {
            object: "search_result",
            data: page.data.into_iter().map(render).collect(),
            has_more: page.has_more,
            next_page: page.next_page,
            total_count: page.total_count,
            url: url.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema {
        resource: "customers",
        fields: &[
            ("email", FieldKind::Text),
            ("name", FieldKind::Text),
            ("created", FieldKind::Numeric),
            ("metadata", FieldKind::Metadata),
            ("status", FieldKind::Token),
        ],
    };

    fn q(s: &str) -> Query {
        parse(s, &SCHEMA).unwrap_or_else(|e| panic!("{s}: {}", e.message))
    }

    fn err(s: &str) -> ApiError {
        parse(s, &SCHEMA).unwrap_err()
    }

    /// A tiny object for matching.
    struct Obj {
        email: Option<&'static str>,
        name: &'static str,
        created: i64,
        order: Option<&'static str>,
    }

    fn matches(query: &str, o: &Obj) -> bool {
        q(query).matches(|field, key| match (field, key) {
            ("email", _) => FieldValue::Text(o.email.map(Cow::Borrowed)),
            ("name", _) => FieldValue::Text(Some(Cow::Borrowed(o.name))),
            ("created", _) => FieldValue::Num(Some(o.created)),
            ("metadata", Some("order")) => FieldValue::Text(o.order.map(Cow::Borrowed)),
            _ => FieldValue::Text(None),
        })
    }

    const JENNY: Obj = Obj {
        email: Some("jenny@example.com"),
        name: "Jenny Rosen",
        created: 1_700_000_000,
        order: Some("42"),
    };

    #[test]
    fn parses_the_common_forms() {
        let parsed = q(r#"email:'a@b.test' AND metadata["order"]:"42""#);
        assert_eq!(parsed.join, Join::And);
        assert_eq!(parsed.clauses.len(), 2);
        assert_eq!(parsed.clauses[1].key.as_deref(), Some("order"));
        assert_eq!(q("created>=5 or created<2").join, Join::Or);
        assert!(q("-name:'x'").clauses[0].negated);
        assert_eq!(q("email:null").clauses[0].value, Literal::Null);
        assert_eq!(
            q(r"name:'O\'Brien'").clauses[0].value,
            Literal::Str("O'Brien".into())
        );
        assert_eq!(q("  name:'x'   name:'y'  ").clauses.len(), 2);
    }

    #[test]
    fn matching() {
        assert!(
            matches("email:'JENNY@example.com'", &JENNY),
            "case-insensitive"
        );
        assert!(!matches("email:'jenny@example.co'", &JENNY), "exact");
        assert!(matches("name~'rose'", &JENNY));
        assert!(matches("metadata['order']:'42'", &JENNY));
        assert!(matches("metadata['order']:42", &JENNY));
        assert!(!matches("metadata['other']:'42'", &JENNY));
        assert!(!matches("-metadata['other']:null", &JENNY));
        assert!(matches("metadata['other']:null", &JENNY));
        assert!(matches(
            "created>1699999999 AND created<=1700000000",
            &JENNY
        ));
        assert!(!matches("created>1700000000", &JENNY));
        assert!(matches(
            "name:'nobody' OR email:'jenny@example.com'",
            &JENNY
        ));
        assert!(!matches(
            "name:'nobody' AND email:'jenny@example.com'",
            &JENNY
        ));
        assert!(matches("-name:'nobody'", &JENNY));
        let guest = Obj {
            email: None,
            ..JENNY
        };
        assert!(matches("email:null", &guest));
        assert!(!matches("email~'jen'", &guest));
    }

    #[test]
    fn errors_name_query_and_say_why() {
        for (query, says) in [
            ("email:'a' AND name:'b' OR name:'c'", "AND and OR"),
            ("email:'unterminated", "closing"),
            ("email", "no operator"),
            ("email:", "no value"),
            ("email~'ab'", "at least 3"),
            ("status~'act'", "exact matching"),
            ("created>'x'", "number"),
            ("metadata:'x'", "key in brackets"),
            ("email:'a' AND", "ends with AND or OR"),
            ("email:'a'name:'b'", "separated"),
            ("(email:'a')", "field name"),
        ] {
            let e = err(query);
            assert_eq!(e.param.as_deref(), Some("query"), "{query}");
            assert!(e.message.contains(says), "{query}: {}", e.message);
        }
        let e = err("colour:'red'");
        assert!(
            e.message.starts_with(
                "Field `colour` is an unsupported search field for resource customers."
            ),
            "{}",
            e.message
        );
        assert_eq!(err("   ").code, Some("parameter_missing"));
    }

    #[test]
    fn bounded() {
        let eleven = ["name:'x'"; 11].join(" ");
        assert!(err(&eleven).message.contains("at most 10 clauses"));
        let ten = ["name:'x'"; 10].join(" AND ");
        assert_eq!(q(&ten).clauses.len(), 10);
        let long = format!("name:'{}'", "x".repeat(MAX_QUERY_LEN));
        assert!(err(&long).message.contains("at most 1000 characters"));
        // A hostile query of many quotes and brackets is linear and fails fast.
        let hostile = "metadata['".repeat(300);
        let started = std::time::Instant::now();
        assert!(parse(&hostile, &SCHEMA).is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn pages_with_tokens() {
        let items: Vec<String> = (0..5).map(|i| format!("o{i}")).collect();
        let pos = |id: &str| items.iter().position(|i| i == id);
        let mut p = SearchParams {
            query: q("name:'x'"),
            limit: 2,
            after: None,
            total_count: true,
        };
        let first = p.page(&items, pos, |s| s, |_| true).unwrap();
        assert_eq!(first.data, vec!["o4", "o3"]);
        assert!(first.has_more);
        assert_eq!(first.total_count, Some(5));
        let token = first.next_page.unwrap();
        p.after = Some(read_page_token(&token).unwrap());
        let second = p.page(&items, pos, |s| s, |_| true).unwrap();
        assert_eq!(second.data, vec!["o2", "o1"]);
        p.after = Some(read_page_token(&second.next_page.unwrap()).unwrap());
        let last = p.page(&items, pos, |s| s, |_| true).unwrap();
        assert_eq!(last.data, vec!["o0"]);
        assert!(!last.has_more && last.next_page.is_none());
        assert_eq!(
            read_page_token("garbage").unwrap_err().param.as_deref(),
            Some("page")
        );
    }
}
