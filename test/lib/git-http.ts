import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * git's own smart-HTTP server (`git http-backend`, run as CGI) on loopback, behind HTTP basic
 * authentication with one token: what an HTTPS git host does, without TLS. `requests` counts the
 * authenticated ones, `refused` the others.
 */
export interface GitHttpServer {
  readonly url: string;
  readonly requests: () => number;
  readonly refused: () => number;
  close(): Promise<void>;
}

export async function startGitHttpServer(projectRoot: string, user: string, token: string): Promise<GitHttpServer> {
  let requests = 0;
  let refused = 0;
  const expected = `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
  const server: Server = createServer((request, response) => {
    if (request.headers.authorization !== expected) {
      refused++;
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="phoenix-test"' });
      response.end();
      return;
    }
    requests++;
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        REQUEST_METHOD: request.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: request.headers['content-type'] ?? '',
        REMOTE_USER: user,
        REMOTE_ADDR: '127.0.0.1',
        ...(request.headers['git-protocol'] === undefined
          ? {}
          : { GIT_PROTOCOL: String(request.headers['git-protocol']) }),
      },
    });
    request.pipe(child.stdin);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('close', () => {
      const output = Buffer.concat(chunks);
      const end = output.indexOf('\r\n\r\n');
      const split = end === -1 ? output.indexOf('\n\n') : end;
      const gap = end === -1 ? 2 : 4;
      const head = output.subarray(0, Math.max(split, 0)).toString('utf8');
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon === -1) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      response.writeHead(status, headers);
      response.end(split === -1 ? output : output.subarray(split + gap));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    refused: () => refused,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
