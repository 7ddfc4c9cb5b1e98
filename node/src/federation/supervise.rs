//! Supervision (督办): the leader escalates owned cases past their handling deadline to the parent,
//! for categories whose policy says so (on by default).

use std::sync::Arc;
use std::time::Duration;

use federation::machine::{Command, Outcome};
use federation::workflow::{Action, Step};
use tokio::sync::watch;
use tracing::{info, warn};

use super::links::pause;
use crate::replica::Replica;
use crate::service::now_ms;

const PER_ROUND: usize = 200;

pub async fn run(replica: Arc<Replica>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_millis(replica.federation.supervise_ms);
    loop {
        if pause(every, &mut shutdown).await {
            return;
        }
        if !replica.is_leader() {
            continue;
        }
        let overdue = match replica.reader.overdue_cases(now_ms(), PER_ROUND) {
            Ok(ids) => ids,
            Err(e) => {
                warn!(error = %e, "cannot read the deadline index");
                continue;
            }
        };
        for id in overdue {
            let Ok(Some(case)) = replica.reader.case(&id) else { continue };
            if !replica.rules.policy.limits(&case.category).auto_escalate {
                continue;
            }
            let step = Step {
                action: Action::Escalate,
                actor: "督办".into(),
                note: "超过处置时限，自动上报".into(),
                expected_version: Some(case.version),
            };
            match replica.propose(Command::Act { case_id: id.clone(), step }).await {
                Ok(Outcome::Acted { .. }) => info!(case = %id, "overdue case escalated (督办)"),
                Ok(_) => {}
                Err(e) => {
                    warn!(case = %id, error = %e, "supervision stopped for this round");
                    break;
                }
            }
        }
    }
}
