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

/// How long the harness waits for a system that is only behind: a receipt written after
/// the answer, an order paid by a webhook that follows the redirect, an attempt the
/// mock's log has yet to show. Spent only while something is still missing, so a passing
/// run never waits it out; a wrong count beyond it fails at once. It is long because a
/// slow disk makes a correct shop slow: with the harness's writes held to 20 per second,
/// 32 shoppers at once had 19 of their 32 receipts after 5 s (each is synced on its own).
pub const CATCH_UP: Duration = Duration::from_secs(30);

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

    /// The budget, for messages ("within 5s").
    pub fn budget(&self) -> Duration {
        self.budget
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
