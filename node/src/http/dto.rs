//! The JSON shapes of the API (with their OpenAPI schemas), converted from the gRPC messages the
//! services answer with, so both doors show the same figures.

use proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Who a case is dispatched to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HandlerJson {
    /// grid_worker | community | street | department
    pub kind: String,
    pub name: String,
}

/// One step of a case's audit trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditJson {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    /// Empty for the report itself.
    pub from_state: String,
    pub to_state: String,
    pub note: String,
    /// Who acted as the node authenticated them (certificate identity and subject, a token, or the
    /// replica for automatic steps); empty where not recorded.
    pub by: String,
}

/// A case, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseJson {
    pub id: String,
    pub grid: String,
    /// 4-digit category code.
    pub category: String,
    /// "major/minor", e.g. 市容环境/暴露垃圾.
    pub category_label: String,
    pub source: String,
    pub title: String,
    pub description: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub reporter: String,
    pub priority: String,
    /// The node it was reported at.
    pub origin: String,
    /// The node that owns it now.
    pub owner: String,
    pub version: u64,
    pub state: String,
    pub handler: Option<HandlerJson>,
    pub reported_at_ms: i64,
    pub registered_at_ms: Option<i64>,
    pub dispatched_at_ms: Option<i64>,
    pub handled_at_ms: Option<i64>,
    pub closed_at_ms: Option<i64>,
    pub register_due_ms: i64,
    /// The current handler's step deadline (its light).
    pub due_at_ms: Option<i64>,
    /// The case's overall deadline across levels (按期结案 is judged by it).
    pub overall_due_ms: Option<i64>,
    pub returns: u32,
    pub extensions: u32,
    /// Ownership epoch: +1 at every hand-over between nodes.
    pub epoch: u64,
    /// Nodes holding read-only copies.
    pub watchers: Vec<String>,
    /// green | yellow | red; empty when no clock runs.
    pub light: String,
    /// The micro-grid (微网格) the reported point lies in; empty when none.
    pub micro_grid: String,
    /// The owning node's name.
    pub owner_name: String,
    /// True while the case waits unassigned (待分派) for an operator to place it (`place`).
    pub unassigned: bool,
}

impl From<&pb::Case> for CaseJson {
    fn from(c: &pb::Case) -> CaseJson {
        let loc = c.location.clone().unwrap_or_default();
        CaseJson {
            id: c.id.clone(),
            grid: c.grid.clone(),
            category: c.category.clone(),
            category_label: c.category_label.clone(),
            source: c.source.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            address: loc.address,
            lat: loc.lat,
            lon: loc.lon,
            reporter: c.reporter.clone(),
            priority: c.priority.clone(),
            origin: c.origin.clone(),
            owner: c.owner.clone(),
            version: c.version,
            state: c.state.clone(),
            handler: c.handler.as_ref().map(|h| HandlerJson { kind: h.kind.clone(), name: h.name.clone() }),
            reported_at_ms: c.reported_at_ms,
            registered_at_ms: c.registered_at_ms,
            dispatched_at_ms: c.dispatched_at_ms,
            handled_at_ms: c.handled_at_ms,
            closed_at_ms: c.closed_at_ms,
            register_due_ms: c.register_due_ms,
            due_at_ms: c.due_at_ms,
            overall_due_ms: c.overall_due_ms,
            returns: c.returns,
            extensions: c.extensions,
            epoch: c.epoch,
            watchers: c.watchers.clone(),
            light: c.light.clone(),
            micro_grid: c.micro_grid.clone(),
            owner_name: c.owner_name.clone(),
            unassigned: c.grid.ends_with("000"),
        }
    }
}

/// One hand-over of a case between nodes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OwnershipStep {
    pub at_ms: i64,
    /// report | escalate | send_down
    pub action: String,
    /// The owner before (empty for the report).
    pub from: String,
    /// The owner after.
    pub to: String,
    pub actor: String,
    /// Who acted as the node authenticated them; empty where not recorded.
    pub by: String,
    pub note: String,
}

/// A case with its audit trail, ownership history and the actions allowed now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseDetail {
    pub case: CaseJson,
    pub audit: Vec<AuditJson>,
    pub ownership: Vec<OwnershipStep>,
    /// Actions this node may take on the case in its state (empty for a read-only copy).
    pub allowed_actions: Vec<String>,
}

/// A page of cases.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CasePage {
    pub cases: Vec<CaseJson>,
    /// Pass as `page_token` for the next page; empty on the last.
    pub next_page_token: String,
}

/// Filters and paging of `GET /api/v1/cases`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// reported | registered | dispatched | handling | handled | closed | cancelled | suspended
    pub state: Option<String>,
    /// A 15-digit grid code.
    pub grid: Option<String>,
    /// A category code, "major/minor", or an unambiguous minor class.
    pub category: Option<String>,
    /// green | yellow | red (applied within each page).
    pub light: Option<String>,
    /// Only cases this node owns (not read-only copies).
    pub owned: Option<bool>,
    /// Text to find in titles and addresses (case- and space-insensitive).
    pub q: Option<String>,
    /// 1 to 500, default 50.
    pub page_size: Option<u32>,
    pub page_token: Option<String>,
}

/// An action on a case (the same as `gridnode case act`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ActBody {
    /// register | cancel | dispatch | urge | arrive | start | handled | close | return | suspend | resume |
    /// extend | escalate | send_down
    pub action: String,
    /// Who acts (defaults to the caller's description).
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub note: String,
    /// Refuse if the case changed meanwhile.
    pub expected_version: Option<u64>,
    /// For dispatch.
    pub handler: Option<HandlerJson>,
    /// For extend: the new deadline (ms since the epoch).
    pub new_due_ms: Option<i64>,
    /// For send_down: the node below that takes the case over.
    #[serde(default)]
    pub to: String,
    /// For place: the grid an unassigned case (待分派) belongs to.
    #[serde(default)]
    pub grid: String,
    /// For arrive (到场): where the handler checked in, with `lon` and `crs` (wgs84 or gcj02).
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    #[serde(default)]
    pub crs: String,
}

/// Counters of a set of cases.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CountersJson {
    pub total: i64,
    pub registered: i64,
    pub registered_on_time: i64,
    pub handled: i64,
    pub closed: i64,
    pub closed_on_time: i64,
    pub returned: i64,
    pub extended: i64,
    pub self_handled: i64,
    pub cancelled: i64,
    /// Hotline tickets dispatched under two-clock rules: the 7-minute on-site rate's denominator.
    pub hotline: i64,
    /// Cases checked in on site (到场).
    pub on_site: i64,
    /// Hotline tickets checked in on site within 7 minutes of the report.
    pub on_site_in_time: i64,
    /// Cases urged (催办) at least once.
    pub urged: i64,
    /// Cases escalated by supervision (督办) at least once.
    pub supervised: i64,
    pub by_state: std::collections::BTreeMap<String, i64>,
    pub by_category: std::collections::BTreeMap<String, i64>,
    pub by_grid: std::collections::BTreeMap<String, i64>,
    pub by_department: std::collections::BTreeMap<String, i64>,
}

impl From<&pb::Counters> for CountersJson {
    fn from(c: &pb::Counters) -> CountersJson {
        CountersJson {
            total: c.total,
            registered: c.registered,
            registered_on_time: c.registered_on_time,
            handled: c.handled,
            closed: c.closed,
            closed_on_time: c.closed_on_time,
            returned: c.returned,
            extended: c.extended,
            self_handled: c.self_handled,
            cancelled: c.cancelled,
            hotline: c.hotline,
            on_site: c.on_site,
            on_site_in_time: c.on_site_in_time,
            urged: c.urged,
            supervised: c.supervised,
            by_state: c.by_state.clone().into_iter().collect(),
            by_category: c.by_category.clone().into_iter().collect(),
            by_grid: c.by_grid.clone().into_iter().collect(),
            by_department: c.by_department.clone().into_iter().collect(),
        }
    }
}

/// How fresh one node's part of a subtree's figures is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FreshnessJson {
    pub node: String,
    pub version: u64,
    pub produced_at_ms: i64,
    /// Age at the time of the answer.
    pub age_ms: i64,
    pub overdue: i64,
}

/// The standard figures beside the counts (definitions in `federation::stats::Report`): overdue open
/// cases now, 超期结案, and every rate from summed numerators and denominators.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FiguresJson {
    /// Open cases past their deadline at the time of the answer (超期).
    pub overdue: i64,
    /// 超期结案: closed after the deadline.
    pub closed_late: i64,
    /// 结案率: closed / should be closed (registered).
    pub closure_rate: f64,
    /// 按期结案率: closed on time / should be closed.
    pub on_time_closure_rate: f64,
    /// 返工率: returned / should be closed.
    pub rework_rate: f64,
    /// 按时立案率: registered on time / registered.
    pub on_time_registration_rate: f64,
    /// 处置率: handled / should be handled (registered).
    pub handling_rate: f64,
    /// 延期率: extended / should be handled.
    pub extension_rate: f64,
    /// 7分钟到场率: hotline tickets checked in on site within 7 minutes / hotline tickets dispatched.
    pub on_site_rate: f64,
    /// 自行处置率: closed where reported without leaving it / reported.
    pub self_handled_rate: f64,
}

impl From<&federation::stats::Report> for FiguresJson {
    fn from(r: &federation::stats::Report) -> FiguresJson {
        FiguresJson {
            overdue: r.overdue,
            closed_late: r.closed_late,
            closure_rate: r.closure_rate,
            on_time_closure_rate: r.on_time_closure_rate,
            rework_rate: r.rework_rate,
            on_time_registration_rate: r.on_time_registration_rate,
            handling_rate: r.handling_rate,
            extension_rate: r.extension_rate,
            on_site_rate: r.on_site_rate,
            self_handled_rate: r.self_handled_rate,
        }
    }
}

/// The standard figures (结案率, 按期结案率, 返工率, ...), from summed numerators and denominators.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsJson {
    /// The node or subtree (or grid) the figures are of.
    pub node: String,
    pub from: String,
    pub to: String,
    pub counters: CountersJson,
    /// The figures (flattened: `overdue`, `closure_rate`, ... beside `counters`).
    #[serde(flatten)]
    pub figures: FiguresJson,
    /// With a subtree: every node below that has rolled up, and this node.
    pub parts: Vec<FreshnessJson>,
    /// When the figures were read (ms since the epoch).
    pub at_ms: i64,
}

impl StatsJson {
    /// From a gRPC answer read at `now`.
    pub fn from_pb(r: &pb::StatsResponse, now: i64) -> StatsJson {
        let s = r.stats.clone().unwrap_or_default();
        let figures = FiguresJson::from(&proto::convert::stats_from_pb(s.clone()));
        StatsJson {
            node: s.node,
            from: s.from,
            to: s.to,
            counters: s.counters.as_ref().map(CountersJson::from).unwrap_or_default(),
            figures,
            parts: r
                .parts
                .iter()
                .map(|p| FreshnessJson {
                    node: p.node.clone(),
                    version: p.version,
                    produced_at_ms: p.produced_at_ms,
                    age_ms: crate::clock::age_ms(now, p.produced_at_ms),
                    overdue: p.overdue,
                })
                .collect(),
            at_ms: now,
        }
    }
}

/// Traffic lights of open cases.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LightsJson {
    pub green: i64,
    pub yellow: i64,
    pub red: i64,
}

/// One node of a subtree with its subtree's figures (equal to `/api/v1/stats/subtree?scope=NODE`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TreeNodeJson {
    pub node: String,
    /// Its name where this node knows it (itself and its neighbours), else empty.
    pub name: String,
    /// district | street | community
    pub level: String,
    /// The node above it within the tree (None for the root).
    pub parent: Option<String>,
    /// The scalar counters and `by_state`; `by_category`, `by_grid` and `by_department` are left empty
    /// here (ask `/api/v1/stats/subtree?scope=NODE`).
    pub counters: CountersJson,
    /// Cases not closed or cancelled (the sum of `by_state` over open states).
    pub open: i64,
    /// The figures (flattened: `overdue`, `closure_rate`, ... beside `counters`).
    #[serde(flatten)]
    pub figures: FiguresJson,
    /// For the root only: the lights of its own open cases whose handling clock runs.
    pub lights: Option<LightsJson>,
    /// How fresh its last rollup is (None for the root, whose figures are live).
    pub freshness: Option<FreshnessJson>,
}

/// Every node of the subtree with its figures, read at one moment from this replica's store.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TreeJson {
    pub node: String,
    pub from: String,
    pub to: String,
    /// Parents before children, by code.
    pub nodes: Vec<TreeNodeJson>,
    /// When the figures were read (ms since the epoch).
    pub at_ms: i64,
}

/// Range and scope of the figures.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// YYYY-MM-DD, inclusive, by report day (Beijing time); default: from the start.
    pub from: Option<String>,
    /// YYYY-MM-DD, inclusive; default: today.
    pub to: Option<String>,
    /// A node or grid of the subtree (subtree endpoints only); default: this node's whole subtree.
    pub scope: Option<String>,
}

/// One day of a series.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayJson {
    /// YYYY-MM-DD (Beijing time).
    pub day: String,
    /// Reported that day.
    pub total: i64,
    pub registered: i64,
    pub handled: i64,
    pub closed: i64,
    pub closed_on_time: i64,
    pub returned: i64,
    pub cancelled: i64,
}

/// Daily intake and closures by report day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesJson {
    pub scope: String,
    pub days: Vec<DayJson>,
}

/// A functional department (吹哨).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentJson {
    pub name: String,
    pub deadline_hours: u32,
}

/// A category of the national classification.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryJson {
    pub code: String,
    /// event | component | social
    pub kind: String,
    pub major: String,
    pub minor: String,
}

/// One federation link, as the leader sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkJson {
    pub peer: String,
    pub peer_name: String,
    /// parent | child
    pub relation: String,
    /// up | down | never
    pub state: String,
    pub last_success_ms: Option<i64>,
    /// Messages waiting in the outbox.
    pub backlog: u64,
    pub oldest_queued_ms: Option<i64>,
    /// Age of the oldest waiting message at the time of the answer.
    pub oldest_age_ms: Option<i64>,
    pub last_error: String,
    pub last_rollup_ms: Option<i64>,
}

/// The node's links.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinksJson {
    pub node: String,
    pub links: Vec<LinkJson>,
}

impl LinksJson {
    /// From a gRPC answer read at `now`.
    pub fn from_pb(r: &pb::LinksResponse, now: i64) -> LinksJson {
        LinksJson {
            node: r.node.clone(),
            links: r
                .links
                .iter()
                .map(|l| LinkJson {
                    peer: l.peer.clone(),
                    peer_name: l.peer_name.clone(),
                    relation: l.relation.clone(),
                    state: l.state.clone(),
                    last_success_ms: l.last_success_ms,
                    backlog: l.backlog,
                    oldest_queued_ms: l.oldest_queued_ms,
                    oldest_age_ms: l.oldest_queued_ms.map(|t| crate::clock::age_ms(now, t)),
                    last_error: l.last_error.clone(),
                    last_rollup_ms: l.last_rollup_ms,
                })
                .collect(),
        }
    }
}

/// One replica of the node.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplicaJson {
    pub id: u64,
    pub addr: String,
    pub voter: bool,
    /// Highest log index the leader knows it holds.
    pub matched: Option<u64>,
}

/// The node's Raft group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterJson {
    pub node: String,
    pub name: String,
    pub answered_by: u64,
    pub role: String,
    pub leader: Option<u64>,
    pub leader_addr: String,
    pub term: u64,
    pub last_log_index: u64,
    pub last_applied: u64,
    pub replicas: Vec<ReplicaJson>,
}

impl From<&pb::StatusResponse> for ClusterJson {
    fn from(s: &pb::StatusResponse) -> ClusterJson {
        ClusterJson {
            node: s.node.clone(),
            name: s.name.clone(),
            answered_by: s.answered_by,
            role: s.role.clone(),
            leader: s.leader,
            leader_addr: s.leader_addr.clone(),
            term: s.term,
            last_log_index: s.last_log_index,
            last_applied: s.last_applied,
            replicas: s
                .replicas
                .iter()
                .map(|r| ReplicaJson { id: r.id, addr: r.addr.clone(), voter: r.voter, matched: r.matched })
                .collect(),
        }
    }
}

/// The body of `POST /api/v1/session`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SessionBody {
    /// An access token, `gft_<id>_<secret>`.
    pub token: String,
}

/// Who the caller is on this node.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WhoAmI {
    /// This node.
    pub node: String,
    pub node_name: String,
    /// certificate | token | none (a replica run with --insecure)
    pub via: String,
    /// The subtree the caller may see.
    pub scope: Option<String>,
    /// viewer | operator
    pub role: String,
    /// When the session's token expires.
    pub expires_at_ms: Option<i64>,
}

/// `/readyz` and `/healthz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProbeJson {
    pub ready: bool,
    pub node: String,
    pub replica: u64,
    pub role: String,
    pub leader: Option<u64>,
    pub term: u64,
    pub committed: u64,
    pub applied: u64,
    pub last_log: u64,
    /// Why it is not ready.
    pub reasons: Vec<String>,
}
