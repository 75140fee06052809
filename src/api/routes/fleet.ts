import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import { FLEET_PATHS, PUBLIC_KEY_HEADER, STREAM_EVENTS, type Bundle, type EventBatch } from '../../fleet/protocol.js';
import type { EnvelopeCipher } from '../../secrets/envelope.js';
import { isSealedBoxPublicKey, sealTo } from '../../secrets/sealed-box.js';
import { changesAfter, EventBatchError, type ChangeRecord, type PgStore } from '../../store/postgres/index.js';
import type { ChangeFeed } from '../../control/change-feed.js';

export interface FleetRoutesDeps {
  readonly store: PgStore;
  readonly envelope: EnvelopeCipher;
  readonly feed: ChangeFeed;
  /** `fleet.heartbeatMs`: how often an idle change stream says it is still current. */
  readonly heartbeatMs: number;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const INSTANCE = /^[A-Za-z0-9_-]{8,64}$/;
/** Sidecar routes authenticate with the sidecar token, not the admin API key. */
const sidecarAuth = { auth: false } as const;

/** The control plane's /fleet/ routes: sidecar registry (admin) and what sidecars call. */
export function fleetRoutes(app: FastifyInstance, deps: FleetRoutesDeps): void {
  const { store } = deps;
  app.post(FLEET_PATHS.sidecars, async (request, reply) =>
    reply.code(201).send(await store.fleet.register((request.body as { name?: unknown } | undefined)?.name)),
  );
  app.get(FLEET_PATHS.sidecars, async () => store.fleet.list());
  app.delete<{ Params: { name: string } }>(`${FLEET_PATHS.sidecars}/:name`, async (request, reply) => {
    await store.fleet.remove(request.params.name);
    return reply.code(204).send();
  });

  app.get<{ Querystring: { sandbox?: string | string[]; secret?: string } }>(FLEET_PATHS.bundle, { config: sidecarAuth }, async (request, reply) => {
    const sidecar = await authenticate(request);
    const publicKey = request.headers[PUBLIC_KEY_HEADER];
    if (typeof publicKey !== 'string' || !isSealedBoxPublicKey(publicKey)) {
      throw new ApiError('bad_request', `${PUBLIC_KEY_HEADER} must be the sidecar's X25519 public key (base64 SPKI)`);
    }
    const { secret } = request.query;
    if (secret !== undefined && typeof secret !== 'string') throw new ApiError('bad_request', 'secret must be one secret id');
    const only = request.query.sandbox === undefined ? undefined : [request.query.sandbox].flat();
    const rows = secret !== undefined ? await store.fleet.bundleSecret(sidecar, secret) : await store.fleet.bundle(sidecar, only);
    const bundle: Bundle = {
      seq: rows.seq,
      complete: only === undefined && secret === undefined,
      sandboxes: rows.sandboxes,
      secrets: await Promise.all(rows.secrets.map(async ({ sealed, ...rule }) => ({ ...rule, value: (await deps.envelope.open(sealed, rule.id)).reveal() }))),
    };
    const plain = Buffer.from(JSON.stringify(bundle), 'utf8');
    const sealed = sealTo(publicKey, plain);
    plain.fill(0);
    return reply.type('application/octet-stream').send(sealed);
  });

  app.get<{ Querystring: { after?: string } }>(FLEET_PATHS.changes, { config: sidecarAuth }, async (request, reply) => {
    const sidecar = await authenticate(request);
    const after = Number(request.query.after ?? 0);
    if (!Number.isSafeInteger(after) || after < 0) throw new ApiError('bad_request', 'after must be a change seq (a whole number)');
    streamChanges(deps, request, reply, sidecar, after);
  });

  app.post(FLEET_PATHS.events, { config: sidecarAuth }, async (request) => {
    const sidecar = await authenticate(request);
    const batch = request.body as Partial<EventBatch> | undefined;
    if (typeof batch?.instance !== 'string' || !INSTANCE.test(batch.instance) || !Array.isArray(batch.rows)) {
      throw new ApiError('bad_request', 'body must be {"instance": "<8-64 url-safe chars>", "rows": [[...], ...]}');
    }
    try {
      return { accepted: batch.rows.length, inserted: await store.events.ingest(`${sidecar}/${batch.instance}`, batch.rows) };
    } catch (err) {
      if ((err as { code?: string }).code === 'event_batch_invalid') throw new ApiError('bad_request', (err as EventBatchError).message);
      throw err;
    }
  });

  async function authenticate(request: FastifyRequest): Promise<string> {
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    const sidecar = token === undefined ? undefined : await store.fleet.authenticate(token);
    if (sidecar === undefined)
      throw new ApiError('unauthorized', 'missing or invalid sidecar token: send Authorization: Bearer <token from POST /fleet/sidecars>');
    return sidecar;
  }
}

/**
 * Server-sent events: every change after `after` that may concern this sidecar (replayed from
 * the log, then live from the feed, each seq once and in order), and a heartbeat while idle.
 * A change naming this sidecar itself (its token was revoked) is sent, then the stream ends.
 */
function streamChanges(deps: FleetRoutesDeps, request: FastifyRequest, reply: FastifyReply, sidecar: string, after: number): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  let sent = after;
  let replaying = true;
  const held: ChangeRecord[] = [];
  const write = (text: string): void => {
    if (!res.writableEnded && !res.destroyed) res.write(text);
  };
  const end = (): void => {
    stop();
    res.end();
  };
  const send = (change: ChangeRecord): void => {
    if (change.seq <= sent) return;
    sent = change.seq;
    // Secret changes go to every sidecar (each knows whether it holds one); the rest name theirs.
    if (change.kind !== 'secret' && change.sidecar !== sidecar) return;
    const data = JSON.stringify({ seq: change.seq, kind: change.kind, subjectId: change.subjectId, ...(change.deleted && { deleted: true }) });
    write(`event: ${STREAM_EVENTS.change}\ndata: ${data}\n\n`);
    if (change.kind === 'sidecar' && change.subjectId === sidecar) end();
  };
  const unsubscribe = deps.feed.subscribe((change) => (replaying ? held.push(change) : send(change)));
  const heartbeat = setInterval(() => write(`event: ${STREAM_EVENTS.heartbeat}\ndata: {"seq":${sent}}\n\n`), deps.heartbeatMs);
  function stop(): void {
    unsubscribe();
    clearInterval(heartbeat);
  }
  res.on('close', stop);
  request.raw.on('close', stop);
  void (async () => {
    const { rows } = await deps.store.pool.query<{ oldest: string | null }>('SELECT min(seq) AS oldest FROM changes');
    if (after > 0 && rows[0]?.oldest != null && Number(rows[0].oldest) > after + 1) {
      write(`event: ${STREAM_EVENTS.reset}\ndata: {}\n\n`);
      end();
      return;
    }
    for (let page = await changesAfter(deps.store.pool, sent, 1000); page.length > 0; page = await changesAfter(deps.store.pool, sent, 1000)) {
      for (const change of page) send(change);
      if (res.writableEnded) return;
    }
    replaying = false;
    for (const change of held.splice(0)) send(change);
    // The first heartbeat at once: the sidecar knows it is current from here.
    write(`event: ${STREAM_EVENTS.heartbeat}\ndata: {"seq":${sent}}\n\n`);
  })().catch(() => {
    stop();
    res.destroy();
  });
}
