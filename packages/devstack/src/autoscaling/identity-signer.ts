import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { generate } from 'selfsigned';

/** What the devstack knows about an instance when it launches it. */
export interface IdentityFacts {
  accountId: string;
  region: string;
  availabilityZone: string;
  imageId: string;
  instanceId: string;
  instanceType: string;
  privateIp: string;
  pendingTime: Date;
}

/** The signer the simulator needs; IdentitySigner is the real one. */
export interface IdentityDocumentSigner {
  sign(facts: IdentityFacts): { document: string; signature: string };
}

/**
 * Signs EC2-style instance identity documents with a certificate made for this devstack, so the
 * masters' attestation runs here exactly as on AWS: only the certificate they trust differs.
 * The private key never leaves this object; the certificate is public.
 */
export class IdentitySigner implements IdentityDocumentSigner {
  private constructor(
    readonly certificatePem: string,
    private readonly privateKey: KeyObject,
  ) {}

  static async generate(commonName = 'phoenix-devstack-identity'): Promise<IdentitySigner> {
    const pems = await generate([{ name: 'commonName', value: commonName }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
      ],
    });
    return new IdentitySigner(pems.cert, createPrivateKey(pems.private));
  }

  /** The document text as the metadata service serves it, and its base64 RSA-SHA256 signature. */
  sign(facts: IdentityFacts): { document: string; signature: string } {
    // AWS's field order, nulls included, so parsers meet the document they will meet on AWS.
    const document = JSON.stringify(
      {
        accountId: facts.accountId,
        architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64',
        availabilityZone: facts.availabilityZone,
        billingProducts: null,
        devpayProductCodes: null,
        marketplaceProductCodes: null,
        imageId: facts.imageId,
        instanceId: facts.instanceId,
        instanceType: facts.instanceType,
        kernelId: null,
        pendingTime: `${facts.pendingTime.toISOString().slice(0, 19)}Z`,
        privateIp: facts.privateIp,
        ramdiskId: null,
        region: facts.region,
        version: '2017-09-30',
      },
      null,
      2,
    );
    const signature = sign('sha256', Buffer.from(document, 'utf8'), this.privateKey).toString('base64');
    return { document, signature };
  }
}
