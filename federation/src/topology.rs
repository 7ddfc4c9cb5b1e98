//! The district topology file: which nodes (区 / 街道 / 社区) exist, where their replicas listen, and which
//! grids each community owns.
//!
//! This module owns the file's shape and its checks, as pure functions over the file's text: [`Topology::parse`]
//! reads the TOML, [`Topology::check`] reports every problem (each naming its field, e.g. `node[2].code`), and
//! [`Topology::load`] does both.
//!
//! ```toml
//! [defaults]
//! data_root = "/var/lib/gridnode"
//! [[node]]
//! code = "370102"
//! name = "历下区"
//! replicas = ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"]
//! [[node]]
//! code = "370102001001"
//! name = "文化东路社区"
//! replicas = ["127.0.0.1:7301"]
//! grids = ["001", "002"]
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::code::{Code, CodeError, Level};

/// Where replicas keep their data when the file does not say.
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/gridnode";

/// A district's topology, as written in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Settings shared by every node.
    #[serde(default)]
    pub defaults: Defaults,
    /// The `[[node]]` tables, in file order.
    #[serde(rename = "node", default)]
    pub nodes: Vec<NodeSpec>,
}

/// Settings shared by every node of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// where replicas keep data: `{data_root}/{code}/r{replica_id}`
    pub data_root: String,
    /// The deadline policy of every node ("7123", per-category limits, the working calendar).
    pub deadlines: crate::deadline::DeadlinePolicy,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { data_root: DEFAULT_DATA_ROOT.to_string(), deadlines: Default::default() }
    }
}

impl Defaults {
    /// The data directory of one replica: `{data_root}/{code}/r{replica_id}` (a path, not touched here).
    pub fn data_dir(&self, code: &str, replica_id: u64) -> String {
        format!("{}/{}/r{}", self.data_root.trim_end_matches('/'), code, replica_id)
    }
}

/// One node (a district, street or community centre) and its Raft replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// The division code: 6 digits (district), 9 (street) or 12 (community).
    pub code: String,
    /// The Chinese name, e.g. `历下区`.
    pub name: String,
    /// The replicas' `ip:port` addresses: 1, 3 or 5 of them.
    pub replicas: Vec<String>,
    /// A community's grids: 3-digit suffixes (`"001"`) or full 15-digit codes under the community.
    #[serde(default)]
    pub grids: Vec<String>,
    /// The replicas' HTTP (console) addresses, one per replica in the same order; empty means each
    /// replica's gRPC port + 1000 on the same IP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<String>,
}

impl NodeSpec {
    /// The node's validated code (field name `node.code`); a grid code is refused.
    pub fn code(&self) -> Result<Code, CodeError> {
        Code::parse_node("node.code", &self.code)
    }

    /// Full 15-digit grid codes; entries may be 3-digit suffixes ("001") or full codes under this community.
    /// A node without grids has none; a non-community node with grids is an error.
    pub fn grid_codes(&self) -> Result<Vec<Code>, CodeError> {
        let code = self.code()?;
        if self.grids.is_empty() {
            return Ok(Vec::new());
        }
        if code.level() != Level::Community {
            return Err(CodeError::WrongLevel {
                field: "node.code".to_string(),
                value: self.code.clone(),
                expected: "community (only a community has grids)".to_string(),
                actual: code.level(),
            });
        }
        self.grids.iter().map(|entry| grid_entry(&code, "node.grids", entry)).collect()
    }
}

/// Resolves one `grids` entry of `community` to its full grid code.
fn grid_entry(community: &Code, field: &str, entry: &str) -> Result<Code, CodeError> {
    if entry.len() == 3 {
        return community.child(field, entry);
    }
    if entry.len() != Level::Grid.digits() {
        return Err(CodeError::Malformed {
            field: field.to_string(),
            value: entry.to_string(),
            reason: "expected a 3-digit suffix such as \"001\" or a full 15-digit grid code",
        });
    }
    let grid = Code::parse_level(field, entry, Level::Grid)?;
    if grid.parent().as_ref() != Some(community) {
        return Err(CodeError::Malformed {
            field: field.to_string(),
            value: entry.to_string(),
            reason: "a full grid code must begin with its community's 12-digit code",
        });
    }
    Ok(grid)
}

/// One problem in a topology file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `node[2].code`, `node[0].replicas[1]`, `defaults.data_root`, ...
    pub field: String,
    /// What is wrong, and where it helps, what to do.
    pub message: String,
}

impl Problem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { field: field.into(), message: message.into() }
    }

    /// A problem from a code error, without repeating the field name the error starts with.
    fn from_code_error(field: &str, err: &CodeError) -> Problem {
        let text = err.to_string();
        let message = text.strip_prefix(&format!("{field}: ")).map(str::to_string).unwrap_or(text);
        Problem::new(field, message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A topology file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// Not TOML, or not the topology's shape (unknown or missing keys, wrong types); the text gives the line.
    #[error("topology file: {message}")]
    Syntax {
        /// The TOML parser's message, with the line and column.
        message: String,
    },
    /// Well formed, but the checks found problems.
    #[error("topology file has {} problem{}:{}", problems.len(), plural(problems.len()), list(problems))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// What check() learns about one node before the cross-node checks.
struct Parsed<'a> {
    index: usize,
    spec: &'a NodeSpec,
    code: Option<Code>,
}

impl Topology {
    /// Reads the file's syntax and shape only; see [`Topology::check`] for its meaning.
    pub fn parse(text: &str) -> Result<Topology, TopologyError> {
        toml::from_str(text)
            .map_err(|e| TopologyError::Syntax { message: e.to_string().trim_end().to_string() })
    }

    /// Parses and checks; `Invalid` lists every problem found.
    pub fn load(text: &str) -> Result<Topology, TopologyError> {
        let topology = Topology::parse(text)?;
        let problems = topology.check();
        if problems.is_empty() {
            Ok(topology)
        } else {
            Err(TopologyError::Invalid { problems })
        }
    }

    /// Every problem found, not just the first, in file order.
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.defaults.data_root.trim().is_empty() {
            problems.push(Problem::new(
                "defaults.data_root",
                format!("is empty; give the directory replicas keep data in, e.g. {DEFAULT_DATA_ROOT:?}"),
            ));
        }

        if let Err(e) = self.defaults.deadlines.validate("defaults.deadlines") {
            problems.push(Problem::new(&e.field, e.reason));
        }

        let parsed: Vec<Parsed<'_>> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(index, spec)| Parsed { index, spec, code: spec.code().ok() })
            .collect();
        let districts: Vec<&Parsed<'_>> =
            parsed.iter().filter(|p| p.code.as_ref().is_some_and(|c| c.level() == Level::District)).collect();
        let mut first_with_code: HashMap<&str, usize> = HashMap::new();
        for p in &parsed {
            first_with_code.entry(p.spec.code.as_str()).or_insert(p.index);
        }
        if districts.is_empty() {
            let hint = parsed
                .iter()
                .find_map(|p| p.code.as_ref())
                .map(|c| format!(" with code = {:?}", &c.as_str()[..Level::District.digits()]))
                .unwrap_or_default();
            problems.push(Problem::new(
                "node",
                format!("no district node (6-digit code); add a [[node]]{hint} for the district centre"),
            ));
        }

        // address -> where it was first used
        let mut addresses: HashMap<String, String> = HashMap::new();
        for p in &parsed {
            self.check_node(p, &districts, &first_with_code, &mut addresses, &mut problems);
        }
        problems
    }

    fn check_node(
        &self,
        p: &Parsed<'_>,
        districts: &[&Parsed<'_>],
        first_with_code: &HashMap<&str, usize>,
        addresses: &mut HashMap<String, String>,
        problems: &mut Vec<Problem>,
    ) {
        let at = format!("node[{}]", p.index);
        let spec = p.spec;
        let hint = if spec.code.is_empty() { String::new() } else { format!(" ({})", spec.code) };

        // The code, its uniqueness and its place in the hierarchy.
        let code_field = format!("{at}.code");
        match &p.code {
            None => {
                if let Err(err) = Code::parse_node(&code_field, &spec.code) {
                    let mut problem = Problem::from_code_error(&code_field, &err);
                    if matches!(err, CodeError::WrongLevel { actual: Level::Grid, .. }) {
                        problem
                            .message
                            .push_str("; a grid is not a node: list it in its community's `grids` instead");
                    }
                    problems.push(problem);
                }
            }
            Some(code) => match first_with_code.get(spec.code.as_str()) {
                Some(&first) if first != p.index => problems.push(Problem::new(
                    &code_field,
                    format!("{:?} is already the code of node[{first}]", spec.code),
                )),
                _ => self.check_place(p, code, districts, &code_field, problems),
            },
        }

        if spec.name.trim().is_empty() {
            problems.push(Problem::new(
                format!("{at}.name"),
                format!("is empty; give the centre's Chinese name, e.g. 历下区{hint}"),
            ));
        }

        // Replicas.
        let n = spec.replicas.len();
        if ![1, 3, 5].contains(&n) {
            problems.push(Problem::new(
                format!("{at}.replicas"),
                format!("has {n} address{}{hint}; a Raft group needs 1, 3 or 5 replicas", plural_es(n)),
            ));
        }
        for (k, raw) in spec.replicas.iter().enumerate() {
            let field = format!("{at}.replicas[{k}]");
            let key = match raw.trim().parse::<SocketAddr>() {
                Ok(addr) if addr.port() == 0 => {
                    problems.push(Problem::new(
                        &field,
                        format!("{raw:?} has port 0; give the port the replica listens on{hint}"),
                    ));
                    addr.to_string()
                }
                Ok(addr) => addr.to_string(),
                Err(_) => {
                    problems.push(Problem::new(
                        &field,
                        format!(
                            "{raw:?} is not an ip:port address such as \"127.0.0.1:7101\" or \"[::1]:7101\" \
                             (host names are not allowed){hint}"
                        ),
                    ));
                    raw.trim().to_string()
                }
            };
            match addresses.get(&key) {
                Some(first) => problems.push(Problem::new(
                    &field,
                    format!("{raw:?} is already used by {first}; every replica needs its own address{hint}"),
                )),
                None => {
                    addresses.insert(key, format!("{field}{hint}"));
                }
            }
        }

        // HTTP addresses, when given.
        if !spec.http.is_empty() && spec.http.len() != n {
            problems.push(Problem::new(
                format!("{at}.http"),
                format!(
                    "has {} addresses for {n} replicas; give one per replica, or none{hint}",
                    spec.http.len()
                ),
            ));
        }
        for (k, raw) in spec.http.iter().enumerate() {
            let field = format!("{at}.http[{k}]");
            match raw.trim().parse::<SocketAddr>() {
                Ok(addr) if addr.port() != 0 => match addresses.get(&addr.to_string()) {
                    Some(first) => problems.push(Problem::new(
                        &field,
                        format!(
                            "{raw:?} is already used by {first}; every server needs its own address{hint}"
                        ),
                    )),
                    None => {
                        addresses.insert(addr.to_string(), format!("{field}{hint}"));
                    }
                },
                _ => problems.push(Problem::new(
                    &field,
                    format!(
                        "{raw:?} is not an ip:port address with a port, such as \"127.0.0.1:8101\"{hint}"
                    ),
                )),
            }
        }

        // Grids.
        let Some(code) = &p.code else { return };
        if code.level() != Level::Community {
            if !spec.grids.is_empty() {
                problems.push(Problem::new(
                    format!("{at}.grids"),
                    format!(
                        "only a community has grids, and {} is a {} ({}); move them to its communities",
                        spec.code,
                        code.level(),
                        code.level().zh()
                    ),
                ));
            }
            return;
        }
        if spec.grids.is_empty() {
            problems.push(Problem::new(
                format!("{at}.grids"),
                format!("a community needs at least one grid, e.g. grids = [\"001\"]{hint}"),
            ));
        }
        let mut seen: HashMap<Code, usize> = HashMap::new();
        for (k, entry) in spec.grids.iter().enumerate() {
            let field = format!("{at}.grids[{k}]");
            match grid_entry(code, &field, entry) {
                Err(err) => {
                    let mut problem = Problem::from_code_error(&field, &err);
                    problem.message.push_str(&hint);
                    problems.push(problem);
                }
                Ok(grid) => match seen.get(&grid) {
                    Some(&first) => problems.push(Problem::new(
                        &field,
                        format!("grid {grid} is listed twice (also {at}.grids[{first}])"),
                    )),
                    None => {
                        seen.insert(grid, k);
                    }
                },
            }
        }
    }

    /// The node's place: under the district, and its parent (street or district) present.
    fn check_place(
        &self,
        p: &Parsed<'_>,
        code: &Code,
        districts: &[&Parsed<'_>],
        field: &str,
        problems: &mut Vec<Problem>,
    ) {
        if code.level() == Level::District {
            if let Some(first) = districts.first() {
                if first.index != p.index {
                    problems.push(Problem::new(
                        field,
                        format!(
                            "a second district ({}); a topology file describes one district, node[{}] ({})",
                            code, first.index, first.spec.code
                        ),
                    ));
                }
            }
            return;
        }
        if !districts.is_empty() {
            let under_one = districts.iter().any(|d| d.code.as_ref().is_some_and(|dc| code.is_within(dc)));
            if !under_one {
                let names: Vec<String> =
                    districts.iter().map(|d| format!("{} (node[{}])", d.spec.code, d.index)).collect();
                problems.push(Problem::new(
                    field,
                    format!("{code} is not under the district {}", names.join(" or ")),
                ));
                return;
            }
        }
        let Some(parent) = code.parent() else { return };
        if self.node(parent.as_str()).is_none() {
            let (what, parent_level) = match code.level() {
                Level::Street => ("street", "district"),
                _ => ("community", "street"),
            };
            problems.push(Problem::new(
                field,
                format!(
                    "the {what} {code}'s {parent_level} {parent} is not in the file; add a [[node]] with \
                     code = \"{parent}\""
                ),
            ));
        }
    }

    /// The node with exactly this code.
    pub fn node(&self, code: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.code == code)
    }

    /// The node whose code is `code`'s parent (for a grid code, its community).
    pub fn parent_of(&self, code: &str) -> Option<&NodeSpec> {
        let parent = Code::parse("code", code).ok()?.parent()?;
        self.node(parent.as_str())
    }

    /// The nodes whose parent is `code`, in file order.
    pub fn children_of(&self, code: &str) -> Vec<&NodeSpec> {
        self.nodes
            .iter()
            .filter(|n| n.code().ok().and_then(|c| c.parent()).is_some_and(|p| p.as_str() == code))
            .collect()
    }

    /// The district node (the first, if the file wrongly has several).
    pub fn district(&self) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.code().is_ok_and(|c| c.level() == Level::District))
    }
}

fn plural_es(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "es"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[defaults]
data_root = "/var/lib/gridnode"

[[node]]
code = "370102"
name = "历下区"
replicas = ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"]

[[node]]
code = "370102001"
name = "解放路街道"
replicas = ["127.0.0.1:7201"]

[[node]]
code = "370102001001"
name = "文化东路社区"
replicas = ["127.0.0.1:7301"]
grids = ["001", "002"]
"#;

    fn example() -> Topology {
        Topology::parse(EXAMPLE).unwrap()
    }

    /// The problems of `t`, asserting there is exactly one and it is on `field`; returns its message.
    fn only_problem(t: &Topology, field: &str) -> String {
        let problems = t.check();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].field, field, "{problems:#?}");
        problems[0].message.clone()
    }

    fn node(code: &str, name: &str, replicas: &[&str], grids: &[&str]) -> NodeSpec {
        NodeSpec {
            code: code.to_string(),
            name: name.to_string(),
            replicas: replicas.iter().map(|s| s.to_string()).collect(),
            http: vec![],
            grids: grids.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn example_is_clean() {
        let t = Topology::load(EXAMPLE).unwrap();
        assert_eq!(t.check(), vec![]);
        assert_eq!(t.nodes.len(), 3);
        assert_eq!(t.district().unwrap().name, "历下区");
        assert_eq!(t.node("370102001").unwrap().name, "解放路街道");
        assert!(t.node("370102002").is_none());
        assert_eq!(t.parent_of("370102001001").unwrap().code, "370102001");
        assert_eq!(t.parent_of("370102001001002").unwrap().code, "370102001001");
        assert!(t.parent_of("370102").is_none());
        assert!(t.parent_of("garbage").is_none());
        let children: Vec<&str> = t.children_of("370102").iter().map(|n| n.code.as_str()).collect();
        assert_eq!(children, ["370102001"]);
        assert_eq!(t.children_of("370102001001").len(), 0);
        let community = t.node("370102001001").unwrap();
        assert_eq!(community.code().unwrap().level(), Level::Community);
        let grids: Vec<String> =
            community.grid_codes().unwrap().into_iter().map(|c| c.as_str().to_string()).collect();
        assert_eq!(grids, ["370102001001001", "370102001001002"]);
        assert_eq!(t.defaults.data_dir("370102", 2), "/var/lib/gridnode/370102/r2");
    }

    #[test]
    fn defaults_and_grids_may_be_omitted() {
        let t = Topology::parse(
            "[[node]]\ncode = \"370102\"\nname = \"历下区\"\nreplicas = [\"127.0.0.1:7101\"]\n",
        )
        .unwrap();
        assert_eq!(t.defaults.data_root, DEFAULT_DATA_ROOT);
        assert!(t.nodes[0].grids.is_empty());
        assert_eq!(t.check(), vec![]);
        let t = Topology::parse("[defaults]\n").unwrap();
        assert_eq!(t.defaults.data_root, DEFAULT_DATA_ROOT);
    }

    #[test]
    fn syntax_and_shape_errors_carry_the_line() {
        let err = Topology::parse("[[node]]\ncode = \"370102\"\nname = \n").unwrap_err();
        assert!(matches!(err, TopologyError::Syntax { .. }));
        assert!(err.to_string().contains("line 3"), "{err}");
        let err =
            Topology::load("[[node]]\ncode = \"370102\"\nname = \"历下区\"\nreplica = []\n").unwrap_err();
        assert!(err.to_string().contains("replica"), "{err}");
        let err = Topology::parse("[defaults]\ndata_rot = \"/x\"\n").unwrap_err();
        assert!(err.to_string().contains("data_rot"), "{err}");
        let err = Topology::parse("[[node]]\ncode = 370102\nname = \"x\"\nreplicas = []\n").unwrap_err();
        assert!(matches!(err, TopologyError::Syntax { .. }), "{err}");
    }

    #[test]
    fn malformed_node_code() {
        let mut t = example();
        t.nodes[1].code = "37010200".to_string();
        let problems = t.check();
        assert!(problems.iter().any(|p| p.field == "node[1].code" && p.message.contains("\"37010200\"")));
        // the community's street is now missing as well
        assert!(problems.iter().any(|p| p.field == "node[2].code" && p.message.contains("370102001 is not")));
    }

    #[test]
    fn grid_code_as_node_code() {
        let mut t = example();
        t.nodes.push(node("370102001001003", "某网格", &["127.0.0.1:7401"], &[]));
        let msg = only_problem(&t, "node[3].code");
        assert!(msg.contains("grid") && msg.contains("grids"), "{msg}");
        assert!(NodeSpec::code(&t.nodes[3]).is_err());
    }

    #[test]
    fn empty_name() {
        let mut t = example();
        t.nodes[2].name = "  ".to_string();
        let msg = only_problem(&t, "node[2].name");
        assert!(msg.contains("(370102001001)"), "{msg}");
    }

    #[test]
    fn duplicate_node_code() {
        let mut t = example();
        t.nodes.push(node("370102001", "又一个街道", &["127.0.0.1:7202"], &[]));
        let msg = only_problem(&t, "node[3].code");
        assert!(msg.contains("node[1]"), "{msg}");
        let mut t = example();
        t.nodes.push(node("370102", "历下区", &["127.0.0.1:7104"], &[]));
        let msg = only_problem(&t, "node[3].code");
        assert!(msg.contains("already the code of node[0]"), "{msg}");
    }

    #[test]
    fn replica_count_must_be_1_3_or_5() {
        for n in [0usize, 2, 4, 6] {
            let mut t = example();
            t.nodes[1].replicas = (0..n).map(|i| format!("127.0.0.1:{}", 7201 + i)).collect();
            let msg = only_problem(&t, "node[1].replicas");
            assert!(msg.contains(&format!("has {n} address")) && msg.contains("1, 3 or 5"), "{msg}");
        }
        let mut t = example();
        t.nodes[1].replicas = (0..5).map(|i| format!("127.0.0.1:{}", 7201 + i)).collect();
        assert_eq!(t.check(), vec![]);
    }

    #[test]
    fn replica_address_must_be_ip_and_port() {
        for bad in ["localhost:7201", "127.0.0.1", "127.0.0.1:99999", "", "7201", "::1:7201"] {
            let mut t = example();
            t.nodes[1].replicas = vec![bad.to_string()];
            let msg = only_problem(&t, "node[1].replicas[0]");
            assert!(msg.contains("ip:port") && msg.contains("(370102001)"), "{bad}: {msg}");
        }
        let mut t = example();
        t.nodes[1].replicas = vec!["[::1]:7201".to_string()];
        assert_eq!(t.check(), vec![]);
    }

    #[test]
    fn replica_port_zero() {
        let mut t = example();
        t.nodes[0].replicas[1] = "127.0.0.1:0".to_string();
        let msg = only_problem(&t, "node[0].replicas[1]");
        assert!(msg.contains("port 0"), "{msg}");
    }

    #[test]
    fn same_address_twice_anywhere() {
        let mut t = example();
        t.nodes[2].replicas = vec!["127.0.0.1:7102".to_string()];
        let msg = only_problem(&t, "node[2].replicas[0]");
        assert!(msg.contains("node[0].replicas[1] (370102)"), "{msg}");
        // within one node too
        let mut t = example();
        t.nodes[0].replicas[2] = "127.0.0.1:7101".to_string();
        only_problem(&t, "node[0].replicas[2]");
    }

    #[test]
    fn no_district() {
        let mut t = example();
        t.nodes.remove(0);
        let problems = t.check();
        assert!(t.district().is_none());
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert_eq!(problems[0].field, "node");
        assert!(problems[0].message.contains("code = \"370102\""), "{}", problems[0]);
        // the street whose district is missing
        assert_eq!(problems[1].field, "node[0].code");
        assert!(problems[1].message.contains("district 370102 is not in the file"), "{}", problems[1]);
        let problems = Topology::parse("").unwrap().check();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].field, "node");
    }

    #[test]
    fn more_than_one_district() {
        let mut t = example();
        t.nodes.push(node("370103", "市中区", &["127.0.0.1:8101"], &[]));
        let msg = only_problem(&t, "node[3].code");
        assert!(msg.contains("second district") && msg.contains("node[0] (370102)"), "{msg}");
        assert_eq!(t.district().unwrap().code, "370102");
    }

    #[test]
    fn node_not_under_the_district() {
        let mut t = example();
        t.nodes.push(node("370103001", "某街道", &["127.0.0.1:8201"], &[]));
        let msg = only_problem(&t, "node[3].code");
        assert!(msg.contains("not under the district 370102 (node[0])"), "{msg}");
    }

    #[test]
    fn community_whose_street_is_missing() {
        let mut t = example();
        t.nodes.push(node("370102002001", "某社区", &["127.0.0.1:7302"], &["001"]));
        let msg = only_problem(&t, "node[3].code");
        assert!(msg.contains("street 370102002 is not in the file"), "{msg}");
    }

    #[test]
    fn grids_on_a_non_community_node() {
        let mut t = example();
        t.nodes[1].grids = vec!["001".to_string()];
        let msg = only_problem(&t, "node[1].grids");
        assert!(msg.contains("street"), "{msg}");
        assert!(t.nodes[1].grid_codes().is_err());
        assert_eq!(t.nodes[0].grid_codes().unwrap(), vec![]);
    }

    #[test]
    fn community_without_grids() {
        let mut t = example();
        t.nodes[2].grids.clear();
        let msg = only_problem(&t, "node[2].grids");
        assert!(msg.contains("at least one grid") && msg.contains("(370102001001)"), "{msg}");
    }

    #[test]
    fn malformed_grid_entries() {
        for bad in ["01", "0a1", "1", "37010200100100", "370102001001", "abcdefghijklmno"] {
            let mut t = example();
            t.nodes[2].grids = vec!["001".to_string(), bad.to_string()];
            let msg = only_problem(&t, "node[2].grids[1]");
            assert!(msg.contains(&format!("{bad:?}")), "{bad}: {msg}");
            assert!(t.nodes[2].grid_codes().is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicate_grid_entries() {
        let mut t = example();
        t.nodes[2].grids = vec!["001".to_string(), "370102001001001".to_string()];
        let msg = only_problem(&t, "node[2].grids[1]");
        assert!(msg.contains("listed twice") && msg.contains("grids[0]"), "{msg}");
    }

    #[test]
    fn full_grid_code_must_be_under_its_community() {
        let mut t = example();
        t.nodes[2].grids = vec!["370102001001003".to_string(), "370102001002001".to_string()];
        let msg = only_problem(&t, "node[2].grids[1]");
        assert!(msg.contains("370102001002001") && msg.contains("(370102001001)"), "{msg}");
        t.nodes[2].grids.pop();
        let codes = t.nodes[2].grid_codes().unwrap();
        assert_eq!(codes[0].as_str(), "370102001001003");
    }

    #[test]
    fn empty_data_root() {
        let mut t = example();
        t.defaults.data_root = String::new();
        only_problem(&t, "defaults.data_root");
    }

    #[test]
    fn several_problems_are_all_reported() {
        let text = r#"
[defaults]
data_root = ""

[[node]]
code = "370102"
name = ""
replicas = ["127.0.0.1:7101", "127.0.0.1:7102"]

[[node]]
code = "370102001"
name = "解放路街道"
replicas = ["127.0.0.1:7101"]
grids = ["001"]

[[node]]
code = "370102001001"
name = "文化东路社区"
replicas = ["localhost:7301"]

[[node]]
code = "3701020010"
name = "坏代码"
replicas = ["127.0.0.1:0"]
"#;
        let err = Topology::load(text).unwrap_err();
        let TopologyError::Invalid { problems } = &err else { panic!("{err:?}") };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "defaults.data_root",
                "node[0].name",
                "node[0].replicas",
                "node[1].replicas[0]",
                "node[1].grids",
                "node[2].replicas[0]",
                "node[2].grids",
                "node[3].code",
                "node[3].replicas[0]",
            ]
        );
        let shown = err.to_string();
        assert!(shown.starts_with("topology file has 9 problems:\n"), "{shown}");
        assert_eq!(shown.lines().count(), 10, "{shown}");
        for p in problems {
            assert!(shown.contains(&format!("\n  {p}")), "{shown}");
        }
    }

    #[test]
    fn problem_display() {
        let p = Problem::new("node[2].code", "bad");
        assert_eq!(p.to_string(), "node[2].code: bad");
        let err = TopologyError::Invalid { problems: vec![p] };
        assert_eq!(err.to_string(), "topology file has 1 problem:\n  node[2].code: bad");
    }
}
