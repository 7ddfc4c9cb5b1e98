//! The patrol log (日巡查): a worker walks a grid, from start to end, with the route as points when the
//! phone sends them; reports made on the way carry the patrol's id. And the figures of patrols, as
//! pure functions of the log: patrols per grid per day, grids not patrolled on a day (coverage),
//! cases found on patrol against cases reported by the public.
//!
//! ```text
//! P370102001001-000123   patrol 123 of community 370102001001 (6 digits, never reused)
//! start ──(route points, time-ordered, inside the grid's box + 500 m)──► end (after start, ≤ 16 h)
//! ```
//! A patrol counts for the Beijing-time day it started on, once it has ended: a patrol left open
//! proves nothing. A worker may patrol any grid of their keeper (standing in for a colleague).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::field::{check_after, id_as_string, parse_keyed_id, FieldError, Point};
use super::roster::{KnownPlaces, Roster, RosterError};
use super::worker::{WorkerId, KEEPERS};
use crate::case::Source;
use crate::code::{Code, Level};
use crate::geo::{gcj02_to_wgs84, BBox, Crs, PlaceCode};
use crate::stats::day_of;
use crate::Millis;

/// Most route points one patrol keeps (one a minute for a long day).
pub const MAX_ROUTE_POINTS: usize = 1_000;
/// Longest patrol.
pub const MAX_PATROL_MS: Millis = 16 * 3_600_000;
/// How far a route point may stray outside the grid's bounding box, in degrees (about 500 m): the
/// streets on a grid's edge, and phone positioning.
pub const ROUTE_MARGIN_DEG: f64 = 0.005;
/// How far a route point's time (by the phone's clock) may lie outside the patrol (by the node's).
pub const ROUTE_CLOCK_SKEW_MS: Millis = 5 * 60_000;

/// A patrol's id: `P`, the keeping node's code, a hyphen, 6 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PatrolId(String);

impl PatrolId {
    /// Parses `value`, naming `field` in the error.
    pub fn parse(field: &str, value: &str) -> Result<PatrolId, FieldError> {
        parse_keyed_id(field, value, ('P', 6, "P370102001001-000123"), KEEPERS)?;
        Ok(PatrolId(value.to_string()))
    }

    /// Patrol `number` (1-999999) of `keeper`.
    pub fn new(field: &str, keeper: &Code, number: u32) -> Result<PatrolId, FieldError> {
        PatrolId::parse(field, &format!("P{keeper}-{number:06}"))
    }
}

impl fmt::Display for PatrolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

id_as_string!(PatrolId, "patrol");

/// One point of a route, as the phone took it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoutePoint {
    /// Where.
    #[serde(flatten)]
    pub point: Point,
    /// When, by the phone's clock.
    pub at: Millis,
}

/// A patrol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patrol {
    /// Its id.
    pub id: PatrolId,
    /// Who walks it.
    pub worker: WorkerId,
    /// The unit grid patrolled.
    pub grid: Code,
    /// When it started.
    pub started_at: Millis,
    /// When it ended; `None` while under way.
    pub ended_at: Option<Millis>,
    /// The route, in time order.
    pub route: Vec<RoutePoint>,
}

/// Why a patrol step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatrolError {
    /// A field's value is not acceptable.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The worker or the grid does not fit the roster.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// The patrol has ended already.
    #[error("patrol: {id} ended at {ended_at}; start a new one")]
    Ended {
        /// The patrol.
        id: PatrolId,
        /// When it ended.
        ended_at: Millis,
    },
    /// The worker is on another patrol.
    #[error("worker: {worker} is on patrol {id} since {started_at}; end it first")]
    OnPatrol {
        /// The worker.
        worker: WorkerId,
        /// The patrol they are on, under way.
        id: PatrolId,
        /// When that patrol started.
        started_at: Millis,
    },
    /// A case claims a patrol it cannot have been found on.
    #[error("patrol: a case in {grid} at {at} was not found on {id} ({reason})")]
    NotOnPatrol {
        /// The patrol the case claims.
        id: PatrolId,
        /// The case's grid.
        grid: Code,
        /// When the case was reported.
        at: Millis,
        /// `another grid`, or `outside the patrol's time`.
        reason: &'static str,
    },
}

impl Patrol {
    /// Starts patrol `id` of `grid` by `worker` at `at`: the worker is active on `roster` and not on
    /// another patrol (one of `open`, under way and less than [`MAX_PATROL_MS`] old: an abandoned
    /// patrol does not block the next day's), the grid a known unit grid of the keeper.
    pub fn start<'a>(
        roster: &Roster,
        open: impl IntoIterator<Item = &'a Patrol>,
        known: KnownPlaces<'_>,
        id: PatrolId,
        worker: &WorkerId,
        grid: &Code,
        at: Millis,
    ) -> Result<Patrol, PatrolError> {
        roster.active("worker", worker)?;
        let busy = open.into_iter().find(|p| {
            &p.worker == worker && p.ended_at.is_none() && (0..MAX_PATROL_MS).contains(&(at - p.started_at))
        });
        if let Some(p) = busy {
            return Err(PatrolError::OnPatrol {
                worker: worker.clone(),
                id: p.id.clone(),
                started_at: p.started_at,
            });
        }
        if grid.level() != Level::Grid {
            return Err(FieldError::new("grid", format!("{grid} is not a 15-digit grid code")).into());
        }
        let unit = PlaceCode::unit("grid", grid).map_err(|e| FieldError::new("grid", e.to_string()))?;
        roster.check_place("grid", &unit, known)?;
        Ok(Patrol {
            id,
            worker: worker.clone(),
            grid: grid.clone(),
            started_at: at,
            ended_at: None,
            route: vec![],
        })
    }

    /// Ends the patrol at `at` with its `route` (points in `crs`, GCJ-02 from map apps), checked against
    /// the grid's `bounds` (WGS-84, from the node's map) when there is a map: points in time order
    /// within the patrol (give or take [`ROUTE_CLOCK_SKEW_MS`] of the phone's clock), inside the box
    /// widened by [`ROUTE_MARGIN_DEG`]. The route is kept as sent.
    pub fn end(
        &mut self,
        at: Millis,
        route: Vec<RoutePoint>,
        bounds: Option<&BBox>,
        crs: Crs,
    ) -> Result<(), PatrolError> {
        if let Some(ended_at) = self.ended_at {
            return Err(PatrolError::Ended { id: self.id.clone(), ended_at });
        }
        check_after("ended_at", self.started_at, at)?;
        if at - self.started_at > MAX_PATROL_MS {
            return Err(FieldError::new("ended_at", "a patrol lasts at most 16 hours").into());
        }
        if route.len() > MAX_ROUTE_POINTS {
            return Err(FieldError::new("route", format!("at most {MAX_ROUTE_POINTS} points")).into());
        }
        let mut last = self.started_at - ROUTE_CLOCK_SKEW_MS;
        for (i, p) in route.iter().enumerate() {
            let field = format!("route[{i}]");
            p.point.check(&field)?;
            if p.at < last || p.at > at + ROUTE_CLOCK_SKEW_MS {
                return Err(FieldError::new(
                    &format!("{field}.at"),
                    "points are in time order within the patrol",
                )
                .into());
            }
            last = p.at;
            if let Some(b) = bounds {
                let (lat, lon) = match crs {
                    Crs::Wgs84 => (p.point.lat, p.point.lon),
                    Crs::Gcj02 => gcj02_to_wgs84(p.point.lat, p.point.lon),
                };
                let m = ROUTE_MARGIN_DEG;
                let inside = (b.min_lat - m..=b.max_lat + m).contains(&lat)
                    && (b.min_lon - m..=b.max_lon + m).contains(&lon);
                if !inside {
                    return Err(FieldError::new(&field, format!("is outside grid {}", self.grid)).into());
                }
            }
        }
        self.ended_at = Some(at);
        self.route = route;
        Ok(())
    }

    /// Checks that a case in `grid` reported at `at` can have been found on this patrol: same grid,
    /// during the patrol (up to its end, or [`MAX_PATROL_MS`] after its start while under way).
    pub fn admits_case(&self, grid: &Code, at: Millis) -> Result<(), PatrolError> {
        let refuse =
            |reason| PatrolError::NotOnPatrol { id: self.id.clone(), grid: grid.clone(), at, reason };
        if grid != &self.grid {
            return Err(refuse("another grid"));
        }
        let until = self.ended_at.unwrap_or(self.started_at + MAX_PATROL_MS);
        if at < self.started_at || at > until {
            return Err(refuse("outside the patrol's time"));
        }
        Ok(())
    }

    /// The Beijing-time day the patrol counts for, once ended.
    pub fn counted_day(&self) -> Option<i64> {
        self.ended_at.map(|_| day_of(self.started_at))
    }
}

/// Ended patrols per grid per Beijing-time day (of their start).
pub fn patrols_per_grid_per_day<'a>(
    patrols: impl IntoIterator<Item = &'a Patrol>,
) -> BTreeMap<(Code, i64), u32> {
    let mut out = BTreeMap::new();
    for p in patrols {
        if let Some(day) = p.counted_day() {
            *out.entry((p.grid.clone(), day)).or_insert(0) += 1;
        }
    }
    out
}

/// Daily patrol coverage (日巡查覆盖): of `grids`, which were patrolled on `day` and which were not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The day, as days since 1970-01-01 (Beijing time).
    pub day: i64,
    /// How many of the grids had an ended patrol that day.
    pub patrolled: u32,
    /// The grids without one, in code order.
    pub unpatrolled: Vec<Code>,
}

/// The coverage of `grids` on `day` by `patrols`.
pub fn coverage<'a>(
    grids: &BTreeSet<Code>,
    patrols: impl IntoIterator<Item = &'a Patrol>,
    day: i64,
) -> Coverage {
    let walked: BTreeSet<&Code> =
        patrols.into_iter().filter(|p| p.counted_day() == Some(day)).map(|p| &p.grid).collect();
    let unpatrolled: Vec<Code> = grids.iter().filter(|g| !walked.contains(g)).cloned().collect();
    Coverage { day, patrolled: (grids.len() - unpatrolled.len()) as u32, unpatrolled }
}

/// What a figure needs of a case: its grid, its source, and the patrol it was found on.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// The case's unit grid.
    pub grid: &'a Code,
    /// How it entered the system.
    pub source: Source,
    /// The patrol it was reported on, if any.
    pub patrol: Option<&'a PatrolId>,
}

/// Cases of one grid by who found them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundBy {
    /// Found by a worker: carrying a patrol id, or with source `patrol` (巡查发现).
    pub patrol: u32,
    /// Reported by the public: the 12345 hotline or the app (群众上报).
    pub public: u32,
    /// Everything else: cameras, assigned from above.
    pub other: u32,
}

/// Cases found on patrol against cases reported by the public, per grid.
pub fn found_by<'a>(cases: impl IntoIterator<Item = Found<'a>>) -> BTreeMap<Code, FoundBy> {
    let mut out: BTreeMap<Code, FoundBy> = BTreeMap::new();
    for c in cases {
        let e = out.entry(c.grid.clone()).or_default();
        match (c.patrol, c.source) {
            (Some(_), _) | (None, Source::Patrol) => e.patrol += 1,
            (None, Source::Hotline | Source::Public) => e.public += 1,
            (None, Source::Video | Source::AssignedFromAbove) => e.other += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::roster::tests::{roster, worker, COMMUNITY};
    use crate::people::worker::Role;
    use crate::stats::{day_start, parse_day};

    const MIN: Millis = 60_000;

    fn code(s: &str) -> Code {
        Code::parse("c", s).unwrap()
    }

    fn at(date: &str, hour: i64) -> Millis {
        day_start(parse_day("t", date).unwrap()) + hour * 60 * MIN
    }

    fn pt(lat: f64, lon: f64, at: Millis) -> RoutePoint {
        RoutePoint { point: Point { lat, lon }, at }
    }

    fn started(n: u32, grid: &str, at: Millis) -> Patrol {
        let r = roster(vec![worker(2, "孙雅琴", Role::FullTime, &["370102001001001"])]);
        let id = PatrolId::new("id", r.keeper(), n).unwrap();
        let w = r.workers().next().unwrap().id.clone();
        Patrol::start(&r, [], KnownPlaces::Any, id, &w, &code(grid), at).unwrap()
    }

    #[test]
    fn a_patrol_starts_ends_and_keeps_its_route() {
        let t0 = at("2026-11-25", 9);
        let mut p = started(123, "370102001001001", t0);
        assert_eq!(p.id.to_string(), "P370102001001-000123");
        let bounds = BBox { min_lat: 36.660, min_lon: 117.040, max_lat: 36.668, max_lon: 117.052 };
        let route = vec![pt(36.661, 117.041, t0 + MIN), pt(36.6695, 117.050, t0 + 20 * MIN)];
        p.end(t0 + 45 * MIN, route, Some(&bounds), Crs::Wgs84).unwrap();
        assert_eq!(p.route.len(), 2);
        assert!(matches!(p.end(t0 + 50 * MIN, vec![], None, Crs::Wgs84), Err(PatrolError::Ended { .. })));

        // One patrol at a time; an abandoned one does not block the next day's.
        let (r, open) =
            (roster(vec![worker(2, "孙雅琴", Role::FullTime, &[])]), started(124, "370102001001001", t0));
        let (w, g) = (open.worker.clone(), code("370102001001002"));
        let next = PatrolId::new("id", r.keeper(), 125).unwrap();
        let err =
            Patrol::start(&r, [&open, &p], KnownPlaces::Any, next.clone(), &w, &g, t0 + MIN).unwrap_err();
        assert!(
            err.to_string().starts_with("worker: W370102001001-002 is on patrol P370102001001-000124"),
            "{err}"
        );
        Patrol::start(&r, [&open], KnownPlaces::Any, next, &w, &g, t0 + MAX_PATROL_MS).unwrap();
        p.admits_case(&code("370102001001001"), t0 + 30 * MIN).unwrap();
        assert!(p.admits_case(&code("370102001001002"), t0 + 30 * MIN).is_err());
        let err = p.admits_case(&code("370102001001001"), t0 + 60 * MIN).unwrap_err();
        assert!(err.to_string().contains("outside the patrol's time"), "{err}");
    }

    #[test]
    fn routes_from_map_apps_are_compared_in_wgs84() {
        let t0 = at("2026-11-25", 9);
        let bounds = BBox { min_lat: 36.660, min_lon: 117.040, max_lat: 36.668, max_lon: 117.052 };
        // 400 m east of the box's edge, as a map app (GCJ-02) reports it: some 500 m further east.
        let (lat, lon) = crate::geo::wgs84_to_gcj02(36.664, 117.056);
        assert!(lon - 117.056 > 0.004, "{lon}");
        let route = vec![pt(lat, lon, t0 + MIN)];
        let mut p = started(1, "370102001001001", t0);
        assert!(p.end(t0 + 30 * MIN, route.clone(), Some(&bounds), Crs::Wgs84).is_err());
        p.end(t0 + 30 * MIN, route, Some(&bounds), Crs::Gcj02).unwrap();
    }

    #[test]
    fn refusals_name_the_field() {
        let t0 = at("2026-11-25", 9);
        let bounds = BBox { min_lat: 36.660, min_lon: 117.040, max_lat: 36.668, max_lon: 117.052 };
        let cases: Vec<(Millis, Vec<RoutePoint>, &str)> = vec![
            (t0, vec![], "ended_at: "),
            (t0 + 17 * 60 * MIN, vec![], "ended_at: a patrol lasts at most 16 hours"),
            (t0 + 30 * MIN, vec![pt(36.661, 117.041, t0 + 40 * MIN)], "route[0].at: "),
            (t0 + 30 * MIN, vec![pt(36.661, 117.041, t0 - 6 * MIN)], "route[0].at: "),
            (
                t0 + 30 * MIN,
                vec![pt(36.661, 117.041, t0 + 5 * MIN), pt(36.661, 117.041, t0 + MIN)],
                "route[1].at: ",
            ),
            (t0 + 30 * MIN, vec![pt(36.70, 117.041, t0 + MIN)], "route[0]: is outside grid 370102001001001"),
            (t0 + 30 * MIN, vec![pt(f64::INFINITY, 117.041, t0 + MIN)], "route[0].lat: "),
            (t0 + 30 * MIN, vec![pt(36.661, 117.041, t0 + MIN); MAX_ROUTE_POINTS + 1], "route: at most"),
        ];
        for (end, route, expected) in cases {
            let mut p = started(1, "370102001001001", t0);
            let err = p.end(end, route, Some(&bounds), Crs::Wgs84).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err} / {expected}");
            assert_eq!(p.ended_at, None);
        }

        let mut r = roster(vec![worker(2, "孙雅琴", Role::FullTime, &[])]);
        let id = PatrolId::new("id", r.keeper(), 1).unwrap();
        let w = worker(2, "孙雅琴", Role::FullTime, &[]).id;
        let err = Patrol::start(&r, [], KnownPlaces::Any, id.clone(), &w, &code("370102001002001"), t0)
            .unwrap_err();
        assert!(err.to_string().starts_with("grid: 370102001002001 is not within"), "{err}");
        let err = Patrol::start(&r, [], KnownPlaces::Any, id.clone(), &w, &code(COMMUNITY), t0).unwrap_err();
        assert!(err.to_string().starts_with("grid: "), "{err}");
        r.deactivate(&w).unwrap();
        let err = Patrol::start(&r, [], KnownPlaces::Any, id, &w, &code("370102001001001"), t0).unwrap_err();
        assert!(err.to_string().starts_with("worker: worker W370102001001-002 is not active"), "{err}");
        assert_eq!(PatrolId::parse("patrol_id", "P370102001001-123").unwrap_err().field, "patrol_id");
    }

    #[test]
    fn figures_count_ended_patrols_by_the_day_they_started() {
        let grids: BTreeSet<Code> =
            ["370102001001001", "370102001001002", "370102001001003"].into_iter().map(code).collect();
        let mut a = started(1, "370102001001001", at("2026-11-25", 8));
        a.end(at("2026-11-25", 10), vec![], None, Crs::Gcj02).unwrap();
        let mut b = started(2, "370102001001001", at("2026-11-25", 14));
        b.end(at("2026-11-25", 15), vec![], None, Crs::Gcj02).unwrap();
        // Started just before midnight Beijing time: counts for the 24th.
        let mut c = started(3, "370102001001002", at("2026-11-24", 23));
        c.end(at("2026-11-25", 1), vec![], None, Crs::Gcj02).unwrap();
        let open = started(4, "370102001001003", at("2026-11-25", 9));
        let log = [a, b, c, open];

        let per_day = patrols_per_grid_per_day(&log);
        let day = parse_day("d", "2026-11-25").unwrap();
        assert_eq!(per_day.get(&(code("370102001001001"), day)), Some(&2));
        assert_eq!(per_day.get(&(code("370102001001002"), day - 1)), Some(&1));
        assert_eq!(per_day.len(), 2);

        let cov = coverage(&grids, &log, day);
        assert_eq!(cov.patrolled, 1);
        assert_eq!(cov.unpatrolled, vec![code("370102001001002"), code("370102001001003")]);

        let g = code("370102001001001");
        let pid = log[0].id.clone();
        let cases = [
            Found { grid: &g, source: Source::Public, patrol: Some(&pid) },
            Found { grid: &g, source: Source::Patrol, patrol: None },
            Found { grid: &g, source: Source::Hotline, patrol: None },
            Found { grid: &g, source: Source::Public, patrol: None },
            Found { grid: &g, source: Source::Video, patrol: None },
        ];
        assert_eq!(found_by(cases).get(&g), Some(&FoundBy { patrol: 2, public: 2, other: 1 }));
    }
}
