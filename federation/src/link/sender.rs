//! The sender side of one link's outbox: drains the node's replicated outbox for one neighbour, in
//! order, one delivery at a time, while this replica leads.
//!
//! ```text
//!  Stopped ──Leading(true)──▶ Loading ──Loaded──▶ (Greeting ──Greeted ok──▶) Delivering
//!                              ▲   │ empty                                      │ applied ≥ first
//!                              │   ▼                                            ▼
//!                              │  Idle ──probe due──▶ Probing ──▶ Idle        Acking ──Acked──▶ Loading
//!                              │   │ outbox changed                             │
//!                              └───┴──────────── Waiting (backoff) ◀── any failure, or a gap
//! ```
//! A delivery that fails, or that the receiver answers with a high-water mark below the batch (it misses
//! earlier messages), is retried after a backoff; the receiver applies each sequence number once, so a
//! retry never doubles anything. The acknowledgement is itself committed by the driver (`Ack`), so a
//! new leader resumes from the outbox as the old one left it.
//!
//! A node restored from a backup may give sequence numbers its neighbour has already applied (from the
//! node as it was before it was lost): they would be skipped as resends. So a link the store marks as
//! restored first asks the neighbour's high-water mark (`AskApplied`: an empty delivery) and has its
//! queue renumbered above it (`Resequence`, a replicated command) before it sends anything; and a
//! neighbour that answers any delivery with more than this node ever numbered (`applied >= next`) has
//! the link resequenced the same way.
//!
//! ```text
//!  Loading ──Loaded(resync)──▶ Asking ──Applied(h)──▶ Resequencing ──Resequenced──▶ Loading
//!  Delivering ──Delivered(applied ≥ next)──▶ Resequencing
//! ```

use super::{after, Backoff, LinkHealth, LinkTiming};
use crate::Millis;

/// What happened, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendEvent {
    /// A timer set by `Sleep` fired (or the driver woke for another reason).
    Tick {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
    },
    /// This replica started or stopped leading its node.
    Leading {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// True when this replica became leader, false when it stopped leading.
        leading: bool,
    },
    /// The state machine queued a message for this link.
    OutboxChanged {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
    },
    /// The answer to `Load`: the queued sequence numbers `first..=last`, or none; the next sequence
    /// number the link gives; whether the store marks the link as restored (to resequence first).
    Loaded {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// The first and last queued sequence numbers loaded; None when nothing is queued.
        range: Option<(u64, u64)>,
        /// The sequence number the link will give the next queued message.
        next: u64,
        /// The store marks the link restored from a backup: ask and resequence before sending.
        resync: bool,
    },
    /// The answer to `Greet`.
    Greeted {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// Ok when the neighbour answered the handshake; the reason it failed otherwise.
        result: Result<(), String>,
    },
    /// The answer to `Deliver`: the receiver's high-water mark for this link.
    Delivered {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// The highest sequence number the receiver has applied on this link, or why the delivery failed.
        result: Result<u64, String>,
    },
    /// The answer to `Ack`: the acknowledgement was committed, or not.
    Acked {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// Ok when the `Acked` command was committed; the reason otherwise.
        result: Result<(), String>,
    },
    /// The answer to `AskApplied`: the neighbour's high-water mark for this link.
    Applied {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// The highest sequence number the neighbour has applied on this link, or why it could not be asked.
        result: Result<u64, String>,
    },
    /// The answer to `Resequence`: the renumbering was committed, or not.
    Resequenced {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// Ok when the `Resequence` command was committed; the reason otherwise.
        result: Result<(), String>,
    },
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendCommand {
    /// Read up to `max` queued messages, in order; answer with `Loaded`.
    Load {
        /// The most messages to load (`LinkTiming::batch`).
        max: usize,
    },
    /// Handshake with the neighbour (who are you?); answer with `Greeted`.
    Greet,
    /// Send the loaded messages `first..=last`; answer with `Delivered`.
    Deliver {
        /// The first sequence number of the batch.
        first: u64,
        /// The last sequence number of the batch, inclusive.
        last: u64,
    },
    /// Commit that the neighbour applied everything up to `upto`; answer with `Acked`.
    Ack {
        /// The highest sequence number the neighbour applied within the batch; messages up to it leave the
        /// outbox.
        upto: u64,
    },
    /// Nothing to do before `until` (unless another event comes first); then send `Tick`.
    Sleep {
        /// When to send `Tick`, by the driver's clock.
        until: Millis,
    },
    /// Ask the neighbour's high-water mark for this link (an empty delivery); answer with `Applied`.
    AskApplied,
    /// Commit that the link's queue is renumbered above `applied`; answer with `Resequenced`.
    Resequence {
        /// The neighbour's high-water mark; queued messages are numbered again from `applied + 1`.
        applied: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Stopped,
    Loading,
    Idle { probe_at: Millis },
    Probing,
    Greeting { first: u64, last: u64 },
    Delivering { first: u64, last: u64 },
    Acking,
    Waiting { until: Millis },
    Asking,
    Resequencing,
}

/// One link's outbox sender.
#[derive(Debug, Clone)]
pub struct OutboxSender {
    timing: LinkTiming,
    phase: Phase,
    greeted: bool,
    backoff: Backoff,
    health: LinkHealth,
    /// The next sequence number the link gives, as last loaded.
    next: u64,
}

impl OutboxSender {
    /// A sender that waits for `Leading(true)`; `seed` drives the backoff's jitter.
    pub fn new(timing: LinkTiming, seed: u64) -> OutboxSender {
        OutboxSender {
            timing,
            phase: Phase::Stopped,
            greeted: false,
            backoff: Backoff::new(timing.min_backoff_ms, timing.max_backoff_ms, seed),
            health: LinkHealth::default(),
            next: 1,
        }
    }

    /// The neighbour's reachability as this sender saw it.
    pub fn health(&self) -> &LinkHealth {
        &self.health
    }

    /// True while this sender is waiting for the answer to a command it gave.
    pub fn busy(&self) -> bool {
        matches!(
            self.phase,
            Phase::Loading
                | Phase::Probing
                | Phase::Greeting { .. }
                | Phase::Delivering { .. }
                | Phase::Acking
                | Phase::Asking
                | Phase::Resequencing
        )
    }

    fn load(&mut self) -> Vec<SendCommand> {
        self.phase = Phase::Loading;
        vec![SendCommand::Load { max: self.timing.batch }]
    }

    /// Whether a wait until `until` is over at `now`: reached, or further off than any wait this
    /// sender sets (the clock went back while it slept, e.g. a clock hours ahead put right).
    fn due(&self, until: Millis, now: Millis) -> bool {
        let longest = self.timing.probe_ms.max(self.timing.max_backoff_ms);
        now >= until || until.saturating_sub(now) as u64 > longest
    }

    fn retry(&mut self, now: Millis) -> Vec<SendCommand> {
        let until = after(now, self.backoff.next_ms());
        self.phase = Phase::Waiting { until };
        vec![SendCommand::Sleep { until }]
    }

    fn idle(&mut self, now: Millis) -> Vec<SendCommand> {
        let probe_at = after(now, self.timing.probe_ms);
        self.phase = Phase::Idle { probe_at };
        vec![SendCommand::Sleep { until: probe_at }]
    }

    /// Takes one event; returns what the driver must do.
    pub fn step(&mut self, event: SendEvent) -> Vec<SendCommand> {
        use SendEvent as E;
        match (self.phase.clone(), event) {
            (_, E::Leading { leading: false, .. }) => {
                self.phase = Phase::Stopped;
                self.greeted = false;
                vec![]
            }
            (Phase::Stopped, E::Leading { leading: true, .. }) => {
                self.backoff.reset();
                self.load()
            }
            (Phase::Stopped, _) => vec![],
            (_, E::Leading { leading: true, .. }) => vec![],
            (Phase::Loading, E::Loaded { next, resync: true, .. }) => {
                self.next = next;
                self.phase = Phase::Asking;
                vec![SendCommand::AskApplied]
            }
            (Phase::Loading, E::Loaded { now, range: None, next, .. }) => {
                self.next = next;
                self.idle(now)
            }
            (Phase::Loading, E::Loaded { range: Some((first, last)), next, .. }) if !self.greeted => {
                self.next = next;
                self.phase = Phase::Greeting { first, last };
                vec![SendCommand::Greet]
            }
            (Phase::Loading, E::Loaded { range: Some((first, last)), next, .. }) => {
                self.next = next;
                self.phase = Phase::Delivering { first, last };
                vec![SendCommand::Deliver { first, last }]
            }
            (Phase::Asking, E::Applied { now, result: Ok(applied) }) => {
                self.health.success(now);
                self.phase = Phase::Resequencing;
                vec![SendCommand::Resequence { applied }]
            }
            (Phase::Asking, E::Applied { now, result: Err(e) }) => {
                self.health.failure(&e);
                self.retry(now)
            }
            (Phase::Resequencing, E::Resequenced { result: Ok(()), .. }) => self.load(),
            (Phase::Resequencing, E::Resequenced { now, result: Err(_) }) => self.retry(now),
            (Phase::Idle { .. }, E::OutboxChanged { .. }) => self.load(),
            (Phase::Idle { probe_at }, E::Tick { now }) if self.due(probe_at, now) => {
                self.phase = Phase::Probing;
                vec![SendCommand::Greet]
            }
            (Phase::Idle { probe_at }, E::Tick { .. }) => vec![SendCommand::Sleep { until: probe_at }],
            (Phase::Probing, E::Greeted { now, result }) => {
                match result {
                    Ok(()) => {
                        self.health.success(now);
                        self.greeted = true;
                    }
                    Err(e) => {
                        self.health.failure(&e);
                        self.greeted = false;
                    }
                }
                // Whatever was queued meanwhile is picked up now.
                self.load()
            }
            (Phase::Greeting { first, last }, E::Greeted { now, result: Ok(()) }) => {
                self.health.success(now);
                self.greeted = true;
                self.phase = Phase::Delivering { first, last };
                vec![SendCommand::Deliver { first, last }]
            }
            (Phase::Greeting { .. }, E::Greeted { now, result: Err(e) }) => {
                self.health.failure(&format!("handshake: {e}"));
                self.retry(now)
            }
            (Phase::Delivering { first, last }, E::Delivered { now, result: Ok(applied) }) => {
                self.health.success(now);
                self.backoff.reset();
                if applied >= self.next {
                    // The neighbour applied more than this node ever numbered: it was rolled back.
                    self.phase = Phase::Resequencing;
                    vec![SendCommand::Resequence { applied }]
                } else if applied >= first {
                    self.phase = Phase::Acking;
                    vec![SendCommand::Ack { upto: applied.min(last) }]
                } else {
                    // The receiver misses messages before this batch: a gap it waits for; resend.
                    self.retry(now)
                }
            }
            (Phase::Delivering { .. }, E::Delivered { now, result: Err(e) }) => {
                self.health.failure(&e);
                self.greeted = false;
                self.retry(now)
            }
            (Phase::Acking, E::Acked { result: Ok(()), .. }) => self.load(),
            (Phase::Acking, E::Acked { now, result: Err(_) }) => self.retry(now),
            (Phase::Waiting { until }, E::Tick { now }) if self.due(until, now) => self.load(),
            (Phase::Waiting { until }, _) => vec![SendCommand::Sleep { until }],
            // Answers that do not belong to the current phase, and changes while busy, are dropped:
            // the next load sees the outbox as it is then.
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Health;

    fn sender() -> OutboxSender {
        OutboxSender::new(
            LinkTiming { min_backoff_ms: 100, max_backoff_ms: 1000, probe_ms: 5000, ..LinkTiming::default() },
            1,
        )
    }

    #[test]
    fn a_batch_is_greeted_delivered_acknowledged_then_the_outbox_reloaded() {
        let mut s = sender();
        assert_eq!(
            s.step(SendEvent::Leading { now: 0, leading: true }),
            vec![SendCommand::Load { max: 256 }]
        );
        assert_eq!(
            s.step(SendEvent::Loaded { now: 0, range: Some((4, 9)), next: 100, resync: false }),
            vec![SendCommand::Greet]
        );
        assert_eq!(
            s.step(SendEvent::Greeted { now: 1, result: Ok(()) }),
            vec![SendCommand::Deliver { first: 4, last: 9 }]
        );
        // The receiver had already applied up to 12 (a resend after a lost acknowledgement): ack 9.
        assert_eq!(
            s.step(SendEvent::Delivered { now: 2, result: Ok(12) }),
            vec![SendCommand::Ack { upto: 9 }]
        );
        assert_eq!(s.step(SendEvent::Acked { now: 3, result: Ok(()) }), vec![SendCommand::Load { max: 256 }]);
        // Greeted once per leadership: the next batch goes straight out.
        assert_eq!(
            s.step(SendEvent::Loaded { now: 3, range: Some((10, 10)), next: 100, resync: false }),
            vec![SendCommand::Deliver { first: 10, last: 10 }]
        );
        assert_eq!(s.health().health, Health::Up);
    }

    #[test]
    fn failures_back_off_and_a_gap_is_resent() {
        let mut s = sender();
        s.step(SendEvent::Leading { now: 0, leading: true });
        s.step(SendEvent::Loaded { now: 0, range: Some((1, 3)), next: 100, resync: false });
        let cmds = s.step(SendEvent::Greeted { now: 10, result: Err("connection refused".into()) });
        let [SendCommand::Sleep { until }] = cmds[..] else { panic!("{cmds:?}") };
        assert!((85..=110).contains(&until), "{until}");
        assert_eq!(s.health().health, Health::Down);
        assert!(s.health().last_error.contains("connection refused"));
        // Changes while waiting do not cut the backoff short.
        assert_eq!(s.step(SendEvent::OutboxChanged { now: 20 }), vec![SendCommand::Sleep { until }]);
        assert_eq!(s.step(SendEvent::Tick { now: until }), vec![SendCommand::Load { max: 256 }]);
        s.step(SendEvent::Loaded { now: until, range: Some((1, 3)), next: 100, resync: false });
        s.step(SendEvent::Greeted { now: until, result: Ok(()) });
        // The receiver is at 0 but we start at 1? No: it is behind our first message (a gap).
        let cmds = s.step(SendEvent::Delivered { now: until + 1, result: Ok(0) });
        assert!(matches!(cmds[..], [SendCommand::Sleep { .. }]), "{cmds:?}");
    }

    #[test]
    fn an_idle_link_is_probed_so_up_means_reachable_now() {
        let mut s = sender();
        s.step(SendEvent::Leading { now: 0, leading: true });
        assert_eq!(s.health().health, Health::Never);
        assert_eq!(
            s.step(SendEvent::Loaded { now: 0, range: None, next: 100, resync: false }),
            vec![SendCommand::Sleep { until: 5000 }]
        );
        assert_eq!(s.step(SendEvent::Tick { now: 5000 }), vec![SendCommand::Greet]);
        s.step(SendEvent::Greeted { now: 5001, result: Ok(()) });
        assert_eq!(s.health().health, Health::Up);
        assert_eq!(s.health().last_success, Some(5001));
        // A probe that fails marks the idle link down.
        s.step(SendEvent::Loaded { now: 5001, range: None, next: 100, resync: false });
        s.step(SendEvent::Tick { now: 10_001 });
        s.step(SendEvent::Greeted { now: 10_002, result: Err("timeout".into()) });
        assert_eq!(s.health().health, Health::Down);
    }

    #[test]
    fn losing_leadership_stops_and_drops_late_answers() {
        let mut s = sender();
        s.step(SendEvent::Leading { now: 0, leading: true });
        s.step(SendEvent::Loaded { now: 0, range: Some((1, 1)), next: 100, resync: false });
        assert_eq!(s.step(SendEvent::Leading { now: 1, leading: false }), vec![]);
        assert_eq!(s.step(SendEvent::Greeted { now: 2, result: Ok(()) }), vec![]);
        assert_eq!(s.step(SendEvent::OutboxChanged { now: 3 }), vec![]);
        assert!(!s.busy());
        // Leading again starts over with a handshake.
        s.step(SendEvent::Leading { now: 4, leading: true });
        assert_eq!(
            s.step(SendEvent::Loaded { now: 4, range: Some((1, 1)), next: 100, resync: false }),
            vec![SendCommand::Greet]
        );
    }

    #[test]
    fn a_restored_link_is_resequenced_before_it_sends() {
        let mut s = sender();
        s.step(SendEvent::Leading { now: 0, leading: true });
        assert_eq!(
            s.step(SendEvent::Loaded { now: 0, range: Some((9, 12)), next: 13, resync: true }),
            vec![SendCommand::AskApplied]
        );
        assert!(s.busy());
        assert_eq!(
            s.step(SendEvent::Applied { now: 1, result: Ok(15) }),
            vec![SendCommand::Resequence { applied: 15 }]
        );
        assert_eq!(
            s.step(SendEvent::Resequenced { now: 2, result: Ok(()) }),
            vec![SendCommand::Load { max: 256 }]
        );
        // Renumbered 16..=19: delivered as usual.
        s.step(SendEvent::Loaded { now: 2, range: Some((16, 19)), next: 20, resync: false });
        assert_eq!(
            s.step(SendEvent::Greeted { now: 3, result: Ok(()) }),
            vec![SendCommand::Deliver { first: 16, last: 19 }]
        );
        // A failed question is asked again after a backoff.
        let mut s = sender();
        s.step(SendEvent::Leading { now: 0, leading: true });
        s.step(SendEvent::Loaded { now: 0, range: None, next: 1, resync: true });
        let cmds = s.step(SendEvent::Applied { now: 5, result: Err("unreachable".into()) });
        assert!(matches!(cmds[..], [SendCommand::Sleep { .. }]), "{cmds:?}");
    }

    #[test]
    fn a_neighbour_ahead_of_everything_numbered_has_the_link_resequenced() {
        let mut s = sender();
        s.step(SendEvent::Leading { now: 0, leading: true });
        s.step(SendEvent::Loaded { now: 0, range: Some((4, 5)), next: 6, resync: false });
        s.step(SendEvent::Greeted { now: 1, result: Ok(()) });
        // Applied 9 > anything this node gave (up to 5): messages 4 and 5 would be skipped as resends.
        assert_eq!(
            s.step(SendEvent::Delivered { now: 2, result: Ok(9) }),
            vec![SendCommand::Resequence { applied: 9 }]
        );
        // An ordinary resend (applied within what was numbered) is acknowledged as before.
        let mut s = sender();
        s.step(SendEvent::Leading { now: 0, leading: true });
        s.step(SendEvent::Loaded { now: 0, range: Some((4, 5)), next: 6, resync: false });
        s.step(SendEvent::Greeted { now: 1, result: Ok(()) });
        assert_eq!(
            s.step(SendEvent::Delivered { now: 2, result: Ok(5) }),
            vec![SendCommand::Ack { upto: 5 }]
        );
    }
}
