//! The offices' spreadsheets (网格员花名册, 走访台账) as rows of text cells: import all-or-nothing with
//! a row-by-row report, export with the same Chinese headers. Reading XLSX or CSV into rows (calamine)
//! and writing them back is `node/`'s; everything here is pure.
//!
//! ```text
//! 工号 | 姓名 | 岗位 | 手机号 | 负责网格 | 状态
//! W370102001001-007 | 刘晓燕 | 专职网格员 | 13812341234 | 370102001001001、370102001001001-03 | 在岗
//!
//! 编号 | 类别 | 姓名 | 地址 | 联系电话 | 所在网格 | 走访周期 | 责任网格员
//! (empty) | 独居老人 | 周桂兰 | 山大路47号3号楼2单元501 | | 370102001001001-03 | 每天 | 刘晓燕
//! ```
//! The first row holds the headers, in any order; the columns are found by name. An empty 工号 or 编号
//! mints the next id. 负责网格 lists place codes separated by 、 , ; or spaces. 责任网格员 is a worker id or
//! the name of exactly one active worker. Every row is checked against the roster or register as it
//! would be with the rows before it added; if any row is refused, nothing is, and the report names
//! each refused row by its spreadsheet row number (the header is row 1) and column.

use std::fmt;

use super::field::FieldError;
use super::household::{Category, Household, HouseholdId, Interval};
use super::phone::Phone;
use super::roster::{KnownPlaces, Roster};
use super::visits::Register;
use super::worker::{Role, Worker, WorkerId};
use crate::geo::PlaceCode;
use crate::Millis;

/// Headers of the roster sheet.
pub const WORKER_HEADERS: [&str; 6] = ["工号", "姓名", "岗位", "手机号", "负责网格", "状态"];
/// Headers of the visit register sheet.
pub const HOUSEHOLD_HEADERS: [&str; 8] =
    ["编号", "类别", "姓名", "地址", "联系电话", "所在网格", "走访周期", "责任网格员"];
/// Most data rows in one import.
pub const MAX_ROWS: usize = 5_000;

const ACTIVE: &str = "在岗";
const INACTIVE: &str = "离岗";

/// One refused row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RowError {
    /// The spreadsheet's row number (the header is row 1).
    pub row: usize,
    /// Why, naming the column (`手机号: "1381234" is not a mainland mobile number: …`).
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "第{}行 {}", self.row, self.reason)
    }
}

/// The internal field names of refusals and the columns they come from.
const COLUMNS: [(&str, &str); 12] = [
    ("id", "编号/工号"),
    ("name", "姓名"),
    ("role", "岗位"),
    ("phone", "手机号"),
    ("places", "负责网格"),
    ("place", "所在网格"),
    ("category", "类别"),
    ("address", "地址"),
    ("interval", "走访周期"),
    ("worker", "责任网格员"),
    ("keeper", "工号"),
    ("community", "编号"),
];

/// Renames the leading `field:` of a refusal to its column.
fn relabel(message: String) -> String {
    let Some((field, rest)) = message.split_once(": ") else { return message };
    let base = field.split('[').next().unwrap_or(field);
    match COLUMNS.iter().find(|(f, _)| *f == base) {
        Some((_, column)) => format!("{column}: {rest}"),
        None => message,
    }
}

/// The header row found: which column each header is in.
struct Columns<'a> {
    index: Vec<usize>,
    headers: &'a [&'a str],
}

impl<'a> Columns<'a> {
    fn find(header: &[String], headers: &'a [&'a str]) -> Result<Columns<'a>, Vec<RowError>> {
        let mut index = Vec::new();
        for h in headers {
            match header.iter().position(|cell| cell.trim() == *h) {
                Some(i) => index.push(i),
                None => {
                    let reason = format!("表头缺少列 {h}; the header row needs {}", headers.join(" | "));
                    return Err(vec![RowError { row: 1, reason }]);
                }
            }
        }
        Ok(Columns { index, headers })
    }

    /// The trimmed cell of `header` in `row` ("" when the row is short).
    fn cell<'r>(&self, row: &'r [String], header: &str) -> &'r str {
        let i = self.headers.iter().position(|h| *h == header).map(|k| self.index[k]);
        i.and_then(|i| row.get(i)).map_or("", |c| c.trim())
    }
}

/// One row of a sheet: its cells as text.
pub type Row = Vec<String>;

/// Finds `headers` in the first row of `rows` and runs `add` on each non-blank data row in order;
/// returns every refusal, by spreadsheet row number, the field relabelled as its column.
fn each_row(
    rows: &[Row],
    headers: &'static [&'static str],
    mut add: impl FnMut(&Columns<'_>, &[String]) -> Result<(), String>,
) -> Vec<RowError> {
    let Some((header, data)) = rows.split_first() else {
        return vec![RowError { row: 1, reason: "the sheet is empty; expected a header row".into() }];
    };
    if data.len() > MAX_ROWS {
        return vec![RowError { row: MAX_ROWS + 2, reason: format!("at most {MAX_ROWS} rows per import") }];
    }
    let cols = match Columns::find(header, headers) {
        Ok(cols) => cols,
        Err(e) => return e,
    };
    let mut errors = Vec::new();
    for (i, row) in data.iter().enumerate() {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if let Err(reason) = add(&cols, row) {
            errors.push(RowError { row: i + 2, reason: relabel(reason) });
        }
    }
    errors
}

/// Adds every row of a roster sheet to a copy of `roster`: the new roster, or every refused row.
pub fn import_workers(
    roster: &Roster,
    rows: &[Row],
    known: KnownPlaces<'_>,
) -> Result<Roster, Vec<RowError>> {
    let mut out = roster.clone();
    let errors = each_row(rows, &WORKER_HEADERS, |cols, row| {
        let w = worker_row(&out, cols, row).map_err(|e| e.to_string())?;
        let (active, id) = (w.active, w.id.clone());
        // A worker listed as 离岗 is added active (its places checked), then deactivated.
        out.add(Worker { active: true, ..w }, known).map_err(|e| e.to_string())?;
        if !active {
            out.deactivate(&id).map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn worker_row(roster: &Roster, cols: &Columns<'_>, row: &[String]) -> Result<Worker, FieldError> {
    let id = match cols.cell(row, "工号") {
        "" => roster.next_id().map_err(|e| FieldError::new("工号", e.to_string()))?,
        text => WorkerId::parse("工号", text)?,
    };
    let places = cols
        .cell(row, "负责网格")
        .split(['、', ',', ',', ';', ';', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| PlaceCode::parse("负责网格", s).map_err(|e| FieldError::new("负责网格", e.to_string())))
        .collect::<Result<_, _>>()?;
    let active = match cols.cell(row, "状态") {
        "" | ACTIVE => true,
        INACTIVE => false,
        other => return Err(FieldError::new("状态", format!("{other:?}: expected {ACTIVE} or {INACTIVE}"))),
    };
    Ok(Worker {
        id,
        name: cols.cell(row, "姓名").to_string(),
        role: Role::parse("岗位", cols.cell(row, "岗位"))?,
        phone: Phone::parse("手机号", cols.cell(row, "手机号"))?,
        places,
        active,
    })
}

/// The roster as a sheet, header first; `phone` shows each number (whole or masked, see `privacy`).
pub fn export_workers(roster: &Roster, phone: impl Fn(&Phone) -> String) -> Vec<Row> {
    let mut rows = vec![WORKER_HEADERS.map(String::from).to_vec()];
    for w in roster.workers() {
        let places: Vec<String> = w.places.iter().map(ToString::to_string).collect();
        let state = if w.active { ACTIVE } else { INACTIVE };
        rows.push(vec![
            w.id.to_string(),
            w.name.clone(),
            w.role.zh().into(),
            phone(&w.phone),
            places.join("、"),
            state.into(),
        ]);
    }
    rows
}

/// Adds every row of a register sheet to a copy of `register`, registered at `now`: the new register,
/// or every refused row.
pub fn import_households(
    register: &Register,
    roster: &Roster,
    rows: &[Row],
    known: KnownPlaces<'_>,
    now: Millis,
) -> Result<Register, Vec<RowError>> {
    let mut out = register.clone();
    let errors = each_row(rows, &HOUSEHOLD_HEADERS, |cols, row| {
        let h = household_row(&out, roster, cols, row, now).map_err(|e| e.to_string())?;
        out.add(h, roster, known).map_err(|e| e.to_string())
    });
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn household_row(
    register: &Register,
    roster: &Roster,
    cols: &Columns<'_>,
    row: &[String],
    now: Millis,
) -> Result<Household, FieldError> {
    let id = match cols.cell(row, "编号") {
        "" => register.next_id().map_err(|e| FieldError::new("编号", e.to_string()))?,
        text => HouseholdId::parse("编号", text)?,
    };
    let phone = match cols.cell(row, "联系电话") {
        "" => None,
        text => Some(Phone::parse("联系电话", text)?),
    };
    Ok(Household {
        id,
        category: Category::parse("类别", cols.cell(row, "类别"))?,
        name: cols.cell(row, "姓名").to_string(),
        address: cols.cell(row, "地址").to_string(),
        phone,
        place: PlaceCode::parse("所在网格", cols.cell(row, "所在网格"))
            .map_err(|e| FieldError::new("所在网格", e.to_string()))?,
        interval: Interval::parse("走访周期", cols.cell(row, "走访周期"))?,
        worker: worker_named(roster, cols.cell(row, "责任网格员"))?,
        since: now,
        active: true,
        token_serial: 1,
    })
}

/// A worker id, or the name of exactly one active worker of `roster`.
fn worker_named(roster: &Roster, text: &str) -> Result<WorkerId, FieldError> {
    if text.starts_with('W') {
        return WorkerId::parse("责任网格员", text);
    }
    let found: Vec<&Worker> = roster.workers().filter(|w| w.active && w.name == text).collect();
    match found.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(FieldError::new("责任网格员", format!("no active worker named {text:?} on the roster"))),
        many => {
            let ids: Vec<String> = many.iter().map(|w| w.id.to_string()).collect();
            Err(FieldError::new(
                "责任网格员",
                format!("{text:?} names {}; write the worker id", ids.join(", ")),
            ))
        }
    }
}

/// The register as a sheet, header first, for the community itself (names and addresses are
/// personal data: never send this upward); `phone` shows each number.
pub fn export_households(register: &Register, phone: impl Fn(&Phone) -> String) -> Vec<Row> {
    let mut rows = vec![HOUSEHOLD_HEADERS.map(String::from).to_vec()];
    for h in register.households().filter(|h| h.active) {
        rows.push(vec![
            h.id.to_string(),
            h.category.zh().into(),
            h.name.clone(),
            h.address.clone(),
            h.phone.as_ref().map(&phone).unwrap_or_default(),
            h.place.to_string(),
            h.interval.zh(),
            h.worker.to_string(),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::roster::tests::roster;
    use crate::people::visits::tests::{register, staff, T};

    fn sheet(rows: &[&[&str]]) -> Vec<Row> {
        rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
    }

    #[test]
    fn a_roster_sheet_imports_whole_and_exports_back() {
        let rows = sheet(&[
            &["姓名", "工号", "岗位", "手机号", "负责网格", "状态"],
            &["刘晓燕", "", "网格长", "138 1234 1234", "370102001001001", ""],
            &["孙雅琴", "", "专职网格员", "13953101234", "370102001001001-03、370102001001002", "在岗"],
            &[" ", "", "", "", "", ""],
            &["马俊峰", "W370102001001-009", "兼职网格员", "15053105678", "", "离岗"],
        ]);
        let r = import_workers(&roster(vec![]), &rows, KnownPlaces::Any).unwrap();
        let ids: Vec<String> = r.workers().map(|w| w.id.to_string()).collect();
        assert_eq!(ids, ["W370102001001-001", "W370102001001-002", "W370102001001-009"]);
        assert!(!r.workers().last().unwrap().active);
        let out = export_workers(&r, Phone::masked);
        assert_eq!(out[0], WORKER_HEADERS.map(String::from).to_vec());
        assert_eq!(out[2][3..], ["139****1234", "370102001001001-03、370102001001002", "在岗"]);
        // What was exported imports again into an empty roster, the same.
        let again = export_workers(&r, |p| p.full().to_string());
        assert_eq!(import_workers(&roster(vec![]), &again, KnownPlaces::Any).unwrap(), r);
    }

    #[test]
    fn any_refused_row_refuses_the_sheet_and_every_refusal_is_reported() {
        let rows = sheet(&[
            &["工号", "姓名", "岗位", "手机号", "负责网格", "状态"],
            &["", "刘晓燕", "网格长", "13812341234", "370102001001001", ""],
            &["", "孙雅琴", "组长", "13953101234", "370102001001001", ""],
            &["", "马俊峰", "兼职网格员", "1505310567", "", ""],
            &["", "王建国", "专职网格员", "15053105678", "370102001002001", ""],
            &["W370102001001-001", "赵丽", "专职网格员", "15053105679", "", ""],
        ]);
        let errors = import_workers(&roster(vec![]), &rows, KnownPlaces::Any).unwrap_err();
        let report: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(report.len(), 4, "{report:#?}");
        assert!(report[0].starts_with("第3行 岗位: \"组长\" is not a role"), "{}", report[0]);
        assert!(report[1].starts_with("第4行 手机号: \"1505310567\""), "{}", report[1]);
        assert!(report[2].starts_with("第5行 负责网格: 370102001002001 is not within"), "{}", report[2]);
        assert!(
            report[3].starts_with("第6行 编号/工号: worker W370102001001-001 is already"),
            "{}",
            report[3]
        );
        let missing =
            import_workers(&roster(vec![]), &sheet(&[&["工号", "姓名"]]), KnownPlaces::Any).unwrap_err();
        assert!(missing[0].to_string().starts_with("第1行 表头缺少列 岗位"), "{}", missing[0]);
    }

    #[test]
    fn a_register_sheet_resolves_workers_by_name() {
        let rows = sheet(&[
            &["编号", "类别", "姓名", "地址", "联系电话", "所在网格", "走访周期", "责任网格员"],
            &[
                "",
                "独居老人",
                "周桂兰",
                "山大路47号3号楼2单元501",
                "",
                "370102001001001-03",
                "每天",
                "孙雅琴",
            ],
            &[
                "",
                "留守儿童",
                "陈子涵",
                "山大路47号5号楼1单元202",
                "13605317788",
                "370102001001002",
                "weekly",
                "W370102001001-003",
            ],
        ]);
        let reg = import_households(&register(vec![]), &staff(), &rows, KnownPlaces::Any, T).unwrap();
        let hs: Vec<&Household> = reg.households().collect();
        assert_eq!(
            (hs[0].id.to_string().as_str(), hs[0].worker.number(), hs[0].since),
            ("H370102001001-0001", 2, T)
        );
        assert_eq!((hs[1].interval, hs[1].worker.number()), (Interval::WEEKLY, 3));
        let out = export_households(&reg, Phone::masked);
        assert_eq!(out[2][4], "136****7788");
        assert_eq!(out[1][6], "每个工作日");
        let again = export_households(&reg, |p| p.full().to_string());
        assert_eq!(import_households(&register(vec![]), &staff(), &again, KnownPlaces::Any, T).unwrap(), reg);

        let bad = sheet(&[
            &["编号", "类别", "姓名", "地址", "联系电话", "所在网格", "走访周期", "责任网格员"],
            &["", "老人", "周桂兰", "山大路47号", "", "370102001001001-03", "每天", "孙雅琴"],
            &["", "独居老人", "吴秀英", "山大路49号", "", "370102001001001", "每年", "孙雅琴"],
            &["", "独居老人", "郑淑华", "山大路51号", "", "370102001001001", "每天", "钱多多"],
        ]);
        let errors = import_households(&register(vec![]), &staff(), &bad, KnownPlaces::Any, T).unwrap_err();
        let report: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(report[0].starts_with("第2行 类别:"), "{}", report[0]);
        assert!(report[1].starts_with("第3行 走访周期:"), "{}", report[1]);
        assert!(
            report[2].starts_with("第4行 责任网格员: no active worker named \"钱多多\""),
            "{}",
            report[2]
        );
    }
}
