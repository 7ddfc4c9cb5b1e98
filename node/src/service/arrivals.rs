//! Hotline tickets routed down to this node are dispatched by place as they arrive (精准派单): once a
//! delivery that brought them is committed here, the leader registers each ticket and dispatches it
//! to `auto` (the worker of its micro-grid, grid, or the grid leader; see `federation::machine::staff`).
//!
//! Both steps are ordinary commands in the log, proposed after the delivery, so every replica applies
//! the same thing whatever its settings, and a replica of an older protocol never sees them (a dispatch
//! by the roster waits for `protocol::PEOPLE`). Only tickets whose place has a worker on the roster are
//! taken; the others, and any whose leader stops in between, wait for an operator as before.

use federation::case::{Case, CaseState, Source};
use federation::code::Code;
use federation::link::{Body, Envelope};
use federation::machine::{Act, AUTO_WORKER};
use federation::people::{choose_worker, Roster};
use federation::workflow::{Action, Step};
use tracing::{info, warn};

use crate::consensus::{Writer, Written};
use crate::storage::reader::CaseReader;

/// Who the audit trail names for the steps taken here.
const ACTOR: &str = "自动派单";

/// The hotline tickets in `batch` that arrive at `node` to be owned here, still unregistered, whose
/// place has a worker on the roster `reader` reads (the others wait for an operator, unregistered).
pub fn hotline_arrivals<'a>(
    node: &Code,
    reader: &CaseReader,
    batch: impl IntoIterator<Item = &'a Envelope>,
) -> Vec<String> {
    let tickets: Vec<&Case> = batch
        .into_iter()
        .filter(|env| env.to == *node)
        .filter_map(|env| match &env.body {
            Body::Transfer { case } if is_waiting_ticket(case, node) => Some(&**case),
            _ => None,
        })
        .collect();
    if tickets.is_empty() {
        return Vec::new();
    }
    let roster = match reader.roster() {
        Ok(Some(r)) => r,
        Ok(None) => return Vec::new(),
        Err(e) => {
            warn!(node = %node, error = %e, "roster unreadable: hotline tickets wait for an operator");
            return Vec::new();
        }
    };
    tickets.into_iter().filter(|c| has_worker(&roster, c)).map(|c| c.id.clone()).collect()
}

/// Whether the roster has a worker for the place of `case` (its micro-grid, else its grid).
fn has_worker(roster: &Roster, case: &Case) -> bool {
    case.place().is_ok_and(|place| choose_worker(roster, &place).is_ok())
}

fn is_waiting_ticket(case: &Case, node: &Code) -> bool {
    case.owner == *node && case.state == CaseState::Reported && case.source == Source::Hotline
}

fn step(action: Action, note: &str, node: &Code, expected_version: Option<u64>) -> Step {
    Step {
        action,
        actor: ACTOR.to_string(),
        note: note.to_string(),
        expected_version,
        by: format!(
            "gridnode {node}: hotline tickets dispatched on arrival ([intake] auto_dispatch_hotline)"
        ),
    }
}

/// Registers and dispatches each of `cases` by the roster, one after the other; logs what it could
/// not do and leaves those cases to an operator.
pub async fn dispatch_on_arrival(writer: Writer, node: Code, cases: Vec<String>) {
    for id in cases {
        let register = step(Action::Register, "12345 热线工单到达, 自动登记", &node, None);
        let case = match writer.write(Act::new(id.clone(), register), false).await {
            Ok(Written::Committed(Ok(case))) => case,
            // Registered meanwhile (a resent delivery, an operator): nothing to do.
            Ok(Written::Committed(Err(_))) => continue,
            Ok(Written::Forward { .. }) | Err(_) => {
                warn!(node = %node, case = %id, "hotline ticket not dispatched on arrival: leadership moved");
                return;
            }
        };
        let handler = federation::case::Handler {
            kind: federation::case::HandlerKind::GridWorker,
            name: AUTO_WORKER.to_string(),
        };
        let dispatch = step(Action::Dispatch { handler }, "", &node, Some(case.version));
        match writer.write(Act::new(id.clone(), dispatch), false).await {
            Ok(Written::Committed(Ok(case))) => {
                let to = case.handler.as_ref().map(|h| h.name.as_str()).unwrap_or_default();
                info!(node = %node, case = %id, worker = to, "hotline ticket dispatched on arrival");
            }
            Ok(Written::Committed(Err(refusal))) => {
                warn!(node = %node, case = %id, reason = %refusal, "hotline ticket registered, not dispatched: an operator dispatches it")
            }
            Ok(Written::Forward { .. }) | Err(_) => {
                warn!(node = %node, case = %id, "hotline ticket registered, not dispatched: leadership moved");
                return;
            }
        }
    }
}
