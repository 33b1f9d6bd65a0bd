import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { close, listen, urlFor } from '../listen.js';
import { AwsRequestError } from '../aws-request-error.js';
import { OPERATIONS } from './operations.js';
import { API_VERSION, QueryParams, errorXml, resultXml } from './query-protocol.js';
import type { AutoScalingSimulator } from './simulator.js';

export interface AutoScalingServerOptions {
  simulator: AutoScalingSimulator;
  logger: Logger;
  /** Loopback by default: the devstack never listens on a public address. */
  host?: string;
  /** 0 (the default) takes a free port. */
  port?: number;
  /** Larger bodies are refused; real requests are well under 1 KiB. Default 64 KiB. */
  maxBodyBytes?: number;
}

export interface AutoScalingServer {
  /** What the AWS SDK's `endpoint` option takes. */
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The Auto Scaling API over HTTP. Any SigV4 signature (or none) is accepted: the devstack has
 * no credentials to check, and the callers are the same SDK clients that sign for AWS.
 */
export async function startAutoScalingServer(options: AutoScalingServerOptions): Promise<AutoScalingServer> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const log = options.logger.child({ component: 'autoscaling-api' });
  const server = createServer((request, response) => {
    handle(request, response).catch((err: unknown) => {
      log.error({ err }, 'auto-scaling request failed');
      if (!response.headersSent) response.writeHead(500).end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const reply = (status: number, xml: string): void => {
      response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }).end(xml);
    };
    const body = await readBody(request, maxBodyBytes);
    let action: string | undefined;
    try {
      if (body === undefined) {
        throw new AwsRequestError('RequestEntityTooLarge', `Request body must be at most ${maxBodyBytes} bytes.`, 413);
      }
      const params = QueryParams.parse(new URL(request.url ?? '/', 'http://localhost').search, body);
      action = params.optional('Action');
      if (action === undefined) throw new AwsRequestError('MissingAction', 'Missing Action');
      const version = params.optional('Version');
      const operation = OPERATIONS.get(action);
      if (operation === undefined || version !== API_VERSION) {
        throw new AwsRequestError(
          'InvalidAction',
          `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`,
        );
      }
      reply(200, resultXml(action, operation(params, options.simulator), requestId));
      log.debug({ action, requestId }, 'auto-scaling request answered');
    } catch (err) {
      const error =
        err instanceof AwsRequestError
          ? err
          : new AwsRequestError('InternalFailure', 'An internal error occurred.', 500);
      if (error === err)
        log.info({ action, requestId, code: error.awsCode, reason: error.message }, 'auto-scaling request refused');
      else log.error({ err, action, requestId }, 'auto-scaling request failed');
      reply(error.httpStatus, errorXml(error, requestId));
    }
  }

  const port = await listen(server, host, options.port ?? 0, 'the Auto Scaling API');
  return { endpoint: urlFor(host, port), port, close: () => close(server) };
}

/**
 * The body as text, or undefined when it is larger than the limit. An oversized body is still
 * read to its end (and discarded) so the client gets the error response rather than a reset.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    request.on('end', () => resolve(size <= limit ? Buffer.concat(chunks).toString('utf8') : undefined));
    request.on('error', reject);
  });
}
