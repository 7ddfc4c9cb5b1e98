//! Refusing replayed scans of a door's QR code.
//!
//! The code at a door never changes, so "the same token twice" is what every honest visit looks like.
//! A replay is defined on the scan instead: the worker's phone posts the token with a fresh random
//! nonce (16 to 64 of `A-Z a-z 0-9 _ -`) and the time it scanned, and
//!
//! - a scan whose (household, nonce) was admitted before is a replay, refused: a retried upload or a
//!   copied request counts once;
//! - a scan taken more than `max_age` before the node receives it is stale, refused (24 h by default:
//!   a phone without signal in a basement uploads later that day, a screenshot sent next week does
//!   not); one from the future beyond `max_skew` is refused too;
//! - a token older than its validity is refused by `token`.
//!
//! A nonce is remembered only as long as its scan could still be fresh (`max_age` after the scan), so
//! the guard stays small: pruning forgets exactly what the age check would refuse anyway. Every
//! decision uses the node's (leader's) clock passed in, so replicas agree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::household::HouseholdId;
use crate::Millis;

/// How long after it was taken a scan is accepted, by default.
pub const DEFAULT_MAX_AGE_MS: Millis = 24 * 3_600_000;
/// How far in the future a scan's time may be, by default (phone clocks).
pub const DEFAULT_MAX_SKEW_MS: Millis = 5 * 60_000;

/// How scans are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPolicy {
    /// Oldest acceptable scan, by its age when received.
    pub max_age_ms: Millis,
    /// Furthest a scan's time may be ahead of the node's.
    pub max_skew_ms: Millis,
    /// How long a printed code stays valid (see `token`).
    pub validity_ms: Millis,
}

impl Default for ScanPolicy {
    fn default() -> Self {
        ScanPolicy {
            max_age_ms: DEFAULT_MAX_AGE_MS,
            max_skew_ms: DEFAULT_MAX_SKEW_MS,
            validity_ms: super::token::DEFAULT_VALIDITY_MS,
        }
    }
}

/// A scan as the worker's phone posts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    /// The token read from the QR code.
    pub token: String,
    /// A fresh random value of this scan.
    pub nonce: String,
    /// When the phone scanned it.
    pub scanned_at: Millis,
}

/// Why a scan was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The nonce is not 16 to 64 URL-safe characters.
    #[error("nonce: {nonce:?} is not a scan nonce: 16 to 64 of A-Z a-z 0-9 _ -")]
    BadNonce {
        /// The nonce as sent, cut to 80 characters.
        nonce: String,
    },
    /// The scan is dated after the node's time.
    #[error("scanned_at: {scanned_at} is after the node's time {now}; check the phone's clock")]
    Future {
        /// When the phone says it scanned.
        scanned_at: Millis,
        /// The node's time (the leader's clock).
        now: Millis,
    },
    /// The scan is too old.
    #[error("scanned_at: {scanned_at} is more than {max_age_ms} ms before {now}; scan the code again")]
    Stale {
        /// When the phone says it scanned.
        scanned_at: Millis,
        /// The node's time (the leader's clock).
        now: Millis,
        /// The oldest scan accepted, in milliseconds (`ScanPolicy::max_age_ms`, 24 h by default).
        max_age_ms: Millis,
    },
    /// This very scan was admitted before.
    #[error("nonce: this scan of {household} was already checked in (scanned at {scanned_at}); a replay")]
    Replayed {
        /// The household scanned.
        household: HouseholdId,
        /// When the admitted scan was made.
        scanned_at: Millis,
    },
}

/// The scans admitted recently, by household and nonce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayGuard {
    /// `"{household} {nonce}"` → when it was scanned.
    seen: BTreeMap<String, Millis>,
}

impl ReplayGuard {
    /// Admits a scan of `household` with `nonce` taken at `scanned_at`, received at `now`; refuses a
    /// bad nonce, a scan from the future or too old, and a replay. Forgets what has gone stale.
    pub fn admit(
        &mut self,
        household: &HouseholdId,
        nonce: &str,
        scanned_at: Millis,
        now: Millis,
        policy: &ScanPolicy,
    ) -> Result<(), ReplayError> {
        let ok = (16..=64).contains(&nonce.len())
            && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(ReplayError::BadNonce { nonce: nonce.chars().take(80).collect() });
        }
        if scanned_at > now + policy.max_skew_ms {
            return Err(ReplayError::Future { scanned_at, now });
        }
        if now - scanned_at > policy.max_age_ms {
            return Err(ReplayError::Stale { scanned_at, now, max_age_ms: policy.max_age_ms });
        }
        self.prune(now, policy);
        let key = format!("{household} {nonce}");
        if let Some(&first) = self.seen.get(&key) {
            return Err(ReplayError::Replayed { household: household.clone(), scanned_at: first });
        }
        self.seen.insert(key, scanned_at);
        Ok(())
    }

    /// Forgets scans that could only come back stale.
    pub fn prune(&mut self, now: Millis, policy: &ScanPolicy) {
        self.seen.retain(|_, &mut at| now - at <= policy.max_age_ms);
    }

    /// How many scans are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Millis = 3_600_000;
    const T: Millis = 1_764_028_800_000;

    #[test]
    fn the_same_scan_counts_once_and_old_scans_are_stale() {
        let p = ScanPolicy::default();
        let hh = HouseholdId::parse("h", "H370102001001-0042").unwrap();
        let other = HouseholdId::parse("h", "H370102001001-0043").unwrap();
        let mut g = ReplayGuard::default();
        g.admit(&hh, "n0Ua8xQe3PzK1vYb", T, T + 10, &p).unwrap();
        let err = g.admit(&hh, "n0Ua8xQe3PzK1vYb", T, T + 20, &p).unwrap_err();
        assert_eq!(err, ReplayError::Replayed { household: hh.clone(), scanned_at: T });
        // A new scan of the same code, and the same nonce at another door, are new scans.
        g.admit(&hh, "Zr7mW2c9LqHd4sTn", T + H, T + H, &p).unwrap();
        g.admit(&other, "n0Ua8xQe3PzK1vYb", T, T + 30, &p).unwrap();
        assert_eq!(g.len(), 3);
        // Uploaded 23 h later (no signal): fine; 25 h later: stale, and the first scan is forgotten.
        g.admit(&hh, "basement-upload-001", T + H, T + 24 * H, &p).unwrap();
        let err = g.admit(&hh, "n0Ua8xQe3PzK1vYb", T, T + 25 * H, &p).unwrap_err();
        assert!(matches!(err, ReplayError::Stale { .. }), "{err}");
        g.admit(&hh, "fresh-nonce-000001", T + 25 * H, T + 25 * H, &p).unwrap();
        assert_eq!(g.len(), 3, "the scans at T were pruned");
    }

    #[test]
    fn bad_nonces_and_future_scans_are_refused_by_field() {
        let p = ScanPolicy::default();
        let hh = HouseholdId::parse("h", "H370102001001-0042").unwrap();
        let mut g = ReplayGuard::default();
        for bad in ["", "short", "has space in it!!", &"x".repeat(65)] {
            assert!(g.admit(&hh, bad, T, T, &p).unwrap_err().to_string().starts_with("nonce:"), "{bad}");
        }
        let err = g.admit(&hh, "n0Ua8xQe3PzK1vYb", T + 6 * 60_000, T, &p).unwrap_err();
        assert!(err.to_string().starts_with("scanned_at:"), "{err}");
        assert!(g.is_empty());
    }
}
