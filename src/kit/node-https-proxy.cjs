'use strict';
// https.globalAgent for the sandbox kit's Node preload: through the proxy proxy-from-env names for
// each URL (NO_PROXY honoured), else direct. Bundled with its dependencies by scripts/build-kit.mjs.
const https = require('node:https');
const { Agent } = require('agent-base');
const { HttpsProxyAgent } = require('https-proxy-agent');
const { getProxyForUrl } = require('proxy-from-env');

class EnvHttpsAgent extends Agent {
  constructor() {
    super({ keepAlive: true });
    this.direct = new https.Agent({ keepAlive: true });
    this.viaProxy = new Map();
  }

  connect(_req, options) {
    const port = options.port && Number(options.port) !== 443 ? `:${options.port}` : '';
    const proxy = getProxyForUrl(`https://${options.host}${port}/`);
    if (!proxy) return this.direct;
    let agent = this.viaProxy.get(proxy);
    if (!agent) this.viaProxy.set(proxy, (agent = new HttpsProxyAgent(proxy, { keepAlive: true })));
    return agent;
  }
}

module.exports = { createHttpsAgent: () => new EnvHttpsAgent() };
