//! The console's pages and their files (HTML, CSS, JavaScript modules, the strings of each language,
//! and Apache ECharts), kept as plain files under `node/assets/console/` and embedded in the binary:
//! no build step, no outside network. HTML and our own files are revalidated on every load (an ETag
//! answers 304 when unchanged), so an upgraded replica serves its new console at once; ECharts sits
//! under a path naming its version and is cached for a year.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The vendored ECharts' version, part of its path.
pub const ECHARTS_VERSION: &str = "6.1.0";

/// One embedded file: its path under `/assets/`, and its bytes.
struct Asset {
    path: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $file:literal),* $(,)?) => {
        &[$(Asset { path: $path, body: include_bytes!(concat!("../../assets/console/", $file)) }),*]
    };
}

/// Every file the console serves; the pages are `index.html` (`/`) and `screen.html` (`/screen`).
static FILES: &[Asset] = assets! {
    "index.html" => "index.html",
    "screen.html" => "screen.html",
    "css/console.css" => "css/console.css",
    "css/screen.css" => "css/screen.css",
    "i18n/zh.json" => "i18n/zh.json",
    "i18n/en.json" => "i18n/en.json",
    "js/api.js" => "js/api.js",
    "js/app.js" => "js/app.js",
    "js/dom.js" => "js/dom.js",
    "js/echarts.js" => "js/echarts.js",
    "js/format.js" => "js/format.js",
    "js/i18n.js" => "js/i18n.js",
    "js/live.js" => "js/live.js",
    "js/screen.js" => "js/screen.js",
    "js/widgets.js" => "js/widgets.js",
    "js/views/case.js" => "js/views/case.js",
    "js/views/cases.js" => "js/views/cases.js",
    "js/views/charts.js" => "js/views/charts.js",
    "js/views/links.js" => "js/views/links.js",
    "js/views/map.js" => "js/views/map.js",
    "js/views/tree.js" => "js/views/tree.js",
    "vendor/echarts-6.1.0/echarts.min.js" => "vendor/echarts/echarts.min.js",
    "vendor/echarts-6.1.0/LICENSE" => "vendor/echarts/LICENSE",
    "vendor/echarts-6.1.0/NOTICE" => "vendor/echarts/NOTICE",
    "vendor/echarts-6.1.0/LICENSE-d3" => "vendor/echarts/LICENSE-d3",
    "vendor/echarts-6.1.0/LICENSE-zrender" => "vendor/echarts/LICENSE-zrender",
    "vendor/echarts-6.1.0/LICENSE-tslib" => "vendor/echarts/LICENSE-tslib",
};

/// What the pages may load and run: only this origin's files; no inline scripts (data never runs).
/// Inline styles are allowed for ECharts and element sizes.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

/// A strong validator of `body`: FNV-1a, 64 bits, of its bytes.
fn etag_of(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// The ETag of every file, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| FILES.iter().map(|a| etag_of(a.body)).collect())
}

/// The answer for the embedded file at `path`, or None when there is none.
fn serve(path: &str, headers: &HeaderMap) -> Option<Response> {
    let i = FILES.iter().position(|a| a.path == path)?;
    let (asset, etag) = (&FILES[i], &etags()[i]);
    // Vendored files sit under a path naming their version: a new version is a new address.
    let versioned = path.strip_prefix("vendor/echarts-").is_some_and(|p| p.starts_with(ECHARTS_VERSION));
    let cache = if versioned { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return Some((StatusCode::NOT_MODIFIED, h).into_response());
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    if path.ends_with(".html") {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        // The sign-in link carries a token: never send this address to another site.
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    Some((h, asset.body).into_response())
}

/// A file of the console (scripts, styles, strings, ECharts).
#[utoipa::path(get, path = "/assets/{path}", tag = "console",
    params(("path" = String, Path, description = "e.g. js/app.js, i18n/zh.json, vendor/echarts-6.1.0/echarts.min.js")),
    responses((status = 200, description = "the file"), (status = 304, description = "unchanged (ETag)"), (status = 404, body = ApiError)))]
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
        .unwrap_or_else(|| ApiError::not_found(format!("no console file {path}")).into_response())
}

/// The console: the subtree, cases, charts, links (a page of JavaScript modules over the API).
#[utoipa::path(get, path = "/", tag = "console", responses((status = 200, description = "HTML", content_type = "text/html")))]
pub async fn index(headers: HeaderMap) -> Response {
    page("index.html", &headers)
}

/// The wall screen (大屏): full-screen, dark, large figures, rankings, overdue cases.
#[utoipa::path(get, path = "/screen", tag = "console", responses((status = 200, description = "HTML", content_type = "text/html")))]
pub async fn screen(headers: HeaderMap) -> Response {
    page("screen.html", &headers)
}

fn page(path: &str, headers: &HeaderMap) -> Response {
    serve(path, headers).unwrap_or_else(|| ApiError::not_found("the console page is missing").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn text(path: &str) -> &'static str {
        let a = FILES.iter().find(|a| a.path == path).unwrap();
        std::str::from_utf8(a.body).unwrap()
    }

    fn keys(lang: &str) -> BTreeSet<String> {
        let v: serde_json::Value = serde_json::from_str(text(&format!("i18n/{lang}.json"))).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn both_languages_have_the_same_strings_and_every_literal_key_the_scripts_use() {
        let (zh, en) = (keys("zh"), keys("en"));
        assert_eq!(zh, en, "zh.json and en.json differ");
        for a in FILES.iter().filter(|a| a.path.ends_with(".js") && !a.path.starts_with("vendor/")) {
            let src = std::str::from_utf8(a.body).unwrap();
            // t('key'...) with a literal key (not e.g. split('?')), and data-i18n="key" in the pages.
            for (i, _) in src.match_indices("t('") {
                if src[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let key = src[i + 3..].split('\'').next().unwrap();
                assert!(zh.contains(key), "{}: t('{key}') has no string", a.path);
            }
        }
        for page in ["index.html", "screen.html"] {
            for part in text(page).split("data-i18n=\"").skip(1) {
                let key = part.split('"').next().unwrap();
                assert!(zh.contains(key), "{page}: data-i18n {key:?} has no string");
            }
        }
    }

    #[test]
    fn every_file_the_pages_and_modules_name_is_embedded() {
        for a in FILES.iter().filter(|a| a.path.ends_with(".html") || (a.path.starts_with("js/"))) {
            let src = std::str::from_utf8(a.body).unwrap();
            for part in src.split("/assets/").skip(1) {
                let path: String = part.chars().take_while(|c| !"\"'`$ ?".contains(*c)).collect();
                if !path.is_empty() && !path.ends_with('/') {
                    assert!(
                        FILES.iter().any(|f| f.path == path),
                        "{} names /assets/{path}, not embedded",
                        a.path
                    );
                }
            }
            // Relative module imports resolve to embedded files.
            for part in src.split("from './").skip(1).chain(src.split("from '../").skip(1)) {
                let name = part.split('\'').next().unwrap();
                assert!(
                    FILES.iter().any(|f| f.path.ends_with(name)),
                    "{} imports {name}, not embedded",
                    a.path
                );
            }
        }
        assert!(FILES.iter().any(|f| f.path == format!("vendor/echarts-{ECHARTS_VERSION}/echarts.min.js")));
    }

    #[test]
    fn files_have_their_types_and_validators() {
        let h = HeaderMap::new();
        let r = serve("js/app.js", &h).unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = r.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve("js/app.js", &again).unwrap().status(), StatusCode::NOT_MODIFIED);
        let page = serve("index.html", &h).unwrap();
        assert!(page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        let e = serve("vendor/echarts-6.1.0/echarts.min.js", &h).unwrap();
        assert!(e.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
        assert!(serve("../Cargo.toml", &h).is_none());
    }

    #[test]
    fn no_script_puts_data_into_html() {
        // Data reaches the page only as text nodes (dom.js); ECharts tooltips, which take HTML, escape.
        for a in FILES.iter().filter(|a| a.path.starts_with("js/")) {
            let src = std::str::from_utf8(a.body).unwrap();
            for bad in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
                assert!(!src.contains(bad), "{} uses {bad}", a.path);
            }
        }
    }
}
