/**
 * IAM roles as boto_iam_role uses them: the role and its trust policy, inline policies, attached
 * managed policies and the instance profile. Pure: parameters in, an XML document out.
 */
import { escapeXml, xmlElement, type QueryParams, type XmlValue } from '../autoscaling/query-protocol.js';
import { AwsRequestError } from '../aws-request-error.js';

export const IAM_API_VERSION = '2010-05-08';
const IAM_NAMESPACE = `https://iam.amazonaws.com/doc/${IAM_API_VERSION}/`;
const NAME = /^[\w+=,.@-]{1,128}$/;
const POLICY_ARN = /^arn:aws:iam::(aws|\d{12}):policy\/[\w+=,.@/-]{1,256}$/;

export interface RoleRecord {
  readonly name: string;
  readonly id: string;
  readonly path: string;
  readonly created: Date;
  trustPolicy: string;
  readonly inlinePolicies: Map<string, string>;
  readonly attachedPolicies: string[];
}

export interface InstanceProfileRecord {
  readonly name: string;
  readonly id: string;
  readonly path: string;
  readonly created: Date;
  readonly roles: string[];
}

export class IamRoles {
  private readonly roles = new Map<string, RoleRecord>();
  private readonly profiles = new Map<string, InstanceProfileRecord>();
  private sequence = 0;

  constructor(
    private readonly accountId: string,
    private readonly now: () => Date,
  ) {}

  describe(): { roles: RoleRecord[]; instanceProfiles: InstanceProfileRecord[] } {
    return {
      roles: [...this.roles.values()].map((r) => ({
        ...r,
        inlinePolicies: new Map(r.inlinePolicies),
        attachedPolicies: [...r.attachedPolicies],
      })),
      instanceProfiles: [...this.profiles.values()].map((p) => ({ ...p, roles: [...p.roles] })),
    };
  }

  /** Answers one IAM action; undefined when the action is not one this emulator has. */
  handle(action: string, params: QueryParams, requestId: string): string | undefined {
    const result = this.run(action, params);
    if (result === null) return undefined;
    const body = result === undefined ? '' : xmlElement(`${action}Result`, result);
    return (
      `<${action}Response xmlns="${IAM_NAMESPACE}">${body}` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
    );
  }

  /** The action's result; undefined for actions that return nothing, null for an unknown action. */
  private run(action: string, params: QueryParams): Record<string, XmlValue> | undefined | null {
    switch (action) {
      case 'GetRole':
        return { Role: this.roleXml(this.role(params)) };
      case 'CreateRole': {
        const name = named(params, 'RoleName');
        if (this.roles.has(name))
          throw new AwsRequestError('EntityAlreadyExists', `Role with name ${name} already exists.`, 409);
        const role: RoleRecord = {
          name,
          id: this.id('AROA'),
          path: path(params),
          created: this.now(),
          trustPolicy: document(params, 'AssumeRolePolicyDocument'),
          inlinePolicies: new Map(),
          attachedPolicies: [],
        };
        this.roles.set(name, role);
        return { Role: this.roleXml(role) };
      }
      case 'UpdateAssumeRolePolicy': {
        const role = this.role(params);
        role.trustPolicy = document(params, 'PolicyDocument');
        return undefined;
      }
      case 'DeleteRole': {
        const role = this.role(params);
        if (role.inlinePolicies.size > 0 || role.attachedPolicies.length > 0)
          throw conflict('Cannot delete entity, must delete policies first.');
        if ([...this.profiles.values()].some((p) => p.roles.includes(role.name)))
          throw conflict('Cannot delete entity, must remove roles from instance profile first.');
        this.roles.delete(role.name);
        return undefined;
      }
      case 'ListRolePolicies':
        return { PolicyNames: [...this.role(params).inlinePolicies.keys()], IsTruncated: false };
      case 'GetRolePolicy': {
        const role = this.role(params);
        const name = named(params, 'PolicyName');
        const policy = role.inlinePolicies.get(name);
        if (policy === undefined) throw noSuchEntity(`The role policy with name ${name} cannot be found.`);
        return { RoleName: role.name, PolicyName: name, PolicyDocument: encodeURIComponent(policy) };
      }
      case 'PutRolePolicy':
        this.role(params).inlinePolicies.set(named(params, 'PolicyName'), document(params, 'PolicyDocument'));
        return undefined;
      case 'DeleteRolePolicy': {
        const role = this.role(params);
        const name = named(params, 'PolicyName');
        if (!role.inlinePolicies.delete(name)) throw noSuchEntity(`The role policy with name ${name} cannot be found.`);
        return undefined;
      }
      case 'ListAttachedRolePolicies':
        return {
          AttachedPolicies: this.role(params).attachedPolicies.map((arn) => ({
            PolicyName: arn.slice(arn.lastIndexOf('/') + 1),
            PolicyArn: arn,
          })),
          IsTruncated: false,
        };
      case 'AttachRolePolicy': {
        const role = this.role(params);
        const arn = policyArn(params);
        if (!role.attachedPolicies.includes(arn)) role.attachedPolicies.push(arn);
        return undefined;
      }
      case 'DetachRolePolicy': {
        const role = this.role(params);
        const arn = policyArn(params);
        const at = role.attachedPolicies.indexOf(arn);
        if (at < 0) throw noSuchEntity(`Policy ${arn} was not found.`);
        role.attachedPolicies.splice(at, 1);
        return undefined;
      }
      case 'GetInstanceProfile':
        return { InstanceProfile: this.profileXml(this.profile(params)) };
      case 'CreateInstanceProfile': {
        const name = named(params, 'InstanceProfileName');
        if (this.profiles.has(name))
          throw new AwsRequestError('EntityAlreadyExists', `Instance Profile ${name} already exists.`, 409);
        const profile = { name, id: this.id('AIPA'), path: path(params), created: this.now(), roles: [] };
        this.profiles.set(name, profile);
        return { InstanceProfile: this.profileXml(profile) };
      }
      case 'AddRoleToInstanceProfile': {
        const profile = this.profile(params);
        const role = this.role(params);
        // An instance profile holds one role at most.
        if (profile.roles.length > 0)
          throw new AwsRequestError(
            'LimitExceeded',
            'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1',
            409,
          );
        profile.roles.push(role.name);
        return undefined;
      }
      case 'RemoveRoleFromInstanceProfile': {
        const profile = this.profile(params);
        const role = this.role(params);
        const at = profile.roles.indexOf(role.name);
        if (at < 0) throw noSuchEntity(`Role ${role.name} is not in instance profile ${profile.name}.`);
        profile.roles.splice(at, 1);
        return undefined;
      }
      case 'DeleteInstanceProfile': {
        const profile = this.profile(params);
        if (profile.roles.length > 0)
          throw conflict('Cannot delete entity, must remove roles from instance profile first.');
        this.profiles.delete(profile.name);
        return undefined;
      }
      default:
        return null;
    }
  }

  private role(params: QueryParams): RoleRecord {
    const name = named(params, 'RoleName');
    const role = this.roles.get(name);
    if (role === undefined) throw noSuchEntity(`The role with name ${name} cannot be found.`);
    return role;
  }

  private profile(params: QueryParams): InstanceProfileRecord {
    const name = named(params, 'InstanceProfileName');
    const profile = this.profiles.get(name);
    if (profile === undefined) throw noSuchEntity(`Instance Profile ${name} cannot be found.`);
    return profile;
  }

  private id(prefix: string): string {
    return `${prefix}${(++this.sequence).toString(36).toUpperCase().padStart(17, '0')}`;
  }

  /** IAM answers policy documents URL-encoded. */
  private roleXml(role: RoleRecord): XmlValue {
    return {
      Path: role.path,
      RoleName: role.name,
      RoleId: role.id,
      Arn: `arn:aws:iam::${this.accountId}:role${role.path}${role.name}`,
      CreateDate: role.created,
      AssumeRolePolicyDocument: encodeURIComponent(role.trustPolicy),
      MaxSessionDuration: 3600,
    };
  }

  private profileXml(profile: InstanceProfileRecord): XmlValue {
    return {
      Path: profile.path,
      InstanceProfileName: profile.name,
      InstanceProfileId: profile.id,
      Arn: `arn:aws:iam::${this.accountId}:instance-profile${profile.path}${profile.name}`,
      CreateDate: profile.created,
      Roles: profile.roles.flatMap((name) => {
        const role = this.roles.get(name);
        return role === undefined ? [] : [this.roleXml(role)];
      }),
    };
  }
}

function named(params: QueryParams, parameter: string): string {
  const value = params.optional(parameter);
  if (value === undefined)
    throw new AwsRequestError(
      'ValidationError',
      `1 validation error detected: Value null at '${lowerFirst(parameter)}' failed to satisfy constraint: Member must not be null`,
    );
  if (!NAME.test(value))
    throw new AwsRequestError(
      'ValidationError',
      `1 validation error detected: Value '${value}' at '${lowerFirst(parameter)}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`,
    );
  return value;
}

function path(params: QueryParams): string {
  const value = params.optional('Path') ?? '/';
  if (!/^\/([\x21-\x7e]*\/)?$/.test(value))
    throw new AwsRequestError('ValidationError', `The specified value for path is invalid.`);
  return value;
}

/** A policy document must be JSON; IAM keeps the text as sent. */
function document(params: QueryParams, parameter: string): string {
  const value = params.optional(parameter);
  if (value === undefined) throw new AwsRequestError('ValidationError', `${parameter} must not be null`);
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object');
  } catch {
    throw new AwsRequestError('MalformedPolicyDocument', 'This policy contains invalid Json');
  }
  return value;
}

function policyArn(params: QueryParams): string {
  const arn = params.optional('PolicyArn');
  if (arn === undefined || !POLICY_ARN.test(arn))
    throw new AwsRequestError('InvalidInput', `ARN ${arn ?? ''} is not valid.`);
  return arn;
}

const lowerFirst = (text: string): string => text.charAt(0).toLowerCase() + text.slice(1);
const noSuchEntity = (message: string): AwsRequestError => new AwsRequestError('NoSuchEntity', message, 404);
const conflict = (message: string): AwsRequestError => new AwsRequestError('DeleteConflict', message, 409);

/** IAM's error shape, as every query-protocol service but EC2 has it. */
export function iamErrorXml(error: AwsRequestError, requestId: string): string {
  const type = error.httpStatus >= 500 ? 'Receiver' : 'Sender';
  return (
    `<ErrorResponse xmlns="${IAM_NAMESPACE}"><Error><Type>${type}</Type><Code>${escapeXml(error.awsCode)}</Code>` +
    `<Message>${escapeXml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}
