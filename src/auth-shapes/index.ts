import { API_KEY } from './api-key.js';
import type { AuthShape, AuthShapeMatch } from './auth-shape.js';
import { BASIC } from './basic.js';
import { BEARER } from './bearer.js';
import { CUSTOM } from './custom.js';

/**
 * Every auth shape by its API name. Adding a shape is one module and one line here; the
 * validator, the stored-form reader, the injector and the stand-in matcher all look it up.
 * The order is the order messages list them in.
 */
export const AUTH_SHAPES = { bearer: BEARER, basic: BASIC, 'api-key': API_KEY, custom: CUSTOM } as const;

type RuleOf<S> = S extends AuthShape<infer R> ? R : never;

/** A single auth shape, as stored in a secret's auth_config (the API's rule minus nothing). */
export type AuthRule = RuleOf<(typeof AUTH_SHAPES)[keyof typeof AUTH_SHAPES]>;

export type AuthType = AuthRule['type'] | 'per_host';

export type PerHostRule = AuthRule & { readonly hosts: readonly string[] };

export type ShapeMatch = AuthShapeMatch<AuthRule>;

/** `bearer, basic, api-key, custom`, for messages. */
export const AUTH_SHAPE_NAMES = Object.keys(AUTH_SHAPES).join(', ');

// Each entry's rule type is its key's, so shapeOf hands a rule only to its own shape.
const BY_TYPE: ReadonlyMap<string, AuthShape<AuthRule>> = new Map(Object.entries(AUTH_SHAPES));

/** The shape called `type` (an API or stored name, so anything), or undefined. */
export function findAuthShape(type: unknown): AuthShape<AuthRule> | undefined {
  return typeof type === 'string' ? BY_TYPE.get(type) : undefined;
}

/** The module of a parsed rule's shape. */
export function shapeOf(rule: AuthRule): AuthShape<AuthRule> {
  return BY_TYPE.get(rule.type)!;
}

export type {
  AuthShape,
  AuthShapeMatch,
  BasicCredentials,
  Injection,
  RejectInput,
  RenderedHeader,
  RenderInjection,
  ShapeInput,
  ShapeRequestView,
} from './auth-shape.js';
export { SHAPE_INPUT_FIELDS } from './auth-shape.js';
export { latin1, toWire } from './header-bytes.js';
