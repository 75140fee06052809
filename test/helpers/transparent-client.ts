import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * Clients for the transparent listeners, connecting the way a kernel redirect delivers a
 * connection: straight to the listener, with no Proxy-Authorization, SNI (or Host) naming the
 * real host. `localAddress` picks the source address (any 127.x works on loopback), which is
 * what identifies the sandbox when `transparent.sandbox` is unset.
 */
export interface Listener {
  readonly host: string;
  readonly port: number;
}

export interface TransparentAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface TransparentRequest {
  path: string;
  headers?: Record<string, string>;
  localAddress?: string;
}

/** `host:port` / `[v6]:port` as the daemon reports a bound listener. */
export function listenerOf(address: string | undefined): Listener {
  if (address === undefined) throw new Error('the transparent listener is not bound');
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

/** An https request to `host` delivered to the transparent TLS listener. */
export function viaTransparentTls(listener: Listener, ca: string, host: string, req: TransparentRequest): Promise<TransparentAnswer> {
  return answer(httpsRequest({
    host: listener.host, port: listener.port, servername: host, path: req.path, ca, agent: false,
    headers: { host, ...req.headers }, localAddress: req.localAddress, timeout: 5_000,
  }));
}

/** A plain http request to `host` delivered to the transparent HTTP listener. */
export function viaTransparentHttp(listener: Listener, host: string, req: TransparentRequest): Promise<TransparentAnswer> {
  return answer(httpRequest({
    host: listener.host, port: listener.port, path: req.path, agent: false,
    headers: { host, ...req.headers }, localAddress: req.localAddress, timeout: 5_000,
  }));
}

function answer(req: ReturnType<typeof httpRequest>): Promise<TransparentAnswer> {
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; }).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timed out'))).end();
  });
}
