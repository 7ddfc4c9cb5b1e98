//! Gauges read from the replica's handles at each scrape: Raft position and role, apply lag, links,
//! cases by state and overdue, and health.

use federation::clock::Verdict;
use federation::code::Code;
use federation::stats::day_of;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{set, LinkLabels, LinkStateLabels, Metrics, StateLabels};
use crate::clock::{age_ms, Clock};
use crate::consensus::Leadership;
use crate::health::ready::{leader_commit, role_name};
use crate::health::Health;
use crate::links::LinkTable;
use crate::local::Local;
use crate::storage::reader::CaseReader;

/// The gauges refreshed at each scrape.
pub(crate) struct Gauges {
    role: Family<StateLabels, Gauge>,
    term: Gauge,
    commit_index: Gauge,
    applied_index: Gauge,
    last_log_index: Gauge,
    apply_lag: Gauge,
    leader_known: Gauge,
    backlog: Family<LinkLabels, Gauge>,
    oldest_age: Family<LinkLabels, Gauge>,
    link_state: Family<LinkStateLabels, Gauge>,
    cases: Family<StateLabels, Gauge>,
    overdue: Gauge,
    storage_failed: Gauge,
    disk_low: Gauge,
    repairing: Gauge,
    clock: Family<StateLabels, Gauge>,
    clock_offset: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Gauges {
    pub(crate) fn register(r: &mut Registry) -> Gauges {
        let g = Gauges {
            role: Family::default(),
            term: Gauge::default(),
            commit_index: Gauge::default(),
            applied_index: Gauge::default(),
            last_log_index: Gauge::default(),
            apply_lag: Gauge::default(),
            leader_known: Gauge::default(),
            backlog: Family::default(),
            oldest_age: Family::default(),
            link_state: Family::default(),
            cases: Family::default(),
            overdue: Gauge::default(),
            storage_failed: Gauge::default(),
            disk_low: Gauge::default(),
            repairing: Gauge::default(),
            clock: Family::default(),
            clock_offset: Gauge::default(),
        };
        r.register("raft_role", "1 for this replica's current Raft role", g.role.clone());
        r.register("raft_term", "Current Raft term", g.term.clone());
        r.register(
            "raft_commit_index",
            "Commit index as this replica knows it (majority-held on the leader, applied on a follower)",
            g.commit_index.clone(),
        );
        r.register(
            "raft_applied_index",
            "Highest log index applied to the state machine",
            g.applied_index.clone(),
        );
        r.register("raft_last_log_index", "Highest log index held", g.last_log_index.clone());
        r.register(
            "raft_apply_lag",
            "Log entries held or committed but not applied yet",
            g.apply_lag.clone(),
        );
        r.register("raft_leader_known", "1 when this replica knows a leader", g.leader_known.clone());
        r.register(
            "link_backlog",
            "Messages waiting in the outbox for a neighbour (leader only)",
            g.backlog.clone(),
        );
        r.register_with_unit(
            "link_oldest_age",
            "Age of the oldest message waiting for a neighbour (leader only)",
            prometheus_client::registry::Unit::Seconds,
            g.oldest_age.clone(),
        );
        r.register(
            "link_state",
            "1 for each link's state: up, down or never (leader only)",
            g.link_state.clone(),
        );
        r.register("cases", "This node's own cases by state", g.cases.clone());
        r.register("cases_overdue", "This node's open cases past their deadline", g.overdue.clone());
        r.register(
            "storage_failed",
            "1 when the store failed and the replica stops",
            g.storage_failed.clone(),
        );
        r.register(
            "storage_disk_low",
            "1 when free disk space is below storage.min_free_mb",
            g.disk_low.clone(),
        );
        r.register(
            "storage_repairing",
            "1 while the store is repaired from the other replicas",
            g.repairing.clone(),
        );
        r.register("clock_verdict", "1 for the clock's verdict against the peers", g.clock.clone());
        r.register_with_unit(
            "clock_offset",
            "This clock's offset from its peers' as last judged",
            prometheus_client::registry::Unit::Seconds,
            g.clock_offset.clone(),
        );
        g
    }
}

/// The handles a scrape reads.
#[derive(Clone)]
pub struct Sources {
    pub local: std::sync::Arc<Local>,
    pub leadership: Leadership,
    pub reader: CaseReader,
    pub links: std::sync::Arc<LinkTable>,
    pub health: Health,
    pub clock: Clock,
}

/// Refreshes every gauge from `s`. Storage errors leave the store-read gauges as they were.
pub fn refresh(metrics: &Metrics, s: &Sources) {
    let g = metrics.gauges();
    let m = s.leadership.metrics();
    g.role.clear();
    g.role.get_or_create(&StateLabels { state: role_name(m.state).into() }).set(1);
    set(&g.term, m.current_term);
    let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
    let last = m.last_log_index.unwrap_or(0);
    let committed = leader_commit(&m).unwrap_or(applied);
    set(&g.commit_index, committed);
    set(&g.applied_index, applied);
    set(&g.last_log_index, last);
    set(&g.apply_lag, committed.max(last).saturating_sub(applied));
    g.leader_known.set(i64::from(m.current_leader.is_some()));

    let now = s.clock.now_ms();
    g.backlog.clear();
    g.oldest_age.clear();
    g.link_state.clear();
    if s.leadership.is_leader() {
        for (relation, peer) in
            s.local.parent.iter().map(|p| ("parent", p)).chain(s.local.children.iter().map(|c| ("child", c)))
        {
            let labels = LinkLabels { peer: peer.code.clone(), relation };
            let state = s.links.get(&peer.code).health.as_str();
            g.link_state.get_or_create(&LinkStateLabels { peer: peer.code.clone(), state }).set(1);
            let Ok(code) = Code::parse_node("peer", &peer.code) else { continue };
            if let Ok((count, oldest)) = s.reader.backlog(&code) {
                set(&g.backlog.get_or_create(&labels), count);
                set(&g.oldest_age.get_or_create(&labels), oldest.map(|t| age_ms(now, t) / 1000).unwrap_or(0));
            }
        }
    }

    if let Ok(report) = s.reader.stats(0, day_of(now), now) {
        g.cases.clear();
        for (state, n) in &report.counters.by_state {
            g.cases.get_or_create(&StateLabels { state: state.clone() }).set(*n);
        }
        g.overdue.set(report.overdue);
    }
    g.storage_failed.set(i64::from(s.health.faults().failure().is_some()));
    g.disk_low.set(i64::from(s.health.disk_low().is_some()));
    g.repairing.set(i64::from(s.health.repairing()));
    let (verdict, offset) = match s.health.clock() {
        Verdict::Unknown => ("unknown", 0),
        Verdict::Within { offset } => ("within", offset),
        Verdict::Off { offset } => ("off", offset),
        Verdict::Disputed { offset } => ("disputed", offset),
    };
    g.clock.clear();
    g.clock.get_or_create(&StateLabels { state: verdict.into() }).set(1);
    g.clock_offset.set(offset as f64 / 1000.0);
}
