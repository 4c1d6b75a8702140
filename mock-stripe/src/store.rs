//! State: one [`Account`] per API key, each behind its own synchronous mutex, so keys never
//! see each other's objects and load on one key does not serialise the others.
//!
//! Lock rules (kept everywhere):
//! * never hold an account lock across an `.await` (a `std::sync::Mutex` guard is not meant
//!   to be held while the task is parked, and a slow webhook target must not block the API);
//! * never take an account lock while holding the `accounts` or `sessions` index lock:
//!   look the `Arc` up, drop the index guard, then lock the account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::WebhookTarget;
use crate::clock::Clock;
use crate::resources::checkout_sessions::Session;
use crate::resources::events::{Delivery, DeliveryAttempt, Event};
use crate::resources::payment_intents::{Charge, PaymentIntent};
use crate::resources::webhook_endpoints::WebhookEndpoint;

pub(crate) type AccountRef = Arc<Mutex<Account>>;

/// The "forward-to" endpoints that receive the events of every account.
pub(crate) type GlobalTargets = Arc<RwLock<Vec<WebhookTarget>>>;

/// Locks an account. A panic while locked must not take the account down for good, so a
/// poisoned lock is recovered (every mutation leaves the account consistent before it can
/// panic: objects are built first, then inserted).
pub(crate) fn lock(account: &AccountRef) -> MutexGuard<'_, Account> {
    account
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Something kept in a [`Table`].
pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

/// Objects of one kind in creation order (oldest first) with an index by id: lists page
/// over the order, retrieval uses the index.
pub(crate) struct Table<T> {
    items: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: Keyed> Table<T> {
    pub fn insert(&mut self, item: T) {
        self.index.insert(item.key().to_string(), self.items.len());
        self.items.push(item);
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.index.get(id).map(|&i| &self.items[i])
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.index.get(id).map(|&i| &mut self.items[i])
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// O(n): only used for rare deletions (webhook endpoints).
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let i = self.index.remove(id)?;
        let item = self.items.remove(i);
        for (j, it) in self.items.iter().enumerate().skip(i) {
            self.index.insert(it.key().to_string(), j);
        }
        Some(item)
    }

    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// Everything one API key owns.
pub(crate) struct Account {
    pub clock: Clock,
    pub sessions: Table<Session>,
    pub payment_intents: Table<PaymentIntent>,
    pub charges: Table<Charge>,
    pub events: Table<Event>,
    pub webhook_endpoints: Table<WebhookEndpoint>,
    /// Every delivery attempt, for inspection by later features (and tests).
    pub deliveries: Vec<DeliveryAttempt>,
    /// Deliveries of events emitted under the lock, sent once the lock is released.
    pub outbox: Vec<Delivery>,
    pub globals: GlobalTargets,
}

impl Account {
    pub fn new(clock: Clock, globals: GlobalTargets) -> Account {
        Account {
            clock,
            sessions: Table::default(),
            payment_intents: Table::default(),
            charges: Table::default(),
            events: Table::default(),
            webhook_endpoints: Table::default(),
            deliveries: Vec::new(),
            outbox: Vec::new(),
            globals,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn take_outbox(&mut self) -> Vec<Delivery> {
        std::mem::take(&mut self.outbox)
    }
}

/// All accounts, and the session → account index the hosted page uses (a browser has no
/// API key: the session id in the URL is all it brings).
pub(crate) struct Store {
    accounts: RwLock<HashMap<String, AccountRef>>,
    sessions: RwLock<HashMap<String, AccountRef>>,
    globals: GlobalTargets,
}

impl Store {
    pub fn new(globals: GlobalTargets) -> Store {
        Store {
            accounts: RwLock::default(),
            sessions: RwLock::default(),
            globals,
        }
    }

    /// The account of an API key, created on first use (any well-formed test key works).
    pub fn account(&self, key: &str) -> AccountRef {
        if let Some(a) = self
            .accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
        {
            return a.clone();
        }
        let mut accounts = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        accounts
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Account::new(Clock::Real, self.globals.clone())))
            })
            .clone()
    }

    pub fn all_accounts(&self) -> Vec<AccountRef> {
        self.accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn index_session(&self, session_id: &str, account: &AccountRef) {
        self.sessions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session_id.to_string(), account.clone());
    }

    pub fn session_account(&self, session_id: &str) -> Option<AccountRef> {
        self.sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(session_id)
            .cloned()
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
    fn accounts_are_per_key() {
        let store = Store::new(GlobalTargets::default());
        let a = store.account("sk_test_a");
        let b = store.account("sk_test_b");
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&a, &store.account("sk_test_a")));
    }
}
