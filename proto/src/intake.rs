//! Protobuf <-> domain conversions of intake: photos, what a case records beyond its core fields, grid
//! boundaries (as they travel down the federation and as they are listed) and their versions.

use federation::code::Code;
use federation::geo::{Crs, PlaceCode, Shape, StoredMap, StoredPlace};
use federation::grids::{GridSet, MapVersion};
use federation::intake::photo::ImageType;
use federation::intake::{Intake, Photo, PhotoKind};

use crate::convert::ConvertError;
use crate::v1 as pb;

fn invalid(field: &str, message: impl Into<String>) -> ConvertError {
    ConvertError::Invalid { field: field.to_string(), message: message.into() }
}

/// The datum of a coordinate: `wgs84` (also empty) or `gcj02`.
pub fn crs_from_str(field: &str, s: &str) -> Result<Crs, ConvertError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "wgs84" | "wgs-84" => Ok(Crs::Wgs84),
        "gcj02" | "gcj-02" => Ok(Crs::Gcj02),
        other => Err(invalid(field, format!("{field}: {other:?} is not a datum; expected wgs84 or gcj02"))),
    }
}

/// A photo's metadata on the wire (an empty `home` when no node stored it yet).
pub fn photo_to_pb(p: &Photo) -> pb::Photo {
    pb::Photo {
        sha256: p.sha256.clone(),
        kind: p.kind.as_str().to_string(),
        content_type: p.content_type.mime().to_string(),
        bytes: p.bytes,
        width: p.width,
        height: p.height,
        home: p.home.as_ref().map(|h| h.to_string()).unwrap_or_default(),
        at_ms: p.at,
    }
}

/// A photo's metadata from the wire, naming fields under `field`: kind and content type are parsed, the
/// home must be a node code; hash and sizes are checked later, by `Photo::check`.
pub fn photo_from_pb(field: &str, p: pb::Photo) -> Result<Photo, ConvertError> {
    let kind_field = format!("{field}.kind");
    let type_field = format!("{field}.content_type");
    Ok(Photo {
        sha256: p.sha256,
        kind: PhotoKind::parse(&kind_field, &p.kind).map_err(|m| invalid(&kind_field, m))?,
        content_type: ImageType::parse(&type_field, &p.content_type).map_err(|m| invalid(&type_field, m))?,
        bytes: p.bytes,
        width: p.width,
        height: p.height,
        home: match p.home.as_str() {
            "" => None,
            h => Some(Code::parse_node(&format!("{field}.home"), h)?),
        },
        at: p.at_ms,
    })
}

/// Every photo of a list from the wire, named `field[i]`; the first refusal is returned.
pub fn photos_from_pb(field: &str, photos: Vec<pb::Photo>) -> Result<Vec<Photo>, ConvertError> {
    photos.into_iter().enumerate().map(|(i, p)| photo_from_pb(&format!("{field}[{i}]"), p)).collect()
}

fn place_code(field: &str, s: &str) -> Result<PlaceCode, ConvertError> {
    PlaceCode::parse(field, s).map_err(|e| invalid(field, e.to_string()))
}

/// Sets a case's intake fields on the wire.
pub fn intake_to_pb(i: &Intake, p: &mut pb::Case) {
    p.micro_grid = i.micro.as_ref().map(|m| m.to_string()).unwrap_or_default();
    p.photos = i.photos.iter().map(photo_to_pb).collect();
    p.media_url = i.media_url.clone().unwrap_or_default();
    p.channel = i.channel.clone().unwrap_or_default();
    p.owner_name = i.owner_name.clone();
    p.patrol_id = i.patrol.as_ref().map(ToString::to_string).unwrap_or_default();
}

/// A case's intake fields from the wire.
pub fn intake_from_pb(p: &mut pb::Case) -> Result<Intake, ConvertError> {
    let opt = |s: &mut String| (!s.is_empty()).then(|| std::mem::take(s));
    Ok(Intake {
        micro: match p.micro_grid.as_str() {
            "" => None,
            m => Some(place_code("micro_grid", m)?),
        },
        photos: photos_from_pb("photos", std::mem::take(&mut p.photos))?,
        media_url: opt(&mut p.media_url),
        channel: opt(&mut p.channel),
        owner_name: std::mem::take(&mut p.owner_name),
        patrol: crate::patrol::patrol_id_opt("patrol_id", &p.patrol_id)?,
    })
}

/// A checked new case as the report request that makes it again at the leader (its point in WGS-84).
pub fn new_case_to_pb(n: &federation::machine::NewCase) -> pb::ReportRequest {
    pb::ReportRequest {
        request_id: n.request_id.clone(),
        grid: n.grid.as_ref().map(|g| g.to_string()).unwrap_or_default(),
        category: n.category.clone(),
        source: n.source.as_str().to_string(),
        title: n.title.clone(),
        description: n.description.clone(),
        location: n.location.as_ref().map(|l| pb::Location {
            lat: l.lat,
            lon: l.lon,
            address: l.address.clone(),
        }),
        reporter: n.reporter.clone(),
        priority: n.priority.as_str().to_string(),
        crs: String::new(),
        photos: n.intake.photos.iter().map(photo_to_pb).collect(),
        media_url: n.intake.media_url.clone().unwrap_or_default(),
        within: n.within.as_ref().map(|w| w.to_string()).unwrap_or_default(),
        channel: n.intake.channel.clone().unwrap_or_default(),
        patrol_id: n.intake.patrol.as_ref().map(ToString::to_string).unwrap_or_default(),
    }
}

/// Which import a set of grid boundaries comes from, on the wire.
pub fn map_version_to_pb(v: &MapVersion) -> pb::MapVersion {
    pb::MapVersion { at_ms: v.at, origin: v.origin.to_string(), index: v.index }
}

/// A grid-boundary version from the wire; its origin must be a node code (named `field.origin`).
pub fn map_version_from_pb(field: &str, v: pb::MapVersion) -> Result<MapVersion, ConvertError> {
    Ok(MapVersion {
        at: v.at_ms,
        origin: Code::parse_node(&format!("{field}.origin"), &v.origin)?,
        index: v.index,
    })
}

fn place_to_pb(p: &StoredPlace) -> pb::GridPlace {
    pb::GridPlace {
        code: p.code.to_string(),
        name: p.name.clone().unwrap_or_default(),
        polygons: p
            .outline
            .0
            .iter()
            .map(|rings| pb::Polygon {
                rings: rings
                    .iter()
                    .map(|r| pb::Ring { coords: r.iter().flatten().copied().collect() })
                    .collect(),
            })
            .collect(),
    }
}

fn place_from_pb(field: &str, p: pb::GridPlace) -> Result<StoredPlace, ConvertError> {
    let mut polygons = Vec::with_capacity(p.polygons.len());
    for (i, poly) in p.polygons.into_iter().enumerate() {
        let mut rings = Vec::with_capacity(poly.rings.len());
        for (j, r) in poly.rings.into_iter().enumerate() {
            if r.coords.len() % 2 != 0 {
                return Err(invalid(
                    field,
                    format!("{field}.polygons[{i}].rings[{j}]: an odd number of coordinates"),
                ));
            }
            rings.push(r.coords.chunks_exact(2).map(|c| [c[0], c[1]]).collect());
        }
        polygons.push(rings);
    }
    Ok(StoredPlace {
        code: place_code(&format!("{field}.code"), &p.code)?,
        name: (!p.name.is_empty()).then_some(p.name),
        outline: Shape(polygons),
    })
}

/// Grid boundaries on the wire, as they travel down to a child: the version and every place, its rings
/// flattened to `lon, lat, lon, lat, ...`.
pub fn grid_set_to_pb(s: &GridSet) -> pb::GridSet {
    pb::GridSet {
        version: Some(map_version_to_pb(&s.version)),
        places: s.map.places.iter().map(place_to_pb).collect(),
    }
}

/// A set from the wire; its geometry is checked by the state machine (`GridMap::from_stored`).
pub fn grid_set_from_pb(s: pb::GridSet) -> Result<GridSet, ConvertError> {
    let version = s.version.ok_or_else(|| invalid("boundaries.version", "boundaries.version: missing"))?;
    Ok(GridSet {
        version: map_version_from_pb("boundaries.version", version)?,
        map: StoredMap {
            places: s
                .places
                .into_iter()
                .enumerate()
                .map(|(i, p)| place_from_pb(&format!("boundaries.places[{i}]"), p))
                .collect::<Result<_, _>>()?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use federation::geo::{GridMap, ImportOptions};

    #[test]
    fn a_grid_set_round_trips_and_the_datum_is_named() {
        let json = include_str!("../../federation/tests/data/lixia_grids.geojson");
        let map = GridMap::import(json, &ImportOptions::default()).unwrap().to_stored();
        let set = GridSet {
            version: MapVersion { at: 5, origin: Code::parse("o", "370102").unwrap(), index: 9 },
            map,
        };
        assert_eq!(grid_set_from_pb(grid_set_to_pb(&set)).unwrap(), set);
        let new = federation::machine::NewCase {
            request_id: Some("open311:ab12cd34:r-1".into()),
            grid: None,
            category: "0101".into(),
            source: federation::case::Source::Hotline,
            title: "暴露垃圾".into(),
            description: String::new(),
            location: Some(federation::case::Location {
                lat: Some(36.66),
                lon: Some(117.05),
                address: "x".into(),
            }),
            reporter: "市民".into(),
            priority: federation::case::Priority::Normal,
            by: String::new(),
            intake: Intake {
                media_url: Some("https://example.cn/a.jpg".into()),
                channel: Some("open311:ab12cd34".into()),
                ..Default::default()
            },
            within: Some(Code::parse("w", "370102002").unwrap()),
        };
        let back =
            crate::convert::new_case_from_pb(new_case_to_pb(&new), federation::category::Catalog::standard());
        assert_eq!(back.unwrap(), new);
        assert_eq!(crs_from_str("crs", "GCJ02").unwrap(), Crs::Gcj02);
        assert!(crs_from_str("crs", "bd09").unwrap_err().to_string().starts_with("crs: "));
    }
}
