/**
 * Every error a person can see, by surface: proxy rejections (docs/contract.md#rejections), admin API envelope
 * codes (§4) and configuration errors. Callers branch on `code`, never on `instanceof`.
 * docs/errors.md documents each code with how to fix it.
 */

// One row per code, a table: the formatter would break its longest rows into blocks that only repeat each other.
// prettier-ignore
export const REJECTIONS = {
  proxy_auth_required: { status: 407, hint: 'Send Proxy-Authorization: use the HTTPS_PROXY URL from the sandbox env (http://sb:<access_token>@host:port).' },
  sandbox_expired: { status: 407, hint: 'This sandbox is past its expiry (ttl / expires_at); create a new sandbox and start from its env.' },
  stand_in_wrong_sandbox: { status: 403, hint: "This stand-in token belongs to another sandbox; use the tokens from this sandbox's own env." },
  credential_host_mismatch: { status: 403, hint: "This secret may not be sent to this host; add the host to the secret's hosts or call an allowed host." },
  host_denied: { status: 403, hint: "The sandbox's network.deny_out blocks this host." },
  host_not_allowed: { status: 403, hint: "The sandbox's network.allow_out does not include this host." },
  internal_address_denied: { status: 403, hint: 'Loopback, private and link-local addresses are not reachable; set egress.allowPrivateNetworks or upstream.resolve if this is intended.' },
  cleartext_injection_refused: { status: 403, hint: 'Credentials are only injected over https; call https:// instead of http://.' },
  credential_revoked: { status: 503, hint: 'The secret behind this stand-in was deleted; create it again and bind it to a sandbox.' },
  proxy_token_revoked: { status: 503, hint: 'This stand-in was detached from the sandbox; attach the secret again for a new token.' },
  body_too_large: { status: 413, hint: 'The request body exceeds proxy.maxBodyBytes.' },
  upstream_unreachable: { status: 502, hint: 'The upstream refused or dropped the connection, or its name did not resolve.' },
  upstream_tls_error: { status: 502, hint: "The upstream's TLS certificate did not verify; add its CA with upstream.caFile if it is private." },
  upstream_timeout: { status: 504, hint: 'The upstream did not connect or answer in time.' },
  policy_unavailable: { status: 503, hint: 'This sidecar cannot reach its control plane and its policy bundle is older than fleet.maxBundleAgeMs; check fleet.controlUrl and the control plane.' },
  upstream_encoding_unsupported: { status: 502, hint: 'The upstream answered in a content or transfer coding credproxy cannot decode, so echoes of the injected credential could not be removed and the response was withheld.' },
  inject_error: { status: 502, hint: "The credential could not be placed in the request (e.g. it contains CR/LF); fix the secret's value or auth config." },
  bad_request: { status: 400, hint: 'The request could not be parsed as HTTP/1.1.' },
} as const;

export type RejectionCode = keyof typeof REJECTIONS;

/** A refusal made by the proxy itself; written to the client by proxy/reject.ts only. */
export class ProxyRejection extends Error {
  readonly code: RejectionCode;
  readonly status: number;
  /** Extra sentence for the body, e.g. the rule's explain(); never a credential. */
  readonly detail: string | undefined;
  /**
   * Every secret a stand-in of which the refused request carried, the one that caused the refusal
   * first: one audit row each (docs/contract.md#audit).
   */
  readonly secretIds: readonly string[];

  constructor(code: RejectionCode, detail?: string, secretId?: string, alsoFound: Iterable<string | undefined> = []) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'ProxyRejection';
    this.code = code;
    this.status = REJECTIONS[code].status;
    this.detail = detail;
    const ids = new Set<string>();
    for (const id of [secretId, ...alsoFound]) if (id !== undefined) ids.add(id);
    this.secretIds = [...ids];
  }

  /** The secret whose stand-in caused the refusal, when one did. */
  get secretId(): string | undefined {
    return this.secretIds[0];
  }

  /** The same refusal, also naming the secrets of other stand-ins the request carried. */
  alsoFound(secretIds: Iterable<string | undefined>): ProxyRejection {
    return new ProxyRejection(this.code, this.detail, undefined, [...this.secretIds, ...secretIds]);
  }
}

export const API_ERRORS = {
  bad_request: 400,
  secret_not_found: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  /** The agent API's validation failures only (its own envelope). */
  unprocessable_entity: 422,
  internal_error: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An admin API failure; api/error-envelope.ts turns it into `{"error":{"code","message"}}`. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;

  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code];
  }
}

/**
 * What the stores and services refuse, by what happened; api/error-envelope.ts maps each to a
 * status, an envelope code and the client's message, so nothing below api/ knows HTTP.
 */
export const DOMAIN_ERROR_CODES = [
  'secret_not_found',
  'secret_name_taken',
  'sandbox_not_found',
  'sandbox_name_taken',
  'address_claimed',
  'binding_secret_missing',
  'binding_limit',
  'env_key_bound',
  'env_key_in_env_vars',
  'env_key_not_bound',
  'bad_cursor',
  'sidecar_name_invalid',
  'sidecar_name_taken',
  'sidecar_not_found',
  'agent_not_found',
  'agent_name_taken',
  'agent_name_invalid',
  'agent_invalid',
  'agent_secrets_invalid',
  'agent_secrets_missing',
  'agent_sandbox_elsewhere',
  'agent_run_invalid',
] as const;

export type DomainErrorCode = (typeof DOMAIN_ERROR_CODES)[number];

/**
 * A refusal of the control plane's rules, with the facts a message needs (names, keys, never a
 * value). The message is the code: the client's text is written in api/.
 */
export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly facts: Readonly<Record<string, unknown>>;

  constructor(code: DomainErrorCode, facts: Record<string, unknown> = {}) {
    super(code);
    this.name = 'DomainError';
    this.code = code;
    this.facts = facts;
  }
}

/** Codes of the errors that stop `credproxy serve` at start-up; the CLI prints the message and exits 2. */
export const STARTUP_ERROR_CODES = ['config_invalid', 'listen_failed'] as const;

/** A configuration value that cannot be used; the CLI prints the message and exits 2. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  /** The config key (dotted path) at fault. */
  readonly key: string;

  constructor(key: string, message: string) {
    super(`invalid configuration: ${key}: ${message}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/** A listener that could not be bound; the CLI prints the message and exits 2. */
export class ListenError extends Error {
  readonly code = 'listen_failed';
  /** The listen key at fault: `proxy.listen`, `admin.listen` or `metrics.listen`. */
  readonly key: string;

  /** `from` is where the address came from (a variable, the config file, the command line). */
  constructor(key: string, address: string, cause: NodeJS.ErrnoException, from?: string) {
    super(`${key} ${address}${from ? ` (from ${from})` : ''}: ${describeSystemError(cause)}`);
    this.name = 'ListenError';
    this.key = key;
  }
}

/** What the operating system's error codes mean for whoever has to fix them. */
const SYSTEM_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent path is not a directory',
  EISDIR: 'is a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary DNS failure)',
};

/**
 * A system error as a short phrase: `address already in use`. A privileged port gets the fix
 * too, since EACCES on bind means exactly that.
 */
export function describeSystemError(err: NodeJS.ErrnoException): string {
  const phrase = SYSTEM_ERRORS[err.code ?? ''];
  if (phrase === undefined) return err.message;
  if (err.code === 'EACCES' && err.syscall === 'listen') return `${phrase} (ports below 1024 need root or CAP_NET_BIND_SERVICE)`;
  return phrase;
}
