//! The map as stored and replicated, and as GeoJSON for display.
//!
//! [`StoredMap`] lists the places in code order, each with its code, name and outline as rings of
//! `[lon, lat]` (WGS-84), so the same map always serializes to the same bytes. Reading one back checks
//! what each place needs on its own (unique codes, closed rings in range, valid geometry) and rebuilds
//! the index; the checks between places were made when the map was imported.

use std::collections::BTreeMap;

use ::geo::Validation;
use geojson::{Feature, FeatureCollection, Geometry, GeometryValue, JsonObject, JsonValue};
use serde::{Deserialize, Serialize};

use super::boundary::DEFAULT_CODE_PROPERTY;
use super::index::{GridMap, Place};
use super::place::PlaceCode;
use super::problem::{ImportError, Problem};
use super::shape::Shape;

/// A grid map in its stored form.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredMap {
    /// In code order.
    pub places: Vec<StoredPlace>,
}

/// One place of a [`StoredMap`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPlace {
    /// The unit grid or micro-grid; unique within the map.
    pub code: PlaceCode,
    /// The `name` property it was imported with (e.g. 第三网格), if any.
    pub name: Option<String>,
    /// The outline: polygons of closed `[lon, lat]` rings, WGS-84.
    pub outline: Shape,
}

impl From<GridMap> for StoredMap {
    fn from(map: GridMap) -> StoredMap {
        map.to_stored()
    }
}

impl TryFrom<StoredMap> for GridMap {
    type Error = ImportError;
    fn try_from(stored: StoredMap) -> Result<GridMap, ImportError> {
        GridMap::from_stored(stored)
    }
}

impl GridMap {
    /// The map in its stored form.
    pub fn to_stored(&self) -> StoredMap {
        StoredMap {
            places: self
                .places()
                .iter()
                .map(|p| StoredPlace { code: p.code.clone(), name: p.name.clone(), outline: p.outline() })
                .collect(),
        }
    }

    /// A map from its stored form, each place checked on its own (problems name the place's index).
    pub fn from_stored(stored: StoredMap) -> Result<GridMap, ImportError> {
        let mut problems = Vec::new();
        let mut seen: BTreeMap<PlaceCode, usize> = BTreeMap::new();
        let mut places = Vec::with_capacity(stored.places.len());
        for (index, place) in stored.places.into_iter().enumerate() {
            let mut reasons = place.outline.structure_problems();
            if let Some(first) = seen.insert(place.code.clone(), index) {
                reasons.push(format!("duplicate code: place {first} has the same code"));
            }
            let shape = place.outline.to_multi_polygon();
            if reasons.is_empty() {
                reasons.extend(shape.validation_errors().iter().map(|e| format!("invalid geometry: {e}")));
            }
            if reasons.is_empty() {
                places.push(Place { code: place.code, name: place.name, shape });
            } else {
                let code = Some(place.code.to_string());
                problems.extend(reasons.into_iter().map(|reason| Problem {
                    feature: index,
                    code: code.clone(),
                    reason,
                }));
            }
        }
        if !problems.is_empty() {
            return Err(ImportError::Invalid { problems });
        }
        Ok(GridMap::from_places(places))
    }

    /// The map as a GeoJSON FeatureCollection (WGS-84), one feature per place in code order with the
    /// properties `code` and, when it has one, `name`; [`GridMap::import`] reads it back.
    pub fn to_geojson(&self) -> String {
        let features = self.places().iter().map(|p| {
            let mut properties = JsonObject::new();
            properties.insert(DEFAULT_CODE_PROPERTY.to_string(), JsonValue::String(p.code.to_string()));
            if let Some(name) = &p.name {
                properties.insert("name".to_string(), JsonValue::String(name.clone()));
            }
            let polygon = |rings: &Vec<Vec<[f64; 2]>>| -> Vec<Vec<geojson::Position>> {
                rings.iter().map(|r| r.iter().map(|&xy| geojson::Position::from(xy)).collect()).collect()
            };
            let outline = p.outline();
            let value = match outline.0.as_slice() {
                [one] => GeometryValue::Polygon { coordinates: polygon(one) },
                many => GeometryValue::MultiPolygon { coordinates: many.iter().map(polygon).collect() },
            };
            Feature {
                bbox: None,
                geometry: Some(Geometry::new(value)),
                id: None,
                properties: Some(properties),
                foreign_members: None,
            }
        });
        FeatureCollection { bbox: None, features: features.collect(), foreign_members: None }.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::testkit::lixia;
    use crate::geo::{Crs, ImportOptions};

    #[test]
    fn the_stored_form_round_trips_byte_for_byte() {
        let map = lixia();
        let json = serde_json::to_string(&map).unwrap();
        assert!(json.starts_with(
            "{\"places\":[{\"code\":\"370102001001001\",\"name\":\"文化东路北片网格\",\"outline\":[[["
        ));
        let back: GridMap = serde_json::from_str(&json).unwrap();
        assert_eq!(back, map);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert_eq!(back.locate(36.6676, 117.0521, Crs::Wgs84), map.locate(36.6676, 117.0521, Crs::Wgs84));
        assert_eq!(GridMap::from_stored(map.to_stored()).unwrap(), map);
    }

    #[test]
    fn a_stored_map_is_checked_place_by_place() {
        let mut stored = lixia().to_stored();
        stored.places[3].code = stored.places[2].code.clone();
        stored.places[5].outline.0[0][0].pop();
        let err = GridMap::from_stored(stored).unwrap_err();
        let ImportError::Invalid { problems } = &err else { panic!("{err:?}") };
        assert_eq!(problems.len(), 2, "{err}");
        assert_eq!(
            (problems[0].feature, problems[0].reason.as_str()),
            (3, "duplicate code: place 2 has the same code")
        );
        assert!(problems[1].reason.contains("is not closed"), "{err}");
        assert!(serde_json::from_str::<GridMap>("{\"places\":[],\"extra\":1}").is_err());
    }

    #[test]
    fn geojson_for_display_imports_back_to_the_same_map() {
        let map = lixia();
        let text = map.to_geojson();
        assert!(
            text.starts_with("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\""),
            "{text:.80}"
        );
        assert_eq!(GridMap::import(&text, &ImportOptions::default()).unwrap(), map);
    }
}
