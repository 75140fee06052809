import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { spawnServe, type ServeProcess } from '../helpers/harness/index.js';

/** What a raw exchange read before the peer closed (or the wait ran out). */
export interface RawResult {
  text: string;
  closed: boolean;
  /** ms from the first write to the close (or the give-up). */
  ms: number;
}

/** Collects a socket's bytes until it closes or `ms` passes; the socket is destroyed either way. */
export function collect(socket: Socket, ms: number): Promise<RawResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let text = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => done(false), ms);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
  });
}

/** A TCP socket to 127.0.0.1:port, once connected. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * CONNECT host:443 through the proxy, then TLS inside the tunnel trusting `caPem`. `servername`
 * '' sends no SNI; the certificate is still checked against `host`.
 */
export async function openTunnel(port: number, host: string, caPem: string, options: { auth?: string; servername?: string } = {}): Promise<TLSSocket> {
  const raw = await openSocket(port);
  const auth = options.auth ? `Proxy-Authorization: Basic ${Buffer.from(options.auth).toString('base64')}\r\n` : '';
  raw.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n${auth}\r\n`);
  const head = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      raw.off('data', onData);
      resolve(text);
    };
    raw.on('data', onData);
    raw.once('close', () => reject(new Error(`tunnel closed: ${text}`)));
  });
  if (!head.startsWith('HTTP/1.1 200')) {
    raw.destroy();
    throw new Error(`CONNECT refused: ${head.split('\r\n')[0]}`);
  }
  return new Promise((resolve, reject) => {
    const tls = tlsConnect(
      {
        socket: raw,
        ca: caPem,
        servername: options.servername ?? host,
        ALPNProtocols: ['http/1.1'],
        checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
      },
      () => resolve(tls),
    );
    tls.once('error', reject);
  });
}

/** Writes `text` one byte every `everyMs` until the socket closes or `maxMs` passes. */
export function trickle(socket: Socket, text: string, everyMs: number, maxMs: number): void {
  let i = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    if (socket.destroyed || Date.now() - started > maxMs) {
      clearInterval(timer);
      return;
    }
    socket.write(text[i % text.length]!);
    i++;
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** A full GC (node:test runs files without --expose-gc). */
export function collectGarbage(): void {
  setFlagsFromString('--expose_gc');
  (runInNewContext('gc') as () => void)();
}

/** Resident set size of a process from /proc, in MiB. */
export function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** `credproxy serve` (harness/spawned.ts) on `dir`'s state at log level warn, with `apiKey` and the upstream `resolve` entries. */
export function spawnDaemon(dir: string, options: { apiKey: string; resolve: readonly string[]; upstreamCa: string }): Promise<ServeProcess> {
  return spawnServe(dir, { log: { level: 'warn' }, upstream: { resolve: options.resolve, caFile: options.upstreamCa } }, { CREDPROXY_API_KEY: options.apiKey });
}

export const proxyPort = (daemon: ServeProcess): number => Number(daemon.ready.proxy!.split(':').at(-1));
