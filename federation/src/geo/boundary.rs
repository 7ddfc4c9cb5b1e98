//! Reading grid boundaries from a GeoJSON FeatureCollection, and the checks of each feature on its own.
//!
//! Each feature is one place: its code in a property the caller names (`code` by default; a string such as
//! `"370102001001001"` or `"370102001001001-03"`, or a 15-digit integer), an optional `name`, and a
//! Polygon or MultiPolygon geometry. A feature is checked for its code (present, well formed, not used
//! by an earlier feature), its name, its geometry's type, every ring (at least 4 positions, closed,
//! coordinates in range) and the geometry's validity (no self-intersection, holes inside, polygons of a
//! MultiPolygon not overlapping). A feature whose code is a community's (12 digits) is that
//! community's outline, not a place: its grids must lie within it. The checks between features are in
//! `relations`.

use std::collections::BTreeMap;

use ::geo::{MultiPolygon, Validation};
use geojson::{Feature, GeometryValue, JsonValue, PolygonType};

use super::crs::{gcj02_to_wgs84, Crs};
use super::place::PlaceCode;
use super::problem::{ImportError, Problem};
use super::shape::Shape;
use crate::code::Code;

/// The property read for a feature's code unless the caller names another.
pub const DEFAULT_CODE_PROPERTY: &str = "code";
/// Overlaps and overhangs up to this area are taken for digitising noise, in square metres.
pub const DEFAULT_TOLERANCE_M2: f64 = 1.0;
/// Longest `name` property, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// How to read a file of grid boundaries.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The feature property holding the place code.
    pub code_property: String,
    /// The datum of the file's coordinates; GCJ-02 files are converted to WGS-84 on import.
    pub crs: Crs,
    /// Area of overlap (or of a grid outside its parent or community) tolerated, in square metres;
    /// negative or NaN counts as 0.
    pub tolerance_m2: f64,
    /// Outlines of communities (12-digit codes) in WGS-84: every place must lie within its community's
    /// outline, where one is given. Places of communities not given here are not checked against one.
    pub communities: BTreeMap<Code, Shape>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            code_property: DEFAULT_CODE_PROPERTY.to_string(),
            crs: Crs::Wgs84,
            tolerance_m2: DEFAULT_TOLERANCE_M2,
            communities: BTreeMap::new(),
        }
    }
}

/// A feature that passed every check of its own, its outline in WGS-84.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub feature: usize,
    pub code: PlaceCode,
    pub name: Option<String>,
    pub shape: MultiPolygon<f64>,
}

/// Reads the collection, adding each feature's own problems to `problems` and returning the features
/// without any, and the community outlines the file itself holds (features whose code is a 12-digit
/// community code, in the file's datum converted to WGS-84; checked by `relations::outlines`). Fails
/// outright only if the text is not a FeatureCollection or has no features.
pub(crate) fn read(
    text: &str,
    options: &ImportOptions,
    problems: &mut Vec<Problem>,
) -> Result<(Vec<Candidate>, BTreeMap<Code, Shape>), ImportError> {
    let value: JsonValue = serde_json::from_str(text).map_err(|e| ImportError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let features = match (&value, value.get("type"), value.get("features")) {
        (_, Some(JsonValue::String(t)), Some(JsonValue::Array(features))) if t == "FeatureCollection" => {
            features
        }
        (_, Some(JsonValue::String(t)), _) if t == "FeatureCollection" => {
            return Err(ImportError::NotFeatureCollection {
                found: "a FeatureCollection without a \"features\" array".to_string(),
            })
        }
        (_, Some(JsonValue::String(t)), _) => {
            return Err(ImportError::NotFeatureCollection { found: format!("a GeoJSON {t}") })
        }
        (JsonValue::Object(_), _, _) => {
            return Err(ImportError::NotFeatureCollection {
                found: "an object without a \"type\" string".to_string(),
            })
        }
        _ => return Err(ImportError::NotFeatureCollection { found: json_kind(&value).to_string() }),
    };
    if features.is_empty() {
        return Err(ImportError::Empty);
    }
    let mut seen: BTreeMap<PlaceCode, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut outlines = BTreeMap::new();
    for (index, raw) in features.iter().enumerate() {
        let written = raw.get("properties").and_then(|p| p.get(&options.code_property)).and_then(code_text);
        let community = written
            .as_deref()
            .and_then(|w| Code::parse("code", w).ok())
            .filter(|c| c.level() == crate::code::Level::Community);
        if let Some(community) = community {
            match raw.get("geometry").cloned().map(serde_json::from_value::<geojson::Geometry>) {
                Some(Ok(g)) => {
                    let shape = match g.value {
                        GeometryValue::Polygon { coordinates } => Shape(vec![rings(&coordinates)]),
                        GeometryValue::MultiPolygon { coordinates } => {
                            Shape(coordinates.iter().map(rings).collect())
                        }
                        other => {
                            problems.push(Problem {
                                feature: index,
                                code: written.clone(),
                                reason: format!(
                                    "the community outline is a {}; expected Polygon or MultiPolygon",
                                    other.type_name()
                                ),
                            });
                            continue;
                        }
                    };
                    let shape = match options.crs {
                        Crs::Wgs84 => shape,
                        Crs::Gcj02 => shape.map_positions(gcj02_to_wgs84),
                    };
                    outlines.insert(community, shape);
                }
                _ => problems.push(Problem {
                    feature: index,
                    code: written.clone(),
                    reason: "the community outline has no valid geometry".to_string(),
                }),
            }
            continue;
        }
        let mut reasons = Vec::new();
        let candidate = check_feature(index, raw, options, &mut seen, &mut reasons);
        problems.extend(reasons.into_iter().map(|reason| Problem {
            feature: index,
            code: written.clone(),
            reason,
        }));
        out.extend(candidate);
    }
    Ok((out, outlines))
}

/// Every check of one feature on its own; the candidate if it passed them all.
fn check_feature(
    index: usize,
    raw: &JsonValue,
    options: &ImportOptions,
    seen: &mut BTreeMap<PlaceCode, usize>,
    reasons: &mut Vec<String>,
) -> Option<Candidate> {
    let feature = match serde_json::from_value::<Feature>(raw.clone()) {
        Ok(f) => f,
        Err(e) => {
            reasons.push(format!("not a GeoJSON Feature: {e}"));
            return None;
        }
    };
    let prop = &options.code_property;
    let properties = feature.properties.unwrap_or_default();
    let code = match properties.get(prop).map(|v| (v, code_text(v))) {
        None | Some((JsonValue::Null, _)) => {
            reasons.push(format!("missing property {prop:?} (the place code)"));
            None
        }
        Some((_, None)) => {
            reasons.push(format!("property {prop:?} must be a string such as \"370102001001001\""));
            None
        }
        Some((_, Some(text))) => {
            match PlaceCode::parse(&format!("features[{index}].properties.{prop}"), &text) {
                Ok(code) => match seen.get(&code) {
                    Some(first) => {
                        reasons.push(format!("duplicate code: feature {first} has the same code"));
                        None
                    }
                    None => {
                        seen.insert(code.clone(), index);
                        Some(code)
                    }
                },
                Err(e) => {
                    reasons.push(e.to_string());
                    None
                }
            }
        }
    };
    let name = match properties.get("name") {
        None | Some(JsonValue::Null) => None,
        Some(JsonValue::String(s)) if s.trim().is_empty() => None,
        Some(JsonValue::String(s)) if s.chars().count() > MAX_NAME_CHARS => {
            reasons.push(format!("property \"name\" is longer than {MAX_NAME_CHARS} characters"));
            None
        }
        Some(JsonValue::String(s)) => Some(s.trim().to_string()),
        Some(_) => {
            reasons.push("property \"name\" must be a string".to_string());
            None
        }
    };
    let shape = match feature.geometry.map(|g| g.value) {
        None => {
            reasons.push("the feature has no geometry".to_string());
            None
        }
        Some(GeometryValue::Polygon { coordinates }) => Some(Shape(vec![rings(&coordinates)])),
        Some(GeometryValue::MultiPolygon { coordinates }) => {
            Some(Shape(coordinates.iter().map(rings).collect()))
        }
        Some(other) => {
            reasons
                .push(format!("the geometry is a {}; expected Polygon or MultiPolygon", other.type_name()));
            None
        }
    };
    let shape = shape.and_then(|shape| {
        let structure = shape.structure_problems();
        if !structure.is_empty() {
            reasons.extend(structure);
            return None;
        }
        let shape = match options.crs {
            Crs::Wgs84 => shape,
            Crs::Gcj02 => shape.map_positions(gcj02_to_wgs84),
        };
        let polygons = shape.to_multi_polygon();
        let invalid = polygons.validation_errors();
        if !invalid.is_empty() {
            reasons.extend(invalid.iter().map(|e| format!("invalid geometry: {e}")));
            return None;
        }
        Some(polygons)
    });
    match (code, shape, reasons.is_empty()) {
        (Some(code), Some(shape), true) => Some(Candidate { feature: index, code, name, shape }),
        _ => None,
    }
}

/// Rings of one GeoJSON polygon as `[lon, lat]`, altitudes dropped (a short position reads as NaN,
/// which the range check refuses).
fn rings(polygon: &PolygonType) -> Vec<Vec<[f64; 2]>> {
    polygon
        .iter()
        .map(|ring| {
            ring.iter()
                .map(|p| {
                    let s = p.as_slice();
                    [s.first().copied().unwrap_or(f64::NAN), s.get(1).copied().unwrap_or(f64::NAN)]
                })
                .collect()
        })
        .collect()
}

/// A code property as text: a string, or an integer written in digits.
fn code_text(v: &JsonValue) -> Option<String> {
    match v {
        JsonValue::String(s) => Some(s.clone()),
        JsonValue::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

fn json_kind(v: &JsonValue) -> &'static str {
    match v {
        JsonValue::Null => "null",
        JsonValue::Bool(_) => "a boolean",
        JsonValue::Number(_) => "a number",
        JsonValue::String(_) => "a string",
        JsonValue::Array(_) => "an array",
        JsonValue::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "boundary_tests.rs"]
mod tests;
