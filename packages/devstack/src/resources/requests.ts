/**
 * One request to the resource emulator, answered in the protocol of the service it is for:
 * CloudWatch by its `X-Amz-Target` (JSON 1.0), EC2, IAM and ELB by the query protocol's `Version`,
 * Route 53 by its REST path (`/2013-04-01/…`).
 * Pure: no socket here, so every answer can be checked byte for byte.
 */
import { systemClock, type Clock } from '@phoenix/protocol';
import { QueryParams } from '../autoscaling/query-protocol.js';
import { CLOUDWATCH_TARGET_PREFIX, MetricAlarms } from './cloudwatch.js';
import { EC2_API_VERSION, SecurityGroups, ec2ErrorXml } from './ec2.js';
import { ClassicLoadBalancers, ELB_API_VERSION, elbErrorXml } from './elb.js';
import { AwsRequestError } from '../aws-request-error.js';
import { IAM_API_VERSION, IamRoles, iamErrorXml } from './iam.js';
import { HostedZones, ROUTE53_API_VERSION } from './route53.js';

export interface AwsResourcesOptions {
  accountId: string;
  region: string;
  /** The clock of creation dates and alarm timestamps; the system's by default. */
  clock?: Pick<Clock, 'now'>;
}

/** The emulated resources of every service, in memory: they last as long as the devstack. */
export class AwsResources {
  readonly securityGroups: SecurityGroups;
  readonly iam: IamRoles;
  readonly alarms: MetricAlarms;
  readonly loadBalancers: ClassicLoadBalancers;
  readonly hostedZones: HostedZones;

  constructor(options: AwsResourcesOptions) {
    const clock = options.clock ?? systemClock;
    const now = (): Date => new Date(clock.now());
    this.securityGroups = new SecurityGroups(options.accountId);
    this.iam = new IamRoles(options.accountId, now);
    this.alarms = new MetricAlarms(options.accountId, options.region, now);
    this.hostedZones = new HostedZones(now);
    this.loadBalancers = new ClassicLoadBalancers(options.region, now, (id) =>
      this.securityGroups.describe().some((group) => group.id === id),
    );
  }
}

export interface ResourceRequest {
  /** The request's path and query string. */
  readonly url: string;
  /** GET unless given: only Route 53's REST protocol tells actions apart by method. */
  readonly method?: string | undefined;
  readonly target?: string | undefined;
  readonly body: string;
}

export interface ResourceAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** For the log: the service, the action and AWS's code when refused. */
  readonly service: 'ec2' | 'iam' | 'cloudwatch' | 'elb' | 'route53' | undefined;
  readonly action: string | undefined;
  readonly refused?: string;
}

export function answerResourceRequest(
  resources: AwsResources,
  request: ResourceRequest,
  requestId: string,
): ResourceAnswer {
  if (request.target !== undefined) return answerCloudWatch(resources.alarms, request, requestId);
  if (request.url.startsWith(`/${ROUTE53_API_VERSION}/`)) {
    const answer = resources.hostedZones.handle(request.method ?? 'GET', request.url, request.body, requestId) ?? {
      status: 404,
      action: undefined,
      body: '',
      refused: 'UnknownOperation',
    };
    return {
      status: answer.status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: answer.body,
      service: 'route53',
      action: answer.action,
      ...(answer.refused === undefined ? {} : { refused: answer.refused }),
    };
  }
  const headers = { 'content-type': 'text/xml', 'x-amzn-requestid': requestId };
  const params = QueryParams.parse(new URL(request.url, 'http://localhost').search, request.body);
  const action = params.optional('Action');
  const version = params.optional('Version');
  const service =
    version === EC2_API_VERSION
      ? 'ec2'
      : version === IAM_API_VERSION
        ? 'iam'
        : version === ELB_API_VERSION
          ? 'elb'
          : undefined;
  const errorXml = service === 'ec2' ? ec2ErrorXml : service === 'elb' ? elbErrorXml : iamErrorXml;
  try {
    if (action === undefined) throw new AwsRequestError('MissingAction', 'Missing Action');
    const answered =
      service === 'ec2'
        ? resources.securityGroups.handle(action, params, requestId)
        : service === 'iam'
          ? resources.iam.handle(action, params, requestId)
          : service === 'elb'
            ? resources.loadBalancers.handle(action, params, requestId)
            : undefined;
    if (answered === undefined)
      throw new AwsRequestError(
        'InvalidAction',
        `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`,
      );
    return { status: 200, headers, body: answered, service, action };
  } catch (err) {
    const error = asAwsError(err);
    return {
      status: error.httpStatus,
      headers,
      body: errorXml(error, requestId),
      service,
      action,
      refused: error.awsCode,
    };
  }
}

function answerCloudWatch(alarms: MetricAlarms, request: ResourceRequest, requestId: string): ResourceAnswer {
  const target = request.target ?? '';
  const action = target.startsWith(CLOUDWATCH_TARGET_PREFIX) ? target.slice(CLOUDWATCH_TARGET_PREFIX.length) : target;
  const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId };
  try {
    let input: unknown;
    try {
      input = request.body === '' ? {} : JSON.parse(request.body);
    } catch {
      throw new AwsRequestError('SerializationException', 'The request body is not JSON.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      throw new AwsRequestError('SerializationException', 'The request body is not a JSON object.');
    const answered = target.startsWith(CLOUDWATCH_TARGET_PREFIX)
      ? alarms.handle(action, input as Record<string, unknown>)
      : undefined;
    if (answered === undefined) throw new AwsRequestError('UnknownOperationException', `Unknown operation ${target}`);
    return { status: 200, headers, body: JSON.stringify(answered), service: 'cloudwatch', action };
  } catch (err) {
    const error = asAwsError(err);
    const type = error.httpStatus >= 500 ? 'Receiver' : 'Sender';
    return {
      status: error.httpStatus,
      // Query-compatible services say the query protocol's code here; the SDK prefers it.
      headers: { ...headers, 'x-amzn-query-error': `${error.awsCode};${type}` },
      body: JSON.stringify({ __type: `com.amazonaws.cloudwatch#${error.awsCode}`, message: error.message }),
      service: 'cloudwatch',
      action,
      refused: error.awsCode,
    };
  }
}

/** A refusal (the shared query parser's included) keeps its code; anything else is ours. */
function asAwsError(err: unknown): AwsRequestError {
  if (err instanceof AwsRequestError) return err;
  return new AwsRequestError('InternalFailure', 'An internal error occurred.', 500);
}
