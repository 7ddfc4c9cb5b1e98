//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>) on the replica's HTTP port, for the
//! 12345 hotline and city apps: discovery, services (our categories), POST requests (a report by
//! point, located on the node's grid boundaries and routed down as any report), GET requests and
//! requests/{id} (the cases reported through Open311 that this node holds), tokens/{token} (never
//! issued: every request is answered with its id at once), each as `.json` or `.xml`.
//!
//! POSTs need an `api_key` an operator issued (`gridnode access open311-key create`), checked against
//! its stored hash; the key gives the source, the channel recorded on the case and the subtree it may
//! report into. A retry with the same key and the same `request_id` (a gridfed extension) returns the
//! first case. Errors are the specification's list of `{code, description}` with its HTTP status, and
//! nothing is stored for a request that has any. Reads are open, as the specification intends: they
//! show only what came in through Open311.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use federation::case::Case;
use federation::category::Catalog;
use federation::intake::apikey::{parse_presented, KeyRefusal};
use federation::intake::open311::{
    self, is_published, request_of, Open311Error, QueryArgs, RequestForm, SPECIFICATION,
};
use serde_json::{json, Value};

use super::HttpCtx;
use crate::storage::reader::ListFilter;

/// Largest POST body read, in bytes.
const MAX_BODY: usize = 64 * 1024;
/// Stored cases a `GET requests` examines at most.
const SCAN_BUDGET: usize = 20_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// `name.json` or `name.xml` as (name, format).
fn split(file: &str) -> Option<(&str, Format)> {
    if let Some(n) = file.strip_suffix(".json") {
        return Some((n, Format::Json));
    }
    file.strip_suffix(".xml").map(|n| (n, Format::Xml))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The element name of one item of a list named `list`, as the specification's XML has them.
fn item_name(list: &str) -> &str {
    match list {
        "service_requests" => "request",
        "services" => "service",
        "errors" => "error",
        "endpoints" => "endpoint",
        "formats" => "format",
        "attributes" => "attribute",
        other => other,
    }
}

/// `value` as the element `name`: objects field by field, lists item by item, null empty.
fn xml(name: &str, value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::Object(m) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in m {
                xml(k, v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            for v in items {
                xml(item_name(name), v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

/// An answer in `format`: `value` as JSON, or as XML under the root element `root`.
fn answer(format: Format, status: StatusCode, root: &str, value: Value) -> Response {
    match format {
        Format::Json => {
            (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
        }
        Format::Xml => {
            let mut body = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            xml(root, &value, &mut body);
            (status, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
        }
    }
}

/// The specification's error list, with the HTTP status of its first error.
fn errors(format: Format, errs: Vec<Open311Error>) -> Response {
    let status =
        errs.first().and_then(|e| StatusCode::from_u16(e.code).ok()).unwrap_or(StatusCode::BAD_REQUEST);
    let list = errs.iter().map(|e| json!({"code": e.code, "description": e.description})).collect();
    answer(format, status, "errors", Value::Array(list))
}

fn not_found(what: &str) -> Response {
    errors(
        Format::Json,
        vec![Open311Error::not_found(format!("{what}: no such resource; see discovery.json"))],
    )
}

fn status_error(format: Format, s: tonic::Status) -> Response {
    let code = match s.code() {
        tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists => 400,
        tonic::Code::NotFound => 404,
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => 403,
        _ => 503,
    };
    errors(format, vec![Open311Error { code, description: s.message().to_string() }])
}

/// The name of the node that owns `c`: as the owner wrote it on the case, or this node's or a
/// neighbour's name from the config (a copy here may predate the owner's first update).
fn owner_name(ctx: &HttpCtx, c: &Case) -> String {
    if !c.intake.owner_name.is_empty() {
        return c.intake.owner_name.clone();
    }
    if c.owner == ctx.local.node {
        return ctx.local.name.clone();
    }
    ctx.local.neighbour(c.owner.as_str()).map(|n| n.name.clone()).unwrap_or_default()
}

fn request_json(ctx: &HttpCtx, c: &Case) -> Value {
    serde_json::to_value(request_of(c, Catalog::standard(), &owner_name(ctx, c))).unwrap_or(Value::Null)
}

/// The discovery document.
#[utoipa::path(get, path = "/open311/v2/{file}", tag = "open311",
    params(("file" = String, Path, description = "discovery.json|xml, services.json|xml, requests.json|xml")),
    responses((status = 200, description = "GeoReport v2: discovery, the service list, or service requests"),
        (status = 400, description = "the specification's error list"), (status = 404, description = "the specification's error list")))]
pub async fn get_root(
    State(ctx): State<HttpCtx>,
    Path(file): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some((name, format)) = split(&file) else { return not_found(&file) };
    match name {
        "discovery" => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let scheme = if ctx.https { "https" } else { "http" };
            let changeset = federation::intake::w3c::format(0);
            let endpoint = json!({"specification": SPECIFICATION, "url": format!("{scheme}://{host}/open311/v2"),
                "changeset": changeset, "type": "production", "formats": ["application/json", "text/xml"]});
            let doc = json!({"changeset": changeset, "contact": format!("{} ({})", ctx.local.name, ctx.local.node),
                "key_service": "an api_key is issued by the node's operators: gridnode access open311-key create",
                "endpoints": [endpoint]});
            answer(format, StatusCode::OK, "discovery", doc)
        }
        "services" => {
            let list = serde_json::to_value(open311::services(Catalog::standard())).unwrap_or(Value::Null);
            answer(format, StatusCode::OK, "services", list)
        }
        "requests" => requests(&ctx, format, q),
        _ => not_found(&file),
    }
}

fn requests(ctx: &HttpCtx, format: Format, q: Vec<(String, String)>) -> Response {
    let mut args = QueryArgs::default();
    for (k, v) in q {
        let slot = match k.as_str() {
            "jurisdiction_id" => &mut args.jurisdiction_id,
            "service_request_id" => &mut args.service_request_id,
            "service_code" => &mut args.service_code,
            "start_date" => &mut args.start_date,
            "end_date" => &mut args.end_date,
            "status" => &mut args.status,
            _ => continue,
        };
        *slot = v.trim().to_string();
    }
    let query = match open311::query(&args, Catalog::standard(), ctx.local.node.as_str(), ctx.clock.now_ms())
    {
        Ok(q) => q,
        Err(e) => return errors(format, e),
    };
    let mut found = Vec::new();
    if let Some(ids) = &query.ids {
        for id in ids {
            match ctx.reader.case(id) {
                Ok(Some(c)) if is_published(&c) => found.push(c),
                Ok(_) => {}
                Err(e) => return status_error(format, crate::service::commit::store_status(e)),
            }
        }
    } else {
        let filter =
            ListFilter { reported: Some((query.start, query.end.saturating_add(1))), ..Default::default() };
        let (mut after, mut examined) = (String::new(), 0usize);
        loop {
            let (page, more) = match ctx.reader.list(&filter, &after, 500) {
                Ok(p) => p,
                Err(e) => return status_error(format, crate::service::commit::store_status(e)),
            };
            examined += page.len();
            after = page.last().map(|c| c.id.clone()).unwrap_or_default();
            found.extend(page.into_iter().filter(|c| is_published(c) && query.matches(c)));
            if !more || found.len() >= open311::MAX_RESULTS || examined >= SCAN_BUDGET {
                break;
            }
        }
        found.truncate(open311::MAX_RESULTS);
    }
    answer(
        format,
        StatusCode::OK,
        "service_requests",
        Value::Array(found.iter().map(|c| request_json(ctx, c)).collect()),
    )
}

/// A service's definition (none has attributes).
#[utoipa::path(get, path = "/open311/v2/services/{file}", tag = "open311",
    params(("file" = String, Path, description = "SERVICE_CODE.json or .xml")),
    responses((status = 200, description = "the service definition"), (status = 404, description = "the specification's error list")))]
pub async fn get_service(Path(file): Path<String>) -> Response {
    let Some((code, format)) = split(&file) else { return not_found(&file) };
    match open311::service(Catalog::standard(), code) {
        Ok(s) => answer(
            format,
            StatusCode::OK,
            "service_definition",
            json!({"service_code": s.service_code, "attributes": []}),
        ),
        Err(e) => errors(format, vec![e]),
    }
}

/// One service request.
#[utoipa::path(get, path = "/open311/v2/requests/{file}", tag = "open311",
    params(("file" = String, Path, description = "SERVICE_REQUEST_ID.json or .xml")),
    responses((status = 200, description = "a list of one service request"), (status = 404, description = "the specification's error list")))]
pub async fn get_request(State(ctx): State<HttpCtx>, Path(file): Path<String>) -> Response {
    let Some((id, format)) = split(&file) else { return not_found(&file) };
    match ctx.reader.case(id) {
        Ok(Some(c)) if is_published(&c) => {
            answer(format, StatusCode::OK, "service_requests", Value::Array(vec![request_json(&ctx, &c)]))
        }
        Ok(_) => errors(
            format,
            vec![Open311Error::not_found(format!("service_request_id: no request {id:?} here"))],
        ),
        Err(e) => status_error(format, crate::service::commit::store_status(e)),
    }
}

/// A token's request: no token is ever issued (every request gets its id at once).
#[utoipa::path(get, path = "/open311/v2/tokens/{file}", tag = "open311",
    params(("file" = String, Path, description = "TOKEN.json or .xml")),
    responses((status = 404, description = "the specification's error list")))]
pub async fn get_token(Path(file): Path<String>) -> Response {
    let Some((token, format)) = split(&file) else { return not_found(&file) };
    errors(
        format,
        vec![Open311Error::not_found(format!(
            "token: no token {token:?}; this endpoint answers every request with its service_request_id"
        ))],
    )
}

/// Create a service request (a report).
#[utoipa::path(post, path = "/open311/v2/{file}", tag = "open311",
    params(("file" = String, Path, description = "requests.json or requests.xml")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "api_key, service_code, lat & long or address_string, description, media_url, first_name, last_name, phone, email, request_id (gridfed: a retry with the same key and id returns the first request)"),
    responses((status = 201, description = "the new request's id and notice"), (status = 200, description = "a retry: the first request"),
        (status = 400, description = "the specification's error list"), (status = 403, description = "missing, wrong or revoked api_key"),
        (status = 404, description = "unknown service_code or jurisdiction")))]
pub async fn post_root(State(ctx): State<HttpCtx>, Path(file): Path<String>, body: Bytes) -> Response {
    let Some(("requests", format)) = split(&file) else { return not_found(&file) };
    if body.len() > MAX_BODY {
        return errors(
            format,
            vec![Open311Error::bad(format!("the request body is larger than {MAX_BODY} bytes"))],
        );
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let presented = pairs.iter().find(|(k, _)| k == "api_key").map(|(_, v)| v.as_str()).unwrap_or("");
    let key = match check_key(&ctx, presented) {
        Ok(k) => k,
        Err(e) => return errors(format, vec![Open311Error::key(e.to_string())]),
    };
    let form = RequestForm::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let new = match open311::to_report(&form, &key, Catalog::standard(), ctx.local.node.as_str()) {
        Ok(n) => n,
        Err(e) => return errors(format, e),
    };
    let resp = match ctx.case.report_for(new).await {
        Ok(r) => r,
        Err(s) => return status_error(format, s),
    };
    let case = match resp.case.map(proto::convert::case_from_pb) {
        Some(Ok(c)) => c,
        _ => {
            return errors(
                format,
                vec![Open311Error { code: 503, description: "the report returned no case".into() }],
            )
        }
    };
    let status = if resp.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    let notice = open311::service_notice(&case, &owner_name(&ctx, &case));
    answer(
        format,
        status,
        "service_requests",
        json!([{"service_request_id": case.id, "service_notice": notice, "account_id": Value::Null}]),
    )
}

/// The key `presented` names, if it is this node's, its secret matches and it is not revoked.
fn check_key(ctx: &HttpCtx, presented: &str) -> Result<federation::intake::apikey::ApiKey, KeyRefusal> {
    let (id, secret) = parse_presented(presented)?;
    let key = ctx.reader.api_key(id).map_err(|_| KeyRefusal::Unknown)?.ok_or(KeyRefusal::Unknown)?;
    key.check(secret)?;
    Ok(key)
}
