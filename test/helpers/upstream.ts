import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { TestPki } from './pki.js';

/**
 * A real upstream on 127.0.0.1:0 (HTTPS with the given test CA's leaves, or plain HTTP) that
 * echoes what it received, so tests can assert which headers arrived. Paths:
 * - any other path: `{method, url, headers, bodyBytes}` as JSON
 * - `/sse?n=5&interval=50`: n events `data: {"i":i,"sentAt":<ms>}` spaced `interval` ms apart
 * - `/slow-headers?ms=500`: waits before sending the head
 * - `/download?bytes=N`: N bytes, streamed with backpressure
 * - `/ws`: WebSocket that first sends the upgrade request's headers as JSON, then echoes
 */
export interface TestUpstream {
  readonly port: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Requests seen so far (including WebSocket upgrades). */
  readonly requests: number;
  /** What the upstream itself received for each echoed request, before any proxy scrubbing (last 100). */
  readonly seen: readonly EchoBody[];
  close(): Promise<void>;
}

export interface EchoBody {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

export async function startUpstream(options: { pki?: TestPki; host?: string } = {}): Promise<TestUpstream> {
  const seen: EchoBody[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => handle(req, res, seen);
  const server: Server = options.pki
    ? createHttpsServer({ SNICallback: options.pki.certs.sniCallback }, onRequest)
    : createHttpServer(onRequest);
  const sockets = new Set<Socket>();
  let connections = 0;
  let requests = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', () => requests++);
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws, req) => {
    requests++;
    ws.send(JSON.stringify(req.headers));
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  });
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() { return connections; },
    get requests() { return requests; },
    seen,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function handle(req: IncomingMessage, res: ServerResponse, seen: EchoBody[]): void {
  const url = new URL(req.url ?? '/', 'http://upstream');
  if (url.pathname === '/sse') return sse(res, Number(url.searchParams.get('n') ?? 5), Number(url.searchParams.get('interval') ?? 50));
  if (url.pathname === '/download') return download(res, Number(url.searchParams.get('bytes') ?? 0));
  const delay = url.pathname === '/slow-headers' ? Number(url.searchParams.get('ms') ?? 500) : 0;
  let bodyBytes = 0;
  req.on('data', (chunk: Buffer) => { bodyBytes += chunk.length; });
  req.on('end', () => {
    const send = (): void => {
      if (res.destroyed) return;
      const echo: EchoBody = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes };
      seen.push(echo);
      if (seen.length > 100) seen.shift();
      const body = JSON.stringify(echo);
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'echo' }).end(body);
    };
    if (delay > 0) setTimeout(send, delay).unref();
    else send();
  });
}

function sse(res: ServerResponse, n: number, interval: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  const tick = (): void => {
    if (res.destroyed) return;
    res.write(`data: ${JSON.stringify({ i, sentAt: performance.timeOrigin + performance.now() })}\n\n`);
    if (++i < n) setTimeout(tick, interval).unref();
    else res.end();
  };
  tick();
}

function download(res: ServerResponse, bytes: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
  let left = bytes;
  const pump = (): void => {
    while (left > 0) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}
