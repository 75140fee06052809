import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';

export interface AdminHostOptions {
  /** The admin listener's configured host (`admin.listen` without the port). */
  readonly listenHost: string;
  /** `admin.allowedHosts`: more names the API answers to. */
  readonly allowedHosts: readonly string[];
}

/**
 * The admin API's admission, before the API key: the Host header must be one of its own names,
 * so a page whose name an attacker rebinds to this address (DNS rebinding) cannot read
 * `/metrics`, `/ca.pem` or anything else from a browser on the operator's machine. Accepted: IP
 * literals, `localhost`, the listen host, dotless names (service names like `credproxy`, which
 * resolve only through local search domains, never public DNS), and `admin.allowedHosts`.
 * A request without Host (HTTP/1.0, not a browser) passes.
 *
 * `Expect: 100-continue` is answered only once admission (this hook and the API key) passed:
 * Node would otherwise send `100 Continue` before any hook ran, inviting the body of a request
 * that is about to be refused. Both hooks are added to `app` itself, so they cover every route.
 */
export function admitAdminHosts(app: FastifyInstance, options: AdminHostOptions): void {
  const names = new Set([options.listenHost, ...options.allowedHosts, 'localhost'].map((name) => name.toLowerCase()));
  app.addHook('onRequest', async (request) => {
    const host = request.headers.host;
    if (host === undefined || isAdminHost(hostName(host), names)) return;
    throw new ApiError(
      'bad_request',
      `Host ${JSON.stringify(host)} is not a name of this admin API: use its IP address, localhost or a service name, or add it to admin.allowedHosts (CREDPROXY_ADMIN_ALLOWED_HOSTS)`,
    );
  });
  // With a checkContinue listener Node no longer answers 100 itself; the request goes on as usual.
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
  app.addHook('preParsing', async (request, reply) => {
    if (request.headers.expect?.toLowerCase() === '100-continue') reply.raw.writeContinue();
  });
}

/** The Host header without its port and brackets, lowercased. */
function hostName(host: string): string {
  const text = host.trim().toLowerCase();
  if (text.startsWith('[')) return text.slice(1, text.indexOf(']'));
  const colon = text.lastIndexOf(':');
  return colon === -1 ? text : text.slice(0, colon);
}

function isAdminHost(name: string, names: ReadonlySet<string>): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  return isIP(bare) !== 0 || names.has(bare) || (bare !== '' && !bare.includes('.'));
}
