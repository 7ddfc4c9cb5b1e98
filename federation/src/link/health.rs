//! What a link's sender knows of the neighbour's reachability: never contacted, up (the last exchange
//! succeeded) or down (it failed), with the last success and the last error.

use crate::Millis;

/// Reachability of a neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No exchange has been tried yet (e.g. a replica that just became leader).
    Never,
    /// The last exchange succeeded.
    Up,
    /// The last exchange failed.
    Down,
}

impl Health {
    /// `never`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Never => "never",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The link's state as its sender sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkHealth {
    /// Reachable now, unreachable, or not tried yet.
    pub health: Health,
    /// When an exchange last succeeded.
    pub last_success: Option<Millis>,
    /// Why the last failed exchange failed (empty after a success).
    pub last_error: String,
    /// When a rollup was last accepted by the parent.
    pub last_rollup: Option<Millis>,
}

impl Default for LinkHealth {
    fn default() -> Self {
        LinkHealth { health: Health::Never, last_success: None, last_error: String::new(), last_rollup: None }
    }
}

impl LinkHealth {
    /// An exchange succeeded at `now`.
    pub fn success(&mut self, now: Millis) {
        self.health = Health::Up;
        self.last_success = Some(self.last_success.map_or(now, |t| t.max(now)));
        self.last_error.clear();
    }

    /// An exchange failed.
    pub fn failure(&mut self, error: &str) {
        self.health = Health::Down;
        self.last_error = error.to_string();
    }

    /// Merges another sender's view of the same link: the newer success wins, a failure after it shows.
    pub fn merge(&self, other: &LinkHealth) -> LinkHealth {
        let newer = if other.last_success > self.last_success { other } else { self };
        let failing = [self, other]
            .into_iter()
            .find(|h| h.health == Health::Down && h.last_success <= newer.last_success);
        let health = match (self.health, other.health) {
            (Health::Never, h) | (h, Health::Never) => h,
            _ if failing.is_some() => Health::Down,
            _ => Health::Up,
        };
        LinkHealth {
            health,
            last_success: newer.last_success,
            last_error: failing.map(|f| f.last_error.clone()).unwrap_or_default(),
            last_rollup: self.last_rollup.max(other.last_rollup),
        }
    }
}
