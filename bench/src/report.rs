//! The table: rows of throughput and latency, resources, notes; as Markdown and JSON.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::clean_build::CleanBuild;
use crate::flows::FlowRow;
use crate::rounds::{Comparison, Stats};
use crate::workloads::Workload;

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `ceiling`, `mock-stripe`, `localstripe`, `stripe-stateful-mock`.
    pub target: String,
    pub workload: Workload,
    pub label: String,
    /// The median over rounds of each round's rate ÷ the ceiling's rate beside it (its
    /// rounds just before and after, see `Stats::ceiling_round_rates`; mock-stripe and
    /// peers); the ceiling's own row: 1.
    pub ratio: f64,
    /// The rounds' figures, as the load generator measured them (flat in the JSON).
    #[serde(flatten)]
    pub stats: Stats,
}

#[derive(Clone, Debug, Serialize)]
pub struct Resource {
    pub metric: String,
    pub value: f64,
    pub unit: String,
    pub note: String,
}

impl Resource {
    pub fn new(metric: &str, value: f64, unit: &str, note: &str) -> Resource {
        Resource {
            metric: metric.into(),
            value,
            unit: unit.into(),
            note: note.into(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub machine: String,
    pub command: String,
    pub load_generator: String,
    /// Where the ceiling and mock-stripe ran: in the load generator's process, or each in
    /// its own (`--own-processes`).
    pub servers: String,
    pub connections: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Rounds per server workload; each row is the median round.
    pub rounds: usize,
    pub stored: usize,
    pub rows: Vec<Row>,
    pub resources: Vec<Resource>,
    /// Whole purchases through the storefront and mock-stripe binaries.
    pub flows: Vec<FlowRow>,
    /// List ÷ retrieve on mock-stripe, pass by pass (see [`Stats::ratio_over`]; the
    /// issue's target: ≥ 0.8).
    pub list_over_retrieve: Option<Comparison>,
    /// The same for their answers from bare servers, byte for byte: what the bytes alone
    /// allow.
    pub bare_list_over_retrieve: Option<Comparison>,
    /// Create over 50 keys ÷ over one, the same way (the target: ≥ 1).
    pub many_keys_over_one: Option<Comparison>,
    /// mock-stripe's customer creation ÷ each installed peer's, the same way.
    pub customers_over_peers: Vec<PeerComparison>,
    /// The workspace's clean release build, when `--clean-build` asked for it.
    pub clean_build: Option<CleanBuild>,
    /// What was skipped and why, and what is not measured yet.
    pub notes: Vec<String>,
}

/// mock-stripe's create customer over a peer's, their rounds paired pass by pass.
#[derive(Clone, Debug, Serialize)]
pub struct PeerComparison {
    pub peer: String,
    /// Issue 9's target for this ratio.
    pub target: f64,
    pub comparison: Comparison,
}

impl Report {
    pub fn ceiling_rate(&self) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.workload == Workload::FixedBody)
            .map(|r| r.stats.rate)
    }

    pub fn push(&mut self, target: &str, workload: Workload, s: &Stats) {
        let ratio = s
            .ratio_beside_ceiling()
            .unwrap_or_else(|| self.ceiling_rate().map_or(1.0, |c| s.rate / c));
        self.rows.push(Row {
            target: target.into(),
            workload,
            label: workload.label(self.stored),
            ratio,
            stats: s.clone(),
        });
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            s,
            "Machine: {}. Command: `{}`. Load generator: {}; servers: {}; {} connections, {} s measured after {} s warm-up; each server row is the median of {} rounds, run in passes that give every mock-stripe workload one round in the table's order, except that a row compared with the one above it runs beside that row, after it on odd passes and before it on even ones (every round's rate in the last column, after the slash the ceiling's rate beside it: the mean of the ceiling's rounds just before and just after it, or the pair; a round across which those two differ by more than {:.0}% ran while the machine changed speed, and is measured again, at most {} times, counted after the rates); ÷ ceiling is the median of those rounds' ratios, one run.\n",
            self.machine,
            self.command,
            self.load_generator,
            self.servers,
            self.connections,
            self.duration_s,
            self.warmup_s,
            self.rounds,
            crate::rounds::CEILING_DRIFT * 100.0,
            crate::rounds::MAX_REMEASURES
        );
        if !self.rows.is_empty() {
            s.push_str(
                "| target | workload | req/s | p50 ms | p99 ms | max ms | ÷ ceiling | errors | rounds (req/s) |\n",
            );
            s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
            for row in &self.rows {
                let r = &row.stats;
                let rounds: Vec<String> = r
                    .round_rates
                    .iter()
                    .enumerate()
                    .map(|(i, x)| match r.ceiling_round_rates.get(i) {
                        Some(c) => format!("{x:.0}/{c:.0}"),
                        None => format!("{x:.0}"),
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {:.3} | {} | {} |",
                    row.target,
                    row.label,
                    r.rate,
                    r.p50_ms,
                    r.p99_ms,
                    r.max_ms,
                    row.ratio,
                    r.errors,
                    rounds.join(" · ")
                        + &match r.remeasured {
                            0 => String::new(),
                            n => format!(" ({n} measured again)"),
                        }
                );
            }
        }
        if self.list_over_retrieve.is_some() || self.many_keys_over_one.is_some() {
            s.push_str("\nRows against each other on mock-stripe, the median over passes of the two rounds' rates, divided (the two run back to back beside the same ceiling round, in turn first):\n");
        }
        if let Some(c) = &self.list_over_retrieve {
            let _ = writeln!(
                s,
                "- list ÷ retrieve: **{:.2}** (target ≥ 0.8; passes {})",
                c.median,
                passes(c)
            );
        }
        if let Some(c) = &self.bare_list_over_retrieve {
            let _ = writeln!(
                s,
                "- the same two answers byte for byte from bare servers, list ÷ retrieve: **{:.2}** (what the bytes alone allow; passes {})",
                c.median,
                passes(c)
            );
        }
        if let Some(c) = &self.many_keys_over_one {
            let _ = writeln!(
                s,
                "- create over {} keys ÷ over one: **{:.2}** (target ≥ 1; passes {})",
                crate::workloads::MANY_KEYS,
                c.median,
                passes(c)
            );
        }
        if !self.customers_over_peers.is_empty() {
            s.push_str("\nCustomer creation, mock-stripe ÷ a peer, the same way (each peer's rounds paired with a round of mock-stripe's):\n");
        }
        for p in &self.customers_over_peers {
            let _ = writeln!(
                s,
                "- ÷ {}: **{:.1}×** (target ≥ {}×; passes {})",
                p.peer,
                p.comparison.median,
                p.target,
                passes(&p.comparison)
            );
        }
        if !self.resources.is_empty() {
            s.push_str(
                "\n| resource (mock-stripe binary, own process) | value | |\n|---|---:|---|\n",
            );
            for r in &self.resources {
                let _ = writeln!(
                    s,
                    "| {} | {:.1} {} | {} |",
                    r.metric, r.value, r.unit, r.note
                );
            }
        }
        if !self.flows.is_empty() {
            s.push_str(&self.flows_markdown());
        }
        if let Some(b) = &self.clean_build {
            let met = if b.wall_s <= crate::clean_build::TARGET_S {
                "✓"
            } else {
                "✗"
            };
            let _ = writeln!(
                s,
                "\nClean release build of the workspace: **{}** wall clock, {:.0} s of CPU (user + system), `{}` in {} into an empty target folder (issue 9's target ≤ {}: {met}).{}",
                crate::clean_build::minutes(b.wall_s),
                b.cpu_s,
                b.command,
                b.workspace.display(),
                crate::clean_build::minutes(crate::clean_build::TARGET_S),
                match &b.timings {
                    Some(_) =>
                        " What took the time, unit by unit: cargo-timing.html beside this report.",
                    None => "",
                }
            );
        }
        if !self.notes.is_empty() {
            s.push('\n');
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }

    /// The purchase-flow table, with the targets.
    fn flows_markdown(&self) -> String {
        let mut s = String::from(
            "\n| purchase flows (storefront + mock-stripe binaries) | shoppers | flows/s | × 1 shopper | flow p50 ms | flow p99 ms | pay → back p50 ms | pay → back p99 ms | webhook p50 ms | webhook p99 ms | webhook samples | deliveries per flow | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.flows {
            let single = self
                .flows
                .iter()
                .find(|o| o.database == r.database && o.shoppers == 1)
                .map(|o| o.rate);
            let scale = single.map_or("".into(), |one| format!("{:.2}", r.rate / one));
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {} | {:.1} | {} |",
                r.database,
                r.shoppers,
                r.rate,
                scale,
                r.p50_ms,
                r.p99_ms,
                r.pay_p50_ms,
                r.pay_p99_ms,
                r.webhook_p50_ms,
                r.webhook_p99_ms,
                r.webhook_samples,
                r.deliveries_per_flow,
                r.errors + r.webhook_failures as u64
            );
        }
        s.push_str(
            "\nA flow: product page, Buy (order + Checkout Session), payment page, the card form posted with 4242…, the success URL, the product page with the thank-you message; every completed flow's order is paid in the shop's database. \"pay → back\": the payment POST until its redirect, which the mock sends only after the shop answered `checkout.session.completed` (charge, signed delivery, the shop's commit of the payment with its receipt's claim; the receipt is written after the answer). \"webhook\": first attempts of `checkout.session.completed` in the mock's delivery log (request sent → answer read, whole milliseconds, truncated). Errors count failed flows and failed deliveries. Issue 9's targets: ≥ 300 flows/s with 32 shoppers on SQLite; webhook p50 ≤ 2 ms.\n",
        );
        s
    }

    /// Writes `bench.md` and `bench.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("bench.md"), self.markdown())?;
        std::fs::write(dir.join("bench.json"), serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }
}

/// A comparison's passes, in the order they ran.
fn passes(c: &Comparison) -> String {
    let each: Vec<String> = c.passes.iter().map(|x| format!("{x:.2}")).collect();
    each.join(" · ")
}
