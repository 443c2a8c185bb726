// Cards for tree nodes, built exactly like the server's templates (dashboard/_node.html,
// _badge.html) so live updates look the same as the first render. A node whose object is the
// one drawn last time is skipped with its whole subtree (the reducer replaces what changes),
// and a collapsed service's pods go to its grid (grid.js) instead of cards.
'use strict';

import { el, fill, reconcile, setHealthClass, signature, svg } from './dom.js';
import { gridBox, renderGrid } from './grid.js';
import {
  backendRefs, domId, facts, healthClass, healthLabel, isGrid, labelsText, podCounts, rolloutBars,
} from './model.js';

export function badge(health) {
  const node = el('span', `badge ${healthClass(health)}`);
  const dot = el('span', 'badge__dot');
  dot.setAttribute('aria-hidden', 'true');
  return fill(node, dot, el('span', 'badge__text', healthLabel(health)));
}

export function chips(values, label) {
  if (!values.length) return null;
  const list = el('ul', 'chips');
  list.setAttribute('aria-label', label);
  return fill(list, ...values.map((value) => el('li', 'chip', value)));
}

function factList(rows, listClass, itemClass) {
  if (!rows.length) return null;
  return fill(el('dl', listClass), ...rows.map((row) => {
    const item = el('div', row.tone ? `${itemClass} tone-${row.tone}` : itemClass);
    return fill(item, el('dt', '', row.term), el('dd', '', row.values.join(', ')));
  }));
}

function refList(node) {
  const refs = backendRefs(node);
  if (!refs.length) return null;
  const list = el('ul', 'refs');
  list.setAttribute('aria-label', 'Backends');
  return fill(list, ...refs.map((ref) => fill(
    el('li', `ref ${ref.stateClass}`),
    el('span', 'ref__target', ref.text),
    el('span', 'ref__state', ref.state),
  )));
}

function summaryBar(service) {
  const bars = rolloutBars(service);
  const text = fill(el('p', 'summary-bar__text'), el('strong', '', 'Summarised'),
    document.createTextNode(` ${podCounts(service.pod_summary)}`));
  const split = svg('svg', {
    class: 'split', viewBox: '0 0 100 8', preserveAspectRatio: 'none', role: 'img',
    'aria-label': 'Rollout split by revision',
  });
  const legend = el('ul', 'split__legend');
  for (const bar of bars) {
    split.append(
      svg('rect', { class: `split__total ${bar.tone}`, x: bar.x, y: 0, width: bar.width, height: 8 }),
      svg('rect', {
        class: `split__ready ${bar.tone}`, x: bar.x, y: 0, width: bar.readyWidth, height: 8,
      }),
    );
    const swatch = el('span', `swatch ${bar.tone}`);
    swatch.setAttribute('aria-hidden', 'true');
    const item = fill(el('li'), swatch, document.createTextNode(bar.owner));
    if (bar.revision) item.append(' ', el('code', '', bar.revision));
    item.append(`: ${bar.ready}/${bar.total} ready`);
    legend.append(item);
  }
  return fill(el('div', 'summary-bar'), text, split, legend);
}

export function card(node) {
  const head = el('header', 'card__head');
  head.append(el('span', `kind kind--${node.kind.toLowerCase()}`, node.kind));
  const title = el('h3', 'card__title', node.display_name || node.name);
  title.title = node.name;
  head.append(title);
  if (node.display_name) head.append(el('span', 'card__name', node.name));
  const anchor = el('a', 'card__anchor', '#');
  anchor.href = `#${node.id}`;
  anchor.title = `Link to this ${node.kind}`;
  head.append(badge(node.health), anchor);
  return fill(
    el('article', 'card'),
    head,
    factList(facts(node), 'facts', 'fact'),
    refList(node),
    node.kind === 'Service' && node.collapsed ? summaryBar(node) : null,
    chips(labelsText(node), 'Labels'),
  );
}

function nodeElement(node) {
  const item = el('li', `node node--${node.kind.toLowerCase()} ${healthClass(node.health)}`);
  item.dataset.nodeId = node.id;
  item.dataset.kind = node.kind;
  item.append(el('article', 'card'));
  return item;
}

/** The element holding a node's children: a grid box or a list, swapped when that changes. */
function childBox(item, grid) {
  const want = grid ? 'podgrid' : 'children';
  const other = grid ? 'children' : 'podgrid';
  item.querySelector(`:scope > .${other}`)?.remove();
  let box = item.querySelector(`:scope > .${want}`);
  if (!box) {
    box = grid ? gridBox() : el('ul', 'children');
    item.append(box);
  }
  return box;
}

/** Bring one `<li class="node">` (server-rendered or ours) and its subtree up to date. */
function updateNode(item, node, parentId, animate) {
  if (item.renderedNode === node && item.renderedParent === parentId) return;
  item.renderedNode = node;
  item.renderedParent = parentId;
  item.id = domId(node, parentId);
  const sig = signature(node);
  if (item.cardSignature !== sig) {
    setHealthClass(item, healthClass(node.health));
    const old = item.querySelector(':scope > .card');
    if (old) old.replaceWith(card(node)); else item.prepend(card(node));
    item.cardSignature = sig;
  }
  if (isGrid(node)) {
    renderGrid(childBox(item, true), node);
  } else {
    reconcileNodes(childBox(item, false), node.children || [], node.id, animate);
  }
}

/** Keyed reconciliation of one list of sibling nodes (see dom.js `reconcile`). */
export function reconcileNodes(container, nodes, parentId, animate = true) {
  reconcile(container, nodes, {
    keyName: 'node-id',
    keyOf: (node) => node.id,
    create: (node) => {
      const item = nodeElement(node);
      updateNode(item, node, parentId, false);
      return item;
    },
    update: (item, node) => updateNode(item, node, parentId, animate),
    animate,
  });
}
