'use strict';
// fetch's and undici's global dispatcher for the sandbox kit's Node preload: undici's
// EnvHttpProxyAgent (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as curl reads them). Bundled with
// undici into one file by scripts/build-kit.mjs, so the sandbox needs nothing installed.
const { EnvHttpProxyAgent } = require('undici');

module.exports = { createDispatcher: () => new EnvHttpProxyAgent() };
