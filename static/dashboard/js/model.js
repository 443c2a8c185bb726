// Page models: the browser's copy of the rules in dashboard/presenters.py, overview.py and
// sidebar.py (health words, card facts, element ids, grid cells, tiles from namespace
// summaries, the overview's filter, order and pages, the sidebar's order, groups), so a page
// the server rendered and the same page re-rendered live say the same thing. Pure: no DOM.
'use strict';

export const HEALTH_LABELS = {
  Healthy: 'Healthy', Degraded: 'Degraded', Down: 'Down', Unknown: 'Unknown',
  ok: 'Ready', warn: 'Warning', error: 'Error',
};
export const NAMESPACE_HEALTH = ['Healthy', 'Degraded', 'Down', 'Unknown'];
const SEVERITY = { Down: 0, Degraded: 1, Unknown: 2, Healthy: 3 };
const ATTENTION = { Down: 0, Degraded: 1 };
export const FILTER_KINDS = ['HTTPRoute', 'Ingress', 'Service', 'ServiceRef', 'Pod'];
export const ORDERS = ['name', 'health'];
export const CELL_STATES = [
  ['ready', 'Ready'], ['pending', 'Pending'], ['notready', 'Not ready'],
  ['terminating', 'Terminating'], ['error', 'Error'],
];
const CELL_WORDS = Object.fromEntries(CELL_STATES);
const REF_STATES = new Set(['ok', 'missing', 'cross-namespace', 'ignored']);
const KNOWN_HEALTH = new Set(Object.keys(HEALTH_LABELS).map((h) => h.toLowerCase()));

export function healthLabel(health) {
  return HEALTH_LABELS[health] || health || 'Unknown';
}

export function healthClass(health) {
  const value = String(health || 'unknown').toLowerCase();
  return `health-${KNOWN_HEALTH.has(value) ? value : 'unknown'}`;
}

/** Element id of one occurrence; see presenters.py `dom_id`. */
export function domId(node, parentId) {
  const relatives = node.relatives || [];
  if (parentId != null && relatives.indexOf(parentId) > 0) return `node-${node.id}@${parentId}`;
  return `node-${node.id}`;
}

function pairs(mapping) {
  if (!mapping || typeof mapping !== 'object' || Array.isArray(mapping)) return [];
  return Object.keys(mapping).sort().map((key) => [key, String(mapping[key])]);
}

export function labelsText(node) {
  return pairs(node.labels).map(([k, v]) => `${k}=${v}`);
}

function words(values) {
  return (values || []).filter((v) => v !== null && v !== undefined && v !== '').map(String);
}

export function podCounts(summary) {
  const s = summary || {};
  const out = [`${s.ready || 0}/${s.total || 0} ready`];
  for (const key of ['pending', 'terminating', 'failed']) {
    if (s[key]) out.push(`${s[key]} ${key}`);
  }
  return out.join(' · ');
}

/** The card's (term, values, tone) rows; see presenters.py `facts`. */
export function facts(node) {
  const rows = [];
  const add = (term, values, tone = '') => {
    const list = words(values);
    if (list.length) rows.push({ term, values: list, tone });
  };
  if (node.kind === 'Pod' || node.kind === 'PodCell') {
    add('Phase', [node.phase]);
    add('Ready', [node.ready ? 'Yes' : 'No']);
    add('Restarts', [node.restarts ?? 0]);
    add('Reason', [node.reason], 'alert');
    add('Pod IP', node.pod_ips);
    add('Ports', node.container_ports);
    add('Owner', [node.owner]);
    add('Node', [node.node_name]);
  } else if (node.kind === 'Service') {
    add('Type', [node.service_type]);
    add('Cluster IP', [node.cluster_ip]);
    add('External', node.external_ips);
    add('External name', [node.external_name]);
    add('Ports', node.ports);
    const selector = pairs(node.selector).map(([k, v]) => `${k}=${v}`);
    add('Selector', selector.length ? selector : ['none']);
    add('Pods', [podCounts(node.pod_summary)]);
  } else if (node.kind === 'HTTPRoute' || node.kind === 'Ingress') {
    add('Class', [node.ingress_class]);
    add('Hosts', (node.hostnames && node.hostnames.length) ? node.hostnames : ['any host']);
  } else if (node.kind === 'ServiceRef') {
    const missing = node.state === 'missing';
    add('Backend', [missing ? 'Service not found' : `in namespace ${node.namespace}`],
      missing ? 'alert' : '');
  }
  add('Group', [node.group]);
  return rows;
}

/** A route's backends as text with their state; see presenters.py `backend_refs`. */
export function backendRefs(node) {
  return (node.backend_refs || []).filter((r) => r && typeof r === 'object').map((ref) => {
    let target = `${ref.name}.${ref.namespace}`;
    if (ref.port !== null && ref.port !== undefined) target += `:${ref.port}`;
    const where = `${ref.host || '*'}${ref.path || ''}`;
    const state = String(ref.state || 'unknown');
    return {
      text: node.kind === 'Ingress' ? `${where} → ${target}` : target,
      state,
      stateClass: REF_STATES.has(state) ? `ref--${state}` : 'ref--unknown',
    };
  });
}

/** Rollout split segments in percent; see presenters.py `rollout_bars`. */
export function rolloutBars(service) {
  const rollout = (service.rollout || []).filter((r) => r && typeof r === 'object');
  const total = rollout.reduce((sum, r) => sum + (r.total || 0), 0) || 1;
  let offset = 0;
  return rollout.map((entry, index) => {
    const width = (100 * (entry.total || 0)) / total;
    const bar = {
      owner: entry.owner || 'unowned',
      revision: entry.revision || '',
      total: entry.total || 0,
      ready: entry.ready || 0,
      x: offset.toFixed(3),
      width: width.toFixed(3),
      readyWidth: ((100 * (entry.ready || 0)) / total).toFixed(3),
      tone: `seg-${index % 6}`,
    };
    offset += width;
    return bar;
  });
}

/** Whether a service shows its pods as a grid of cells; see presenters.py `card`. */
export function isGrid(node) {
  return node.kind === 'Service' && Boolean(node.collapsed);
}

/** A grid cell's state; see presenters.py `cell_state`. */
export function cellState(cell) {
  if (cell.health === 'error') return 'error';
  if (cell.phase === 'Terminating') return 'terminating';
  if (cell.health === 'ok') return 'ready';
  return cell.phase === 'Pending' ? 'pending' : 'notready';
}

/** A cell's accessible name; see presenters.py `cell_label`. */
export function cellLabel(cell) {
  let text = CELL_WORDS[cellState(cell)];
  if (cell.reason) text += ` (${cell.reason})`;
  return `${cell.name}: ${text}`;
}

/** The grid's legend: counts per state, in CELL_STATES order, zero counts left out. */
export function gridLegend(cells) {
  const counts = Object.fromEntries(CELL_STATES.map(([state]) => [state, 0]));
  for (const cell of cells) counts[cellState(cell)] += 1;
  return CELL_STATES.filter(([state]) => counts[state])
    .map(([state, label]) => ({ state, label, count: counts[state] }));
}

export function gridLabel(service) {
  return `Pods of ${service.name}: ${podCounts(service.pod_summary)}`;
}

export function churnWords(churn) {
  const services = ((churn && churn.services) || []).map(String);
  if ((churn && churn.state === 'high') || services.length) {
    return { state: 'high', label: 'High churn', services };
  }
  return { state: 'calm', label: 'Calm', services: [] };
}

/** One namespace's tile from its summary; see presenters.py `tile`. */
export function tile(summary) {
  const pods = summary.pod_summary || {};
  const counts = summary.counts || {};
  return {
    name: summary.name,
    displayName: summary.display_name || null,
    group: summary.group || null,
    health: summary.health,
    ready: pods.ready || 0,
    total: pods.total || 0,
    pending: pods.pending || 0,
    failed: pods.failed || 0,
    routes: (counts.HTTPRoute || 0) + (counts.Ingress || 0),
    services: counts.Service || 0,
    churn: churnWords(summary.churn),
    reasons: (summary.reasons || []).slice(0, 2).map(String),
  };
}

/**
 * What the namespace page's header says, from the namespace's tree, as
 * constellation/summary.py `namespace_summary` counts it: each id once, a PodCell as a Pod,
 * collapsed services as churn.
 */
export function namespaceHead(tree) {
  const counts = { HTTPRoute: 0, Ingress: 0, Service: 0 };
  const seen = new Set();
  const collapsed = new Set();
  const stack = [tree];
  while (stack.length) {
    const node = stack.pop();
    if (!seen.has(node.id)) {
      seen.add(node.id);
      if (node.kind in counts) counts[node.kind] += 1;
      if (isGrid(node)) collapsed.add(node.name);
    }
    // A grid's cells count nothing the header shows: skip thousands of them.
    if (!isGrid(node)) for (const child of node.children || []) stack.push(child);
  }
  return tile({
    name: tree.name,
    display_name: tree.display_name,
    group: tree.group,
    health: tree.health,
    pod_summary: tree.pod_summary,
    counts,
    churn: { state: collapsed.size ? 'high' : 'calm', services: [...collapsed].sort() },
  });
}

// -- the overview's filter, order and pages (dashboard/overview.py) ------------------------

/** The overview's view as the URL holds it; see overview.py `OverviewFilter.from_query`. */
export function readView(params) {
  const kind = (params.get('kind') || '').trim();
  const health = (params.get('health') || '').trim();
  const order = params.get('order') || '';
  const page = Number.parseInt(params.get('page') || '1', 10);
  return {
    filter: {
      name: (params.get('name') || '').trim(),
      label: (params.get('label') || '').trim(),
      kind: FILTER_KINDS.includes(kind) ? kind : '',
      health: NAMESPACE_HEALTH.includes(health) ? health : '',
    },
    order: ORDERS.includes(order) ? order : 'name',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

/** The URL query of a view; see overview.py `Overview.query`. */
export function viewQuery({ filter, order, page }) {
  const params = new URLSearchParams();
  for (const key of ['name', 'label', 'kind', 'health']) {
    if (filter[key]) params.set(key, filter[key]);
  }
  if (order !== 'name') params.set('order', order);
  if (page > 1) params.set('page', String(page));
  const query = params.toString();
  return query ? `?${query}` : '?';
}

export function filterActive(filter) {
  return Boolean(filter.name || filter.label || filter.kind || filter.health);
}

/**
 * Whether a namespace's summary passes the filter; `labelled` is the set of namespaces the
 * server says carry the filter's label (labels never reach the browser).
 */
export function filterMatches(filter, summary, labelled) {
  const needle = filter.name.toLowerCase();
  if (needle && ![summary.name, summary.display_name]
    .some((t) => (t || '').toLowerCase().includes(needle))) {
    return false;
  }
  if (filter.health && summary.health !== filter.health) return false;
  if (filter.kind && !(summary.counts || {})[filter.kind]) return false;
  return !filter.label || Boolean(labelled && labelled.has(summary.name));
}

function compareNames(a, b) {
  if (a.name < b.name) return -1;
  return a.name > b.name ? 1 : 0;
}

/** Sort order of the overview's matches; see overview.py `order_key`. */
export function orderCompare(order) {
  if (order !== 'health') return compareNames;
  const rank = (s) => SEVERITY[s.health] ?? 4;
  return (a, b) => (rank(a) - rank(b)) || compareNames(a, b);
}

/** Sort order of the sidebar; see sidebar.py `sidebar_order`. */
export function sidebarCompare(current) {
  const tier = (s) => {
    if (s.name === current) return [0, 0];
    const attention = ATTENTION[s.health];
    return attention === undefined ? [2, 0] : [1, attention];
  };
  return (a, b) => {
    const [ta, sa] = tier(a);
    const [tb, sb] = tier(b);
    return (ta - tb) || (sa - sb) || compareNames(a, b);
  };
}

/** Django's `Paginator.get_elided_page_range` (on_each_side 3, on_ends 2); null is a gap. */
export function elidedPageRange(number, numPages, onEachSide = 3, onEnds = 2) {
  const range = (from, to) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
  if (numPages <= (onEachSide + onEnds) * 2) return range(1, numPages);
  const out = [];
  if (number > 1 + onEachSide + onEnds + 1) {
    out.push(...range(1, onEnds), null, ...range(number - onEachSide, number));
  } else {
    out.push(...range(1, number));
  }
  if (number < numPages - onEachSide - onEnds - 1) {
    out.push(...range(number + 1, number + onEachSide), null,
      ...range(numPages - onEnds + 1, numPages));
  } else {
    out.push(...range(number + 1, numPages));
  }
  return out;
}

/** One page of `items` as Django's Paginator.get_page gives it (an out-of-range page: last). */
export function paginate(items, requested, pageSize) {
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  const number = Math.min(Math.max(1, requested), pages);
  const start = (number - 1) * pageSize;
  const shown = items.slice(start, start + pageSize);
  return {
    number, pages, shown,
    startIndex: items.length ? start + 1 : 0,
    endIndex: start + shown.length,
  };
}

/** The overview's result line; see overview.py `Overview.result_text`. */
export function resultText(total, matched, active, page) {
  let text = active
    ? `${matched} of ${total} namespaces match`
    : `${total} namespace${total === 1 ? '' : 's'}`;
  if (page.pages > 1) text += ` · ${page.startIndex}–${page.endIndex} shown`;
  return text;
}

/** Namespaces, routes and services by group annotation; see presenters.py `groups`. */
export function groups(summaries) {
  const members = new Map();
  for (const summary of summaries) {
    for (const node of summary.grouped || []) {
      const group = String(node.group);
      if (!members.has(group)) members.set(group, new Map());
      members.get(group).set(node.id, { ...node, namespace: summary.name });
    }
  }
  const rank = (n) => [n.kind !== 'Namespace' ? 1 : 0, n.namespace, n.id];
  const compare = (a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i += 1) {
      if (ra[i] < rb[i]) return -1;
      if (ra[i] > rb[i]) return 1;
    }
    return 0;
  };
  return [...members.keys()].sort().map((name) => ({
    name,
    members: [...members.get(name).values()].sort(compare),
  }));
}
