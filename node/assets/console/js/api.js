// Calls to the replica's JSON API (same origin; the session cookie or the browser's client
// certificate authenticates). Errors are the server's { code, field, message }.

/** An error answer of the API. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || 'http_error';
    this.field = (body && body.field) || null;
  }
}

const listeners = new Set();

/** Calls `fn(err)` on every 401 (the session ended or was revoked). */
export function onUnauthenticated(fn) {
  listeners.add(fn);
}

/** GET (or `method` with a JSON `body`) `path`; resolves to the JSON answer, null for 204. */
export async function api(path, { method = 'GET', body } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { code: 'network', message: String(e && e.message ? e.message : e) });
  }
  if (r.status === 204) return null;
  let json = null;
  try {
    json = await r.json();
  } catch {
    json = null;
  }
  if (!r.ok) {
    const err = new ApiError(r.status, json);
    if (r.status === 401) listeners.forEach((fn) => fn(err));
    throw err;
  }
  return json;
}

/** Query string of the non-empty entries of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
