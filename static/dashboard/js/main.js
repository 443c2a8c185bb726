// Entry point of every dashboard page: reads the page's configuration (json_script), connects,
// feeds messages through the reducer and lets the page's renderer bring the DOM up to date.
'use strict';

import { LiveConnection } from './connection.js';
import { highlightTarget, watchHash } from './deeplink.js';
import { groupsPage, namespacePage, overviewPage } from './pages.js';
import { ClusterState } from './state.js';
import { toast } from './toast.js';

const CHURN_SHOWN_MS = 60000;

/** Recent HighChurnWarning rates per namespace, shown on the overview for a minute. */
class ChurnRates {
  constructor() {
    this.rates = new Map();
  }

  record(namespace, rate) {
    this.rates.set(namespace, { rate, until: Date.now() + CHURN_SHOWN_MS });
  }

  rate(namespace) {
    const entry = this.rates.get(namespace);
    if (!entry || entry.until < Date.now()) return null;
    return entry.rate;
  }
}

function indicator(state, text) {
  const box = document.getElementById('connection');
  if (!box) return;
  box.dataset.state = state;
  document.getElementById('connection-label').textContent = text;
  box.title = text;
}

function start() {
  const config = JSON.parse(document.getElementById('constellation-config').textContent);
  const churn = new ChurnRates();
  const pages = { overview: overviewPage, namespace: namespacePage, groups: groupsPage };
  const page = pages[config.page](config, churn);
  const state = new ClusterState(config.subscribe);
  let targetFound = watchHash();
  let connection = null;

  const onMessage = (message) => {
    const outcome = state.apply(message);
    if (outcome.action === 'resync') {
      console.info('constellation: resync:', outcome.reason);
      connection.resync();
      return;
    }
    if (outcome.action === 'warning') {
      const { namespace, churn_rate: rate, affected_services: services } = outcome.message;
      churn.record(namespace, rate);
      toast({
        key: `churn:${namespace}`,
        title: `High churn in ${namespace}`,
        body: `${rate} pod changes/min${services && services.length ? ` · ${services.join(', ')} summarised` : ''}`,
      });
    }
    if (outcome.action !== 'ignore' && outcome.action !== 'resync') {
      page.render(state);
      // A deep link to a node the first render did not have yet: highlight it on arrival.
      if (!targetFound) targetFound = highlightTarget();
    }
  };

  const wsUrl = new URL(config.ws_path, window.location.href);
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  connection = new LiveConnection({
    wsUrl: wsUrl.href,
    pollUrl: config.poll_url,
    subscribe: config.subscribe,
    onMessage,
    onStatus: indicator,
  });
  connection.start();
}

start();
