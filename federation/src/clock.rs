//! Whether this replica's clock agrees with its peers': offsets measured against the other replicas
//! of the node (and, for a node of one replica, its neighbour nodes), their median, and a verdict
//! against a bound. Deadlines and supervision are stamped by one replica's clock, so a replica whose
//! clock is off must not lead or supervise; this decides when that is, from samples the node takes.
//!
//! A sample is taken by asking a peer its time: sent at `t0`, answered `peer_now`, received at `t1`
//! (all on the respective clocks). Assuming the answer was read halfway, the peer's offset from us is
//! `peer_now - (t0 + t1) / 2`, uncertain by `(t1 - t0) / 2`.

use std::collections::BTreeMap;

use crate::Millis;

/// Samples whose round trip took longer than this are too uncertain to use.
pub const MAX_RTT_MS: Millis = 1_000;

/// One peer's latest offset from this replica's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    offset: Millis,
    taken_at: Millis,
}

/// What the samples say of this replica's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No usable sample: nothing to compare with.
    Unknown,
    /// This clock is within the bound of the peers' median; `offset` is ours from theirs.
    Within {
        /// Our offset from the median, in milliseconds (positive: ahead); at most the bound.
        offset: Millis,
    },
    /// This clock is off by `offset` (positive: ahead) from the peers' median, beyond the bound.
    Off {
        /// Our offset from the median, in milliseconds (positive: ahead); beyond the bound.
        offset: Millis,
    },
    /// No majority either way: as many peers disagree with this clock beyond the bound as agree with
    /// it (one peer against us, say). `offset` is ours from the disagreeing side. Not enough to stop
    /// leading, but a decision that rests on the clock (supervision) waits.
    Disputed {
        /// Our offset from the disagreeing middle voice, in milliseconds (positive: ahead).
        offset: Millis,
    },
}

/// Offsets of peers' clocks from this replica's.
#[derive(Debug, Clone, Default)]
pub struct SkewEstimator {
    samples: BTreeMap<String, Sample>,
}

impl SkewEstimator {
    /// An estimator with no samples.
    pub fn new() -> SkewEstimator {
        SkewEstimator::default()
    }

    /// Records `peer`'s answer `peer_now` to a question sent at `t0` and answered at `t1`. Returns
    /// false (and keeps nothing) when the round trip was too slow to be trusted.
    pub fn sample(&mut self, peer: &str, t0: Millis, t1: Millis, peer_now: Millis) -> bool {
        if t1 < t0 || t1 - t0 > MAX_RTT_MS {
            return false;
        }
        let offset = peer_now - (t0 + (t1 - t0) / 2);
        self.samples.insert(peer.to_string(), Sample { offset, taken_at: t1 });
        true
    }

    /// Forgets `peer` (it left the node).
    pub fn forget(&mut self, peer: &str) {
        self.samples.remove(peer);
    }

    /// The verdict at `now` over samples younger than `max_age`: this replica counts as one voice
    /// (offset zero) among its peers, and its clock is off when the median of all voices is further
    /// than `bound` from it.
    pub fn verdict(&self, now: Millis, max_age: Millis, bound: Millis) -> Verdict {
        let mut voices: Vec<Millis> =
            self.samples.values().filter(|s| now - s.taken_at <= max_age).map(|s| s.offset).collect();
        if voices.is_empty() {
            return Verdict::Unknown;
        }
        voices.push(0);
        voices.sort_unstable();
        // With an even number of voices (us and one peer, say) the two middle ones may disagree: then
        // nobody has a majority, and we do not call ourselves off, only disputed.
        let (median, other) = if voices.len().is_multiple_of(2) {
            let (a, b) = (voices[voices.len() / 2 - 1], voices[voices.len() / 2]);
            if a.abs() <= b.abs() {
                (a, b)
            } else {
                (b, a)
            }
        } else {
            (voices[voices.len() / 2], voices[voices.len() / 2])
        };
        // Our offset from the others is the negation of theirs from us.
        let offset = -median;
        if offset.abs() > bound {
            Verdict::Off { offset }
        } else if other.abs() > bound {
            Verdict::Disputed { offset: -other }
        } else {
            Verdict::Within { offset }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Millis = 3_600_000;

    #[test]
    fn a_replica_three_hours_fast_is_off_and_its_peers_are_not() {
        // Replica A is 3 h fast: both peers are 3 h behind it.
        let mut a = SkewEstimator::new();
        assert!(a.sample("b", 10 * H, 10 * H + 4, 7 * H + 2));
        assert!(a.sample("c", 10 * H, 10 * H + 6, 7 * H + 3));
        assert_eq!(a.verdict(10 * H + 10, 60_000, 2_000), Verdict::Off { offset: 3 * H });
        // Replica B sees A 3 h ahead and C in step: the median is B's own time.
        let mut b = SkewEstimator::new();
        b.sample("a", 7 * H, 7 * H + 4, 10 * H + 2);
        b.sample("c", 7 * H, 7 * H + 4, 7 * H + 2);
        assert_eq!(b.verdict(7 * H + 10, 60_000, 2_000), Verdict::Within { offset: 0 });
    }

    #[test]
    fn slow_or_stale_samples_are_not_trusted_and_a_tie_is_not_a_verdict() {
        let mut e = SkewEstimator::new();
        assert!(!e.sample("b", 0, MAX_RTT_MS + 1, 5 * H));
        assert_eq!(e.verdict(10, 60_000, 2_000), Verdict::Unknown);
        e.sample("b", 0, 10, 5 * H);
        // One peer against us: nobody has a majority.
        assert_eq!(e.verdict(10, 60_000, 2_000), Verdict::Disputed { offset: -(5 * H - 5) });
        assert_eq!(e.verdict(10 + 60_001, 60_000, 2_000), Verdict::Unknown);
    }

    #[test]
    fn round_trip_time_is_taken_out_of_the_offset() {
        let mut e = SkewEstimator::new();
        e.sample("b", 1_000, 1_200, 1_100);
        e.sample("c", 1_000, 1_200, 1_100);
        assert_eq!(e.verdict(1_200, 60_000, 50), Verdict::Within { offset: 0 });
    }
}
