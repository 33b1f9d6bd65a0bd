import { createServer, request as httpRequest, type Server } from 'node:http';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Devstack } from '@phoenix/devstack';
import { json, phoenix, type CliResult } from './cli.js';

/** One request an emulator was sent through the recorder: the service and AWS's action name. */
export interface RecordedCall {
  readonly service: string;
  readonly action: string;
}

/**
 * Loopback proxies in front of the local cloud's endpoints that record every action they pass on
 * (`X-Amz-Target` for the JSON protocols, `Action=` for the query ones), so a test sees exactly
 * which AWS calls a state run made — and that a test=True run made no mutating one.
 */
export interface AwsRecorder {
  readonly endpoints: Readonly<Record<string, string>>;
  calls(): RecordedCall[];
  /** The calls that change something: a test=True run may make none. */
  mutating(): RecordedCall[];
  clear(): void;
  close(): Promise<void>;
}

export async function recordAwsCalls(targets: Readonly<Record<string, string>>): Promise<AwsRecorder> {
  const recorded: RecordedCall[] = [];
  const servers: Server[] = [];
  const endpoints: Record<string, string> = {};
  for (const [service, target] of Object.entries(targets)) {
    const upstream = new URL(target);
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const amzTarget = req.headers['x-amz-target'];
        const action =
          typeof amzTarget === 'string'
            ? amzTarget.slice(amzTarget.lastIndexOf('.') + 1)
            : (restAction(req.method ?? 'GET', req.url ?? '/') ??
              new URLSearchParams(body.toString('utf8')).get('Action') ??
              '?');
        recorded.push({ service, action });
        const forward = httpRequest(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: upstream.host },
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', () => res.writeHead(502).end());
        forward.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the recorder did not listen');
    endpoints[service] = `http://127.0.0.1:${address.port}`;
    servers.push(server);
  }
  return {
    endpoints,
    calls: () => [...recorded],
    mutating: () => recorded.filter((c) => MUTATING_ACTION.test(c.action)),
    clear: () => {
      recorded.length = 0;
    },
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

/** Route 53's REST calls by method and path (the only REST protocol the states speak). */
function restAction(method: string, url: string): string | undefined {
  const path = new URL(url, 'http://localhost').pathname;
  if (!path.startsWith('/2013-04-01/')) return undefined;
  const rest = path.slice('/2013-04-01'.length);
  if (rest === '/hostedzone') return method === 'POST' ? 'CreateHostedZone' : 'ListHostedZones';
  if (rest === '/hostedzonesbyname') return 'ListHostedZonesByName';
  if (/^\/hostedzone\/[^/]+\/rrset\/?$/.test(rest))
    return method === 'POST' ? 'ChangeResourceRecordSets' : 'ListResourceRecordSets';
  if (rest.startsWith('/change/')) return 'GetChange';
  if (/^\/hostedzone\/[^/]+$/.test(rest)) return method === 'DELETE' ? 'DeleteHostedZone' : 'GetHostedZone';
  return `${method} ${rest}`;
}

/** The devstack's endpoints by the names a profile's `endpoints` uses. */
export function devstackEndpoints(devstack: Devstack): Record<string, string> {
  const { endpoints } = devstack.aws;
  const out: Record<string, string> = {};
  for (const service of [
    'sqs',
    'sns',
    'dynamodb',
    'autoscaling',
    'ec2',
    'iam',
    'cloudwatch',
    'elb',
    'route53',
  ] as const) {
    const endpoint = endpoints[service];
    if (endpoint !== undefined) out[service] = endpoint;
  }
  return out;
}

/** AWS actions that change something: a test=True run may make none of these. */
const MUTATING_ACTION =
  /^(Create|Delete|Put|Set|Update|Tag|Untag|Subscribe|Unsubscribe|Attach|Detach|Add|Remove|Authorize|Revoke|Suspend|Resume|Enable|Disable|Complete|Record|Terminate|Modify|Configure|Apply|Change|Register|Deregister)/;

export interface StateResult {
  __id__: string;
  name: string;
  result: boolean | null;
  comment: string;
  changes: Record<string, unknown>;
}

/** A masterless minion (`phoenix call --local`) whose state runs reach AWS through `profiles`. */
export interface LocalAwsMinion {
  readonly fileRoot: string;
  readonly pillarRoot: string;
  call(...args: string[]): Promise<CliResult>;
  /** state.apply/state.sls with --out json: results by ID (one state per ID in these tests). */
  apply(...args: string[]): Promise<{ code: number; byId: Record<string, StateResult>; raw: CliResult }>;
}

export async function localAwsMinion(dir: string, config: Record<string, unknown>): Promise<LocalAwsMinion> {
  const fileRoot = join(dir, 'file_roots');
  const pillarRoot = join(dir, 'pillar_roots');
  await mkdir(fileRoot, { recursive: true });
  await mkdir(pillarRoot, { recursive: true });
  const configFile = join(dir, 'minion.yaml');
  await writeFile(
    configFile,
    JSON.stringify({
      id: 'infra-1',
      clusterPublicKey: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
      pkiDir: join(dir, 'pki'),
      cacheDir: join(dir, 'cache'),
      imds: { enabled: false },
      state: { root: join(dir, 'root') },
      ...config,
    }),
  );
  const call = (...args: string[]): Promise<CliResult> =>
    phoenix(
      ['call', '--local', '--config', configFile, '--file-root', fileRoot, '--pillar-root', pillarRoot, ...args],
      {
        // The SDK's own chain must never find a real account from the machine running the tests.
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
        AWS_PROFILE: '',
        AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    );
  return {
    fileRoot,
    pillarRoot,
    call,
    apply: async (...args) => {
      const raw = await call(...args, '--out', 'json');
      const ret = json<{ local: Record<string, StateResult> | string[] }>(raw).local;
      if (Array.isArray(ret)) throw new Error(`the run did not compile: ${ret.join('; ')}`);
      const byId: Record<string, StateResult> = {};
      for (const result of Object.values(ret)) byId[result.__id__] = result;
      return { code: raw.code, byId, raw };
    },
  };
}
