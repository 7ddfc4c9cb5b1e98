// The case list: filters (state, grid, category, light, owned), text search and paging, as
// GET /api/v1/cases offers them. Filters live in the address (#/cases?state=...), so a filtered list
// can be bookmarked; case changes arriving live refresh the page shown.

import { h, mount, debounce } from '../dom.js';
import { t } from '../i18n.js';
import { api, query } from '../api.js';
import { dateTime } from '../format.js';
import { stateBadge, lightDot, errorBox, loading, STATES, gridTable } from '../widgets.js';

const LIGHTS = ['green', 'yellow', 'red'];

function select(name, value, options) {
  return h(
    'select',
    { name, id: `f-${name}` },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)),
  );
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

/** Renders the case list into `el` with the filters of `params`. */
export function render(ctx, el, params) {
  const f = {
    state: params.get('state') || '',
    grid: params.get('grid') || '',
    category: params.get('category') || '',
    light: params.get('light') || '',
    owned: params.get('owned') === 'true',
    q: params.get('q') || '',
    page_size: params.get('page_size') || '50',
  };
  // Tokens of the pages before this one, and this page's.
  const tokens = [];
  let token = '';
  let shown = [];

  const form = h(
    'form',
    { class: 'filters', id: 'case-filters', onsubmit: apply },
    field(t('cases.q'), h('input', { name: 'q', type: 'search', value: f.q, placeholder: t('cases.q_hint'), id: 'f-q' })),
    field(t('cases.state'), select('state', f.state, [['', t('cases.any')], ...STATES.map((s) => [s, t(`state.${s}`)])])),
    field(
      t('cases.category'),
      select('category', f.category, [['', t('cases.any')], ...[...ctx.categories.entries()].map(([code, label]) => [code, `${code} ${label}`])]),
    ),
    field(t('cases.grid'), h('input', { name: 'grid', value: f.grid, inputmode: 'numeric', maxlength: '15', placeholder: t('cases.grid_hint'), id: 'f-grid' })),
    field(t('cases.light'), select('light', f.light, [['', t('cases.any')], ...LIGHTS.map((l) => [l, t(`light.${l}`)])])),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'owned', checked: f.owned, id: 'f-owned' }), t('cases.owned')),
    field(t('cases.page_size'), select('page_size', f.page_size, [['20', '20'], ['50', '50'], ['100', '100']])),
    h('button', { type: 'submit', class: 'primary' }, t('cases.apply')),
  );
  const note = f.light ? h('p', { class: 'hint' }, t('cases.light_hint')) : null;
  const list = h('div', {}, loading());
  mount(el, h('h1', {}, t('cases.title')), form, note, list);

  function apply(e) {
    e.preventDefault();
    const d = new FormData(form);
    const next = {
      q: (d.get('q') || '').trim(),
      state: d.get('state'),
      category: d.get('category'),
      grid: (d.get('grid') || '').trim(),
      light: d.get('light'),
      owned: d.get('owned') ? 'true' : '',
      page_size: d.get('page_size') === '50' ? '' : d.get('page_size'),
    };
    location.hash = `#/cases${query(next)}`;
  }

  async function load() {
    try {
      const page = await api(
        `/api/v1/cases${query({ state: f.state, grid: f.grid, category: f.category, light: f.light, owned: f.owned, q: f.q, page_size: f.page_size, page_token: token })}`,
      );
      shown = page.cases.map((c) => c.id);
      draw(page);
    } catch (e) {
      mount(list, errorBox(e));
      if (e.field) {
        const input = form.querySelector(`[name="${CSS.escape(e.field === 'text' ? 'q' : e.field)}"]`);
        if (input) input.setAttribute('aria-invalid', 'true');
      }
    }
  }

  function draw(page) {
    const rows = page.cases.map((c) =>
      h(
        'tr',
        { dataset: { case: c.id } },
        h('td', {}, h('a', { href: `#/case/${encodeURIComponent(c.id)}`, class: 'case-link' }, c.title || c.id)),
        h('td', {}, c.category_label || c.category),
        h('td', { class: 'mono' }, c.grid),
        h('td', {}, stateBadge(c.state)),
        h('td', {}, lightDot(c.light)),
        h('td', { class: 'mono' }, c.owner),
        h('td', { class: 'nowrap' }, dateTime(c.reported_at_ms)),
        h('td', { class: 'nowrap' }, dateTime(c.due_at_ms)),
      ),
    );
    const table = rows.length
      ? h(
          'div',
          { class: 'table-wrap' },
          gridTable(
            { class: 'cases', id: 'case-table' },
            ['cases.col_title', 'cases.col_category', 'cases.col_grid', 'cases.col_state', 'cases.col_light', 'cases.col_owner', 'cases.col_reported', 'cases.col_due'],
            rows,
          ),
        )
      : h('p', { class: 'empty' }, t('cases.none'));
    const pager = h(
      'nav',
      { class: 'pager', 'aria-label': t('cases.paging') },
      h('button', { disabled: tokens.length === 0, onclick: prev, id: 'page-prev' }, t('cases.prev')),
      h('span', {}, t('cases.page', { n: tokens.length + 1 })),
      h('button', { disabled: !page.next_page_token, onclick: () => next(page.next_page_token), id: 'page-next' }, t('cases.next')),
    );
    mount(list, table, pager);
  }

  function next(tok) {
    tokens.push(token);
    token = tok;
    load();
  }

  function prev() {
    token = tokens.pop() || '';
    load();
  }

  const later = debounce(load, 500);
  load();
  return {
    onEvent(type, data) {
      // A change to a case on this page, or any change on the first page (new cases may appear).
      if (type === 'resync' || (type === 'case' && (shown.includes(data.id) || tokens.length === 0))) later();
    },
    dispose() {
      later.cancel();
    },
  };
}
