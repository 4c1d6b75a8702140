//! `harness soak`: load with faults, against the real programs. The `mock-stripe` and
//! `storefront` binaries run as child processes ([`process`]); N shoppers run purchase
//! flows at once ([`flow`]: paying, declined, 3-D Secure, leaving, going back) while
//! faults are injected at random through the mock's control API ([`faults`]). Then the
//! soak lets every retry and late delivery arrive ([`settle`]) and checks what the shop
//! holds against what Stripe holds ([`judge`]): no paid session without its one paid
//! order, no order twice, one receipt per paid order, no 5xx page shown to a shopper. It
//! also reads both processes' memory after warm-up and at the end.

pub mod faults;
pub mod flow;
pub mod judge;
pub mod process;
pub mod settle;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;

use crate::catalogue::{CatalogueProduct, for_sale};
use crate::patience::CatchUp;
use crate::properties::Card;
use crate::shop::Shop;
use crate::shopper::Shopper;
use crate::stack::StackDatabase;
use faults::{Drawn, Injector};
use flow::{Plan, ServerError, Site};
use judge::{Findings, ShopperSaw, StripeSession};
use process::{Binaries, MockOptions, Processes};
use settle::{Account, Settled};

/// The mock's retries of a failed delivery: quick at first, so most happen while the
/// shoppers run, then more (14 retries over about 8 hours), so that faults piling up on
/// one delivery cannot exhaust them (Stripe too retries for days); the end of the soak
/// moves the clock past them all.
const RETRY_SCHEDULE: &str = "1,2,5,10,20,30,60,120,300,600,1800,3600,7200,14400";

/// What to run.
#[derive(Clone, Debug)]
pub struct SoakConfig {
    /// Shoppers buying at once.
    pub shoppers: usize,
    /// Purchase flows in all (after a warm-up of one per shopper).
    pub flows: usize,
    /// Fixes each flow's plan, product and fault (and the mock's ids).
    pub seed: u64,
    /// The share of flows that inject a fault as they start, 0 to 1.
    pub fault_rate: f64,
    pub database: StackDatabase,
    /// The binaries to run; `None`: the ones beside the running program.
    pub binaries: Option<Binaries>,
    /// Keeps the logs, the SQLite file, the outbox (and a PostgreSQL database) even when
    /// the soak passes (they are always kept when it fails).
    pub keep: bool,
    /// The secret the mock signs webhooks with; `None`: the one the shop expects. Another
    /// one stands for a misconfigured shop (every paid order lost), which tests use to
    /// prove the soak fails.
    pub mock_signing_secret: Option<String>,
}

impl Default for SoakConfig {
    fn default() -> Self {
        SoakConfig {
            shoppers: 64,
            flows: 2000,
            seed: 1,
            fault_rate: 0.2,
            database: StackDatabase::Sqlite,
            binaries: None,
            keep: false,
            mock_signing_secret: None,
        }
    }
}

/// Resident memory of one process, in KiB: after warm-up and at the end.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rss {
    pub start_kib: Option<u64>,
    pub end_kib: Option<u64>,
}

impl Rss {
    fn cell(&self) -> String {
        let mib =
            |k: Option<u64>| k.map_or("n/a".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
        format!("{} → {} MiB", mib(self.start_kib), mib(self.end_kib))
    }
}

/// What a soak found.
#[derive(Clone, Debug)]
pub struct SoakReport {
    pub database: String,
    pub shoppers: usize,
    pub flows: usize,
    pub warmup_flows: usize,
    /// The flows after warm-up, first start to last end.
    pub seconds: f64,
    pub flows_per_second: f64,
    /// Flows by plan.
    pub plans: BTreeMap<String, usize>,
    /// 5xx pages shown to shoppers (first few, with the page).
    pub server_errors: usize,
    pub server_error_samples: Vec<String>,
    /// Flows that failed otherwise (a page not as it should be, a request that failed).
    pub flow_failures: usize,
    pub flow_failure_samples: Vec<String>,
    /// Fault hits injected, by kind (`settle` says how many were left unused).
    pub faults_injected: BTreeMap<String, u32>,
    /// Fault rules whose control call got no answer (a keep-alive connection closed as
    /// it was reused): they may or may not have been added.
    pub faults_unconfirmed: u32,
    pub settle: Settled,
    pub findings: Findings,
    pub mock_rss: Rss,
    pub shop_rss: Rss,
    /// What was kept for a person to look at (always after a failure).
    pub kept: Option<Kept>,
}

/// The processes' logs and the shop's files, and its PostgreSQL database if it had one.
#[derive(Clone, Debug)]
pub struct Kept {
    pub dir: std::path::PathBuf,
    pub postgres_database: Option<String>,
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.dir.display())?;
        if let Some(db) = &self.postgres_database {
            write!(f, " (and PostgreSQL database {db})")?;
        }
        Ok(())
    }
}

impl SoakReport {
    /// No lost or duplicate order, no 5xx, and every other check held.
    pub fn passed(&self) -> bool {
        self.server_errors == 0
            && self.flow_failures == 0
            && self.findings.clean()
            && self.settle.pending == 0
            && self.settle.undelivered.is_empty()
    }

    pub fn faults_total(&self) -> u32 {
        self.faults_injected.values().sum()
    }

    /// The one-row Markdown table the README shows.
    pub fn markdown_table(&self) -> String {
        let injected = self.faults_total();
        format!(
            "| database | shoppers | flows | duration | flows/s | lost | duplicates | 5xx | faults injected | mock RSS | shop RSS |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n\
             | {} | {} | {} | {:.1} s | {:.1} | {} | {} | {} | {} ({} used) | {} | {} |\n",
            self.database,
            self.shoppers,
            self.flows,
            self.seconds,
            self.flows_per_second,
            self.findings.lost.len(),
            self.findings.duplicates.len(),
            self.server_errors,
            injected,
            injected.saturating_sub(self.settle.unused_fault_hits),
            self.mock_rss.cell(),
            self.shop_rss.cell(),
        )
    }

    /// Everything else, for a person reading a run.
    pub fn details(&self) -> String {
        let f = &self.findings;
        let mut out = String::new();
        out.push_str(&format!(
            "flows: {} after {} warm-up purchases; {}\n",
            self.flows,
            self.warmup_flows,
            tally(&self.plans)
        ));
        out.push_str(&format!(
            "faults injected (hits): {}{}\n",
            tally(&self.faults_injected),
            match self.faults_unconfirmed {
                0 => String::new(),
                n => format!("; {n} more unconfirmed (the control call lost its connection)"),
            }
        ));
        out.push_str(&format!(
            "Stripe: {} sessions, {} paid, {} expired; shop: {} paid orders, {} receipts\n",
            f.sessions, f.paid_sessions, f.expired_sessions, f.paid_orders, f.receipts
        ));
        out.push_str(&format!(
            "settling: {:.1} s, {} dropped checkout event(s) resent, {} deliveries pending, {} checkout event(s) undelivered\n",
            self.settle.seconds,
            self.settle.resent,
            self.settle.pending,
            self.settle.undelivered.len()
        ));
        let mut problem = |what: &str, n: usize, samples: &[String]| {
            if n > 0 {
                out.push_str(&format!("FAILED: {n} {what}\n"));
                for s in samples.iter().take(5) {
                    out.push_str(&format!("  - {s}\n"));
                }
            }
        };
        problem(
            "5xx page(s) shown to shoppers",
            self.server_errors,
            &self.server_error_samples,
        );
        problem(
            "flow(s) failed",
            self.flow_failures,
            &self.flow_failure_samples,
        );
        problem(
            "lost order(s) (paid sessions without a paid order)",
            f.lost.len(),
            &f.lost,
        );
        problem("duplicate paid order(s)", f.duplicates.len(), &f.duplicates);
        let unpaid: Vec<String> = f
            .paid_without_payment
            .iter()
            .map(|id| format!("order {id}"))
            .collect();
        problem("order(s) paid without a payment", unpaid.len(), &unpaid);
        problem(
            "receipt mismatch(es)",
            f.receipt_mismatches.len(),
            &f.receipt_mismatches,
        );
        problem(
            "expired session(s) whose order is not expired",
            f.not_expired.len(),
            &f.not_expired,
        );
        problem(
            "shopper(s) told otherwise than Stripe says",
            f.shoppers_misinformed.len(),
            &f.shoppers_misinformed,
        );
        problem(
            "checkout event(s) never delivered",
            self.settle.undelivered.len(),
            &self.settle.undelivered,
        );
        if self.settle.pending > 0 {
            out.push_str(&format!(
                "FAILED: {} deliveries still pending\n",
                self.settle.pending
            ));
        }
        if let Some(dir) = &self.kept {
            out.push_str(&format!("logs and data kept in {dir}\n"));
        }
        out
    }
}

/// `name count, name count, …`
fn tally<V: std::fmt::Display>(counts: &BTreeMap<String, V>) -> String {
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One flow to run: what the shopper does, what they buy, the fault injected as it starts.
#[derive(Clone, Copy, Debug)]
struct Planned {
    plan: Plan,
    /// Index into the products for sale.
    product: usize,
    fault: Option<Drawn>,
}

/// One flow's end.
struct FlowRecord {
    plan: Plan,
    result: anyhow::Result<flow::Done>,
}

/// Runs a soak: starts both programs, warms up, runs the flows with faults, settles,
/// judges. An `Err` is the soak itself failing (a program would not start, the control
/// API failed); what the soak found is in the report.
pub async fn run(config: SoakConfig) -> anyhow::Result<SoakReport> {
    let binaries = match &config.binaries {
        Some(b) => b.clone(),
        None => Binaries::beside_current_exe()?,
    };
    tracing::info!(
        mock = %binaries.mock_stripe.display(),
        shop = %binaries.storefront.display(),
        "starting mock-stripe and the storefront"
    );
    let mut processes = Processes::start(
        &binaries,
        &config.database,
        &MockOptions {
            seed: config.seed,
            retry_schedule: RETRY_SCHEDULE.to_string(),
            signing_secret: config.mock_signing_secret.clone(),
        },
    )
    .await?;
    let result = soak(&config, &mut processes).await;
    let failed = result.as_ref().map_or(true, |r| !r.passed());
    let keep = config.keep || failed;
    let Processes {
        mock,
        mut shop,
        dir,
        ..
    } = processes;
    let postgres_database = if keep { shop.keep_database() } else { None };
    // The mock first: it would log every delivery to a shop already gone.
    drop(mock);
    Box::new(shop).shutdown().await;
    let kept = keep.then(|| Kept {
        dir: dir.keep(),
        postgres_database,
    });
    match result {
        Ok(mut report) => {
            report.kept = kept;
            Ok(report)
        }
        Err(e) => Err(match kept {
            Some(kept) => e.context(format!("logs and data kept in {kept}")),
            None => e,
        }),
    }
}

async fn soak(config: &SoakConfig, processes: &mut Processes) -> anyhow::Result<SoakReport> {
    let site = Site {
        shop: processes.shop.url().clone(),
        mock: processes.mock_url.clone(),
    };
    let products = for_sale();
    let injector = Injector::new(processes.control.clone());

    // Warm-up: one plain purchase per shopper, so memory is read with every pool,
    // cache and connection in use.
    tracing::info!(shoppers = config.shoppers, "warm-up");
    let warm_plans = (0..config.shoppers).map(|i| Planned {
        plan: Plan::Pay(Card::Succeeds),
        product: i % products.len(),
        fault: None,
    });
    let warmup = run_flows(config, &site, &products, &injector, warm_plans, "warmup").await?;
    let mock_start = processes.mock.rss_kib();
    let shop_start = processes.shop.process.rss_kib();

    tracing::info!(
        flows = config.flows,
        shoppers = config.shoppers,
        fault_rate = config.fault_rate,
        "soak"
    );
    let started = Instant::now();
    let plans = (0..config.flows).map(|i| {
        let mut rng = StdRng::seed_from_u64(config.seed.rotate_left(32) ^ i as u64);
        Planned {
            plan: Plan::draw(&mut rng),
            product: rng.random_range(0..products.len()),
            fault: rng
                .random_bool(config.fault_rate.clamp(0.0, 1.0))
                .then(|| Drawn::draw(&mut rng)),
        }
    });
    let records = run_flows(config, &site, &products, &injector, plans, "soak").await?;
    let seconds = started.elapsed().as_secs_f64();
    processes.mock.ensure_running()?;
    processes.shop.process.ensure_running()?;

    tracing::info!("settling: clearing faults, moving the clock, resending what was dropped");
    let account = Account::new(processes.mock_url.clone(), processes.secret_key.clone());
    let settled: Settled = settle::settle(&account).await?;

    let sessions: Vec<StripeSession> = account
        .list_all("/v1/checkout/sessions", "")
        .await?
        .iter()
        .filter_map(StripeSession::from_json)
        .collect();
    let orders = processes.shop.orders().await?;
    // The shop writes a receipt just after it answers the webhook: give the last ones a
    // moment (a missing one is still a finding after that).
    let paid_with_email = orders
        .iter()
        .filter(|o| o.status == "paid" && o.buyer_email.is_some())
        .count();
    let mut catch_up = CatchUp::default();
    let receipts = loop {
        let receipts = processes.shop.receipts()?;
        if receipts.len() >= paid_with_email || catch_up.give_up(processes.shop.busy().await?) {
            break receipts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let mut saw = Vec::new();
    let mut server_errors = Vec::new();
    let mut failures = Vec::new();
    let mut by_plan: BTreeMap<String, usize> = BTreeMap::new();
    for (i, record) in warmup.iter().chain(&records).enumerate() {
        match &record.result {
            Ok(done) => saw.push(ShopperSaw {
                session_id: done.session_id.clone(),
                paid: done.paid,
            }),
            Err(e) if e.downcast_ref::<ServerError>().is_some() => {
                server_errors.push(format!("flow {i} ({:?}): {e:#}", record.plan))
            }
            Err(e) => failures.push(format!("flow {i} ({:?}): {e:#}", record.plan)),
        }
    }
    for record in &records {
        *by_plan.entry(plan_name(record.plan)).or_default() += 1;
    }
    let findings = judge::judge(&sessions, &orders, &receipts, &saw);
    let tally = injector.tally();

    Ok(SoakReport {
        database: match config.database {
            StackDatabase::Sqlite => "SQLite".into(),
            StackDatabase::Postgres { .. } => "PostgreSQL".into(),
        },
        shoppers: config.shoppers,
        flows: config.flows,
        warmup_flows: warmup.len(),
        seconds,
        flows_per_second: config.flows as f64 / seconds.max(f64::EPSILON),
        plans: by_plan,
        server_errors: server_errors.len(),
        server_error_samples: server_errors.into_iter().take(20).collect(),
        flow_failures: failures.len(),
        flow_failure_samples: failures.into_iter().take(20).collect(),
        faults_injected: tally.added,
        faults_unconfirmed: tally.unconfirmed,
        settle: settled,
        findings,
        mock_rss: Rss {
            start_kib: mock_start,
            end_kib: processes.mock.rss_kib(),
        },
        shop_rss: Rss {
            start_kib: shop_start,
            end_kib: processes.shop.process.rss_kib(),
        },
        kept: None,
    })
}

fn plan_name(plan: Plan) -> String {
    match plan {
        Plan::Pay(Card::Succeeds) => "pay".into(),
        Plan::Pay(_) => "pay with 3-D Secure".into(),
        Plan::FailThenPay(Card::Declined) => "declined then pay".into(),
        Plan::FailThenPay(_) => "3-D Secure failed then pay".into(),
        Plan::FailThenLeave(Card::Declined) => "declined then leave".into(),
        Plan::FailThenLeave(_) => "3-D Secure failed then leave".into(),
        Plan::Leave => "leave".into(),
        Plan::Cancel => "back to the shop".into(),
    }
}

/// Runs `plans` with `config.shoppers` shoppers at once, each taking the next plan when
/// done with one; each flow injects its fault (if any) as it starts. A control call
/// that fails stops the soak.
async fn run_flows(
    config: &SoakConfig,
    site: &Site,
    products: &[CatalogueProduct],
    injector: &Arc<Injector>,
    plans: impl Iterator<Item = Planned>,
    stage: &'static str,
) -> anyhow::Result<Vec<FlowRecord>> {
    let plans: Arc<Vec<Planned>> = Arc::new(plans.collect());
    let next = Arc::new(AtomicUsize::new(0));
    let bar = progress(plans.len(), stage);
    let mut shoppers = JoinSet::new();
    for _ in 0..config.shoppers.max(1) {
        let (plans, next, site, injector, bar) = (
            plans.clone(),
            next.clone(),
            site.clone(),
            injector.clone(),
            bar.clone(),
        );
        let products = products.to_vec();
        shoppers.spawn(async move {
            let shopper = Shopper::new()?;
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&planned) = plans.get(i) else {
                    return anyhow::Ok(done);
                };
                if let Some(fault) = planned.fault {
                    injector.inject(fault).await.context("injecting a fault")?;
                }
                let product = &products[planned.product];
                let email = format!("{stage}{i}@example.com");
                let plan = planned.plan;
                let result = flow::run(&shopper, &site, product, plan, &email).await;
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                done.push((i, FlowRecord { plan, result }));
            }
        });
    }
    let mut records = Vec::with_capacity(plans.len());
    while let Some(joined) = shoppers.join_next().await {
        records.extend(joined.context("a shopper crashed")??);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    records.sort_by_key(|(i, _)| *i);
    Ok(records.into_iter().map(|(_, r)| r).collect())
}

/// A progress bar on a terminal (stderr), nothing elsewhere.
fn progress(total: usize, stage: &str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{bar:30}} {{pos}}/{{len}} {stage} flows {{per_sec}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}
