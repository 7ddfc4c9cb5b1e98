//! Conversions of the patrol log (`patrol.proto`) to and from `federation::people::patrol`.

use federation::code::{Code, Level};
use federation::machine::PatrolOp;
use federation::people::{Patrol, PatrolId, Point, RoutePoint};
use federation::stats::{day_of, format_day};

use crate::convert::ConvertError;
use crate::v1 as pb;

fn invalid(e: impl std::fmt::Display, field: &str) -> ConvertError {
    ConvertError::Invalid { field: field.to_string(), message: e.to_string() }
}

/// Parses patrol id `value`, naming `field`.
pub fn patrol_id(field: &str, value: &str) -> Result<PatrolId, ConvertError> {
    PatrolId::parse(field, value.trim()).map_err(|e| invalid(e, field))
}

/// Parses an optional patrol id (empty: none), naming `field`.
pub fn patrol_id_opt(field: &str, value: &str) -> Result<Option<PatrolId>, ConvertError> {
    match value.trim() {
        "" => Ok(None),
        v => patrol_id(field, v).map(Some),
    }
}

/// `p` on the wire.
pub fn patrol_to_pb(p: &Patrol) -> pb::Patrol {
    pb::Patrol {
        id: p.id.to_string(),
        worker: p.worker.to_string(),
        grid: p.grid.to_string(),
        started_at_ms: p.started_at,
        ended_at_ms: p.ended_at,
        route: p
            .route
            .iter()
            .map(|r| pb::RoutePoint { lat: r.point.lat, lon: r.point.lon, at_ms: r.at })
            .collect(),
        day: format_day(day_of(p.started_at)),
    }
}

/// The step a `StartPatrolRequest` asks for.
pub fn start_from_pb(m: &pb::StartPatrolRequest) -> Result<PatrolOp, ConvertError> {
    Ok(PatrolOp::Start {
        worker: crate::people::worker_id("worker", m.worker.trim())?,
        grid: Code::parse_level("grid", m.grid.trim(), Level::Grid)?,
    })
}

/// The step an `EndPatrolRequest` asks for, its route converted to WGS-84 from `crs`.
pub fn end_from_pb(m: &pb::EndPatrolRequest) -> Result<PatrolOp, ConvertError> {
    let crs = crate::intake::crs_from_str("crs", &m.crs)?;
    let route = m
        .route
        .iter()
        .map(|r| {
            let (lat, lon) = if r.lat.is_finite() && r.lon.is_finite() {
                crs.to_wgs84(r.lat, r.lon)
            } else {
                (r.lat, r.lon)
            };
            RoutePoint { point: Point { lat, lon }, at: r.at_ms }
        })
        .collect();
    Ok(PatrolOp::End { id: patrol_id("id", &m.id)?, route })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<PatrolOp, ConvertError>) -> String {
        match r {
            Err(ConvertError::Invalid { field, .. }) => field,
            Err(ConvertError::Code(e)) => e.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_steps_name_their_field() {
        let ok =
            pb::StartPatrolRequest { worker: "W370102001001-002".into(), grid: "370102001001001".into() };
        assert!(matches!(start_from_pb(&ok), Ok(PatrolOp::Start { .. })));
        assert_eq!(
            field(start_from_pb(&pb::StartPatrolRequest { worker: "W1".into(), ..ok.clone() })),
            "worker"
        );
        assert!(field(start_from_pb(&pb::StartPatrolRequest { grid: "370102001001".into(), ..ok }))
            .starts_with("grid"));
        let end = pb::EndPatrolRequest { id: "P370102001001-12".into(), route: vec![], crs: String::new() };
        assert_eq!(field(end_from_pb(&end)), "id");
        let end = pb::EndPatrolRequest { id: "P370102001001-000012".into(), crs: "bd09".into(), ..end };
        assert_eq!(field(end_from_pb(&end)), "crs");
        assert_eq!(patrol_id_opt("patrol_id", " ").unwrap(), None);
    }

    #[test]
    fn a_route_from_a_map_app_is_kept_in_wgs84() {
        let (lat, lon) = federation::geo::wgs84_to_gcj02(36.661, 117.041);
        let m = pb::EndPatrolRequest {
            id: "P370102001001-000001".into(),
            route: vec![pb::RoutePoint { lat, lon, at_ms: 7 }],
            crs: "gcj02".into(),
        };
        let Ok(PatrolOp::End { route, .. }) = end_from_pb(&m) else { panic!() };
        assert!((route[0].point.lat - 36.661).abs() < 1e-5 && (route[0].point.lon - 117.041).abs() < 1e-5);
        assert_eq!(route[0].at, 7);
    }
}
