// The groups page (dashboard/groups.html): namespaces, routes and services by their group
// annotation, from the namespace summaries' `grouped` nodes (no trees). A member is redrawn
// only when what it shows changed.
'use strict';

import { badge } from './cards.js';
import { el, fill, reconcile, setHealthClass, signature } from './dom.js';
import { groups, healthClass } from './model.js';
import { namespaceUrl } from './shell.js';

function member(config, node) {
  const link = el('a', 'member__link');
  link.href = namespaceUrl(config, node.namespace) + (node.kind === 'Namespace' ? '' : `#${node.id}`);
  return fill(link, el('span', `kind kind--${node.kind.toLowerCase()}`, node.kind),
    el('span', 'member__name', node.display_name || node.name),
    el('span', 'member__ns', node.namespace), badge(node.health));
}

export function groupsPage(config) {
  const container = document.getElementById('groups');
  let first = true;
  const drawMember = (item, node) => {
    const sig = signature(node);
    if (item.memberSignature === sig) return item;
    item.memberSignature = sig;
    setHealthClass(item, healthClass(node.health));
    return fill(item, member(config, node));
  };
  const render = (state) => {
    if (!state.received) return;
    const list = groups([...state.summaries.keys()].sort().map((n) => state.summaries.get(n)));
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
          return drawMember(item, node);
        },
        update: drawMember,
        animate: !first,
      });
    }
    document.getElementById('groups-empty').hidden = list.length > 0;
    first = false;
  };
  return { render };
}
