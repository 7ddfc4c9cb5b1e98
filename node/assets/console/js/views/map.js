// The map (地图): the grids of the node's subtree (/api/v1/grids/geojson) filled by their open cases
// (/api/v1/grids/figures; a red outline where the node holds overdue ones), and the node's open cases
// that carry a point as markers coloured by their light (/api/v1/cases). The figures are a table too,
// for reading and checking. Live case and statistics events redraw it (debounced).

import { h, mount } from '../dom.js';
import { refreshing } from '../live.js';
import { t } from '../i18n.js';
import { api, query } from '../api.js';
import { num } from '../format.js';
import { loadECharts, chartIn } from '../echarts.js';
import { errorBox, gridTable, lightDot, loading } from '../widgets.js';

const MAP = 'gridfed-grids';
/** Most case markers drawn (one page of the node's open cases). */
const MARKERS = 500;
const LIGHT_COLOURS = { red: '#d93025', yellow: '#f2a900', green: '#1e8e3e' };

/** The chart of `geo`'s grids filled from `figs`, with `cases` (open, with a point) as markers. */
function option(geo, figs, cases, names) {
  const byGrid = new Map(figs.grids.map((g) => [g.grid, g]));
  const max = Math.max(1, ...figs.grids.map((g) => g.open));
  const regions = geo.features.map((f) => {
    const code = f.properties.code;
    const g = byGrid.get(code) || { open: 0, overdue: 0, total: 0 };
    return {
      name: code,
      value: g.open,
      overdue: g.overdue,
      itemStyle: g.overdue > 0 ? { borderColor: '#d93025', borderWidth: 2.5 } : undefined,
    };
  });
  const markers = cases.map((c) => ({ name: c.title || c.id, id: c.id, value: [c.lon, c.lat], itemStyle: { color: LIGHT_COLOURS[c.light] || '#5f6368', borderColor: '#fff', borderWidth: 1.5 } }));
  return {
    animation: false,
    tooltip: {
      trigger: 'item',
      formatter: (p) =>
        p.seriesType === 'scatter'
          ? `${p.name}<br>${p.data.id}`
          : `${names.get(p.name) || ''} ${p.name}<br>${t('map.open')}: ${num(p.value || 0)}<br>${t('map.overdue')}: ${num((p.data && p.data.overdue) || 0)}`,
    },
    visualMap: {
      min: 0,
      max,
      seriesIndex: 0,
      left: 8,
      bottom: 8,
      calculable: true,
      text: [t('map.more'), t('map.fewer')],
      inRange: { color: ['#eef4fb', '#9cc2e8', '#2f6fb3'] },
    },
    geo: { map: MAP, nameProperty: 'code', roam: true, itemStyle: { borderColor: '#555', areaColor: '#eef4fb' }, label: { show: false } },
    series: [
      { type: 'map', geoIndex: 0, data: regions },
      { type: 'scatter', coordinateSystem: 'geo', data: markers, symbolSize: 12, zlevel: 1 },
    ],
  };
}

/** Renders the map into `el`. */
export function render(ctx, el) {
  let disposed = false;
  let chart = null;
  const body = h('div', {}, loading());
  mount(el, h('h1', {}, t('map.title')), h('p', { class: 'hint' }, t('map.hint')), body);

  async function draw() {
    try {
      const [geo, figs, page, echarts] = await Promise.all([
        api('/api/v1/grids/geojson'),
        api('/api/v1/grids/figures'),
        api(`/api/v1/cases${query({ page_size: MARKERS })}`),
        loadECharts(),
      ]);
      if (disposed) return;
      if (!geo || !geo.features || geo.features.length === 0) {
        mount(body, h('p', { class: 'empty', id: 'map-none' }, t('map.none')));
        return;
      }
      const names = new Map(geo.features.map((f) => [f.properties.code, f.properties.name]));
      // Grids only: a micro-grid (code with a -NN suffix) would cover its grid's colour.
      const grids = { ...geo, features: geo.features.filter((f) => !String(f.properties.code).includes('-')) };
      const open = page.cases.filter((c) => c.state !== 'closed' && c.state !== 'cancelled');
      const markers = open.filter((c) => c.lat != null && c.lon != null);
      const rows = figs.grids.map((g) =>
        h(
          'tr',
          { dataset: { grid: g.grid } },
          h('th', { scope: 'row' }, `${names.get(g.grid) || ''} `, h('span', { class: 'mono' }, g.grid)),
          h('td', { class: 'num', dataset: { fig: 'open' } }, num(g.open)),
          h('td', { class: 'num', dataset: { fig: 'overdue' } }, num(g.overdue)),
          h('td', { class: 'num', dataset: { fig: 'total' } }, num(g.total)),
        ),
      );
      const holder = h('div', { class: 'chart map', id: 'map-chart' });
      mount(
        body,
        holder,
        h('p', { class: 'hint', id: 'map-markers', dataset: { n: String(markers.length) } }, t('map.markers', { n: markers.length }), ' ', lightDot('red'), ' ', lightDot('yellow'), ' ', lightDot('green')),
        gridTable({ id: 'map-grids', class: 'small' }, ['map.grid', 'map.open', 'map.overdue', 'map.total'], rows),
      );
      if (chart) chart.dispose();
      echarts.registerMap(MAP, grids);
      chart = chartIn(echarts, holder);
      chart.chart.setOption(option(grids, figs, markers, names));
    } catch (e) {
      if (!disposed) mount(body, errorBox(e));
    }
  }
  return refreshing(draw, {
    types: ['case', 'stats'],
    wait: 2000,
    onDispose() {
      disposed = true;
      if (chart) chart.dispose();
    },
  });
}
