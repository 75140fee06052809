'use strict';
// credproxy's Node preload for sandboxes (NODE_OPTIONS=--require <kit>/node-preload.cjs).
// Node's own clients (fetch, undici, node:https and what is built on them: axios, openai,
// @anthropic-ai/sdk …) ignore HTTPS_PROXY unless NODE_USE_ENV_PROXY=1 on Node ≥ 22.21 / 24.5.
// On older Node this makes them honour HTTPS_PROXY, HTTP_PROXY and NO_PROXY as curl does: undici's
// EnvHttpProxyAgent in the global dispatcher slot that fetch and undici read, and a proxy agent as
// https.globalAgent. Both are loaded on first use (the files beside this one, bundled), so a
// process that makes no request pays only for this file, and nothing need be installed.
const https = require('node:https');
const { join } = require('node:path');

const DISPATCHER = Symbol.for('undici.globalDispatcher.1');

function nodeUsesEnvProxy() {
  if (process.env.NODE_USE_ENV_PROXY !== '1') return false;
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major >= 25 || (major === 24 && minor >= 5) || (major === 22 && minor >= 21);
}

/**
 * Stands in the dispatcher slot until a request uses it: fetch and undici read the slot while
 * they load (and would fill an empty one), so it is filled at once, and only the first property
 * read (dispatch, request …) loads undici. Methods are bound to the real dispatcher, whose
 * private fields a Proxy receiver could not reach.
 */
function lazyDispatcher() {
  let real;
  const bound = new Map();
  return new Proxy({}, {
    get(_target, key) {
      real ??= require(join(__dirname, 'node-fetch-proxy.cjs')).createDispatcher();
      const value = Reflect.get(real, key, real);
      if (typeof value !== 'function') return value;
      let fn = bound.get(key);
      if (!fn) bound.set(key, (fn = value.bind(real)));
      return fn;
    },
  });
}

/** https.globalAgent created on first read; assigning it (as an application may) replaces it. */
function lazyHttpsAgent() {
  const original = https.globalAgent;
  Object.defineProperty(https, 'globalAgent', {
    configurable: true,
    enumerable: true,
    get() {
      Object.defineProperty(https, 'globalAgent', { value: original, writable: true, configurable: true, enumerable: true });
      https.globalAgent = require(join(__dirname, 'node-https-proxy.cjs')).createHttpsAgent();
      return https.globalAgent;
    },
    set(value) {
      Object.defineProperty(https, 'globalAgent', { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

const proxied = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((name) => process.env[name]);
if (proxied && !nodeUsesEnvProxy()) {
  if (globalThis[DISPATCHER] === undefined) {
    Object.defineProperty(globalThis, DISPATCHER, { value: lazyDispatcher(), writable: true, enumerable: false, configurable: false });
  }
  lazyHttpsAgent();
}
