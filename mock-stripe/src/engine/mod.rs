//! The simulator's engine: the one seam every state change goes through (`step`), the
//! account clocks (`clock`), what falls due on them (`agenda`), webhook delivery
//! (`delivery`) and injected faults (`faults`).
//!
//! A real-time driver task wakes when the earliest job of any account falls due (real
//! clocks) or is due already (virtual clocks: their future jobs wait for
//! `/_config/clock/advance`, which runs them itself, in time order).

pub(crate) mod agenda;
pub(crate) mod clock;
pub(crate) mod delivery;
pub(crate) mod faults;
pub(crate) mod step;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::store::{AccountRef, GlobalTargets};
use clock::wall_now_ms;

/// Shared by the API, the payment page, the control API and the driver task.
pub(crate) struct Engine {
    client: reqwest::Client,
    /// `--data-dir`: every step's changes are appended here before the step returns.
    pub data_dir: Option<Arc<crate::storage::DataDir>>,
    retry_delays: Arc<[Duration]>,
    pub globals: GlobalTargets,
    wakeups: Mutex<BinaryHeap<Wake>>,
    notify: Notify,
}

/// "Look at this account at `due_ms` (wall clock)".
struct Wake {
    due_ms: i64,
    account: AccountRef,
}

impl Ord for Wake {
    fn cmp(&self, other: &Self) -> Ordering {
        other.due_ms.cmp(&self.due_ms)
    }
}
impl PartialOrd for Wake {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Wake {
    fn eq(&self, other: &Self) -> bool {
        self.due_ms == other.due_ms
    }
}
impl Eq for Wake {}

impl Engine {
    pub fn new(
        globals: GlobalTargets,
        retry_delays: Vec<Duration>,
        webhook_timeout: Duration,
        data_dir: Option<Arc<crate::storage::DataDir>>,
    ) -> std::io::Result<Engine> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(webhook_timeout)
            // Targets are local apps; a proxy from the environment must not intercept them.
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Engine {
            client,
            data_dir,
            retry_delays: retry_delays.into(),
            globals,
            wakeups: Mutex::new(BinaryHeap::new()),
            notify: Notify::new(),
        })
    }

    /// Registers that `account` has a job due at `due_ms` (wall clock), unless an earlier or
    /// equal wake is registered already.
    fn wake_at(&self, account: &AccountRef, due_ms: i64) {
        if account.registered_wake.fetch_min(due_ms, SeqCst) <= due_ms {
            return;
        }
        self.wakeups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Wake {
                due_ms,
                account: account.clone(),
            });
        self.notify.notify_one();
    }

    /// Registers what the accounts have due (after loading them from a data directory).
    pub fn resume(&self, accounts: &[AccountRef]) {
        for account in accounts {
            let due = step::wake_time(&crate::store::lock(account));
            if let Some(due) = due {
                self.wake_at(account, due);
            }
        }
    }

    fn next_wake(&self) -> Option<i64> {
        self.wakeups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .peek()
            .map(|w| w.due_ms)
    }

    fn pop_wakes(&self, now_ms: i64) -> Vec<AccountRef> {
        let mut heap = self.wakeups.lock().unwrap_or_else(|p| p.into_inner());
        let mut due: Vec<AccountRef> = Vec::new();
        while heap.peek().is_some_and(|w| w.due_ms <= now_ms) {
            let w = heap.pop().expect("peeked");
            if !due.iter().any(|a| Arc::ptr_eq(a, &w.account)) {
                due.push(w.account);
            }
        }
        due
    }
}

/// The driver: runs what falls due, until the server stops.
pub(crate) async fn drive(engine: Arc<Engine>, mut stopped: watch::Receiver<bool>) {
    loop {
        let sleep = match engine.next_wake() {
            Some(due) => Duration::from_millis((due - wall_now_ms()).max(0) as u64),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = engine.notify.notified() => continue,
            _ = crate::stopped(&mut stopped) => return,
        }
        for account in engine.pop_wakes(wall_now_ms()) {
            account.registered_wake.store(i64::MAX, SeqCst);
            engine.run_due(&account);
        }
    }
}
