//! Demo data for `gridnode demo`, kept as data in `data.toml` beside this file: a small, realistic
//! slice of urban grid management (网格化管理) in Jinan's Lixia district (济南市历下区) — three street
//! offices, their communities and grids, grid workers, reporters, the functional departments a street
//! summons (吹哨), and case templates for patrol reports and 12345 hotline tickets.
//!
//! The texture comes from the news reports in `shared/seeds/`: 文化东路街道's grid workers clearing
//! expired fire extinguishers, wind-felled pomegranate trees and zombie cars; 泉城路街道's "7123" rule,
//! the rain-soaked meter box on 启明街 and the "爱心敲门" visits to elderly people living alone in 临湖
//! and 鞭指巷 communities; private parking locks, stairwell flyers, blocked drains behind restaurants,
//! upstairs leaks turning into neighbour disputes. The people are invented (no names of the real
//! people in the reports are reused).
//!
//! The file is compiled in (`include_str!`) and parsed once; no randomness here — the caller picks
//! with its own RNG. Every `category` is a 4-digit code from `federation/data/categories.toml`.

use std::sync::LazyLock;

use serde::Deserialize;

/// A case template.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseTemplate {
    /// 4-digit category code (2-digit major class + 2-digit minor class) from the catalogue.
    pub category: String,
    /// The case's title as the reporter gives it.
    pub title: String,
    /// What the reporter saw or asks for.
    pub description: String,
}

/// The district: its 6-digit division code and name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct District {
    /// 6-digit division code, e.g. 370102.
    pub code: String,
    /// Its name, e.g. 历下区.
    pub name: String,
}

/// A street office (街道) and its communities.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Street {
    /// 3-digit suffix after the district code.
    pub suffix: String,
    /// Its name, e.g. 解放路街道.
    pub name: String,
    /// Its communities.
    pub communities: Vec<Community>,
}

/// A community (社区) and the names of its grids, in grid-number order (第一网格 is grid 001).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Community {
    /// 3-digit suffix after the street code.
    pub suffix: String,
    /// Its name, e.g. 历山路社区.
    pub name: String,
    /// Grid names; the n-th is grid `00n`.
    pub grids: Vec<String>,
}

/// A functional department a street or the district summons (吹哨).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// Its name, e.g. 区城管执法局.
    pub name: String,
    /// Its handling deadline in hours.
    pub deadline_hours: u32,
}

/// Everything in `data.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoData {
    /// Grid workers (网格员), invented names.
    pub workers: Vec<String>,
    /// Who reports from outside the grid staff (public reports, hotline callers).
    pub reporters: Vec<String>,
    /// Notes a handler writes when reporting a case handled (处理反馈).
    pub handled_notes: Vec<String>,
    /// Why a verifier sends a case back for rework (返工).
    pub return_reasons: Vec<String>,
    /// Why a case is escalated to the upper level (上报).
    pub escalate_reasons: Vec<String>,
    /// Why a handler asks for a new deadline (延期).
    pub extend_reasons: Vec<String>,
    /// Why a reported case is cancelled (作废) instead of registered.
    pub cancel_reasons: Vec<String>,
    /// The district.
    pub district: District,
    /// Departments registered at the district and every street.
    pub departments: Vec<Department>,
    /// The district's street offices.
    pub streets: Vec<Street>,
    /// Case templates as a grid worker, a camera or a citizen through the app would report them,
    /// covering every major class of the catalogue.
    pub cases: Vec<CaseTemplate>,
    /// 12345 hotline tickets in the citizens' own words; dispatched down to the grid of the address.
    pub hotline: Vec<CaseTemplate>,
}

static DATA: LazyLock<Result<DemoData, toml::de::Error>> =
    LazyLock::new(|| toml::from_str(include_str!("data.toml")));

/// The demo data, parsed on first use.
pub fn get() -> anyhow::Result<&'static DemoData> {
    DATA.as_ref().map_err(|e| anyhow::anyhow!("node/src/demo/data.toml: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn data() -> &'static DemoData {
        get().unwrap()
    }

    fn len(s: &str) -> usize {
        s.chars().count()
    }

    fn check_short(what: &str, s: &str) {
        assert!(!s.trim().is_empty(), "{what}: empty string");
        assert!(len(s) <= 40, "{what}: {s:?} is {} chars (max 40)", len(s));
    }

    fn check_templates(what: &str, templates: &[CaseTemplate]) {
        let mut titles = HashSet::new();
        for c in templates {
            let known = federation::category::Catalog::standard().get(&c.category).is_some();
            assert!(known, "{what}: category {:?} is not in the catalogue", c.category);
            assert!(!c.title.trim().is_empty(), "{what}: empty title");
            assert!(len(&c.title) <= 40, "{what}: title {:?} is {} chars (max 40)", c.title, len(&c.title));
            assert!(!c.description.trim().is_empty(), "{what}: empty description for {:?}", c.title);
            assert!(
                len(&c.description) <= 120,
                "{what}: description of {:?} is {} chars (max 120)",
                c.title,
                len(&c.description)
            );
            assert!(titles.insert(&c.title), "{what}: duplicate title {:?}", c.title);
        }
    }

    fn is_suffix(s: &str) -> bool {
        s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())
    }

    #[test]
    fn case_templates() {
        let d = data();
        assert!((60..=100).contains(&d.cases.len()), "cases has {}", d.cases.len());
        assert!((20..=30).contains(&d.hotline.len()), "hotline has {}", d.hotline.len());
        check_templates("cases", &d.cases);
        check_templates("hotline", &d.hotline);
    }

    #[test]
    fn cases_cover_every_major_class() {
        let majors: HashSet<&str> = data().cases.iter().map(|c| &c.category[..2]).collect();
        for m in ["01", "02", "03", "04", "05", "11", "12", "13", "14", "15", "16", "21", "22", "23", "24"] {
            assert!(majors.contains(m), "no case template for major class {m}");
        }
    }

    #[test]
    fn streets_shape() {
        let d = data();
        assert_eq!((d.district.code.as_str(), d.district.name.as_str()), ("370102", "历下区"));
        assert_eq!(d.streets.len(), 3);
        let mut street_suffixes = HashSet::new();
        for s in &d.streets {
            assert!(is_suffix(&s.suffix), "street suffix {:?}", s.suffix);
            assert!(street_suffixes.insert(&s.suffix), "duplicate street suffix {}", s.suffix);
            check_short("street", &s.name);
            let n = s.communities.len();
            assert!((2..=3).contains(&n), "{} has {n} communities", s.name);
            let mut community_suffixes = HashSet::new();
            for c in &s.communities {
                assert!(is_suffix(&c.suffix), "community suffix {:?} in {}", c.suffix, s.name);
                assert!(
                    community_suffixes.insert(&c.suffix),
                    "duplicate community {} in {}",
                    c.suffix,
                    s.name
                );
                check_short("community", &c.name);
                assert!((3..=4).contains(&c.grids.len()), "{} has {} grids", c.name, c.grids.len());
                let mut seen = HashSet::new();
                for g in &c.grids {
                    check_short("grid", g);
                    assert!(seen.insert(g), "duplicate grid {g} in {}", c.name);
                }
            }
        }
    }

    #[test]
    fn people_and_departments() {
        let d = data();
        assert!(d.workers.len() >= 30, "workers has {}", d.workers.len());
        assert!(d.reporters.len() >= 20, "reporters has {}", d.reporters.len());
        assert!((8..=10).contains(&d.departments.len()), "departments has {}", d.departments.len());
        for w in &d.workers {
            check_short("worker", w);
        }
        assert_eq!(d.workers.iter().collect::<HashSet<_>>().len(), d.workers.len(), "duplicate worker");
        for r in &d.reporters {
            check_short("reporter", r);
        }
        for dep in &d.departments {
            check_short("department", &dep.name);
            assert!(dep.deadline_hours > 0, "{} has no deadline", dep.name);
        }
        check_short("district", &d.district.name);
    }

    #[test]
    fn notes() {
        let d = data();
        for (what, list) in [
            ("handled_notes", &d.handled_notes),
            ("return_reasons", &d.return_reasons),
            ("escalate_reasons", &d.escalate_reasons),
            ("extend_reasons", &d.extend_reasons),
            ("cancel_reasons", &d.cancel_reasons),
        ] {
            assert!((6..=10).contains(&list.len()), "{what} has {}", list.len());
            for s in list {
                check_short(what, s);
            }
        }
    }
}
