import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ProxyRejection } from '../errors.js';
import type { ClientConnection, DataPlane, ForwardTarget } from './connection.js';
import { forwardHeaders, relayedResponseHeaders, type ResponseHeaders } from './headers.js';
import type { ChunkReplacer, EchoScrubber, InjectionResult } from './policy.js';
import { upstreamRejection, writeRejection } from './reject.js';
import { REQUEST_ID_HEADER } from './request-id.js';
import { RequestRecord } from './request-record.js';

/** The request id header as a relayed header name (lowercased, as undici's are); it replaces any the upstream sent. */
const REQUEST_ID_NAME = REQUEST_ID_HEADER.toLowerCase();
/**
 * A scrubbed plain body announced at most this long is held and sent whole with its new
 * Content-Length: one write instead of a chunked stream, and clients keep a length to check.
 */
const HELD_BODY_MAX = 64 * 1024;

/**
 * What an Upgrade request (WebSocket) adds to a request: until the upstream answers `101` it is
 * an ordinary exchange, relayed and scrubbed like any other; on a `101` this takes over.
 */
export interface UpgradeRequest {
  /**
   * The upstream switched protocols: relay the connection (`headers` already scrubbed; of the
   * hop-by-hop names only `upgrade` is kept) and call `done` once both sides are closed.
   */
  switched(headers: ResponseHeaders, upstream: Duplex, scrubber: EchoScrubber | undefined, done: () => void): void;
}

/**
 * One request through the pipeline: authorize (match + inject) → strip → forward → relay →
 * record. `path` is the request-target sent upstream (origin-form); `requestId` the id it goes
 * by (a new one unless its connection row already named it). Never throws.
 */
export function forwardRequest(
  plane: DataPlane,
  connection: ClientConnection,
  to: ForwardTarget,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  upgrade?: UpgradeRequest,
  requestId?: string,
): void {
  const exchange = new Exchange(plane, connection, to, req, res, path, requestId);
  let injection: InjectionResult;
  try {
    injection = plane.policy.authorizeRequest(to.identity, to.target, req.headers);
  } catch (err) {
    exchange.refuse(policyRejection(plane, err));
    return;
  }
  exchange.record.matches = injection.matches;
  if (injection.identity) exchange.record.identity = injection.identity;
  // The scrubber searches only bodies it can decode; any other coding would carry an echo through.
  if (injection.scrubber !== undefined) {
    req.headers['accept-encoding'] = injection.scrubber.acceptEncoding;
    // A 206 fragment cannot be scrubbed across fragments: an echo fetched in pieces would come back whole.
    if (injection.allowRange !== true && (req.headers.range !== undefined || req.headers['if-range'] !== undefined)) {
      delete req.headers.range;
      delete req.headers['if-range'];
    }
  }

  const length = req.headers['content-length'];
  const max = plane.config.proxy.maxBodyBytes;
  if (length !== undefined && Number(length) > max) {
    exchange.refuse(new ProxyRejection('body_too_large', `limit is ${max} bytes`));
    return;
  }
  let protocol: string | undefined;
  if (upgrade !== undefined) {
    // Node's parser stops at an Upgrade request's head: a body could not be told from the next protocol.
    if (announcesBody(req)) {
      exchange.refuse(new ProxyRejection('bad_request', 'an Upgrade request cannot carry a body'));
      return;
    }
    protocol = upgradeProtocol(req.headers.upgrade, injection.scrubber !== undefined);
    // Compressed frames would hide an echoed value from the scrubber, so none are offered.
    if (injection.scrubber !== undefined) delete req.headers['sec-websocket-extensions'];
  }
  // Admitted and authorized: only now is the body invited (server.ts defers Node's automatic 100).
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  const chunked = req.headers['transfer-encoding'] !== undefined;
  // undici streams async iterables (its typings list only Readable).
  const body = chunked ? (capBody(req, max, exchange.record) as unknown as Readable) : length !== undefined && length !== '0' ? req : null;
  if (body === req) exchange.record.requestBytes = Number(length);
  const handler = new RelayHandler(exchange, injection, protocol === undefined ? undefined : upgrade);
  exchange.record.upstreamStarted();
  plane.upstream.agent.dispatch(
    {
      origin: to.origin,
      path,
      method: req.method!,
      headers: forwardHeaders(req.headers, to.authority),
      body,
      upgrade: protocol,
    },
    handler,
  );
}

/**
 * The protocol the upstream is asked to switch to: the client's Upgrade header; when a credential
 * was injected only WebSocket, whose messages the relay scrubs. Any other (h2c) goes as an
 * ordinary request, which the upstream answers in HTTP/1.1 (a server may ignore Upgrade,
 * RFC 9110 §7.8); undici refuses a 101 it did not ask for.
 */
function upgradeProtocol(asked: string | undefined, scrubbed: boolean): string | undefined {
  if (asked === undefined || !scrubbed) return asked;
  return asked.split(',').some((token) => token.trim().toLowerCase() === 'websocket') ? 'websocket' : undefined;
}

/** The client side of one request: its response, and the record that reports it. */
class Exchange {
  readonly record: RequestRecord;
  /** Aborts the upstream exchange when the client goes away. */
  abortUpstream: ((reason: Error) => void) | undefined;

  constructor(
    plane: DataPlane,
    connection: ClientConnection,
    to: ForwardTarget,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    path: string,
    requestId: string | undefined,
  ) {
    this.record = new RequestRecord(plane, connection, to, req.method ?? '', path, requestId);
    res.once('close', this.#onClose);
  }

  /** Writes the proxy's refusal (already recorded by the caller) to the client. */
  reject(rejection: ProxyRejection): void {
    // The unread request body would otherwise be parsed as the next request. A bodiless request
    // is not yet `complete` while its handler runs, and keeps its connection (and tunnel).
    if (!this.req.complete && announcesBody(this.req)) this.res.shouldKeepAlive = false;
    writeRejection(this.res, rejection, this.record.id);
  }

  /** A refusal by the proxy itself: recorded, then written. */
  refuse(rejection: ProxyRejection): void {
    this.record.refused(rejection);
    this.reject(rejection);
  }

  /** The upstream switched protocols and the upgraded relay has ended: recorded as a 101. */
  upgradeEnded(): void {
    this.record.finish(101, true);
  }

  readonly #onClose = (): void => {
    const { res } = this;
    const finished = res.writableFinished;
    if (!finished) this.abortUpstream?.(new Error('client went away'));
    this.record.finish(res.headersSent ? res.statusCode : 0, finished);
  };
}

/**
 * Relays the upstream response as undici delivers it, without buffering: each chunk is written
 * to the client as it arrives and the upstream is paused while the client is slow.
 */
class RelayHandler implements Dispatcher.DispatchHandler {
  readonly #exchange: Exchange;
  readonly #injection: InjectionResult;
  #controller: Dispatcher.DispatchController | undefined;
  /** The client response, or the scrubber's transform in front of it. */
  #sink: Writable | undefined;
  /** The scrubber's synchronous replacer when the body needs no decoding. */
  #replacer: ChunkReplacer | undefined;
  /** A small scrubbed body held until its end (see HELD_BODY_MAX), with the head to send before it. */
  #held: { parts: Buffer[]; statusCode: number; headers: ResponseHeaders } | undefined;
  /** Set once the response was refused unrelayed (#withhold). */
  #withheld = false;
  /** Set when the upstream was asked to switch protocols. */
  readonly #upgrade: UpgradeRequest | undefined;

  constructor(exchange: Exchange, injection: InjectionResult, upgrade: UpgradeRequest | undefined) {
    this.#exchange = exchange;
    this.#injection = injection;
    this.#upgrade = upgrade;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#exchange.res.destroyed) controller.abort(new Error('client went away'));
    else this.#exchange.abortUpstream = (reason) => controller.abort(reason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, upstreamHeaders: ResponseHeaders): void {
    if (statusCode < 200) return;
    const { res } = this.#exchange;
    this.#exchange.record.upstreamStatus = statusCode;
    const scrubber = this.#injection.scrubber;
    // Replacements change the length: a scrubbed body never keeps the upstream's Content-Length.
    const headers = relayedResponseHeaders(upstreamHeaders, scrubber !== undefined);
    headers[REQUEST_ID_NAME] = this.#exchange.record.id;
    if (scrubber === undefined) {
      res.writeHead(statusCode, headers as Record<string, string | string[]>);
      this.#sink = res;
    } else {
      scrubber.scrubHeaders(headers);
      const encoding = headers['content-encoding'] as string | undefined;
      const withBody = hasBody(this.#exchange.req.method, statusCode);
      // undici decodes chunked framing only; any other transfer-coding would reach the client unsearched.
      const transferCoding = upstreamHeaders['transfer-encoding'];
      if (withBody && transferCoding !== undefined && String(transferCoding).trim().toLowerCase() !== 'chunked') {
        this.#withhold(controller, 'the upstream used a transfer-coding other than chunked');
        return;
      }
      this.#replacer = scrubber.bodyReplacer?.(encoding);
      if (this.#replacer === undefined) {
        const decoding = scrubber.bodyTransform(encoding);
        if (decoding === undefined) {
          if (withBody) {
            this.#withhold(controller, `content-encoding ${JSON.stringify(String(encoding).slice(0, 64))} cannot be decoded to scrub the injected credential`);
            return;
          }
          // No body to search: the head is relayed as it is.
          res.writeHead(statusCode, headers as Record<string, string | string[]>);
          this.#sink = res;
          this.#sink.on('drain', this.#resume);
          return;
        }
        const { transform, contentEncoding } = decoding;
        if (contentEncoding === undefined) delete headers['content-encoding'];
        else headers['content-encoding'] = contentEncoding;
        res.writeHead(statusCode, headers as Record<string, string | string[]>);
        transform.on('error', () => res.destroy());
        transform.pipe(res);
        this.#sink = transform;
      } else if (Number(upstreamHeaders['content-length']) <= HELD_BODY_MAX && withBody) {
        this.#held = { parts: [], statusCode, headers };
        return;
      } else {
        res.writeHead(statusCode, headers as Record<string, string | string[]>);
        this.#sink = res;
      }
    }
    this.#sink.on('drain', this.#resume);
  }

  /** undici calls this only for a real `101` to a request that asked for an upgrade. */
  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, upstreamHeaders: ResponseHeaders, socket: Duplex): void {
    const exchange = this.#exchange;
    exchange.record.upstreamStatus = statusCode;
    exchange.record.upstreamEnded();
    exchange.abortUpstream = undefined;
    const scrubber = this.#injection.scrubber;
    const headers = relayedResponseHeaders(upstreamHeaders, false);
    headers.upgrade = upstreamHeaders.upgrade;
    headers[REQUEST_ID_NAME] = exchange.record.id;
    scrubber?.scrubHeaders(headers);
    this.#upgrade!.switched(headers, socket, scrubber, () => exchange.upgradeEnded());
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#withheld) return;
    this.#exchange.record.responseBytes += chunk.length;
    if (this.#held !== undefined) {
      this.#held.parts.push(...this.#replacer!.write(chunk));
      return;
    }
    const sink = this.#sink!;
    const written = this.#replacer === undefined ? sink.write(chunk) : writeParts(sink, this.#replacer.write(chunk));
    if (!written) controller.pause();
  }

  onResponseEnd(): void {
    if (this.#withheld) return;
    this.#exchange.record.upstreamEnded();
    const held = this.#held;
    if (held !== undefined) {
      held.parts.push(...this.#replacer!.end());
      const body = held.parts.length === 1 ? held.parts[0]! : Buffer.concat(held.parts);
      held.headers['content-length'] = String(body.length);
      this.#exchange.res.writeHead(held.statusCode, held.headers as Record<string, string | string[]>).end(body);
      return;
    }
    if (this.#replacer !== undefined) writeParts(this.#sink!, this.#replacer.end());
    this.#sink!.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const exchange = this.#exchange;
    if (exchange.res.destroyed || this.#withheld) return;
    const rejection = upstreamRejection(err);
    exchange.record.upstreamFailed(rejection);
    exchange.reject(rejection);
  }

  readonly #resume = (): void => {
    this.#controller?.resume();
  };

  /**
   * An injected request's response that cannot be searched for echoes is not relayed at all: the
   * client gets upstream_encoding_unsupported and the upstream exchange is dropped.
   */
  #withhold(controller: Dispatcher.DispatchController, detail: string): void {
    this.#withheld = true;
    const rejection = new ProxyRejection('upstream_encoding_unsupported', detail);
    this.#exchange.record.upstreamFailed(rejection);
    this.#exchange.reject(rejection);
    controller.abort(rejection);
  }
}

/** Writes what a replacer returned as one chunk (one chunked-encoding frame); false when the sink is full. */
function writeParts(sink: Writable, parts: Buffer[]): boolean {
  if (parts.length === 0) return !sink.writableNeedDrain;
  return sink.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
}

/** Whether a response to `method` with `statusCode` carries a body (RFC 9110 §6.4.1). */
function hasBody(method: string | undefined, statusCode: number): boolean {
  return method !== 'HEAD' && statusCode !== 204 && statusCode !== 304;
}

/** Whether the request head announced a body (Content-Length above 0, or Transfer-Encoding). */
function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A chunked request body counted (into the record) as it streams; past the cap it fails with body_too_large. */
async function* capBody(body: Readable, max: number, record: RequestRecord): AsyncGenerator<Buffer> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    record.requestBytes += chunk.length;
    if (record.requestBytes > max) throw new ProxyRejection('body_too_large', `limit is ${max} bytes`);
    yield chunk;
  }
}

/** A policy failure as a rejection; anything that is not a ProxyRejection is a bug, reported as inject_error. */
function policyRejection(plane: DataPlane, err: unknown): ProxyRejection {
  if (err instanceof ProxyRejection) return err;
  plane.logger.error({ err: { name: (err as Error)?.name, code: (err as { code?: unknown })?.code } }, 'policy failed');
  return new ProxyRejection('inject_error');
}
