/** The typed admin-API client: `new CredproxyClient({ url, apiKey })`. */
export { CredproxyClient, type CredproxyClientOptions } from './client.js';
export { RequestError } from './request-error.js';
export type * from './types.js';
