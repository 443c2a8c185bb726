// DOM helpers shared by the page renderers: elements built with textContent only (cluster data
// is user input and never becomes markup), and keyed reconciliation so a live update touches
// only what changed: existing elements are kept and updated in place, a new one appears once
// (fade in), a removed one fades out. Rebuilding the tree instead would flicker during rollouts.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
export const ENTER_MS = 500;
export const LEAVE_MS = 450;

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    node.setAttribute(name, String(value));
  }
  return node;
}

/** Swap the `health-*` class of an element (colour), keeping every other class. */
export function setHealthClass(node, healthClass) {
  for (const name of [...node.classList]) {
    if (name.startsWith('health-') && name !== healthClass) node.classList.remove(name);
  }
  node.classList.add(healthClass);
}

/** Replace an element's children with `children`, leaving it in place. */
export function fill(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function leave(node) {
  if (node.dataset.leaving) return;
  node.dataset.leaving = '1';
  node.classList.remove('is-entering');
  node.classList.add('is-leaving');
  node.setAttribute('aria-hidden', 'true');
  node.leaveTimer = setTimeout(() => node.remove(), LEAVE_MS);
}

function stay(node) {
  if (!node.dataset.leaving) return;
  clearTimeout(node.leaveTimer);
  delete node.dataset.leaving;
  node.classList.remove('is-leaving');
  node.removeAttribute('aria-hidden');
}

function enter(node) {
  node.classList.add('is-entering');
  setTimeout(() => node.classList.remove('is-entering'), ENTER_MS);
}

/**
 * Make `container`'s element children match `items`, keyed by the `data-<keyName>` attribute.
 *
 * `create(item)` builds an element (its key attribute set); `update(element, item)` brings an
 * existing one up to date. Elements whose key is gone fade out in place; an item whose element
 * is still fading out gets it back. `animate` false (the first render) skips the entrances.
 */
export function reconcile(container, items, { keyName, keyOf, create, update, animate = true }) {
  const datasetKey = keyName.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  const existing = new Map();
  for (const child of container.children) {
    const key = child.dataset[datasetKey];
    if (key !== undefined && !existing.has(key)) existing.set(key, child);
  }
  const wanted = new Set(items.map(keyOf));
  for (const [key, child] of existing) {
    if (!wanted.has(key)) leave(child);
  }
  let cursor = container.firstElementChild;
  for (const item of items) {
    const key = keyOf(item);
    let node = existing.get(key);
    if (node) {
      stay(node);
      update(node, item);
    } else {
      node = create(item);
      if (animate) enter(node);
    }
    while (cursor && cursor !== node && cursor.dataset.leaving) cursor = cursor.nextElementSibling;
    if (cursor === node) {
      cursor = cursor.nextElementSibling;
    } else {
      container.insertBefore(node, cursor);
    }
  }
}

/** A stable signature of a node's own fields: an unchanged node is not rebuilt. */
export function signature(node) {
  const own = {};
  for (const key of Object.keys(node).sort()) {
    if (key !== 'children') own[key] = node[key];
  }
  return JSON.stringify(own);
}
