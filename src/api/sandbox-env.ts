import { kitEnvironment, type HandedKit } from '../kit/index.js';
import type { SandboxRecord } from '../store/sandboxes.js';

export interface SandboxEnvOptions {
  /** The proxy address sandboxes use, e.g. `http://127.0.0.1:8080` (config sandbox.proxyUrl or the bound proxy address). */
  readonly proxyUrl: string;
  /** Path of the CA bundle inside the sandbox (config sandbox.caPath, default `<dataDir>/ca-bundle.pem`). */
  readonly caPath: string;
  /**
   * The sandbox kit as the sandbox sees it (config sandbox.kitPath), when it can see it: then the
   * env also points Node, Java, wget and PHP at it. Undefined leaves those variables out.
   */
  readonly kit?: HandedKit;
}

/** Variables through which common runtimes and tools pick up an extra CA bundle. */
const CA_TRUST_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO'];
const NO_PROXY_HOSTS = ['localhost', '127.0.0.1'];
const NO_PROXY = NO_PROXY_HOSTS.join(',');

/**
 * The environment handed to a sandbox (docs/contract.md#sandbox-env): a stand-in for each live binding, the
 * plain env_vars, the proxy URL carrying the sandbox's access token, and the CA trust
 * variables. The proxy and CA variables are set last so env_vars cannot route around the proxy.
 * Beyond §3.6, for clients that read nothing else: the proxy URL in HTTP_PROXY/http_proxy too
 * (Ruby's Net::HTTP reads http_proxy even for https), NODE_USE_ENV_PROXY=1 (Node ≥ 22.21 / 24.5
 * then honours the proxy variables itself), and the kit's variables (kitEnvironment).
 */
export function buildSandboxEnv(sandbox: SandboxRecord, opts: SandboxEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const binding of sandbox.bindings) {
    if (binding.revoked === null) env[binding.envKey] = binding.standIn;
  }
  Object.assign(env, sandbox.envVars);
  const proxy = sandboxProxyUrl(opts.proxyUrl, sandbox.accessToken);
  env.HTTPS_PROXY = proxy;
  env.https_proxy = proxy;
  env.NO_PROXY = NO_PROXY;
  env.no_proxy = NO_PROXY;
  for (const name of CA_TRUST_VARIABLES) env[name] = opts.caPath;
  env.HTTP_PROXY = proxy;
  env.http_proxy = proxy;
  env.NODE_USE_ENV_PROXY = '1';
  if (opts.kit) {
    Object.assign(
      env,
      kitEnvironment(
        {
          kitPath: opts.kit.path,
          proxyUrl: opts.proxyUrl,
          agents: opts.kit.agents,
          noProxy: NO_PROXY_HOSTS,
        },
        sandbox.envVars,
      ),
    );
  }
  return env;
}

/** `http://sb:<access_token>@host:port`: the access token rides as the Basic proxy password (docs/contract.md#sandbox-identity). */
export function sandboxProxyUrl(proxyUrl: string, accessToken: string): string {
  const url = new URL(proxyUrl);
  return `${url.protocol}//sb:${accessToken}@${url.host}`;
}
