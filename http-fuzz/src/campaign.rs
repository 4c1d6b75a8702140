//! Running a campaign: the proptest runner (cases and seed from the environment,
//! shrinking bounded because it replays requests against a live server), panics counted
//! on a server's own runtime threads, and the answers tallied by status for the figures
//! each campaign prints.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

use crate::wire::Reply;

/// Cases per campaign: `FUZZ_CASES`, else `default` (the short campaign of `cargo test`).
pub fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A runner of `cases(default_cases)` cases seeded with `FUZZ_SEED`, else `seed` (fixed,
/// so a run is repeatable). Nothing is persisted, and shrinking is bounded: each step
/// replays requests against a live server.
pub fn runner(default_cases: u32, seed: u64) -> TestRunner {
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(seed);
    TestRunner::new(Config {
        cases: cases(default_cases),
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 300,
        max_shrink_time: 120_000,
        ..Config::default()
    })
}

/// Panics so far, by the name of the runtime thread they happened on (watched names only).
static PANICS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Runtimes made by [`server_runtime`], to number their threads' names.
static RUNTIMES: AtomicUsize = AtomicUsize::new(0);

/// The panics on one server's runtime threads. Tests run side by side in one process,
/// each with its own server; a panic counts for the server whose threads it happened on,
/// and a failing test's own panic (on its test thread) counts for none.
pub struct Panics {
    thread: String,
}

impl Panics {
    /// How many so far: a case compares the count before and after it.
    pub fn count(&self) -> usize {
        PANICS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&self.thread)
            .copied()
            .unwrap_or(0)
    }
}

/// Installs, once per process, a panic hook that counts the panics of watched threads
/// and then does what the default hook does (the message and backtrace still print).
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(name) = std::thread::current().name() {
                let mut panics = PANICS.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(n) = panics.get_mut(name) {
                    *n += 1;
                }
            }
            default(info);
        }));
    });
}

/// A runtime for one server under test (two workers, all drivers), its threads named
/// `{prefix}{n}` with `n` counting the runtimes of this process, and the count of the
/// panics on them: the server's handlers and every task they spawn.
pub fn server_runtime(prefix: &str) -> (tokio::runtime::Runtime, Panics) {
    count_panics();
    let thread = format!("{prefix}{}", RUNTIMES.fetch_add(1, Ordering::SeqCst));
    PANICS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(thread.clone(), 0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(&thread)
        .enable_all()
        .build()
        .unwrap();
    (rt, Panics { thread })
}

/// A campaign's figures: requests sent, and answers by status.
#[derive(Default)]
pub struct Tally {
    requests: AtomicUsize,
    statuses: Mutex<BTreeMap<u16, usize>>,
}

impl Tally {
    /// Counts one request of a case and, if it got one, its answer.
    pub fn count(&self, reply: &Result<Reply, String>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(r) = reply {
            *self.statuses.lock().unwrap().entry(r.status).or_default() += 1;
        }
    }
}

/// Runs `test` on each case of `strategy` with [`runner`]`(default_cases, seed)`, then
/// prints the campaign's figures from `tally`; the result says whether (and on what
/// minimal case) it failed, for the caller to report.
pub fn run<S: Strategy>(
    name: &str,
    default_cases: u32,
    seed: u64,
    tally: &Tally,
    strategy: &S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Result<(), TestError<S::Value>> {
    let started = Instant::now();
    let result = runner(default_cases, seed).run(strategy, test);
    let statuses = tally.statuses.lock().unwrap().clone();
    println!(
        "fuzz {name}: {} cases, {} requests in {:.1?}; answers by status: {statuses:?}",
        cases(default_cases),
        tally.requests.load(Ordering::Relaxed),
        started.elapsed(),
    );
    result
}
