//! Hotline tickets routed down to this node are dispatched by place as they arrive (精准派单): once a
//! delivery that brought them is committed here, the leader registers each ticket and dispatches it
//! to `auto` (the worker of its micro-grid, grid, or the grid leader; see `federation::machine::staff`).
//!
//! Both steps are ordinary commands in the log, proposed after the delivery, so every replica applies
//! the same thing whatever its settings, and a replica of an older protocol never sees them (a dispatch
//! by the roster waits for `protocol::PEOPLE`). Nothing here is needed for correctness: if the leader
//! stops in between, or nobody is assigned the place, the ticket waits for an operator as before.

use federation::case::{Case, CaseState, Source};
use federation::code::Code;
use federation::link::{Body, Envelope};
use federation::machine::{Act, AUTO_WORKER};
use federation::workflow::{Action, Step};
use tracing::{info, warn};

use crate::consensus::{Writer, Written};

/// Who the audit trail names for the steps taken here.
const ACTOR: &str = "自动派单";

/// The hotline tickets in `batch` that arrive at `node` to be owned here, still unregistered.
pub fn hotline_arrivals<'a>(node: &Code, batch: impl IntoIterator<Item = &'a Envelope>) -> Vec<String> {
    batch
        .into_iter()
        .filter(|env| env.to == *node)
        .filter_map(|env| match &env.body {
            Body::Transfer { case } if is_waiting_ticket(case, node) => Some(case.id.clone()),
            _ => None,
        })
        .collect()
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
