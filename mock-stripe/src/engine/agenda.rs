//! What falls due on an account's clock: delivery attempts and retries, session expiry,
//! bank debits settling. Ordered by due time (ties in scheduling order), so that advancing
//! a virtual clock runs everything in time order.
//!
//! A `BTreeMap`, not a binary heap: every session schedules its expiry, and a heap's
//! vector, doubling, copied all of them under the account's lock (with mimalloc, which
//! copies where glibc moves pages: 18 ms at half a million jobs, 32 ms at a million, and
//! a request waited 89 ms behind one in the benchmark). A B-tree grows by small nodes.
//!
//! Jobs are plain data. The engine pops the due ones under the account lock and runs them
//! through the step seam (`step.rs`); a job whose object changed meanwhile (a session paid
//! before it expired, a delivery rescheduled) finds nothing to do and is dropped.

use std::collections::BTreeMap;

/// Something to do at a given time on the account's clock.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Job {
    /// Attempt delivery `delivery`; `generation` must still match the delivery's, otherwise
    /// the job is stale (the delivery was rescheduled or released since).
    Attempt { delivery: u64, generation: u32 },
    /// `expires_at` of an open session is reached.
    ExpireSession(String),
    /// The bank debit paying this session settles, or fails.
    SettlePayment(String),
    /// The bank debit of this PaymentIntent (direct API) settles, or fails.
    SettlePaymentIntent(String),
    /// This refund settles (a bank debit's) or fails (the test card whose refunds fail).
    SettleRefund(String),
}

#[derive(Debug, Default)]
pub(crate) struct Agenda {
    /// (due time, job number) → job: the first entry is the next due.
    timers: BTreeMap<(i64, u64), Job>,
    seq: u64,
    /// What changed since the journal last took it (`None`: no data directory).
    changes: Option<Vec<AgendaChange>>,
}

/// One change to an agenda, as a data directory's journal records it. Jobs are numbered
/// (`seq`), so replaying a change twice (a snapshot, then the journal it overlaps) ends in
/// the same agenda.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum AgendaChange {
    Scheduled { seq: u64, due_ms: i64, job: Job },
    Done { seq: u64 },
}

impl Agenda {
    /// Remembers changes for the journal.
    pub fn track_changes(&mut self) {
        self.changes = Some(Vec::new());
    }

    pub fn take_changes(&mut self) -> Vec<AgendaChange> {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Every job, as changes that rebuild this agenda (a snapshot).
    pub fn as_changes(&self) -> Vec<AgendaChange> {
        let mut all: Vec<AgendaChange> = self
            .timers
            .iter()
            .map(|(&(due_ms, seq), job)| AgendaChange::Scheduled {
                seq,
                due_ms,
                job: job.clone(),
            })
            .collect();
        all.sort_unstable_by_key(|c| match c {
            AgendaChange::Scheduled { seq, .. } | AgendaChange::Done { seq } => *seq,
        });
        all
    }

    /// Rebuilds the agenda from replayed changes: the jobs still scheduled, by number.
    pub fn restore(&mut self, jobs: BTreeMap<u64, (i64, Job)>) {
        self.seq = self.seq.max(jobs.keys().next_back().copied().unwrap_or(0));
        self.timers = jobs
            .into_iter()
            .map(|(seq, (due_ms, job))| ((due_ms, seq), job))
            .collect();
    }

    /// Job numbers go on after `seq` (replaying a journal).
    pub fn continue_after(&mut self, seq: u64) {
        self.seq = self.seq.max(seq);
    }

    pub fn issued(&self) -> u64 {
        self.seq
    }

    /// Every scheduled job, the next due first.
    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.timers.values()
    }

    pub fn schedule(&mut self, due_ms: i64, job: Job) {
        self.seq += 1;
        if let Some(c) = &mut self.changes {
            c.push(AgendaChange::Scheduled {
                seq: self.seq,
                due_ms,
                job: job.clone(),
            });
        }
        self.timers.insert((due_ms, self.seq), job);
    }

    /// The earliest due time, if anything is scheduled.
    pub fn next_due(&self) -> Option<i64> {
        self.timers
            .first_key_value()
            .map(|(&(due_ms, _), _)| due_ms)
    }

    /// The earliest job due at or before `upto_ms`, with its due time.
    pub fn pop_due(&mut self, upto_ms: i64) -> Option<(i64, Job)> {
        if self.next_due()? > upto_ms {
            return None;
        }
        let ((due_ms, seq), job) = self.timers.pop_first()?;
        if let Some(c) = &mut self.changes {
            c.push(AgendaChange::Done { seq });
        }
        Some((due_ms, job))
    }

    pub fn len(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_then_scheduling_order() {
        let mut a = Agenda::default();
        a.schedule(30, Job::ExpireSession("c".into()));
        a.schedule(10, Job::ExpireSession("a".into()));
        a.schedule(10, Job::ExpireSession("b".into()));
        assert_eq!(a.next_due(), Some(10));
        assert_eq!(a.pop_due(5), None, "nothing is due yet");
        let names: Vec<_> = std::iter::from_fn(|| a.pop_due(100))
            .map(|(_, j)| match j {
                Job::ExpireSession(s) => s,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(a.len(), 0);
    }
}
