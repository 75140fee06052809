import type { Statement } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { Database } from './db.js';

/** Refs remembered per connection; a miss costs one INSERT OR IGNORE and one SELECT. */
const CACHED_REFS = 10_000;

/**
 * The small integer refs an events row holds instead of a sandbox's uuid and name or a secret's
 * uuid (migration 009). A ref, once given, never changes or goes away, so every connection may
 * cache it; two connections that meet a new uuid at once get the same ref (UNIQUE + ON CONFLICT).
 */
export class EventRefs {
  readonly #addSandbox: Statement<[string, string | null]>;
  readonly #sandboxRef: Statement<[string]>;
  readonly #addSecret: Statement<[string]>;
  readonly #secretRef: Statement<[string]>;
  readonly #sandboxes = new LRUCache<string, number>({ max: CACHED_REFS });
  readonly #secrets = new LRUCache<string, number>({ max: CACHED_REFS });

  constructor(db: Database) {
    this.#addSandbox = db.prepare('INSERT INTO audit_sandboxes (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
    this.#sandboxRef = db.prepare('SELECT ref FROM audit_sandboxes WHERE id = ?').pluck();
    this.#addSecret = db.prepare('INSERT INTO audit_secrets (id) VALUES (?) ON CONFLICT (id) DO NOTHING');
    this.#secretRef = db.prepare('SELECT ref FROM audit_secrets WHERE id = ?').pluck();
  }

  /** The sandbox's ref, made on first sight (inside the caller's transaction); its first name is kept. */
  sandbox(id: string | null, name: string | null): number | null {
    if (id === null) return null;
    let ref = this.#sandboxes.get(id);
    if (ref === undefined) {
      this.#addSandbox.run(id, name);
      this.#sandboxes.set(id, (ref = this.#sandboxRef.get(id) as number));
    }
    return ref;
  }

  secret(id: string | null): number | null {
    if (id === null) return null;
    let ref = this.#secrets.get(id);
    if (ref === undefined) {
      this.#addSecret.run(id);
      this.#secrets.set(id, (ref = this.#secretRef.get(id) as number));
    }
    return ref;
  }
}
