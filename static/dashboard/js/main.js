// Entry point of every dashboard page: reads the page's configuration (json_script), connects
// with the page's view in the URL, feeds messages through the reducer and lets the page's
// renderer and the sidebar bring the DOM up to date. Messages are applied as they arrive but
// drawn at most once per animation frame: at hundreds of pod events a second the page draws
// what changed since the last frame, not every intermediate step.
'use strict';

import { LiveConnection } from './connection.js';
import { highlightTarget, watchHash } from './deeplink.js';
import { groupsPage } from './groups.js';
import { namespacePage } from './namespace.js';
import { overviewPage } from './overview.js';
import { renderBanner } from './shell.js';
import { sidebar } from './sidebar.js';
import { ClusterState } from './state.js';
import { toast } from './toast.js';

const PAGES = { overview: overviewPage, namespace: namespacePage, groups: groupsPage };

function indicator(state, text) {
  const box = document.getElementById('connection');
  if (!box) return;
  box.dataset.state = state;
  document.getElementById('connection-label').textContent = text;
  box.title = text;
}

/** A churn toast: `rate` from a HighChurnWarning, null when a summary turned to high churn. */
function churnToast(namespace, rate, services) {
  const summarised = services && services.length ? `${services.join(', ')} summarised` : '';
  const words = [rate === null ? null : `${rate} pod changes/min`, summarised].filter(Boolean);
  toast({
    key: `churn:${namespace}`,
    title: `High churn in ${namespace}`,
    body: words.join(' · ') || 'Pods summarised',
  });
}

/** On the overview, a namespace whose summary turned to high churn gets a toast. */
function summaryToasts(state, previous) {
  for (const [name, before] of previous) {
    const now = state.summaries.get(name);
    if (before && now && before.churn?.state !== 'high' && now.churn?.state === 'high') {
      churnToast(name, null, now.churn.services);
    }
  }
}

function start() {
  const config = JSON.parse(document.getElementById('constellation-config').textContent);
  const page = PAGES[config.page](config);
  const side = sidebar(config);
  const state = new ClusterState(config.namespaces);
  let targetFound = watchHash();
  let connection = null;
  let drawPending = false;

  const draw = () => {
    drawPending = false;
    page.render(state);
    side.render(state);
    renderBanner(state);
    // A deep link to a node the first render did not have yet: highlight it on arrival.
    if (!targetFound) targetFound = highlightTarget();
  };

  const onMessage = (message) => {
    const outcome = state.apply(message);
    if (outcome.action === 'resync') {
      console.info('constellation: resync:', outcome.reason);
      connection.resync();
      return;
    }
    if (outcome.action === 'ignore') return;
    if (outcome.action === 'warning') {
      const { namespace, churn_rate: rate, affected_services: services } = outcome.message;
      churnToast(namespace, rate, services);
    }
    if (outcome.action === 'summaries' && config.page === 'overview') {
      summaryToasts(state, outcome.previous);
    }
    if (!drawPending) {
      drawPending = true;
      requestAnimationFrame(draw);
    }
  };

  const wsUrl = new URL(config.ws_path, window.location.href);
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  connection = new LiveConnection({
    wsUrl: wsUrl.href,
    pollUrl: config.poll_url,
    onMessage,
    onStatus: indicator,
  });
  connection.start();
}

start();
