import { join } from 'node:path';
import { KIT_FILES, TRUST_STORE_PASSWORD } from './sandbox-kit.js';

export interface KitEnvOptions {
  /** The kit directory as the sandbox sees it (`sandbox.kitPath`). */
  readonly kitPath: string;
  /** The proxy address sandboxes use, without credentials (`sandbox.proxyUrl`). */
  readonly proxyUrl: string;
  /** Whether the kit holds the Node preload and the Java agent (the build's files were found). */
  readonly agents: boolean;
  /** The hosts NO_PROXY names, in Java's `http.nonProxyHosts` too. */
  readonly noProxy: readonly string[];
}

/**
 * The variables that point clients which ignore HTTPS_PROXY or the CA variables at the kit:
 * Node's preload, the JVM's proxy and trust store, wget's rc file and a PHP ini directory. A
 * value the sandbox's own env_vars already set for NODE_OPTIONS, JAVA_TOOL_OPTIONS or
 * PHP_INI_SCAN_DIR is kept after (or, for the scan path, before) the kit's.
 */
export function kitEnvironment(opts: KitEnvOptions, envVars: Readonly<Record<string, string>>): Record<string, string> {
  const kit = (name: string) => join(opts.kitPath, name);
  const url = new URL(opts.proxyUrl);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const java = [
    // The agent relays CONNECT with the proxy credentials of HTTPS_PROXY (HttpClient sends none).
    ...(opts.agents ? [`-javaagent:${kit(KIT_FILES.javaAgent)}`] : []),
    `-Dhttps.proxyHost=${host}`,
    `-Dhttps.proxyPort=${port}`,
    `-Dhttp.proxyHost=${host}`,
    `-Dhttp.proxyPort=${port}`,
    `-Dhttp.nonProxyHosts=${opts.noProxy.join('|')}`,
    `-Djavax.net.ssl.trustStore=${kit(KIT_FILES.trustStore)}`,
    '-Djavax.net.ssl.trustStoreType=PKCS12',
    `-Djavax.net.ssl.trustStorePassword=${TRUST_STORE_PASSWORD}`,
    // The JDK refuses Basic proxy authentication for CONNECT unless this list is emptied.
    '-Djdk.http.auth.tunneling.disabledSchemes=',
  ];
  const env: Record<string, string> = {
    JAVA_TOOL_OPTIONS: joinOptions(java.join(' '), envVars.JAVA_TOOL_OPTIONS),
    WGETRC: kit(KIT_FILES.wgetrc),
    // A leading path separator keeps PHP's built-in scan directory (where Debian loads extensions).
    PHP_INI_SCAN_DIR: `${envVars.PHP_INI_SCAN_DIR ?? ''}:${kit(KIT_FILES.phpIniDir)}`,
  };
  if (opts.agents) env.NODE_OPTIONS = joinOptions(`--require ${kit(KIT_FILES.nodePreload)}`, envVars.NODE_OPTIONS);
  return env;
}

function joinOptions(ours: string, theirs: string | undefined): string {
  return theirs ? `${ours} ${theirs}` : ours;
}
