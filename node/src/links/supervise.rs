//! Supervision (督办): the leader escalates owned cases past their handling deadline to the parent,
//! for categories whose policy says so (on by default).

use std::time::Duration;

use federation::machine::Act;
use federation::workflow::{Action, Step};
use tracing::{info, warn};

use super::LinkCtx;

const PER_ROUND: usize = 200;

pub(super) async fn run(ctx: LinkCtx) {
    let every = Duration::from_millis(ctx.local.federation.supervise_ms);
    loop {
        tokio::time::sleep(every).await;
        if !ctx.leadership.is_leader() {
            continue;
        }
        // Deadlines are judged by this replica's clock: compare it with its peers' right now, and do not
        // act on it when they disagree.
        ctx.clock_probe.check().await;
        if let Err(why) = ctx.health.may_supervise() {
            warn!(reason = %why, "supervision skipped this round");
            continue;
        }
        let overdue = match ctx.reader.overdue_cases(ctx.clock.now_ms(), PER_ROUND) {
            Ok(ids) => ids,
            Err(e) => {
                warn!(error = %e, "cannot read the deadline index");
                continue;
            }
        };
        for id in overdue {
            let Ok(Some(case)) = ctx.reader.case(&id) else { continue };
            if !ctx.local.rules.policy.limits(&case.category).auto_escalate {
                continue;
            }
            let step = Step {
                action: Action::Escalate,
                actor: "督办".into(),
                note: "超过处置时限，自动上报".into(),
                expected_version: Some(case.version),
                by: format!("gridfed://{}/replica {} (supervision)", ctx.local.node, ctx.local.replica),
            };
            // Counted as 督办 once every replica speaks protocol 4; a plain escalation until then.
            let counted = Act { supervision: true, ..Act::new(id.clone(), step.clone()) };
            let proposed = match ctx.writer.propose(counted).await {
                Err(crate::consensus::WriteError::Protocol { .. }) => {
                    ctx.writer.propose(Act::new(id.clone(), step)).await
                }
                other => other,
            };
            match proposed {
                Ok(Ok(_)) => info!(case = %id, "overdue case escalated (督办)"),
                Ok(Err(_)) => {}
                Err(e) => {
                    warn!(case = %id, error = %e, "supervision stopped for this round");
                    break;
                }
            }
        }
    }
}
