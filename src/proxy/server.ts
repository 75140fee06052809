import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { FrozenConfig } from '../config/schema.js';
import { flatLineLogger } from '../log/logger.js';
import { ProxyRejection } from '../errors.js';
import type { LeafCertStore } from '../tls/index.js';
import { ClientConnection, type DataPlane } from './connection.js';
import { EgressGuard, type ProtectedAddress } from './egress.js';
import type { ProxyEvents } from './events.js';
import { forwardRequest } from './forward.js';
import { ORIGINAL_DST_UNAVAILABLE, originalDestination } from './original-dst.js';
import { ABSOLUTE_URI, handlePlainRequest, handlePlainUpgrade, type PlainEntry } from './plain.js';
import type { ProxyPolicy } from './policy.js';
import { answerRefusal, type RefusedRequest } from './request-record.js';
import { acceptTransparentTls, TRANSPARENT_HTTP } from './transparent.js';
import { openTunnel } from './tunnel.js';
import { relayUpgrade } from './upgrade.js';
import { createUpstream } from './upstream-agent.js';

export interface ProxyServerOptions {
  /** Read: proxy.*, upstream.*, egress.*. */
  config: FrozenConfig;
  logger: Logger;
  /** Identity, egress policy and credential injection (the rules module; PASS_THROUGH_POLICY alone). */
  policy: ProxyPolicy;
  /** Leaf certificates for terminated tunnels. */
  certs: LeafCertStore;
  /** Receives request, connection and tunnel events. */
  events: ProxyEvents;
  /** Listeners never reachable through the proxy (the admin listener); the proxy adds its own address. */
  protectedAddresses: () => ReadonlyArray<ProtectedAddress>;
}

/** Malformed requests the http parser refused, by status; everything else is 400. */
const PARSER_STATUS: Readonly<Record<string, number>> = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408 };

/**
 * The proxy listener: one http.Server for CONNECT and absolute-URI requests, and one inner
 * http.Server (never listening) that parses the requests inside terminated tunnels; plus, when
 * configured, the transparent listeners (transparent.ts): TLS ones join the inner server too.
 * See docs/lifecycle.md for the pipeline.
 */
export class ProxyServer {
  readonly #config: FrozenConfig;
  readonly #logger: Logger;
  readonly #plane: DataPlane;
  readonly #outer: Server;
  readonly #inner: Server;
  readonly #connections = new Set<ClientConnection>();
  readonly #bySocket = new WeakMap<object, ClientConnection>();
  /** The proxy listener first, then the transparent ones that are configured. */
  readonly #listeners: Listener[] = [];
  #draining = false;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(options: ProxyServerOptions) {
    const { config } = options;
    this.#config = config;
    this.#logger = options.logger.child({ component: 'proxy' });
    const guard = new EgressGuard({
      overrides: config.upstream.resolve,
      allowPrivateNetworks: config.egress.allowPrivateNetworks,
      protectedAddresses: () => [...options.protectedAddresses(), ...this.#listeners.flatMap((l) => (l.address ? [l.address] : []))],
    });
    this.#plane = {
      config,
      policy: options.policy,
      events: options.events,
      logger: this.#logger,
      certs: options.certs,
      accessLog: this.#logger.isLevelEnabled('info') ? flatLineLogger(this.#logger) : undefined,
      guard,
      upstream: createUpstream(config, guard),
      requestEnded: (connection) => this.#requestEnded(connection),
    };
    // requestTimeout stays 0 (bodies may stream for long), which would also turn Node's default
    // headersTimeout off: a client trickling header bytes would hold its connection forever.
    const serverOptions = {
      maxHeaderSize: config.proxy.maxHeaderBytes,
      requestTimeout: 0,
      headersTimeout: config.proxy.headersTimeoutMs,
      // Node's sweep for expired headers runs every 30 s by default: a slow client would overstay.
      connectionsCheckingInterval: Math.min(1_000, config.proxy.headersTimeoutMs),
      keepAliveTimeout: config.proxy.idleTimeoutMs,
    };

    this.#outer = deferContinue(createServer(serverOptions));
    this.#listeners.push({ name: 'proxy', listen: config.proxy.listen, server: this.#outer });
    this.#outer.on('connection', (socket: Socket) => this.#track(socket));
    this.#outer.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const connection = this.#bySocket.get(socket)!;
      // The http server lets go of a CONNECT socket, so the idle limit is ours to keep.
      socket.setTimeout(config.proxy.idleTimeoutMs, () => {
        if (connection.active === 0) socket.destroy();
      });
      openTunnel(this.#plane, this.#inner, connection, req, socket, head, (tls) => this.#register(connection, tls));
    });
    this.#servePlain(this.#outer, ABSOLUTE_URI);

    this.#inner = deferContinue(createServer(serverOptions));
    this.#inner.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const connection = this.#bySocket.get(req.socket);
      if (connection?.refusal !== undefined) {
        res.shouldKeepAlive = false;
        answerRefusal(this.#plane, tunnelRequest(connection, req), connection.refusal, { res });
        return;
      }
      const path = originForm(req.url);
      if (connection?.tunnel === undefined || path === undefined) {
        answerRefusal(this.#plane, tunnelRequest(connection, req), new ProxyRejection('bad_request', 'expected an origin-form request target'), { res });
        return;
      }
      forwardRequest(this.#plane, connection, connection.tunnel, req, res, path);
    });
    this.#inner.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const connection = this.#bySocket.get(socket);
      const path = originForm(req.url);
      if (connection?.tunnel === undefined || path === undefined) {
        const rejection = connection?.refusal ?? new ProxyRejection('bad_request', 'expected an origin-form request target');
        answerRefusal(this.#plane, tunnelRequest(connection, req), rejection, { socket });
        return;
      }
      relayUpgrade(this.#plane, connection, connection.tunnel, req, socket, head, path);
    });
    this.#inner.on('connect', (req: IncomingMessage, socket: Duplex) => {
      const connection = this.#bySocket.get(socket);
      answerRefusal(this.#plane, tunnelRequest(connection, req), new ProxyRejection('bad_request', 'CONNECT inside a tunnel is not supported'), { socket });
    });
    this.#inner.on('clientError', this.#onClientError);
    // The inner server never listens, and Node starts its headers-timeout sweep on 'listening';
    // without this, tunnels would have no headers timeout at all.
    this.#inner.emit('listening');

    const { https, http } = config.transparent;
    if (https !== undefined) {
      const server = createNetServer((socket: Socket) => {
        const connection = this.#track(socket, true);
        acceptTransparentTls(this.#plane, this.#inner, connection, (tls) => this.#register(connection, tls));
      });
      this.#listeners.push({ name: 'transparent https', listen: https, server });
    }
    if (http !== undefined) {
      const server = deferContinue(createServer(serverOptions));
      server.on('connection', (socket: Socket) => this.#track(socket, true));
      this.#servePlain(server, TRANSPARENT_HTTP);
      server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
        const rejection = new ProxyRejection('bad_request', 'this port takes plain http (connections redirected from port 80)');
        answerRefusal(this.#plane, { identity: undefined, method: 'CONNECT', host: '', path: '' }, rejection, { socket });
      });
      this.#listeners.push({ name: 'transparent http', listen: http, server });
    }
  }

  /** Plain-http requests and upgrades on `server`, admitted by `entry`. */
  #servePlain(server: Server, entry: PlainEntry): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      handlePlainRequest(this.#plane, entry, this.#bySocket.get(req.socket)!, req, res);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      handlePlainUpgrade(this.#plane, entry, this.#bySocket.get(socket)!, req, socket, head);
    });
    server.on('clientError', this.#onClientError);
  }

  /**
   * A request the http parser refused: 400, 408 (head not received within
   * proxy.headersTimeoutMs) or 431 (head over proxy.maxHeaderBytes), answered and counted like
   * any refusal. Inside a tunnel its sandbox and host are known.
   */
  readonly #onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = PARSER_STATUS[err.code ?? ''] ?? 400;
    const detail = status === 431 ? 'request headers exceed proxy.maxHeaderBytes' : undefined;
    answerRefusal(this.#plane, tunnelRequest(this.#bySocket.get(socket), undefined), new ProxyRejection('bad_request', detail), { socket }, status);
  };

  /**
   * Binds `proxy.listen` and the transparent listeners that are configured (port 0 picks a free
   * port); resolves with the proxy listener's address (`transparentAddresses` has the others).
   */
  async listen(): Promise<AddressInfo> {
    for (const listener of this.#listeners) {
      // The address goes with a bind failure, so the daemon can name the key that set it.
      listener.address = await bind(listener.server, listener.listen).catch((err: Error) => {
        throw Object.assign(err, { listen: listener.listen });
      });
      const { address, port } = listener.address;
      this.#logger.info({ address: `${address}:${port}` }, `${listener.name} listening`);
    }
    if (this.#listeners.length > 1 && ORIGINAL_DST_UNAVAILABLE !== undefined) {
      this.#logger.warn({ reason: ORIGINAL_DST_UNAVAILABLE }, 'original destinations unknown: transparent connections assume port 443 / 80 and need SNI');
    }
    return this.#listeners[0]!.address!;
  }

  /** True while every listener is bound and accepting: after listen(), until close() begins. */
  get accepting(): boolean {
    return !this.#draining && this.#listeners.every((l) => l.server.listening);
  }

  /** The bound transparent listeners, by kind; empty until listen() resolved. */
  transparentAddresses(): { https?: AddressInfo; http?: AddressInfo } {
    const found: { https?: AddressInfo; http?: AddressInfo } = {};
    for (const listener of this.#listeners) {
      if (listener.name === 'transparent https') found.https = listener.address;
      if (listener.name === 'transparent http') found.http = listener.address;
    }
    return found;
  }

  /**
   * Stops accepting, lets requests in flight finish (up to proxy.drainTimeoutMs), closes idle
   * tunnels and keep-alive connections at once, then destroys whatever is left.
   */
  close(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    const started = Date.now();
    const inFlight = this.#requestsInFlight();
    this.#draining = true;
    const listenerClosed = Promise.all(this.#listeners.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
    const drained = new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    for (const connection of this.#connections) this.#requestEnded(connection);
    if (this.#connections.size === 0) this.#drained?.();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#config.proxy.drainTimeoutMs);
    });
    await Promise.race([drained, timedOut]);
    clearTimeout(timer);
    const cut = this.#requestsInFlight();
    this.#logger.info({ requests: inFlight, completed: inFlight - cut, cut, ms: Date.now() - started }, 'drained');
    for (const connection of this.#connections) connection.raw.destroy();
    await listenerClosed;
    this.#inner.close(() => undefined); // stops its headers-timeout sweep; it has no listener to close
    await this.#plane.upstream.close();
  }

  #requestsInFlight(): number {
    let count = 0;
    for (const connection of this.#connections) count += connection.active;
    return count;
  }

  #track(socket: Socket, transparent = false): ClientConnection {
    const connection = new ClientConnection(socket);
    if (transparent) connection.originalDestination = originalDestination(socket);
    this.#connections.add(connection);
    this.#bySocket.set(socket, connection);
    socket.once('close', () => {
      this.#connections.delete(connection);
      if (this.#draining && this.#connections.size === 0) this.#drained?.();
    });
    return connection;
  }

  #register(connection: ClientConnection, tls: TLSSocket): void {
    connection.tls = tls;
    this.#bySocket.set(tls, connection);
  }

  /** While draining, a connection closes as soon as it has nothing in flight. */
  #requestEnded(connection: ClientConnection): void {
    if (!this.#draining || connection.active > 0) return;
    if (connection.tls) connection.tls.end();
    else if (connection.tunnel === undefined) connection.raw.end();
    else connection.raw.destroy();
  }
}

interface Listener {
  readonly name: 'proxy' | 'transparent https' | 'transparent http';
  /** The configured `host:port`. */
  readonly listen: string;
  readonly server: NetServer;
  address?: AddressInfo;
}

/** Binds `listen` (`host:port`, `[v6]:port`) and resolves with the bound address. */
async function bind(server: NetServer, listen: string): Promise<AddressInfo> {
  const colon = listen.lastIndexOf(':');
  const rawHost = listen.slice(0, colon);
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: Number(listen.slice(colon + 1)) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/**
 * Node answers `Expect: 100-continue` before any handler runs unless someone listens for
 * 'checkContinue'; with this the request goes on as usual, and forwardRequest sends the 100 once
 * the request has passed admission and the policy (forward.ts), so a refused one never invites its body.
 */
function deferContinue(server: Server): Server {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  return server;
}

/** Inside a tunnel the target is origin-form; absolute-form is reduced to its path (the host stays the tunnel's). */
function originForm(url: string | undefined): string | undefined {
  if (url === undefined || url.length === 0) return undefined;
  if (url.charCodeAt(0) === 47 /* / */ || url === '*') return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return undefined;
  }
}

/** What a refusal on `connection` knows of its request: the tunnel's sandbox and host, when it has them. */
function tunnelRequest(connection: ClientConnection | undefined, req: IncomingMessage | undefined): RefusedRequest {
  const record = connection?.record;
  const url = req?.url ?? '';
  return {
    identity: connection?.tunnel?.identity ?? record?.identity,
    method: req?.method ?? '',
    host: connection?.tunnel?.target.host ?? record?.host ?? '',
    // Origin-form only: anything else names no path worth keeping.
    path: url.charCodeAt(0) === 47 /* / */ ? url : '',
  };
}
