//! Idempotent requests (contract §1.6): a POST with an `Idempotency-Key` runs once; a
//! repeat with the same parameters replays the first answer byte for byte; the same key
//! with other parameters is a 400 `idempotency_error`; a repeat while the first still runs is
//! a 409. Keys belong to one account and expire 24 h after first use, on the account's clock.
//!
//! What is saved: answers of requests that started executing (2xx, 402 card errors, 5xx),
//! not those refused while reading their parameters (other 4xx), which leave the key free.
//! The store is bounded (entries and bytes; the oldest go first) so a client sending a new
//! key with every request, as the SDKs do, cannot grow memory without limit.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use bytes::Bytes;
use http::StatusCode;
use sha2::{Digest, Sha256};

use super::Params;
use super::form::Value;

/// How long a key is remembered (Stripe prunes keys once they are at least 24 hours old).
pub(crate) const KEY_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// Stripe's limit on key length.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// What identifies "the same request": method, path and the decoded parameter tree (so
/// `+` vs `%20`, or `expand[]` vs `expand[0]`, are the same parameters).
pub(crate) type Fingerprint = [u8; 32];

pub(crate) fn fingerprint(method: &str, path: &str, params: &Params) -> Fingerprint {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    hash_map(&mut h, &params.root);
    h.finalize().into()
}

// The tree is hashed in the form `format!("{:?}", params.root)` writes: it is canonical (the
// maps are ordered), and it is what fingerprints were before these functions, so keys saved
// in a data directory by an older mock still match their requests. Written straight into
// the hash, without the formatter, which was most of what fingerprinting cost: 1.8 µs for
// a create's parameters formatted first, 0.5 µs hashed piece by piece.

fn hash_map(h: &mut Sha256, map: &BTreeMap<String, Value>) {
    h.update(b"{");
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            h.update(b", ");
        }
        hash_str(h, key);
        h.update(b": ");
        hash_value(h, value);
    }
    h.update(b"}");
}

fn hash_value(h: &mut Sha256, value: &Value) {
    match value {
        Value::Str(s) => {
            h.update(b"Str(");
            hash_str(h, s);
        }
        Value::Map(m) => {
            h.update(b"Map(");
            hash_map(h, m);
        }
        Value::List(items) => {
            h.update(b"List([");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    h.update(b", ");
                }
                hash_value(h, item);
            }
            h.update(b"]");
        }
    }
    h.update(b")");
}

/// A string as `{:?}` quotes it: printable ASCII other than `"` and `\` stands for itself;
/// anything else takes the formatter's escaping rules.
fn hash_str(h: &mut Sha256, s: &str) {
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        h.update(b"\"");
        h.update(s.as_bytes());
        h.update(b"\"");
    } else {
        h.update(format!("{s:?}").as_bytes());
    }
}

/// A saved answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Saved {
    pub status: StatusCode,
    pub body: Bytes,
}

enum Entry {
    Running {
        fingerprint: Fingerprint,
    },
    Done {
        fingerprint: Fingerprint,
        saved: Saved,
    },
}

/// What to do with a request carrying a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// First use: run it, then [`IdempotencyStore::finish`].
    Run,
    /// Seen with the same parameters: answer this again.
    Replay(Saved),
    /// Seen with other parameters.
    Mismatch,
    /// The first request with this key is still running.
    InUse,
}

pub(crate) struct IdempotencyStore {
    entries: HashMap<String, (u64, i64, Entry)>,
    /// Keys in first-use order with their generation, for expiry and eviction.
    order: VecDeque<(String, u64)>,
    generation: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    /// Keys saved or forgotten since the journal last took them (`None`: no data
    /// directory). Running claims are not journaled: after a crash they are free again.
    changed: Option<HashSet<String>>,
}

/// A saved answer as a data directory keeps it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredKey {
    pub key: String,
    pub generation: u64,
    pub first_used_ms: i64,
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

impl IdempotencyStore {
    pub fn new(max_entries: usize, max_bytes: usize) -> IdempotencyStore {
        IdempotencyStore {
            entries: HashMap::new(),
            order: VecDeque::new(),
            generation: 0,
            bytes: 0,
            max_entries,
            max_bytes,
            changed: None,
        }
    }

    pub fn track_changes(&mut self) {
        self.changed = Some(HashSet::new());
    }

    /// Keys saved or forgotten since the last call: `Ok` what is saved now, `Err` a key to
    /// forget.
    pub fn take_changed(&mut self) -> Vec<Result<StoredKey, String>> {
        let keys: Vec<String> = self
            .changed
            .as_mut()
            .map(|c| c.drain().collect())
            .unwrap_or_default();
        keys.into_iter().map(|k| self.stored(&k).ok_or(k)).collect()
    }

    /// Every saved answer (for a snapshot), oldest first.
    pub fn all_stored(&self) -> Vec<StoredKey> {
        let mut all: Vec<StoredKey> = self.entries.keys().filter_map(|k| self.stored(k)).collect();
        all.sort_unstable_by_key(|s| s.generation);
        all
    }

    fn stored(&self, key: &str) -> Option<StoredKey> {
        match self.entries.get(key)? {
            (generation, first_used_ms, Entry::Done { fingerprint, saved }) => Some(StoredKey {
                key: key.to_string(),
                generation: *generation,
                first_used_ms: *first_used_ms,
                fingerprint: hex::encode(fingerprint),
                status: saved.status.as_u16(),
                body: String::from_utf8_lossy(&saved.body).into_owned(),
            }),
            _ => None,
        }
    }

    /// Puts back a saved answer from the journal (not marked as changed). Bounds apply.
    pub fn restore(&mut self, s: StoredKey) {
        let (Ok(status), Some(fingerprint)) = (
            StatusCode::from_u16(s.status),
            hex::decode(&s.fingerprint)
                .ok()
                .and_then(|f| Fingerprint::try_from(f).ok()),
        ) else {
            return;
        };
        self.forget(&s.key);
        self.generation = self.generation.max(s.generation);
        self.bytes += s.key.len() + s.body.len();
        self.order.push_back((s.key.clone(), s.generation));
        self.entries.insert(
            s.key,
            (
                s.generation,
                s.first_used_ms,
                Entry::Done {
                    fingerprint,
                    saved: Saved {
                        status,
                        body: Bytes::from(s.body),
                    },
                },
            ),
        );
        self.evict();
    }

    /// Forgets a key (replaying the journal; not marked as changed).
    pub fn forget(&mut self, key: &str) {
        if let Some((_, _, entry)) = self.entries.remove(key) {
            self.bytes -= key.len();
            if let Entry::Done { saved, .. } = entry {
                self.bytes -= saved.body.len();
            }
        }
    }

    /// After restoring: keys back in first-use order (expiry and eviction go by it).
    pub fn restored(&mut self) {
        self.order
            .make_contiguous()
            .sort_unstable_by_key(|(_, g)| *g);
    }

    fn mark(&mut self, key: &str) {
        if let Some(c) = &mut self.changed {
            c.insert(key.to_string());
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn claim(&mut self, key: &str, fingerprint: Fingerprint, now_ms: i64) -> Claim {
        self.prune(now_ms);
        match self.entries.get(key) {
            Some((_, _, Entry::Running { .. })) => Claim::InUse,
            Some((
                _,
                _,
                Entry::Done {
                    fingerprint: f,
                    saved,
                },
            )) => {
                if *f == fingerprint {
                    Claim::Replay(saved.clone())
                } else {
                    Claim::Mismatch
                }
            }
            None => {
                self.generation += 1;
                self.entries.insert(
                    key.to_string(),
                    (self.generation, now_ms, Entry::Running { fingerprint }),
                );
                self.order.push_back((key.to_string(), self.generation));
                self.bytes += key.len();
                self.evict();
                Claim::Run
            }
        }
    }

    /// The claimed request ended: save its answer if it started executing, else free the key.
    pub fn finish(&mut self, key: &str, status: StatusCode, body: &Bytes) {
        let saved = status.is_success()
            || status == StatusCode::PAYMENT_REQUIRED
            || status.is_server_error();
        let Some((_, _, entry)) = self.entries.get_mut(key) else {
            return;
        };
        let Entry::Running { fingerprint } = entry else {
            return;
        };
        if saved {
            let fingerprint = *fingerprint;
            *entry = Entry::Done {
                fingerprint,
                saved: Saved {
                    status,
                    body: body.clone(),
                },
            };
            self.bytes += body.len();
            self.mark(key);
            self.evict();
        } else {
            self.release(key);
        }
    }

    /// Frees a claimed key without saving anything (the request was refused or abandoned).
    pub fn release(&mut self, key: &str) {
        if let Some((_, _, Entry::Running { .. })) = self.entries.get(key) {
            self.remove(key);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some((_, _, Entry::Done { .. })) = self.entries.get(key) {
            self.mark(key);
        }
        self.forget(key);
    }

    /// Drops keys older than their lifetime.
    fn prune(&mut self, now_ms: i64) {
        while let Some((key, generation)) = self.order.front() {
            match self.entries.get(key) {
                Some((g, first_used, _)) if g == generation => {
                    if now_ms - first_used < KEY_LIFETIME_MS {
                        break;
                    }
                    let key = key.clone();
                    self.remove(&key);
                }
                // Released or replaced since: the queue entry is stale.
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Drops the oldest finished keys while over a bound (a running one is never dropped:
    /// its request would lose its claim).
    fn evict(&mut self) {
        // Each queue entry is looked at once at most, so a queue of running keys ends it.
        let mut budget = self.order.len();
        while (self.entries.len() > self.max_entries || self.bytes > self.max_bytes) && budget > 0 {
            budget -= 1;
            let Some((key, generation)) = self.order.pop_front() else {
                return;
            };
            match self.entries.get(&key) {
                Some((g, _, Entry::Done { .. })) if *g == generation => self.remove(&key),
                Some((g, _, Entry::Running { .. })) if *g == generation => {
                    self.order.push_back((key, generation));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(s: &str) -> Fingerprint {
        fingerprint(
            "POST",
            "/v1/checkout/sessions",
            &Params::decode(&[s.as_bytes()]).unwrap(),
        )
    }

    #[test]
    fn same_parameters_in_other_spellings_are_the_same_request() {
        assert_eq!(fp("a=x+y&expand[]=b"), fp("a=x%20y&expand[]=b"));
        assert_eq!(fp("a=1&b=2"), fp("b=2&a=1"));
        assert_ne!(fp("a=1"), fp("a=2"));
        let other_path = fingerprint("POST", "/v1/events", &Params::default());
        assert_ne!(other_path, fp(""));
    }

    #[test]
    fn the_fingerprint_hashes_the_debug_form_of_the_tree() {
        // Keys saved by older mocks were fingerprinted from the formatted tree.
        for wire in [
            "",
            "a=1",
            "mode=payment&line_items[0][price_data][unit_amount]=1999&line_items[0][quantity]=1",
            "expand[]=a&expand[]=b&metadata[k]=&metadata[quote]=%22&metadata[slash]=%5C",
            "name=Jos%C3%A9&tab=%09&nl=%0A&nul=%00&emoji=%F0%9F%98%80&accent=%CC%81x",
            "deep[a][b][c][0][d]=1&list[0][]=x&list[1][]=y",
        ] {
            let params = Params::decode(&[wire.as_bytes()]).unwrap();
            let mut h = Sha256::new();
            h.update(format!("POST /v1/x\n{:?}", params.root).as_bytes());
            let formatted: Fingerprint = h.finalize().into();
            assert_eq!(fingerprint("POST", "/v1/x", &params), formatted, "{wire}");
        }
    }

    #[test]
    fn replay_mismatch_and_in_use() {
        let mut s = IdempotencyStore::new(100, 1 << 20);
        assert_eq!(s.claim("k", fp("a=1"), 0), Claim::Run);
        assert_eq!(s.claim("k", fp("a=1"), 1), Claim::InUse);
        s.finish("k", StatusCode::OK, &Bytes::from_static(b"{\"id\":1}"));
        let saved = Saved {
            status: StatusCode::OK,
            body: Bytes::from_static(b"{\"id\":1}"),
        };
        assert_eq!(s.claim("k", fp("a=1"), 2), Claim::Replay(saved));
        assert_eq!(s.claim("k", fp("a=2"), 3), Claim::Mismatch);
    }

    #[test]
    fn validation_failures_leave_the_key_free() {
        let mut s = IdempotencyStore::new(100, 1 << 20);
        assert_eq!(s.claim("k", fp("a=1"), 0), Claim::Run);
        s.finish("k", StatusCode::BAD_REQUEST, &Bytes::from_static(b"{}"));
        assert_eq!(s.claim("k", fp("a=2"), 1), Claim::Run);
        s.finish(
            "k",
            StatusCode::INTERNAL_SERVER_ERROR,
            &Bytes::from_static(b"{\"error\":{}}"),
        );
        assert!(matches!(s.claim("k", fp("a=2"), 2), Claim::Replay(r) if r.status == 500));
    }

    #[test]
    fn keys_expire_after_a_day_on_the_clock() {
        let mut s = IdempotencyStore::new(100, 1 << 20);
        s.claim("k", fp("a=1"), 0);
        s.finish("k", StatusCode::OK, &Bytes::from_static(b"1"));
        assert!(matches!(
            s.claim("k", fp("a=1"), KEY_LIFETIME_MS - 1),
            Claim::Replay(_)
        ));
        assert_eq!(s.claim("k", fp("a=2"), KEY_LIFETIME_MS), Claim::Run);
    }

    #[test]
    fn the_store_is_bounded_by_entries_and_bytes() {
        let mut s = IdempotencyStore::new(10, 1 << 20);
        for i in 0..1000 {
            let key = format!("key-{i}");
            s.claim(&key, fp("a=1"), i);
            s.finish(&key, StatusCode::OK, &Bytes::from_static(&[b'x'; 100]));
        }
        assert_eq!(s.len(), 10);
        assert!(matches!(
            s.claim("key-999", fp("a=1"), 1000),
            Claim::Replay(_)
        ));
        assert_eq!(
            s.claim("key-0", fp("a=2"), 1000),
            Claim::Run,
            "the oldest went first"
        );

        let mut s = IdempotencyStore::new(1000, 1000);
        for i in 0..100 {
            let key = format!("key-{i}");
            s.claim(&key, fp("a=1"), i);
            s.finish(&key, StatusCode::OK, &Bytes::from_static(&[b'x'; 100]));
        }
        assert!(s.bytes() <= 1000, "{}", s.bytes());
    }
}
