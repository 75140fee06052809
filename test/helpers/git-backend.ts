import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A bare repository `<root>/<org>/<name>.git` with one commit holding README.md = `content`. */
export function createBareRepo(org: string, name: string, content: string): { root: string; path: string } {
  const root = mkdtempSync(join(tmpdir(), 'credproxy-git-'));
  const work = join(root, 'work');
  mkdirSync(work);
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root }, stdio: 'pipe' });
  git(work, 'init', '-q', '-b', 'main');
  writeFileSync(join(work, 'README.md'), content);
  git(work, 'add', 'README.md');
  git(work, '-c', 'user.name=t', '-c', 'user.email=t@example.test', 'commit', '-q', '-m', 'init');
  mkdirSync(join(root, org));
  const path = join(root, org, `${name}.git`);
  git(root, 'clone', '-q', '--bare', work, path);
  return { root, path };
}

/**
 * Serves smart-HTTP git through the real `git http-backend` CGI. `authorize` sees the request's
 * Authorization header; returning false answers 401 with a Basic challenge, as GitHub does.
 */
export function gitBackendHandler(projectRoot: string, authorize: (authorization: string | undefined) => boolean) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (!authorize(req.headers.authorization)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'https://git.invalid');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? '',
        REMOTE_USER: 'x-access-token',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else res.setHeader(name, value);
      }
      res.statusCode = status;
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
    cgi.on('error', () => res.destroy());
  };
}
