//! The rollup sender of a child node: pushes its tallies (its own and those rolled up from below) to the
//! parent, while this replica leads: what changed since the last accepted push, and at least every
//! heartbeat so the parent sees how fresh the subtree is. Entries are versioned, so a repeated, late or
//! reordered push changes nothing at the parent; a new leader pushes everything once.
//!
//! ```text
//!  Stopped ──Leading(true)──▶ Loading(since 0) ──Loaded──▶ (Greeting ──▶) Pushing ──Pushed ok──▶ Loading
//!                               ▲        │ nothing new, heartbeat not due                │ failed
//!                               │        ▼                                               ▼
//!                               └── Idle ──Changed──▶ Settling ──settled──┘     Waiting (backoff)
//!                                        └─Changed, quiet since the last push──▶ Loading (at once)
//! ```

use super::{after, Backoff, LinkHealth, LinkTiming};
use crate::Millis;

/// What happened, as the driver reports it. `C` is the driver's cursor into its changes (an apply
/// index, or a position in a push index), ordered, with `C::default()` before every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollupEvent<C = u64> {
    /// A timer set by `Sleep` fired.
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
    /// A tally or a freshness record changed here.
    Changed {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
    },
    /// The answer to `Load`: how many entries changed after `since`, and the cursor they reach.
    Loaded {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// How many entries changed after `since`, at most `max` (0: nothing new).
        entries: usize,
        /// The cursor the loaded entries reach; the next load starts after it once the push is accepted.
        high: C,
    },
    /// The answer to `Greet`.
    Greeted {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// Ok when the parent answered the handshake; the reason it failed otherwise.
        result: Result<(), String>,
    },
    /// The answer to `Push`.
    Pushed {
        /// The driver's clock when it happened (milliseconds since the epoch).
        now: Millis,
        /// Ok when the parent applied the rollup; the reason it failed otherwise.
        result: Result<(), String>,
    },
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollupCommand<C = u64> {
    /// Read up to `max` tally entries changed after cursor `since`; answer with `Loaded`.
    Load {
        /// The cursor up to which the parent has every entry; load what changed after it.
        since: C,
        /// The most entries to load (`LinkTiming::batch`).
        max: usize,
    },
    /// Handshake with the parent; answer with `Greeted`.
    Greet,
    /// Push the loaded entries with the freshness of every part of the subtree; answer with `Pushed`.
    Push,
    /// Nothing to do before `until` (unless a change comes first); then send `Tick`.
    Sleep {
        /// When to send `Tick`, by the driver's clock.
        until: Millis,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase<C> {
    Stopped,
    Loading,
    Idle { heartbeat_at: Millis },
    Settling { until: Millis },
    Greeting { high: C },
    Pushing { high: C },
    Waiting { until: Millis },
}

/// A child's rollup sender.
#[derive(Debug, Clone)]
pub struct RollupSender<C = u64> {
    timing: LinkTiming,
    phase: Phase<C>,
    greeted: bool,
    /// The cursor up to which the parent has every entry.
    pushed: C,
    last_push: Option<Millis>,
    backoff: Backoff,
    health: LinkHealth,
}

impl<C: Clone + Default + Ord> RollupSender<C> {
    /// A sender that waits for `Leading(true)`; `seed` drives the backoff's jitter.
    pub fn new(timing: LinkTiming, seed: u64) -> RollupSender<C> {
        RollupSender {
            timing,
            phase: Phase::Stopped,
            greeted: false,
            pushed: C::default(),
            last_push: None,
            backoff: Backoff::new(timing.settle_ms.max(timing.min_backoff_ms), timing.max_backoff_ms, seed),
            health: LinkHealth::default(),
        }
    }

    /// The parent's reachability as this sender saw it.
    pub fn health(&self) -> &LinkHealth {
        &self.health
    }

    /// The cursor up to which the parent has every entry.
    pub fn pushed(&self) -> &C {
        &self.pushed
    }

    fn load(&mut self) -> Vec<RollupCommand<C>> {
        self.phase = Phase::Loading;
        vec![RollupCommand::Load { since: self.pushed.clone(), max: self.timing.batch }]
    }

    /// `interval` after the last push, measured from now if the clock has gone back since (a push
    /// stamped by a clock hours ahead must not hold the next one back for hours).
    fn after_last_push(&self, now: Millis, interval: u64) -> Millis {
        self.last_push.map_or(now, |t| after(t.min(now), interval))
    }

    fn heartbeat_at(&self, now: Millis) -> Millis {
        self.after_last_push(now, self.timing.heartbeat_ms)
    }

    /// Whether a wait until `until` is over at `now`: reached, or further off than any wait this
    /// sender sets (the clock went back while it slept).
    fn due(&self, until: Millis, now: Millis) -> bool {
        let longest = self.timing.heartbeat_ms.max(self.timing.settle_ms).max(self.timing.max_backoff_ms);
        now >= until || until.saturating_sub(now) as u64 > longest
    }

    fn retry(&mut self, now: Millis) -> Vec<RollupCommand<C>> {
        let until = after(now, self.backoff.next_ms());
        self.phase = Phase::Waiting { until };
        vec![RollupCommand::Sleep { until }]
    }

    /// Takes one event; returns what the driver must do.
    pub fn step(&mut self, event: RollupEvent<C>) -> Vec<RollupCommand<C>> {
        use RollupEvent as E;
        match (self.phase.clone(), event) {
            (_, E::Leading { leading: false, .. }) => {
                self.phase = Phase::Stopped;
                self.greeted = false;
                vec![]
            }
            (Phase::Stopped, E::Leading { leading: true, .. }) => {
                // Whoever leads next pushes everything once.
                self.pushed = C::default();
                self.last_push = None;
                self.backoff.reset();
                self.load()
            }
            (Phase::Stopped, _) | (_, E::Leading { .. }) => vec![],
            (Phase::Loading, E::Loaded { now, entries, high }) => {
                let heartbeat_at = self.heartbeat_at(now);
                if entries == 0 && now < heartbeat_at {
                    self.phase = Phase::Idle { heartbeat_at };
                    return vec![RollupCommand::Sleep { until: heartbeat_at }];
                }
                if self.greeted {
                    self.phase = Phase::Pushing { high };
                    vec![RollupCommand::Push]
                } else {
                    self.phase = Phase::Greeting { high };
                    vec![RollupCommand::Greet]
                }
            }
            (Phase::Idle { .. }, E::Changed { now }) => {
                // The first change after a quiet spell goes up at once (freshness); changes right after
                // a push settle into the next one, at most one push per `settle_ms` (throughput).
                let until = self.after_last_push(now, self.timing.settle_ms);
                if until <= now {
                    return self.load();
                }
                self.phase = Phase::Settling { until };
                vec![RollupCommand::Sleep { until }]
            }
            (Phase::Idle { heartbeat_at }, E::Tick { now }) if self.due(heartbeat_at, now) => self.load(),
            (Phase::Idle { heartbeat_at }, E::Tick { .. }) => {
                vec![RollupCommand::Sleep { until: heartbeat_at }]
            }
            (Phase::Settling { until } | Phase::Waiting { until }, E::Tick { now })
                if self.due(until, now) =>
            {
                self.load()
            }
            (Phase::Settling { until } | Phase::Waiting { until }, E::Tick { .. } | E::Changed { .. }) => {
                vec![RollupCommand::Sleep { until }]
            }
            (Phase::Greeting { high }, E::Greeted { now, result: Ok(()) }) => {
                self.health.success(now);
                self.greeted = true;
                self.phase = Phase::Pushing { high };
                vec![RollupCommand::Push]
            }
            (Phase::Greeting { .. }, E::Greeted { now, result: Err(e) }) => {
                self.health.failure(&format!("handshake: {e}"));
                self.retry(now)
            }
            (Phase::Pushing { high }, E::Pushed { now, result: Ok(()) }) => {
                if high > self.pushed {
                    self.pushed = high;
                }
                self.last_push = Some(now);
                self.health.success(now);
                self.health.last_rollup = Some(now);
                self.backoff.reset();
                self.load()
            }
            (Phase::Pushing { .. }, E::Pushed { now, result: Err(e) }) => {
                self.health.failure(&format!("rollup: {e}"));
                self.greeted = false;
                self.retry(now)
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> RollupSender<u64> {
        RollupSender::new(LinkTiming { settle_ms: 250, heartbeat_ms: 1000, ..LinkTiming::default() }, 3)
    }

    /// The fault storm (seed 1795585062273763805) once left a street's figures stale at the district:
    /// its leader pushed while its clock was 3 h ahead, and once the clock was right again the next
    /// push waited for `last push + settle`, 3 h away.
    #[test]
    fn a_push_stamped_by_a_clock_hours_ahead_does_not_hold_the_next_one_back() {
        const AHEAD: Millis = 3 * 3_600_000;
        let mut r = sender();
        r.step(RollupEvent::Leading { now: AHEAD, leading: true });
        r.step(RollupEvent::Loaded { now: AHEAD, entries: 3, high: 10 });
        r.step(RollupEvent::Greeted { now: AHEAD, result: Ok(()) });
        r.step(RollupEvent::Pushed { now: AHEAD, result: Ok(()) });
        // The clock is put right while the sender idles towards a heartbeat 3 h away: the next tick
        // loads at once, and a change settles for settle_ms at most.
        let cmds = r.step(RollupEvent::Loaded { now: AHEAD, entries: 0, high: 10 });
        assert_eq!(cmds, vec![RollupCommand::Sleep { until: AHEAD + 1000 }]);
        assert_eq!(r.step(RollupEvent::Tick { now: 5 }), vec![RollupCommand::Load { since: 10, max: 256 }]);
        assert_eq!(
            r.step(RollupEvent::Loaded { now: 5, entries: 0, high: 10 }),
            vec![RollupCommand::Sleep { until: 1005 }]
        );
        assert_eq!(r.step(RollupEvent::Changed { now: 6 }), vec![RollupCommand::Sleep { until: 256 }]);
        assert_eq!(r.step(RollupEvent::Tick { now: 256 }), vec![RollupCommand::Load { since: 10, max: 256 }]);
    }

    #[test]
    fn a_new_leader_pushes_everything_then_only_changes() {
        let mut r = sender();
        assert_eq!(
            r.step(RollupEvent::Leading { now: 0, leading: true }),
            vec![RollupCommand::Load { since: 0, max: 256 }]
        );
        assert_eq!(r.step(RollupEvent::Loaded { now: 0, entries: 40, high: 77 }), vec![RollupCommand::Greet]);
        assert_eq!(r.step(RollupEvent::Greeted { now: 1, result: Ok(()) }), vec![RollupCommand::Push]);
        assert_eq!(
            r.step(RollupEvent::Pushed { now: 2, result: Ok(()) }),
            vec![RollupCommand::Load { since: 77, max: 256 }]
        );
        // Nothing new: wait for the heartbeat.
        assert_eq!(
            r.step(RollupEvent::Loaded { now: 2, entries: 0, high: 77 }),
            vec![RollupCommand::Sleep { until: 1002 }]
        );
        // A change right after a push settles until a settle interval has passed since it...
        assert_eq!(r.step(RollupEvent::Changed { now: 100 }), vec![RollupCommand::Sleep { until: 252 }]);
        assert_eq!(r.step(RollupEvent::Tick { now: 252 }), vec![RollupCommand::Load { since: 77, max: 256 }]);
        assert_eq!(r.step(RollupEvent::Loaded { now: 252, entries: 1, high: 80 }), vec![RollupCommand::Push]);
        r.step(RollupEvent::Pushed { now: 351, result: Ok(()) });
        assert_eq!(*r.pushed(), 80);
        // ...while a change after a quiet spell goes up at once.
        r.step(RollupEvent::Loaded { now: 351, entries: 0, high: 80 });
        assert_eq!(
            r.step(RollupEvent::Changed { now: 900 }),
            vec![RollupCommand::Load { since: 80, max: 256 }]
        );
        r.step(RollupEvent::Loaded { now: 900, entries: 1, high: 81 });
        r.step(RollupEvent::Pushed { now: 901, result: Ok(()) });
        // A heartbeat push goes out even with nothing new.
        assert_eq!(
            r.step(RollupEvent::Loaded { now: 902, entries: 0, high: 81 }),
            vec![RollupCommand::Sleep { until: 1901 }]
        );
        r.step(RollupEvent::Tick { now: 1901 });
        assert_eq!(
            r.step(RollupEvent::Loaded { now: 1901, entries: 0, high: 81 }),
            vec![RollupCommand::Push]
        );
    }

    #[test]
    fn a_failed_push_is_retried_from_the_same_point_after_a_handshake() {
        let mut r = sender();
        r.step(RollupEvent::Leading { now: 0, leading: true });
        r.step(RollupEvent::Loaded { now: 0, entries: 5, high: 9 });
        r.step(RollupEvent::Greeted { now: 0, result: Ok(()) });
        let cmds = r.step(RollupEvent::Pushed { now: 10, result: Err("unavailable".into()) });
        let [RollupCommand::Sleep { until }] = cmds[..] else { panic!("{cmds:?}") };
        assert_eq!(*r.pushed(), 0);
        assert_eq!(
            r.step(RollupEvent::Tick { now: until }),
            vec![RollupCommand::Load { since: 0, max: 256 }]
        );
        assert_eq!(
            r.step(RollupEvent::Loaded { now: until, entries: 5, high: 9 }),
            vec![RollupCommand::Greet]
        );
    }
}
