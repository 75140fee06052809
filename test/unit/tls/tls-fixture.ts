import { execFile } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';
import type { LeafCertStore } from '../../../src/tls/index.js';

export const execFileAsync = promisify(execFile);

export interface TlsFixture {
  port: number;
  close(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1:0 that terminates TLS the way the proxy does: each TCP socket is
 * wrapped in a server TLSSocket whose certificate comes from the store's SNICallback, or from
 * `fallback` when the client sends no SNI (IP literals), then handed to an HTTP server answering "ok".
 */
export async function startTlsFixture(store: LeafCertStore, fallback: SecureContext): Promise<TlsFixture> {
  const http = createHttpServer((_req, res) => res.end('ok\n'));
  const sockets = new Set<Socket>();
  const net = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const tls = new TLSSocket(socket, { isServer: true, secureContext: fallback, SNICallback: store.sniCallback });
    tls.on('error', () => socket.destroy());
    http.emit('connection', tls);
  });
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  return {
    port: (net.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => net.close(resolve));
      http.close();
    },
  };
}

/** Whether an executable runs; checks that need python3 or openssl are skipped without them. */
export async function hasCommand(command: string, versionFlag: string): Promise<boolean> {
  try {
    await execFileAsync(command, [versionFlag], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** Python's ssl module with VERIFY_X509_STRICT (OpenSSL X509_V_FLAG_X509_STRICT) against our CA. */
export const PYTHON_STRICT_CLIENT = `
import socket, ssl, sys
cafile, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=cafile)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
    with ctx.wrap_socket(raw, server_hostname=name) as s:
        s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        sys.stdout.write(data.decode().split("\\r\\n\\r\\n", 1)[1])
`;
