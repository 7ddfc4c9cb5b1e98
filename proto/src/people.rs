//! Conversions of the roster (`staff.proto`) to and from `federation::people`.

use federation::geo::PlaceCode;
use federation::machine::StaffOp;
use federation::people::{Phone, Role, Worker, WorkerId};

use crate::convert::ConvertError;
use crate::v1 as pb;

fn invalid(e: impl std::fmt::Display, field: &str) -> ConvertError {
    ConvertError::Invalid { field: field.to_string(), message: e.to_string() }
}

/// `worker` as listed; `phone` decides what of the number is shown (full or masked).
pub fn worker_to_pb(worker: &Worker, phone: impl Fn(&Phone) -> String) -> pb::Worker {
    pb::Worker {
        id: worker.id.to_string(),
        name: worker.name.clone(),
        role: worker.role.as_str().to_string(),
        role_zh: worker.role.zh().to_string(),
        phone: phone(&worker.phone),
        places: worker.places.iter().map(ToString::to_string).collect(),
        active: worker.active,
    }
}

/// Parses worker id `value`, naming `field`.
pub fn worker_id(field: &str, value: &str) -> Result<WorkerId, ConvertError> {
    WorkerId::parse(field, value).map_err(|e| invalid(e, field))
}

/// Parses a place code (a grid or a micro-grid), naming `field`.
pub fn place(field: &str, value: &str) -> Result<PlaceCode, ConvertError> {
    PlaceCode::parse(field, value.trim()).map_err(|e| invalid(e, field))
}

/// Parses place codes (grids and micro-grids), naming `field[i]`.
pub fn places(field: &str, values: &[String]) -> Result<Vec<PlaceCode>, ConvertError> {
    values.iter().enumerate().map(|(i, v)| place(&format!("{field}[{i}]"), v)).collect()
}

/// The roster change an `AddWorkerRequest` asks for.
pub fn add_from_pb(m: pb::AddWorkerRequest) -> Result<StaffOp, ConvertError> {
    Ok(StaffOp::Add {
        name: m.name.trim().to_string(),
        role: Role::parse("role", m.role.trim()).map_err(|e| invalid(e, "role"))?,
        phone: Phone::parse("phone", m.phone.trim()).map_err(|e| invalid(e, "phone"))?,
        places: places("places", &m.places)?,
    })
}

/// The roster change an `ImportWorkersRequest` asks for.
pub fn import_from_pb(m: pb::ImportWorkersRequest) -> StaffOp {
    StaffOp::Import { rows: m.rows.into_iter().map(|r| r.cells).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_add_names_its_field() {
        let ok = pb::AddWorkerRequest {
            name: "刘晓燕".into(),
            role: "网格长".into(),
            phone: "13812341234".into(),
            places: vec!["370102001001001".into()],
        };
        assert!(matches!(add_from_pb(ok.clone()), Ok(StaffOp::Add { role: Role::GridLeader, .. })));
        let bad = |m: pb::AddWorkerRequest| match add_from_pb(m) {
            Err(ConvertError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(bad(pb::AddWorkerRequest { role: "队长".into(), ..ok.clone() }), "role");
        assert_eq!(bad(pb::AddWorkerRequest { phone: "12345".into(), ..ok.clone() }), "phone");
        assert_eq!(
            bad(pb::AddWorkerRequest { places: vec!["370102001001001".into(), "37010".into()], ..ok }),
            "places[1]"
        );
    }

    #[test]
    fn a_listed_worker_shows_the_phone_as_asked() {
        let w = Worker {
            id: WorkerId::parse("id", "W370102001001-007").unwrap(),
            name: "刘晓燕".into(),
            role: Role::FullTime,
            phone: Phone::parse("phone", "13812341234").unwrap(),
            places: places("p", &["370102001001001-03".into()]).unwrap().into_iter().collect(),
            active: true,
        };
        let p = worker_to_pb(&w, Phone::masked);
        assert_eq!(
            (p.id.as_str(), p.role_zh.as_str(), p.phone.as_str()),
            ("W370102001001-007", "专职网格员", "138****1234")
        );
        assert_eq!(p.places, vec!["370102001001001-03"]);
    }
}
