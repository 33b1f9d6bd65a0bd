import { z } from 'zod';

/**
 * Where a process finds the AWS services it uses. On AWS only `region` is set and the SDK's own
 * credential chain applies; the devstack fills in loopback endpoints and static test credentials.
 * Nothing else differs between the two, so the code under test is the code that runs on AWS.
 */
export const AwsSettingsSchema = z.strictObject({
  region: z.string().min(1).default('us-east-1'),
  endpoints: z
    .strictObject({
      dynamodb: z.url().optional(),
      sqs: z.url().optional(),
      sns: z.url().optional(),
      autoscaling: z.url().optional(),
      ec2: z.url().optional(),
      iam: z.url().optional(),
      cloudwatch: z.url().optional(),
      elb: z.url().optional(),
      route53: z.url().optional(),
      secretsmanager: z.url().optional(),
      ssm: z.url().optional(),
    })
    .default({}),
  credentials: z.strictObject({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).optional(),
});
export type AwsSettings = z.output<typeof AwsSettingsSchema>;
export type AwsService = keyof AwsSettings['endpoints'];

/** The part of every AWS SDK v3 client config that Phoenix sets: region, endpoint, credentials. */
export interface AwsClientConfig {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function awsClientConfig(settings: AwsSettings, service: AwsService): AwsClientConfig {
  const config: AwsClientConfig = { region: settings.region };
  const endpoint = settings.endpoints[service];
  if (endpoint !== undefined) config.endpoint = endpoint;
  if (settings.credentials !== undefined) config.credentials = { ...settings.credentials };
  return config;
}
