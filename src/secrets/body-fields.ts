import { ApiError } from '../errors.js';

/**
 * Strict readers for decoded JSON request bodies, in the manner of Go's decoder with
 * DisallowUnknownFields (which Superserve uses): unknown keys and wrong types are 400s that name
 * the field. `null` reads as absent, as it does for Go's omitempty fields. Messages never quote
 * a field's value, so a credential sent in the wrong place cannot reach an error response.
 */

export type JsonObject = Record<string, unknown>;

/** Throws the admin API's 400 with `message`. */
export function badRequest(message: string): never {
  throw new ApiError('bad_request', message);
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * `value` as an object whose keys are all in `allowed`; `path` is its dotted name ('' for the body).
 * Throws `unknown field "auth.foo"` for the first extra key.
 */
export function readObject(value: unknown, path: string, allowed: readonly string[]): JsonObject {
  if (!isObject(value)) badRequest(path === '' ? 'request body must be a JSON object' : `${path} must be an object`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) badRequest(`unknown field "${join(path, key)}"`);
  }
  return value;
}

/** `obj[key]` as a boolean, or undefined when absent or null. */
export function optionalBoolean(obj: JsonObject, key: string, path: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') badRequest(`${join(path, key)} must be a boolean`);
  return value;
}

/** `obj[key]` as a string, or undefined when absent or null. */
export function optionalString(obj: JsonObject, key: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') badRequest(`${join(path, key)} must be a string`);
  return value;
}

/** `obj[key]` as an array (undefined when absent or null); items are checked by the caller. */
export function optionalArray(obj: JsonObject, key: string, path: string): unknown[] | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) badRequest(`${join(path, key)} must be an array`);
  return value;
}

/** `obj[key]` as an array of strings, or undefined when absent or null. */
export function optionalStringArray(obj: JsonObject, key: string, path: string): string[] | undefined {
  const items = optionalArray(obj, key, path);
  items?.forEach((item, i) => {
    if (typeof item !== 'string') badRequest(`${join(path, key)}[${i}] must be a string`);
  });
  return items as string[] | undefined;
}

/**
 * `obj[key]` as a string→string map in the client's key order, or undefined when absent or null.
 * Built with Object.fromEntries so a `__proto__` key stays an ordinary own property.
 */
export function optionalStringMap(obj: JsonObject, key: string, path: string): Record<string, string> | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  const name = join(path, key);
  if (!isObject(value)) badRequest(`${name} must be an object`);
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      if (typeof v !== 'string') badRequest(`${name}[${JSON.stringify(k)}] must be a string`);
      return [k, v];
    }),
  );
}
