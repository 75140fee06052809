/** Codes for agent-style errors, which carry only a status. */
const STATUS_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  422: 'unprocessable_entity',
  500: 'internal_error',
};

/**
 * A failed admin API call. `code` is the envelope's code (`not_found`, `conflict`, …), derived
 * from the status for agent-style `{status, detail}` errors, `network_error` when the daemon
 * could not be reached. The message is the server's; it never contains the API key.
 */
export class RequestError extends Error {
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  readonly code: string;
  /**
   * The agent envelope's `details`, e.g. `{missing: [...]}` for a refused run; a 404's names what
   * was missing in `code` (`agent_not_found`, `secret_not_found`), the field to branch on.
   */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'RequestError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Reads either error envelope from a response body; falls back to the status line. */
  static fromResponse(status: number, body: unknown): RequestError {
    if (body && typeof body === 'object') {
      const envelope = body as { error?: { code?: unknown; message?: unknown }; detail?: unknown; details?: unknown };
      if (envelope.error && typeof envelope.error.message === 'string') {
        const code = typeof envelope.error.code === 'string' ? envelope.error.code : codeForStatus(status);
        return new RequestError(status, code, envelope.error.message);
      }
      if (typeof envelope.detail === 'string') {
        const details = envelope.details && typeof envelope.details === 'object' ? (envelope.details as Record<string, unknown>) : undefined;
        return new RequestError(status, codeForStatus(status), envelope.detail, details);
      }
    }
    return new RequestError(status, codeForStatus(status), `HTTP ${status}`);
  }
}

function codeForStatus(status: number): string {
  return STATUS_CODES[status] ?? `http_${status}`;
}
