import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface TunnelRawOptions {
  /** `host:port` of the proxy listener. */
  proxyAddress: string;
  /** The daemon's CA PEM, trusted for the TLS inside the tunnel. */
  caPem: string;
  /** Sent as `Proxy-Authorization: Basic base64(sb:<token>)` on the CONNECT when given. */
  accessToken?: string;
  /** Stop collecting after this long (default 1500 ms) if nobody closes. */
  ms?: number;
}

/**
 * CONNECT host:443 through the proxy, TLS inside trusting the daemon's CA, write `requests` (raw
 * HTTP/1.1 text, one or several on one tunnel) and collect every byte that comes back (the
 * CONNECT answer, heads, bodies, WebSocket frames) until the close or the time limit. For what
 * real clients hide: the exact bytes a sandbox's socket received.
 */
export function tunnelRaw(host: string, requests: string, options: TunnelRawOptions): Promise<string> {
  const at = options.proxyAddress.lastIndexOf(':');
  const auth = options.accessToken ? `Proxy-Authorization: Basic ${Buffer.from(`sb:${options.accessToken}`).toString('base64')}\r\n` : '';
  return new Promise((resolve) => {
    const raw = netConnect(Number(options.proxyAddress.slice(at + 1)), options.proxyAddress.slice(0, at));
    let text = '';
    const done = (): void => {
      clearTimeout(timer);
      raw.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, options.ms ?? 1500);
    raw.on('error', done);
    raw.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n${auth}\r\n`);
    raw.once('data', (head: Buffer) => {
      text += head.toString('latin1');
      if (!text.startsWith('HTTP/1.1 200')) return done();
      const secure = tlsConnect({ socket: raw, servername: host, ca: options.caPem });
      secure.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
      secure.on('error', done);
      secure.on('close', done);
      secure.once('secureConnect', () => secure.write(requests));
    });
  });
}
