import type { IncomingHttpHeaders } from 'node:http';
import type { ShapeMatch } from '../auth-shapes/index.js';
import { ProxyRejection } from '../errors.js';
import type { CredentialMatch, InjectionResult, ProxyPolicy, RequestTarget, SandboxIdentity } from '../proxy/policy.js';
import { ResponseEchoScrubber, type EchoForms } from '../response/index.js';
import type { CompiledBinding } from './compiled-binding.js';
import type { CompiledRule, CompiledSecret } from './compiled-secret.js';
import { applyInPlaceSwaps, planInPlaceSwap, type InPlaceSwap } from './in-place.js';
import { applyInjections, type PlannedInjection } from './inject.js';
import type { EgressDecision } from './network-policy.js';
import { decodeBasic, RequestHeaderView } from './request-headers.js';
import type { CompiledSandbox, RuleTable, StandInOwner } from './rule-table.js';
import { scanTokenRuns, type TokenRun } from './token-scan.js';

export interface StandInPolicyOptions {
  /** `proxy.requireAuth`: when false, requests without valid Proxy-Authorization are unattributed. */
  requireAuth: boolean;
}

const NO_INJECTION: InjectionResult = Object.freeze({ matches: Object.freeze([]), scrubber: undefined });
const ALLOWED_UNATTRIBUTED: EgressDecision = { allowed: true, code: undefined, explain: () => 'unattributed request: no sandbox network rule' };

/** A stand-in found in its binding's shape, and the rule it will be sent under. */
interface Hit {
  readonly binding: CompiledBinding;
  readonly secret: CompiledSecret;
  readonly found: ShapeMatch;
  rule: CompiledRule | undefined;
}

/** A stand-in the scan found: whose it is and where it stands. */
interface Sighting {
  readonly owner: StandInOwner;
  readonly run: TokenRun;
}

/** A stand-in of a live binding found where none of its secret's shapes put it. */
interface Stray {
  readonly binding: CompiledBinding;
  readonly secret: CompiledSecret;
  readonly run: TokenRun;
}

/** The metric label and audit wording of a stand-in swapped where it stood. */
export const IN_PLACE_AUTH_TYPE = 'in_place';

/** What one request collects before any header is touched. */
interface Resolution {
  readonly planned: PlannedInjection[];
  readonly swaps: InPlaceSwap[];
  readonly matches: CredentialMatch[];
  readonly forms: EchoForms[];
  /** Every injected secret opts in to Range requests. */
  allowRange: boolean;
}

/**
 * The credential rules as the proxy sees them (the ProxyPolicy seam). Per request it only reads
 * the RuleTable's memory: a sandbox is read from the store the first time it is used.
 *
 * authorizeRequest checks, in order, and changes nothing until all have passed:
 * identity still valid (407) → a stand-in of another sandbox (403 stand_in_wrong_sandbox) →
 * per stand-in found: revoked (503) → cleartext (403) → host (403) → rendering (502 inject_error);
 * then swaps every stand-in that stood outside its secret's shapes where it stood, strips every
 * matched header and sets every real one. A stand-in of the sandbox is never forwarded as is.
 */
export class StandInPolicy implements ProxyPolicy {
  readonly #table: RuleTable;
  readonly #requireAuth: boolean;

  constructor(table: RuleTable, options: StandInPolicyOptions) {
    this.#table = table;
    this.#requireAuth = options.requireAuth;
  }

  authenticate(proxyAuthorization: string | undefined): SandboxIdentity | null {
    const credentials = decodeBasic(proxyAuthorization);
    const identity = credentials && this.#table.identityForToken(credentials.password.toString('utf8'));
    if (identity) return unexpired(identity);
    if (this.#requireAuth) throw new ProxyRejection('proxy_auth_required');
    return null;
  }

  identifyTransparent(boundSandbox: string | undefined, sourceAddress: string | undefined): SandboxIdentity {
    if (boundSandbox !== undefined) {
      const found = this.#table.identityForSandbox(boundSandbox);
      if (typeof found === 'string') throw new ProxyRejection('proxy_auth_required', `transparent.sandbox: ${found}`);
      return unexpired(found);
    }
    if (sourceAddress === undefined) throw new ProxyRejection('proxy_auth_required', 'the connection has no source address and transparent.sandbox is not set');
    const found = this.#table.identityForSource(sourceAddress);
    if (typeof found === 'string') throw new ProxyRejection('proxy_auth_required', `${found} in source_addresses, and transparent.sandbox is not set`);
    return unexpired(found);
  }

  checkEgress(identity: SandboxIdentity | null, host: string): void {
    const decision = this.egressDecision(identity, host);
    if (decision.code) throw new ProxyRejection(decision.code, decision.explain());
  }

  /** checkEgress's verdict as a value, for the connection row's match_rule. Throws only 407. */
  egressDecision(identity: SandboxIdentity | null, host: string): EgressDecision {
    if (identity === null) return ALLOWED_UNATTRIBUTED;
    return this.#liveSandbox(identity).network.decide(host);
  }

  authorizeRequest(identity: SandboxIdentity | null, target: RequestTarget, headers: IncomingHttpHeaders): InjectionResult {
    let sandbox = identity === null ? undefined : this.#liveSandbox(identity);
    const view = new RequestHeaderView(headers);
    const sightings = this.#sightings(view);
    let resolution: Resolution | undefined;
    try {
      if (sandbox) assertOwnStandIns(sandbox, sightings);
      else if (sightings) sandbox = this.#adoptOwner(sightings, target);
      if (sandbox) resolution = this.#resolve(sandbox, sightings, view, target);
      if (resolution) {
        applyInPlaceSwaps(headers, resolution.swaps);
        applyInjections(headers, resolution.planned);
      }
    } catch (err) {
      // A refused request is audited under every secret whose stand-in it carried.
      if (err instanceof ProxyRejection && sightings) throw err.alsoFound(sightings.map((s) => s.owner.secretId));
      throw err;
    }
    if (!resolution) return NO_INJECTION;
    const scrubber = new ResponseEchoScrubber(resolution.forms);
    const { allowRange } = resolution;
    return identity === null
      ? { matches: resolution.matches, scrubber, allowRange, identity: sandbox!.identity }
      : { matches: resolution.matches, scrubber, allowRange };
  }

  /**
   * An unattributed request (proxy.requireAuth false) carrying stand-ins is taken as their
   * sandbox's: honoured only under that one identity and that sandbox's network rules, so leaving
   * out Proxy-Authorization escapes neither. Stand-ins of two sandboxes together are refused.
   */
  #adoptOwner(sightings: readonly Sighting[], target: RequestTarget): CompiledSandbox | undefined {
    const first = sightings[0]!.owner;
    const other = sightings.find((s) => s.owner.sandboxId !== first.sandboxId);
    if (other) throw new ProxyRejection('stand_in_wrong_sandbox', 'the request carries stand-in tokens issued to different sandboxes', other.owner.secretId);
    const owner = this.#table.sandbox(first.sandboxId);
    if (!owner) return undefined;
    unexpired(owner.identity);
    const decision = owner.network.decide(target.host);
    if (decision.code) throw new ProxyRejection(decision.code, decision.explain(), first.secretId);
    return owner;
  }

  #liveSandbox(identity: SandboxIdentity): CompiledSandbox {
    const sandbox = this.#table.sandbox(identity.sandboxId);
    if (!sandbox) throw new ProxyRejection('proxy_auth_required', 'this sandbox no longer exists');
    unexpired(sandbox.identity);
    return sandbox;
  }

  /** Every stand-in in the headers, with its owner; undefined when there are none. */
  #sightings(view: RequestHeaderView): Sighting[] | undefined {
    let sightings: Sighting[] | undefined;
    for (const run of scanTokenRuns(view, this.#table.isStandInLength) ?? []) {
      const owner = this.#table.standInOwner(run.text);
      if (owner) (sightings ??= []).push({ owner, run });
    }
    return sightings;
  }

  /** Checks one sandbox's stand-ins in this request and renders their injections (no writes). */
  #resolve(sandbox: CompiledSandbox, sightings: readonly Sighting[] | undefined, view: RequestHeaderView, target: RequestTarget): Resolution | undefined {
    assertNotRevoked(sandbox, sightings);
    let hits: Hit[] | undefined;
    for (const binding of sandbox.live) {
      const secret = binding.secret;
      // Deleted since the sandbox was compiled: its stand-in, if the scan saw it, was refused above.
      if (secret === undefined) continue;
      const matcher = binding.matcher!;
      if (matcher.scanFindsEveryMatch && !scanned(sightings, binding.id)) continue;
      const found = matcher.match(view);
      if (found) (hits ??= []).push({ binding, secret, found, rule: undefined });
    }
    const strays = findStrays(sandbox, sightings, hits);
    if (!hits && !strays) return undefined;
    const secretIds = [...(hits ?? []), ...(strays ?? [])].map((h) => h.secret.id);
    if (!target.secure) {
      const { secret } = (hits ?? strays)![0]!;
      throw new ProxyRejection('cleartext_injection_refused', `secret ${JSON.stringify(secret.name)} is only sent over https`, secret.id, secretIds);
    }
    for (const hit of hits ?? []) {
      hit.rule = hit.secret.ruleFor(target.host, hit.found.shape);
      if (!hit.rule) throw new ProxyRejection('credential_host_mismatch', hit.secret.explainMismatch(target.host), hit.secret.id, secretIds);
    }
    for (const { secret } of strays ?? []) {
      if (!secret.hosts.matches(target.host)) throw new ProxyRejection('credential_host_mismatch', secret.explainMismatch(target.host), secret.id, secretIds);
    }
    const resolution: Resolution = { planned: [], swaps: [], matches: [], forms: [], allowRange: true };
    for (const { binding, secret, found, rule } of hits ?? []) {
      resolution.allowRange &&= secret.allowRange;
      const real = secret.value.reveal();
      const injection = rule!.injector.render(real, found.clientUsername);
      resolution.planned.push({ strip: found.headers, set: injection.headers, secret });
      resolution.matches.push({ secretId: secret.id, secretName: secret.name, authType: rule!.injector.authType, rule: rule!.explanation });
      resolution.forms.push(binding.valueForms(real));
      if (injection.basicUsername !== undefined) resolution.forms.push(binding.basicForms(injection.basicUsername, real));
    }
    for (const { binding, secret, run } of strays ?? []) {
      resolution.allowRange &&= secret.allowRange;
      const real = secret.value.reveal();
      const swap = planInPlaceSwap(run, binding.standIn, real, view.headers, secret);
      resolution.swaps.push(swap);
      resolution.matches.push({
        secretId: secret.id,
        secretName: secret.name,
        authType: IN_PLACE_AUTH_TYPE,
        rule: `secret ${JSON.stringify(secret.name)} allows ${secret.hosts.explain()} (in place: ${run.header}${run.inBasicPassword ? ' basic password' : ''})`,
      });
      resolution.forms.push(binding.valueForms(real));
      if (swap.basicUsername !== undefined) resolution.forms.push(binding.basicForms(swap.basicUsername, real));
    }
    return resolution;
  }
}

/**
 * The sandbox's own stand-ins the scan saw where no shape matched them (another header, another
 * scheme, inside a longer value), one per binding and place. Undefined when there are none.
 */
function findStrays(sandbox: CompiledSandbox, sightings: readonly Sighting[] | undefined, hits: readonly Hit[] | undefined): Stray[] | undefined {
  let strays: Stray[] | undefined;
  for (const { owner, run } of sightings ?? []) {
    if (owner.sandboxId !== sandbox.identity.sandboxId) continue;
    const binding = sandbox.binding(owner.bindingId);
    if (!binding?.secret) continue;
    if (hits?.some((h) => h.binding.id === binding.id && h.found.headers.includes(run.header))) continue;
    if (strays?.some((s) => s.binding.id === binding.id && s.run.header === run.header && s.run.inBasicPassword === run.inBasicPassword)) continue;
    (strays ??= []).push({ binding, secret: binding.secret, run });
  }
  return strays;
}

/**
 * The identity while its expiry is ahead; 407 sandbox_expired after, also on a tunnel opened
 * before it (checked per request). One comparison with the compiled epoch, no I/O.
 */
function unexpired<T extends SandboxIdentity>(identity: T): T {
  if (identity.expiresAt !== undefined && Date.now() >= identity.expiresAt) {
    throw new ProxyRejection('sandbox_expired', `sandbox ${JSON.stringify(identity.sandboxName)} expired at ${new Date(identity.expiresAt).toISOString()}`);
  }
  return identity;
}

/** Whether the scan saw this binding's stand-in somewhere in the request. */
function scanned(sightings: readonly Sighting[] | undefined, bindingId: number): boolean {
  if (sightings) for (const { owner } of sightings) if (owner.bindingId === bindingId) return true;
  return false;
}

function assertOwnStandIns(sandbox: CompiledSandbox, sightings: readonly Sighting[] | undefined): void {
  const foreign = sightings?.find((s) => s.owner.sandboxId !== sandbox.identity.sandboxId);
  if (foreign) throw new ProxyRejection('stand_in_wrong_sandbox', 'the request carries a stand-in token issued to another sandbox', foreign.owner.secretId);
}

function assertNotRevoked(sandbox: CompiledSandbox, sightings: readonly Sighting[] | undefined): void {
  if (!sightings) return;
  for (const { owner } of sightings) {
    if (owner.sandboxId !== sandbox.identity.sandboxId) continue;
    const refusal = sandbox.binding(owner.bindingId)?.refusal;
    if (refusal) throw new ProxyRejection(refusal.code, refusal.detail, owner.secretId);
  }
}
