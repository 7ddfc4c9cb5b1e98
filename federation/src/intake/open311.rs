//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>) mapped onto gridfed, free of I/O:
//!
//! - **services** are the categories of the catalogue: `service_code` the 4-digit code, `service_name`
//!   the minor class, `group` the major class; none needs a service definition (`metadata` false), and
//!   every one is `realtime` (the id comes back at once, so no token is ever issued);
//! - **statuses**: `closed` for closed and cancelled cases (结案, 作废), `open` for every other state;
//!   `status_notes` is the latest step of the audit trail (`处理反馈：已清运`);
//! - **requests** become reports: `lat`/`long` (WGS-84) are located on the node's grid boundaries, an
//!   address alone cannot be and is parked or refused as the node's `[intake] unlocated` says; the key
//!   that sent it gives the source, the channel and the subtree it may report into;
//! - **errors** are the specification's list of `{code, description}` with its HTTP statuses: 403 for a
//!   missing, wrong or revoked `api_key`, 404 for what does not exist (a service code, a request, a
//!   token, a jurisdiction), 400 for everything else.

use serde::Serialize;

use super::apikey::ApiKey;
use super::{check_media_url, w3c, Intake};
use crate::case::{Case, CaseState, Location, Priority, MAX_DESCRIPTION_CHARS, MAX_SHORT_CHARS};
use crate::category::{Catalog, Category};
use crate::machine::NewCase;
use crate::Millis;

/// The specification this endpoint implements, as discovery names it.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// Longest span of a requests query, and its default.
pub const MAX_SPAN_MS: Millis = 90 * 86_400_000;
/// Most requests one query returns ("the first 1000 requests").
pub const MAX_RESULTS: usize = 1000;
/// Longest client request id (the gridfed `request_id` extension), in bytes.
pub const MAX_CLIENT_REQUEST_ID: usize = 64;

/// One error of the specification's error list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Open311Error {
    /// The HTTP status it is answered with: 400, 403 or 404.
    pub code: u16,
    /// What is wrong, naming the argument at fault (`service_code: missing; see services.json`).
    pub description: String,
}

impl Open311Error {
    /// 400: the request cannot be fulfilled as sent.
    pub fn bad(description: impl Into<String>) -> Open311Error {
        Open311Error { code: 400, description: description.into() }
    }

    /// 403: missing, wrong or revoked `api_key`.
    pub fn key(description: impl Into<String>) -> Open311Error {
        Open311Error { code: 403, description: description.into() }
    }

    /// 404: no such resource.
    pub fn not_found(description: impl Into<String>) -> Open311Error {
        Open311Error { code: 404, description: description.into() }
    }
}

/// A service (a category), as `services.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// The category's 4-digit code, e.g. `0101`.
    pub service_code: String,
    /// The minor class, e.g. 暴露垃圾.
    pub service_name: String,
    /// `major/minor（kind）`, e.g. 市容环境/暴露垃圾（事件）.
    pub description: String,
    /// Whether the service has a definition of extra attributes: always false here.
    pub metadata: bool,
    /// The specification's `type`: always `realtime` (the request id is returned at once).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Major class, minor class and kind, comma-separated, for clients that search.
    pub keywords: String,
    /// The major class (大类), e.g. 市容环境.
    pub group: String,
}

fn service_of(c: &Category) -> Service {
    Service {
        service_code: c.code.clone(),
        service_name: c.minor.clone(),
        description: format!("{}（{}）", c.label(), c.kind.zh()),
        metadata: false,
        kind: "realtime",
        keywords: format!("{}, {}, {}", c.major, c.minor, c.kind.zh()),
        group: c.major.clone(),
    }
}

/// Every service, in catalogue order.
pub fn services(catalog: &Catalog) -> Vec<Service> {
    catalog.all().iter().map(service_of).collect()
}

/// The service `code`, or the specification's 404.
pub fn service(catalog: &Catalog, code: &str) -> Result<Service, Open311Error> {
    catalog.get(code).map(service_of).ok_or_else(|| unknown_service(code))
}

fn unknown_service(code: &str) -> Open311Error {
    Open311Error::not_found(format!(
        "service_code: {code:?} is not a service of this endpoint; see services.json"
    ))
}

/// `open` or `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every case not yet closed or cancelled, from reported to suspended.
    Open,
    /// Closed (结案) or cancelled (作废).
    Closed,
}

impl Status {
    /// The status of a case in `state`: closed once closed (结案) or cancelled (作废).
    pub fn of(state: CaseState) -> Status {
        if state.is_terminal() {
            Status::Closed
        } else {
            Status::Open
        }
    }

    /// `open` or `closed`, as the specification spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// The Chinese name of an audit trail's action, as `status_notes` shows it.
pub fn action_label(action: &str) -> &str {
    match action {
        "report" => "已受理",
        "register" => "立案",
        "cancel" => "作废",
        "dispatch" => "派遣",
        "start" => "处置中",
        "handled" => "处理反馈",
        "close" => "核查结案",
        "return" => "返工",
        "suspend" => "挂账",
        "resume" => "恢复办理",
        "extend" => "延时",
        "escalate" => "上报上级",
        "send_down" => "下派",
        "place" => "分派网格",
        other => other,
    }
}

/// The latest step of the audit trail: its action's name, and its note when it has one.
pub fn status_notes(case: &Case) -> Option<String> {
    let last = case.audit.last()?;
    let label = action_label(&last.action);
    Some(if last.note.trim().is_empty() { label.to_string() } else { format!("{label}：{}", last.note) })
}

/// A service request as `requests.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRequest {
    /// The case id, e.g. `370102001001-20261124-000001`.
    pub service_request_id: String,
    /// Open, or closed once the case is closed or cancelled.
    pub status: Status,
    /// The latest audit step in Chinese, with its note (`处理反馈：已清运`); None for a case without one.
    pub status_notes: Option<String>,
    /// The category's minor class; None when the category is not in this node's catalogue.
    pub service_name: Option<String>,
    /// The case's 4-digit category code.
    pub service_code: String,
    /// The case's description; None when it is empty.
    pub description: Option<String>,
    /// The owning node's name, or its code when the name is not known.
    pub agency_responsible: Option<String>,
    /// Where the case went, in Chinese: the owner that handles it, or that it waits to be placed.
    pub service_notice: Option<String>,
    /// When it was reported, W3C date-time in Beijing time.
    pub requested_datetime: String,
    /// When it was closed or cancelled, else its latest audit step (W3C, Beijing time).
    pub updated_datetime: String,
    /// The handling deadline, or the registration deadline while only reported; None otherwise.
    pub expected_datetime: Option<String>,
    /// The reported address; None when it is empty.
    pub address: Option<String>,
    /// Always None: gridfed keeps no address ids (a sent `address_id` is folded into the address).
    pub address_id: Option<String>,
    /// Always None: Chinese addresses here carry no zip code.
    pub zipcode: Option<String>,
    /// Latitude of the reported point, WGS-84 degrees; None when only an address was given.
    pub lat: Option<f64>,
    /// Longitude of the reported point, WGS-84 degrees; None when only an address was given.
    pub long: Option<f64>,
    /// The media link the reporter sent, as given; None when none was.
    pub media_url: Option<String>,
}

/// The notice of where a case went: the owner that handles it, or that it waits to be placed.
pub fn service_notice(case: &Case, owner_name: &str) -> String {
    if case.grid.is_unassigned_grid() {
        return "已受理，待分派：所在位置不在已知网格内，由值班人员确定网格后派遣".to_string();
    }
    match owner_name {
        "" => format!("已受理，由 {} 办理", case.owner),
        name => format!("已受理，由{name}（{}）办理", case.owner),
    }
}

/// A case as a service request; `owner_name` is the owning node's name when the caller knows it
/// better than the case does (empty: the name the case carries).
pub fn request_of(case: &Case, catalog: &Catalog, owner_name: &str) -> ServiceRequest {
    let owner = if owner_name.is_empty() { case.intake.owner_name.as_str() } else { owner_name };
    let updated = case.closed_at.or_else(|| case.audit.last().map(|a| a.at)).unwrap_or(case.reported_at);
    let loc = case.location.clone().unwrap_or_default();
    let expected = case.due_at.or((case.state == CaseState::Reported).then_some(case.register_due));
    ServiceRequest {
        service_request_id: case.id.clone(),
        status: Status::of(case.state),
        status_notes: status_notes(case),
        service_name: catalog.get(&case.category).map(|c| c.minor.clone()),
        service_code: case.category.clone(),
        description: Some(case.description.clone()).filter(|d| !d.is_empty()),
        agency_responsible: Some(if owner.is_empty() { case.owner.to_string() } else { owner.to_string() }),
        service_notice: Some(service_notice(case, owner)),
        requested_datetime: w3c::format(case.reported_at),
        updated_datetime: w3c::format(updated),
        expected_datetime: expected.map(w3c::format),
        address: Some(loc.address).filter(|a| !a.is_empty()),
        address_id: None,
        zipcode: None,
        lat: loc.lat,
        long: loc.lon,
        media_url: case.intake.media_url.clone(),
    }
}

/// The arguments of `POST requests`, as sent (form fields; empty means not declared).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestForm {
    /// The node code the request is for; when given it must be this endpoint's node.
    pub jurisdiction_id: String,
    /// The 4-digit category code; required.
    pub service_code: String,
    /// Latitude, WGS-84 degrees, as text; sent together with `long`.
    pub lat: String,
    /// Longitude, WGS-84 degrees, as text; sent together with `lat`.
    pub long: String,
    /// The address in words; the case's address when no point locates it.
    pub address_string: String,
    /// The sender's own address id; kept in the case's address text (地址编号 ...).
    pub address_id: String,
    /// The reporter's e-mail; appended to the case's reporter.
    pub email: String,
    /// The reporter's device id; accepted and not kept.
    pub device_id: String,
    /// The reporter's account id in the sending system; accepted and not kept.
    pub account_id: String,
    /// The reporter's given name; with `last_name`, the case's reporter.
    pub first_name: String,
    /// The reporter's family name; put first in a Chinese name (张 + 伟).
    pub last_name: String,
    /// The reporter's phone number; appended to the case's reporter.
    pub phone: String,
    /// What the reporter says; the case's description, and the start of its title.
    pub description: String,
    /// A link to the reporter's photo or video; checked and kept, never fetched.
    pub media_url: String,
    /// gridfed extension: the client's id of this request, so a retry returns the first case.
    pub request_id: String,
}

impl RequestForm {
    /// Reads the form's fields from (name, value) pairs (unknown names, `attribute[..]` among them,
    /// are ignored: no service has a definition).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> RequestForm {
        let mut f = RequestForm::default();
        for (k, v) in pairs {
            let slot = match k {
                "jurisdiction_id" => &mut f.jurisdiction_id,
                "service_code" => &mut f.service_code,
                "lat" => &mut f.lat,
                "long" => &mut f.long,
                "address_string" => &mut f.address_string,
                "address_id" => &mut f.address_id,
                "email" => &mut f.email,
                "device_id" => &mut f.device_id,
                "account_id" => &mut f.account_id,
                "first_name" => &mut f.first_name,
                "last_name" => &mut f.last_name,
                "phone" => &mut f.phone,
                "description" => &mut f.description,
                "media_url" => &mut f.media_url,
                "request_id" => &mut f.request_id,
                _ => continue,
            };
            *slot = v.trim().to_string();
        }
        f
    }
}

fn coordinate(field: &str, s: &str, range: f64) -> Result<f64, Open311Error> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= range => Ok(v),
        _ => {
            Err(Open311Error::bad(format!("{field}: {s:?} is not a WGS-84 coordinate (-{range} to {range})")))
        }
    }
}

/// A title for a case from a request: the service's name and the start of the description.
fn title_of(service_name: &str, description: &str) -> String {
    let first = description.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut t: String = first.chars().take(60).collect();
    if first.chars().count() > 60 {
        t.push('…');
    }
    if t.is_empty() {
        service_name.to_string()
    } else {
        format!("{service_name}：{t}")
    }
}

/// A `POST requests` as the report it becomes, with every error found (the specification answers with
/// a list). `node_code` is the only `jurisdiction_id` this endpoint serves.
pub fn to_report(
    form: &RequestForm,
    key: &ApiKey,
    catalog: &Catalog,
    node_code: &str,
) -> Result<NewCase, Vec<Open311Error>> {
    let mut errors = Vec::new();
    if !form.jurisdiction_id.is_empty() && form.jurisdiction_id != node_code {
        errors.push(Open311Error::not_found(format!(
            "jurisdiction_id: {:?} is not served here; this endpoint serves {node_code}",
            form.jurisdiction_id
        )));
    }
    let category = match form.service_code.as_str() {
        "" => {
            errors.push(Open311Error::bad("service_code: missing; see services.json"));
            None
        }
        code => match catalog.get(code) {
            Some(c) => Some(c),
            None => {
                errors.push(unknown_service(code));
                None
            }
        },
    };
    let point = match (form.lat.as_str(), form.long.as_str()) {
        ("", "") => None,
        ("", _) | (_, "") => {
            errors.push(Open311Error::bad("lat, long: both need to be sent, or neither"));
            None
        }
        (lat, long) => match (coordinate("lat", lat, 90.0), coordinate("long", long, 180.0)) {
            (Ok(lat), Ok(lon)) => Some((lat, lon)),
            (a, b) => {
                errors.extend(a.err());
                errors.extend(b.err());
                None
            }
        },
    };
    let located_somehow = point.is_some() || !form.address_string.is_empty() || !form.address_id.is_empty();
    if !located_somehow && form.lat.is_empty() && form.long.is_empty() {
        errors.push(Open311Error::bad("location: missing; send lat & long, address_string or address_id"));
    }
    let description_chars = form.description.chars().count();
    if description_chars > MAX_DESCRIPTION_CHARS {
        errors.push(Open311Error::bad(format!(
            "description: {description_chars} characters; this endpoint accepts at most {MAX_DESCRIPTION_CHARS}"
        )));
    }
    if !form.media_url.is_empty() {
        if let Err(r) = check_media_url("media_url", &form.media_url) {
            errors.push(Open311Error::bad(r.to_string()));
        }
    }
    let name = format!("{}{}", form.last_name, form.first_name);
    let name = if !form.last_name.is_empty() && !form.first_name.is_empty() && form.first_name.is_ascii() {
        format!("{} {}", form.first_name, form.last_name)
    } else {
        name
    };
    let mut reporter = if name.trim().is_empty() { format!("{}来件", key.name) } else { name };
    for contact in [&form.phone, &form.email] {
        if !contact.is_empty() {
            reporter.push_str(&format!(" {contact}"));
        }
    }
    if reporter.chars().count() > MAX_SHORT_CHARS {
        errors.push(Open311Error::bad(format!(
            "first_name, last_name, phone, email: together at most {MAX_SHORT_CHARS} characters"
        )));
    }
    let address = match (form.address_string.as_str(), form.address_id.as_str()) {
        (a, "") => a.to_string(),
        ("", id) => format!("地址编号 {id}"),
        (a, id) => format!("{a}（地址编号 {id}）"),
    };
    if address.chars().count() > MAX_SHORT_CHARS {
        errors.push(Open311Error::bad(format!("address_string: at most {MAX_SHORT_CHARS} characters")));
    }
    if form.request_id.len() > MAX_CLIENT_REQUEST_ID || form.request_id.chars().any(char::is_control) {
        errors
            .push(Open311Error::bad(format!("request_id: at most {MAX_CLIENT_REQUEST_ID} printable bytes")));
    }
    let Some(category) = category.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    Ok(NewCase {
        // Namespaced by the key: two systems' ids never collide, a retry with the same key does.
        request_id: (!form.request_id.is_empty()).then(|| format!("{}:{}", key.channel(), form.request_id)),
        grid: None,
        category: category.code.clone(),
        source: key.source,
        title: title_of(&category.minor, &form.description),
        description: form.description.clone(),
        location: Some(Location { lat: point.map(|p| p.0), lon: point.map(|p| p.1), address }),
        reporter,
        priority: Priority::Normal,
        by: key.describe(),
        intake: Intake {
            media_url: (!form.media_url.is_empty()).then(|| form.media_url.clone()),
            channel: Some(key.channel()),
            ..Intake::default()
        },
        within: Some(key.scope.clone()),
    })
}

/// The filters of `GET requests`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestQuery {
    /// Given: exactly these requests (overrides every other filter).
    pub ids: Option<Vec<String>>,
    /// Empty: every service.
    pub service_codes: Vec<String>,
    /// Reported within `start..=end`.
    pub start: Millis,
    /// End of the report-time window, inclusive; at most `MAX_SPAN_MS` after `start`.
    pub end: Millis,
    /// Empty: every status.
    pub statuses: Vec<Status>,
}

/// The query arguments of `GET requests`, as sent (empty means not declared).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryArgs {
    /// The node code asked about; when given it must be this endpoint's node.
    pub jurisdiction_id: String,
    /// Comma-separated case ids; when given, every other filter is ignored.
    pub service_request_id: String,
    /// Comma-separated 4-digit category codes.
    pub service_code: String,
    /// Earliest report time, W3C date-time; default `end_date` minus 90 days.
    pub start_date: String,
    /// Latest report time, W3C date-time; default now, or `start_date` plus 90 days.
    pub end_date: String,
    /// Comma-separated `open` and `closed`.
    pub status: String,
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// Checks the arguments of `GET requests` at `now`, with every error found.
pub fn query(
    args: &QueryArgs,
    catalog: &Catalog,
    node_code: &str,
    now: Millis,
) -> Result<RequestQuery, Vec<Open311Error>> {
    let mut errors = Vec::new();
    if !args.jurisdiction_id.is_empty() && args.jurisdiction_id != node_code {
        errors.push(Open311Error::not_found(format!(
            "jurisdiction_id: {:?} is not served here; this endpoint serves {node_code}",
            args.jurisdiction_id
        )));
    }
    let mut date = |field: &str, s: &str| match s {
        "" => None,
        s => w3c::parse(field, s).map_err(|e| errors.push(Open311Error::bad(e))).ok(),
    };
    let start = date("start_date", &args.start_date);
    let end = date("end_date", &args.end_date);
    let (start, end) = match (start, end) {
        (None, None) => (now - MAX_SPAN_MS, now),
        (Some(s), None) => (s, s.saturating_add(MAX_SPAN_MS)),
        (None, Some(e)) => (e.saturating_sub(MAX_SPAN_MS), e),
        (Some(s), Some(e)) => (s, e),
    };
    if (!args.start_date.is_empty() || !args.end_date.is_empty()) && errors.is_empty() {
        if start > end {
            errors.push(Open311Error::bad("start_date: is after end_date"));
        } else if end.saturating_sub(start) > MAX_SPAN_MS {
            errors.push(Open311Error::bad("start_date, end_date: may not span more than 90 days"));
        }
    }
    let mut statuses = Vec::new();
    for s in list(&args.status) {
        match s.as_str() {
            "open" => statuses.push(Status::Open),
            "closed" => statuses.push(Status::Closed),
            other => errors.push(Open311Error::bad(format!("status: {other:?} is not open or closed"))),
        }
    }
    let service_codes = list(&args.service_code);
    for code in &service_codes {
        if catalog.get(code).is_none() {
            errors.push(Open311Error::bad(format!("service_code: {code:?} is not a service")));
        }
    }
    let ids = list(&args.service_request_id);
    if ids.len() > MAX_RESULTS {
        errors.push(Open311Error::bad(format!("service_request_id: at most {MAX_RESULTS} at once")));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RequestQuery { ids: (!ids.is_empty()).then_some(ids), service_codes, start, end, statuses })
}

impl RequestQuery {
    /// Whether `case` is one of the requests asked for: by id when ids are given (the other filters then
    /// do not apply), else by report time, service code and status.
    pub fn matches(&self, case: &Case) -> bool {
        if let Some(ids) = &self.ids {
            return ids.contains(&case.id);
        }
        (self.start..=self.end).contains(&case.reported_at)
            && (self.service_codes.is_empty() || self.service_codes.contains(&case.category))
            && (self.statuses.is_empty() || self.statuses.contains(&Status::of(case.state)))
    }
}

/// Whether a case is one Open311 shows: reported through an Open311 key. Cases from grid workers,
/// cameras and operators (disputes, visits to people living alone) are not published.
pub fn is_published(case: &Case) -> bool {
    case.intake.channel.as_deref().is_some_and(|c| c.starts_with("open311:"))
}

#[cfg(test)]
#[path = "open311_tests.rs"]
mod tests;
