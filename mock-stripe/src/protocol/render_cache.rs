//! The JSON of objects read recently, so that reading one again unchanged (a session polled
//! with retrieve, a list of the newest objects, paged again) copies bytes instead of
//! serialising the object again, which is most of what such a request costs. What a create
//! answers is not kept: it is seldom read before it changes.
//!
//! One cache per [`Table`](crate::store::Table), keyed by the object's position there.
//! The table forgets an entry whenever it hands the object out for a change, and everything
//! when positions move, so an entry is always the object's current JSON. Bounded: a ring of
//! [`SLOTS`] entries holding at most [`MAX_BYTES`], allocated on first use; older entries
//! make room for newer ones.

use bytes::Bytes;

use super::version::ApiVersion;
use crate::id_index::IdIndex;

/// Entries per table: a page of the largest list (100) and the objects around it.
pub(crate) const SLOTS: usize = 128;
/// Bytes per table (a Checkout Session renders to about 3.5 KB).
pub(crate) const MAX_BYTES: usize = 1024 * 1024;

#[derive(Default)]
pub(crate) struct RenderCache {
    /// Position in the table → slot.
    by_position: IdIndex<u32>,
    /// Empty until the first entry.
    slots: Vec<Option<Slot>>,
    /// The slot the next new entry takes (the oldest).
    hand: usize,
    bytes: usize,
}

struct Slot {
    position: u32,
    version: ApiVersion,
    body: Bytes,
    /// `body` as an element of a list's `data` (see [`nested`]), made when first listed.
    nested: Option<Vec<u8>>,
}

/// What a list's `data` holds for an object after another element: `,` then, on a new
/// line, the object's top-level pretty JSON two levels deep (every line indented four more
/// spaces; raw newlines only occur between tokens, JSON strings escape theirs). The first
/// element of a list is this without its leading comma, so one kept copy serves both and
/// a list copies these one after another into its body.
pub(crate) fn nested(body: &[u8]) -> Vec<u8> {
    const LEAD: &[u8] = b",\n    ";
    let lines = memchr::memchr_iter(b'\n', body).count();
    let mut out = Vec::with_capacity(LEAD.len() + body.len() + 4 * lines);
    out.extend_from_slice(LEAD);
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', body) {
        out.extend_from_slice(&body[start..=nl]);
        out.extend_from_slice(b"    ");
        start = nl + 1;
    }
    out.extend_from_slice(&body[start..]);
    out
}

impl Slot {
    fn size(&self) -> usize {
        self.body.len() + self.nested.as_ref().map_or(0, Vec::len)
    }
}

impl RenderCache {
    /// The JSON of the object at `position` rendered at `version`, if kept.
    pub fn get(&self, position: usize, version: &ApiVersion) -> Option<Bytes> {
        self.slot(position, version).map(|s| s.body.clone())
    }

    /// The same as an element of a list (made from the kept JSON and kept too).
    pub fn get_nested(&mut self, position: usize, version: &ApiVersion) -> Option<&[u8]> {
        let slot = *self.by_position.get(&(position as u64))?;
        let s = self.slots[slot as usize].as_mut()?;
        if s.version != *version {
            return None;
        }
        if s.nested.is_none() {
            let n = nested(&s.body);
            self.bytes += n.len();
            s.nested = Some(n);
        }
        s.nested.as_deref()
    }

    /// Whether the JSON of the object at `position` at `version` is kept.
    pub fn holds(&self, position: usize, version: &ApiVersion) -> bool {
        self.slot(position, version).is_some()
    }

    fn slot(&self, position: usize, version: &ApiVersion) -> Option<&Slot> {
        let slot = *self.by_position.get(&(position as u64))?;
        let s = self.slots[slot as usize].as_ref()?;
        (s.version == *version).then_some(s)
    }

    /// Keeps `body` as the JSON of the object at `position` at `version` (in place of what
    /// was kept for it at another version).
    pub fn put(&mut self, position: usize, version: &ApiVersion, body: Bytes) {
        let Ok(position32) = u32::try_from(position) else {
            return;
        };
        if body.len() > MAX_BYTES / 4 {
            return; // one huge object would push out everything else
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
        }
        let key = position as u64;
        let slot = match self.by_position.get(&key) {
            Some(&slot) => slot as usize,
            None => {
                let slot = self.hand;
                self.hand = (self.hand + 1) % SLOTS;
                self.empty(slot);
                self.by_position.insert(key, slot as u32);
                slot
            }
        };
        let old = self.slots[slot].replace(Slot {
            position: position32,
            version: version.clone(),
            body,
            nested: None,
        });
        self.bytes -= old.map_or(0, |s| s.size());
        self.bytes += self.slots[slot].as_ref().map_or(0, Slot::size);
        // Over the byte budget: drop the oldest entries (never the one just kept).
        let hand = self.hand;
        for at in (0..SLOTS).map(|i| (hand + i) % SLOTS) {
            if self.bytes <= MAX_BYTES {
                break;
            }
            if at != slot {
                self.empty(at);
            }
        }
    }

    /// Drops what was kept for the object at `position` (it is about to change).
    pub fn forget(&mut self, position: usize) {
        if let Some(slot) = self.by_position.remove(&(position as u64)) {
            let old = self.slots[slot as usize].take();
            self.bytes -= old.map_or(0, |s| s.size());
        }
    }

    /// Drops everything (positions moved).
    pub fn clear(&mut self) {
        *self = RenderCache::default();
    }

    fn empty(&mut self, slot: usize) {
        if let Some(old) = self.slots[slot].take() {
            self.by_position.remove(&u64::from(old.position));
            self.bytes -= old.size();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_position.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApiVersion {
        ApiVersion::parse(s).unwrap()
    }

    #[test]
    fn keeps_per_position_and_version_and_forgets_on_change() {
        let mut c = RenderCache::default();
        let (old, new) = (v("2020-08-27"), v("2024-06-20"));
        assert!(c.get(3, &new).is_none());
        c.put(3, &new, Bytes::from_static(b"{new}"));
        assert_eq!(c.get(3, &new).unwrap(), "{new}");
        assert!(
            c.get(3, &old).is_none(),
            "another version is another rendering"
        );
        assert!(c.get(4, &new).is_none());
        c.put(3, &old, Bytes::from_static(b"{old}"));
        assert_eq!(c.get(3, &old).unwrap(), "{old}");
        assert!(c.get(3, &new).is_none(), "one entry per object");
        assert!(c.holds(3, &old) && !c.holds(3, &new));
        assert_eq!(c.get_nested(3, &old).unwrap(), b",\n    {old}");
        assert!(c.get_nested(3, &new).is_none());
        c.forget(3);
        assert!(c.get(3, &old).is_none());
        assert!(c.get_nested(3, &old).is_none() && !c.holds(3, &old));
        assert_eq!((c.len(), c.bytes), (0, 0));
    }

    #[test]
    fn holds_at_most_its_slots_oldest_leaving_first() {
        let mut c = RenderCache::default();
        let ver = v("2024-06-20");
        for pos in 0..SLOTS + 10 {
            c.put(pos, &ver, Bytes::from(vec![b'x'; 10]));
        }
        assert_eq!(c.len(), SLOTS);
        assert_eq!(c.bytes, SLOTS * 10);
        assert!(c.get(9, &ver).is_none());
        assert!(c.get(10, &ver).is_some());
        assert!(c.get(SLOTS + 9, &ver).is_some());
    }

    #[test]
    fn holds_at_most_its_bytes() {
        let mut c = RenderCache::default();
        let ver = v("2024-06-20");
        let big = MAX_BYTES / 5;
        for pos in 0..20 {
            c.put(pos, &ver, Bytes::from(vec![b'x'; big]));
            assert!(c.bytes <= MAX_BYTES, "{} after {pos}", c.bytes);
            assert!(c.get(pos, &ver).is_some(), "the newest entry stays");
        }
        assert!(c.get(0, &ver).is_none());
        c.put(99, &ver, Bytes::from(vec![b'x'; MAX_BYTES]));
        assert!(c.get(99, &ver).is_none(), "too large to keep");
        c.clear();
        assert_eq!((c.len(), c.bytes), (0, 0));
    }
}
