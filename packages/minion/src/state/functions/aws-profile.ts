import { z } from 'zod';
import type { AwsSettings, Clock } from '@phoenix/protocol';

/** The AWS services the boto_* states speak to, by the SDK's names (the keys of a profile's `endpoints`). */
export type AwsStateService =
  'sqs' | 'sns' | 'dynamodb' | 'autoscaling' | 'cloudwatch' | 'iam' | 'ec2' | 'elb' | 'route53';

/** Salt's prefix for per-service options (`sqs.region`, `asg.keyid`) in pillar. */
const SALT_PREFIX: Readonly<Record<AwsStateService, string>> = {
  sqs: 'sqs',
  sns: 'sns',
  dynamodb: 'dynamodb',
  autoscaling: 'asg',
  cloudwatch: 'cloudwatch',
  iam: 'iam',
  ec2: 'secgroup',
  elb: 'elb',
  route53: 'route53',
};

const Url = z.url({ protocol: /^https?$/ });

/**
 * A profile as Salt's boto states take it (`region`, `keyid`, `key`), plus Phoenix's endpoints:
 * `endpoint` for every service, or `endpoints` by service (a local cloud, a VPC endpoint).
 */
export const AwsProfileSchema = z.strictObject({
  region: z.string().min(1).optional(),
  keyid: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  endpoint: Url.optional(),
  endpoints: z
    .partialRecord(z.enum(['sqs', 'sns', 'dynamodb', 'autoscaling', 'cloudwatch', 'iam', 'ec2', 'elb', 'route53']), Url)
    .optional(),
});
export type AwsProfile = z.output<typeof AwsProfileSchema>;

/** The connection arguments every boto_* state takes, as Salt's. */
export const connectionArgs = {
  region: z.string().min(1).optional(),
  keyid: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  profile: z.union([z.string().min(1), AwsProfileSchema]).optional(),
};

export interface ConnectionArgs {
  region?: string | undefined;
  keyid?: string | undefined;
  key?: string | undefined;
  profile?: string | AwsProfile | undefined;
}

/** What the minion knows of AWS: its own settings (region, endpoints, credentials) and its named profiles. */
export interface AwsStateEnvironment {
  readonly settings?: AwsSettings | undefined;
  readonly profiles?: Readonly<Record<string, AwsProfile>> | undefined;
  /** Sees every SDK client a state makes before its first call (tests add middleware that records requests). */
  readonly onClient?: ((client: object) => void) | undefined;
  /** The time a state waits by (a table becoming ACTIVE): the system's unless a test gives its own. */
  readonly clock?: Clock | undefined;
}

/** Region, endpoint and credentials for one SDK client; credentials absent means the SDK's chain (the instance's role). */
export interface AwsConnection {
  readonly region: string;
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Values that must never be shown (the secret key), for redacting AWS's messages. */
  readonly secrets: readonly string[];
}

export type Resolved = { ok: true; connection: AwsConnection } | { ok: false; comment: string };

/**
 * Salt's `_get_profile`: a profile named by a string is looked up in the minion config (its
 * `awsProfiles`), then in pillar (`config.option`'s order); a profile's keys win over the state's
 * own `region`/`keyid`/`key`; what is still missing comes from pillar's `<service>.region`,
 * `<service>.keyid`, `<service>.key`, then the minion's own `aws` settings. Without a key pair the
 * SDK's default chain applies: on an instance, its role. Pure; no value of a key reaches a comment.
 */
export function resolveConnection(
  service: AwsStateService,
  args: ConnectionArgs,
  pillar: Readonly<Record<string, unknown>>,
  env: AwsStateEnvironment,
): Resolved {
  let profile: AwsProfile = {};
  if (typeof args.profile === 'string') {
    const name = args.profile;
    const found = env.profiles?.[name] ?? pillar[name];
    if (found === undefined)
      return {
        ok: false,
        comment: `AWS profile '${name}' is neither in the minion config's awsProfiles nor in pillar`,
      };
    const parsed = AwsProfileSchema.safeParse(found);
    if (!parsed.success) {
      const where = env.profiles?.[name] !== undefined ? 'the minion config' : 'pillar';
      const keys = parsed.error.issues.map((issue) =>
        issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.map(String).join('.') || '(profile)',
      );
      return { ok: false, comment: `AWS profile '${name}' in ${where} is not valid (check ${keys.join('; ')})` };
    }
    profile = parsed.data;
  } else if (args.profile !== undefined) {
    profile = args.profile;
  }
  const prefix = SALT_PREFIX[service];
  const option = (name: string): string | undefined => {
    const value = pillar[`${prefix}.${name}`];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const region = profile.region ?? args.region ?? option('region') ?? env.settings?.region ?? 'us-east-1';
  const keyid = profile.keyid ?? args.keyid ?? option('keyid');
  const key = profile.key ?? args.key ?? option('key');
  if ((keyid === undefined) !== (key === undefined))
    return {
      ok: false,
      comment: `AWS credentials need both keyid and key (only ${keyid === undefined ? 'key' : 'keyid'} is given)`,
    };
  const endpoint = profile.endpoints?.[service] ?? profile.endpoint ?? endpointOf(env.settings, service);
  const credentials =
    keyid !== undefined && key !== undefined
      ? { accessKeyId: keyid, secretAccessKey: key }
      : args.profile === undefined && env.settings?.credentials !== undefined
        ? env.settings.credentials
        : undefined;
  return {
    ok: true,
    connection: {
      region,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(credentials === undefined ? {} : { credentials }),
      secrets: credentials === undefined ? [] : [credentials.secretAccessKey],
    },
  };
}

function endpointOf(settings: AwsSettings | undefined, service: AwsStateService): string | undefined {
  if (settings === undefined) return undefined;
  const endpoints: Readonly<Record<string, string | undefined>> = settings.endpoints;
  return endpoints[service];
}
