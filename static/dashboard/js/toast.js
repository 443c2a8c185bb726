// Toasts for events worth a glance but not a page change (HighChurnWarning). One per key at a
// time, so a namespace that keeps churning refreshes its toast instead of stacking them, and
// at most MAX_OPEN at once (the oldest goes), so a cluster-wide rollout seen from the overview
// does not bury the page.
'use strict';

import { el, fill } from './dom.js';

const SHOW_MS = 8000;
const MAX_OPEN = 4;
const open = new Map();

export function toast({ key, title, body, tone = 'warn' }) {
  const container = document.getElementById('toasts');
  if (!container) return;
  open.get(key)?.remove();
  open.delete(key); // a refreshed toast counts as the newest
  const close = el('button', 'toast__close', '×');
  close.type = 'button';
  close.setAttribute('aria-label', 'Dismiss');
  const item = fill(el('div', `toast toast--${tone}`), fill(el('div', 'toast__body'),
    el('strong', 'toast__title', title), el('p', 'toast__text', body)), close);
  const dismiss = () => {
    item.classList.add('is-leaving');
    setTimeout(() => item.remove(), 300);
    if (open.get(key) === item) open.delete(key);
  };
  close.addEventListener('click', dismiss);
  setTimeout(dismiss, SHOW_MS);
  open.set(key, item);
  container.append(item);
  while (open.size > MAX_OPEN) {
    const [oldest, element] = open.entries().next().value;
    open.delete(oldest);
    element.remove();
  }
}
