/** The TLS record header: content type, version, length. */
const RECORD_HEADER = 5;
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_NAME_EXTENSION = 0x0000;
const HOST_NAME = 0x00;
/** Largest TLS plaintext record (RFC 8446 §5.1); a ClientHello record is never longer. */
export const MAX_HELLO_RECORD = RECORD_HEADER + 16_384;

/** What the first bytes of a connection say about its TLS ClientHello. */
export type HelloPeek =
  /** Not TLS at all (the first byte is not a handshake record). */
  | { readonly kind: 'not-tls' }
  /** The first record is not complete yet: read more (up to MAX_HELLO_RECORD). */
  | { readonly kind: 'partial' }
  /** A ClientHello: the server_name it asks for, undefined when it sent none (or it is unreadable). */
  | { readonly kind: 'hello'; readonly serverName: string | undefined };

const NOT_TLS: HelloPeek = { kind: 'not-tls' };
const PARTIAL: HelloPeek = { kind: 'partial' };

/**
 * Reads the SNI host name from the first TLS record of a connection without consuming it, the way
 * a transparent proxy must before it can pick a certificate (Envoy's tls_inspector, mitmproxy's
 * ClientHello peek). Only the first record is read: a ClientHello longer than one record (never
 * seen from real clients) reports no name. The name is lowercased; anything not a plausible host
 * name counts as none.
 */
export function peekServerName(bytes: Buffer): HelloPeek {
  if (bytes.length === 0) return PARTIAL;
  if (bytes[0] !== HANDSHAKE) return NOT_TLS;
  if (bytes.length < RECORD_HEADER) return PARTIAL;
  const recordEnd = RECORD_HEADER + bytes.readUInt16BE(3);
  if (bytes.length < recordEnd) return recordEnd > MAX_HELLO_RECORD ? NOT_TLS : PARTIAL;
  return { kind: 'hello', serverName: serverNameIn(bytes.subarray(RECORD_HEADER, recordEnd)) };
}

/** Walks a handshake fragment: ClientHello → extensions → server_name → host_name. */
function serverNameIn(handshake: Buffer): string | undefined {
  if (handshake.length < 4 || handshake[0] !== CLIENT_HELLO) return undefined;
  // type(1) length(3) version(2) random(32), then session id, cipher suites, compression methods.
  let at = 4 + 2 + 32;
  at = skip(handshake, at, 1);
  at = skip(handshake, at, 2);
  at = skip(handshake, at, 1);
  if (at < 0 || at + 2 > handshake.length) return undefined;
  const extensionsEnd = Math.min(handshake.length, at + 2 + handshake.readUInt16BE(at));
  at += 2;
  while (at + 4 <= extensionsEnd) {
    const type = handshake.readUInt16BE(at);
    const length = handshake.readUInt16BE(at + 2);
    const body = at + 4;
    if (body + length > extensionsEnd) return undefined;
    if (type === SERVER_NAME_EXTENSION) return hostNameIn(handshake.subarray(body, body + length));
    at = body + length;
  }
  return undefined;
}

/** server_name_list: length(2), then entries of type(1) length(2) name. */
function hostNameIn(list: Buffer): string | undefined {
  let at = 2;
  while (at + 3 <= list.length) {
    const length = list.readUInt16BE(at + 1);
    const end = at + 3 + length;
    if (end > list.length) return undefined;
    if (list[at] === HOST_NAME) {
      const name = list.toString('latin1', at + 3, end).toLowerCase();
      if (!HOST_NAME_CHARS.test(name)) return undefined;
      return name.endsWith('.') ? name.slice(0, -1) : name;
    }
    at = end;
  }
  return undefined;
}

/** Letters, digits, hyphens and dots, as in DNS names (IDNs arrive as punycode), at most 253. */
const HOST_NAME_CHARS = /^(?=.{1,253}$)[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/;

/** The offset after a vector whose length prefix is `width` bytes at `at`; -1 when it runs past the end. */
function skip(bytes: Buffer, at: number, width: 1 | 2): number {
  if (at < 0 || at + width > bytes.length) return -1;
  const length = width === 1 ? bytes[at]! : bytes.readUInt16BE(at);
  const next = at + width + length;
  return next > bytes.length ? -1 : next;
}
