import { randomFillSync } from 'node:crypto';

/** Random bytes per id: 96 bits, so ids stay unique across restarts and a fleet's sidecars. */
const ID_BYTES = 12;
/** Drawn from the CSPRNG a pool at a time: one call per 341 ids instead of one each. */
const pool = Buffer.alloc(ID_BYTES * 341);
let offset = pool.length;

/**
 * A request's id: 24 lowercase hex characters of fresh randomness (≈ 150 ns), sent to the
 * client as `X-Credproxy-Request-Id` and kept in the access log line and the audit row, so a
 * user can quote it. Random rather than a counter: a counter would tell one sandbox how much
 * traffic the others make. Collisions are as unlikely as 96-bit ones are (1 in 10⁵ after 10¹²).
 */
export function newRequestId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}

/** The response header that carries it. */
export const REQUEST_ID_HEADER = 'X-Credproxy-Request-Id';
