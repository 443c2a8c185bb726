// What every page has around its content: links to namespaces, the watcher banner, and the
// small fact rows the overview's tiles and the namespace header share.
'use strict';

import { el, fill } from './dom.js';

export function namespaceUrl(config, name) {
  return config.namespace_url.replace('NAMESPACE', encodeURIComponent(name));
}

export function renderBanner(state) {
  const banner = document.getElementById('cluster-banner');
  if (!banner) return;
  const syncing = !state.synced || state.cluster.synced === false;
  banner.hidden = !syncing;
  if (syncing) {
    banner.className = 'banner banner--syncing';
    banner.textContent = 'The watcher is still listing the cluster.';
  }
}

export function factItem(term, value, className, id) {
  const detail = el('dd', '', value);
  if (id) detail.id = id;
  return fill(el('div', className || ''), el('dt', '', term), detail);
}
