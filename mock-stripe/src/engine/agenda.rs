//! What falls due on an account's clock: delivery attempts and retries, session expiry,
//! bank debits settling. Ordered by due time (ties in scheduling order), so that advancing
//! a virtual clock runs everything in time order.
//!
//! Two containers, merged when popping. Jobs that arrive in due order (every session's
//! expiry, 24 hours after it was made, so almost every job) are appended to a queue in
//! chunks: appending touches the queue's last slot and finding the next due its first.
//! The rest (delivery attempts and retries, settlements, a session's shorter
//! `expires_at`) go into a `BTreeMap`, whose insert walks a path from its root and whose
//! first entry is a walk down its left side: with 50 accounts each its own tree, those
//! walks met cold caches on every create (the benchmark's 50-key row, bench/README.md).
//! Neither container ever copies its jobs to grow: a binary heap's vector, doubling,
//! copied all of them under the account's lock (18 ms at half a million jobs).
//!
//! Jobs are plain data. The engine pops the due ones under the account lock and runs them
//! through the step seam (`step.rs`); a job whose object changed meanwhile (a session paid
//! before it expired, a delivery rescheduled) finds nothing to do and is dropped.

use std::collections::{BTreeMap, VecDeque};

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

/// (due time, job number): the order jobs fall due in.
type Due = (i64, u64);

/// Jobs per chunk of [`InOrder`] (48 bytes each).
const CHUNK: usize = 256;

/// Jobs whose `Due` never decreases from front to back, in chunks that never move: the
/// first grows as a `VecDeque` does (an account with three sessions keeps three jobs),
/// later ones are made at their full size.
#[derive(Debug, Default)]
struct InOrder {
    chunks: VecDeque<VecDeque<(Due, Job)>>,
    len: usize,
}

impl InOrder {
    fn front(&self) -> Option<Due> {
        self.chunks.front()?.front().map(|(due, _)| *due)
    }

    fn back(&self) -> Option<Due> {
        self.chunks.back()?.back().map(|(due, _)| *due)
    }

    /// `due` must not be before [`InOrder::back`].
    fn push(&mut self, due: Due, job: Job) {
        let fresh = self.chunks.is_empty();
        match self.chunks.back_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push_back((due, job)),
            _ => {
                let mut chunk = if fresh {
                    VecDeque::new()
                } else {
                    VecDeque::with_capacity(CHUNK)
                };
                chunk.push_back((due, job));
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    fn pop(&mut self) -> Option<(Due, Job)> {
        let first = self.chunks.front_mut()?;
        let popped = first.pop_front();
        if first.is_empty() {
            self.chunks.pop_front();
        }
        self.len -= usize::from(popped.is_some());
        popped
    }

    fn iter(&self) -> impl Iterator<Item = &(Due, Job)> {
        self.chunks.iter().flatten()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Agenda {
    /// The jobs that came in due order (see the module documentation).
    in_order: InOrder,
    /// Every other job; the first entry is its next due.
    timers: BTreeMap<Due, Job>,
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
            .in_order
            .iter()
            .map(|(due, job)| (due, job)) // as (&Due, &Job), which the map's iterator gives
            .chain(&self.timers)
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
        self.in_order = InOrder::default();
        self.timers.clear();
        for (seq, (due_ms, job)) in jobs {
            self.insert((due_ms, seq), job);
        }
    }

    /// Job numbers go on after `seq` (replaying a journal).
    pub fn continue_after(&mut self, seq: u64) {
        self.seq = self.seq.max(seq);
    }

    pub fn issued(&self) -> u64 {
        self.seq
    }

    /// Every scheduled job, in no particular order.
    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.in_order
            .iter()
            .map(|(_, job)| job)
            .chain(self.timers.values())
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
        self.insert((due_ms, self.seq), job);
    }

    fn insert(&mut self, due: Due, job: Job) {
        if self.in_order.back().is_none_or(|last| last <= due) {
            self.in_order.push(due, job);
        } else {
            self.timers.insert(due, job);
        }
    }

    /// The next job's `Due`, and whether it is in the in-order queue.
    fn next(&self) -> Option<(Due, bool)> {
        let queued = self.in_order.front();
        let timer = self.timers.first_key_value().map(|(due, _)| *due);
        match (queued, timer) {
            (Some(q), Some(t)) if t < q => Some((t, false)),
            (Some(q), _) => Some((q, true)),
            (None, t) => t.map(|t| (t, false)),
        }
    }

    /// The earliest due time, if anything is scheduled.
    pub fn next_due(&self) -> Option<i64> {
        self.next().map(|((due_ms, _), _)| due_ms)
    }

    /// The earliest job due at or before `upto_ms`, with its due time.
    pub fn pop_due(&mut self, upto_ms: i64) -> Option<(i64, Job)> {
        let ((due_ms, _), queued) = self.next()?;
        if due_ms > upto_ms {
            return None;
        }
        let ((due_ms, seq), job) = if queued {
            self.in_order.pop()?
        } else {
            self.timers.pop_first()?
        };
        if let Some(c) = &mut self.changes {
            c.push(AgendaChange::Done { seq });
        }
        Some((due_ms, job))
    }

    pub fn len(&self) -> usize {
        self.in_order.len + self.timers.len()
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

    /// Jobs in due order and out of it, popped in between, come out in due order (ties in
    /// scheduling order), as a sorted map of every job gives them; a snapshot rebuilds
    /// the same agenda.
    #[test]
    fn the_queue_and_the_tree_pop_as_one_order() {
        let mut a = Agenda::default();
        let mut model: BTreeMap<Due, Job> = BTreeMap::new();
        // A small linear congruential generator: the same sequence every run.
        let mut state = 7u64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut latest = 0i64;
        let mut both_held = false;
        for round in 0..2_000 {
            // Mostly in order (expiries), now and then earlier (a retry), sometimes tied.
            let due = match next(10) {
                0 => latest - next(500) as i64,
                1 => latest,
                _ => latest + next(50) as i64,
            };
            latest = latest.max(due);
            let job = Job::ExpireSession(format!("cs_{round}"));
            a.schedule(due, job.clone());
            model.insert((due, a.issued()), job);
            if next(4) == 0 {
                let upto = latest - next(300) as i64;
                let mut expected = Vec::new();
                while let Some(entry) = model.first_entry().filter(|e| e.key().0 <= upto) {
                    expected.push((entry.key().0, entry.remove()));
                }
                let popped: Vec<_> = std::iter::from_fn(|| a.pop_due(upto)).collect();
                assert_eq!(popped, expected, "round {round}, up to {upto}");
            }
            assert_eq!(a.len(), model.len());
            assert_eq!(a.next_due(), model.keys().next().map(|d| d.0));
            both_held |= a.in_order.len > 0 && !a.timers.is_empty();
        }
        assert!(both_held, "jobs were held in both containers at once");

        let mut rebuilt = Agenda::default();
        rebuilt.restore(
            a.as_changes()
                .into_iter()
                .map(|c| match c {
                    AgendaChange::Scheduled { seq, due_ms, job } => (seq, (due_ms, job)),
                    AgendaChange::Done { .. } => unreachable!("a snapshot schedules"),
                })
                .collect(),
        );
        let all = |a: &mut Agenda| std::iter::from_fn(|| a.pop_due(i64::MAX)).collect::<Vec<_>>();
        let expected: Vec<_> = model.into_iter().map(|((due, _), j)| (due, j)).collect();
        assert_eq!(all(&mut rebuilt), expected);
        assert_eq!(all(&mut a), expected);
    }

    #[test]
    fn a_chunk_of_the_queue_is_freed_when_it_is_popped_empty() {
        let mut a = Agenda::default();
        for i in 0..(CHUNK as i64 * 3) {
            a.schedule(i, Job::SettleRefund(format!("re_{i}")));
        }
        assert_eq!(a.in_order.chunks.len(), 3);
        assert!(a.timers.is_empty(), "jobs in due order are queued");
        for _ in 0..CHUNK + 1 {
            a.pop_due(i64::MAX);
        }
        assert_eq!(a.in_order.chunks.len(), 2);
        assert_eq!(a.next_due(), Some(CHUNK as i64 + 1));
    }
}
