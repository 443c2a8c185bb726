// The protocol reducer (DESIGN §6): applies server messages to the client's copy of what its
// page shows — the trees of its namespaces (exactly as watchers/diff.py `apply_messages`
// defines the deltas) and every namespace's summary (FullState.summary, SummaryUpdate,
// SummaryState) — and decides when the copy can no longer be trusted (ns_seq or sum_seq gap,
// new epoch, a delta for a tree it does not have) so the connection asks for a Resync. Kept
// apart from rendering: no DOM here, so it can be checked against the Python reference in a
// browser test.
//
// Trees are never changed in place: a delta replaces the nodes it changes and every ancestor
// of them with new objects and keeps the rest. A renderer can then skip any subtree whose node
// is the very object it drew last time, so a rollout in a 5,000-pod namespace costs the page
// the changed cells, not the whole tree.
'use strict';

export const KIND_ORDER = ['HTTPRoute', 'Ingress', 'Service', 'ServiceRef', 'Pod', 'PodCell'];

const TREE_DELTAS = new Set([
  'ResourceAdded', 'ResourceUpdated', 'ResourceDeleted', 'NamespaceSummaryUpdate',
]);
const WHOLE_NAMESPACE = new Set(['RelationshipUpdated', 'NamespaceDeleted']);
const NAMESPACE_MESSAGES = new Set([...TREE_DELTAS, ...WHOLE_NAMESPACE, 'HighChurnWarning']);
const SUMMARY_MESSAGES = new Set(['SummaryUpdate', 'SummaryState']);

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

/** `children` (sorted) with `node` inserted after its equals, as a stable sort would put it. */
function inserted(children, node) {
  let low = 0;
  let high = children.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (compareChildren(children[middle], node) <= 0) low = middle + 1; else high = middle;
  }
  const copy = children.slice();
  copy.splice(low, 0, node);
  return copy;
}

/**
 * The tree with `change` applied to every node, bottom-up: `change(node)` returns the node
 * itself or its replacement; a node whose subtree changed is copied, every other node is kept.
 */
function rewrite(node, change) {
  const { children } = node;
  let copied = null;
  if (children) {
    for (let i = 0; i < children.length; i += 1) {
      const child = children[i];
      const next = rewrite(child, change);
      if (next !== child) {
        if (!copied) copied = children.slice();
        copied[i] = next;
      }
    }
  }
  return change(copied ? { ...node, children: copied } : node);
}

/**
 * A tree with one delta applied: a new root sharing every untouched node with the old one.
 * Mirrors `apply_messages` for the four delta types; RelationshipUpdated and NamespaceDeleted
 * are handled by the caller (they replace the tree).
 */
export function applyDelta(tree, message) {
  switch (message.type) {
    case 'NamespaceSummaryUpdate':
      return { ...tree, pod_summary: structuredClone(message.pod_summary) };
    case 'ResourceDeleted': {
      const id = message.resource_id;
      return rewrite(tree, (node) => (node.children && node.children.some((c) => c.id === id)
        ? { ...node, children: node.children.filter((c) => c.id !== id) } : node));
    }
    case 'ResourceAdded': {
      const parentId = message.parent_id;
      return rewrite(tree, (node) => (node.id === parentId
        ? { ...node, children: inserted(node.children || [], message.resource) } : node));
    }
    case 'ResourceUpdated': {
      const { resource } = message;
      return rewrite(tree, (node) => (node.id === resource.id
        ? { ...resource, children: node.children } : node));
    }
    default:
      return tree;
  }
}

/**
 * The client's state: its namespaces' trees, every namespace's summary when its view has them,
 * and where it is in each stream.
 *
 * `apply(message)` returns what happened, for the page to re-render:
 *   {action: 'full'}                         the whole state was replaced
 *   {action: 'update', namespace}            one namespace's tree changed (or went away)
 *   {action: 'summaries', previous}          summaries changed; `previous` maps each changed
 *                                            name to its summary before (undefined: new)
 *   {action: 'warning', namespace, message}  HighChurnWarning (no tree change)
 *   {action: 'resync', reason}               the copy cannot be trusted: ask for FullState
 *   {action: 'ignore'}                       already applied, not ours, or not state
 * After 'resync' every state message is ignored until the next FullState, so one lost
 * message costs one Resync, not a storm of them.
 */
export class ClusterState {
  constructor(scope = '*') {
    this.scope = scope === '*' ? null : new Set(scope);
    this.trees = new Map();
    this.nsSeq = new Map();
    this.summaries = new Map();
    this.sumSeq = null;
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

  replaceSummaries(state) {
    this.summaries = new Map();
    for (const summary of (state && state.namespaces) || []) {
      if (summary && typeof summary.name === 'string') this.summaries.set(summary.name, summary);
    }
    this.sumSeq = state && Number.isInteger(state.sum_seq) ? state.sum_seq : null;
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
    this.replaceSummaries(message.summary);
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

  applySummaries(message) {
    if (message.type === 'SummaryState') {
      const previous = new Map(this.summaries);
      this.replaceSummaries(message);
      for (const name of this.summaries.keys()) if (!previous.has(name)) previous.set(name, undefined);
      return { action: 'summaries', previous };
    }
    if (this.sumSeq === null) return { action: 'ignore' };
    const sumSeq = message.sum_seq;
    if (!Number.isInteger(sumSeq) || sumSeq <= this.sumSeq) return { action: 'ignore' };
    if (sumSeq > this.sumSeq + 1) return this.resync(`sum_seq gap: ${this.sumSeq} → ${sumSeq}`);
    const previous = new Map();
    for (const summary of message.summaries || []) {
      previous.set(summary.name, this.summaries.get(summary.name));
      this.summaries.set(summary.name, summary);
    }
    for (const name of message.removed || []) {
      previous.set(name, this.summaries.get(name));
      this.summaries.delete(name);
    }
    this.sumSeq = sumSeq;
    return { action: 'summaries', previous };
  }

  apply(message) {
    if (!message || typeof message !== 'object') return { action: 'ignore' };
    if (message.type === 'FullState') return this.applyFull(message);
    const summary = SUMMARY_MESSAGES.has(message.type);
    if (!(summary || NAMESPACE_MESSAGES.has(message.type)) || this.awaitingFull) {
      return { action: 'ignore' };
    }
    if (message.epoch !== undefined && this.epoch !== null && message.epoch !== this.epoch) {
      return this.resync(`new epoch ${message.epoch}`);
    }
    if (summary) return this.applySummaries(message);
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
    this.trees.set(namespace, applyDelta(tree, message));
    return { action: 'update', namespace };
  }
}
