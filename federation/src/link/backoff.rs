//! Exponential backoff with jitter, deterministic from a seed so the simulation replays.

/// Retry delays: doubling from `min` up to `max`, each cut by up to a quarter at random.
#[derive(Debug, Clone)]
pub struct Backoff {
    min_ms: u64,
    max_ms: u64,
    current_ms: u64,
    rng: u64,
}

impl Backoff {
    /// Delays from `min_ms` to `max_ms`; `seed` drives the jitter.
    pub fn new(min_ms: u64, max_ms: u64, seed: u64) -> Backoff {
        let min_ms = min_ms.max(1);
        Backoff { min_ms, max_ms: max_ms.max(min_ms), current_ms: min_ms, rng: seed | 1 }
    }

    /// Back to the shortest delay (after a success).
    pub fn reset(&mut self) {
        self.current_ms = self.min_ms;
    }

    /// The next delay, in milliseconds.
    pub fn next_ms(&mut self) -> u64 {
        let base = self.current_ms;
        self.current_ms = (self.current_ms.saturating_mul(2)).min(self.max_ms);
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        base - self.rng % (base / 4 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_with_bounded_jitter_and_resets() {
        let mut b = Backoff::new(100, 1000, 7);
        let d: Vec<u64> = (0..6).map(|_| b.next_ms()).collect();
        for (got, base) in d.iter().zip([100u64, 200, 400, 800, 1000, 1000]) {
            assert!(*got <= base && *got >= base - base / 4, "{d:?}");
        }
        b.reset();
        assert!(b.next_ms() <= 100);
    }
}
