//! Whether this replica may serve, write and lead: its store has not failed (`storage::Faults`), its
//! disk has room (`disk`), its clock agrees with its peers' (`clock`), and it is not repairing a
//! damaged store from its peers (`crate::repair`). `govern` applies the verdict to Raft: a replica unfit
//! to lead does not campaign, and a leader that becomes unfit stops its heartbeats and refuses writes so
//! another replica takes over. `ready` says whether the replica is ready to serve (`/readyz`, gRPC
//! health).

pub mod clock;
pub mod disk;
pub mod govern;
pub mod ready;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use federation::clock::Verdict;

use crate::storage::Faults;

/// A replica's fitness; cheap to clone.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    faults: Faults,
    /// Free space and the threshold, when below it.
    disk_low: Mutex<Option<String>>,
    clock: Mutex<Verdict>,
    repairing: AtomicBool,
    /// The node has one replica: nobody else could lead, so clock skew stops supervision only.
    alone: bool,
}

impl Health {
    /// The fitness of a replica whose store reports to `faults`; `alone` when its node has no other
    /// replica.
    pub fn new(faults: Faults, alone: bool) -> Health {
        Health {
            inner: Arc::new(Inner {
                faults,
                disk_low: Mutex::new(None),
                clock: Mutex::new(Verdict::Unknown),
                repairing: AtomicBool::new(false),
                alone,
            }),
        }
    }

    /// The storage-failure latch.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Records the disk's state: `low` names the free space and the threshold when below it.
    pub fn set_disk_low(&self, low: Option<String>) {
        *self.inner.disk_low.lock().unwrap_or_else(|p| p.into_inner()) = low;
    }

    /// Why new writes are refused for lack of disk space, if they are.
    pub fn disk_low(&self) -> Option<String> {
        self.inner.disk_low.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records the clock's verdict.
    pub fn set_clock(&self, v: Verdict) {
        *self.inner.clock.lock().unwrap_or_else(|p| p.into_inner()) = v;
    }

    /// The clock's verdict.
    pub fn clock(&self) -> Verdict {
        *self.inner.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the replica as repairing (or done).
    pub fn set_repairing(&self, on: bool) {
        self.inner.repairing.store(on, Ordering::Release);
    }

    /// True while the replica copies its log from its peers after a damaged store.
    pub fn repairing(&self) -> bool {
        self.inner.repairing.load(Ordering::Acquire)
    }

    fn clock_off(&self) -> Option<Unfit> {
        match self.clock() {
            Verdict::Off { offset } => Some(Unfit::ClockOff { offset_ms: offset, whose: "its peers'" }),
            Verdict::Disputed { offset } => Some(Unfit::ClockOff { offset_ms: offset, whose: "a peer's" }),
            _ => None,
        }
    }

    fn clock_outvoted(&self) -> Option<Unfit> {
        matches!(self.clock(), Verdict::Off { .. }).then(|| self.clock_off()).flatten()
    }

    /// Ok when this replica may lead its node, else why not.
    pub fn may_lead(&self) -> Result<(), Unfit> {
        if let Some(f) = self.inner.faults.failure() {
            return Err(Unfit::StorageFailed { failure: f.to_string() });
        }
        if self.repairing() {
            return Err(Unfit::Repairing);
        }
        match self.clock_outvoted() {
            Some(why) if !self.inner.alone => Err(why),
            _ => Ok(()),
        }
    }

    /// Ok when this replica may escalate overdue cases (督办), else why not: deadlines are judged by
    /// its clock, so a clock that disagrees with its peers' does not supervise.
    pub fn may_supervise(&self) -> Result<(), Unfit> {
        self.may_lead()?;
        self.clock_off().map_or(Ok(()), Err)
    }
}

/// Why a replica may not lead (or supervise) right now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    /// Its storage failed; it stays down until restarted.
    #[error("its storage failed ({failure})")]
    StorageFailed { failure: String },
    /// It copies its log from its peers after a damaged store.
    #[error("it is repairing its store from the other replicas")]
    Repairing,
    /// Its clock disagrees with its peers' (`whose`) by `offset_ms` (positive: ahead).
    #[error("its clock is {} {} {whose}", human(offset_ms.abs()), if *offset_ms > 0 { "ahead of" } else { "behind" })]
    ClockOff { offset_ms: i64, whose: &'static str },
}

/// "3h 0m", "12m 5s" or "850ms".
pub fn human(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h {}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {}s", s / 60, s % 60)
    } else if s >= 1 {
        format!("{s}s")
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skewed_clock_stops_leading_unless_alone_and_always_stops_supervision() {
        let h = Health::new(Faults::new(), false);
        assert!(h.may_lead().is_ok());
        h.set_clock(Verdict::Off { offset: 3 * 3_600_000 });
        assert_eq!(h.may_lead().unwrap_err().to_string(), "its clock is 3h 0m ahead of its peers'");
        assert!(h.may_supervise().is_err());
        let alone = Health::new(Faults::new(), true);
        alone.set_clock(Verdict::Off { offset: -90_000 });
        assert!(alone.may_lead().is_ok());
        assert!(alone.may_supervise().unwrap_err().to_string().contains("1m 30s behind"));
        // One peer against us: no majority, so we lead, but we do not judge deadlines.
        h.set_clock(Verdict::Disputed { offset: 3 * 3_600_000 });
        assert!(h.may_lead().is_ok());
        assert_eq!(h.may_supervise().unwrap_err().to_string(), "its clock is 3h 0m ahead of a peer's");
    }

    #[test]
    fn repair_and_storage_failure_stop_leading() {
        let h = Health::new(Faults::new(), false);
        h.set_repairing(true);
        assert_eq!(h.may_lead().unwrap_err(), Unfit::Repairing);
        h.set_repairing(false);
        h.faults().report("writing", &"No space left on device");
        assert!(h.may_lead().unwrap_err().to_string().contains("No space left"));
    }
}
