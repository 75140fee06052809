import { ProxyRejection } from '../errors.js';
import type { ProxyPolicy, RequestTarget, SandboxIdentity, InjectionResult } from '../proxy/policy.js';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Fails closed when the sidecar's bundle is too old to trust: until the first bundle arrives,
 * and once the control plane has not been heard from for `maxAgeMs`, every tunnel and request is
 * refused with 503 policy_unavailable (a revocation might be waiting on the other side).
 * Otherwise it is the rule table's policy, unchanged.
 */
export class FreshnessPolicy implements ProxyPolicy {
  readonly #inner: ProxyPolicy;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #heardAt = Number.NEGATIVE_INFINITY;

  constructor(inner: ProxyPolicy, options: { maxAgeMs: number; now?: () => number }) {
    this.#inner = inner;
    this.#maxAgeMs = options.maxAgeMs;
    this.#now = options.now ?? Date.now;
  }

  /** The control plane confirmed the bundle is current (a bundle, a change or a heartbeat). */
  heard(): void {
    this.#heardAt = this.#now();
  }

  /** The bundle must not be used any more (e.g. the sidecar's token was revoked). */
  expire(): void {
    this.#heardAt = Number.NEGATIVE_INFINITY;
  }

  /** Milliseconds since the control plane was last heard from; Infinity before the first bundle. */
  get ageMs(): number {
    return this.#now() - this.#heardAt;
  }

  authenticate(proxyAuthorization: string | undefined): SandboxIdentity | null {
    this.#check();
    return this.#inner.authenticate(proxyAuthorization);
  }

  identifyTransparent(boundSandbox: string | undefined, sourceAddress: string | undefined): SandboxIdentity | null {
    this.#check();
    return this.#inner.identifyTransparent(boundSandbox, sourceAddress);
  }

  checkEgress(identity: SandboxIdentity | null, host: string): void {
    this.#inner.checkEgress(identity, host);
  }

  authorizeRequest(identity: SandboxIdentity | null, target: RequestTarget, headers: IncomingHttpHeaders): InjectionResult {
    // Tunnels outlive their CONNECT, so each request is checked too.
    this.#check();
    return this.#inner.authorizeRequest(identity, target, headers);
  }

  #check(): void {
    const age = this.ageMs;
    if (age > this.#maxAgeMs) {
      throw new ProxyRejection(
        'policy_unavailable',
        Number.isFinite(age)
          ? `the control plane has not been heard from for ${Math.round(age / 1000)} s (fleet.maxBundleAgeMs is ${this.#maxAgeMs})`
          : 'no policy bundle from the control plane yet',
      );
    }
  }
}
