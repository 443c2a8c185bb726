// The live connection: WebSocket `/ws/state/` with reconnects (exponential backoff 1 s → 30 s
// with jitter, so a restarted server is not hit by every tab at once), a watchdog for silent
// sockets, and a fallback to polling `/api/state/` when WebSockets keep failing (proxies that
// strip Upgrade, corporate networks). Polling is paced by tab visibility (like healthchecks'
// adaptive-setinterval) and WebSockets keep being retried behind it; the first FullState on
// a socket ends polling. Every (re)connect gets a FullState from the server: full resync.
// The page's view (which trees, whether summaries) is in the WebSocket URL and the polling URL,
// so the first FullState is already only what the page shows.
'use strict';

import { ChunkJoiner } from './chunks.js';

const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const FAILURES_BEFORE_POLLING = 3;
const POLL_VISIBLE_MS = 5000;
const POLL_HIDDEN_MS = 30000;
// The server pings every ~25 s; two missed pings mean the socket is dead without a close.
const SILENCE_MS = 65000;
const RESYNC_TIMEOUT_MS = 10000;
const WATCHDOG_MS = 2000;

export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.max(0, attempt - 1));
  // "Equal jitter": never less than half the step, so retries still back off.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    return null;
  }
}

export class LiveConnection {
  /**
   * wsUrl and pollUrl (each naming the page's view); onMessage(message) gets every state
   * message (FullState from polls too); onStatus(state, text) drives the indicator.
   */
  constructor({ wsUrl, pollUrl, onMessage, onStatus }) {
    Object.assign(this, { wsUrl, pollUrl, onMessage, onStatus });
    this.chunks = new ChunkJoiner();
    this.socket = null;
    this.live = false;
    this.attempt = 0;
    this.failures = 0;
    this.reconnectTimer = null;
    this.pollTimer = null;
    this.polling = false;
    this.pollOk = false;
    this.lastHeard = 0;
    this.resyncSentAt = 0;
  }

  start() {
    this.connect();
    setInterval(() => this.watchdog(), WATCHDOG_MS);
    document.addEventListener('visibilitychange', () => {
      if (this.polling && !document.hidden) this.pollNow();
    });
    window.addEventListener('online', () => {
      if (!this.socket) {
        this.attempt = 0;
        this.connect();
      }
    });
  }

  status(state, text) {
    this.onStatus(state, text);
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (!this.polling) this.status('connecting', this.attempt ? 'Reconnecting…' : 'Connecting…');
    let socket;
    try {
      socket = new WebSocket(this.wsUrl);
    } catch (error) {
      this.closed();
      return;
    }
    this.socket = socket;
    this.live = false;
    this.chunks.reset();
    socket.addEventListener('open', () => {
      this.lastHeard = Date.now();
    });
    socket.addEventListener('message', (event) => this.received(event.data));
    socket.addEventListener('close', () => {
      if (this.socket === socket) this.closed();
    });
  }

  received(data) {
    this.lastHeard = Date.now();
    let message = parse(data);
    if (message && message.type === 'Chunk') {
      const text = this.chunks.add(message);
      if (text === null) return;
      message = parse(text);
    }
    if (!message || typeof message !== 'object') return;
    if (message.type === 'Ping') {
      this.send({ type: 'Pong' });
      return;
    }
    if (message.type === 'Pong') return;
    if (message.type === 'Error') {
      console.warn('constellation: server error', message.code, message.message);
      return;
    }
    if (message.type === 'FullState') {
      this.resyncSentAt = 0;
      if (!this.live) {
        this.live = true;
        this.attempt = 0;
        this.failures = 0;
        this.stopPolling();
        this.status('connected', 'Connected · live');
      }
    }
    this.onMessage(message);
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  /** Ask for a FullState (the reducer no longer trusts its copy). */
  resync() {
    if (this.socket && this.live) {
      this.send({ type: 'Resync' });
      this.resyncSentAt = Date.now();
    } else if (this.polling) {
      this.pollNow();
    }
  }

  closed() {
    const wasLive = this.live;
    this.socket = null;
    this.live = false;
    this.failures = wasLive ? 1 : this.failures + 1;
    this.attempt += 1;
    const delay = backoffDelay(this.attempt);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    if (this.failures >= FAILURES_BEFORE_POLLING) this.startPolling();
    if (!this.polling || !this.pollOk) {
      this.status('reconnecting', `Reconnecting · retry in ${Math.ceil(delay / 1000)} s`);
    }
  }

  watchdog() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    const silent = now - this.lastHeard > SILENCE_MS;
    const resyncLost = this.resyncSentAt && now - this.resyncSentAt > RESYNC_TIMEOUT_MS;
    if (silent || resyncLost) this.socket.close();
  }

  startPolling() {
    if (this.polling) return;
    this.polling = true;
    this.pollNow();
  }

  stopPolling() {
    this.polling = false;
    this.pollOk = false;
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  pollNow() {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.poll();
  }

  async poll() {
    if (!this.polling) return;
    try {
      const response = await fetch(this.pollUrl, {
        credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      if (!this.polling) return;
      this.pollOk = true;
      this.onMessage({ ...body, type: 'FullState' });
    } catch (error) {
      this.pollOk = false;
    }
    if (!this.polling) return;
    const interval = document.hidden ? POLL_HIDDEN_MS : POLL_VISIBLE_MS;
    if (this.pollOk) {
      this.status('polling', `Polling every ${interval / 1000} s · live updates unavailable`);
    } else {
      this.status('reconnecting', 'Reconnecting · server unreachable');
    }
    this.pollTimer = setTimeout(() => this.poll(), interval);
  }
}
