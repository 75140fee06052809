import { readFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, rootCertificates, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';

/**
 * `credproxy doctor`: checks a sandbox's environment against the running proxy, the way its
 * clients will use it. Each check is a real exchange: a TCP connect to the proxy, a CONNECT with
 * the access token from HTTPS_PROXY, a TLS handshake through the tunnel verified against each CA
 * bundle variable, and a GET to the host, which the proxy resolves and sends on over verified TLS.
 */

/** The variables the sandbox env sets for CA trust (docs/contract.md#sandbox-env), in the order they are reported. */
export const CA_VARIABLES = ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'NODE_EXTRA_CA_CERTS'] as const;

export interface DoctorInputs {
  /** The HTTPS_PROXY URL, `http://sb:<access_token>@host:port`. */
  readonly proxyUrl: URL;
  /** Where each CA variable points; NODE_EXTRA_CA_CERTS adds to the system roots, the others replace them. */
  readonly caBundles: ReadonlyArray<{ readonly variable: string; readonly path: string }>;
  readonly host: string;
  readonly port: number;
  /** Bound on every step. */
  readonly timeoutMs: number;
}

export interface CheckResult {
  readonly check: string;
  readonly status: 'ok' | 'FAIL' | 'skip';
  readonly detail: string;
  readonly hint?: string;
}

/** A response head as read off a raw socket, with the start of its body (the proxy's one-line hint). */
interface RawResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

const MAX_HEAD_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 4 * 1024;

/** Runs every check in order; one that cannot run because an earlier one failed is `skip`. */
export async function runDoctor(inputs: DoctorInputs): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const proxy = `${inputs.proxyUrl.hostname}:${proxyPort(inputs.proxyUrl)}`;
  const target = `${inputs.host}:${inputs.port}`;

  const reach = await attempt(() => openSocket(inputs), inputs.timeoutMs);
  if (reach instanceof Error) {
    results.push(
      fail(
        'proxy reachable',
        `${proxy}: ${reason(reach)}`,
        'Is credproxy serve running there? HTTPS_PROXY must name its proxy listener (the "proxy" address of the ready line).',
      ),
    );
    return [...results, ...skipAfter('proxy reachable', ['token authenticates', 'CA trusted', 'host reachable'])];
  }
  reach.destroy();
  results.push({ check: 'proxy reachable', status: 'ok', detail: proxy });

  const auth = proxyAuthorization(inputs.proxyUrl);
  if (auth === undefined) {
    results.push(
      fail(
        'token authenticates',
        'HTTPS_PROXY carries no credentials',
        'Use the HTTPS_PROXY value of the sandbox env: http://sb:<access_token>@host:port (credproxy env <sandbox-id>).',
      ),
    );
    return [...results, ...skipAfter('token authenticates', ['CA trusted', 'host reachable'])];
  }
  const first = await attempt(() => openTunnel(inputs, auth), inputs.timeoutMs);
  if (first instanceof Error) {
    results.push(
      fail(
        'token authenticates',
        `CONNECT ${target}: ${reason(first)}`,
        'The proxy did not answer the CONNECT; check that HTTPS_PROXY names the proxy listener, not the admin one.',
      ),
    );
    return [...results, ...skipAfter('token authenticates', ['CA trusted', 'host reachable'])];
  }
  if (!(first instanceof Tunnel)) {
    const code = first.headers.get('x-credproxy-reason') ?? `HTTP ${first.status}`;
    if (first.status === 407) {
      results.push(fail('token authenticates', `CONNECT ${target}: 407 ${code}`, hintOf(first)));
      return [...results, ...skipAfter('token authenticates', ['CA trusted', 'host reachable'])];
    }
    // Identity is checked first: any other refusal of the CONNECT came after the token was accepted.
    results.push({ check: 'token authenticates', status: 'ok', detail: `the proxy accepted the sandbox (then answered ${first.status} ${code})` });
    results.push({ check: 'CA trusted', status: 'skip', detail: 'no tunnel to test it through (see host reachable)' });
    results.push(fail('host reachable', `CONNECT ${target}: ${first.status} ${code}`, hintOf(first)));
    return results;
  }
  results.push({ check: 'token authenticates', status: 'ok', detail: `CONNECT ${target}: 200` });

  const trusted = await checkBundles(inputs, auth, first);
  results.push(trusted.result);
  if (!trusted.socket) return [...results, ...skipAfter('CA trusted', ['host reachable'])];
  results.push(await checkHost(inputs, trusted.socket));
  return results;
}

/** A CONNECT the proxy answered 200: the socket, ready for TLS. */
class Tunnel {
  constructor(readonly socket: Socket) {}
}

/**
 * One TLS handshake per distinct bundle, each through its own tunnel (the first one's is given).
 * Returns the first verified connection for the host check, left open.
 */
async function checkBundles(inputs: DoctorInputs, auth: string, first: Tunnel): Promise<{ result: CheckResult; socket?: TLSSocket }> {
  if (inputs.caBundles.length === 0) {
    first.socket.destroy();
    return {
      result: fail(
        'CA trusted',
        `none of ${CA_VARIABLES.join(', ')} is set`,
        "Start the sandbox with its env (credproxy env <sandbox-id>): it points them at credproxy's CA bundle.",
      ),
    };
  }
  const byPath = new Map<string, string[]>();
  for (const { variable, path } of inputs.caBundles) byPath.set(path, [...(byPath.get(path) ?? []), variable]);
  let verified: TLSSocket | undefined;
  const failures: string[] = [];
  for (const [path, variables] of byPath) {
    const tunnel = verified === undefined && failures.length === 0 ? first : await attempt(() => openTunnel(inputs, auth), inputs.timeoutMs);
    const label = `${variables.join(', ')}=${path}`;
    if (!(tunnel instanceof Tunnel)) {
      failures.push(`${label}: no tunnel (${tunnel instanceof Error ? reason(tunnel) : tunnel.status})`);
      continue;
    }
    const tls = await attempt(() => handshake(tunnel.socket, inputs.host, path, variables.includes('NODE_EXTRA_CA_CERTS')), inputs.timeoutMs);
    if (tls instanceof Error) {
      tunnel.socket.destroy();
      failures.push(`${label}: ${reason(tls)}`);
    } else if (verified === undefined) {
      verified = tls;
    } else {
      tls.destroy();
    }
  }
  if (failures.length > 0) {
    verified?.destroy();
    return {
      result: fail(
        'CA trusted',
        failures.join('; '),
        "Point the variable at the CA bundle of the sandbox env (system roots + credproxy's CA; credproxy ca prints the CA).",
      ),
    };
  }
  return {
    result: { check: 'CA trusted', status: 'ok', detail: `${[...byPath.values()].flat().join(', ')} verify the proxy's certificate for ${inputs.host}` },
    socket: verified!,
  };
}

/** GET / through the verified tunnel: the proxy resolves the host and verifies its certificate. */
async function checkHost(inputs: DoctorInputs, socket: TLSSocket): Promise<CheckResult> {
  const target = `${inputs.host}:${inputs.port}`;
  socket.write(`GET / HTTP/1.1\r\nHost: ${inputs.host}\r\nUser-Agent: credproxy-doctor\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
  const res = await attempt(() => readResponse(socket, false), inputs.timeoutMs);
  socket.destroy();
  if (res instanceof Error)
    return fail('host reachable', `GET https://${target}/: ${reason(res)}`, 'The proxy did not answer in time; see its log for this request.');
  if (res.headers.get('x-credproxy-error') === 'true') {
    return fail('host reachable', `GET https://${target}/: ${res.status} ${res.headers.get('x-credproxy-reason') ?? ''}`.trimEnd(), hintOf(res));
  }
  return {
    check: 'host reachable',
    status: 'ok',
    detail: `${target} resolved and its certificate verified at the proxy (the upstream answered ${res.status})`,
  };
}

function openSocket(inputs: DoctorInputs): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(proxyPort(inputs.proxyUrl), inputs.proxyUrl.hostname.replace(/^\[|\]$/g, ''));
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** CONNECT host:port with the token: a Tunnel on 200, else the proxy's answer (the socket then closed). */
async function openTunnel(inputs: DoctorInputs, auth: string): Promise<Tunnel | RawResponse> {
  const socket = await openSocket(inputs);
  const target = `${inputs.host}:${inputs.port}`;
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\nUser-Agent: credproxy-doctor\r\n\r\n`);
  try {
    const res = await readResponse(socket, true);
    if (res.status === 200) return new Tunnel(socket);
    socket.destroy();
    return res;
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

async function handshake(socket: Socket, host: string, path: string, extraRoots: boolean): Promise<TLSSocket> {
  const pem = await readFile(path, 'utf8');
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername: host, ca: extraRoots ? [...rootCertificates, pem] : pem, ALPNProtocols: ['http/1.1'] });
    tls.once('secureConnect', () => resolve(tls));
    tls.once('error', reject);
  });
}

/**
 * Reads one response head, then (unless `untilHead`, for a CONNECT's 200, after which TLS
 * starts) the start of its body until Content-Length, the end, or MAX_BODY_BYTES.
 */
function readResponse(stream: Duplex, untilHead: boolean): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let head: { status: number; headers: Map<string, string>; bodyAt: number } | undefined;
    const finish = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', reject);
      if (!head) return reject(new Error('the connection closed before a response'));
      const body = buffered.subarray(head.bodyAt, head.bodyAt + MAX_BODY_BYTES).toString('utf8');
      resolve({ status: head.status, headers: head.headers, body });
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!head) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffered.length > MAX_HEAD_BYTES) reject(new Error('response head too large'));
          return;
        }
        head = parseHead(buffered.subarray(0, end).toString('latin1'), end + 4);
        if (untilHead && head.status === 200) return finish();
      }
      const length = Number(head.headers.get('content-length') ?? Number.NaN);
      const have = buffered.length - head.bodyAt;
      if (have >= MAX_BODY_BYTES || (Number.isFinite(length) && have >= length)) finish();
    };
    const onEnd = (): void => finish();
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', reject);
  });
}

function parseHead(text: string, bodyAt: number): { status: number; headers: Map<string, string>; bodyAt: number } {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 60))}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status, headers, bodyAt };
}

/** `Basic base64(user:password)` from the URL's userinfo, or undefined when it has none. */
function proxyAuthorization(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}

function proxyPort(url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
}

/** The proxy's one-line hint (its rejection body), or a pointer to the reason code's documentation. */
function hintOf(res: RawResponse): string {
  const line = res.body.split('\n')[0]?.trim();
  return line || 'See docs/errors.md for the reason code.';
}

/** Runs `step` and bounds it; a failure or timeout comes back as the Error. */
async function attempt<T>(step: () => Promise<T>, timeoutMs: number): Promise<T | Error> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([step().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function reason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

function fail(check: string, detail: string, hint: string): CheckResult {
  return { check, status: 'FAIL', detail, hint };
}

function skipAfter(failed: string, checks: readonly string[]): CheckResult[] {
  return checks.map((check) => ({ check, status: 'skip' as const, detail: `needs ${failed}` }));
}
