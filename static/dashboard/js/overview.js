// The overview (dashboard/overview.html): one page of namespace tiles from the in-memory
// summaries, never all of them. The filter (name, kind, health over the summaries; label
// answered by the server, which keeps the labels), the order and the page live in the URL as
// on the server (dashboard/overview.py); a live update redraws only the tiles whose summary
// changed, and paging or filtering redraws at most one page.
'use strict';

import { badge } from './cards.js';
import { el, fill, reconcile, setHealthClass } from './dom.js';
import {
  NAMESPACE_HEALTH, elidedPageRange, filterActive, filterMatches, healthClass, orderCompare,
  paginate, readView, resultText, tile, viewQuery,
} from './model.js';
import { factItem, namespaceUrl } from './shell.js';

const LABEL_DEBOUNCE_MS = 250;
// Labels change with the cluster: while a label filter is on, ask again at most this often.
const LABEL_REFRESH_MS = 10000;

function tileLink(config, row) {
  const link = el('a', 'tile__link');
  link.href = namespaceUrl(config, row.name);
  const head = fill(el('div', 'tile__head'), el('h2', 'tile__name', row.displayName || row.name),
    badge(row.health));
  const pods = fill(el('p', 'tile__pods'), el('span', 'tile__ready', row.ready),
    el('span', 'tile__of', `/${row.total}`), ' ', el('span', 'tile__unit', 'pods ready'));
  const meter = el('meter', 'tile__meter', `${row.ready}/${row.total}`);
  const max = row.total || 1;
  Object.assign(meter, { min: 0, max, value: row.ready, low: max, optimum: max });
  const factsList = fill(el('dl', 'tile__facts'),
    factItem('Routes', row.routes), factItem('Services', row.services),
    factItem('Churn', row.churn.label, `churn churn--${row.churn.state}`),
    row.pending ? factItem('Pending', row.pending) : null,
    row.failed ? factItem('Failed', row.failed, 'tone-alert') : null,
    row.group ? factItem('Group', row.group) : null);
  let reasons = null;
  if (row.reasons.length) {
    reasons = fill(el('ul', 'tile__reasons'), ...row.reasons.map((text) => el('li', '', text)));
    reasons.setAttribute('aria-label', 'Why');
  }
  return fill(link, head, row.displayName ? el('p', 'tile__sub', row.name) : null, pods, meter,
    factsList, reasons);
}

function pagerLink(view, number, text, className, rel) {
  const link = el('a', className, text);
  link.href = viewQuery({ ...view, page: number });
  link.dataset.page = String(number);
  if (rel) link.rel = rel;
  return link;
}

function step(view, number, text, rel, enabled) {
  if (enabled) return pagerLink(view, number, text, 'pager__step', rel);
  const span = el('span', 'pager__step', text);
  span.setAttribute('aria-disabled', 'true');
  return span;
}

function renderPager(nav, view, page) {
  const key = `${page.number}/${page.pages}${viewQuery(view)}`;
  if (nav.pagerKey === key) return;
  nav.pagerKey = key;
  nav.hidden = page.pages <= 1;
  const pages = el('ul', 'pager__pages');
  for (const number of elidedPageRange(page.number, page.pages)) {
    if (number === null) {
      const gap = el('li', 'pager__gap', '…');
      gap.setAttribute('aria-hidden', 'true');
      pages.append(gap);
    } else {
      const link = pagerLink(view, number, number, 'pager__page');
      if (number === page.number) link.setAttribute('aria-current', 'page');
      pages.append(fill(el('li'), link));
    }
  }
  fill(nav, step(view, page.number - 1, '‹ Previous', 'prev', page.number > 1), pages,
    step(view, page.number + 1, 'Next ›', 'next', page.number < page.pages));
}

function renderStats(summaries) {
  let ready = 0;
  let total = 0;
  const byHealth = Object.fromEntries(NAMESPACE_HEALTH.map((h) => [h, 0]));
  for (const summary of summaries) {
    const pods = summary.pod_summary || {};
    ready += pods.ready || 0;
    total += pods.total || 0;
    if (summary.health in byHealth) byHealth[summary.health] += 1;
  }
  document.getElementById('stat-namespaces').textContent = String(summaries.length);
  document.getElementById('stat-pods-ready').textContent = String(ready);
  document.getElementById('stat-pods-total').textContent = String(total);
  for (const health of NAMESPACE_HEALTH) {
    const cell = document.querySelector(`[data-stat-health="${health}"]`);
    if (cell) cell.textContent = String(byHealth[health]);
  }
}

/** Overview: totals, one page of tiles, the pager, and the filter (in the URL, applied live). */
export function overviewPage(config) {
  const form = document.getElementById('filters');
  const tiles = document.getElementById('tiles');
  const pager = document.getElementById('pager');
  let view = readView(new URLSearchParams(window.location.search));
  let labelled = null; // names carrying view.filter.label, as the server answered
  let labelAnswered = null; // the label `labelled` answers
  let labelAskedAt = 0;
  let labelTimer = null;
  let last = null;
  let first = true;

  const drawTile = (item, summary) => {
    if (item.renderedSummary === summary) return item;
    item.renderedSummary = summary;
    setHealthClass(item, healthClass(summary.health));
    return fill(item, tileLink(config, tile(summary)));
  };

  const render = (state) => {
    last = state;
    if (!state.received) return;
    const all = [...state.summaries.values()];
    renderStats(all);
    const { label } = view.filter;
    if (label && labelAnswered !== label) return; // the server's answer is on its way
    if (label && Date.now() - labelAskedAt > LABEL_REFRESH_MS) askLabel();
    const matched = all.filter((s) => filterMatches(view.filter, s, labelled))
      .sort(orderCompare(view.order));
    const page = paginate(matched, view.page, config.page_size);
    reconcile(tiles, page.shown, {
      keyName: 'namespace',
      keyOf: (summary) => summary.name,
      create: (summary) => {
        const item = el('li', 'tile');
        item.dataset.namespace = summary.name;
        return drawTile(item, summary);
      },
      update: drawTile,
      animate: !first,
    });
    const active = filterActive(view.filter);
    document.getElementById('result-count').textContent =
      resultText(all.length, matched.length, active, page);
    const empty = document.getElementById('tiles-empty');
    empty.hidden = page.shown.length > 0;
    empty.textContent = active ? 'No namespace matches the filter.' : 'No namespaces to show yet.';
    renderPager(pager, view, page);
    first = false;
  };

  const askLabel = async () => {
    const { label } = view.filter;
    labelAskedAt = Date.now();
    try {
      const response = await fetch(`${config.label_url}?${new URLSearchParams({ label })}`, {
        credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      if (view.filter.label !== label) return;
      labelled = new Set(body.namespaces || []);
      labelAnswered = label;
      if (last) render(last);
    } catch (error) {
      console.warn('constellation: label filter unavailable', String(error));
    }
  };

  const showView = (next, push) => {
    const labelChanged = next.filter.label !== view.filter.label;
    view = next;
    const query = viewQuery(view);
    const url = query === '?' ? window.location.pathname : query;
    if (push) window.history.pushState(null, '', url); else window.history.replaceState(null, '', url);
    if (labelChanged) {
      clearTimeout(labelTimer);
      labelled = null;
      labelAnswered = null;
      if (view.filter.label) labelTimer = setTimeout(askLabel, LABEL_DEBOUNCE_MS);
    }
    if (last) render(last);
  };

  const applyForm = () => {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (String(value).trim()) params.set(key, String(value).trim());
    }
    showView(readView(params), false);
  };

  const fillForm = () => {
    for (const [key, value] of Object.entries({ ...view.filter, order: view.order })) {
      const field = form.elements.namedItem(key);
      if (field) field.value = value;
    }
  };

  form.addEventListener('input', applyForm);
  form.addEventListener('change', applyForm);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    applyForm();
  });
  form.querySelector('a.button')?.addEventListener('click', (event) => {
    event.preventDefault();
    for (const field of form.querySelectorAll('input')) field.value = '';
    for (const field of form.querySelectorAll('select')) field.selectedIndex = 0;
    applyForm();
  });
  pager.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[data-page]') : null;
    if (!link || !last || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    showView({ ...view, page: Number(link.dataset.page) }, true);
    document.getElementById('result-count').scrollIntoView({ block: 'nearest' });
  });
  window.addEventListener('popstate', () => {
    showView(readView(new URLSearchParams(window.location.search)), false);
    fillForm();
  });
  if (view.filter.label) askLabel();
  return { render };
}
