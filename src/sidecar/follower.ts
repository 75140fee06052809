import type { Logger } from '../log/logger.js';
import type { RuleTable } from '../rules/rule-table.js';
import { STREAM_EVENTS, type ChangeEvent } from '../fleet/protocol.js';
import type { BundleRuleSource } from './bundle-source.js';
import type { ControlClient } from './control-client.js';
import type { FreshnessPolicy } from './freshness-policy.js';

const RETRY_MS = [100, 250, 500, 1000, 2000] as const;

export interface BundleFollowerDeps {
  readonly client: ControlClient;
  readonly source: BundleRuleSource;
  readonly rules: RuleTable;
  readonly freshness: FreshnessPolicy;
  readonly logger: Logger;
}

/**
 * Keeps the sidecar's bundle current: fetches it whole, then follows the change stream from the
 * bundle's seq. Each change refetches just the sandbox or the secret it names and hands the rule
 * table the StoreChanges, one change at a time and in order. Every bundle, change and heartbeat marks the
 * bundle fresh; a broken stream reconnects from the last seq applied, with backoff.
 */
export class BundleFollower {
  readonly #deps: BundleFollowerDeps;
  readonly #abort = new AbortController();
  #seq = 0;
  #running: Promise<void> | undefined;
  /** Resolves once the first whole bundle is in. */
  readonly loaded: Promise<void>;
  #markLoaded!: () => void;

  constructor(deps: BundleFollowerDeps) {
    this.#deps = deps;
    this.loaded = new Promise((resolve) => (this.#markLoaded = resolve));
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    let needBundle = true;
    while (!this.#abort.signal.aborted) {
      try {
        if (needBundle) {
          await this.#loadAll();
          needBundle = false;
        }
        for await (const event of this.#deps.client.changes(this.#seq, this.#abort.signal)) {
          attempt = 0;
          if (event.event === STREAM_EVENTS.reset) {
            needBundle = true;
            break;
          }
          if (event.event === STREAM_EVENTS.change) await this.#apply(JSON.parse(event.data) as ChangeEvent);
          this.#deps.freshness.heard();
        }
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        const status = (err as { status?: number }).status;
        this.#deps.logger.warn({ err: { message: (err as Error).message, status } }, 'control plane stream interrupted; retrying');
      }
      if (this.#abort.signal.aborted) return;
      await this.#sleep(RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]!);
    }
  }

  async #loadAll(): Promise<void> {
    const bundle = await this.#deps.client.bundle();
    this.#take(this.#deps.source.take(bundle));
    this.#seq = bundle.seq;
    this.#deps.freshness.heard();
    this.#deps.logger.info({ sandboxes: bundle.sandboxes.length, secrets: bundle.secrets.length, seq: bundle.seq }, 'policy bundle loaded');
    this.#markLoaded();
  }

  async #apply(change: ChangeEvent): Promise<void> {
    if (change.kind === 'sidecar') {
      // This sidecar's token was revoked: nothing it holds may be used any more.
      this.#take(this.#deps.source.clear());
      this.#deps.freshness.expire();
      this.#deps.logger.error('this sidecar was removed from the control plane; refusing all requests');
      this.#abort.abort();
      return;
    }
    // A deletion needs nothing from the control plane: revoking it is forgetting it, at once.
    const gone = { seq: change.seq, complete: false, sandboxes: [], secrets: [] };
    if (change.kind === 'sandbox') {
      const bundle = change.deleted ? gone : await this.#deps.client.bundle({ sandboxes: [change.subjectId] });
      this.#take(this.#deps.source.take(bundle, [change.subjectId]));
    } else if (this.#deps.source.holdsSecret(change.subjectId)) {
      const bundle = change.deleted ? gone : await this.#deps.client.bundle({ secret: change.subjectId });
      this.#take(this.#deps.source.takeSecret(change.subjectId, bundle));
    }
    this.#seq = change.seq;
  }

  #take(changes: ReturnType<BundleRuleSource['take']>): void {
    for (const change of changes) this.#deps.rules.apply(change);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#abort.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
