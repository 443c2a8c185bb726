// The three pages' live renderers: each takes the reducer's state and brings the
// server-rendered DOM up to date by keyed reconciliation (never rebuilding the page), mirroring
// the templates in dashboard/templates/dashboard/.
'use strict';

import { badge, chips, reconcileNodes } from './cards.js';
import { el, fill, reconcile, setHealthClass, signature } from './dom.js';
import {
  NAMESPACE_HEALTH, filterActive, filterMatches, groups, healthClass, healthLabel, labelsText,
  namespaceRow, readFilter,
} from './model.js';

function namespaceUrl(config, name) {
  return config.namespace_url.replace('NAMESPACE', encodeURIComponent(name));
}

function sortedTrees(state) {
  return [...state.trees.keys()].sort().map((name) => state.trees.get(name));
}

function sidebarItem(config, tree, current) {
  const link = el('a', `sidebar__link ${healthClass(tree.health)}`);
  link.href = namespaceUrl(config, tree.name);
  if (tree.name === current) link.setAttribute('aria-current', 'page');
  const dot = el('span', 'dot');
  dot.setAttribute('aria-hidden', 'true');
  return fill(link, dot, el('span', 'sidebar__name', tree.name),
    el('span', 'sidebar__health', healthLabel(tree.health)));
}

/** The namespace list down the side; only pages that hold every namespace may drop entries. */
function renderSidebar(config, state, { complete, animate }) {
  const list = document.getElementById('sidebar-list');
  if (!list) return;
  const current = config.namespace;
  const trees = sortedTrees(state);
  if (!complete) {
    for (const tree of trees) {
      const item = [...list.children].find((li) => li.dataset.namespace === tree.name);
      if (item) fill(item, sidebarItem(config, tree, current));
    }
    return;
  }
  reconcile(list, trees, {
    keyName: 'namespace',
    keyOf: (tree) => tree.name,
    create: (tree) => {
      const item = el('li');
      item.dataset.namespace = tree.name;
      return fill(item, sidebarItem(config, tree, current));
    },
    update: (item, tree) => fill(item, sidebarItem(config, tree, current)),
    animate,
  });
  document.getElementById('sidebar-count').textContent = String(trees.length);
  document.getElementById('sidebar-empty').hidden = trees.length > 0;
}

function renderBanner(state) {
  const banner = document.getElementById('cluster-banner');
  if (!banner) return;
  const syncing = !state.synced || state.cluster.synced === false;
  banner.hidden = !syncing;
  if (syncing) {
    banner.className = 'banner banner--syncing';
    banner.textContent = 'The watcher is still listing the cluster.';
  }
}

function factItem(term, value, className, id) {
  const detail = el('dd', '', value);
  if (id) detail.id = id;
  return fill(el('div', className || ''), el('dt', '', term), detail);
}

function tile(config, row, churnRate) {
  const link = el('a', 'tile__link');
  link.href = namespaceUrl(config, row.name);
  const head = fill(el('div', 'tile__head'), el('h2', 'tile__name', row.displayName || row.name),
    badge(row.health));
  const pods = fill(el('p', 'tile__pods'), el('span', 'tile__ready', row.ready),
    el('span', 'tile__of', `/${row.total}`), ' ', el('span', 'tile__unit', 'pods ready'));
  const meter = el('meter', 'tile__meter', `${row.ready}/${row.total}`);
  const max = row.total || 1;
  Object.assign(meter, { min: 0, max, value: row.ready, low: max, optimum: max });
  // A recent HighChurnWarning says more than the collapsed services alone: show its rate.
  const churnText = churnRate ? `High churn · ${churnRate} pods/min` : row.churn.label;
  const churnState = churnRate ? 'high' : row.churn.state;
  const factsList = fill(el('dl', 'tile__facts'),
    factItem('Routes', row.routes), factItem('Services', row.services),
    factItem('Churn', churnText, `churn churn--${churnState}`),
    row.pending ? factItem('Pending', row.pending) : null,
    row.failed ? factItem('Failed', row.failed, 'tone-alert') : null,
    row.group ? factItem('Group', row.group) : null);
  return fill(link, head, row.displayName ? el('p', 'tile__sub', row.name) : null, pods, meter,
    factsList);
}

/** Overview: tiles, totals, and the filter (kept in the URL, applied live). */
export function overviewPage(config, churn) {
  const form = document.getElementById('filters');
  const tiles = document.getElementById('tiles');
  let current = null;
  let filter = readFilter(new URLSearchParams(window.location.search));
  let first = true;

  const render = (state) => {
    current = state;
    const trees = sortedTrees(state);
    const shown = trees.filter((tree) => filterMatches(filter, tree));
    reconcile(tiles, shown, {
      keyName: 'namespace',
      keyOf: (tree) => tree.name,
      create: (tree) => {
        const item = el('li', 'tile');
        item.dataset.namespace = tree.name;
        return item;
      },
      update: () => {},
      animate: !first,
    });
    for (const item of tiles.children) {
      const tree = state.trees.get(item.dataset.namespace);
      if (!tree || item.dataset.leaving) continue;
      const row = namespaceRow(tree);
      const rate = churn.rate(tree.name);
      const sig = JSON.stringify([row, rate]);
      if (item.tileSignature !== sig) {
        setHealthClass(item, healthClass(row.health));
        fill(item, tile(config, row, rate));
        item.tileSignature = sig;
      }
    }
    const summaries = trees.map((tree) => tree.pod_summary || {});
    document.getElementById('stat-namespaces').textContent = String(trees.length);
    document.getElementById('stat-pods-ready').textContent =
      String(summaries.reduce((sum, s) => sum + (s.ready || 0), 0));
    document.getElementById('stat-pods-total').textContent =
      String(summaries.reduce((sum, s) => sum + (s.total || 0), 0));
    for (const health of NAMESPACE_HEALTH) {
      const cell = document.querySelector(`[data-stat-health="${health}"]`);
      if (cell) cell.textContent = String(trees.filter((t) => t.health === health).length);
    }
    const active = filterActive(filter);
    document.getElementById('result-count').textContent = active
      ? `${shown.length} of ${trees.length} namespaces match`
      : `${trees.length} namespace${trees.length === 1 ? '' : 's'}`;
    const empty = document.getElementById('tiles-empty');
    empty.hidden = shown.length > 0;
    empty.textContent = active ? 'No namespace matches the filter.' : 'No namespaces to show yet.';
    renderSidebar(config, state, { complete: true, animate: !first });
    renderBanner(state);
    first = false;
  };

  const applyForm = () => {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (String(value).trim()) params.set(key, String(value).trim());
    }
    filter = readFilter(params);
    const query = params.toString();
    window.history.replaceState(null, '', query ? `?${query}` : window.location.pathname);
    if (current) render(current);
  };
  form.addEventListener('input', applyForm);
  form.addEventListener('change', applyForm);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    applyForm();
  });
  form.querySelector('a.button')?.addEventListener('click', (event) => {
    event.preventDefault();
    for (const field of form.querySelectorAll('input, select')) field.value = '';
    applyForm();
  });
  return { render };
}

function renderHead(head, tree) {
  const sig = signature(tree);
  if (head.headSignature === sig) return;
  head.headSignature = sig;
  setHealthClass(head, healthClass(tree.health));
  const row = namespaceRow(tree);
  const podsText = [`${row.ready}/${row.total} ready`];
  if (row.pending) podsText.push(`${row.pending} pending`);
  if (row.failed) podsText.push(`${row.failed} failed`);
  const churnText = row.churn.services.length
    ? `${row.churn.label}: ${row.churn.services.join(', ')} summarised` : row.churn.label;
  const facts = fill(el('dl', 'ns-head__facts'),
    factItem('Pods', podsText.join(' · '), '', 'ns-pods'),
    factItem('Routes', row.routes, '', 'ns-routes'),
    factItem('Services', row.services, '', 'ns-services'),
    factItem('Churn', churnText, `churn churn--${row.churn.state}`, 'ns-churn'),
    tree.group ? factItem('Group', tree.group) : null,
    tree.phase ? factItem('Phase', tree.phase) : null);
  fill(head,
    fill(el('div', 'ns-head__title'), el('h1', '', tree.display_name || tree.name),
      badge(tree.health)),
    tree.display_name ? el('p', 'ns-head__sub', tree.name) : null,
    facts,
    chips(labelsText(tree), 'Labels'));
}

/** Namespace page: the header card and the routes → services → pods tree. */
export function namespacePage(config) {
  const name = config.namespace;
  const head = document.querySelector('.ns-head');
  const tree = document.getElementById('tree');
  let first = true;
  const render = (state) => {
    const current = state.trees.get(name);
    document.getElementById('ns-deleted').hidden = Boolean(current);
    if (current) renderHead(head, current);
    const children = current ? current.children || [] : [];
    reconcileNodes(tree, children, current ? current.id : `Namespace/${name}`, !first);
    document.getElementById('tree-empty').hidden = children.length > 0 || !current;
    renderSidebar(config, state, { complete: false, animate: false });
    renderBanner(state);
    first = false;
  };
  return { render };
}

function member(config, node) {
  const link = el('a', 'member__link');
  link.href = namespaceUrl(config, node.namespace) + (node.kind === 'Namespace' ? '' : `#${node.id}`);
  return fill(link, el('span', `kind kind--${node.kind.toLowerCase()}`, node.kind),
    el('span', 'member__name', node.display_name || node.name),
    el('span', 'member__ns', node.namespace), badge(node.health));
}

/** Groups page: one section per group annotation value. */
export function groupsPage(config) {
  const container = document.getElementById('groups');
  let first = true;
  const render = (state) => {
    const list = groups(sortedTrees(state));
    reconcile(container, list, {
      keyName: 'group',
      keyOf: (group) => group.name,
      create: (group) => {
        const section = el('section', 'group');
        section.dataset.group = group.name;
        section.append(el('h2', 'group__name'), el('ul', 'group__members'));
        return section;
      },
      update: () => {},
      animate: !first,
    });
    for (const group of list) {
      const section = [...container.children].find((s) => s.dataset.group === group.name);
      fill(section.querySelector('.group__name'), group.name, ' ',
        el('span', 'count', group.members.length));
      reconcile(section.querySelector('.group__members'), group.members, {
        keyName: 'node-id',
        keyOf: (node) => node.id,
        create: (node) => {
          const item = el('li', 'member');
          item.dataset.nodeId = node.id;
          return item;
        },
        update: () => {},
        animate: !first,
      });
      for (const item of section.querySelector('.group__members').children) {
        const node = group.members.find((m) => m.id === item.dataset.nodeId);
        if (!node) continue;
        const sig = signature(node);
        if (item.memberSignature !== sig) {
          setHealthClass(item, healthClass(node.health));
          fill(item, member(config, node));
          item.memberSignature = sig;
        }
      }
    }
    document.getElementById('groups-empty').hidden = list.length > 0;
    renderSidebar(config, state, { complete: true, animate: !first });
    renderBanner(state);
    first = false;
  };
  return { render };
}
