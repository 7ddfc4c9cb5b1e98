// The overview: the subtree's figures at the top, then every node of the subtree as a tree with its
// figures (open cases, 结案率, 按期结案率, 返工率, overdue, lights) and how fresh its rollup is. One
// request (/api/v1/stats/tree): every figure is the server's, for one moment.

import { h, mount } from '../dom.js';
import { refreshing } from '../live.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { num, duration, dateTime } from '../format.js';
import { countFig, rateFig, figure, nodeName, errorBox, loading, stateBadge } from '../widgets.js';

/** A rollup older than this is shown as stale. */
const STALE_MS = 5 * 60 * 1000;
const expanded = new Set();

function kpi(node, label, fig) {
  return h('div', { class: 'kpi' }, h('div', { class: 'kpi-label' }, label), fig);
}

function kpis(root) {
  const c = root.counters;
  const l = root.lights || { green: 0, yellow: 0, red: 0 };
  const overdueFig = countFig('div', root.node, 'overdue', root.overdue);
  if (root.overdue > 0) overdueFig.classList.add('bad');
  return h(
    'section',
    { class: 'kpis', 'aria-label': t('tree.kpis') },
    kpi(root.node, t('fig.total'), countFig('div', root.node, 'total', c.total)),
    kpi(root.node, t('fig.open'), countFig('div', root.node, 'open', root.open)),
    kpi(root.node, t('fig.closure_rate'), rateFig('div', root.node, 'closure_rate', root.closure_rate, c.closed, c.registered)),
    kpi(
      root.node,
      t('fig.on_time_closure_rate'),
      rateFig('div', root.node, 'on_time_closure_rate', root.on_time_closure_rate, c.closed_on_time, c.registered),
    ),
    kpi(root.node, t('fig.rework_rate'), rateFig('div', root.node, 'rework_rate', root.rework_rate, c.returned, c.registered)),
    kpi(root.node, t('fig.overdue'), overdueFig),
    kpi(
      root.node,
      t('fig.lights_own'),
      h(
        'div',
        { class: 'lights-row', title: t('tree.lights_hint') },
        figure('span', root.node, 'green', l.green, num(l.green)),
        ' · ',
        figure('span', root.node, 'yellow', l.yellow, num(l.yellow)),
        ' · ',
        figure('span', root.node, 'red', l.red, num(l.red)),
      ),
    ),
  );
}

function freshness(n, rootCode) {
  if (n.node === rootCode || !n.freshness) return h('span', { class: 'fresh fresh-live' }, t('tree.live'));
  const age = n.freshness.age_ms;
  const cls = age > STALE_MS ? 'fresh stale' : 'fresh';
  return h(
    'span',
    { class: cls, title: t('tree.as_of', { time: dateTime(n.freshness.produced_at_ms, true) }), dataset: { age: age } },
    t('tree.ago', { age: duration(age) }),
  );
}

function row(n, depth, hasChildren, byCode, rootCode, toggle) {
  const c = n.counters;
  const open = expanded.has(n.node);
  const lights = n.lights
    ? h('span', { class: 'lights-cell' }, h('b', { class: 'lg' }, num(n.lights.green)), ' ', h('b', { class: 'ly' }, num(n.lights.yellow)), ' ', h('b', { class: 'lr' }, num(n.lights.red)))
    : h('span', { class: 'muted', title: t('tree.lights_below') }, '—');
  return h(
    'tr',
    { dataset: { node: n.node, depth }, class: `lvl-${n.level}` },
    h(
      'th',
      { scope: 'row', style: `padding-left:${0.6 + depth * 1.4}em` },
      hasChildren
        ? h('button', { class: 'twisty', 'aria-expanded': String(open), title: t(open ? 'tree.collapse' : 'tree.expand'), onclick: () => toggle(n.node) }, open ? '▾' : '▸')
        : h('span', { class: 'twisty-pad' }),
      h('a', { href: `#/charts?scope=${encodeURIComponent(n.node)}`, class: 'node-name' }, nodeName(n, byCode)),
      h('span', { class: 'code' }, n.node),
    ),
    h('td', { class: 'num' }, countFig('span', n.node, 'total', c.total)),
    h('td', { class: 'num' }, countFig('span', n.node, 'open', n.open)),
    h('td', { class: 'num' }, rateFig('span', n.node, 'closure_rate', n.closure_rate, c.closed, c.registered)),
    h('td', { class: 'num' }, rateFig('span', n.node, 'on_time_closure_rate', n.on_time_closure_rate, c.closed_on_time, c.registered)),
    h('td', { class: 'num' }, rateFig('span', n.node, 'rework_rate', n.rework_rate, c.returned, c.registered)),
    h('td', { class: `num ${n.overdue > 0 ? 'warn' : ''}` }, countFig('span', n.node, 'overdue', n.overdue)),
    h('td', { class: 'num' }, lights),
    h('td', {}, freshness(n, rootCode)),
  );
}

/** The case changes seen live, newest first, each linking its case. */
function feedList(ctx) {
  if (ctx.feed.length === 0) return h('p', { class: 'muted' }, t('tree.feed_empty'));
  return h(
    'ul',
    { class: 'feed-list' },
    ctx.feed.map((c) =>
      h(
        'li',
        { dataset: { case: c.id } },
        h('span', { class: 'feed-time' }, dateTime(c.seen_ms, true).slice(11)),
        stateBadge(c.state),
        h('a', { href: `#/case/${encodeURIComponent(c.id)}`, class: 'mono' }, c.id),
        h('span', { class: 'muted' }, t('tree.feed_owner', { owner: ctx.nameOf(c.owner), version: c.version })),
      ),
    ),
  );
}

/** Renders the overview into `el`. */
export function render(ctx, el) {
  let data = null;
  const body = h('div', {}, loading());
  const feed = h('div', { id: 'feed' }, feedList(ctx));
  mount(
    el,
    h('h1', {}, t('tree.title', { node: ctx.who.node_name })),
    body,
    h('section', { class: 'card feed', 'aria-live': 'polite' }, h('h2', {}, t('tree.feed')), feed),
  );

  function draw() {
    const nodes = data.nodes;
    const byCode = new Map(nodes.map((n) => [n.node, n]));
    const root = nodes[0];
    const children = new Map();
    for (const n of nodes.slice(1)) {
      const p = byCode.has(n.parent) ? n.parent : root.node;
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(n);
    }
    // At first the whole tree when it is small (a street, a district of a few streets), else the root.
    if (expanded.size === 0) (nodes.length <= 40 ? nodes : [root]).forEach((n) => expanded.add(n.node));
    const rows = [];
    const walk = (n, depth) => {
      const kids = children.get(n.node) || [];
      rows.push(row(n, depth, kids.length > 0, byCode, root.node, toggle));
      if (expanded.has(n.node)) kids.forEach((k) => walk(k, depth + 1));
    };
    walk(root, 0);
    mount(
      body,
      kpis(root),
      h(
        'p',
        { class: 'meta' },
        t('tree.read_at', { time: dateTime(data.at_ms, true) }),
        ' · ',
        t('tree.nodes', { n: nodes.length }),
        ' · ',
        h('button', { class: 'linkish', id: 'expand-all', onclick: expandAll }, t('tree.expand_all')),
      ),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'grid tree', id: 'tree' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, t('tree.node')),
              h('th', { scope: 'col', class: 'num' }, t('fig.total')),
              h('th', { scope: 'col', class: 'num' }, t('fig.open')),
              h('th', { scope: 'col', class: 'num' }, t('fig.closure_rate')),
              h('th', { scope: 'col', class: 'num' }, t('fig.on_time_closure_rate')),
              h('th', { scope: 'col', class: 'num' }, t('fig.rework_rate')),
              h('th', { scope: 'col', class: 'num' }, t('fig.overdue')),
              h('th', { scope: 'col', class: 'num', title: t('tree.lights_hint') }, t('fig.lights')),
              h('th', { scope: 'col' }, t('tree.freshness')),
            ),
          ),
          h('tbody', {}, rows),
        ),
      ),
    );
  }

  function toggle(code) {
    if (expanded.has(code)) expanded.delete(code);
    else expanded.add(code);
    draw();
  }

  function expandAll() {
    data.nodes.forEach((n) => expanded.add(n.node));
    draw();
  }

  async function refresh() {
    try {
      data = await api('/api/v1/stats/tree');
      draw();
    } catch (e) {
      mount(body, errorBox(e));
    }
  }

  const life = refreshing(refresh, { types: ['stats'], wait: 800, every: 15000 });
  return {
    onEvent(type, d) {
      if (type === 'case') mount(feed, feedList(ctx));
      life.onEvent(type, d);
    },
    dispose: life.dispose,
  };
}
