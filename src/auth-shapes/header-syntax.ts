/** RFC 7230 `token`: what a header name may be. */
const HEADER_TOKEN_RE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** Characters that can never reach a header line; refusing them at the API beats an inject_error per request. */
const HEADER_BREAKING_RE = /[\r\n\0]/;

export function isHeaderName(name: string): boolean {
  return HEADER_TOKEN_RE.test(name);
}

/** True when `text` holds CR, LF or NUL. */
export function breaksHeader(text: string): boolean {
  return HEADER_BREAKING_RE.test(text);
}
