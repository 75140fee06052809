import { request } from 'undici';

/**
 * An admin-API body whose type the call site has not named (`api<SandboxInfo>(…)` names it). The
 * one deliberate `any` of the helpers: most tests read a field or two of a reply they just asserted.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type UntypedJson = any;

export interface ApiResponse<T = UntypedJson> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed body, or undefined when it is empty or not JSON. */
  json: T;
}

/** `api(method, path, body?, headers?)`: a JSON body, the key sent unless `headers` set it otherwise. */
export type ApiCall = <T = UntypedJson>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiResponse<T>>;

export interface CallOptions {
  /** JSON body; sent with content-type application/json. */
  json?: unknown;
  /** Raw body with the headers given. */
  body?: string;
  /** Replaces the default X-API-Key header entirely. */
  headers?: Record<string, string>;
}

/** `call(method, path, options)`: for requests with a raw body or without the key. */
export type RawCall = <T = UntypedJson>(method: string, path: string, options?: CallOptions) => Promise<ApiResponse<T>>;

/** The two ways a test calls an admin API at `base()` (read at each call: a control plane may restart) with `apiKey`. */
export function adminClient(base: () => string, apiKey: string): { api: ApiCall; call: RawCall } {
  const send = async <T>(method: string, path: string, headers: Record<string, string>, body: string | undefined): Promise<ApiResponse<T>> => {
    const res = await request(base() + path, { method: method as 'GET', headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, json: json as T };
  };
  const jsonHeaders = (body: unknown): Record<string, string> => (body === undefined ? {} : { 'content-type': 'application/json' });
  return {
    api: (method, path, body, headers = {}) =>
      send(method, path, { 'x-api-key': apiKey, ...jsonHeaders(body), ...headers }, body === undefined ? undefined : JSON.stringify(body)),
    call: (method, path, options = {}) => {
      const headers = options.headers ?? { 'x-api-key': apiKey };
      if (options.json === undefined) return send(method, path, headers, options.body);
      return send(method, path, { ...jsonHeaders(options.json), ...headers }, JSON.stringify(options.json));
    },
  };
}
