import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { close, listen, urlFor } from '../listen.js';
import { readBody } from '../autoscaling/server.js';
import { answerResourceRequest, type AwsResources } from './requests.js';

export interface ResourceServerOptions {
  resources: AwsResources;
  logger: Logger;
  /** Loopback by default: the devstack never listens on a public address. */
  host?: string;
  /** 0 (the default) takes a free port. */
  port?: number;
  /** Larger bodies are refused; a policy document is at most 10 KiB on AWS. Default 64 KiB. */
  maxBodyBytes?: number;
}

export interface ResourceServer {
  /** The one endpoint of EC2, IAM and CloudWatch alike: requests say which service they are for. */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * EC2 security groups, IAM roles and CloudWatch alarms over HTTP. Any SigV4 signature (or none)
 * is accepted: the devstack has no credentials to check.
 */
export async function startResourceServer(options: ResourceServerOptions): Promise<ResourceServer> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const log = options.logger.child({ component: 'aws-resources-api' });
  const server = createServer((request, response) => {
    const requestId = randomUUID();
    readBody(request, maxBodyBytes)
      .then((body) => {
        if (body === undefined) {
          response
            .writeHead(413, { 'content-type': 'text/plain', 'x-amzn-requestid': requestId })
            .end(`Request body must be at most ${maxBodyBytes} bytes.`);
          return;
        }
        const target = request.headers['x-amz-target'];
        const answer = answerResourceRequest(
          options.resources,
          {
            url: request.url ?? '/',
            method: request.method,
            target: typeof target === 'string' ? target : undefined,
            body,
          },
          requestId,
        );
        response.writeHead(answer.status, answer.headers).end(answer.body);
        const fields = { service: answer.service, action: answer.action, requestId };
        if (answer.refused === undefined) log.debug(fields, 'aws resource request answered');
        else log.info({ ...fields, code: answer.refused }, 'aws resource request refused');
      })
      .catch((err: unknown) => {
        log.error({ err, requestId }, 'aws resource request failed');
        if (!response.headersSent) response.writeHead(500).end();
      });
  });
  const port = await listen(server, host, options.port ?? 0, 'the AWS resource emulator');
  return { endpoint: urlFor(host, port), port, close: () => close(server) };
}
