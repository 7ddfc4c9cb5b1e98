// Small pieces shared by the views: state badges, traffic lights, figures that carry the server's
// value for checking, node names, messages.

import { h } from './dom.js';
import { t, has } from './i18n.js';
import { pct, num } from './format.js';

/** Every case state, in workflow order. */
export const STATES = ['reported', 'registered', 'dispatched', 'handling', 'handled', 'suspended', 'closed', 'cancelled'];

/** The translated name of case state `s`. */
export function stateName(s) {
  return has(`state.${s}`) ? t(`state.${s}`) : s;
}

/** A badge for case state `s`. */
export function stateBadge(s) {
  return h('span', { class: `badge state-${s}`, dataset: { state: s } }, stateName(s));
}

/** A traffic light dot with its word, or a dash when no clock runs. */
export function lightDot(light) {
  if (!light) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `light light-${light}`, dataset: { light } }, h('i', { 'aria-hidden': 'true' }), t(`light.${light}`));
}

/**
 * A figure from the server: shows `text`, and keeps the raw value for tests and tooltips
 * (data-figure, data-node, data-value).
 */
export function figure(tag, node, name, value, text, title) {
  return h(tag, { class: `fig fig-${name}`, title: title || null, dataset: { node, figure: name, value: JSON.stringify(value) } }, text);
}

/** A rate figure: the server's rate with one decimal, numerator / denominator as tooltip. */
export function rateFig(tag, node, name, rate, numerator, denominator) {
  const text = denominator > 0 ? pct(rate) : '—';
  return figure(tag, node, name, rate, text, `${num(numerator)} / ${num(denominator)}`);
}

/** A count figure. */
export function countFig(tag, node, name, n) {
  return figure(tag, node, name, n, num(n));
}

/**
 * How to call a node: its name where known (itself and its neighbours), else its parent's name and
 * its number ("解放路街道·001"; `short` drops the parent's 街道 for narrow columns), else its code.
 */
export function nodeName(n, byCode, short) {
  if (n.name) return n.name;
  const parent = n.parent && byCode && byCode.get(n.parent);
  if (parent && parent.name) {
    const p = short ? parent.name.replace(/街道$/, '') : parent.name;
    return t('node.unnamed', { parent: p, n: n.node.slice(-3) });
  }
  return n.node;
}

/** A table.grid (more classes in `attrs.class`) with a header of the strings `heads` (keys) and `rows`. */
export function gridTable(attrs, heads, rows) {
  return h(
    'table',
    { ...attrs, class: `grid ${attrs.class || ''}`.trim() },
    h('thead', {}, h('tr', {}, heads.map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', {}, rows),
  );
}

/** An error box for an API error or any exception. */
export function errorBox(err) {
  const code = err && err.code ? ` (${err.code})` : '';
  return h('div', { class: 'error', role: 'alert' }, `${t('error.prefix')}${code}: ${err && err.message ? err.message : String(err)}`);
}

/** A "loading" placeholder. */
export function loading() {
  return h('div', { class: 'loading' }, t('loading'));
}
