import { Agent, request } from 'undici';
import { FLEET_PATHS, PUBLIC_KEY_HEADER, type Bundle, type EventBatch } from '../fleet/protocol.js';
import type { SealedBoxKeyPair } from '../secrets/sealed-box.js';

/** A control-plane call that failed; `status` is the HTTP status (0: no answer at all). */
export class ControlPlaneError extends Error {
  readonly code = 'control_plane_error';
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ControlPlaneError';
    this.status = status;
  }
}

/** One server-sent event of the change stream. */
export interface StreamEvent {
  readonly event: string;
  readonly data: string;
}

/** Bounds on each call, so an unresponsive control plane never holds the sidecar. */
const CALL_TIMEOUT_MS = 10_000;

/** The sidecar's side of fleet/protocol.ts: bundle, change stream and audit shipping. */
export class ControlClient {
  readonly #base: string;
  readonly #token: string;
  readonly #keys: SealedBoxKeyPair;
  readonly #agent = new Agent({ connect: { timeout: CALL_TIMEOUT_MS }, headersTimeout: CALL_TIMEOUT_MS, bodyTimeout: CALL_TIMEOUT_MS });
  /** The stream is idle between heartbeats; its own body timeout covers a dead peer. */
  readonly #streamAgent: Agent;

  constructor(options: { controlUrl: string; token: string; keys: SealedBoxKeyPair; streamIdleMs: number }) {
    this.#base = options.controlUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#keys = options.keys;
    this.#streamAgent = new Agent({ connect: { timeout: CALL_TIMEOUT_MS }, headersTimeout: CALL_TIMEOUT_MS, bodyTimeout: options.streamIdleMs });
  }

  /** The whole bundle, just some sandboxes, or just one secret; opened with the sidecar's private key. */
  async bundle(only: { sandboxes?: readonly string[]; secret?: string } = {}): Promise<Bundle> {
    const params = [
      ...(only.sandboxes ?? []).map((id) => `sandbox=${encodeURIComponent(id)}`),
      ...(only.secret ? [`secret=${encodeURIComponent(only.secret)}`] : []),
    ];
    const query = params.length > 0 ? `?${params.join('&')}` : '';
    const sealed = Buffer.from(await this.#call('GET', FLEET_PATHS.bundle + query, { [PUBLIC_KEY_HEADER]: this.#keys.publicKey }));
    const plain = this.#keys.open(sealed);
    try {
      return JSON.parse(plain.toString('utf8')) as Bundle;
    } finally {
      plain.fill(0);
    }
  }

  async shipEvents(batch: EventBatch): Promise<void> {
    await this.#call('POST', FLEET_PATHS.events, { 'content-type': 'application/json' }, JSON.stringify(batch));
  }

  /** Follows the change stream from `after`, yielding each event until the stream ends or fails. */
  async *changes(after: number, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    const res = await request(`${this.#base}${FLEET_PATHS.changes}?after=${after}`, {
      headers: { authorization: `Bearer ${this.#token}`, accept: 'text/event-stream' },
      dispatcher: this.#streamAgent,
      signal,
    }).catch((err: Error) => {
      throw new ControlPlaneError(0, `control plane unreachable: ${err.message}`);
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      throw new ControlPlaneError(res.statusCode, `change stream refused: ${res.statusCode} ${text.slice(0, 200)}`);
    }
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += (chunk as Buffer).toString('utf8');
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        yield { event, data };
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#agent.close(), this.#streamAgent.close()]);
  }

  async #call(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<ArrayBuffer> {
    const res = await request(this.#base + path, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...headers },
      body,
      dispatcher: this.#agent,
    }).catch((err: Error) => {
      throw new ControlPlaneError(0, `control plane unreachable: ${err.message}`);
    });
    if (res.statusCode >= 300) {
      const text = await res.body.text().catch(() => '');
      throw new ControlPlaneError(res.statusCode, `${method} ${path.split('?')[0]} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    }
    return res.body.arrayBuffer();
  }
}
