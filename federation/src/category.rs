//! The case classification (案件分类): event (事件), component (部件) and social-governance (社会治理)
//! categories, each a major class with minor classes under it.
//!
//! This module owns the catalogue shipped in `data/categories.toml`, its validation, and the resolution of
//! what an operator types (a code, `major/minor`, or a bare minor name) to one category. A category's
//! 4-digit code is 2 digits of major class + 2 of minor class; it is unique across all kinds, so the
//! event class 市容环境 (01) and the component class 市容环境 (13) have different major codes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The shipped catalogue, compiled into the binary.
const STANDARD_TOML: &str = include_str!("../data/categories.toml");

/// What kind of thing a category classifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    /// 事件: something that happened (exposed rubbish, a burst pipe, street vending).
    Event,
    /// 部件: a piece of public infrastructure that is damaged or missing (a manhole cover, a street lamp).
    Component,
    /// 社会治理: social governance (disputes, safety hazards, services for residents, petitions).
    Social,
}

impl CategoryKind {
    /// Chinese name of the kind, as shown to operators.
    pub fn zh(self) -> &'static str {
        match self {
            CategoryKind::Event => "事件",
            CategoryKind::Component => "部件",
            CategoryKind::Social => "社会治理",
        }
    }
}

impl fmt::Display for CategoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CategoryKind::Event => "event",
            CategoryKind::Component => "component",
            CategoryKind::Social => "social",
        })
    }
}

/// One minor class of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// 4 digits: 2-digit major class + 2-digit minor class, e.g. `"0101"`.
    pub code: String,
    /// Event, component or social governance.
    pub kind: CategoryKind,
    /// Major class name (大类), e.g. `市容环境`.
    pub major: String,
    /// Minor class name (小类), e.g. `暴露垃圾`.
    pub minor: String,
}

impl Category {
    /// `major/minor`, e.g. `市容环境/暴露垃圾`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.major, self.minor)
    }
}

/// A category could not be found, or a catalogue is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryError {
    /// No category matches what was given.
    #[error(
        "{field}: unknown category {value:?}; give a 4-digit code, major/minor (e.g. 市容环境/暴露垃圾) \
         or a minor class name; `gridnode case categories` lists them"
    )]
    Unknown {
        /// The field the text came from (`category`, ...).
        field: String,
        /// What was given.
        value: String,
    },
    /// A bare minor name (or a label) matches more than one category.
    #[error(
        "{field}: {value:?} matches several categories ({}); give the code or major/minor instead",
        candidates.join(", ")
    )]
    Ambiguous {
        /// The field the text came from.
        field: String,
        /// What was given.
        value: String,
        /// Every matching category, as `code kind major/minor` (`0101 event 市容环境/暴露垃圾`).
        candidates: Vec<String>,
    },
    /// The catalogue text is not valid.
    #[error("bad category data: {message}")]
    BadData {
        /// Every problem found (TOML syntax, or one line per bad entry).
        message: String,
    },
}

/// The TOML shape of a catalogue file: a list of `[[category]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(rename = "category", default)]
    categories: Vec<Category>,
}

/// A validated set of categories, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    categories: Vec<Category>,
    by_code: HashMap<String, usize>,
}

impl Catalog {
    /// The catalogue shipped in `data/categories.toml`, parsed once.
    ///
    /// # Panics
    /// Only if the compiled-in data were invalid, which `tests::shipped_data_parses` rules out.
    #[allow(clippy::expect_used)] // the data is compiled in and `tests::shipped_data_parses` proves it valid
    pub fn standard() -> &'static Catalog {
        static STANDARD: OnceLock<Catalog> = OnceLock::new();
        STANDARD.get_or_init(|| {
            Catalog::parse(STANDARD_TOML).expect("the compiled-in data/categories.toml is valid")
        })
    }

    /// Parses and validates a catalogue: codes are 4 digits (minor part not `00`) and unique, names are
    /// non-empty, `(major, minor)` is unique within a kind, and all entries of a major code agree on the
    /// major name and kind (and a major name has one code per kind). Every problem found is reported.
    pub fn parse(text: &str) -> Result<Catalog, CategoryError> {
        let file: CatalogFile =
            toml::from_str(text).map_err(|e| CategoryError::BadData { message: e.to_string() })?;
        let mut problems = Vec::new();
        let mut by_code: HashMap<String, usize> = HashMap::new();
        let mut labels: HashMap<(CategoryKind, &str, &str), &str> = HashMap::new();
        // major code -> (kind, major name, first code seen)
        let mut majors: BTreeMap<&str, (CategoryKind, &str, &str)> = BTreeMap::new();
        // (kind, major name) -> major code
        let mut major_codes: HashMap<(CategoryKind, &str), &str> = HashMap::new();

        for (i, c) in file.categories.iter().enumerate() {
            let at = format!("category[{i}] ({:?})", c.code);
            let code_ok = c.code.len() == 4 && c.code.bytes().all(|b| b.is_ascii_digit());
            if !code_ok {
                problems.push(format!("{at}: code must be 4 digits (2 major + 2 minor), e.g. \"0101\""));
            } else if c.code.ends_with("00") {
                problems.push(format!("{at}: the minor part of the code cannot be 00"));
            }
            if let Some(&first) = by_code.get(&c.code) {
                problems.push(format!("{at}: code {:?} is already used by category[{first}]", c.code));
            } else {
                by_code.insert(c.code.clone(), i);
            }
            let major = c.major.trim();
            let minor = c.minor.trim();
            if major.is_empty() {
                problems.push(format!("{at}: major name is empty"));
            }
            if minor.is_empty() {
                problems.push(format!("{at}: minor name is empty"));
            }
            if major != c.major || minor != c.minor {
                problems.push(format!("{at}: names must not start or end with spaces"));
            }
            if major.contains('/') || minor.contains('/') {
                problems.push(format!("{at}: names must not contain '/' (it separates major/minor)"));
            }
            if major.is_empty() || minor.is_empty() {
                continue;
            }
            if let Some(first) = labels.insert((c.kind, major, minor), &c.code) {
                problems.push(format!("{at}: {} {} is already defined as {first}", c.kind, c.label()));
            }
            if !code_ok {
                continue;
            }
            let major_code = &c.code[..2];
            match majors.get(major_code) {
                Some(&(kind, name, first)) if kind != c.kind || name != major => problems.push(format!(
                    "{at}: major code {major_code} is {kind} class {name} in {first:?}, not {} class {major}",
                    c.kind
                )),
                Some(_) => {}
                None => {
                    majors.insert(major_code, (c.kind, major, &c.code));
                }
            }
            match major_codes.get(&(c.kind, major)) {
                Some(&other) if other != major_code => problems.push(format!(
                    "{at}: {} class {major} already has major code {other}, not {major_code}",
                    c.kind
                )),
                Some(_) => {}
                None => {
                    major_codes.insert((c.kind, major), major_code);
                }
            }
        }
        if !problems.is_empty() {
            return Err(CategoryError::BadData { message: problems.join("; ") });
        }
        Ok(Catalog { categories: file.categories, by_code })
    }

    /// Every category, in catalogue order.
    pub fn all(&self) -> &[Category] {
        &self.categories
    }

    /// The category with this 4-digit code.
    pub fn get(&self, code: &str) -> Option<&Category> {
        self.by_code.get(code).and_then(|&i| self.categories.get(i))
    }

    /// Accepts a 4-digit code, or "major/minor" (e.g. "市容环境/暴露垃圾"), or the bare minor name when it
    /// is unambiguous. Surrounding spaces are ignored and a full-width slash (／) is accepted. `field`
    /// names where the input came from, for the error.
    pub fn resolve(&self, field: &str, input: &str) -> Result<&Category, CategoryError> {
        let value = input.trim();
        if let Some(c) = self.get(value) {
            return Ok(c);
        }
        let matches: Vec<&Category> = match value.split_once(['/', '／']) {
            Some((major, minor)) => {
                let (major, minor) = (major.trim(), minor.trim());
                self.categories.iter().filter(|c| c.major == major && c.minor == minor).collect()
            }
            None => self.categories.iter().filter(|c| c.minor == value).collect(),
        };
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(CategoryError::Unknown { field: field.to_string(), value: input.to_string() }),
            several => Err(CategoryError::Ambiguous {
                field: field.to_string(),
                value: input.to_string(),
                candidates: several.iter().map(|c| format!("{} {} {}", c.code, c.kind, c.label())).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn entry(code: &str, kind: &str, major: &str, minor: &str) -> String {
        format!("[[category]]\ncode = \"{code}\"\nkind = \"{kind}\"\nmajor = \"{major}\"\nminor = \"{minor}\"\n\n")
    }

    #[test]
    fn shipped_data_parses() {
        let parsed = Catalog::parse(STANDARD_TOML).unwrap();
        let n = parsed.all().len();
        assert!((60..=90).contains(&n), "{n} categories");
        assert_eq!(Catalog::standard().all().len(), n);
        for kind in [CategoryKind::Event, CategoryKind::Component, CategoryKind::Social] {
            assert!(parsed.all().iter().any(|c| c.kind == kind), "no {kind} categories");
        }
    }

    #[test]
    fn shipped_codes_are_unique_and_well_formed() {
        let all = Catalog::standard().all();
        let codes: HashSet<&str> = all.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes.len(), all.len());
        for c in all {
            assert!(c.code.len() == 4 && c.code.bytes().all(|b| b.is_ascii_digit()), "{c:?}");
            assert!(!c.major.is_empty() && !c.minor.is_empty(), "{c:?}");
        }
    }

    #[test]
    fn shipped_data_keeps_the_two_city_appearance_classes_apart() {
        let cat = Catalog::standard();
        let event = cat.resolve("category", "暴露垃圾").unwrap();
        let component = cat.resolve("category", "果皮箱").unwrap();
        assert_eq!((event.kind, event.major.as_str()), (CategoryKind::Event, "市容环境"));
        assert_eq!((component.kind, component.major.as_str()), (CategoryKind::Component, "市容环境"));
        assert_ne!(event.code[..2], component.code[..2]);
    }

    #[test]
    fn resolve_by_code_label_and_unique_minor() {
        let cat = Catalog::standard();
        let by_code = cat.resolve("category", "0101").unwrap();
        assert_eq!(by_code.label(), "市容环境/暴露垃圾");
        assert_eq!(by_code.kind, CategoryKind::Event);
        assert_eq!(cat.resolve("category", "市容环境/暴露垃圾").unwrap(), by_code);
        assert_eq!(cat.resolve("category", " 市容环境／暴露垃圾 ").unwrap(), by_code);
        assert_eq!(cat.resolve("category", "暴露垃圾").unwrap(), by_code);
        assert_eq!(cat.get("0101"), Some(by_code));
        assert_eq!(cat.get("9999"), None);
        let lamp = cat.resolve("category", "公用设施/路灯").unwrap();
        assert_eq!(lamp.kind, CategoryKind::Component);
        assert_eq!(cat.resolve("category", "信访诉求").unwrap().kind, CategoryKind::Social);
    }

    #[test]
    fn unknown_is_refused_naming_the_field() {
        let cat = Catalog::standard();
        for input in ["9999", "市容环境/路灯", "不存在的小类", "", "市容环境"] {
            let err = cat.resolve("case.category", input).unwrap_err();
            assert!(matches!(err, CategoryError::Unknown { .. }), "{input}: {err:?}");
            let msg = err.to_string();
            assert!(msg.starts_with("case.category: "), "{msg}");
            assert!(msg.contains("gridnode case categories"), "{msg}");
        }
    }

    #[test]
    fn ambiguous_minor_is_refused_but_label_and_code_work() {
        let text =
            entry("0101", "event", "市容环境", "其他") + &entry("1301", "component", "市容环境", "其他");
        let cat = Catalog::parse(&text).unwrap();
        let err = cat.resolve("category", "其他").unwrap_err();
        assert!(matches!(err, CategoryError::Ambiguous { .. }), "{err:?}");
        assert!(err.to_string().contains("0101") && err.to_string().contains("1301"), "{err}");
        assert!(cat.resolve("category", "市容环境/其他").is_err());
        assert_eq!(cat.resolve("category", "1301").unwrap().kind, CategoryKind::Component);
    }

    #[test]
    fn duplicate_code_in_data_is_refused() {
        let text =
            entry("0101", "event", "市容环境", "暴露垃圾") + &entry("0101", "event", "市容环境", "道路不洁");
        let err = Catalog::parse(&text).unwrap_err();
        assert!(matches!(err, CategoryError::BadData { .. }));
        assert!(err.to_string().contains("already used by category[0]"), "{err}");
    }

    #[test]
    fn malformed_data_is_refused() {
        let cases = [
            (entry("101", "event", "市容环境", "暴露垃圾"), "4 digits"),
            (entry("01a1", "event", "市容环境", "暴露垃圾"), "4 digits"),
            (entry("0100", "event", "市容环境", "暴露垃圾"), "cannot be 00"),
            (entry("0101", "event", "", "暴露垃圾"), "major name is empty"),
            (entry("0101", "event", "市容环境", " "), "minor name is empty"),
            (
                entry("0101", "event", "市容环境", "暴露垃圾")
                    + &entry("0102", "event", "市容环境", "暴露垃圾"),
                "already defined",
            ),
            (
                entry("0101", "event", "市容环境", "暴露垃圾")
                    + &entry("0102", "component", "市容环境", "果皮箱"),
                "major code 01",
            ),
            (
                entry("0101", "event", "市容环境", "暴露垃圾")
                    + &entry("0201", "event", "市容环境", "道路不洁"),
                "already has major code 01",
            ),
            (entry("0101", "incident", "市容环境", "暴露垃圾"), "incident"),
            (entry("0101", "event", "市容环境", "暴露垃圾") + "colour = \"red\"\n", "colour"),
        ];
        for (text, needle) in cases {
            let err = Catalog::parse(&text).unwrap_err();
            assert!(matches!(err, CategoryError::BadData { .. }), "{text}");
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn same_label_in_two_kinds_is_allowed() {
        let text =
            entry("0101", "event", "市容环境", "公厕") + &entry("1302", "component", "市容环境", "公厕");
        assert_eq!(Catalog::parse(&text).unwrap().all().len(), 2);
    }

    #[test]
    fn kind_serde_and_display_are_snake_case() {
        assert_eq!(CategoryKind::Component.to_string(), "component");
        assert_eq!(serde_json::to_string(&CategoryKind::Social).unwrap(), "\"social\"");
        let c = Catalog::standard().get("0101").unwrap();
        let json = serde_json::to_string(c).unwrap();
        assert!(json.contains("\"kind\":\"event\""), "{json}");
        let back: Category = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, c);
    }
}
