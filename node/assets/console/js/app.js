// The console: signs in (client certificate, or a session from an access token), shows who is
// signed in and their scope, routes between the views by the address's #fragment, and passes live
// events to the view shown.

import { h, mount } from './dom.js';
import { t, load, preferred, lang, applyStatic, LANGS } from './i18n.js';
import { api, onUnauthenticated } from './api.js';
import { Live } from './live.js';
import { dateTime } from './format.js';
import * as tree from './views/tree.js';
import * as cases from './views/cases.js';
import * as oneCase from './views/case.js';
import * as charts from './views/charts.js';
import * as links from './views/links.js';
import * as map from './views/map.js';

const ROUTES = [
  ['tree', '', tree],
  ['cases', 'cases', cases],
  ['charts', 'charts', charts],
  ['map', 'map', map],
  ['links', 'links', links],
];

/** How many live case changes the overview lists. */
const FEED = 12;
const view = document.getElementById('view');
const nav = document.getElementById('nav');
const whoEl = document.getElementById('who');
const liveEl = document.getElementById('live');
let current = null;
let ctx = null;

function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  const params = new URLSearchParams(qs || '');
  const parts = path.split('/');
  if (parts[0] === 'case' && parts[1]) return { name: 'cases', module: oneCase, params, id: decodeURIComponent(parts.slice(1).join('/')) };
  const found = ROUTES.find(([, p]) => p === parts[0]) || ROUTES[0];
  return { name: found[0], module: found[2], params };
}

function show() {
  if (!ctx) return;
  if (current && current.dispose) current.dispose();
  const r = route();
  for (const a of nav.querySelectorAll('a')) a.setAttribute('aria-current', a.dataset.route === r.name ? 'page' : 'false');
  current = r.module.render(ctx, view, r.params, r.id);
  view.focus({ preventScroll: true });
}

function drawNav() {
  mount(nav, ROUTES.map(([name, path]) => h('a', { href: `#/${path}`, dataset: { route: name } }, t(`nav.${name}`))));
}

function drawWho(who) {
  const scope = who.scope ? `${who.scope}` : t('who.everything');
  const via = t(`who.via_${who.via}`);
  const expires = who.expires_at_ms ? t('who.expires', { time: dateTime(who.expires_at_ms) }) : '';
  mount(
    whoEl,
    h('span', { class: `role role-${who.role}`, id: 'who-role', dataset: { role: who.role } }, t(`who.role_${who.role}`)),
    h('span', { id: 'who-scope', title: expires }, t('who.scope', { scope, via })),
    who.via === 'token' ? h('button', { class: 'linkish', id: 'sign-out', onclick: signOut }, t('who.sign_out')) : null,
  );
}

function drawLang() {
  const el = document.getElementById('lang');
  mount(el, LANGS.map((l) => h('button', { type: 'button', dataset: { lang: l }, 'aria-pressed': String(l === lang()), onclick: () => switchLang(l) }, t(`lang.${l}`))));
}

async function switchLang(l) {
  await load(l);
  applyStatic();
  drawLang();
  if (ctx) {
    drawNav();
    drawWho(ctx.who);
    show();
  }
}

async function signOut() {
  await api('/api/v1/session', { method: 'DELETE' }).catch(() => null);
  location.href = '/';
}

function setLive(state) {
  liveEl.dataset.state = state;
  liveEl.textContent = t(`live.${state}`);
}

/** The sign-in form, shown when no certificate or session authenticates us. */
function signIn(err) {
  if (current && current.dispose) current.dispose();
  current = null;
  ctx = null;
  mount(whoEl);
  mount(nav);
  const msg = h('div', { class: 'form-error', id: 'err-token', role: 'alert' }, err && err.status !== 401 ? err.message : '');
  const form = h(
    'form',
    {
      class: 'card signin',
      id: 'signin',
      onsubmit: async (e) => {
        e.preventDefault();
        const token = form.querySelector('input').value.trim();
        try {
          await api('/api/v1/session', { method: 'POST', body: { token } });
          location.reload();
        } catch (er) {
          msg.textContent = er.message;
        }
      },
    },
    h('h1', {}, t('signin.title')),
    h('p', {}, t('signin.hint')),
    h('label', { for: 'token' }, t('signin.token')),
    h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, placeholder: 'gft_…' }),
    msg,
    h('button', { type: 'submit', class: 'primary' }, t('signin.submit')),
  );
  mount(view, form);
}

async function start() {
  await load(preferred());
  applyStatic();
  drawLang();
  onUnauthenticated((e) => signIn(e));
  let who;
  try {
    who = await api('/api/v1/session');
  } catch (e) {
    signIn(e);
    return;
  }
  document.getElementById('node').textContent = `${who.node_name} · ${who.node}`;
  document.title = `${t('app.title')} · ${who.node_name}`;
  const [cats, lks, depts] = await Promise.all([
    api('/api/v1/categories').catch(() => []),
    api('/api/v1/links').catch(() => ({ links: [] })),
    api('/api/v1/departments').catch(() => []),
  ]);
  const names = new Map([[who.node, who.node_name], ...lks.links.map((l) => [l.peer, l.peer_name])]);
  ctx = {
    who,
    categories: new Map(cats.map((c) => [c.code, `${c.major}/${c.minor}`])),
    children: lks.links.filter((l) => l.relation === 'child'),
    departments: depts,
    nameOf: (code) => (names.get(code) ? `${names.get(code)} ${code}` : code),
    // The latest case changes seen live since the page opened, newest first (the overview shows them).
    feed: [],
  };
  drawNav();
  drawWho(who);
  const live = new Live((type, data) => {
    if (type === 'case' && data) {
      ctx.feed.unshift({ ...data, seen_ms: Date.now() });
      ctx.feed.length = Math.min(ctx.feed.length, FEED);
    }
    if (current && current.onEvent) current.onEvent(type, data);
  }, setLive);
  live.start();
  window.addEventListener('hashchange', show);
  show();
}

start().catch((e) => mount(view, h('div', { class: 'error' }, String(e))));
