// Link health (/api/v1/links: each neighbour's state, backlog and the age of the oldest waiting
// message) and the node's Raft group (/api/v1/cluster). Refreshed on `links` events and every few
// seconds while shown (ages move on).

import { h, mount } from '../dom.js';
import { refreshing } from '../live.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { num, duration, dateTime } from '../format.js';
import { errorBox, loading, gridTable } from '../widgets.js';

function linkTable(links) {
  const now = Date.now();
  return gridTable(
    { id: 'links' },
    ['links.peer', 'links.relation', 'links.state', 'links.last_success', 'links.backlog', 'links.oldest', 'links.last_rollup', 'links.error'],
    links.links.map((l) =>
      h(
        'tr',
        { dataset: { peer: l.peer } },
        h('th', { scope: 'row' }, l.peer_name || l.peer, ' ', h('span', { class: 'code' }, l.peer)),
        h('td', {}, t(`links.${l.relation}`)),
        h('td', {}, h('span', { class: `badge link-${l.state}`, dataset: { state: l.state } }, t(`links.state_${l.state}`))),
        h('td', { title: dateTime(l.last_success_ms, true) }, l.last_success_ms ? t('tree.ago', { age: duration(now - l.last_success_ms) }) : '—'),
        h('td', { class: `num ${l.backlog > 0 ? 'warn' : ''}`, dataset: { figure: 'backlog', value: l.backlog } }, num(l.backlog)),
        h('td', { class: 'num', dataset: { figure: 'oldest_age_ms', value: JSON.stringify(l.oldest_age_ms) } }, l.oldest_age_ms === null || l.oldest_age_ms === undefined ? '—' : duration(l.oldest_age_ms)),
        h('td', { title: dateTime(l.last_rollup_ms, true) }, l.last_rollup_ms ? t('tree.ago', { age: duration(now - l.last_rollup_ms) }) : '—'),
        h('td', { class: 'error-text' }, l.last_error || ''),
      ),
    ),
  );
}

function clusterTable(c) {
  return [
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, t('cluster.leader')),
      h('dd', {}, c.leader ? `#${c.leader} ${c.leader_addr}` : t('cluster.no_leader')),
      h('dt', {}, t('cluster.term')),
      h('dd', {}, String(c.term)),
      h('dt', {}, t('cluster.answered_by')),
      h('dd', {}, `#${c.answered_by} (${c.role})`),
      h('dt', {}, t('cluster.log')),
      h('dd', {}, `${c.last_log_index} / ${c.last_applied}`),
    ),
    gridTable(
      { id: 'replicas' },
      ['cluster.replica', 'cluster.addr', 'cluster.voter', 'cluster.matched'],
      c.replicas.map((r) =>
        h(
          'tr',
          { class: r.id === c.leader ? 'is-leader' : '' },
          h('th', { scope: 'row' }, `#${r.id}${r.id === c.leader ? ` · ${t('cluster.leader')}` : ''}`),
          h('td', { class: 'mono' }, r.addr),
          h('td', {}, r.voter ? t('cluster.yes') : t('cluster.learner')),
          h('td', { class: 'num' }, r.matched === null || r.matched === undefined ? '—' : String(r.matched)),
        ),
      ),
    ),
  ];
}

/** Renders link health and cluster status into `el`. */
export function render(ctx, el) {
  const links = h('div', {}, loading());
  const cluster = h('div', {}, loading());
  mount(el, h('h1', {}, t('links.title')), links, h('h2', {}, t('cluster.title')), cluster);

  async function refresh() {
    const [l, c] = await Promise.allSettled([api('/api/v1/links'), api('/api/v1/cluster')]);
    if (l.status === 'fulfilled') mount(links, l.value.links.length ? h('div', { class: 'table-wrap' }, linkTable(l.value)) : h('p', { class: 'empty' }, t('links.none')));
    else mount(links, errorBox(l.reason));
    if (c.status === 'fulfilled') mount(cluster, clusterTable(c.value));
    else mount(cluster, errorBox(c.reason));
  }

  return refreshing(refresh, { types: ['links'], wait: 300, every: 5000 });
}
