// One case: its facts, light and deadlines, its full audit trail (the actor named by the client and
// who the node authenticated), its ownership history, and forms for the actions allowed in its state.
// A refusal from the server ({code, field, message}) is shown next to the field it names. A change
// made elsewhere (another operator, the CLI, a neighbour) arrives live and updates the page.

import { h, mount } from '../dom.js';
import { t, has } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { dateTime, parseLocal } from '../format.js';
import { stateBadge, stateName, lightDot, errorBox, loading, gridTable } from '../widgets.js';

const HANDLER_KINDS = ['grid_worker', 'community', 'street', 'department'];
const ACTOR_KEY = 'gridfed.actor';

/** Which form input shows a refusal naming `field`. */
const FIELD_INPUT = {
  note: 'note',
  actor: 'actor',
  handler: 'handler_name',
  'handler.name': 'handler_name',
  'handler.kind': 'handler_kind',
  new_due: 'new_due',
  new_due_ms: 'new_due',
  to: 'to',
};

function actionName(a) {
  return has(`action.${a}`) ? t(`action.${a}`) : a;
}

function fact(label, value, attrs) {
  return [h('dt', {}, label), h('dd', attrs || {}, value === '' || value === null || value === undefined ? '—' : value)];
}

function facts(c, ctx) {
  const handler = c.handler ? `${c.handler.name} (${t(`handler.${c.handler.kind}`)})` : '';
  return h(
    'dl',
    { class: 'facts' },
    fact(t('case.category'), c.category_label ? `${c.category} ${c.category_label}` : c.category),
    fact(t('case.grid'), c.grid, { class: 'mono' }),
    fact(t('case.source'), has(`source.${c.source}`) ? t(`source.${c.source}`) : c.source),
    fact(t('case.priority'), has(`priority.${c.priority}`) ? t(`priority.${c.priority}`) : c.priority),
    fact(t('case.address'), c.address),
    fact(t('case.reporter'), c.reporter),
    fact(t('case.origin'), ctx.nameOf(c.origin)),
    fact(t('case.owner'), ctx.nameOf(c.owner), { id: 'case-owner' }),
    fact(t('case.handler'), handler, { id: 'case-handler' }),
    fact(t('case.epoch'), String(c.epoch)),
    fact(t('case.version'), String(c.version), { id: 'case-version' }),
    fact(t('case.returns'), `${c.returns} / ${c.extensions}`),
    fact(t('case.watchers'), c.watchers.map((w) => ctx.nameOf(w)).join(', ')),
  );
}

function deadlines(c) {
  const rows = [
    ['case.reported_at', c.reported_at_ms],
    ['case.register_due', c.register_due_ms],
    ['case.registered_at', c.registered_at_ms],
    ['case.dispatched_at', c.dispatched_at_ms],
    ['case.due_at', c.due_at_ms],
    ['case.overall_due', c.overall_due_ms],
    ['case.handled_at', c.handled_at_ms],
    ['case.closed_at', c.closed_at_ms],
  ];
  return h('dl', { class: 'facts deadlines' }, rows.map(([k, ms]) => fact(t(k), dateTime(ms), { dataset: { time: k.slice(5) } })));
}

function audit(entries) {
  return gridTable(
    { class: 'audit', id: 'audit' },
    ['case.at', 'case.action', 'case.states', 'case.actor', 'case.by', 'case.note'],
    entries.map((e) =>
      h(
        'tr',
        { dataset: { action: e.action } },
        h('td', { class: 'nowrap' }, dateTime(e.at_ms, true)),
        h('td', {}, actionName(e.action)),
        h('td', {}, e.from_state ? `${stateName(e.from_state)} → ${stateName(e.to_state)}` : stateName(e.to_state)),
        h('td', {}, e.actor),
        h('td', { class: 'by' }, e.by || '—'),
        h('td', {}, e.note),
      ),
    ),
  );
}

function ownership(steps, ctx) {
  return gridTable(
    { id: 'ownership' },
    ['case.at', 'case.action', 'case.from', 'case.to', 'case.actor', 'case.by', 'case.note'],
    steps.map((s) =>
      h(
        'tr',
        {},
        h('td', { class: 'nowrap' }, dateTime(s.at_ms, true)),
        h('td', {}, actionName(s.action)),
        h('td', {}, s.from ? ctx.nameOf(s.from) : '—'),
        h('td', {}, ctx.nameOf(s.to)),
        h('td', {}, s.actor),
        h('td', { class: 'by' }, s.by || '—'),
        h('td', {}, s.note),
      ),
    ),
  );
}

function input(name, label, control, hint) {
  return h(
    'div',
    { class: 'field', dataset: { field: name } },
    h('label', { for: `act-${name}` }, label),
    control,
    hint ? h('small', { class: 'hint' }, hint) : null,
    h('div', { class: 'field-error', id: `err-${name}`, role: 'alert' }),
  );
}

/** The form of `action` on case `c`. */
function actionForm(action, c, ctx, submit, cancel) {
  const fields = [];
  if (action === 'dispatch') {
    fields.push(
      input(
        'handler_kind',
        t('form.handler_kind'),
        h('select', { id: 'act-handler_kind', name: 'handler_kind' }, HANDLER_KINDS.map((k) => h('option', { value: k }, t(`handler.${k}`)))),
      ),
      input(
        'handler_name',
        t('form.handler_name'),
        h('input', { id: 'act-handler_name', name: 'handler_name', list: 'departments', autocomplete: 'off', placeholder: t('form.handler_name_hint') }),
      ),
      h('datalist', { id: 'departments' }, ctx.departments.map((d) => h('option', { value: d.name }))),
    );
  }
  if (action === 'extend') {
    fields.push(input('new_due', t('form.new_due'), h('input', { id: 'act-new_due', name: 'new_due', type: 'datetime-local' }), t('form.beijing_time')));
  }
  if (action === 'send_down') {
    const toward = ctx.children.find((ch) => c.grid.startsWith(ch.peer));
    fields.push(
      input(
        'to',
        t('form.to'),
        h(
          'select',
          { id: 'act-to', name: 'to' },
          ctx.children.map((ch) => h('option', { value: ch.peer, selected: toward && toward.peer === ch.peer }, `${ch.peer_name || ch.peer} ${ch.peer}`)),
        ),
      ),
    );
  }
  let actor = '';
  try {
    actor = localStorage.getItem(ACTOR_KEY) || '';
  } catch {
    actor = '';
  }
  fields.push(
    input('note', t('form.note'), h('textarea', { id: 'act-note', name: 'note', rows: '2' })),
    input('actor', t('form.actor'), h('input', { id: 'act-actor', name: 'actor', value: actor, autocomplete: 'name' }), t('form.actor_hint')),
  );
  return h(
    'form',
    { class: 'act-form', id: 'act-form', dataset: { action }, onsubmit: submit },
    h('h3', {}, actionName(action)),
    h('div', { class: 'form-error', id: 'err-general', role: 'alert' }),
    fields,
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary', id: 'act-submit' }, t('form.submit', { action: actionName(action) })),
      h('button', { type: 'button', onclick: cancel }, t('form.cancel')),
    ),
  );
}

/** The body of an action from the form's inputs. */
function bodyOf(form, action, version) {
  const d = new FormData(form);
  const body = { action, note: (d.get('note') || '').trim(), actor: (d.get('actor') || '').trim(), expected_version: version };
  if (action === 'dispatch') body.handler = { kind: d.get('handler_kind'), name: (d.get('handler_name') || '').trim() };
  if (action === 'extend') {
    const ms = parseLocal(d.get('new_due'));
    if (Number.isFinite(ms)) body.new_due_ms = ms;
  }
  if (action === 'send_down') body.to = d.get('to') || '';
  return body;
}

/** Renders case `id` into `el`. */
export function render(ctx, el, params, id) {
  let detail = null;
  let form = null;
  let openAction = null;
  const head = h('div', {}, loading());
  const actions = h('section', { class: 'actions', 'aria-label': t('case.actions') });
  const notice = h('div', { class: 'notice', role: 'status', id: 'case-notice' });
  const info = h('div', {});
  mount(el, h('p', {}, h('a', { href: '#/cases' }, `← ${t('case.back')}`)), head, notice, actions, info);

  function drawActions() {
    const c = detail.case;
    if (ctx.who.role === 'viewer') {
      mount(actions, h('p', { class: 'muted' }, t('case.viewer')));
      return;
    }
    if (detail.allowed_actions.length === 0) {
      mount(actions, h('p', { class: 'muted' }, c.owner === ctx.who.node ? t('case.no_actions') : t('case.not_owned', { owner: ctx.nameOf(c.owner) })));
      return;
    }
    if (openAction && !detail.allowed_actions.includes(openAction)) {
      openAction = null;
      form = null;
    }
    const buttons = h(
      'div',
      { class: 'buttons', id: 'action-buttons' },
      detail.allowed_actions.map((a) =>
        h('button', { type: 'button', class: a === openAction ? 'primary' : '', dataset: { action: a }, onclick: () => openForm(a) }, actionName(a)),
      ),
    );
    mount(actions, h('h2', {}, t('case.actions')), buttons, form);
  }

  function openForm(a) {
    openAction = a;
    form = actionForm(a, detail.case, ctx, submit, () => {
      openAction = null;
      form = null;
      drawActions();
    });
    drawActions();
    const first = form.querySelector('select, input, textarea');
    if (first) first.focus();
  }

  function showError(err) {
    for (const e of form.querySelectorAll('.field-error, .form-error')) e.textContent = '';
    for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
    const name = err.field && FIELD_INPUT[err.field];
    const slot = name && form.querySelector(`#err-${name}`);
    if (slot) {
      slot.textContent = err.message;
      const control = form.querySelector(`[name="${name}"]`);
      if (control) {
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', `err-${name}`);
        control.focus();
      }
    } else {
      form.querySelector('#err-general').textContent = `${err.message}${err.code ? ` (${err.code})` : ''}`;
    }
  }

  async function submit(e) {
    e.preventDefault();
    const action = openAction;
    const body = bodyOf(form, action, detail.case.version);
    try {
      localStorage.setItem(ACTOR_KEY, body.actor);
    } catch {
      // Storage refused: nothing to remember.
    }
    const button = form.querySelector('#act-submit');
    button.disabled = true;
    try {
      detail = await api(`/api/v1/cases/${encodeURIComponent(id)}/actions`, { method: 'POST', body });
      openAction = null;
      form = null;
      draw();
      mount(notice, t('case.done', { action: actionName(action), state: stateName(detail.case.state) }));
    } catch (err) {
      button.disabled = false;
      showError(err instanceof ApiError ? err : new ApiError(0, { message: String(err) }));
    }
  }

  function draw() {
    const c = detail.case;
    mount(
      head,
      h(
        'header',
        { class: 'case-head' },
        h('h1', { id: 'case-title' }, c.title || c.id),
        h('div', { class: 'case-badges' }, stateBadge(c.state), ' ', lightDot(c.light), ' ', h('span', { class: 'code', id: 'case-id' }, c.id)),
      ),
    );
    drawActions();
    mount(
      info,
      c.description ? h('p', { class: 'description' }, c.description) : null,
      h('div', { class: 'two-col' }, h('section', {}, h('h2', {}, t('case.facts')), facts(c, ctx)), h('section', {}, h('h2', {}, t('case.deadlines')), deadlines(c))),
      h('section', {}, h('h2', {}, t('case.audit')), h('div', { class: 'table-wrap' }, audit(detail.audit))),
      h('section', {}, h('h2', {}, t('case.ownership')), h('div', { class: 'table-wrap' }, ownership(detail.ownership, ctx))),
    );
  }

  async function load(live) {
    try {
      const fresh = await api(`/api/v1/cases/${encodeURIComponent(id)}`);
      const changed = detail && fresh.case.version !== detail.case.version;
      detail = fresh;
      draw();
      if (live && changed) mount(notice, t('case.changed', { state: stateName(detail.case.state), version: detail.case.version }));
    } catch (e) {
      mount(head, errorBox(e));
    }
  }

  load(false);
  return {
    onEvent(type, data) {
      if ((type === 'case' && data.id === id && (!detail || data.version !== detail.case.version)) || type === 'resync') load(true);
    },
    dispose() {},
  };
}
