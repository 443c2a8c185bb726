// The pod grid of a collapsed service (dashboard/_node.html): one small button per pod,
// coloured and named by its state, with a legend of counts and a details panel that shows a
// pod on hover, click (pinned) or keyboard focus. A service of 5,000 pods is 5,000 buttons,
// so a live update touches only the cells whose pod changed: cells are kept in a map by id,
// an unchanged list order costs one identity check per cell, and a rollout's added and removed
// pods are inserted or removed where they are. One tab stop per grid (roving tabindex):
// the arrow keys, Home and End move between cells, Escape closes the details.
'use strict';

import { el, fill } from './dom.js';
import { CELL_STATES, cellLabel, cellState, facts, gridLabel, gridLegend } from './model.js';

const STATE_WORDS = Object.fromEntries(CELL_STATES);

/** An empty grid box, as the template renders one. */
export function gridBox() {
  const cells = el('div', 'cells');
  cells.setAttribute('role', 'group');
  const details = el('div', 'podgrid__details');
  details.hidden = true;
  return fill(el('div', 'podgrid'), el('ul', 'podgrid__legend'), cells, details);
}

function cellButton(cell) {
  const button = el('button', 'cell');
  button.type = 'button';
  button.tabIndex = -1;
  button.dataset.nodeId = cell.id;
  return button;
}

function paint(box, button, cell) {
  button.cellNode = cell;
  const state = cellState(cell);
  if (button.cellState !== state) {
    const wanted = `cell--${state}`;
    if (button.cellState !== undefined || !button.classList.contains(wanted)) {
      for (const name of [...button.classList]) {
        if (name.startsWith('cell--')) button.classList.remove(name);
      }
      button.classList.add(wanted);
    }
    button.cellState = state;
  }
  const label = cellLabel(cell);
  if (button.getAttribute('aria-label') !== label) button.setAttribute('aria-label', label);
  if (box.shown === button) showDetails(box, button);
}

function indexOf(cells) {
  const index = new Map();
  for (const button of cells.children) index.set(button.dataset.nodeId, button);
  return index;
}

function sameIds(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i].id !== b[i].id) return false;
  return true;
}

function renderLegend(box, list) {
  const legend = gridLegend(list);
  const key = legend.map((item) => `${item.state}:${item.count}`).join(' ');
  if (box.legendKey === key) return;
  box.legendKey = key;
  fill(box.querySelector(':scope > .podgrid__legend'), ...legend.map((item) => {
    const swatch = el('span', `legend__swatch cell--${item.state}`);
    swatch.setAttribute('aria-hidden', 'true');
    return fill(el('li'), swatch, `${item.count} ${item.label.toLowerCase()}`);
  }));
}

/** Keep exactly one cell of the grid in the tab order. */
function keepOneTabStop(box, cells) {
  const current = box.tabStop;
  if (current && current.parentNode === cells) return;
  // The server marks the first cell; after that the stop follows focus, or the first cell.
  const next = cells.querySelector(':scope > .cell[tabindex="0"]') || cells.firstElementChild;
  if (next) moveTabStop(box, next);
}

function moveTabStop(box, button) {
  if (box.tabStop && box.tabStop !== button) box.tabStop.tabIndex = -1;
  button.tabIndex = 0;
  box.tabStop = button;
}

/**
 * Bring a grid box up to date with a collapsed service's PodCell children. Cells come and go
 * without a transition: a pod on its way out is shown as Terminating first, and thousands of
 * animated cells cost a frame's paint budget during a rollout.
 */
export function renderGrid(box, service) {
  const cells = box.querySelector(':scope > .cells');
  const list = (service.children || []).filter((child) => child.kind === 'PodCell');
  const label = gridLabel(service);
  if (cells.getAttribute('aria-label') !== label) cells.setAttribute('aria-label', label);
  const previous = box.renderedCells;
  if (!box.index) box.index = indexOf(cells);
  const { index } = box;
  if (previous && sameIds(previous, list)) {
    for (let i = 0; i < list.length; i += 1) {
      if (previous[i] !== list[i]) paint(box, index.get(list[i].id), list[i]);
    }
  } else {
    const wanted = new Set(list.map((cell) => cell.id));
    for (const [id, button] of index) {
      if (!wanted.has(id)) {
        index.delete(id);
        if (box.shown === button) hideDetails(box);
        button.remove();
      }
    }
    let before = null;
    for (const cell of list) {
      let button = index.get(cell.id);
      if (!button) {
        button = cellButton(cell);
        index.set(cell.id, button);
        if (before) before.after(button); else cells.prepend(button);
      }
      if (button.cellNode !== cell) paint(box, button, cell);
      before = button;
    }
  }
  box.renderedCells = list;
  renderLegend(box, list);
  keepOneTabStop(box, cells);
}

function showDetails(box, button) {
  const panel = box.querySelector(':scope > .podgrid__details');
  const cell = button.cellNode;
  if (box.shown && box.shown !== button) box.shown.classList.remove('is-shown');
  box.shown = button;
  button.classList.add('is-shown');
  const anchor = el('a', 'podgrid__anchor', '#');
  anchor.href = `#${button.dataset.nodeId}`;
  anchor.title = 'Link to this pod';
  if (!cell) {
    // Before the first live state only the cell's name is known.
    fill(panel, fill(el('p', 'podgrid__title'), button.getAttribute('aria-label') || '', ' ', anchor));
  } else {
    const rows = facts(cell).map((row) => {
      const item = el('div', row.tone ? `fact tone-${row.tone}` : 'fact');
      return fill(item, el('dt', '', row.term), el('dd', '', row.values.join(', ')));
    });
    fill(panel,
      fill(el('p', 'podgrid__title'), el('strong', '', cell.name), ' ',
        el('span', `podgrid__state cell-word--${cellState(cell)}`, STATE_WORDS[cellState(cell)]),
        ' ', anchor),
      fill(el('dl', 'facts'), ...rows));
  }
  panel.hidden = false;
}

function hideDetails(box) {
  if (box.shown) box.shown.classList.remove('is-shown');
  box.shown = null;
  box.pinned = false;
  box.querySelector(':scope > .podgrid__details').hidden = true;
}

function columns(cells) {
  let count = 0;
  let top = null;
  for (const button of cells.children) {
    if (top === null) top = button.offsetTop;
    if (button.offsetTop !== top) break;
    count += 1;
  }
  return Math.max(1, count);
}

function neighbour(button, key) {
  const cells = button.parentNode;
  const live = [...cells.children];
  const at = live.indexOf(button);
  const moves = {
    ArrowRight: at + 1,
    ArrowLeft: at - 1,
    ArrowDown: at + columns(cells),
    ArrowUp: at - columns(cells),
    Home: 0,
    End: live.length - 1,
  };
  const target = moves[key];
  if (target === undefined) return undefined;
  return live[Math.min(Math.max(0, target), live.length - 1)];
}

/** Hover, click, focus and keyboard handling for every grid inside `root` (delegated). */
export function installGridControls(root) {
  const cellOf = (target) => (target instanceof Element ? target.closest('.cells > .cell') : null);
  const boxOf = (button) => button.closest('.podgrid');
  root.addEventListener('mouseover', (event) => {
    const button = cellOf(event.target);
    if (!button) return;
    const box = boxOf(button);
    if (!box.pinned) showDetails(box, button);
  });
  root.addEventListener('mouseout', (event) => {
    const button = cellOf(event.target);
    if (!button) return;
    const box = boxOf(button);
    const into = event.relatedTarget instanceof Node ? event.relatedTarget : null;
    if (box.pinned || (into && box.contains(into)) || box.contains(document.activeElement)) return;
    hideDetails(box);
  });
  root.addEventListener('focusin', (event) => {
    const button = cellOf(event.target);
    if (!button) return;
    const box = boxOf(button);
    moveTabStop(box, button);
    if (!box.pinned) showDetails(box, button);
  });
  root.addEventListener('focusout', (event) => {
    const button = cellOf(event.target);
    if (!button) return;
    const box = boxOf(button);
    const into = event.relatedTarget instanceof Node ? event.relatedTarget : null;
    if (!box.pinned && !(into && box.contains(into))) hideDetails(box);
  });
  root.addEventListener('click', (event) => {
    const button = cellOf(event.target);
    if (!button) return;
    const box = boxOf(button);
    if (box.pinned && box.shown === button) {
      box.pinned = false;
      return;
    }
    box.pinned = true;
    showDetails(box, button);
  });
  root.addEventListener('keydown', (event) => {
    const button = cellOf(event.target);
    if (!button) return;
    if (event.key === 'Escape') {
      hideDetails(boxOf(button));
      return;
    }
    const next = neighbour(button, event.key);
    if (next === undefined) return;
    event.preventDefault();
    if (next && next !== button) next.focus();
  });
}
