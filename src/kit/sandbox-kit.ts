import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log/logger.js';
import { writeFileAtomic } from '../tls/atomic-write.js';
import { buildTrustStore } from './trust-store.js';

/** The kit's files, by name inside the kit directory. */
export const KIT_FILES = {
  caBundle: 'ca-bundle.pem',
  trustStore: 'truststore.p12',
  nodePreload: 'node-preload.cjs',
  nodeFetchProxy: 'node-fetch-proxy.cjs',
  nodeHttpsProxy: 'node-https-proxy.cjs',
  javaAgent: 'credproxy-java-agent.jar',
  wgetrc: 'wgetrc',
  phpIniDir: 'php',
  phpIni: 'php/credproxy.ini',
} as const;

/** The PKCS#12 trust store's password: it guards nothing (public certificates), Java just asks for one. */
export const TRUST_STORE_PASSWORD = 'changeit';

/** The kit's agents as `npm run build` leaves them, in <package>/dist/kit/ (found so from src/kit/ and dist/kit/ alike). */
const BUILT_DIR = fileURLToPath(new URL('../../dist/kit/', import.meta.url));
const BUILT_FILES = [KIT_FILES.nodePreload, KIT_FILES.nodeFetchProxy, KIT_FILES.nodeHttpsProxy, KIT_FILES.javaAgent];

export interface WriteKitOptions {
  /** Where the kit is written (`<dataDir>/sandbox-kit`). */
  readonly dir: string;
  /** Where the sandbox sees it (`sandbox.kitPath`): the rc files name paths inside it. */
  readonly sandboxPath: string;
  /** The CA bundle (system roots + the CA) as ca-bundle.pem holds it. */
  readonly caBundlePem: string;
}

export interface WrittenKit {
  /**
   * False when the build's files (Node preload, Java agent) were not found: the env then leaves
   * NODE_OPTIONS alone and JAVA_TOOL_OPTIONS without the agent.
   */
  readonly agents: boolean;
}

/**
 * Writes the sandbox kit: what clients that ignore the §3.6 variables need to use the proxy and
 * trust its CA, for a sandbox that mounts this directory. Everything in it is public (0644):
 * the CA bundle, a PKCS#12 trust store of the same certificates and an agent for Java, the Node
 * preload, a wgetrc and a PHP ini naming the bundle. Nothing in it is per sandbox: credentials stay in
 * the sandbox's env (HTTPS_PROXY).
 */
export async function writeSandboxKit(options: WriteKitOptions): Promise<WrittenKit> {
  const { dir, sandboxPath, caBundlePem } = options;
  const inSandbox = (name: string) => join(sandboxPath, name);
  const pems = caBundlePem.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((pem) => pem.includes('BEGIN CERTIFICATE'));
  const bundle = inSandbox(KIT_FILES.caBundle);
  await Promise.all([
    writeFileAtomic(join(dir, KIT_FILES.caBundle), caBundlePem, 0o644),
    writeFileAtomic(join(dir, KIT_FILES.trustStore), buildTrustStore(pems, TRUST_STORE_PASSWORD), 0o644),
    // wget (GnuTLS builds) reads neither SSL_CERT_FILE nor CURL_CA_BUNDLE.
    writeFileAtomic(join(dir, KIT_FILES.wgetrc), `# credproxy sandbox kit: trust the proxy's CA.\nca_certificate = ${bundle}\n`, 0o644),
    // PHP's curl and openssl extensions read their CA file from ini settings, not the environment.
    writeFileAtomic(
      join(dir, KIT_FILES.phpIni),
      `; credproxy sandbox kit: trust the proxy's CA.\ncurl.cainfo = "${bundle}"\nopenssl.cafile = "${bundle}"\n`,
      0o644,
    ),
  ]);
  const built = await Promise.all(
    BUILT_FILES.map((name) =>
      access(join(BUILT_DIR, name)).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (!built.every(Boolean)) return { agents: false };
  await Promise.all(
    BUILT_FILES.map(async (name) => {
      await writeFileAtomic(join(dir, name), await readFile(join(BUILT_DIR, name)), 0o644);
    }),
  );
  return { agents: true };
}

/** The kit as the sandbox env names it: where the sandbox sees it, and whether it holds the agents. */
export interface HandedKit {
  readonly path: string;
  readonly agents: boolean;
}

/**
 * Writes `<dataDir>/sandbox-kit` and says what the sandbox env may point at: the kit at
 * `sandbox.kitPath` (default: the directory itself) when that is set or `sandbox.caPath` is not.
 * A sandbox told where the CA is but not the kit does not see the data dir, and a NODE_OPTIONS
 * preload it cannot read would stop every node process in it: then undefined.
 */
export async function prepareSandboxKit(
  config: { readonly dataDir: string; readonly sandbox: { readonly caPath?: string | undefined; readonly kitPath?: string | undefined } },
  bundlePem: string,
  logger: Logger,
): Promise<HandedKit | undefined> {
  const dir = join(config.dataDir, 'sandbox-kit');
  const path = config.sandbox.kitPath ?? dir;
  const { agents } = await writeSandboxKit({ dir, sandboxPath: path, caBundlePem: bundlePem });
  if (!agents) logger.warn("the sandbox kit's agents were not built (npm run build): sandbox env leaves out NODE_OPTIONS and the Java agent");
  if (config.sandbox.kitPath === undefined && config.sandbox.caPath !== undefined) {
    logger.info({ kit: dir }, 'sandbox.kitPath is not set: sandbox env leaves out the kit variables (mount the kit and set sandbox.kitPath)');
    return undefined;
  }
  return { path, agents };
}
