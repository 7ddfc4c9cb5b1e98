// The wall screen (大屏) at /screen: dark, large figures readable across a room at 1920x1080, refreshed
// on live `stats` events and every 30 s; rankings of the levels below (streets, communities) by 结案率
// and 按期结案率 in turn (as many rows as fit), cases by state, the last 14 days' intake and closures,
// and red (overdue) then yellow cases scrolling. Every figure is the server's (/api/v1/stats/tree,
// /stats/series, /cases?light=red|yellow).

import { h, mount, debounce } from './dom.js';
import { t, load, preferred, lang, applyStatic, LANGS } from './i18n.js';
import { api, query } from './api.js';
import { Live } from './live.js';
import { dateTime, duration, day } from './format.js';
import { countFig, rateFig, nodeName, stateName, STATES } from './widgets.js';

const REFRESH_MS = 30000;
const ROTATE_MS = 20000;
const FONT = 'system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
const METRICS = ['closure_rate', 'on_time_closure_rate'];
let metric = 0;
let tree = null;
let trend = null;
const $ = (id) => document.getElementById(id);

function kpis(root) {
  const c = root.counters;
  const tile = (label, fig, cls) => h('div', { class: `s-kpi ${cls || ''}` }, h('div', { class: 's-kpi-label' }, label), fig);
  mount(
    $('s-kpis'),
    tile(t('fig.total'), countFig('div', root.node, 'total', c.total)),
    tile(t('fig.open'), countFig('div', root.node, 'open', root.open)),
    tile(t('fig.closure_rate'), rateFig('div', root.node, 'closure_rate', root.closure_rate, c.closed, c.registered), 'good'),
    tile(t('fig.on_time_closure_rate'), rateFig('div', root.node, 'on_time_closure_rate', root.on_time_closure_rate, c.closed_on_time, c.registered), 'good'),
    tile(t('fig.rework_rate'), rateFig('div', root.node, 'rework_rate', root.rework_rate, c.returned, c.registered)),
    tile(t('fig.overdue'), countFig('div', root.node, 'overdue', root.overdue), root.overdue > 0 ? 'bad' : 'ok'),
  );
}

/** Nodes of `level` ranked by the current metric (then the other one, then code); no denominator last. */
function ranked(nodes, level) {
  const m = METRICS[metric];
  const o = METRICS[1 - metric];
  return nodes
    .filter((n) => n.level === level)
    .sort((a, b) => (b.counters.registered > 0) - (a.counters.registered > 0) || b[m] - a[m] || b[o] - a[o] || a.node.localeCompare(b.node));
}

function ranking(el, nodes, level, byCode) {
  const list = ranked(nodes, level);
  const title = t(`screen.rank_${level}`);
  if (list.length === 0) {
    mount(el, h('h2', {}, title), h('p', { class: 's-empty' }, t('screen.none')));
    return;
  }
  const body = h(
    'tbody',
    {},
    list.map((n, i) =>
      h(
        'tr',
        { dataset: { node: n.node } },
        h('td', { class: 's-no' }, h('span', { class: `s-medal s-no-${i + 1}` }, String(i + 1))),
        h('td', { class: 's-name', title: `${nodeName(n, byCode)} ${n.node}` }, nodeName(n, byCode, true)),
        h('td', { class: `num ${metric === 0 ? 's-key' : ''}` }, rateFig('span', n.node, 'closure_rate', n.closure_rate, n.counters.closed, n.counters.registered)),
        h('td', { class: `num ${metric === 1 ? 's-key' : ''}` }, rateFig('span', n.node, 'on_time_closure_rate', n.on_time_closure_rate, n.counters.closed_on_time, n.counters.registered)),
        h('td', { class: `num ${n.overdue > 0 ? 's-bad' : ''}` }, countFig('span', n.node, 'overdue', n.overdue)),
      ),
    ),
  );
  const more = h('p', { class: 's-more' });
  mount(
    el,
    h('h2', {}, title, ' ', h('span', { class: 's-by' }, t(`screen.by_${METRICS[metric]}`))),
    h(
      'table',
      { class: 's-rank', dataset: { level } },
      h('colgroup', {}, h('col', { class: 'c-no' }), h('col', {}), h('col', { class: 'c-rate' }), h('col', { class: 'c-rate' }), h('col', { class: 'c-od' })),
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, '#'), h('th', {}, t('screen.name')), h('th', { class: 'num' }, t('screen.closure')), h('th', { class: 'num' }, t('screen.on_time')), h('th', { class: 'num' }, t('screen.overdue_short'))),
      ),
      body,
    ),
    more,
  );
  // As many rows as the panel holds; the rest are counted.
  while (el.scrollHeight > el.clientHeight && body.rows.length > 1) body.deleteRow(-1);
  const hidden = list.length - body.rows.length;
  more.textContent = hidden > 0 ? t('screen.more', { n: hidden }) : '';
}

/** Cases by state (the subtree's, every state), as tiles. */
function drawStates(root) {
  const by = root.counters.by_state || {};
  mount(
    $('s-states'),
    STATES.map((s) => h('div', { class: `s-state st-${s}` }, h('div', { class: 's-state-label' }, stateName(s)), countFig('div', root.node, `state_${s}`, by[s] || 0))),
  );
}

function drawRankings() {
  if (!tree) return;
  const byCode = new Map(tree.nodes.map((n) => [n.node, n]));
  const rootLevel = tree.nodes[0].level;
  const below = rootLevel === 'district' ? ['street', 'community'] : rootLevel === 'street' ? ['community', null] : [null, null];
  for (const [i, level] of below.entries()) {
    const el = $(`s-rank-${i + 1}`);
    if (level) ranking(el, tree.nodes, level, byCode);
    else mount(el, h('h2', {}, t('screen.rank_none')), h('p', { class: 's-empty' }, t('screen.none')));
  }
}

function drawTrend(series) {
  if (!window.echarts) return;
  if (!trend) {
    trend = window.echarts.init($('s-trend'), null, { renderer: 'canvas' });
    window.addEventListener('resize', () => trend.resize());
  }
  const axis = { axisLabel: { color: '#c9d7ea', fontSize: 20, fontFamily: FONT }, axisLine: { lineStyle: { color: '#4a6a93' } }, splitLine: { lineStyle: { color: '#1e3557' } } };
  trend.setOption({
    animation: false,
    textStyle: { fontFamily: FONT },
    grid: { left: 12, right: 24, top: 56, bottom: 8, containLabel: true },
    legend: { top: 4, textStyle: { color: '#e6eef8', fontSize: 22, fontFamily: FONT }, itemWidth: 28, itemHeight: 14 },
    xAxis: { type: 'category', data: series.days.map((d) => d.day.slice(5)), ...axis },
    yAxis: { type: 'value', minInterval: 1, ...axis },
    series: [
      { name: t('series.total'), type: 'bar', data: series.days.map((d) => d.total), itemStyle: { color: '#3b8ff0' }, barMaxWidth: 36 },
      { name: t('series.closed'), type: 'line', data: series.days.map((d) => d.closed), itemStyle: { color: '#3fd08a' }, lineStyle: { width: 4 }, symbolSize: 10 },
    ],
  });
}

function drawOverdue(red, yellow) {
  const now = Date.now();
  $('s-red-n').textContent = t('screen.red_n', { n: red.length });
  $('s-yellow-n').textContent = t('screen.yellow_n', { n: yellow.length });
  const el = $('s-overdue');
  const cases = [...red, ...yellow];
  if (cases.length === 0) {
    mount(el, h('p', { class: 's-empty' }, t('screen.no_overdue')));
    return;
  }
  const item = (c) => {
    const due = c.state === 'reported' ? c.register_due_ms : c.due_at_ms;
    const when = !due ? stateName(c.state) : due < now ? t('screen.late', { d: duration(now - due) }) : t('screen.left', { d: duration(due - now) });
    return h(
      'li',
      { dataset: { case: c.id, light: c.light } },
      h('span', { class: `s-late s-${c.light}` }, when),
      h('span', { class: 's-title' }, c.title || c.id),
      h('span', { class: 's-where' }, c.category_label || c.category),
    );
  };
  const list = h('ul', { class: 's-list' }, cases.map(item));
  mount(el, list);
  // Scroll only when the list is taller than its panel: a second copy makes the loop seamless.
  if (list.scrollHeight > el.clientHeight) {
    list.append(...cases.map(item));
    list.classList.add('s-scrolling');
    list.style.setProperty('--scroll-s', `${Math.max(20, cases.length * 3)}s`);
  }
}

/** Up to 40 open cases with `light`, a few pages at most (the light filter applies within a page). */
async function withLight(light) {
  const out = [];
  let token = '';
  for (let i = 0; i < 3 && out.length < 40; i++) {
    const page = await api(`/api/v1/cases${query({ light, page_size: 500, page_token: token })}`);
    out.push(...page.cases);
    token = page.next_page_token;
    if (!token) break;
  }
  return out.slice(0, 40);
}

async function refresh() {
  const today = day(Date.now());
  const from = day(Date.now() - 13 * 86400000);
  const [tr, se, red, yellow] = await Promise.allSettled([
    api('/api/v1/stats/tree'),
    api(`/api/v1/stats/series${query({ from, to: today })}`),
    withLight('red'),
    withLight('yellow'),
  ]);
  if (tr.status === 'fulfilled') {
    tree = tr.value;
    kpis(tree.nodes[0]);
    drawStates(tree.nodes[0]);
    drawRankings();
    $('s-asof').textContent = t('screen.as_of', { time: dateTime(tree.at_ms, true) });
  }
  if (se.status === 'fulfilled') drawTrend(se.value);
  if (red.status === 'fulfilled' && yellow.status === 'fulfilled') drawOverdue(red.value, yellow.value);
}

function drawLang() {
  mount($('lang'), LANGS.map((l) => h('button', { type: 'button', dataset: { lang: l }, 'aria-pressed': String(l === lang()), onclick: () => switchLang(l) }, t(`lang.${l}`))));
}

async function switchLang(l) {
  await load(l);
  applyStatic();
  drawLang();
  refresh();
}

function setLive(state) {
  const el = $('live');
  el.dataset.state = state;
  el.textContent = t(`live.${state}`);
}

async function start() {
  await load(preferred());
  applyStatic();
  drawLang();
  const clock = () => ($('s-clock').textContent = dateTime(Date.now(), true));
  clock();
  setInterval(clock, 1000);
  let who;
  try {
    who = await api('/api/v1/session');
  } catch (e) {
    mount($('view'), h('div', { class: 's-signin' }, h('h2', {}, t('screen.signin')), h('p', {}, e.message)));
    return;
  }
  $('s-node').textContent = who.node_name;
  document.title = `${t('screen.title')} · ${who.node_name}`;
  const later = debounce(() => refresh().catch(() => {}), 5000);
  new Live((type) => {
    if (type === 'stats' || type === 'resync') later();
  }, setLive).start();
  setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  setInterval(() => {
    metric = 1 - metric;
    drawRankings();
  }, ROTATE_MS);
  await refresh();
}

start().catch((e) => mount($('view'), h('div', { class: 's-signin' }, String(e))));
