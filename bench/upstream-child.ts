// The benchmark's HTTPS upstream, alone in its own process: a small JSON answer to every request.
// Spawned by proxy-vs-direct.ts with an IPC channel and a scratch directory argument; replies
// { type: 'ready', port, caPath }, answers { type: 'stats' } with its CPU time (a bare Node HTTPS
// server's cost per request: the floor for each of the proxy's two sides) and exits on { type: 'stop' }.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type * as Tls from '../src/tls/index.js';
import { dist } from './dist.js';

// Plain JavaScript child (see build.ts): the compiled TLS module from dist/, typed from src/.
const { LeafCertStore, loadOrCreateCa } = await dist<typeof Tls>('tls/index.js');

const dir = process.argv[2]!;
const ca = await loadOrCreateCa({ certPath: join(dir, 'upstream-ca.crt'), keyPath: join(dir, 'upstream-ca.key') });
const certs = await LeafCertStore.create(ca);
const body = JSON.stringify({ ok: true, id: 'chatcmpl-bench', usage: { prompt_tokens: 12, completion_tokens: 34 } });
const server = createServer({ SNICallback: certs.sniCallback, keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
});
server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port, caPath: ca.certPath });
});
process.on('message', (message: { type: string }) => {
  if (message.type === 'stop') server.close(() => process.exit(0)).closeAllConnections();
  if (message.type === 'stats') {
    const cpu = process.cpuUsage();
    process.send!({ type: 'stats', cpuUs: cpu.user + cpu.system });
  }
});
