import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPhoenixError } from '@phoenix/protocol';
import { SecretReader } from '../src/gitfs/secrets.js';

/*
 * The secrets of git remotes, read with the real AWS SDK clients. There is no Secrets Manager or
 * SSM Parameter Store to run here, so the clients talk over HTTP on loopback to a server that
 * answers their two calls as AWS documents them (the JSON 1.1 protocol): the test checks the
 * request each client sends (operation, body, a SigV4 signature for the service and region) and
 * that each documented answer, and each error, is read as Phoenix says.
 */

interface Seen {
  readonly target: string;
  readonly body: Record<string, unknown>;
  readonly headers: IncomingHttpHeaders;
}

async function awsJsonServer(
  answer: (target: string, body: Record<string, unknown>) => { status: number; body: unknown },
): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      seen.push({ target, body, headers: request.headers });
      const reply = answer(target, body);
      response.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:phoenix/states-token-AbCdEf';
const TOKEN = 'ghp_s3cr3t-token-value';

test('git secrets from Secrets Manager and SSM: the requests the SDK sends, and every answer read', async () => {
  const aws = await awsJsonServer((target, body) => {
    if (target === 'secretsmanager.GetSecretValue') {
      const id = body.SecretId;
      if (id === ARN) return { status: 200, body: { ARN, Name: 'phoenix/states-token', SecretString: TOKEN } };
      if (id === 'json') return { status: 200, body: { SecretString: JSON.stringify({ token: TOKEN, n: 1 }) } };
      if (id === 'binary') return { status: 200, body: { SecretBinary: Buffer.from(`${TOKEN}\n`).toString('base64') } };
      if (id === 'empty') return { status: 200, body: { SecretString: '  ' } };
      return {
        status: 400,
        body: { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
      };
    }
    if (target === 'AmazonSSM.GetParameter') {
      if (body.Name === '/phoenix/deploy-key')
        return {
          status: 200,
          body: { Parameter: { Name: body.Name, Type: 'SecureString', Value: 'KEY-MATERIAL', Version: 3 } },
        };
      return { status: 400, body: { __type: 'ParameterNotFound', message: '' } };
    }
    return { status: 400, body: { __type: 'UnknownOperationException' } };
  });
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-secrets-'));
  const reader = new SecretReader({
    region: 'eu-west-1',
    endpoints: { secretsmanager: aws.url, ssm: aws.url },
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' },
  });
  try {
    assert.equal(await reader.read({ secretsManager: ARN }, 'the token of git remote states'), TOKEN);
    assert.equal(await reader.read({ secretsManager: 'json', key: 'token' }, 'a token'), TOKEN);
    assert.equal(await reader.read({ secretsManager: 'binary' }, 'a token'), `${TOKEN}\n`);
    assert.equal(await reader.read({ ssm: '/phoenix/deploy-key' }, 'a key'), 'KEY-MATERIAL');
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, TOKEN);
    assert.equal(await reader.read({ file: tokenFile }, 'a token'), TOKEN);

    // What the clients asked: the documented operations and bodies, signed for the service and region.
    const [secret, , , parameter] = aws.seen;
    assert.equal(secret?.target, 'secretsmanager.GetSecretValue');
    assert.deepEqual(secret?.body, { SecretId: ARN });
    assert.equal(parameter?.target, 'AmazonSSM.GetParameter');
    assert.deepEqual(parameter?.body, { Name: '/phoenix/deploy-key', WithDecryption: true });
    assert.match(String(secret?.headers['content-type']), /application\/x-amz-json-1\.1/);
    assert.match(
      String(secret?.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request, /,
    );
    assert.match(String(parameter?.headers.authorization), /\/eu-west-1\/ssm\/aws4_request, /);

    // Each failure is PHX_GIT_SECRET_UNREADABLE naming the source, never a value.
    const failures: Array<[Parameters<SecretReader['read']>[0], RegExp]> = [
      [{ secretsManager: 'missing' }, /the secret missing: Secrets Manager can't find the specified secret/],
      [
        { secretsManager: 'json', key: 'password' },
        /the secret json \(key password\): the secret's JSON has no string/,
      ],
      [{ secretsManager: ARN, key: 'token' }, /the secret is not JSON, so it has no key "token"/],
      [{ secretsManager: 'empty' }, /the secret empty: it is empty/],
      [{ ssm: '/phoenix/none' }, /the SSM parameter \/phoenix\/none: /],
      [{ file: join(dir, 'absent') }, /the file .*absent: ENOENT/],
    ];
    for (const [source, message] of failures) {
      const err = await reader.read(source, 'the token of git remote states').then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(isPhoenixError(err, 'PHX_GIT_SECRET_UNREADABLE'), `${JSON.stringify(source)}: ${String(err)}`);
      assert.match(err.message, /^cannot read the token of git remote states from /);
      assert.match(err.message, message);
      assert.ok(!err.message.includes(TOKEN), 'no secret value in the error');
    }
  } finally {
    reader.close();
    await aws.close();
    await rm(dir, { recursive: true, force: true });
  }
});
