// The namespace list down the side of every page, bounded like the server's
// (dashboard/sidebar.py): at most `sidebar_rows` rows — the current namespace, the unhealthy
// ones, then the rest by name — and how many are left out. Its box filters over the in-memory
// summaries as the user types; Enter submits it to the overview's name filter (also without
// script). A summary update redraws only the rows whose summary changed.
'use strict';

import { el, fill, reconcile } from './dom.js';
import { healthClass, healthLabel, sidebarCompare } from './model.js';
import { namespaceUrl } from './shell.js';

function link(config, summary) {
  const anchor = el('a', `sidebar__link ${healthClass(summary.health)}`);
  anchor.href = namespaceUrl(config, summary.name);
  if (summary.name === config.namespace) anchor.setAttribute('aria-current', 'page');
  const dot = el('span', 'dot');
  dot.setAttribute('aria-hidden', 'true');
  return fill(anchor, dot, el('span', 'sidebar__name', summary.name),
    el('span', 'sidebar__health', healthLabel(summary.health)));
}

export function sidebar(config) {
  const list = document.getElementById('sidebar-list');
  const input = document.getElementById('sidebar-filter');
  const more = document.getElementById('sidebar-more');
  const compare = sidebarCompare(config.namespace);
  let needle = '';
  let last = null;
  let first = true;

  const draw = (item, summary) => {
    if (item.renderedSummary === summary) return item;
    item.renderedSummary = summary;
    return fill(item, link(config, summary));
  };

  const render = (state) => {
    last = state;
    if (!list || !state.received) return;
    const all = [...state.summaries.values()];
    const matched = needle
      ? all.filter((s) => [s.name, s.display_name].some((t) => (t || '').toLowerCase().includes(needle)))
      : all;
    const shown = matched.sort(compare).slice(0, config.sidebar_rows);
    reconcile(list, shown, {
      keyName: 'namespace',
      keyOf: (summary) => summary.name,
      create: (summary) => {
        const item = el('li');
        item.dataset.namespace = summary.name;
        return draw(item, summary);
      },
      update: draw,
      animate: !first,
    });
    document.getElementById('sidebar-count').textContent = String(all.length);
    const rest = matched.length - shown.length;
    more.hidden = rest <= 0;
    if (rest > 0) {
      const target = el('a', '', needle ? 'see them on the overview' : 'search or browse the overview');
      target.href = needle
        ? `${config.overview_url}?${new URLSearchParams({ name: input.value.trim() })}`
        : config.overview_url;
      fill(more, `${rest} more${needle ? ' match' : ''}: `, target);
    }
    const empty = document.getElementById('sidebar-empty');
    empty.hidden = shown.length > 0;
    empty.textContent = needle ? 'No namespace matches.' : 'No namespaces yet.';
    first = false;
  };

  input?.addEventListener('input', () => {
    needle = input.value.trim().toLowerCase();
    if (last) render(last);
  });
  return { render };
}
