//! Clock comparison: every few seconds a replica asks each other replica of its node for its time
//! (`RaftService.Time`), and, when it is its node's only replica, its neighbour nodes (`Hello`). The
//! offsets go to `federation::clock::SkewEstimator`; its verdict is recorded in `Health`.

use std::time::Duration;

use federation::clock::{SkewEstimator, Verdict};
use proto::v1::raft_service_client::RaftServiceClient;
use proto::v1::{HelloRequest, TimeRequest};
use tracing::{error, info};

use super::{human, Health};
use crate::clock::Clock;
use crate::consensus::network::{NODE_HEADER, TARGET_HEADER};
use crate::consensus::Leadership;
use crate::links::NeighbourClient;
use crate::local::Local;
use crate::rpc::ChannelPool;

/// How often clocks are compared.
const EVERY: Duration = Duration::from_secs(2);
/// Deadline of one question.
const ASK: Duration = Duration::from_secs(1);
/// Samples older than this are not used.
const MAX_AGE_MS: i64 = 30_000;

/// What the clock task needs.
pub struct ClockCtx {
    pub local: std::sync::Arc<Local>,
    pub leadership: Leadership,
    pub clock: Clock,
    pub pool: ChannelPool,
    pub health: Health,
    /// Largest offset from the peers' median a replica may lead with.
    pub bound_ms: i64,
}

async fn ask_replica(ctx: &ClockCtx, id: u64, addr: &str) -> Option<i64> {
    let channel = ctx.pool.get(addr).ok()?;
    let mut req = tonic::Request::new(TimeRequest {});
    req.set_timeout(ASK);
    req.metadata_mut().insert(NODE_HEADER, ctx.local.node.as_str().parse().ok()?);
    req.metadata_mut().insert(TARGET_HEADER, id.into());
    // Like every Raft call, it carries this replica's protocol version (without it a replica two
    // versions past the unversioned gridnode refuses the probe).
    crate::protocol::stamp(req.metadata_mut());
    RaftServiceClient::new(channel).time(req).await.ok().map(|r| r.into_inner().now_ms)
}

async fn ask_neighbour(ctx: &ClockCtx, client: &NeighbourClient) -> Option<i64> {
    let hello = HelloRequest {
        code: ctx.local.node.to_string(),
        level: ctx.local.node.level().to_string(),
        name: ctx.local.name.clone(),
    };
    client.call(hello, async |mut c, req| c.hello(req).await).await.ok().map(|r| r.now_ms).filter(|&t| t > 0)
}

/// Compares this replica's clock with its peers': every `EVERY`, and on demand before a decision that
/// rests on the clock (supervision).
pub struct ClockProbe {
    ctx: ClockCtx,
    neighbours: Vec<NeighbourClient>,
    estimator: tokio::sync::Mutex<SkewEstimator>,
}

impl ClockProbe {
    /// A probe with no samples yet.
    pub fn new(ctx: ClockCtx) -> ClockProbe {
        let neighbours =
            ctx.local.neighbours().filter_map(|n| NeighbourClient::new(n, ASK, &ctx.pool).ok()).collect();
        ClockProbe { ctx, neighbours, estimator: tokio::sync::Mutex::new(SkewEstimator::new()) }
    }

    /// Asks every peer its time now, records the verdict in `Health`, and returns it.
    pub async fn check(&self) -> Verdict {
        let ctx = &self.ctx;
        let mut estimator = self.estimator.lock().await;
        let members: Vec<(u64, String)> = {
            let m = ctx.leadership.metrics();
            m.membership_config.membership().nodes().map(|(id, n)| (*id, n.addr.clone())).collect()
        };
        let others: Vec<&(u64, String)> = members.iter().filter(|(id, _)| *id != ctx.local.replica).collect();
        for (id, addr) in &others {
            let t0 = ctx.clock.now_ms();
            if let Some(peer_now) = ask_replica(ctx, *id, addr).await {
                estimator.sample(&format!("replica {id}"), t0, ctx.clock.now_ms(), peer_now);
            }
        }
        // A node of one replica has only its neighbours to compare with.
        if others.is_empty() {
            for n in &self.neighbours {
                let t0 = ctx.clock.now_ms();
                if let Some(peer_now) = ask_neighbour(ctx, n).await {
                    estimator.sample(&format!("node {}", n.code), t0, ctx.clock.now_ms(), peer_now);
                }
            }
        }
        let verdict = estimator.verdict(ctx.clock.now_ms(), MAX_AGE_MS, ctx.bound_ms);
        let off = |v: Verdict| matches!(v, Verdict::Off { .. } | Verdict::Disputed { .. });
        match (ctx.health.clock(), verdict) {
            (before, now) if off(before) && off(now) => {}
            (_, Verdict::Off { offset } | Verdict::Disputed { offset }) => error!(
                node = %ctx.local.node,
                replica = ctx.local.replica,
                offset_ms = offset,
                "CLOCK SKEW: this replica's clock is {} {} its peers' (more than {} ms); it does not escalate \
                 overdue cases, nor lead where another replica can, until its clock is corrected (check NTP)",
                human(offset.abs()),
                if offset > 0 { "ahead of" } else { "behind" },
                ctx.bound_ms
            ),
            (before, _) if off(before) => {
                info!(node = %ctx.local.node, replica = ctx.local.replica, "clock agrees with its peers again")
            }
            _ => {}
        }
        ctx.health.set_clock(verdict);
        verdict
    }

    /// Compares clocks every `EVERY` until the replica stops.
    pub async fn watch(self: std::sync::Arc<Self>) {
        loop {
            self.check().await;
            tokio::time::sleep(EVERY).await;
        }
    }
}
