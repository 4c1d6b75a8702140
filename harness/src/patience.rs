//! Waits that count the time the system had to act, not the time the machine was away.
//!
//! The harness, the mock and the shop share one process (and always one machine). When
//! the machine stops that process for a while (a VM descheduled, a throttled disk holding
//! every thread in fsync), a wall-clock deadline runs out during the stop, and the check
//! right after it fails before the shop has had a moment to run again: a flake, not a
//! finding. Two CI runs failed so (a receipt and a paid order missing after 5 s, in
//! scenarios that took 26–40 s instead of 2). A [`Patience`] counts each stretch between
//! two looks as at most [`MAX_STRETCH`]: a stop is not the shop's delay, while a shop that
//! never acts still fails once the budget is spent in ordinary running.

use std::future::Future;
use std::time::{Duration, Instant};

/// The most one stretch between two looks counts. Ordinary looks (a check and a 20 ms
/// sleep) are far shorter, even on a loaded machine; a longer one means the process was
/// stopped or starved, and everything in it (the shop too) was held up alike.
pub const MAX_STRETCH: Duration = Duration::from_millis(250);

/// How long the harness waits for a shop that is behind and says it has work in hand
/// ([`crate::shop::Shop::busy`]: a receipt it owes). Spent only while something is still
/// missing, so a passing run never waits it out. It is long because a slow disk makes a
/// correct shop slow: with the harness's writes held to 20 per second, 32 shoppers at
/// once had 19 of their 32 receipts after 5 s (each receipt is synced on its own).
pub const CATCH_UP: Duration = Duration::from_secs(30);

/// How long the harness waits for the shop's answer to a delivery: for the mock's log to
/// show it (an attempt is logged once answered, and a correct shop answers after its
/// commit: seconds on a slow disk), or for the order it pays. Whether a refused delivery
/// will be retried within the wait is the mock's schedule, which the harness does not
/// see, so this budget is fixed and a shop that refuses deliveries (a wrong signing
/// secret) spends it in full.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// How long a shop that says it has nothing in hand ([`crate::shop::Shop::busy`]) is
/// given to show what is missing. A shop that lost a payment is idle: so a bug fails in
/// a second, not in [`CATCH_UP`], and the property test's shrinking, which runs the
/// failing case again and again, stays quick.
pub const IDLE_GRACE: Duration = Duration::from_secs(1);

/// Waiting for a shop found behind: up to [`CATCH_UP`] while it says it has work in hand,
/// [`IDLE_GRACE`] in all once it says it has none.
#[derive(Debug)]
pub struct CatchUp {
    patience: Patience,
    idle_at_last_look: bool,
}

impl Default for CatchUp {
    fn default() -> Self {
        CatchUp {
            patience: Patience::new(CATCH_UP),
            idle_at_last_look: false,
        }
    }
}

impl CatchUp {
    /// Call after a check that found the shop behind, with `busy` read after that check.
    /// Gives up only on a check made after the shop said it was idle: work that finished
    /// between the check and the question shows at the next check.
    pub fn give_up(&mut self, busy: bool) -> bool {
        let spent_all = self.patience.run_out();
        let idle_too_long = self.idle_at_last_look && self.patience.spent >= IDLE_GRACE;
        self.idle_at_last_look = !busy;
        spent_all || idle_too_long
    }
}

/// How often [`within`] looks at its budget.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// A budget of running time, spent look by look.
#[derive(Debug)]
pub struct Patience {
    budget: Duration,
    spent: Duration,
    last_look: Instant,
}

impl Patience {
    pub fn new(budget: Duration) -> Patience {
        Patience {
            budget,
            spent: Duration::ZERO,
            last_look: Instant::now(),
        }
    }

    /// Counts the time since the last look (at most [`MAX_STRETCH`]) and says whether the
    /// budget is now spent. Call it once per look, after the check.
    pub fn run_out(&mut self) -> bool {
        let now = Instant::now();
        self.spent += now.duration_since(self.last_look).min(MAX_STRETCH);
        self.last_look = now;
        self.spent >= self.budget
    }
}

/// `work`'s output, or `None` once `budget` of running time has passed without it: a
/// deadline for a whole scenario that a stopped machine does not use up.
pub async fn within<T>(budget: Duration, work: impl Future<Output = T>) -> Option<T> {
    let watch = async {
        let mut patience = Patience::new(budget);
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            if patience.run_out() {
                return;
            }
        }
    };
    tokio::select! {
        done = work => Some(done),
        () = watch => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_stop_counts_as_one_stretch() {
        let mut patience = Patience::new(Duration::from_millis(600));
        // A stop of 400 ms, then one of 350 ms: 250 + 250 of the budget's 600.
        std::thread::sleep(Duration::from_millis(400));
        assert!(!patience.run_out());
        std::thread::sleep(Duration::from_millis(350));
        assert!(!patience.run_out());
        assert_eq!(patience.spent, Duration::from_millis(500));
    }

    #[test]
    fn ordinary_looks_spend_the_budget_in_about_its_own_time() {
        let mut patience = Patience::new(Duration::from_millis(200));
        let started = Instant::now();
        while !patience.run_out() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        // Each look counts in full, so no look beyond the budget's is needed.
        assert!(patience.spent < Duration::from_millis(200) + MAX_STRETCH);
    }

    #[test]
    fn an_idle_shop_gets_the_grace_and_a_busy_one_the_catch_up() {
        let mut idle = CatchUp::default();
        let started = Instant::now();
        // The first idle answer needs a check after it; then the grace runs out.
        while !idle.give_up(false) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = started.elapsed();
        assert!(took >= IDLE_GRACE && took < IDLE_GRACE * 2, "{took:?}");

        let mut busy = CatchUp::default();
        let started = Instant::now();
        while started.elapsed() < IDLE_GRACE * 2 {
            assert!(!busy.give_up(true), "a busy shop is waited for");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Idle now: one more check after that answer, then it gives up.
        assert!(!busy.give_up(false));
        assert!(busy.give_up(false));
    }

    #[tokio::test]
    async fn within_gives_the_work_its_output_or_none_once_the_budget_is_spent() {
        assert_eq!(within(Duration::from_secs(5), async { 7 }).await, Some(7));
        let never = std::future::pending::<()>();
        let started = Instant::now();
        assert_eq!(within(Duration::from_millis(300), never).await, None);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn within_does_not_count_a_stop_of_the_whole_runtime() {
        // A current-thread runtime blocked for 600 ms stands for the process being stopped:
        // the watch cannot run during it, and counts it as one stretch.
        let started = Instant::now();
        let out = within(Duration::from_millis(500), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::thread::sleep(Duration::from_millis(600));
            tokio::time::sleep(Duration::from_millis(50)).await;
            "finished"
        })
        .await;
        assert_eq!(out, Some("finished"), "after {:?}", started.elapsed());
    }
}
