import { X509Certificate, verify } from 'node:crypto';
import { PhoenixError, ProtocolErrors } from './errors.js';

/**
 * EC2 instance identity documents: what an instance proves about itself when it enrols. The
 * document is JSON text signed (RSA, SHA-256, base64) by the cloud; AWS publishes the certificate
 * per region, the devstack generates its own. Verification is pure: no network, no clock.
 */

/** The fields Phoenix reads from a document (AWS adds more, which are kept as they are). */
export interface InstanceIdentityDocument {
  readonly accountId: string;
  readonly architecture: string;
  readonly availabilityZone: string;
  readonly imageId: string;
  readonly instanceId: string;
  readonly instanceType: string;
  readonly pendingTime: string;
  readonly privateIp: string;
  readonly region: string;
  readonly version: string;
  readonly [field: string]: unknown;
}

/** As the instance metadata service serves them: the exact document text and its signature. */
export interface SignedIdentityDocument {
  readonly document: string;
  readonly signature: string;
}

export interface ExpectedIdentity {
  instanceId: string;
  accountId?: string;
  region?: string;
}

/** Far above any real document (under 1 KiB): a bound, so a hostile peer cannot make us hash megabytes. */
const MAX_DOCUMENT_CHARS = 16_384;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const REQUIRED_FIELDS = [
  'accountId',
  'architecture',
  'availabilityZone',
  'imageId',
  'instanceId',
  'instanceType',
  'pendingTime',
  'privateIp',
  'region',
  'version',
] as const;

/**
 * Checks that `signed` was signed by the holder of `certificatePem` and describes the expected
 * instance; returns the parsed document. The signature is checked over the exact document bytes
 * before the document is parsed, so nothing unauthenticated is ever interpreted.
 */
export function verifyIdentityDocument(
  signed: SignedIdentityDocument,
  certificatePem: string,
  expected: ExpectedIdentity,
): InstanceIdentityDocument {
  const { document, signature } = (signed ?? {}) as Partial<SignedIdentityDocument>;
  if (typeof document !== 'string' || document.length === 0 || document.length > MAX_DOCUMENT_CHARS) {
    throw malformed(`the identity document must be a non-empty string of at most ${MAX_DOCUMENT_CHARS} characters`);
  }
  const compactSignature = typeof signature === 'string' ? signature.replace(/\s+/g, '') : '';
  if (!BASE64.test(compactSignature)) throw malformed('the identity signature must be base64 text');

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch (cause) {
    throw new PhoenixError(
      ProtocolErrors.PHX_IDENTITY_MALFORMED,
      'the identity certificate is not a PEM X.509 certificate; check the configured certificate file',
      { cause },
    );
  }
  let valid = false;
  try {
    valid = verify(
      'sha256',
      Buffer.from(document, 'utf8'),
      certificate.publicKey,
      Buffer.from(compactSignature, 'base64'),
    );
  } catch {
    // A key type that cannot verify RSA-SHA256 signatures: the same answer as a wrong signature.
  }
  if (!valid) {
    throw new PhoenixError(
      ProtocolErrors.PHX_IDENTITY_BAD_SIGNATURE,
      `the identity document of ${expected.instanceId} is not signed by the configured certificate`,
      { details: { instanceId: expected.instanceId } },
    );
  }

  const parsed = parseDocument(document);
  for (const field of ['instanceId', 'accountId', 'region'] as const) {
    const want = expected[field];
    if (want !== undefined && parsed[field] !== want) {
      throw new PhoenixError(
        ProtocolErrors.PHX_IDENTITY_MISMATCH,
        `the identity document is for ${field} "${parsed[field]}", not "${want}"`,
        { details: { field, expected: want, actual: parsed[field] } },
      );
    }
  }
  return parsed;
}

function parseDocument(text: string): InstanceIdentityDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw malformed('the identity document is not JSON', cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed('the identity document is not a JSON object');
  }
  const record = value as Record<string, unknown>;
  const missing = REQUIRED_FIELDS.filter((field) => typeof record[field] !== 'string');
  if (missing.length > 0) throw malformed(`the identity document lacks string fields: ${missing.join(', ')}`);
  return Object.freeze(record) as InstanceIdentityDocument;
}

function malformed(message: string, cause?: unknown): PhoenixError {
  return new PhoenixError(ProtocolErrors.PHX_IDENTITY_MALFORMED, message, cause === undefined ? {} : { cause });
}
