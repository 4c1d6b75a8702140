//! Rounds: a row is the median of several measured rounds ([`drive`]); mock-stripe's rows
//! and the peers' run in passes, each round between two rounds of the ceiling
//! ([`drive_interleaved`]), and rows are compared pass by pass ([`Stats::ratio_over`]).

use std::net::SocketAddr;

use anyhow::{Context, Result};

use crate::loadgen::{Load, Plan, round};

/// What one measured run gives.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Stats {
    /// Successful (2xx) requests started inside the measured window.
    pub requests: u64,
    /// Non-2xx answers and transport failures inside the window.
    pub errors: u64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The longest request: a stall (a lock held through a big copy, a page-fault storm)
    /// shows here long before it moves p99.
    pub max_ms: f64,
    /// The rate of every round, in the order they ran (the figures above are the median
    /// round's).
    pub round_rates: Vec<f64>,
    /// With [`drive_interleaved`]: the ceiling's rate beside each of these rounds (the mean
    /// of its rounds just before and just after).
    pub ceiling_round_rates: Vec<f64>,
    /// With [`drive_interleaved`]: rounds measured again because the ceiling moved across
    /// them by more than [`CEILING_DRIFT`].
    pub remeasured: usize,
}

impl Stats {
    /// With [`drive_interleaved`]: the median over rounds of each round's rate ÷ the ceiling
    /// round just before it.
    pub fn ratio_beside_ceiling(&self) -> Option<f64> {
        median(&mut self.round_ratios())
    }

    /// With rows from one [`drive_interleaved`]: how fast this row ran against `other`,
    /// pass by pass, as (this round ÷ its ceiling round) ÷ (`other`'s round ÷ its ceiling
    /// round). Each pass's two rounds ran side by side, so a change of the machine's speed
    /// between passes does not move the figure; when this row follows `other` beside the
    /// same ceiling round ([`Row::follows_previous`]) the ceiling cancels and a pass's
    /// ratio is the two rounds' own rates. `None` without rounds to pair.
    pub fn ratio_over(&self, other: &Stats) -> Option<Comparison> {
        let passes: Vec<f64> = self
            .round_ratios()
            .into_iter()
            .zip(other.round_ratios())
            .map(|(a, b)| a / b)
            .collect();
        let median = median(&mut passes.clone())?;
        Some(Comparison { median, passes })
    }

    /// Each round's rate ÷ its ceiling round.
    fn round_ratios(&self) -> Vec<f64> {
        self.round_rates
            .iter()
            .zip(&self.ceiling_round_rates)
            .map(|(r, c)| r / c)
            .collect()
    }
}

/// One row against another ([`Stats::ratio_over`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// The median over passes: the figure a target is checked against.
    pub median: f64,
    /// Every pass's ratio, in the order the passes ran: their spread is how far this
    /// machine's noise reaches.
    pub passes: Vec<f64>,
}

/// The median (the upper one of an even count); `None` when empty.
fn median(xs: &mut [f64]) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied()
}

/// Drives `addr` for `load.rounds` rounds and gives the round with the median rate (its
/// latencies too), with every round's rate. Why rounds: on a shared two-core machine one
/// 5-second run lands in one of a few modes (the scheduler's placement of the server's and
/// the load generator's tasks on the two cores, the neighbours), which move a single run's
/// rate by up to a third; the median of several is the typical figure, and the rates of all
/// rounds show the spread.
pub async fn drive(addr: SocketAddr, plan: &Plan, load: Load) -> Result<Stats> {
    let mut rounds = Vec::with_capacity(load.rounds.max(1));
    for _ in 0..load.rounds.max(1) {
        rounds.push(round(addr, plan, load).await?);
    }
    Ok(median_round(rounds))
}

/// One workload of [`drive_interleaved`].
pub struct Row {
    /// For errors.
    pub name: String,
    /// The server it measures: mock-stripe, or a peer paired with mock-stripe's row.
    pub addr: SocketAddr,
    pub plan: Plan,
    /// Runs beside the row before it in each pass (straight after it, or on even passes
    /// straight before it), under the same ceiling round: for the second of two rows
    /// compared with each other, so that their comparison is their own two rounds, seconds
    /// apart, with no ceiling round between them whose own noise would enter the figure.
    pub follows_previous: bool,
}

/// How far the ceiling may move across a group of rounds (its round just before them
/// against its round just after) before the group is measured again: past it, the machine
/// changed speed while they ran (see [`drive_interleaved`]).
pub const CEILING_DRIFT: f64 = 0.10;

/// Times a group of rounds is measured again, at most, in one pass.
pub const MAX_REMEASURES: usize = 2;

/// Whether the ceiling held still across a group of rounds: its rates just before and
/// just after differ by at most [`CEILING_DRIFT`] of the larger.
pub fn ceiling_held(before: f64, after: f64) -> bool {
    (before - after).abs() <= CEILING_DRIFT * before.max(after)
}

/// Rounds of several workloads (of mock-stripe, or mock-stripe's paired with a peer's),
/// each between two rounds of the ceiling (`ceiling`, sent `ceiling_plan`). Why the ceiling
/// rounds: this machine changes speed for seconds to minutes at a time (the ceiling itself
/// from about 70k to 136k req/s, and every server's CPU per request with it), so a ratio to
/// a ceiling measured minutes earlier can compare two different machines; a ratio to the
/// rounds beside it compares like with like. Why on both sides: a change of speed between
/// the ceiling's round and the row's (seconds apart) still put the two on different
/// machines; when the rounds before and after differ by more than [`CEILING_DRIFT`], the
/// group is measured again (at most [`MAX_REMEASURES`] times, counted in
/// [`Stats::remeasured`]), and the ceiling's rate for a group is the mean of the two. Why
/// interleaved: each pass gives every workload one round (in a group of its own, or beside
/// the row it is paired with, see [`Row::follows_previous`] and [`pass_order`]), in the
/// order given; rows are compared with each other too (list with retrieve, 50 keys with
/// one, mock-stripe with a peer), and run one workload after another, the rounds of two
/// rows lie minutes apart and may measure two different machines, whereas each pass
/// measures them side by side (see [`Stats::ratio_over`]). Returns one [`Stats`] per
/// workload, its rounds in pass order; a row's ratio to the ceiling is the median of its
/// rounds' ratios.
pub async fn drive_interleaved(
    ceiling: SocketAddr,
    ceiling_plan: &Plan,
    workloads: &[Row],
    load: Load,
) -> Result<Vec<Stats>> {
    let passes = load.rounds.max(1);
    let mut rounds: Vec<Vec<Stats>> = workloads
        .iter()
        .map(|_| Vec::with_capacity(passes))
        .collect();
    let mut ceilings: Vec<Vec<f64>> = workloads
        .iter()
        .map(|_| Vec::with_capacity(passes))
        .collect();
    let mut remeasured = vec![0; workloads.len()];
    let ceiling_round = |what: String| async move {
        round(ceiling, ceiling_plan, load)
            .await
            .with_context(|| what)
            .map(|s| s.rate)
    };
    for pass in 1..=passes {
        // The ceiling's round after a group is the next group's round before it.
        let mut last_ceiling = None;
        for group in groups(&pass_order(workloads, pass)) {
            let first = &workloads[group[0]].name;
            for attempt in 0..=MAX_REMEASURES {
                let before = match last_ceiling {
                    Some(rate) => rate,
                    None => {
                        ceiling_round(format!("the ceiling before {first}, pass {pass}")).await?
                    }
                };
                let mut group_rounds = Vec::with_capacity(group.len());
                for &i in &group {
                    let row = &workloads[i];
                    let name = &row.name;
                    group_rounds.push(
                        round(row.addr, &row.plan, load)
                            .await
                            .with_context(|| format!("{name}, pass {pass}"))?,
                    );
                }
                let after =
                    ceiling_round(format!("the ceiling after {first}, pass {pass}")).await?;
                last_ceiling = Some(after);
                if !ceiling_held(before, after) && attempt < MAX_REMEASURES {
                    for &i in &group {
                        remeasured[i] += 1;
                    }
                    continue;
                }
                for (&i, round) in group.iter().zip(group_rounds) {
                    rounds[i].push(round);
                    ceilings[i].push((before + after) / 2.0);
                }
                break;
            }
        }
    }
    Ok(rounds
        .into_iter()
        .zip(ceilings)
        .zip(remeasured)
        .map(|((rounds, ceilings), remeasured)| {
            let mut median = median_round(rounds);
            median.ceiling_round_rates = ceilings;
            median.remeasured = remeasured;
            median
        })
        .collect())
}

/// A pass's order ([`pass_order`]) cut into its groups: a row and the rows that follow it.
fn groups(order: &[(usize, bool)]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &(i, starts_group) in order {
        match groups.last_mut() {
            Some(group) if !starts_group => group.push(i),
            _ => groups.push(vec![i]),
        }
    }
    groups
}

/// The rows' indices in the order `pass` (from 1) runs them, each with whether it starts
/// a group (a row and those that follow it, [`Row::follows_previous`]) and so gets a
/// ceiling round of its own. A group runs in the given order on odd passes and reversed on
/// even ones. Why: the second row of a pair always ran on a machine the first had just
/// warmed and on a store the first had just grown; alternating the order puts each row
/// second in half the passes, so that neither place is counted for one row only.
fn pass_order(workloads: &[Row], pass: usize) -> Vec<(usize, bool)> {
    let mut order = Vec::with_capacity(workloads.len());
    let mut start = 0;
    while start < workloads.len() {
        let end = (start + 1..workloads.len())
            .find(|&i| !workloads[i].follows_previous)
            .unwrap_or(workloads.len());
        let mut group: Vec<usize> = (start..end).collect();
        if pass.is_multiple_of(2) {
            group.reverse();
        }
        order.extend(group.into_iter().enumerate().map(|(k, i)| (i, k == 0)));
        start = end;
    }
    order
}

/// The round with the median rate (the upper one of an even count), carrying every
/// round's rate in the order they ran.
fn median_round(mut rounds: Vec<Stats>) -> Stats {
    let round_rates: Vec<f64> = rounds.iter().map(|r| r.rate).collect();
    rounds.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let mut median = rounds.swap_remove(rounds.len() / 2);
    median.round_rates = round_rates;
    median
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(rate: f64, p99_ms: f64) -> Stats {
        Stats {
            requests: rate as u64,
            errors: 0,
            rate,
            p50_ms: 1.0,
            p99_ms,
            max_ms: p99_ms * 2.0,
            round_rates: Vec::new(),
            ceiling_round_rates: Vec::new(),
            remeasured: 0,
        }
    }

    #[test]
    fn the_median_round_keeps_its_own_latencies_and_every_rate() {
        let m = median_round(vec![
            round(39_000.0, 1.7),
            round(26_000.0, 2.6),
            round(27_000.0, 2.5),
        ]);
        assert_eq!(m.rate, 27_000.0);
        assert_eq!(m.p99_ms, 2.5, "latencies of the same round");
        assert_eq!(
            m.round_rates,
            [39_000.0, 26_000.0, 27_000.0],
            "in the order they ran"
        );
        assert_eq!(median_round(vec![round(5.0, 1.0)]).rate, 5.0);
    }

    #[test]
    fn the_ratio_beside_the_ceiling_is_the_median_of_the_rounds_ratios() {
        let mut s = round(0.0, 1.0);
        assert_eq!(s.ratio_beside_ceiling(), None, "no ceiling rounds");
        s.round_rates = vec![40.0, 30.0, 45.0];
        s.ceiling_round_rates = vec![80.0, 100.0, 50.0];
        assert_eq!(s.ratio_beside_ceiling(), Some(0.5), "0.3, 0.5, 0.9");
    }

    #[test]
    fn paired_rows_swap_places_on_every_other_pass() {
        let row = |follows_previous| Row {
            name: String::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            plan: Plan::get("/", "sk_test_x"),
            follows_previous,
        };
        // create, 50 keys (paired), idempotent, retrieve, list (paired).
        let rows = [row(false), row(true), row(false), row(false), row(true)];
        let odd = [(0, true), (1, false), (2, true), (3, true), (4, false)];
        let even = [(1, true), (0, false), (2, true), (4, true), (3, false)];
        assert_eq!(pass_order(&rows, 1), odd);
        assert_eq!(pass_order(&rows, 2), even);
        assert_eq!(pass_order(&rows, 3), odd);
        assert_eq!(pass_order(&rows[..1], 2), [(0, true)], "a row alone");
    }

    #[test]
    fn a_pass_is_cut_into_its_groups_each_measured_between_two_ceiling_rounds() {
        let order = [(1, true), (0, false), (2, true), (4, true), (3, false)];
        assert_eq!(groups(&order), [vec![1, 0], vec![2], vec![4, 3]]);
        assert_eq!(groups(&[(0, true)]), [vec![0]]);
        assert!(groups(&[]).is_empty());
    }

    #[test]
    fn a_ceiling_that_moved_more_than_a_tenth_across_a_group_has_it_measured_again() {
        assert!(ceiling_held(100_000.0, 100_000.0));
        assert!(ceiling_held(100_000.0, 91_000.0), "9% slower");
        assert!(ceiling_held(91_000.0, 100_000.0), "either way");
        assert!(
            !ceiling_held(134_000.0, 109_000.0),
            "a change of speed (19%)"
        );
        assert!(!ceiling_held(109_000.0, 134_000.0));
    }

    #[test]
    fn a_row_over_another_compares_the_rounds_of_each_pass() {
        // Three passes; the machine ran at half speed in the second (the ceiling too).
        let mut list = round(0.0, 1.0);
        list.round_rates = vec![40.0, 20.0, 36.0];
        list.ceiling_round_rates = vec![100.0, 50.0, 100.0];
        let mut retrieve = round(0.0, 1.0);
        retrieve.round_rates = vec![50.0, 20.0, 45.0];
        retrieve.ceiling_round_rates = vec![100.0, 40.0, 100.0];
        // Per pass: 0.4 / 0.5 = 0.8, 0.4 / 0.5 = 0.8, 0.36 / 0.45 = 0.8.
        let r = list.ratio_over(&retrieve).expect("three passes");
        assert!((r.median - 0.8).abs() < 1e-9, "{r:?}");
        assert_eq!(r.passes.len(), 3);
        assert!(r.passes.iter().all(|x| (x - 0.8).abs() < 1e-9), "{r:?}");
        // Passes keep their order; the median is the middle one.
        list.round_rates = vec![45.0, 10.0, 50.0];
        let r = list.ratio_over(&retrieve).expect("three passes");
        let expect = [0.45 / 0.5, 0.2 / 0.5, 0.5 / 0.45];
        assert!(
            r.passes
                .iter()
                .zip(expect)
                .all(|(x, e)| (x - e).abs() < 1e-9),
            "{r:?}"
        );
        assert!((r.median - 0.9).abs() < 1e-9, "{r:?}");
        assert_eq!(list.ratio_over(&round(1.0, 1.0)), None, "no rounds to pair");
    }
}
