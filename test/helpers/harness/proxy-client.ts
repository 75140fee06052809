import { ProxyAgent, request } from 'undici';

export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface FetchReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A sandbox's way through a proxy: one undici ProxyAgent per access token, trusting the proxy's CA. */
export interface ProxyClient {
  /** undici dispatcher for a sandbox (its access token as proxy credentials; none: no Proxy-Authorization). */
  agentFor(accessToken: string | undefined): ProxyAgent;
  /** A request through the proxy as a sandbox; a refused CONNECT answers with the proxy's status and nothing else. */
  fetchAs(accessToken: string | undefined, url: string, init?: FetchInit): Promise<FetchReply>;
  close(): Promise<void>;
}

export function proxyClient(proxyAddress: string, caPem: string): ProxyClient {
  const agents = new Map<string, ProxyAgent>();
  const agentFor = (accessToken: string | undefined): ProxyAgent => {
    const key = accessToken ?? '';
    let agent = agents.get(key);
    if (!agent) {
      agent = new ProxyAgent({
        uri: `http://${proxyAddress}`,
        requestTls: { ca: caPem },
        ...(accessToken ? { token: `Basic ${Buffer.from(`sb:${accessToken}`).toString('base64')}` } : {}),
      });
      agents.set(key, agent);
    }
    return agent;
  };
  return {
    agentFor,
    async fetchAs(accessToken, url, init = {}) {
      try {
        const res = await request(url, { dispatcher: agentFor(accessToken), method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
        return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
      } catch (err) {
        // undici reports a refused CONNECT as an error; its status is what the proxy answered.
        const refused = /Proxy response \((\d{3})\)/.exec((err as Error).message);
        if (!refused) throw err;
        return { status: Number(refused[1]), headers: {}, text: '' };
      }
    },
    async close() {
      await Promise.all([...agents.values()].map((agent) => agent.close().catch(() => undefined)));
    },
  };
}
