// Charts of the subtree (or of one node in it): daily intake and closures (/api/v1/stats/series),
// and cases by category (named from /api/v1/categories), by grid and by department (the by_* counters
// of /api/v1/stats/subtree). Every chart has its numbers as a table too (for reading and checking).

import { h, mount } from '../dom.js';
import { refreshing } from '../live.js';
import { t } from '../i18n.js';
import { api, query } from '../api.js';
import { day, num } from '../format.js';
import { loadECharts, chartIn } from '../echarts.js';
import { errorBox, loading, nodeName } from '../widgets.js';

const TOP = 15;

function dataTable(id, head, rows, open) {
  return h(
    'details',
    { class: 'data', open },
    h('summary', {}, t('charts.data')),
    h(
      'table',
      { class: 'grid small', id },
      h('thead', {}, h('tr', {}, head.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((x, i) => h(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : { class: 'num' }, x))))),
    ),
  );
}

/** Bars of a `by_*` map, largest first, named by `name(key)`. */
function barsOption(map, name) {
  const entries = Object.entries(map || {})
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .reverse();
  return {
    animation: false,
    grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: entries.map(([k]) => name(k)), axisLabel: { width: 180, overflow: 'truncate' } },
    series: [{ type: 'bar', data: entries.map(([, v]) => v), barMaxWidth: 22, itemStyle: { color: '#2f6fb3' }, label: { show: true, position: 'right' } }],
  };
}

/** Renders the charts into `el` for `params` (scope, from, to). */
export function render(ctx, el, params) {
  const today = day(Date.now());
  const monthAgo = day(Date.now() - 29 * 86400000);
  const p = { scope: params.get('scope') || '', from: params.get('from') || monthAgo, to: params.get('to') || today };
  const charts = [];
  let disposed = false;

  const scopes = [[ctx.who.node, `${ctx.who.node_name} ${ctx.who.node}`]];
  const controls = h(
    'form',
    { class: 'filters', onsubmit: apply },
    h('label', { class: 'field' }, h('span', {}, t('charts.scope')), h('select', { name: 'scope', id: 'c-scope' }, scopes.map(([v, l]) => h('option', { value: v, selected: v === p.scope }, l)))),
    h('label', { class: 'field' }, h('span', {}, t('charts.from')), h('input', { type: 'date', name: 'from', value: p.from })),
    h('label', { class: 'field' }, h('span', {}, t('charts.to')), h('input', { type: 'date', name: 'to', value: p.to })),
    h('button', { type: 'submit', class: 'primary' }, t('charts.apply')),
  );
  const body = h('div', {}, loading());
  mount(el, h('h1', {}, t('charts.title')), controls, body);

  // Every node of the tree can be a scope.
  api('/api/v1/stats/tree')
    .then((tree) => {
      const byCode = new Map(tree.nodes.map((n) => [n.node, n]));
      const select = controls.querySelector('#c-scope');
      mount(select, tree.nodes.map((n) => h('option', { value: n.node, selected: n.node === (p.scope || ctx.who.node) }, `${'  '.repeat(Math.max(0, (n.node.length - ctx.who.node.length) / 3))}${nodeName(n, byCode)} ${n.node}`)));
    })
    .catch(() => {});

  function apply(e) {
    e.preventDefault();
    const d = new FormData(controls);
    const scope = d.get('scope') === ctx.who.node ? '' : d.get('scope');
    location.hash = `#/charts${query({ scope, from: d.get('from'), to: d.get('to') })}`;
  }

  function box(id, title, hint) {
    const c = h('div', { class: 'chart', id });
    return { el: c, card: h('section', { class: 'card chart-card' }, h('h2', {}, title), hint ? h('p', { class: 'hint' }, hint) : null, c) };
  }

  // Built once; refreshes update the charts' options and the tables in place (no flicker).
  let parts = null;

  function build(echarts) {
    const daily = box('chart-daily', t('charts.daily'));
    const cat = box('chart-category', t('charts.by_category'));
    const grid = box('chart-grid', t('charts.by_grid'));
    const dept = box('chart-department', t('charts.by_department'));
    mount(body, h('div', { class: 'chart-grid' }, daily.card, cat.card, grid.card, dept.card));
    const all = { daily, cat, grid, dept };
    for (const b of Object.values(all)) {
      b.table = h('div', {});
      b.card.appendChild(b.table);
      b.chart = chartIn(echarts, b.el);
      charts.push(b.chart);
    }
    return all;
  }

  function bars(b, id, head, map, name) {
    const empty = Object.keys(map || {}).length === 0;
    const open = Boolean(b.table.querySelector('details[open]'));
    b.el.hidden = empty;
    b.chart.chart.clear();
    if (!empty) {
      b.chart.chart.resize();
      b.chart.chart.setOption(barsOption(map, name));
    }
    const rows = Object.entries(map || {}).map(([k, v]) => [name(k) === k ? k : `${k} ${name(k)}`, num(v)]);
    mount(b.table, empty ? h('p', { class: 'empty' }, t('charts.empty')) : dataTable(id, head, rows, open));
  }

  async function refresh() {
    try {
      const q = query({ scope: p.scope, from: p.from, to: p.to });
      const [series, stats, echarts] = await Promise.all([api(`/api/v1/stats/series${q}`), api(`/api/v1/stats/subtree${q}`), loadECharts()]);
      if (disposed) return;
      if (!parts) parts = build(echarts);
      const c = stats.counters;
      const catName = (k) => (ctx.categories.has(k) ? ctx.categories.get(k) : k);
      parts.daily.chart.chart.setOption({
        animation: false,
        grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
        tooltip: { trigger: 'axis' },
        legend: { top: 0 },
        xAxis: { type: 'category', data: series.days.map((x) => x.day.slice(5)) },
        yAxis: { type: 'value', minInterval: 1 },
        series: [
          { name: t('series.total'), type: 'bar', data: series.days.map((x) => x.total), itemStyle: { color: '#2f6fb3' } },
          { name: t('series.closed'), type: 'line', data: series.days.map((x) => x.closed), itemStyle: { color: '#1a7f37' }, lineStyle: { width: 3 } },
          { name: t('series.closed_on_time'), type: 'line', data: series.days.map((x) => x.closed_on_time), itemStyle: { color: '#9a6700' }, lineStyle: { type: 'dashed' } },
        ],
      });
      const dailyOpen = Boolean(parts.daily.table.querySelector('details[open]'));
      mount(
        parts.daily.table,
        dataTable(
          'table-daily',
          [t('charts.day'), t('series.total'), t('series.registered'), t('series.closed'), t('series.closed_on_time')],
          series.days.map((d) => [d.day, num(d.total), num(d.registered), num(d.closed), num(d.closed_on_time)]),
          dailyOpen,
        ),
      );
      bars(parts.cat, 'table-category', [t('charts.category'), t('charts.cases')], c.by_category, catName);
      bars(parts.grid, 'table-grid', [t('charts.grid'), t('charts.cases')], c.by_grid, (k) => k);
      bars(parts.dept, 'table-department', [t('charts.department'), t('charts.cases')], c.by_department, (k) => k);
    } catch (e) {
      parts = null;
      charts.splice(0).forEach((c) => c.dispose());
      mount(body, errorBox(e));
    }
  }

  return refreshing(refresh, {
    types: ['stats'],
    wait: 2000,
    onDispose() {
      disposed = true;
      charts.forEach((c) => c.dispose());
    },
  });
}
