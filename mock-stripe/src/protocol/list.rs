//! List objects and cursor pagination (contract §1.9).

use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::form::Fields;

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

/// One page of a collection kept in creation order (oldest first), answered newest first.
///
/// `position` finds a cursor's index in `items` (cursors must exist, even when filtered out).
pub(crate) fn paginate<'a, T>(
    items: &'a [T],
    position: impl Fn(&str) -> Option<usize>,
    keep: impl Fn(&T) -> bool,
    params: &ListParams,
    object_name: &str,
) -> ApiResult<(Vec<&'a T>, bool)> {
    let cursor = |param: &str, id: &str| {
        position(id).ok_or_else(|| ApiError::no_such(object_name, id, param, false))
    };
    // One more than asked tells whether there is more in the direction of travel.
    let take = params.limit + 1;
    let (mut page, backwards): (Vec<&T>, bool) = if let Some(id) = &params.ending_before {
        // The items just newer than the cursor, oldest first; reversed below.
        let pos = cursor("ending_before", id)?;
        let newer: Vec<&T> = items[pos + 1..]
            .iter()
            .filter(|t| keep(t))
            .take(take)
            .collect();
        (newer, true)
    } else {
        let older = match &params.starting_after {
            Some(id) => &items[..cursor("starting_after", id)?],
            None => items,
        };
        (
            older.iter().rev().filter(|t| keep(t)).take(take).collect(),
            false,
        )
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
