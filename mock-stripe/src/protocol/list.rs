//! List objects and cursor pagination (contract §1.9).

use bytes::Bytes;
use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::form::Fields;
use crate::rows::InOrder;

/// `limit`, `starting_after`, `ending_before`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListParams {
    pub limit: usize,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

impl ListParams {
    pub fn read(f: &mut Fields<'_>) -> ApiResult<ListParams> {
        let limit = match f.int("limit")? {
            None => 10,
            Some(n) if n < 1 => return Err(ApiError::too_small("limit", 1)),
            Some(n) if n > 100 => return Err(ApiError::too_large("limit", 100)),
            Some(n) => n as usize,
        };
        let starting_after = f.owned("starting_after")?;
        let ending_before = f.owned("ending_before")?;
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ApiError::exclusive("starting_after", "ending_before"));
        }
        Ok(ListParams {
            limit,
            starting_after,
            ending_before,
        })
    }
}

/// `{"object":"list","data":[…],"has_more":…,"url":"/v1/…"}`; `url` is a relative path
/// without query string because the SDKs request it again to page.
#[derive(Serialize)]
pub(crate) struct ListJson<T: Serialize> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
    pub url: String,
}

impl<T: Serialize> ListJson<T> {
    pub fn new(data: Vec<T>, has_more: bool, url: String) -> Self {
        ListJson {
            object: "list",
            data,
            has_more,
            url,
        }
    }
}

/// Writes the pretty JSON of a [`ListJson`] whose elements are already rendered as list
/// elements ([`render_cache::nested`]) into one buffer: byte for byte what serialising the
/// list gives. The kept elements are copied, not shared: a copy takes no reference on
/// them, where shared pieces had their counts taken and dropped from both cores whenever
/// both listed the same objects (and measured slower).
///
/// [`render_cache::nested`]: super::render_cache::nested
pub(crate) struct ListWriter {
    /// Empty until the first element (or `finish`) writes the head.
    out: Vec<u8>,
    /// Elements the page holds, for sizing the buffer from the first.
    expected: usize,
}

impl ListWriter {
    const HEAD: &'static [u8] = b"{\n  \"object\": \"list\",\n  \"data\": [";

    pub fn new(elements: usize) -> ListWriter {
        ListWriter {
            out: Vec::new(),
            expected: elements,
        }
    }

    pub fn push(&mut self, element: &[u8]) {
        if self.out.is_empty() {
            // Sized for elements like the first and the tail, so it seldom grows.
            self.out
                .reserve(Self::HEAD.len() + element.len() * self.expected.max(1) + 128);
            self.out.extend_from_slice(Self::HEAD);
            // Each element starts with the comma that separates it from the one before.
            self.out
                .extend_from_slice(element.get(1..).unwrap_or_default());
        } else {
            self.out.extend_from_slice(element);
        }
    }

    pub fn finish(mut self, has_more: bool, url: &str) -> Bytes {
        if self.out.is_empty() {
            self.out.extend_from_slice(Self::HEAD);
        } else {
            self.out.extend_from_slice(b"\n  ");
        }
        self.out.extend_from_slice(b"],\n  \"has_more\": ");
        self.out
            .extend_from_slice(if has_more { b"true" } else { b"false" });
        self.out.extend_from_slice(b",\n  \"url\": ");
        // A string always serialises.
        serde_json::to_writer(&mut self.out, url).unwrap_or_default();
        self.out.extend_from_slice(b"\n}");
        self.out.into()
    }
}

/// One page of a collection kept in creation order (oldest first), answered newest first.
///
/// `position` finds a cursor's index in `items` (cursors must exist, even when filtered out).
pub(crate) fn paginate<'a, T: 'a>(
    items: &'a (impl InOrder<T> + ?Sized),
    position: impl Fn(&str) -> Option<usize>,
    keep: impl Fn(&T) -> bool,
    params: &ListParams,
    object_name: &str,
) -> ApiResult<(Vec<&'a T>, bool)> {
    let (page, has_more) = paginate_positions(items, position, keep, params, object_name)?;
    Ok((page.into_iter().map(|i| items.at(i)).collect(), has_more))
}

/// [`paginate`], giving the positions in `items` of the page (for the render cache, which
/// is keyed by position).
pub(crate) fn paginate_positions<T>(
    items: &(impl InOrder<T> + ?Sized),
    position: impl Fn(&str) -> Option<usize>,
    keep: impl Fn(&T) -> bool,
    params: &ListParams,
    object_name: &str,
) -> ApiResult<(Vec<usize>, bool)> {
    let cursor = |param: &str, id: &str| {
        position(id).ok_or_else(|| ApiError::no_such(object_name, id, param, false))
    };
    // One more than asked tells whether there is more in the direction of travel. The
    // pages are allocated at their full size up front: a filtered iterator cannot say how
    // many it yields, and growing from nothing cost three reallocations per list.
    let take = params.limit + 1;
    let (mut page, backwards): (Vec<usize>, bool) = if let Some(id) = &params.ending_before {
        // The items just newer than the cursor, oldest first; reversed below.
        let start = cursor("ending_before", id)? + 1;
        let mut newer = Vec::with_capacity(take.min(items.count()));
        newer.extend(
            (start..items.count())
                .filter(|&i| keep(items.at(i)))
                .take(take),
        );
        (newer, true)
    } else {
        let end = match &params.starting_after {
            Some(id) => cursor("starting_after", id)?,
            None => items.count(),
        };
        let mut older = Vec::with_capacity(take.min(end));
        older.extend((0..end).rev().filter(|&i| keep(items.at(i))).take(take));
        (older, false)
    };
    let has_more = page.len() > params.limit;
    page.truncate(params.limit);
    if backwards {
        page.reverse();
    }
    Ok((page, has_more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assembled_list_is_what_serde_renders() {
        let objects = [
            serde_json::json!({"id": "a", "n": 1, "nested": {"list": [1, 2], "empty": {}, "none": []},
                "text": "line\nbreak \"quoted\"", "null": null}),
            serde_json::json!({"id": "b", "data": {"object": "list", "data": [{"x": [true]}]}}),
            serde_json::json!({}),
        ];
        for n in 0..=objects.len() {
            for has_more in [false, true] {
                let page = &objects[..n];
                let mut list = ListWriter::new(page.len());
                for o in page {
                    list.push(&super::super::render_cache::nested(
                        &crate::protocol::to_json(o).unwrap(),
                    ));
                }
                let url = "/v1/checkout/sessions";
                let expected =
                    crate::protocol::to_json(&ListJson::new(page.to_vec(), has_more, url.into()))
                        .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&list.finish(has_more, url)),
                    String::from_utf8_lossy(&expected),
                    "{n} elements, has_more {has_more}"
                );
            }
        }
    }

    fn params(limit: usize, after: Option<&str>, before: Option<&str>) -> ListParams {
        ListParams {
            limit,
            starting_after: after.map(str::to_string),
            ending_before: before.map(str::to_string),
        }
    }

    #[test]
    fn pages_newest_first_in_both_directions() {
        let items: Vec<String> = (0..5).map(|i| format!("o{i}")).collect();
        let pos = |id: &str| items.iter().position(|i| i == id);
        let (page, more) = paginate(&items, pos, |_| true, &params(2, None, None), "x").unwrap();
        assert_eq!(page, vec!["o4", "o3"]);
        assert!(more);
        let (page, more) =
            paginate(&items, pos, |_| true, &params(2, Some("o3"), None), "x").unwrap();
        assert_eq!(page, vec!["o2", "o1"]);
        assert!(more);
        let (page, more) =
            paginate(&items, pos, |_| true, &params(2, Some("o1"), None), "x").unwrap();
        assert_eq!(page, vec!["o0"]);
        assert!(!more);
        let (page, more) =
            paginate(&items, pos, |_| true, &params(2, None, Some("o1")), "x").unwrap();
        assert_eq!(page, vec!["o3", "o2"]);
        assert!(more);
        let (page, more) =
            paginate(&items, pos, |_| true, &params(2, None, Some("o2")), "x").unwrap();
        assert_eq!(page, vec!["o4", "o3"]);
        assert!(!more);
    }

    #[test]
    fn unknown_cursor_is_resource_missing() {
        let items = vec!["a".to_string()];
        let err = paginate(
            &items,
            |_| None,
            |_| true,
            &params(10, Some("zz"), None),
            "event",
        )
        .unwrap_err();
        assert_eq!(err.code, Some("resource_missing"));
        assert_eq!(err.param.as_deref(), Some("starting_after"));
        assert_eq!(err.message, "No such event: 'zz'");
    }
}
