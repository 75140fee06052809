import type { IncomingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';

/** The sandbox a tunnel or request belongs to, established from Proxy-Authorization. */
export interface SandboxIdentity {
  readonly sandboxId: string;
  readonly sandboxName: string;
  /** Epoch ms from which its token no longer authenticates (407 sandbox_expired); absent = never. */
  readonly expiresAt?: number;
}

/** One stand-in found in a request: which secret it stands for, for the audit row and metrics. */
export interface CredentialMatch {
  readonly secretId: string;
  readonly secretName: string;
  /** bearer | basic | api-key | custom (per_host reports the shape actually injected). */
  readonly authType: string;
  /** The rule that allowed it, from explain(), e.g. `secret openai allows api.openai.com`. */
  readonly rule: string;
}

/** Puts back the stand-in wherever an upstream echoes the injected real value (docs/contract.md#never-leak). */
export interface EchoScrubber {
  /** The content-codings it decodes, sent upstream as Accept-Encoding in place of the client's. */
  readonly acceptEncoding: string;
  /** Rewrites response header values in place (Node's lowercased header object). */
  scrubHeaders(headers: Record<string, string | string[] | undefined>): void;
  /**
   * A streaming transform for the response body with a bounded look-behind; receives the
   * response's content-encoding and decodes it when it has to (then reports 'identity').
   * Undefined when it cannot decode that encoding: the body cannot be searched and must not be relayed.
   */
  bodyTransform(contentEncoding: string | undefined): { transform: Transform; contentEncoding: string | undefined } | undefined;
  /**
   * For a body the scrubber reads as is (no or identity content-encoding): the same replacement
   * as bodyTransform, called synchronously per chunk, so the relay writes in the tick undici
   * delivers (no stream, no extra tick, one TLS record for a small response). Undefined when the
   * body must be decoded; a scrubber without this method always goes through bodyTransform.
   */
  bodyReplacer?(contentEncoding: string | undefined): ChunkReplacer | undefined;
  /** One complete payload (a WebSocket message or control frame) with every echoed form replaced. */
  scrubMessage(payload: Buffer): Buffer;
}

/** Replaces patterns in a byte stream fed chunk by chunk; each call returns the bytes safe to emit. */
export interface ChunkReplacer {
  write(chunk: Buffer): Buffer[];
  /** Whatever was held back, at the end of the stream. */
  end(): Buffer[];
}

export interface InjectionResult {
  /** Empty when the request carried no stand-in of this sandbox. */
  readonly matches: readonly CredentialMatch[];
  /** Present when a real value was injected. */
  readonly scrubber: EchoScrubber | undefined;
  /**
   * For an unattributed request (proxy.requireAuth false) whose stand-ins were honoured: the
   * sandbox they belong to, under whose identity (and network rules) it went and is recorded.
   */
  readonly identity?: SandboxIdentity;
  /**
   * True when every secret injected opts in to Range requests (`auth.allow_range`). Otherwise an
   * injected request loses Range / If-Range: a 206 fragment of an echo cannot be scrubbed across
   * fragments, and a sandbox could fetch an echo in pieces and join them.
   */
  readonly allowRange?: boolean;
}

/** Where the request is going, as the proxy established it (never from the Host header). */
export interface RequestTarget {
  /** Lowercased host name or IP literal, no brackets, no port. */
  readonly host: string;
  readonly port: number;
  /** true inside a CONNECT tunnel (TLS to the upstream), false for absolute-URI http requests. */
  readonly secure: boolean;
}

/**
 * The seam between the data plane and the credential rules. The proxy calls it once per tunnel
 * (authenticate, checkEgress) and once per request (authorizeRequest); every method either
 * returns or throws a ProxyRejection. It never does disk I/O for an unknown token.
 */
export interface ProxyPolicy {
  /**
   * Proxy-Authorization → identity. Returns null for an unattributed request when
   * proxy.requireAuth is false; throws ProxyRejection('proxy_auth_required') otherwise.
   */
  authenticate(proxyAuthorization: string | undefined): SandboxIdentity | null;
  /**
   * The sandbox a transparent connection belongs to (no Proxy-Authorization there): the
   * listener's `transparent.sandbox` (name or id) when set, else the sandbox that declared
   * `sourceAddress` in its `source_addresses`. Throws proxy_auth_required for anything else
   * (unknown source, missing or ambiguous sandbox), whatever proxy.requireAuth says.
   */
  identifyTransparent(boundSandbox: string | undefined, sourceAddress: string | undefined): SandboxIdentity | null;
  /** The sandbox's network.allow_out / deny_out for a host; throws host_denied / host_not_allowed. */
  checkEgress(identity: SandboxIdentity | null, host: string): void;
  /**
   * Finds stand-in tokens in the request headers, checks them (identity still valid, revoked,
   * cleartext, host) and rewrites the headers in place (strip, then set). Throws ProxyRejection.
   */
  authorizeRequest(identity: SandboxIdentity | null, target: RequestTarget, headers: IncomingHttpHeaders): InjectionResult;
}

/** A policy that authenticates nobody and injects nothing: the data plane on its own. */
export const PASS_THROUGH_POLICY: ProxyPolicy = {
  authenticate: () => null,
  identifyTransparent: () => null,
  checkEgress: () => undefined,
  authorizeRequest: () => ({ matches: [], scrubber: undefined }),
};
