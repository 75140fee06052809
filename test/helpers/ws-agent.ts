import type { ClientRequestArgs } from 'node:http';
import { Agent, type AgentOptions } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';

/**
 * An https Agent for the `ws` client that opens each connection with `CONNECT host:port` through
 * the proxy and then TLS to the target, trusting the proxy's CA (what HTTPS_PROXY clients do).
 */
export class HttpsProxyAgentForWs extends Agent {
  readonly #port: number;
  readonly #ca: string;
  readonly #auth: string;

  /** `accessToken` is sent on the CONNECT as `Proxy-Authorization: Basic base64(sb:<token>)`. */
  constructor(proxyPort: number, caPem: string, options: AgentOptions & { accessToken?: string } = {}) {
    super(options);
    this.#port = proxyPort;
    this.#ca = caPem;
    this.#auth = options.accessToken ? `Proxy-Authorization: Basic ${Buffer.from(`sb:${options.accessToken}`).toString('base64')}\r\n` : '';
  }

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, socket: Duplex) => void): Duplex {
    const host = String(options.host ?? options.hostname);
    const port = Number(options.port ?? 443);
    const raw: Socket = netConnect(this.#port, '127.0.0.1');
    raw.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n${this.#auth}\r\n`);
    raw.once('data', (head: Buffer) => {
      if (!head.toString('latin1').startsWith('HTTP/1.1 200')) {
        callback?.(new Error(`proxy refused: ${head.toString('latin1').split('\r\n')[0]}`), raw);
        raw.destroy();
        return;
      }
      const secure = tlsConnect({ socket: raw, servername: host, ca: this.#ca });
      secure.once('secureConnect', () => callback?.(null, secure));
      secure.once('error', (err) => callback?.(err, secure));
    });
    return undefined as unknown as Duplex;
  }
}
