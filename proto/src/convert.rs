//! Protobuf <-> domain conversions. Every conversion from the wire validates and names the field at fault.

use federation::case::{AuditEntry, Case, CaseState, Handler, HandlerKind, Location, Priority, Source};
use federation::category::{Catalog, CategoryError};
use federation::code::{Code, CodeError, Level};
use federation::deadline::DeadlinePolicy;
use federation::link::{Body, Envelope};
use federation::machine::NewCase;
use federation::stats::{Counters, Report};
use federation::tally::{Freshness, Tally, TallyKey};
use federation::workflow::{Action, Step};

use crate::v1 as pb;

/// A message from the wire that does not make a valid domain value.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A field is missing or its value is refused; `message` starts with the field's name.
    #[error("{message}")]
    Invalid {
        /// The field at fault, with its path in the message (`entries.day`, `photos[0].kind`).
        field: String,
        /// The whole refusal, `field: reason`, as shown to the caller.
        message: String,
    },
    /// A division code field (node, grid, owner) is malformed or of the wrong level.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// A category is unknown or ambiguous in the node's catalogue.
    #[error(transparent)]
    Category(#[from] CategoryError),
}

impl ConvertError {
    fn from_domain(e: federation::field::FieldError) -> ConvertError {
        ConvertError::Invalid { message: e.to_string(), field: e.field }
    }

    fn missing(field: &str, what: &str) -> ConvertError {
        ConvertError::Invalid { field: field.to_string(), message: format!("{field}: {what}") }
    }
}

fn opt_str(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn location_to_pb(l: &Location) -> pb::Location {
    pb::Location { lat: l.lat, lon: l.lon, address: l.address.clone() }
}

fn location_from_pb(l: pb::Location) -> Option<Location> {
    if l.lat.is_none() && l.lon.is_none() && l.address.is_empty() {
        None
    } else {
        Some(Location { lat: l.lat, lon: l.lon, address: l.address })
    }
}

fn handler_from_pb(field: &str, h: pb::Handler) -> Result<Handler, ConvertError> {
    let kind = HandlerKind::parse(&format!("{field}.kind"), &h.kind).map_err(ConvertError::from_domain)?;
    Ok(Handler { kind, name: h.name })
}

/// A domain case as sent on the wire, with its category label resolved from `catalog`.
pub fn case_to_pb(c: &Case, catalog: &Catalog) -> pb::Case {
    let mut p = core_case_to_pb(c, catalog);
    crate::intake::intake_to_pb(&c.intake, &mut p);
    p
}

fn core_case_to_pb(c: &Case, catalog: &Catalog) -> pb::Case {
    pb::Case {
        id: c.id.clone(),
        grid: c.grid.to_string(),
        category: c.category.clone(),
        category_label: catalog.get(&c.category).map(|k| k.label()).unwrap_or_default(),
        source: c.source.as_str().into(),
        title: c.title.clone(),
        description: c.description.clone(),
        location: c.location.as_ref().map(location_to_pb),
        reporter: c.reporter.clone(),
        priority: c.priority.as_str().into(),
        origin: c.origin.to_string(),
        owner: c.owner.to_string(),
        version: c.version,
        state: c.state.as_str().into(),
        suspended_from: c.suspended_from.map(|s| s.as_str().to_string()).unwrap_or_default(),
        handler: c
            .handler
            .as_ref()
            .map(|h| pb::Handler { kind: h.kind.as_str().into(), name: h.name.clone() }),
        reported_at_ms: c.reported_at,
        registered_at_ms: c.registered_at,
        dispatched_at_ms: c.dispatched_at,
        handled_at_ms: c.handled_at,
        closed_at_ms: c.closed_at,
        suspended_at_ms: c.suspended_at,
        register_due_ms: c.register_due,
        due_at_ms: c.due_at,
        overall_due_ms: c.overall_due,
        on_site_at_ms: c.on_site.as_ref().map(|o| o.at),
        on_site_lat: c.on_site.as_ref().and_then(|o| o.point).map(|p| p.0),
        on_site_lon: c.on_site.as_ref().and_then(|o| o.point).map(|p| p.1),
        urges: c.urges,
        supervised: c.supervised,
        returns: c.returns,
        extensions: c.extensions,
        epoch: c.epoch,
        watchers: c.watchers.iter().map(|w| w.to_string()).collect(),
        light: String::new(),
        micro_grid: String::new(),
        photos: Vec::new(),
        media_url: String::new(),
        channel: String::new(),
        owner_name: String::new(),
        patrol_id: String::new(),
        audit: c
            .audit
            .iter()
            .map(|a| pb::AuditEntry {
                at_ms: a.at,
                actor: a.actor.clone(),
                action: a.action.clone(),
                from_state: a.from.map(|s| s.as_str().to_string()).unwrap_or_default(),
                to_state: a.to.as_str().into(),
                note: a.note.clone(),
                by: a.by.clone(),
            })
            .collect(),
    }
}

fn state(field: &str, s: &str) -> Result<CaseState, ConvertError> {
    CaseState::parse(field, s).map_err(ConvertError::from_domain)
}

/// A case from the wire (as a client receives it).
pub fn case_from_pb(mut p: pb::Case) -> Result<Case, ConvertError> {
    let intake = crate::intake::intake_from_pb(&mut p)?;
    let audit = p
        .audit
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            Ok(AuditEntry {
                at: a.at_ms,
                actor: a.actor,
                action: a.action,
                from: match a.from_state.as_str() {
                    "" => None,
                    s => Some(state(&format!("audit[{i}].from_state"), s)?),
                },
                to: state(&format!("audit[{i}].to_state"), &a.to_state)?,
                note: a.note,
                by: a.by,
            })
        })
        .collect::<Result<Vec<_>, ConvertError>>()?;
    Ok(Case {
        id: p.id,
        grid: Code::parse("grid", &p.grid)?,
        category: p.category,
        source: Source::parse("source", &p.source).map_err(ConvertError::from_domain)?,
        title: p.title,
        description: p.description,
        location: p.location.and_then(location_from_pb),
        reporter: p.reporter,
        priority: Priority::parse("priority", &p.priority).map_err(ConvertError::from_domain)?,
        origin: Code::parse("origin", &p.origin)?,
        owner: Code::parse("owner", &p.owner)?,
        version: p.version,
        state: state("state", &p.state)?,
        suspended_from: opt_str(&p.suspended_from).map(|s| state("suspended_from", s)).transpose()?,
        handler: p.handler.map(|h| handler_from_pb("handler", h)).transpose()?,
        reported_at: p.reported_at_ms,
        registered_at: p.registered_at_ms,
        dispatched_at: p.dispatched_at_ms,
        handled_at: p.handled_at_ms,
        closed_at: p.closed_at_ms,
        suspended_at: p.suspended_at_ms,
        register_due: p.register_due_ms,
        due_at: p.due_at_ms,
        returns: p.returns,
        extensions: p.extensions,
        epoch: p.epoch,
        watchers: p
            .watchers
            .iter()
            .enumerate()
            .map(|(i, w)| Code::parse(&format!("watchers[{i}]"), w))
            .collect::<Result<_, _>>()?,
        audit,
        intake,
        // pb::Case has no overall deadline: a case handed over from another node arrives without one,
        // and its next dispatch there sets it afresh (as for every case before the field existed).
        overall_due: p.overall_due_ms,
        on_site: p
            .on_site_at_ms
            .map(|at| federation::case::OnSite { at, point: p.on_site_lat.zip(p.on_site_lon) }),
        urges: p.urges,
        supervised: p.supervised,
    })
}

/// A case as a reader sees it at `now`: with the traffic light of its current step under `policy`.
pub fn case_to_pb_at(c: &Case, catalog: &Catalog, now: i64, policy: &DeadlinePolicy) -> pb::Case {
    let mut p = case_to_pb(c, catalog);
    p.light = c.light(now, policy).map(|l| l.as_str().to_string()).unwrap_or_default();
    p
}

/// A report request as a domain `NewCase`; the category may be given by code, label or minor class.
/// Without a grid the case is located by its point, converted here to WGS-84 from `crs`.
pub fn new_case_from_pb(r: pb::ReportRequest, catalog: &Catalog) -> Result<NewCase, ConvertError> {
    let grid = match r.grid.as_str() {
        "" => None,
        g => Some(Code::parse_level("grid", g, Level::Grid)?),
    };
    let crs = crate::intake::crs_from_str("crs", &r.crs)?;
    let mut location = r.location.and_then(location_from_pb);
    if let Some(Location { lat: Some(lat), lon: Some(lon), .. }) = location.as_mut() {
        if lat.is_finite() && lon.is_finite() {
            (*lat, *lon) = crs.to_wgs84(*lat, *lon);
        }
    }
    let within = match r.within.as_str() {
        "" => None,
        w => Some(Code::parse("within", w)?),
    };
    let category = catalog.resolve("category", &r.category)?.code.clone();
    let source = Source::parse("source", &r.source).map_err(ConvertError::from_domain)?;
    let priority = match r.priority.as_str() {
        "" => Priority::Normal,
        p => Priority::parse("priority", p).map_err(ConvertError::from_domain)?,
    };
    Ok(NewCase {
        request_id: r.request_id.filter(|s| !s.is_empty()),
        grid,
        category,
        source,
        title: r.title,
        description: r.description,
        location,
        reporter: r.reporter,
        priority,
        // The node fills it in from the authenticated caller.
        by: String::new(),
        intake: federation::intake::Intake {
            photos: crate::intake::photos_from_pb("photos", r.photos)?,
            media_url: (!r.media_url.is_empty()).then_some(r.media_url),
            channel: (!r.channel.is_empty()).then_some(r.channel),
            patrol: crate::patrol::patrol_id_opt("patrol_id", &r.patrol_id)?,
            ..Default::default()
        },
        within,
    })
}

/// An act request as (case id, domain step).
pub fn step_from_pb(r: pb::ActRequest) -> Result<(String, Step), ConvertError> {
    if r.case_id.is_empty() {
        return Err(ConvertError::missing("case_id", "must not be empty"));
    }
    let action = match r.action.as_str() {
        "register" => Action::Register,
        "cancel" => Action::Cancel,
        "dispatch" => {
            let h = r.handler.ok_or_else(|| {
                ConvertError::missing("handler", "dispatch needs a handler (kind and name)")
            })?;
            Action::Dispatch { handler: handler_from_pb("handler", h)? }
        }
        "arrive" => Action::Arrive,
        "urge" => Action::Urge,
        "start" => Action::Start,
        "handled" => Action::Handled,
        "close" => Action::Close,
        "return" => Action::Return,
        "suspend" => Action::Suspend,
        "resume" => Action::Resume,
        "extend" => Action::Extend {
            new_due: r
                .new_due_ms
                .ok_or_else(|| ConvertError::missing("new_due", "extend needs a new deadline"))?,
        },
        "escalate" => Action::Escalate,
        "send_down" => {
            if r.to.is_empty() {
                return Err(ConvertError::missing(
                    "to",
                    "send_down needs the node below that takes the case",
                ));
            }
            Action::SendDown { to: Code::parse_node("to", &r.to)? }
        }
        other => {
            return Err(ConvertError::Invalid {
                field: "action".into(),
                message: format!(
                    "action: unknown action {other:?}; expected one of {}",
                    Action::NAMES.join(", ")
                ),
            })
        }
    };
    // `by` is the node's to fill in from the authenticated caller, never the client's.
    let step = Step {
        action,
        actor: r.actor,
        note: r.note,
        expected_version: r.expected_version,
        by: String::new(),
    };
    Ok((r.case_id, step))
}

/// An act request for `step` on `case_id` (what a client sends).
pub fn step_to_pb(case_id: &str, step: &Step) -> pb::ActRequest {
    let (handler, new_due_ms, to) = match &step.action {
        Action::Dispatch { handler } => {
            (Some(pb::Handler { kind: handler.kind.as_str().into(), name: handler.name.clone() }), None, "")
        }
        Action::Extend { new_due } => (None, Some(*new_due), ""),
        Action::SendDown { to } => (None, None, to.as_str()),
        _ => (None, None, ""),
    };
    pb::ActRequest {
        case_id: case_id.to_string(),
        action: step.action.name().into(),
        actor: step.actor.clone(),
        note: step.note.clone(),
        expected_version: step.expected_version,
        handler,
        new_due_ms,
        to: to.to_string(),
        grid: String::new(),
        photos: Vec::new(),
        lat: None,
        lon: None,
        crs: String::new(),
    }
}

/// The check-in point of an act request (`lat`, `lon` in `crs`), in WGS-84; None when not given.
pub fn point_from_pb(r: &pb::ActRequest) -> Result<Option<(f64, f64)>, ConvertError> {
    match (r.lat, r.lon) {
        (None, None) => Ok(None),
        (Some(lat), Some(lon)) => {
            let crs = crate::intake::crs_from_str("crs", &r.crs)?;
            Ok(Some(crs.to_wgs84(lat, lon)))
        }
        (Some(_), None) => Err(ConvertError::missing("lon", "lat and lon go together")),
        (None, Some(_)) => Err(ConvertError::missing("lat", "lat and lon go together")),
    }
}

/// Statistics on the wire.
pub fn stats_to_pb(node: &str, from: &str, to: &str, r: &Report) -> pb::Stats {
    pb::Stats {
        node: node.into(),
        from: from.into(),
        to: to.into(),
        counters: Some(counters_to_pb(&r.counters)),
        overdue: r.overdue,
        closure_rate: r.closure_rate,
        on_time_closure_rate: r.on_time_closure_rate,
        rework_rate: r.rework_rate,
        on_time_registration_rate: r.on_time_registration_rate,
        closed_late: r.closed_late,
        handling_rate: r.handling_rate,
        extension_rate: r.extension_rate,
        on_site_rate: r.on_site_rate,
        self_handled_rate: r.self_handled_rate,
    }
}

/// Statistics from the wire; rates are recomputed from the counts.
pub fn stats_from_pb(s: pb::Stats) -> Report {
    Report::new(s.counters.map(counters_from_pb).unwrap_or_default(), s.overdue)
}

/// Tally counters on the wire.
pub fn counters_to_pb(c: &Counters) -> pb::Counters {
    pb::Counters {
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

/// Tally counters from the wire, as sent: not checked here (the receiver bounds them with
/// `federation::bounds::check_counters`).
pub fn counters_from_pb(c: pb::Counters) -> Counters {
    Counters {
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
        by_state: c.by_state.into_iter().collect(),
        by_category: c.by_category.into_iter().collect(),
        by_grid: c.by_grid.into_iter().collect(),
        by_department: c.by_department.into_iter().collect(),
    }
}

/// One tally entry of a rollup on the wire: owner, report day, grid, version and counters.
pub fn tally_to_pb(k: &TallyKey, t: &Tally) -> pb::TallyEntry {
    pb::TallyEntry {
        owner: k.owner.to_string(),
        day: k.day,
        grid: k.grid.to_string(),
        version: t.version,
        counters: Some(counters_to_pb(&t.counters)),
    }
}

/// A tally entry from the wire: the owner must be a node code, the grid a 15-digit grid code and the day
/// within 0 to 200000 (days since 1970-01-01); missing counters read as zero.
pub fn tally_from_pb(e: pb::TallyEntry) -> Result<(TallyKey, Tally), ConvertError> {
    let key = TallyKey {
        owner: Code::parse_node("entries.owner", &e.owner)?,
        day: e.day,
        grid: Code::parse_level("entries.grid", &e.grid, Level::Grid)?,
    };
    if !(0..=200_000).contains(&e.day) {
        return Err(ConvertError::missing("entries.day", "is out of range"));
    }
    Ok((key, Tally { version: e.version, counters: e.counters.map(counters_from_pb).unwrap_or_default() }))
}

/// How fresh one node of a subtree is, on the wire.
pub fn freshness_to_pb(f: &Freshness) -> pb::Freshness {
    pb::Freshness {
        node: f.node.to_string(),
        version: f.version,
        produced_at_ms: f.produced_at,
        overdue: f.overdue,
    }
}

/// A freshness record from the wire; the node must be a district, street or community code.
pub fn freshness_from_pb(f: pb::Freshness) -> Result<Freshness, ConvertError> {
    Ok(Freshness {
        node: Code::parse_node("fresh.node", &f.node)?,
        version: f.version,
        produced_at: f.produced_at_ms,
        overdue: f.overdue,
    })
}

/// A message between nodes on the wire, its case (if any) with the category label from `catalog`.
pub fn envelope_to_pb(e: &Envelope, catalog: &Catalog) -> pb::Envelope {
    use pb::envelope::Body as B;
    pb::Envelope {
        origin: e.origin.to_string(),
        to: e.to.to_string(),
        queued_at_ms: e.queued_at,
        body: Some(match &e.body {
            Body::Transfer { case } => B::Transfer(case_to_pb(case, catalog)),
            Body::Status { case } => B::Status(case_to_pb(case, catalog)),
            Body::Boundaries { set } => B::Boundaries(crate::intake::grid_set_to_pb(set)),
        }),
    }
}

/// A message between nodes from the wire: origin and destination must be node codes, and the body
/// one of transfer, status or boundaries, each converted and checked as its own type.
pub fn envelope_from_pb(e: pb::Envelope) -> Result<Envelope, ConvertError> {
    use pb::envelope::Body as B;
    let body = match e.body {
        Some(B::Transfer(c)) => Body::Transfer { case: Box::new(case_from_pb(c)?) },
        Some(B::Status(c)) => Body::Status { case: Box::new(case_from_pb(c)?) },
        Some(B::Boundaries(s)) => Body::Boundaries { set: Box::new(crate::intake::grid_set_from_pb(s)?) },
        None => return Err(ConvertError::missing("envelope.body", "a transfer or a status is required")),
    };
    Ok(Envelope {
        origin: Code::parse_node("envelope.origin", &e.origin)?,
        to: Code::parse_node("envelope.to", &e.to)?,
        queued_at: e.queued_at_ms,
        body,
    })
}

/// The category catalog on the wire.
pub fn categories_to_pb(catalog: &Catalog) -> Vec<pb::Category> {
    catalog
        .all()
        .iter()
        .map(|c| pb::Category {
            code: c.code.clone(),
            kind: c.kind.to_string(),
            major: c.major.clone(),
            minor: c.minor.clone(),
        })
        .collect()
}

/// An access token as listed (never its secret nor its hash).
pub fn token_to_pb(t: &federation::access::AccessToken) -> pb::AccessToken {
    pb::AccessToken {
        id: t.id.clone(),
        name: t.name.clone(),
        scope: t.scope.to_string(),
        role: t.role.as_str().to_string(),
        created_at_ms: t.created_at,
        expires_at_ms: t.expires_at,
        created_by: t.created_by.clone(),
        revoked_at_ms: t.revoked_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> pb::ReportRequest {
        pb::ReportRequest {
            request_id: Some("r-1".into()),
            grid: "370102001001002".into(),
            category: "市容环境/暴露垃圾".into(),
            source: "hotline".into(),
            title: "小区门口垃圾堆积".into(),
            description: String::new(),
            location: Some(pb::Location {
                lat: Some(36.67),
                lon: Some(117.02),
                address: "文化东路 59 号".into(),
            }),
            reporter: "市民李女士".into(),
            priority: String::new(),
            ..Default::default()
        }
    }

    #[test]
    fn report_request_converts_and_names_bad_fields() {
        let cat = Catalog::standard();
        let n = new_case_from_pb(report(), cat).unwrap();
        assert_eq!(n.priority, Priority::Normal);
        assert_eq!(cat.get(&n.category).map(|c| c.minor.as_str()), Some("暴露垃圾"));
        let mut bad = report();
        bad.grid = "370102001001".into();
        let e = new_case_from_pb(bad, cat).unwrap_err().to_string();
        assert!(e.starts_with("grid:"), "{e}");
        let mut bad = report();
        bad.source = "fax".into();
        assert!(new_case_from_pb(bad, cat).unwrap_err().to_string().starts_with("source:"));
        let mut bad = report();
        bad.category = "不存在".into();
        assert!(new_case_from_pb(bad, cat).unwrap_err().to_string().contains("category"));
        // Without a grid, by a GCJ-02 point: kept in WGS-84.
        let mut by_place = report();
        by_place.grid = String::new();
        by_place.crs = "gcj02".into();
        let n = new_case_from_pb(by_place, cat).unwrap();
        let (lat, lon) = n.point().unwrap();
        assert_eq!(n.grid, None);
        assert!(
            (lat - 36.67).abs() > 1e-4 && (lat - 36.67).abs() < 0.01 && (lon - 117.02).abs() < 0.01,
            "{lat} {lon}"
        );
        let mut bad = report();
        bad.crs = "bd09".into();
        assert!(new_case_from_pb(bad, cat).unwrap_err().to_string().starts_with("crs:"));
    }

    #[test]
    fn step_roundtrips() {
        let step = Step {
            action: Action::Dispatch {
                handler: Handler { kind: HandlerKind::Department, name: "城管".into() },
            },
            actor: "指挥中心".into(),
            note: "吹哨".into(),
            expected_version: Some(3),
            by: String::new(),
        };
        let (id, back) = step_from_pb(step_to_pb("c-1", &step)).unwrap();
        assert_eq!((id.as_str(), back), ("c-1", step));
        let mut bad = step_to_pb(
            "c-1",
            &Step {
                action: Action::Close,
                actor: "a".into(),
                note: String::new(),
                expected_version: None,
                by: String::new(),
            },
        );
        bad.action = "archive".into();
        assert!(step_from_pb(bad).unwrap_err().to_string().starts_with("action: unknown action"));
    }
}
