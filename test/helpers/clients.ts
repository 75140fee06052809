import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { ProxyAgent } from 'undici';

/** undici's ProxyAgent through the proxy at 127.0.0.1:port, trusting the proxy's CA. */
export function proxyAgent(port: number, caPem: string, options: { token?: string; connections?: number } = {}): ProxyAgent {
  return new ProxyAgent({
    uri: `http://127.0.0.1:${port}`,
    requestTls: { ca: caPem },
    ...(options.token ? { token: options.token } : {}),
    ...(options.connections ? { connections: options.connections } : {}),
  });
}

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  exitCode: number;
}

/**
 * curl through the proxy (`--proxy http://127.0.0.1:port --cacert caPath`). Returns the final
 * response: CONNECT's 200 and any 100 Continue blocks are skipped.
 */
export function curlViaProxy(port: number, caPath: string, url: string, extra: string[] = []): Promise<CurlResult> {
  const args = ['-sS', '-i', '--max-time', '20', '--proxy', `http://127.0.0.1:${port}`, '--cacert', caPath, ...extra, url];
  return new Promise((resolve) => {
    execFile('curl', args, { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      resolve({ ...parseCurlOutput(stdout), exitCode: err ? Number((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

function parseCurlOutput(text: string): Omit<CurlResult, 'exitCode'> {
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) return { status: 0, headers: {}, body: rest };
    const head = rest.slice(0, end);
    rest = rest.slice(end + 4);
    const status = Number(head.slice(9, 12));
    if (/^HTTP\/1\.1 200 Connection established/i.test(head) || status === 100) continue;
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers, body: rest };
  }
}

/**
 * Sends raw bytes to 127.0.0.1:port (from `localAddress` when given) and collects everything until
 * the server closes (or `ms` passes). For malformed requests and CONNECT refusals that real clients will not send.
 */
export function rawExchange(port: number, bytes: string | Buffer, ms = 3000, localAddress?: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    const timer = setTimeout(() => { socket.destroy(); resolve({ text, closed: false }); }, ms);
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
    socket.on('error', () => undefined);
    socket.on('close', () => { clearTimeout(timer); resolve({ text, closed: true }); });
    socket.write(bytes);
  });
}
