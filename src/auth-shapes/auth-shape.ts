import type { IncomingHttpHeaders } from 'node:http';

/**
 * The contract every auth shape (bearer, basic, api-key, custom) keeps, as tokenizer's processor
 * types do: one module owns a shape's validation, stored form, rendering and matching, and
 * index.ts maps the shape names to those modules. per_host is not a shape: it lists shapes.
 */
export interface AuthShape<R extends { readonly type: string }> {
  readonly type: R['type'];
  /**
   * Checks one shape as sent to the API and returns its stored fields (the rule minus `type`);
   * `path` (`auth`, `auth.per_host[1]`) prefixes the messages `reject` is called with.
   */
  validate(input: ShapeInput, path: string, reject: RejectInput): Record<string, unknown>;
  /**
   * Reads the stored form (a secret's auth_config, or one per_host entry) back into the rule;
   * throws `fault(why)` when it is unusable (`why` never quotes a value).
   */
  parse(config: Readonly<Record<string, unknown>>, fault: (why: string) => Error): R;
  /** Compiled once per rule: the headers a real value is sent in. */
  compileRender(rule: R): RenderInjection;
  /** Compiled once per binding: finds its stand-in written in this shape, in constant time. */
  compileMatch(rule: R, standIn: string): ShapeCheck<R>;
  /**
   * The literal text around the stand-in in each header value the shape reads (n placeholders,
   * n + 1 parts), so the request scan can tell whether a stand-in ever stands glued to token
   * characters.
   */
  surroundings(rule: R): readonly (readonly string[])[];
}

/** One auth shape's fields as sent to the API; empty strings and empty maps already read as absent. */
export interface ShapeInput {
  readonly type: string | undefined;
  readonly header: string | undefined;
  readonly prefix: string | undefined;
  readonly username: string | undefined;
  readonly headers: Record<string, string> | undefined;
}

/** The API fields of a shape, every shape's together (a body's unknown fields are refused). */
export const SHAPE_INPUT_FIELDS = ['type', 'header', 'prefix', 'username', 'headers'] as const;

/** Refuses an API body with the message (the admin API's 400). */
export type RejectInput = (message: string) => never;

/** A decoded `Authorization: Basic` header. */
export interface BasicCredentials {
  readonly username: string;
  /** The password's raw bytes, for a constant-time comparison. */
  readonly password: Buffer;
}

/** What a shape's matcher reads of a request (rules/request-headers.ts parses it once per request). */
export interface ShapeRequestView {
  readonly headers: IncomingHttpHeaders;
  /** The token of `Authorization: Bearer <t>`. */
  bearer(): Buffer | undefined;
  basic(): BasicCredentials | undefined;
}

/** Where a stand-in was found: the shape it arrived in, the headers to strip and, for Basic, the client's username. */
export interface AuthShapeMatch<R> {
  /** The secret's shape that matched (the rule its check was compiled from). */
  readonly shape: R;
  /** Lowercased names of the headers that carried the stand-in. */
  readonly headers: readonly string[];
  /** The username of a Basic header the stand-in came in; kept when the rule names none. */
  readonly clientUsername: string | undefined;
}

export type ShapeCheck<R> = (view: ShapeRequestView) => AuthShapeMatch<R> | undefined;

/** One outgoing header holding a real value; lives only for the request being rewritten. */
export interface RenderedHeader {
  /** Lowercased. */
  readonly name: string;
  readonly value: string;
}

export interface Injection {
  readonly headers: readonly RenderedHeader[];
  /** The username of an injected Basic header, so the scrubber knows `base64(user:real)`. */
  readonly basicUsername: string | undefined;
}

/** Renders a real value in one rule's shape. */
export type RenderInjection = (real: string, clientUsername: string | undefined) => Injection;
