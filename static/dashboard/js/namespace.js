// The namespace page (dashboard/namespace.html): the header and the routes → services → pods
// tree of one namespace, with collapsed services as pod grids. The reducer replaces only what
// a message changed, so a render walks the changed paths, not the 5,000 pods around them.
'use strict';

import { badge, chips, reconcileNodes } from './cards.js';
import { el, fill, setHealthClass, signature } from './dom.js';
import { installGridControls } from './grid.js';
import { healthClass, labelsText, namespaceHead } from './model.js';
import { factItem } from './shell.js';

function renderHead(head, tree) {
  if (head.headTree === tree) return;
  head.headTree = tree;
  const row = namespaceHead(tree);
  const key = JSON.stringify([signature(tree), row]);
  if (head.headSignature === key) return;
  head.headSignature = key;
  setHealthClass(head, healthClass(tree.health));
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

export function namespacePage(config) {
  const name = config.namespace;
  const head = document.querySelector('.ns-head');
  const tree = document.getElementById('tree');
  installGridControls(tree);
  let first = true;
  let drawn = null;
  const render = (state) => {
    const current = state.trees.get(name);
    if (state.received && current === drawn && !first) return;
    drawn = current;
    document.getElementById('ns-deleted').hidden = Boolean(current) || !state.received;
    if (!state.received) return;
    if (current) renderHead(head, current);
    const children = current ? current.children || [] : [];
    reconcileNodes(tree, children, current ? current.id : `Namespace/${name}`, !first);
    document.getElementById('tree-empty').hidden = children.length > 0 || !current;
    first = false;
  };
  return { render };
}
