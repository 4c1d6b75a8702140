//! Model-based property tests: random sequences of shopper actions (buy, pay with each
//! kind of card, come back without paying), webhook faults (duplicate, timeout, 500,
//! forged signature, delay, drop), clock moves and resends run against a fresh stack over
//! HTTP, and after every step the shop must agree with a reference model ([`model`]):
//! every paid session whose completion reached the shop fulfilled exactly once, nothing
//! fulfilled that was not paid, amounts right, one receipt per paid order, expired
//! sessions' orders expired, no order lost, and the shop's answers to Stripe right.
//!
//! A failure is shrunk by proptest (through `proptest-state-machine`, then one more pass
//! of deletions) to a short sequence and reported as numbered steps a person can replay
//! by hand. The seed fixes the generated sequences (and seeds the mock's ids), so the
//! same seed and case count replay a run.
//!
//! [`run`] blocks the calling thread (the cases run on threads of their own, on a runtime
//! of their own); from async code use [`run_async`].

pub mod model;
mod system;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner};
use proptest_state_machine::ReferenceStateMachine;
use serde::Serialize;

use crate::catalogue::{CatalogueProduct, for_sale};
use crate::scenarios::{Ctx, Outcome, ScenarioReport};
use crate::shop::StartShop;
use crate::stack::{Stack, StackDatabase, StackOptions};
use crate::timeline::{Actor, Step, Timeline};
pub use model::{Card, Model, PurchaseMachine, Transition, WebhookFault};
use system::{PINNED_AT, System};

/// The property's name in reports.
pub const NAME: &str = "property-purchases-agree-with-model";

/// One line for `harness list` and the reports.
pub const SUMMARY: &str = "Random sequences of buys, payments (good, declined, 3-D Secure), returns without paying, webhook faults, clock moves and resends; after every step the shop agrees with a reference model.";

/// What to run.
#[derive(Clone)]
pub struct PropertyConfig {
    /// Random sequences to try (each on a fresh stack).
    pub cases: u32,
    /// Fixes the sequences (and seeds the mock's ids): the same seed and `cases` replay
    /// a run.
    pub seed: u64,
    /// The longest sequence tried (steps).
    pub max_steps: usize,
    /// Another shop than our storefront.
    pub shop: Option<StartShop>,
    /// Where our storefront keeps its data (ignored for another shop).
    pub database: StackDatabase,
    /// Told as cases finish (for a progress bar); from the run's threads.
    pub progress: Option<Progress>,
}

/// A callback for [`PropertyConfig::progress`].
pub type Progress = Arc<dyn Fn(PropertyProgress) + Send + Sync>;

/// How far a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyProgress {
    /// `done` of the `of` cases ran (and passed).
    Case { done: u32, of: u32 },
    /// A case failed; shrinking it has taken `runs` runs so far.
    Shrinking { runs: u32 },
}

impl Default for PropertyConfig {
    fn default() -> Self {
        PropertyConfig {
            cases: 64,
            seed: 1,
            max_steps: 8,
            shop: None,
            database: StackDatabase::Sqlite,
            progress: None,
        }
    }
}

impl std::fmt::Debug for PropertyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PropertyConfig")
            .field("cases", &self.cases)
            .field("seed", &self.seed)
            .field("max_steps", &self.max_steps)
            .field("custom_shop", &self.shop.is_some())
            .field("database", &self.database)
            .finish()
    }
}

/// How a run of the property went.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyReport {
    pub name: String,
    pub summary: String,
    pub passed: bool,
    /// Cases run before the verdict (the failing one included).
    pub cases: u32,
    /// Cases asked for.
    pub cases_requested: u32,
    /// Further runs spent shrinking the failure.
    pub shrink_runs: u32,
    pub seed: u64,
    pub seconds: f64,
    /// The shrunk sequence, numbered from 1, as a person replays it (empty when passed).
    pub steps: Vec<String>,
    /// The shrunk sequence itself.
    pub shrunk: Vec<Transition>,
    /// The step (from 1) after which the shop disagreed with the model.
    pub failing_step: Option<usize>,
    /// What disagreed.
    pub message: Option<String>,
    /// Whether running the shrunk sequence once more failed the same way (it should: a
    /// run is deterministic).
    pub replayed: Option<bool>,
    /// The shrunk sequence's last run, request by request.
    pub timeline: Vec<Step>,
}

impl PropertyReport {
    /// Text for a terminal or a CI log: the verdict, and for a failure the numbered steps
    /// and what disagreed.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} {}: {} case(s), seed {}, {:.1} s\n",
            if self.passed { "PASS" } else { "FAIL" },
            self.name,
            self.cases,
            self.seed,
            self.seconds
        );
        if !self.passed {
            out.push_str(&format!(
                "shrunk to {} step(s) in {} run(s); {}:\n",
                self.shrunk.len(),
                self.shrink_runs,
                self.replay_hint()
            ));
            for step in &self.steps {
                out.push_str(&format!("  {step}\n"));
            }
            if let Some(message) = &self.message {
                for line in message.lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
            if self.replayed == Some(false) {
                out.push_str("  (the shrunk sequence passed when run again: a flaky failure)\n");
            }
        }
        out
    }

    /// How to run the same sequences again.
    pub fn replay_hint(&self) -> String {
        format!(
            "replay with --seed {} --cases {}",
            self.seed, self.cases_requested
        )
    }

    /// The report as a scenario's, for the JUnit and HTML reports. A failure's message is
    /// what disagreed followed by the numbered steps; its timeline is the shrunk
    /// sequence's last run (each step marked, then its requests, deliveries and email).
    pub fn to_scenario_report(&self) -> ScenarioReport {
        let outcome = if self.passed {
            Outcome::Passed
        } else {
            Outcome::Failed {
                message: format!(
                    "{}\n\nshrunk to {} step(s) (seed {}; {}):\n{}",
                    self.message.as_deref().unwrap_or("failed"),
                    self.shrunk.len(),
                    self.seed,
                    self.replay_hint(),
                    self.steps.join("\n")
                ),
            }
        };
        let mut timeline: Vec<Step> = Vec::new();
        if self.passed {
            timeline.push(Step {
                at_ms: (self.seconds * 1000.0) as u64,
                actor: Actor::Check,
                summary: format!(
                    "{} random sequence(s) agreed with the model after every step (seed {})",
                    self.cases, self.seed
                ),
                detail: None,
            });
        } else {
            timeline.extend(self.timeline.iter().cloned());
        }
        ScenarioReport {
            name: self.name.clone(),
            summary: self.summary.clone(),
            outcome,
            seconds: self.seconds,
            timeline,
        }
    }
}

/// The products the model buys, in catalogue order (read once).
fn products() -> &'static [CatalogueProduct] {
    static PRODUCTS: OnceLock<Vec<CatalogueProduct>> = OnceLock::new();
    PRODUCTS.get_or_init(for_sale)
}

/// A case that ran longer than this (in running time, see [`crate::patience`]) is stuck.
const CASE_DEADLINE: Duration = Duration::from_secs(120);

/// Shrinking stops after this many runs (each a fresh stack); the sequence found so far
/// is reported.
const MAX_SHRINK_RUNS: u32 = 400;

/// How one case failed.
#[derive(Clone, Debug)]
struct CaseFailure {
    /// The step (from 0) after which it failed; `None` before the first (starting up).
    step: Option<usize>,
    message: String,
    timeline: Vec<Step>,
}

/// Cases run side by side, each sequence on its own stack. Fixed (not the machine's core
/// count) so that a seed means the same sequences everywhere: worker `w` tries its share
/// of the cases from its own seed, derived from the run's.
const WORKERS: usize = 3;

/// What one worker found.
struct WorkerResult {
    /// Cases run until the verdict (the failing one included).
    cases: u32,
    /// Runs spent shrinking.
    shrink_runs: u32,
    /// The shrunk sequence and proptest's reason, when a case failed.
    failure: Option<(Vec<Transition>, String)>,
}

/// Runs the property; blocks the calling thread until done (from async code, use
/// [`run_async`] rather than block a runtime's thread).
pub fn run(config: PropertyConfig) -> PropertyReport {
    // Its own thread: the runtime inside may then be started, used and dropped whatever
    // the caller's thread is.
    let fallback = config.clone();
    let started = Instant::now();
    std::thread::scope(|scope| {
        scope
            .spawn(move || run_on_this_thread(config))
            .join()
            .unwrap_or_else(|_| {
                setup_failure(&fallback, started, "the property run crashed".into())
            })
    })
}

fn run_on_this_thread(config: PropertyConfig) -> PropertyReport {
    let started = Instant::now();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return setup_failure(&config, started, format!("starting a runtime: {e}")),
    };
    let options = StackOptions {
        mock_seed: Some(config.seed),
        shop: config.shop.clone(),
        database: config.database.clone(),
        ..StackOptions::default()
    };
    let workers = WORKERS.min(config.cases.max(1) as usize);
    let passed_cases = AtomicU32::new(0);
    let tracker = Tracker {
        progress: config.progress.clone(),
        passed: &passed_cases,
        of: config.cases,
    };
    // The lowest worker that found a failure: its failure is the one reported, so the
    // workers after it may stop, and the verdict does not depend on timing.
    let lowest_failed = AtomicUsize::new(usize::MAX);
    let results: Vec<WorkerResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let share = config.cases / workers as u32
                    + u32::from((w as u32) < config.cases % workers as u32);
                let worker = Worker {
                    index: w,
                    cases: share,
                    seed: worker_seed(config.seed, w),
                    max_steps: config.max_steps,
                    runtime: &runtime,
                    options: &options,
                    lowest_failed: &lowest_failed,
                    tracker: &tracker,
                };
                scope.spawn(move || worker.run())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(WorkerResult {
                    cases: 0,
                    shrink_runs: 0,
                    failure: Some((Vec::new(), "a worker crashed".to_string())),
                })
            })
            .collect()
    });

    let mut report = PropertyReport {
        name: NAME.to_string(),
        summary: SUMMARY.to_string(),
        passed: true,
        cases: results.iter().map(|r| r.cases).sum(),
        cases_requested: config.cases,
        shrink_runs: 0,
        seed: config.seed,
        seconds: 0.0,
        steps: Vec::new(),
        shrunk: Vec::new(),
        failing_step: None,
        message: None,
        replayed: None,
        timeline: Vec::new(),
    };
    if let Some(failed) = results.iter().find(|r| r.failure.is_some()) {
        let (transitions, why) = failed.failure.clone().expect("found a failure");
        report.passed = false;
        let (transitions, runs) = if transitions.is_empty() {
            (transitions, 0)
        } else {
            minimise(
                transitions,
                &runtime,
                &options,
                &tracker,
                failed.shrink_runs,
            )
        };
        report.shrink_runs = failed.shrink_runs + runs;
        // Once more, for the transcript (and to show the failure is deterministic).
        let replay = runtime.block_on(run_case(options.clone(), &transitions, None, true));
        let failure = match replay {
            Err(failure) => {
                report.replayed = Some(true);
                failure
            }
            Ok(()) => {
                report.replayed = Some(false);
                CaseFailure {
                    step: None,
                    message: why,
                    timeline: Vec::new(),
                }
            }
        };
        report.steps = numbered_steps(&config, &transitions, failure.step);
        report.failing_step = failure.step.map(|s| s + 1);
        report.message = Some(failure.message);
        report.timeline = failure.timeline;
        report.shrunk = transitions;
    }
    drop(runtime);
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Worker `w`'s seed: the run's for the first, a mix of it for the others.
fn worker_seed(seed: u64, w: usize) -> u64 {
    seed ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Counts passed cases across workers, for the progress callback.
struct Tracker<'a> {
    progress: Option<Progress>,
    passed: &'a AtomicU32,
    of: u32,
}

impl Tracker<'_> {
    fn passed(&self) {
        let done = self.passed.fetch_add(1, SeqCst) + 1;
        if let Some(progress) = &self.progress {
            progress(PropertyProgress::Case { done, of: self.of });
        }
    }

    fn shrinking(&self, runs: u32) {
        if let Some(progress) = &self.progress {
            progress(PropertyProgress::Shrinking { runs });
        }
    }
}

/// One worker: `cases` sequences from `seed`, and the shrinking of the first that fails.
struct Worker<'a> {
    index: usize,
    cases: u32,
    seed: u64,
    max_steps: usize,
    runtime: &'a tokio::runtime::Runtime,
    options: &'a StackOptions,
    lowest_failed: &'a AtomicUsize,
    tracker: &'a Tracker<'a>,
}

impl Worker<'_> {
    fn run(self) -> WorkerResult {
        let proptest_config = Config {
            cases: self.cases,
            failure_persistence: None,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(self.seed),
            max_shrink_iters: MAX_SHRINK_RUNS,
            max_shrink_time: 0,
            fork: false,
            timeout: 0,
            verbose: 0,
            ..Config::default()
        };
        let mut runner = TestRunner::new(proptest_config);
        let strategy = PurchaseMachine::sequential_strategy(1..=self.max_steps.max(1));

        let runs = AtomicU32::new(0);
        let first_failure_at = AtomicU32::new(0);
        let result = runner.run(&strategy, |(_, transitions, seen)| {
            // A lower worker's failure is the one reported: nothing here matters any more.
            if self.lowest_failed.load(SeqCst) < self.index {
                return Ok(());
            }
            let run = runs.fetch_add(1, SeqCst) + 1;
            let first_failure = first_failure_at.load(SeqCst);
            if first_failure > 0 {
                self.tracker.shrinking(run - first_failure);
            }
            let outcome = self.runtime.block_on(run_case(
                self.options.clone(),
                &transitions,
                seen.as_deref(),
                false,
            ));
            match outcome {
                Ok(()) => {
                    if first_failure == 0 {
                        self.tracker.passed();
                    }
                    Ok(())
                }
                Err(failure) => {
                    if first_failure == 0 {
                        first_failure_at.store(run, SeqCst);
                        self.lowest_failed.fetch_min(self.index, SeqCst);
                    }
                    Err(TestCaseError::fail(failure.message))
                }
            }
        });
        let runs = runs.load(SeqCst);
        match result {
            Ok(()) => WorkerResult {
                cases: runs,
                shrink_runs: 0,
                failure: None,
            },
            Err(TestError::Abort(why)) => WorkerResult {
                cases: runs,
                shrink_runs: 0,
                failure: Some((Vec::new(), format!("proptest gave up: {why}"))),
            },
            Err(TestError::Fail(why, (_, transitions, _))) => {
                let first = first_failure_at.load(SeqCst);
                WorkerResult {
                    cases: first,
                    shrink_runs: runs - first,
                    failure: Some((transitions, why.to_string())),
                }
            }
        }
    }
}

/// At most this many runs for [`minimise`].
const MAX_MINIMISE_RUNS: u32 = 40;

/// One more pass after proptest's shrinking: `proptest-state-machine` deletes steps only
/// before it simplifies them, and cannot delete a Buy whose session a later step uses by
/// number. Here each step is dropped in turn (a Buy together with the steps on its
/// session, the later sessions renumbered), and kept out while the sequence still fails.
/// Returns the sequence and the runs spent.
fn minimise(
    mut current: Vec<Transition>,
    runtime: &tokio::runtime::Runtime,
    options: &StackOptions,
    tracker: &Tracker<'_>,
    shrink_runs: u32,
) -> (Vec<Transition>, u32) {
    let mut runs = 0;
    'shorter: loop {
        for i in (0..current.len()).rev() {
            let candidate = without_step(&current, i);
            if candidate.is_empty() || !acceptable(&candidate) {
                continue;
            }
            if runs == MAX_MINIMISE_RUNS {
                break 'shorter;
            }
            runs += 1;
            tracker.shrinking(shrink_runs + runs);
            let outcome = runtime.block_on(run_case(options.clone(), &candidate, None, false));
            if outcome.is_err() {
                current = candidate;
                continue 'shorter;
            }
        }
        break;
    }
    (current, runs)
}

/// `steps` without step `i`; when it is a Buy, without the steps on its session too, and
/// the sessions bought after it renumbered.
fn without_step(steps: &[Transition], i: usize) -> Vec<Transition> {
    let Transition::Buy { .. } = steps[i] else {
        let mut rest = steps.to_vec();
        rest.remove(i);
        return rest;
    };
    let gone = steps[..i]
        .iter()
        .filter(|t| matches!(t, Transition::Buy { .. }))
        .count();
    let renumber = |session: usize| match session.cmp(&gone) {
        std::cmp::Ordering::Less => Some(session),
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(session - 1),
    };
    steps
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .filter_map(|(_, t)| match *t {
            Transition::Pay { session, card } => {
                renumber(session).map(|session| Transition::Pay { session, card })
            }
            Transition::ReturnWithoutPaying { session } => {
                renumber(session).map(|session| Transition::ReturnWithoutPaying { session })
            }
            Transition::Redeliver { session } => {
                renumber(session).map(|session| Transition::Redeliver { session })
            }
            ref other => Some(other.clone()),
        })
        .collect()
}

/// Whether the model accepts every step of `steps` (the generator's preconditions).
fn acceptable(steps: &[Transition]) -> bool {
    let mut model = Model::default();
    for t in steps {
        if !PurchaseMachine::preconditions(&model, t) {
            return false;
        }
        model.apply(t);
    }
    true
}

/// [`run`] on a blocking thread, for async callers.
pub async fn run_async(config: PropertyConfig) -> PropertyReport {
    let fallback = config.clone();
    let started = Instant::now();
    match tokio::task::spawn_blocking(move || run(config)).await {
        Ok(report) => report,
        Err(e) => setup_failure(&fallback, started, format!("the property run crashed: {e}")),
    }
}

fn setup_failure(config: &PropertyConfig, started: Instant, message: String) -> PropertyReport {
    PropertyReport {
        name: NAME.to_string(),
        summary: SUMMARY.to_string(),
        passed: false,
        cases: 0,
        cases_requested: config.cases,
        shrink_runs: 0,
        seed: config.seed,
        seconds: started.elapsed().as_secs_f64(),
        steps: Vec::new(),
        shrunk: Vec::new(),
        failing_step: None,
        message: Some(message),
        replayed: None,
        timeline: Vec::new(),
    }
}

/// The shrunk sequence as a person replays it, the failing step marked.
fn numbered_steps(
    config: &PropertyConfig,
    transitions: &[Transition],
    failing: Option<usize>,
) -> Vec<String> {
    let mut steps = vec![format!(
        "0. Start a fresh stack (mock-stripe seeded with {}, {}); pin the account's clock at {PINNED_AT} (POST /_config/clock frozen_at={PINNED_AT})",
        config.seed,
        if config.shop.is_some() {
            "the shop under test"
        } else {
            "our storefront"
        }
    )];
    let mut model = Model::default();
    for (i, t) in transitions.iter().enumerate() {
        let mut line = format!("{}. {}", i + 1, t.describe(&model));
        model.apply(t);
        if failing == Some(i) {
            line.push_str("  ← the shop disagrees with the model after this step");
        }
        steps.push(line);
    }
    steps
}

/// One case on a fresh stack: each step, then settle, then compare with the model. With
/// `transcript`, the deliveries and email of each step land on the timeline as they
/// happen (for a report); otherwise only at the end of a failed case.
async fn run_case(
    options: StackOptions,
    transitions: &[Transition],
    seen: Option<&AtomicUsize>,
    transcript: bool,
) -> Result<(), CaseFailure> {
    let timeline = Arc::new(Timeline::default());
    let stack = match Stack::start(options).await.context("starting the stack") {
        Ok(stack) => stack,
        Err(e) => {
            return Err(CaseFailure {
                step: None,
                message: format!("{e:#}"),
                timeline: Vec::new(),
            });
        }
    };
    let ctx = Ctx::new(stack, timeline.clone());
    let mut failed_at = None;
    let result = crate::patience::within(CASE_DEADLINE, async {
        let mut system = System::new(ctx);
        let mut model = Model::default();
        let result = async {
            system.pin_clock().await?;
            for (i, transition) in transitions.iter().enumerate() {
                if let Some(seen) = seen {
                    seen.fetch_add(1, SeqCst);
                }
                failed_at = Some(i);
                timeline.record(
                    Actor::Check,
                    format!("step {}: {}", i + 1, transition.describe(&model)),
                    None,
                );
                let before = model.clone();
                model.apply(transition);
                system
                    .apply(&before, transition)
                    .await
                    .with_context(|| format!("step {}", i + 1))?;
                let settled = system.settle(&model).await;
                if transcript {
                    system.ctx.observe().await?;
                }
                settled?;
                system.check(&model).await?;
            }
            anyhow::Ok(())
        }
        .await;
        if result.is_err() {
            // What happened last (deliveries, email) belongs on the timeline too.
            let _ = system.ctx.observe().await;
        }
        let ids = system.session_ids();
        system.ctx.stack.shutdown().await;
        result.map_err(|e| (e, ids))
    })
    .await;
    let (message, ids) = match result {
        Some(Ok(())) => return Ok(()),
        Some(Err((e, ids))) => (format!("{e:#}"), ids),
        None => (
            format!("the case did not finish within {CASE_DEADLINE:?}"),
            Vec::new(),
        ),
    };
    let mut message = message;
    if !ids.is_empty() {
        let sessions: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| format!("#{} = {id}", i + 1))
            .collect();
        message.push_str(&format!("\n(sessions: {})", sessions.join(", ")));
    }
    timeline.record(Actor::Check, format!("FAILED: {message}"), None);
    Err(CaseFailure {
        step: failed_at,
        message,
        timeline: timeline.steps(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buy(product: usize) -> Transition {
        Transition::Buy { product }
    }

    fn pay(session: usize) -> Transition {
        Transition::Pay {
            session,
            card: Card::Succeeds,
        }
    }

    #[test]
    fn dropping_a_buy_drops_its_session_and_renumbers_the_later_ones() {
        let steps = [buy(0), buy(1), pay(1), Transition::Redeliver { session: 1 }];
        assert_eq!(
            without_step(&steps, 0),
            [buy(1), pay(0), Transition::Redeliver { session: 0 }]
        );
        assert_eq!(without_step(&steps, 1), [buy(0)]);
        assert_eq!(
            without_step(&steps, 3),
            [buy(0), buy(1), pay(1)],
            "other steps just go"
        );
        assert!(acceptable(&without_step(&steps, 0)));
        assert!(
            !acceptable(&[pay(0)]),
            "paying needs a session bought before"
        );
    }
}
