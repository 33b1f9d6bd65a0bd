export { AwsResources, answerResourceRequest } from './requests.js';
export type { AwsResourcesOptions, ResourceAnswer, ResourceRequest } from './requests.js';
export type { SecurityGroupRecord, SecurityGroupRule } from './ec2.js';
export { DEFAULT_VPC_ID } from './ec2.js';
export type { InstanceProfileRecord, RoleRecord } from './iam.js';
export type { AlarmRecord } from './cloudwatch.js';
export { startResourceServer } from './server.js';
export type { ResourceServer, ResourceServerOptions } from './server.js';
export type { HealthCheckRecord, ListenerRecord, LoadBalancerAttributesRecord, LoadBalancerRecord } from './elb.js';
