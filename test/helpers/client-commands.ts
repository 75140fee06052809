import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * Real clients, each calling one URL with `Authorization: Bearer $OPENAI_API_KEY` (the SDKs:
 * their own auth from the environment) and printing the status and body. The explicit-mode
 * matrix runs them with a sandbox's env; the transparent one with no proxy variable at all.
 */
export interface ClientCommand {
  readonly file: string;
  readonly args: readonly string[];
}

/** The project root: Node clients resolve their packages (openai, axios …) from its node_modules. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/clients');

/**
 * Debian's python3 over a pyenv shim: it has python3-requests and python3-httpx (.ci/run), and
 * nobody (the transparent matrix's user) can run it, unlike a python3 under /root.
 */
export const PYTHON = process.env.CREDPROXY_TEST_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const BEARER = '"Authorization: Bearer $OPENAI_API_KEY"';
const PY_AUTH = "{'Authorization': 'Bearer ' + os.environ['OPENAI_API_KEY']}";
const NODE_AUTH = "{ authorization: 'Bearer ' + process.env.OPENAI_API_KEY }";
const MESSAGE = "{ model: 'claude', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }";

const sh = (script: string): ClientCommand => ({ file: 'sh', args: ['-c', script] });
const node = (script: string): ClientCommand => ({ file: process.execPath, args: ['--input-type=module', '-e', script] });
/** `query` keeps the SDKs' fixed paths apart: `?c=<value>`. */
const query = (url: string) => JSON.stringify(Object.fromEntries(new URL(url).searchParams));

export const CLIENTS = {
  curl: (url: string) => sh(`curl -sS --max-time 15 -H ${BEARER} '${url}'`),
  wget: (url: string) => sh(`wget -q -O - --header ${BEARER} '${url}'`),
  requests: (url: string, python: string) => ({ file: python, args: ['-c', `import os, requests; r = requests.get('${url}', headers=${PY_AUTH}, timeout=15); print(r.status_code, r.text)`] }),
  urllib: (url: string, python: string) => ({ file: python, args: ['-c', `import os, urllib.request as u; r = u.urlopen(u.Request('${url}', headers=${PY_AUTH}), timeout=15); print(r.status, r.read().decode())`] }),
  httpx: (url: string, python: string) => ({ file: python, args: ['-c', `import os, httpx; r = httpx.get('${url}', headers=${PY_AUTH}, timeout=15); print(r.status_code, r.text)`] }),
  'http.client': (url: string, python: string) => {
    const u = new URL(url);
    return { file: python, args: ['-c', `import os, http.client, ssl; c = http.client.HTTPSConnection('${u.host}', timeout=15, context=ssl.create_default_context()); c.request('GET', '${u.pathname}${u.search}', headers=${PY_AUTH}); r = c.getresponse(); print(r.status, r.read().decode())`] };
  },
  aiohttp: (url: string, python: string) => ({ file: python, args: ['-c', `import os, asyncio, aiohttp
async def main():
    async with aiohttp.ClientSession() as s:
        async with s.get('${url}', headers=${PY_AUTH}, timeout=aiohttp.ClientTimeout(total=15)) as r:
            print(r.status, await r.text())
asyncio.run(main())`] }),
  ruby: (url: string) => ({ file: 'ruby', args: ['-rnet/http', '-e', `u = URI('${url}'); r = Net::HTTP.start(u.host, u.port, use_ssl: true) { |h| h.get(u.request_uri, 'Authorization' => 'Bearer ' + ENV['OPENAI_API_KEY']) }; puts r.code, r.body`] }),
  'php-curl': (url: string) => ({ file: 'php', args: ['-r', [
    'if (!function_exists("curl_init")) { fwrite(STDERR, "no curl extension\\n"); exit(3); }',
    `$c = curl_init("${url}");`,
    'curl_setopt($c, CURLOPT_HTTPHEADER, ["Authorization: Bearer " . getenv("OPENAI_API_KEY")]);',
    'curl_setopt($c, CURLOPT_RETURNTRANSFER, true);',
    '$body = curl_exec($c);',
    'if ($body === false) { fwrite(STDERR, curl_error($c) . "\\n"); exit(1); }',
    'echo curl_getinfo($c, CURLINFO_HTTP_CODE), " ", $body, "\\n";',
  ].join(' ')] }),
  'php-streams': (url: string) => ({ file: 'php', args: ['-r', `$ctx = stream_context_create(["http" => ["header" => "Authorization: Bearer " . getenv("OPENAI_API_KEY")]]); $body = file_get_contents("${url}", false, $ctx); if ($body === false) exit(1); echo $body, "\\n";`] }),
  go: (url: string, program: string) => ({ file: program, args: [url] }),
  java: (url: string) => ({ file: 'java', args: [join(FIXTURES, 'OpenAiGet.java'), url] }),
  fetch: (url: string) => node(`const r = await fetch('${url}', { headers: ${NODE_AUTH} }); console.log(r.status, await r.text());`),
  https: (url: string) => node(`import https from 'node:https';
    https.get('${url}', { headers: ${NODE_AUTH} }, (res) => {
      let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => console.log(res.statusCode, body));
    }).on('error', (err) => { console.error(err); process.exitCode = 1; });`),
  undici: (url: string) => node(`import { request } from 'undici'; const r = await request('${url}', { headers: ${NODE_AUTH} }); console.log(r.statusCode, await r.body.text());`),
  axios: (url: string) => node(`import axios from 'axios'; const r = await axios.get('${url}', { headers: ${NODE_AUTH} }); console.log(r.status, JSON.stringify(r.data));`),
  /** `url` only carries the query (`…/v1/models?c=x`): the SDK calls api.openai.com itself. */
  openai: (url: string, pkg = 'openai') => node(`import OpenAI from '${pkg}'; console.log(JSON.stringify(await new OpenAI().models.list({ query: ${query(url)} })));`),
  /** As openai; `options` are the client's constructor options (JS source). */
  anthropic: (url: string, pkg = '@anthropic-ai/sdk', options = '{}') =>
    node(`import Anthropic from '${pkg}'; console.log(JSON.stringify(await new Anthropic(${options}).messages.create(${MESSAGE}, { query: ${query(url)} })));`),
} as const;

/** Builds test/fixtures/clients/openai-get.go into `dir` (once per run) with a GOCACHE of its own. */
export async function buildGoClient(dir: string): Promise<string> {
  const out = join(dir, 'openai-get');
  const env = { PATH: process.env.PATH, HOME: dir, GOCACHE: join(dir, 'gocache'), GOPATH: join(dir, 'gopath'), GO111MODULE: 'off' };
  await promisify(execFile)('go', ['build', '-o', out, join(FIXTURES, 'openai-get.go')], { env, timeout: 60_000 });
  return out;
}
