//! Figures per worker (by post), next to the figures by area: what was dispatched to each grid worker
//! and how it went. A case is a worker's when its handler is a grid worker named by a worker id, as
//! automatic dispatch sets it (`dispatch::Choice::handler`). Counts only, keyed by worker id, so they
//! may be rolled up (see `privacy`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::worker::WorkerId;
use crate::case::{Case, CaseState, HandlerKind};
use crate::Millis;

/// One worker's cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerFigures {
    /// Cases currently or last dispatched to the worker (not cancelled).
    pub assigned: u32,
    /// Of those, handled (处理反馈) at least once.
    pub handled: u32,
    /// Of those, closed.
    pub closed: u32,
    /// Of those, closed no later than the deadline.
    pub closed_on_time: u32,
    /// Of those, returned (返工) at least once.
    pub returned: u32,
    /// Of those, open and past their deadline at the time asked.
    pub overdue: u32,
    /// Of those, checked in on site (到场).
    pub on_site: u32,
    /// Of those, checked in on site within 7 minutes of the report.
    pub on_site_in_time: u32,
}

impl WorkerFigures {
    /// Adds `other` (summing posts, or periods).
    pub fn add(&mut self, other: &WorkerFigures) {
        self.assigned += other.assigned;
        self.handled += other.handled;
        self.closed += other.closed;
        self.closed_on_time += other.closed_on_time;
        self.returned += other.returned;
        self.overdue += other.overdue;
        self.on_site += other.on_site;
        self.on_site_in_time += other.on_site_in_time;
    }
}

/// The worker a case is dispatched to, if its handler is a grid worker named by a worker id.
pub fn worker_of(case: &Case) -> Option<WorkerId> {
    let h = case.handler.as_ref().filter(|h| h.kind == HandlerKind::GridWorker)?;
    WorkerId::parse("handler.name", &h.name).ok()
}

/// Figures per worker over `cases` at `now`, in id order.
pub fn per_worker<'a>(
    cases: impl IntoIterator<Item = &'a Case>,
    now: Millis,
) -> BTreeMap<WorkerId, WorkerFigures> {
    let mut out: BTreeMap<WorkerId, WorkerFigures> = BTreeMap::new();
    for case in cases.into_iter().filter(|c| c.state != CaseState::Cancelled) {
        let Some(worker) = worker_of(case) else { continue };
        let closed = case.state == CaseState::Closed;
        let b = u32::from;
        let f = out.entry(worker).or_default();
        f.add(&WorkerFigures {
            assigned: 1,
            handled: b(case.handled_at.is_some() || closed),
            closed: b(closed),
            closed_on_time: b(closed && case.closed_on_time()),
            returned: b(case.returns > 0),
            overdue: b(case.is_overdue(now)),
            on_site: b(case.on_site.is_some()),
            on_site_in_time: b(case.on_site_in_time()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Handler;
    use crate::workflow::tests::new_case;

    const DAY: Millis = 86_400_000;

    fn dispatched(n: u32, to: &str, state: CaseState) -> Case {
        let mut c = new_case(&format!("370102001001-20261125-{n:06}"), 0);
        c.handler = Some(Handler { kind: HandlerKind::GridWorker, name: to.into() });
        c.state = state;
        c.dispatched_at = Some(0);
        c.due_at = Some(DAY);
        c
    }

    #[test]
    fn cases_are_counted_for_the_worker_they_were_dispatched_to() {
        let mut on_time = dispatched(1, "W370102001001-002", CaseState::Closed);
        on_time.closed_at = Some(DAY / 2);
        let mut late = dispatched(2, "W370102001001-002", CaseState::Closed);
        late.closed_at = Some(2 * DAY);
        late.returns = 1;
        let mut open = dispatched(3, "W370102001001-002", CaseState::Dispatched);
        open.on_site = Some(crate::case::OnSite { at: 60_000, point: None });
        let mut other = dispatched(4, "W370102001001-003", CaseState::Handled);
        other.handled_at = Some(DAY / 4);
        let cancelled = dispatched(5, "W370102001001-003", CaseState::Cancelled);
        let by_name = dispatched(6, "孙雅琴", CaseState::Dispatched);
        let mut to_community = dispatched(7, "W370102001001-003", CaseState::Dispatched);
        to_community.handler =
            Some(Handler { kind: HandlerKind::Community, name: "W370102001001-003".into() });

        let cases = [on_time, late, open, other, cancelled, by_name, to_community];
        let f = per_worker(&cases, 3 * DAY);
        assert_eq!(f.len(), 2);
        let w2 = f[&WorkerId::parse("w", "W370102001001-002").unwrap()];
        assert_eq!(
            w2,
            WorkerFigures {
                assigned: 3,
                handled: 2,
                closed: 2,
                closed_on_time: 1,
                returned: 1,
                overdue: 1,
                on_site: 1,
                on_site_in_time: 1
            }
        );
        let w3 = f[&WorkerId::parse("w", "W370102001001-003").unwrap()];
        assert_eq!((w3.assigned, w3.handled, w3.closed), (1, 1, 0));
    }
}
