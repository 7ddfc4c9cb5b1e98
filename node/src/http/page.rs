//! The page at `/`: a placeholder until the console pages exist (the next step of issue 10). It says
//! so and links the API and its OpenAPI document.

use axum::extract::State;
use axum::response::Html;

use super::HttpCtx;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The console (for now a placeholder linking the API).
#[utoipa::path(get, path = "/", tag = "probes", responses((status = 200, description = "HTML", content_type = "text/html")))]
pub async fn index(State(ctx): State<HttpCtx>) -> Html<String> {
    let node = escape(&format!("{} {}", ctx.local.node, ctx.local.name));
    Html(format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>gridfed {node}</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:46em;margin:3em auto;line-height:1.6}}code{{background:#eee;padding:0 .3em}}</style>
</head><body>
<h1>gridfed · {node}</h1>
<p>指挥中心页面即将推出。The console pages come next; this replica already serves their API.</p>
<ul>
<li><a href="/api/v1/session">/api/v1/session</a> — who you are here</li>
<li><a href="/api/v1/stats/subtree">/api/v1/stats/subtree</a> — figures of the subtree with freshness</li>
<li><a href="/api/v1/cases?page_size=20">/api/v1/cases</a> — cases (filters, <code>q</code> search, paging)</li>
<li><a href="/api/v1/links">/api/v1/links</a> · <a href="/api/v1/cluster">/api/v1/cluster</a></li>
<li><a href="/api/openapi.json">/api/openapi.json</a> — the OpenAPI document of every route</li>
<li><a href="/readyz">/readyz</a> · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></li>
</ul>
</body></html>
"#
    ))
}
