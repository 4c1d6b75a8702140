//! State: one [`Account`] per API key, each behind its own synchronous mutex, so keys never
//! see each other's objects and load on one key does not serialise the others.
//!
//! Lock rules (kept everywhere):
//! * never hold an account lock across an `.await` (a `std::sync::Mutex` guard is not meant
//!   to be held while the task is parked, and a slow webhook target must not block the API);
//! * never take an account lock while holding the `accounts` or `sessions` index lock:
//!   look the `Arc` up, drop the index guard, then lock the account;
//! * change an account only through the engine's step seam (`engine/step.rs`), so that what
//!   a change emits is routed and delivered, and what falls due is scheduled;
//! * two account locks at once only as connected account, then its platform (routing a
//!   connected account's events to the platform's Connect endpoints); never the reverse.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicI64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;

use crate::WebhookTarget;
use crate::engine::agenda::Agenda;
use crate::engine::clock::Clock;
use crate::engine::delivery::Deliveries;
use crate::engine::faults::Faults;
use crate::id_index::{IdIndex, LockedIndex, ShardedIndex};
use crate::ids::IdGen;
use crate::protocol::idempotency::IdempotencyStore;
use crate::protocol::render_cache::RenderCache;
use crate::protocol::version::{self, ApiVersion};
use crate::protocol::{ApiError, ApiResult};
use crate::resources::checkout_sessions::Session;
use crate::resources::events::Event;
use crate::resources::payment_intents::{Charge, PaymentIntent};
use crate::resources::payment_methods::PaymentMethod;
use crate::resources::refunds::Refund;
use crate::resources::webhook_endpoints::WebhookEndpoint;
use crate::resources::{
    coupons::Coupon, customers::Customer, prices::Price, products::Product,
    promotion_codes::PromotionCode,
};
use crate::rows::Rows;

/// One account and what the engine keeps beside its lock.
pub(crate) struct AccountCell {
    state: Mutex<Account>,
    /// One clock advance at a time (held across awaits, so an async mutex).
    pub clock_gate: tokio::sync::Mutex<()>,
    /// API requests take turns here before they lock `state`: a request that finds the
    /// account busy waits as a task (first come, first served) instead of blocking its
    /// worker thread on the mutex, which cost a futex sleep and wake per request.
    pub api_turn: tokio::sync::Mutex<()>,
    /// Delivery attempts running now, and a signal when one ends.
    pub inflight: AtomicUsize,
    pub idle: tokio::sync::Notify,
    /// The earliest wake registered with the driver (`i64::MAX`: none).
    pub registered_wake: AtomicI64,
}

pub(crate) type AccountRef = Arc<AccountCell>;

/// The "forward-to" endpoints that receive the events of every account.
pub(crate) type GlobalTargets = Arc<RwLock<Vec<WebhookTarget>>>;

/// The 400 for a new account past `--max-accounts`.
fn too_many_accounts(max: usize, connected: Option<&str>) -> ApiError {
    let what = match connected {
        None => "this API key would be a new one",
        Some(_) => "this Stripe-Account would be a new one",
    };
    ApiError::bad_request(format!(
        "mock-stripe already holds {max} accounts, its limit (--max-accounts, \
         MOCK_STRIPE_MAX_ACCOUNTS), and {what}. Reuse keys across tests, or start the mock \
         with a higher limit."
    ))
}

/// Locks an account. A panic while locked must not take the account down for good, so a
/// poisoned lock is recovered (every mutation leaves the account consistent before it can
/// panic: objects are built first, then inserted).
pub(crate) fn lock(account: &AccountRef) -> MutexGuard<'_, Account> {
    account
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Something kept in a [`Table`].
pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

/// Objects of one kind in creation order (oldest first) with an index by id: lists page
/// over the order, retrieval uses the index.
///
/// The index maps a keyed hash of the id to the position, so an id is stored once (in its
/// object) rather than again as the index's key; an id is always checked against the
/// object found. Ids whose hashes collide (rare) are listed in `spill`.
///
/// With a data directory, the table also remembers which ids changed (inserted, handed out
/// mutably, removed) until the step seam takes them for the journal.
///
/// It also keeps the JSON of objects read recently, by a retrieve or a list
/// ([`RenderCache`]), forgotten whenever an object is handed out mutably.
pub(crate) struct Table<T> {
    items: Rows<T>,
    rendered: RenderCache,
    /// Hash → position, or [`SPILLED`]: 16 bytes an entry.
    index: ShardedIndex<u32>,
    /// Hash → positions, for hashes shared by several ids.
    spill: IdIndex<Vec<u32>>,
    hasher: RandomState,
    /// `None`: not tracked (no data directory).
    changed: Option<HashSet<String>>,
    /// Every id hashes alike (tests of the collision path).
    #[cfg(test)]
    collide: bool,
}

/// In [`Table`]'s index: the positions of this hash are in its `spill`.
const SPILLED: u32 = u32::MAX;

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: Rows::default(),
            rendered: RenderCache::default(),
            index: ShardedIndex::default(),
            spill: IdIndex::default(),
            hasher: RandomState::new(),
            changed: None,
            #[cfg(test)]
            collide: false,
        }
    }
}

impl<T: Keyed> Table<T> {
    /// A table that remembers what changed (see [`Table::take_changed`]).
    pub fn tracked(track: bool) -> Self {
        Table {
            changed: track.then(HashSet::new),
            ..Table::default()
        }
    }

    fn mark(&mut self, id: &str) {
        if let Some(changed) = &mut self.changed
            && !changed.contains(id)
        {
            changed.insert(id.to_string());
        }
    }

    fn hash(&self, id: &str) -> u64 {
        #[cfg(test)]
        if self.collide {
            return 7;
        }
        self.hasher.hash_one(id)
    }

    /// The ids changed since the last call, in the table's order (removed ones last), so
    /// that objects replayed from a journal are listed in the order they were made.
    pub fn take_changed(&mut self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .changed
            .as_mut()
            .map(|c| c.drain().collect())
            .unwrap_or_default();
        ids.sort_by_key(|id| self.position(id).unwrap_or(usize::MAX));
        ids
    }

    pub fn insert(&mut self, item: T) {
        self.mark(item.key());
        self.insert_unmarked(item);
    }

    /// Indexes the item at `pos` (its id hashing to `h`), in place of an older object with
    /// the same id if there is one.
    fn index_at(&mut self, h: u64, pos: usize) {
        let p32 = u32::try_from(pos)
            .ok()
            .filter(|&p| p != SPILLED)
            .expect("fewer than 2^32 - 1 objects of one kind");
        let items = &self.items;
        let id = items[pos].key();
        let same = |i: u32| i != p32 && items.get(i as usize).is_some_and(|t| t.key() == id);
        match self.index.get_mut(h) {
            None => {
                self.index.insert(h, p32);
            }
            Some(old) if *old == SPILLED => {
                let all = self.spill.entry(h).or_default();
                match all.iter_mut().find(|i| same(**i)) {
                    Some(i) => *i = p32,
                    None => all.push(p32),
                }
            }
            Some(old) if same(*old) => *old = p32,
            Some(old) => {
                self.spill.insert(h, vec![*old, p32]);
                *old = SPILLED;
            }
        }
    }

    /// Replaces the item with the same id in its place, or appends it (replaying a journal:
    /// not marked as changed).
    pub fn upsert(&mut self, item: T) {
        match self.position(item.key()) {
            Some(i) => {
                self.rendered.forget(i);
                self.items[i] = item;
            }
            None => self.insert_unmarked(item),
        }
    }

    fn insert_unmarked(&mut self, item: T) {
        let h = self.hash(item.key());
        self.items.push(item);
        self.index_at(h, self.items.len() - 1);
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.position(id).map(|i| &self.items[i])
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let i = self.position(id)?;
        self.mark(id);
        self.rendered.forget(i);
        Some(&mut self.items[i])
    }

    /// The JSON of the object at `position` at version `v`: kept from an earlier answer,
    /// or made by `render` now and kept. `render` must depend on nothing but the object and
    /// `v` (no expansion, nothing from other tables).
    pub fn rendered(
        &mut self,
        position: usize,
        v: &ApiVersion,
        render: impl FnOnce(&T) -> ApiResult<Bytes>,
    ) -> ApiResult<Bytes> {
        if let Some(body) = self.rendered.get(position, v) {
            return Ok(body);
        }
        let item = self.items.get(position).ok_or_else(|| {
            crate::protocol::ApiError::internal(format!("no object at position {position}"))
        })?;
        let body = render(item)?;
        self.rendered.put(position, v, body.clone());
        Ok(body)
    }

    /// [`Table::rendered`] as an element of a list's `data` (for [`ListWriter`]), borrowed
    /// from the cache so that a list copies it once, into its own body.
    ///
    /// [`ListWriter`]: crate::protocol::list::ListWriter
    pub fn rendered_in_list(
        &mut self,
        position: usize,
        v: &ApiVersion,
        render: impl FnOnce(&T) -> ApiResult<Bytes>,
    ) -> ApiResult<Cow<'_, [u8]>> {
        if !self.rendered.holds(position, v) {
            let body = self.rendered(position, v, render)?;
            if !self.rendered.holds(position, v) {
                // Too large to keep.
                return Ok(Cow::Owned(crate::protocol::render_cache::nested(&body)));
            }
        }
        self.rendered
            .get_nested(position, v)
            .map(Cow::Borrowed)
            .ok_or_else(|| ApiError::internal(format!("no JSON kept at position {position}")))
    }

    /// Where the object with this id is in creation order: one hash probe, then the id
    /// itself compared.
    pub fn position(&self, id: &str) -> Option<usize> {
        let is = |i: u32| self.items.get(i as usize).is_some_and(|t| t.key() == id);
        let h = self.hash(id);
        match *self.index.get(h)? {
            SPILLED => self
                .spill
                .get(&h)?
                .iter()
                .find(|i| is(**i))
                .map(|i| *i as usize),
            i => is(i).then_some(i as usize),
        }
    }

    /// O(n): only used for rare deletions (webhook endpoints).
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let i = self.position(id)?;
        self.mark(id);
        let item = self.items.remove(i)?;
        // Positions after `i` moved: index everything again.
        self.rendered.clear();
        self.index.clear();
        self.spill.clear();
        for pos in 0..self.items.len() {
            let h = self.hash(self.items[pos].key());
            self.index_at(h, pos);
        }
        Some(item)
    }

    /// The objects in creation order.
    pub fn rows(&self) -> &Rows<T> {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// When the shopper's browser is redirected relative to the first delivery of
/// `checkout.session.completed` (contract §2.5; apps must survive all three).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RedirectTiming {
    /// Stripe pings the shop, then redirects (the first attempt is over before the 303).
    #[default]
    Before,
    /// Redirect first; deliver a beat later.
    After,
    /// Both at once, in no particular order.
    Concurrent,
}

impl RedirectTiming {
    pub fn parse(s: &str) -> Option<RedirectTiming> {
        match s {
            "before" => Some(RedirectTiming::Before),
            "after" => Some(RedirectTiming::After),
            "concurrent" => Some(RedirectTiming::Concurrent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RedirectTiming::Before => "before",
            RedirectTiming::After => "after",
            RedirectTiming::Concurrent => "concurrent",
        }
    }
}

/// What a new account starts with (from the server's configuration).
#[derive(Clone, Debug)]
pub(crate) struct AccountDefaults {
    pub seed: Option<u64>,
    pub redirect_timing: RedirectTiming,
    pub delivery_log: usize,
    pub idempotency_entries: usize,
    pub idempotency_bytes: usize,
    pub async_payment_delay_secs: i64,
    /// The API version requests without `Stripe-Version` get (`--api-version`).
    pub api_version: ApiVersion,
    /// Changes are recorded for a data directory's journal (`--data-dir`).
    pub journaled: bool,
}

impl Default for AccountDefaults {
    fn default() -> Self {
        AccountDefaults {
            seed: None,
            redirect_timing: RedirectTiming::Before,
            delivery_log: 1000,
            idempotency_entries: 10_000,
            idempotency_bytes: 32 << 20,
            async_payment_delay_secs: 3 * 86_400,
            api_version: version::default_version(),
            journaled: false,
        }
    }
}

/// Per-account settings (`/_config/settings`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct AccountSettings {
    pub redirect_timing: RedirectTiming,
    /// How long a bank debit takes to settle, on the account's clock.
    pub async_payment_delay_secs: i64,
    /// The account's default API version (Stripe pins one per account): what requests
    /// without `Stripe-Version` use, and what events are rendered at.
    pub api_version: ApiVersion,
}

/// What makes an account a connected account (Connect): its id and the platform whose
/// key reaches it with `Stripe-Account`.
///
/// Lock order: a step on a connected account may lock its platform (to route events to
/// the platform's Connect endpoints), never the other way round.
pub(crate) struct ConnectLink {
    pub id: String,
    pub platform: AccountRef,
}

/// Everything one API key owns.
pub(crate) struct Account {
    pub clock: Clock,
    pub ids: IdGen,
    pub settings: AccountSettings,
    pub sessions: Table<Session>,
    pub payment_intents: Table<PaymentIntent>,
    pub charges: Table<Charge>,
    pub payment_methods: Table<PaymentMethod>,
    pub refunds: Table<Refund>,
    pub events: Table<Event>,
    pub webhook_endpoints: Table<WebhookEndpoint>,
    pub products: Table<Product>,
    pub prices: Table<Price>,
    pub customers: Table<Customer>,
    pub coupons: Table<Coupon>,
    pub promotion_codes: Table<PromotionCode>,
    /// Events recorded by the current step, routed to endpoints when it ends.
    pub emitted: Vec<String>,
    /// What falls due on this account's clock.
    pub agenda: Agenda,
    /// Pending webhook deliveries and the attempt log.
    pub deliveries: Deliveries,
    pub faults: Faults,
    pub idempotency: IdempotencyStore,
    defaults: AccountDefaults,
    key: String,
    /// Set on connected accounts (`Stripe-Account: acct_…` under a platform's key).
    pub connect: Option<ConnectLink>,
    /// With a data directory: what the journal needs beside the changed ids.
    pub journal: Option<AccountJournal>,
    /// The hosted pages' `http://host:port`, shared by this account's sessions.
    page_base: Option<Arc<str>>,
}

/// What an account remembers for its journal (`storage/`) between steps.
#[derive(Debug, Default)]
pub(crate) struct AccountJournal {
    /// The account was emptied in this step: the record starts with a reset.
    pub reset: bool,
    /// The small state last written (clock, ids, settings, faults, counters), encoded: it
    /// is written again only when it changed.
    pub header: Vec<u8>,
    /// Attempts of the delivery log written so far (by their sequence number).
    pub attempts_written: u64,
}

impl Account {
    /// A fresh account for `key`.
    pub fn new(key: &str, clock: Clock, defaults: &AccountDefaults) -> Account {
        let journaled = defaults.journaled;
        let mut account = Account {
            clock,
            ids: IdGen::new(defaults.seed, key),
            settings: AccountSettings {
                redirect_timing: defaults.redirect_timing,
                async_payment_delay_secs: defaults.async_payment_delay_secs,
                api_version: defaults.api_version.clone(),
            },
            sessions: Table::tracked(journaled),
            payment_intents: Table::tracked(journaled),
            charges: Table::tracked(journaled),
            payment_methods: Table::tracked(journaled),
            refunds: Table::tracked(journaled),
            events: Table::tracked(journaled),
            webhook_endpoints: Table::tracked(journaled),
            products: Table::tracked(journaled),
            prices: Table::tracked(journaled),
            customers: Table::tracked(journaled),
            coupons: Table::tracked(journaled),
            promotion_codes: Table::tracked(journaled),
            emitted: Vec::new(),
            agenda: Agenda::default(),
            deliveries: Deliveries::new(defaults.delivery_log),
            faults: Faults::default(),
            idempotency: IdempotencyStore::new(
                defaults.idempotency_entries,
                defaults.idempotency_bytes,
            ),
            defaults: defaults.clone(),
            key: key.to_string(),
            connect: None,
            journal: journaled.then(AccountJournal::default),
            page_base: None,
        };
        if journaled {
            account.deliveries.track_changes();
            account.idempotency.track_changes();
            account.agenda.track_changes();
        }
        account
    }

    /// Where the store keeps this account: the API key, and the `acct_…` id for a connected
    /// account (whose own key is `{platform key}/{acct_…}`).
    pub fn store_key(&self) -> (String, Option<String>) {
        match &self.connect {
            None => (self.key.clone(), None),
            Some(c) => {
                let platform = self
                    .key
                    .strip_suffix(&format!("/{}", c.id))
                    .unwrap_or(&self.key);
                (platform.to_string(), Some(c.id.clone()))
            }
        }
    }

    /// The `acct_…` id of a connected account; `None` for a platform (a key's own account).
    pub fn connected_id(&self) -> Option<&str> {
        self.connect.as_ref().map(|c| c.id.as_str())
    }

    /// An account standing at `now` (unit tests).
    #[cfg(test)]
    pub fn at(now: i64) -> Account {
        Account::new("sk_test_unit", Clock::at(now), &AccountDefaults::default())
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// `base_url` as one shared copy, for the sessions this account stores.
    pub fn page_base(&mut self, base_url: &str) -> Arc<str> {
        match &self.page_base {
            Some(b) if &**b == base_url => b.clone(),
            _ => self.page_base.insert(Arc::from(base_url)).clone(),
        }
    }

    /// The account's default API version: requests without `Stripe-Version` and every
    /// event use it (Stripe renders events at the account's version, not the request's).
    pub fn api_version(&self) -> &ApiVersion {
        &self.settings.api_version
    }

    /// Empties the account (`DELETE /_config/data`): objects, events, pending deliveries,
    /// faults, idempotency keys and settings; the clock goes back to real time. Returns the
    /// ids of the sessions it had, for the session index.
    pub fn reset(&mut self) -> Vec<String> {
        let sessions = self.sessions.rows().iter().map(|s| s.id.clone()).collect();
        let key = std::mem::take(&mut self.key);
        let defaults = self.defaults.clone();
        let connect = self.connect.take();
        // Delivery ids keep counting: an attempt still in flight must not mistake a new
        // delivery for its own.
        let deliveries_so_far = self.deliveries.issued();
        *self = Account::new(&key, Clock::Real, &defaults);
        self.deliveries.continue_after(deliveries_so_far);
        self.connect = connect;
        if let Some(j) = &mut self.journal {
            j.reset = true;
        }
        sessions
    }
}

/// Every account, by API key: looked up by `&str` on every request, with no key copied.
#[derive(Default)]
struct Accounts {
    by_key: HashMap<String, KeyAccounts>,
    /// Platforms and connected accounts together: what `--max-accounts` bounds.
    count: usize,
}

/// The accounts of one API key: its own, and the connected accounts it reached with
/// `Stripe-Account: acct_…`.
struct KeyAccounts {
    own: AccountRef,
    connected: HashMap<String, AccountRef>,
}

impl Accounts {
    fn get(&self, key: &str, connected: Option<&str>) -> Option<&AccountRef> {
        let of_key = self.by_key.get(key)?;
        match connected {
            None => Some(&of_key.own),
            Some(id) => of_key.connected.get(id),
        }
    }
}

/// All accounts, and the session → account index the hosted page uses (a browser has no
/// API key: the session id in the URL is all it brings).
pub(crate) struct Store {
    accounts: RwLock<Accounts>,
    /// Session (and 3-D Secure PaymentIntent) id → account, by a keyed hash of the id
    /// (`session_hasher`): the ids themselves stay only in their accounts (the answer is
    /// checked there).
    sessions: LockedIndex<Indexed>,
    session_hasher: RandomState,
    defaults: AccountDefaults,
    /// Most accounts requests may create (`--max-accounts`): every new key makes one, and
    /// keys cost nothing to invent, so without a bound a runaway suite (or anyone who can
    /// reach the port) grows the mock's memory without end.
    max_accounts: usize,
}

/// What the session index holds for a hash.
enum Indexed {
    Account(AccountRef),
    /// Two accounts' ids share the hash (rare): they are looked up in every account.
    Shared,
}

impl Store {
    pub fn new(defaults: AccountDefaults, max_accounts: usize) -> Store {
        Store {
            accounts: RwLock::default(),
            sessions: LockedIndex::default(),
            session_hasher: RandomState::new(),
            defaults,
            max_accounts,
        }
    }

    /// The account of an API key, created on first use (any well-formed test key works).
    pub fn account(&self, key: &str) -> ApiResult<AccountRef> {
        self.account_for(key, None)
    }

    /// The account a request acts on: the key's own, or with `Stripe-Account: acct_…` a
    /// connected account of it (created on first use, like keys; it starts with the
    /// platform's settings, API version included).
    /// A new account past `--max-accounts` is refused with a 400 naming the setting; the
    /// accounts there keep working.
    pub fn account_for(&self, key: &str, connected: Option<&str>) -> ApiResult<AccountRef> {
        self.account_within(key, connected, self.max_accounts)
    }

    /// An account a data directory holds, made whatever `--max-accounts` says: what was
    /// kept is loaded, all of it.
    pub fn restored_account(&self, key: &str, connected: Option<&str>) -> ApiResult<AccountRef> {
        self.account_within(key, connected, usize::MAX)
    }

    fn account_within(
        &self,
        key: &str,
        connected: Option<&str>,
        max: usize,
    ) -> ApiResult<AccountRef> {
        match self.existing_account(key, connected) {
            Some(a) => Ok(a),
            None => self.create(key, connected, max),
        }
    }

    /// The account if requests have made it; `None` makes nothing.
    pub fn existing_account(&self, key: &str, connected: Option<&str>) -> Option<AccountRef> {
        self.accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key, connected)
            .cloned()
    }

    fn create(&self, key: &str, connected: Option<&str>, max: usize) -> ApiResult<AccountRef> {
        // The platform and its settings first: no account lock under the index lock.
        let link = match connected {
            None => None,
            Some(id) => {
                let platform = self.account_within(key, None, max)?;
                let settings = lock(&platform).settings.clone();
                Some((id, platform, settings))
            }
        };
        let mut accounts = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        // Another request may have made it meanwhile.
        if let Some(a) = accounts.get(key, connected) {
            return Ok(a.clone());
        }
        if accounts.count >= max {
            return Err(too_many_accounts(max, connected));
        }
        let account = match &link {
            None => Account::new(key, Clock::Real, &self.defaults),
            Some((id, platform, settings)) => {
                // Its own id stream (seeded runs too): ids never collide.
                let mut a = Account::new(&format!("{key}/{id}"), Clock::Real, &self.defaults);
                a.settings = settings.clone();
                a.connect = Some(ConnectLink {
                    id: id.to_string(),
                    platform: platform.clone(),
                });
                a
            }
        };
        let cell = Arc::new(AccountCell {
            state: Mutex::new(account),
            clock_gate: tokio::sync::Mutex::new(()),
            api_turn: tokio::sync::Mutex::new(()),
            inflight: AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
            registered_wake: AtomicI64::new(i64::MAX),
        });
        match &link {
            None => {
                accounts.by_key.insert(
                    key.to_string(),
                    KeyAccounts {
                        own: cell.clone(),
                        connected: HashMap::new(),
                    },
                );
            }
            Some((id, platform, _)) => {
                // The platform is there (made above; accounts are never removed).
                let of_key =
                    accounts
                        .by_key
                        .entry(key.to_string())
                        .or_insert_with(|| KeyAccounts {
                            own: platform.clone(),
                            connected: HashMap::new(),
                        });
                of_key.connected.insert(id.to_string(), cell.clone());
            }
        }
        accounts.count += 1;
        Ok(cell)
    }

    pub fn all_accounts(&self) -> Vec<AccountRef> {
        let accounts = self.accounts.read().unwrap_or_else(|p| p.into_inner());
        let mut all = Vec::with_capacity(accounts.count);
        for of_key in accounts.by_key.values() {
            all.push(of_key.own.clone());
            all.extend(of_key.connected.values().cloned());
        }
        all
    }

    /// Indexes an id a browser brings without a key: a session, or a PaymentIntent waiting
    /// for 3-D Secure (`/c/3ds/{pi}`).
    pub fn index_session(&self, session_id: &str, account: &AccountRef) {
        let h = self.session_hasher.hash_one(session_id);
        let mut shard = self.sessions.write(h);
        match shard.get_mut(&h) {
            None => {
                shard.insert(h, Indexed::Account(account.clone()));
            }
            Some(Indexed::Account(a)) if Arc::ptr_eq(a, account) => {}
            Some(entry) => *entry = Indexed::Shared,
        }
    }

    pub fn unindex_sessions(&self, ids: &[String]) {
        for id in ids {
            let h = self.session_hasher.hash_one(id);
            let mut shard = self.sessions.write(h);
            // A shared hash may still lead to another account's id: keep it.
            if let Some(Indexed::Account(_)) = shard.get(&h) {
                shard.remove(&h);
            }
        }
    }

    pub fn session_account(&self, session_id: &str) -> Option<AccountRef> {
        let has = |account: &AccountRef| {
            let acc = lock(account);
            acc.sessions.position(session_id).is_some()
                || acc.payment_intents.position(session_id).is_some()
        };
        let candidate = {
            let h = self.session_hasher.hash_one(session_id);
            match self.sessions.read(h).get(&h) {
                None => Some(None),
                Some(Indexed::Account(a)) => Some(Some(a.clone())),
                Some(Indexed::Shared) => None,
            }
        };
        // No index lock is held from here on (lock order).
        match candidate {
            Some(found) => found.filter(has),
            None => self.all_accounts().into_iter().find(has),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing(String);
    impl Keyed for Thing {
        fn key(&self) -> &str {
            &self.0
        }
    }

    #[test]
    fn table_keeps_order_and_index_after_removal() {
        let mut t = Table::default();
        for id in ["a", "b", "c"] {
            t.insert(Thing(id.to_string()));
        }
        assert!(t.remove("a").is_some());
        assert_eq!(t.position("c"), Some(1));
        assert_eq!(t.get("b").map(|x| x.0.as_str()), Some("b"));
        assert!(t.get("a").is_none());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_large_table_finds_every_id_after_its_index_splits() {
        let mut t = Table::default();
        let n = crate::id_index::SPLIT_AT + 100;
        for i in 0..n {
            t.insert(Thing(format!("obj_{i}")));
        }
        t.upsert(Thing("obj_5".to_string()));
        assert_eq!(t.len(), n);
        assert!((0..n).all(|i| t.position(&format!("obj_{i}")) == Some(i)));
        assert!(t.remove("obj_0").is_some());
        assert_eq!(t.position("obj_1"), Some(0));
        assert_eq!(t.position(&format!("obj_{}", n - 1)), Some(n - 2));
        assert!(t.get("obj_0").is_none());
    }

    #[test]
    fn table_finds_ids_whose_hashes_collide() {
        let mut t = Table {
            collide: true,
            ..Table::default()
        };
        for id in ["a", "b", "c"] {
            t.insert(Thing(id.to_string()));
        }
        t.upsert(Thing("b".to_string()));
        assert_eq!(t.len(), 3);
        assert_eq!(t.position("c"), Some(2));
        assert_eq!(t.get("a").map(|x| x.0.as_str()), Some("a"));
        assert!(t.get("z").is_none());
        assert!(t.remove("a").is_some());
        assert_eq!(t.position("b"), Some(0));
        assert_eq!(t.position("c"), Some(1));
        assert!(t.get("a").is_none());
    }

    #[test]
    fn session_index_checks_the_account() {
        let store = Store::new(AccountDefaults::default(), 10);
        let a = store.account("sk_test_a").unwrap();
        let params =
            crate::protocol::Params::decode(&[b"mode=payment&success_url=https://s.test/ok\
            &line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=100\
            &line_items[0][price_data][product_data][name]=T&line_items[0][quantity]=1"
                .as_slice()])
            .unwrap();
        let ctx = crate::protocol::RequestCtx {
            request_id: "req_test".into(),
            version: None,
            idempotency_key: None,
        };
        let (id, _) = crate::resources::checkout_sessions::create(
            &mut lock(&a),
            None,
            &params,
            &ctx,
            "http://x",
        )
        .unwrap();
        // Only what the index was told is found, and only where it is.
        assert!(store.session_account(&id).is_none());
        store.index_session(&id, &a);
        store.index_session("cs_test_elsewhere", &a);
        assert!(
            store
                .session_account(&id)
                .is_some_and(|f| Arc::ptr_eq(&f, &a))
        );
        assert!(store.session_account("cs_test_elsewhere").is_none());
        store.unindex_sessions(std::slice::from_ref(&id));
        assert!(store.session_account(&id).is_none());

        // A hash two accounts' ids share (here: the same id, indexed for a second account)
        // is looked up in every account, and stays so when one of them is unindexed.
        let b = store.account("sk_test_b").unwrap();
        store.index_session(&id, &a);
        store.index_session(&id, &b);
        let found = store.session_account(&id);
        assert!(
            found.is_some_and(|f| Arc::ptr_eq(&f, &a)),
            "only a holds it"
        );
        store.unindex_sessions(std::slice::from_ref(&id));
        assert!(
            store.session_account(&id).is_some(),
            "b's id may still be there"
        );
    }

    #[test]
    fn accounts_are_per_key() {
        let store = Store::new(AccountDefaults::default(), 10);
        let a = store.account("sk_test_a").unwrap();
        let b = store.account("sk_test_b").unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&a, &store.account("sk_test_a").unwrap()));
        let connected = store.account_for("sk_test_a", Some("acct_1")).unwrap();
        assert!(!Arc::ptr_eq(&a, &connected));
        assert!(Arc::ptr_eq(
            &connected,
            &store.account_for("sk_test_a", Some("acct_1")).unwrap()
        ));
        assert!(
            store
                .account_for("sk_test_b", Some("acct_1"))
                .is_ok_and(|c| !Arc::ptr_eq(&c, &connected)),
            "a connected account belongs to its platform's key"
        );
        assert_eq!(store.all_accounts().len(), 4);
    }

    #[test]
    fn new_accounts_stop_at_the_limit_and_the_others_go_on() {
        let store = Store::new(AccountDefaults::default(), 3);
        let a = store.account("sk_test_a").unwrap();
        store.account_for("sk_test_a", Some("acct_1")).unwrap();
        store.account("sk_test_b").unwrap();
        let refused = store.account("sk_test_c").err().expect("refused");
        assert_eq!(refused.status, http::StatusCode::BAD_REQUEST);
        assert!(
            refused.message.contains("3 accounts") && refused.message.contains("--max-accounts"),
            "names the limit and the setting: {}",
            refused.message
        );
        let connected = store
            .account_for("sk_test_b", Some("acct_2"))
            .err()
            .expect("refused");
        assert!(
            connected.message.contains("Stripe-Account"),
            "{}",
            connected.message
        );
        // A connected account under a new key would make two: refused before either.
        assert!(store.account_for("sk_test_d", Some("acct_3")).is_err());
        assert!(store.existing_account("sk_test_d", None).is_none());
        // What is there goes on working, and a data directory's accounts all come back.
        assert!(Arc::ptr_eq(&a, &store.account("sk_test_a").unwrap()));
        assert!(store.account_for("sk_test_a", Some("acct_1")).is_ok());
        store.restored_account("sk_test_e", Some("acct_4")).unwrap();
        assert_eq!(store.all_accounts().len(), 5);
        assert!(
            store.existing_account("sk_test_c", None).is_none(),
            "nothing made for the refused"
        );
    }

    #[test]
    fn reset_empties_but_keeps_the_key_and_defaults() {
        let mut a = Account::at(1_700_000_000);
        a.settings.redirect_timing = RedirectTiming::After;
        a.reset();
        assert_eq!(a.settings.redirect_timing, RedirectTiming::Before);
        assert_eq!(a.key, "sk_test_unit");
        assert!(!a.clock.is_virtual());
    }
}
