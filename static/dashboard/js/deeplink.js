// Deep links: `#Kind/namespace/name` in the URL highlights that node (every occurrence: a pod
// under two services is in two places) and scrolls the first into view, on arrival and on
// every hash change. Lookup by data-node-id, not by selector, so no id needs CSS escaping.
// A link to a pod that sits in a collapsed service's grid finds its cell (`PodCell/...`).
'use strict';

export function targetId() {
  const hash = window.location.hash.slice(1);
  if (!hash) return '';
  try {
    return decodeURIComponent(hash);
  } catch (error) {
    return hash;
  }
}

/** Highlight the linked node; false when it is not on the page (yet). */
export function highlightTarget({ scroll = true } = {}) {
  const id = targetId();
  for (const old of document.querySelectorAll('.is-target')) {
    if (old.dataset.nodeId !== id) old.classList.remove('is-target');
  }
  if (!id) return true;
  const find = (wanted) => [...document.querySelectorAll('[data-node-id]')]
    .filter((node) => node.dataset.nodeId === wanted && !node.dataset.leaving);
  let matches = find(id);
  if (!matches.length && id.startsWith('Pod/')) matches = find(`PodCell/${id.slice(4)}`);
  if (!matches.length) return false;
  for (const node of matches) node.classList.add('is-target');
  const primary = document.getElementById(`node-${id}`) || matches[0];
  if (scroll) primary.scrollIntoView({ block: 'center', behavior: 'smooth' });
  return true;
}

export function watchHash() {
  window.addEventListener('hashchange', () => highlightTarget());
  return highlightTarget();
}
