// Page models from namespace trees: the browser's copy of the rules in dashboard/views.py
// (health words, card facts, element ids, overview filter, groups), so a page the server
// rendered and the same page re-rendered live say the same thing. Pure: no DOM, no I/O.
'use strict';

export const HEALTH_LABELS = {
  Healthy: 'Healthy', Degraded: 'Degraded', Down: 'Down', Unknown: 'Unknown',
  ok: 'Ready', warn: 'Warning', error: 'Error',
};
export const NAMESPACE_HEALTH = ['Healthy', 'Degraded', 'Down', 'Unknown'];
export const FILTER_KINDS = ['HTTPRoute', 'Ingress', 'Service', 'ServiceRef', 'Pod'];
const REF_STATES = new Set(['ok', 'missing', 'cross-namespace', 'ignored']);
const KNOWN_HEALTH = new Set(Object.keys(HEALTH_LABELS).map((h) => h.toLowerCase()));

export function healthLabel(health) {
  return HEALTH_LABELS[health] || health || 'Unknown';
}

export function healthClass(health) {
  const value = String(health || 'unknown').toLowerCase();
  return `health-${KNOWN_HEALTH.has(value) ? value : 'unknown'}`;
}

/** Every node occurrence of a tree, parents first. */
export function* walk(tree) {
  const stack = [tree];
  while (stack.length) {
    const node = stack.pop();
    yield node;
    const children = node.children || [];
    for (let i = children.length - 1; i >= 0; i -= 1) stack.push(children[i]);
  }
}

/** Element id of one occurrence; see dashboard/views.py `dom_id`. */
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

/** The card's (term, values, tone) rows; see dashboard/views.py `facts`. */
export function facts(node) {
  const rows = [];
  const add = (term, values, tone = '') => {
    const list = words(values);
    if (list.length) rows.push({ term, values: list, tone });
  };
  if (node.kind === 'Pod') {
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

/** A route's backends as text with their state; see dashboard/views.py `backend_refs`. */
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

/** Rollout split segments in percent; see dashboard/views.py `rollout_bars`. */
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

export function churnState(tree) {
  // By id: a service under two routes occurs twice.
  const byId = new Map();
  for (const node of walk(tree)) {
    if (node.kind === 'Service' && node.collapsed) byId.set(node.id, node.name);
  }
  const collapsed = [...byId.values()].sort();
  return collapsed.length
    ? { state: 'high', label: 'High churn', services: collapsed }
    : { state: 'calm', label: 'Calm', services: [] };
}

/** One overview tile's numbers; see dashboard/views.py `namespace_row`. */
export function namespaceRow(tree) {
  const counts = Object.fromEntries(FILTER_KINDS.map((k) => [k, 0]));
  const seen = new Set();
  for (const node of walk(tree)) {
    if (!seen.has(node.id) && node.kind in counts) {
      seen.add(node.id);
      counts[node.kind] += 1;
    }
  }
  const summary = tree.pod_summary || {};
  return {
    name: tree.name,
    displayName: tree.display_name || null,
    group: tree.group || null,
    health: tree.health,
    ready: summary.ready || 0,
    total: summary.total || 0,
    pending: summary.pending || 0,
    failed: summary.failed || 0,
    routes: counts.HTTPRoute + counts.Ingress,
    services: counts.Service,
    churn: churnState(tree),
  };
}

/** The overview filter as the URL holds it; see dashboard/views.py `OverviewFilter`. */
export function readFilter(params) {
  const kind = (params.get('kind') || '').trim();
  const health = (params.get('health') || '').trim();
  return {
    name: (params.get('name') || '').trim(),
    label: (params.get('label') || '').trim(),
    kind: FILTER_KINDS.includes(kind) ? kind : '',
    health: NAMESPACE_HEALTH.includes(health) ? health : '',
  };
}

export function filterActive(filter) {
  return Boolean(filter.name || filter.label || filter.kind || filter.health);
}

function labelMatches(label, labels) {
  if (!labels || typeof labels !== 'object') return false;
  const at = label.indexOf('=');
  const key = (at < 0 ? label : label.slice(0, at)).trim();
  if (!Object.prototype.hasOwnProperty.call(labels, key)) return false;
  return at < 0 || labels[key] === label.slice(at + 1).trim();
}

export function filterMatches(filter, tree) {
  const needle = filter.name.toLowerCase();
  if (needle && ![tree.name, tree.display_name].some((t) => (t || '').toLowerCase().includes(needle))) {
    return false;
  }
  if (filter.health && tree.health !== filter.health) return false;
  const nodes = [...walk(tree)];
  if (filter.kind && !nodes.some((n) => n.kind === filter.kind)) return false;
  return !filter.label || nodes.some((n) => labelMatches(filter.label, n.labels));
}

/** Namespaces, routes and services by group annotation; see dashboard/views.py `groups`. */
export function groups(trees) {
  const members = new Map();
  for (const tree of trees) {
    for (const node of walk(tree)) {
      if (node.group && node.kind !== 'Pod' && node.kind !== 'ServiceRef') {
        if (!members.has(node.group)) members.set(node.group, new Map());
        members.get(node.group).set(node.id, node);
      }
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
