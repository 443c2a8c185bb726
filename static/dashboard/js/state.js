// The protocol reducer (DESIGN §6): applies server messages to the client's copy of the trees,
// exactly as watchers/diff.py `apply_messages` defines them, and decides when the copy can no
// longer be trusted (ns_seq gap, new epoch, a delta for a tree it does not have) so the
// connection asks for a Resync. Kept apart from rendering: no DOM here, so it can be checked
// against the Python reference in a browser test.
'use strict';

export const KIND_ORDER = ['HTTPRoute', 'Ingress', 'Service', 'ServiceRef', 'Pod', 'PodCell'];

const TREE_DELTAS = new Set([
  'ResourceAdded', 'ResourceUpdated', 'ResourceDeleted', 'NamespaceSummaryUpdate',
]);
const WHOLE_NAMESPACE = new Set(['RelationshipUpdated', 'NamespaceDeleted']);
const NAMESPACE_MESSAGES = new Set([...TREE_DELTAS, ...WHOLE_NAMESPACE, 'HighChurnWarning']);

function rank(kind) {
  const at = KIND_ORDER.indexOf(kind);
  return at < 0 ? KIND_ORDER.length : at;
}

function compareStrings(a, b) {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** Sibling order of the topology: kind rank, then name, then id (diff.py `child_sort_key`). */
export function compareChildren(a, b) {
  return (rank(a.kind) - rank(b.kind)) || compareStrings(a.name, b.name)
    || compareStrings(a.id, b.id);
}

function occurrences(tree, id) {
  const found = [];
  const stack = [tree];
  while (stack.length) {
    const node = stack.pop();
    if (node.id === id) found.push(node);
    stack.push(...(node.children || []));
  }
  return found;
}

function allNodes(tree) {
  const nodes = [];
  const stack = [tree];
  while (stack.length) {
    const node = stack.pop();
    nodes.push(node);
    stack.push(...(node.children || []));
  }
  return nodes;
}

/**
 * A tree with one delta applied (in place). Mirrors `apply_messages` for the four delta types;
 * RelationshipUpdated and NamespaceDeleted are handled by the caller (they replace the tree).
 */
export function applyDelta(tree, message) {
  switch (message.type) {
    case 'NamespaceSummaryUpdate':
      tree.pod_summary = structuredClone(message.pod_summary);
      break;
    case 'ResourceDeleted':
      for (const node of allNodes(tree)) {
        node.children = (node.children || []).filter((c) => c.id !== message.resource_id);
      }
      break;
    case 'ResourceAdded':
      for (const parent of occurrences(tree, message.parent_id)) {
        parent.children = [...(parent.children || []), structuredClone(message.resource)]
          .sort(compareChildren);
      }
      break;
    case 'ResourceUpdated':
      for (const node of occurrences(tree, message.resource.id)) {
        const { children } = node;
        for (const key of Object.keys(node)) delete node[key];
        Object.assign(node, structuredClone(message.resource), { children });
      }
      break;
    default:
      break;
  }
  return tree;
}

/**
 * The client's state: every subscribed namespace's tree and where it is in the stream.
 *
 * `apply(message)` returns what happened, for the page to re-render:
 *   {action: 'full'}                      the whole state was replaced
 *   {action: 'update', namespace}         one namespace's tree changed (or went away)
 *   {action: 'warning', namespace, message}  HighChurnWarning (no tree change)
 *   {action: 'resync', reason}            the copy cannot be trusted: ask for FullState
 *   {action: 'ignore'}                    already applied, not ours, or not state
 * After 'resync' every state message is ignored until the next FullState, so one lost
 * message costs one Resync, not a storm of them.
 */
export class ClusterState {
  constructor(scope = '*') {
    this.scope = scope === '*' ? null : new Set(scope);
    this.trees = new Map();
    this.nsSeq = new Map();
    this.epoch = null;
    this.seq = 0;
    this.cluster = {};
    this.synced = false;
    this.received = false;
    this.awaitingFull = true;
  }

  inScope(namespace) {
    return this.scope === null || this.scope.has(namespace);
  }

  applyFull(message) {
    this.trees = new Map();
    for (const tree of message.hierarchy || []) {
      const name = tree.namespace || tree.name;
      if (this.inScope(name)) this.trees.set(name, tree);
    }
    this.nsSeq = new Map();
    const nsSeq = message.ns_seq && typeof message.ns_seq === 'object' ? message.ns_seq : {};
    for (const [name, value] of Object.entries(nsSeq)) {
      if (Number.isInteger(value)) this.nsSeq.set(name, value);
    }
    this.epoch = message.epoch ?? null;
    this.seq = Number.isInteger(message.seq) ? message.seq : 0;
    this.cluster = message.cluster && typeof message.cluster === 'object' ? message.cluster : {};
    this.synced = message.synced ?? Boolean(this.cluster.synced ?? true);
    this.received = true;
    this.awaitingFull = false;
    return { action: 'full' };
  }

  resync(reason) {
    this.awaitingFull = true;
    return { action: 'resync', reason };
  }

  apply(message) {
    if (!message || typeof message !== 'object') return { action: 'ignore' };
    if (message.type === 'FullState') return this.applyFull(message);
    if (!NAMESPACE_MESSAGES.has(message.type) || this.awaitingFull) return { action: 'ignore' };
    if (message.epoch !== undefined && this.epoch !== null && message.epoch !== this.epoch) {
      return this.resync(`new epoch ${message.epoch}`);
    }
    const { namespace } = message;
    if (typeof namespace !== 'string' || !this.inScope(namespace)) return { action: 'ignore' };
    const known = this.nsSeq.get(namespace);
    const nsSeq = Number.isInteger(message.ns_seq) ? message.ns_seq : undefined;

    if (WHOLE_NAMESPACE.has(message.type)) {
      // A whole-namespace message is the truth as of its ns_seq; only an older one is stale.
      if (known !== undefined && nsSeq !== undefined && nsSeq < known) return { action: 'ignore' };
      if (message.type === 'RelationshipUpdated') {
        const [tree] = message.hierarchy || [];
        if (!tree) return this.resync(`empty RelationshipUpdated for ${namespace}`);
        this.trees.set(namespace, tree);
      } else {
        this.trees.delete(namespace);
      }
      if (nsSeq !== undefined) this.nsSeq.set(namespace, nsSeq);
      return { action: 'update', namespace };
    }

    // Deltas: already part of the FullState, a duplicate, or a gap.
    if (Number.isInteger(message.seq) && message.seq <= this.seq) return { action: 'ignore' };
    if (known !== undefined && nsSeq !== undefined) {
      if (nsSeq <= known) return { action: 'ignore' };
      if (nsSeq > known + 1) return this.resync(`ns_seq gap in ${namespace}: ${known} → ${nsSeq}`);
    }
    if (nsSeq !== undefined) this.nsSeq.set(namespace, nsSeq);
    if (message.type === 'HighChurnWarning') return { action: 'warning', namespace, message };
    const tree = this.trees.get(namespace);
    if (!tree) return this.resync(`${message.type} for ${namespace} without a tree`);
    applyDelta(tree, message);
    return { action: 'update', namespace };
  }
}
