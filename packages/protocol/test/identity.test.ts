import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPhoenixError } from '../src/errors.js';
import { verifyIdentityDocument, type SignedIdentityDocument } from '../src/identity.js';

// Fixtures made once with the devstack's IdentitySigner: two throwaway self-signed certificates
// (public parts only; their keys were discarded) and a document signed with the first.
const CERTIFICATE = [
  '-----BEGIN CERTIFICATE-----',
  'MIIC7TCCAdWgAwIBAgIJMpv53qjSLTqHMA0GCSqGSIb3DQEBCwUAMCUxIzAhBgNV',
  'BAMTGnBob2VuaXgtaWRlbnRpdHktZml4dHVyZS1hMB4XDTI2MTEyNDIxNDUxNFoX',
  'DTM2MTEyMTIxNDUxNFowJTEjMCEGA1UEAxMacGhvZW5peC1pZGVudGl0eS1maXh0',
  'dXJlLWEwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQC4bZrU3NXhFJ2P',
  'mWAAhciYM/zWG9EX2fif+DhmZ4kJkcefF2XYa7u3j9iLbR3QUNPF9uD5vvWxtJYM',
  'S1YVQqbcISf7f5FyhyxxXBq41xVZAUGa3eBneOcBKZz9vk5IzUuJwxqOtkIDqCFf',
  'P/1HKNbnhNZmJXY+1yOzt8IdJnYUvI6ViqNtIgOIH2lgZHFQtRbeU/O5+XBmgVS9',
  'Ux5ePiFNHR1kFt3Eq7exqcGKKd//o8JisMAg2XDfrYDGzPaEwu2Qrs6bdbojKLyE',
  'LWGqPleGJnPjhnVumWf1kRrQo4t8ygIGeJBShfx18ENQrNczuiSNDdo7qbPw76tb',
  'zqjJ94bDAgMBAAGjIDAeMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMA0G',
  'CSqGSIb3DQEBCwUAA4IBAQAo3Qdt9O1gAWHQE/oJKRbRhUwh0SxtZdAwZid6UVeH',
  'naqnXbb9P4y8AhN8cZVW5gVCh2HRVvIftdYRyofS0fHbIFfQKwU2KatkMXvtCIPV',
  'VZeGe2nJ/sxslkjWnK7nVD/NkAGyOpXn9rST5MF4s54FbLgu0o0aUeJwRNiJkwNs',
  'DlSDDi31Nul686/w+nHVx2vf7hRWywnqso9AOT7FHcUwr7lumtxTXCN3ArXoGN9O',
  'YBy8j9IpHLnWtbwqzUDjDrQ3HhcqlXcELVgN+vId1tS4ZcCodAZT87tp0tFxPSDH',
  's4gah9JOT+pmYqn9697i1IxpKaCT2ABquifkVYqRaQU/',
  '-----END CERTIFICATE-----',
].join('\n');
const OTHER_CERTIFICATE = [
  '-----BEGIN CERTIFICATE-----',
  'MIIC7TCCAdWgAwIBAgIJNoJ7U+eXnvJtMA0GCSqGSIb3DQEBCwUAMCUxIzAhBgNV',
  'BAMTGnBob2VuaXgtaWRlbnRpdHktZml4dHVyZS1iMB4XDTI2MTEyNDIxNDUxNFoX',
  'DTM2MTEyMTIxNDUxNFowJTEjMCEGA1UEAxMacGhvZW5peC1pZGVudGl0eS1maXh0',
  'dXJlLWIwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQC1ChhA1+08jyyR',
  '32gBjD+uNMmGFxqWtf+sZKHDDYmxqdxd2lRAJN2EhabO42/zwtheJJ85vBC6ZLOv',
  'G42hkQ2/H5OLf1dO65riJY5yLxwIpkvNwnvp+oDWAbRz0rz7OLdTZVD9kqArhYRp',
  'qfBpBZA2aFnKx7I6U4oXfcuyiVv0yKyxyFuU2/4rn4kwnn4/hrMUJOKWDQHBA/41',
  'r9FIHdGWFRBLHGts2fM3Th/8+T1r99HN7vty54PMTude6KYOo5Ewn/Z/yuO+Yedn',
  '0+YRnuCtFSDuy/yrq4KMBLzHdbSqfqpMX18F035/47UaGd6qnr3C4iCtX6urQn59',
  'WZO72ocPAgMBAAGjIDAeMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMA0G',
  'CSqGSIb3DQEBCwUAA4IBAQAR4o/tpXjbGkMotyAKxkr7keH6CeOrf0jAu5sBkM3p',
  'NLFYYv3mRksVrzBoFFyQEdX2urf52S/ruGy8BKhZu9uJ6V7+YU+bgktNUK+KUU/e',
  '3V2tnsL2gO8320iX4DwYQuBDggjGixxEimlFqiWbAQ1lkTqVkrqt82XfcASiDzne',
  'c7vXjrPPh1nvvEMzTsA7l/U25vdN7EApCgcSWrAUKStEFIpAiB7iHVfYej7Z3DPZ',
  'gacs6o7rwamlLQYPSbRXGjIPpoltkM+Y8d/Bj2uEGW4/oDkgFtsZy96sadOkFuI9',
  'btoG7JR6x7dPATaWo8107wuek/5Na/CYOT0cXk8asuOc',
  '-----END CERTIFICATE-----',
].join('\n');
const DOCUMENT = JSON.stringify(
  {
    accountId: '123456789012',
    architecture: 'x86_64',
    availabilityZone: 'us-east-1a',
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: 'ami-0123456789abcdef0',
    instanceId: 'i-0123456789abcdef0',
    instanceType: 't3.micro',
    kernelId: null,
    pendingTime: '2025-01-02T03:04:05Z',
    privateIp: '10.0.0.4',
    ramdiskId: null,
    region: 'us-east-1',
    version: '2017-09-30',
  },
  null,
  2,
);
const SIGNED: SignedIdentityDocument = {
  document: DOCUMENT,
  signature:
    'OLlT5DXPaT/+ftJpG4vR2i1snn/+eIpSTpzqSAikQ4ndBpP1BDi3NKLdERWzquQjGOpTDL1BXxV1E3FZlIJpUK0wwy1en3Fj3MhpT3pWNe2G/NWYsoC3vrR1wvRpBZBDz20V7NUiaP1TAPiTxP3nS5V9ij6gKQkQAnNo/4sbXX6OVm6eGOrPrZkGv+pZJo2r8X7YzR+EPjP4emOHACCEFaWHjOpph/CvHSxwgKeUJ6LEh/eFJtV7VjFLKCuzkwDag+nhTlpHYaep/PlcCj60RdYgXXw2Av2UIp5TuTNlqTYjTsFjV05340fIAsW92jA0SOZSUoxq0WgbAGOEU4kM6w==',
};
const INSTANCE = 'i-0123456789abcdef0';

function failsWith(code: string) {
  return (err: unknown): boolean => isPhoenixError(err, code);
}

test('a document signed by the trusted certificate for the expected instance is returned parsed', () => {
  const document = verifyIdentityDocument(SIGNED, CERTIFICATE, {
    instanceId: INSTANCE,
    accountId: '123456789012',
    region: 'us-east-1',
  });
  assert.equal(document.instanceId, INSTANCE);
  assert.equal(document.privateIp, '10.0.0.4');
  assert.equal(document.version, '2017-09-30');
  assert.ok(Object.isFrozen(document));
});

test('a tampered document fails the signature check', () => {
  const tampered = { ...SIGNED, document: DOCUMENT.replace('10.0.0.4', '10.0.0.5') };
  assert.throws(
    () => verifyIdentityDocument(tampered, CERTIFICATE, { instanceId: INSTANCE }),
    failsWith('PHX_IDENTITY_BAD_SIGNATURE'),
  );
  const reformatted = { ...SIGNED, document: JSON.stringify(JSON.parse(DOCUMENT)) };
  assert.throws(
    () => verifyIdentityDocument(reformatted, CERTIFICATE, { instanceId: INSTANCE }),
    failsWith('PHX_IDENTITY_BAD_SIGNATURE'),
    'the signature covers the exact bytes, not the JSON value',
  );
});

test('a document signed by another certificate fails the signature check', () => {
  assert.throws(
    () => verifyIdentityDocument(SIGNED, OTHER_CERTIFICATE, { instanceId: INSTANCE }),
    failsWith('PHX_IDENTITY_BAD_SIGNATURE'),
  );
});

test('a valid document for another instance, account or region is a mismatch', () => {
  assert.throws(
    () => verifyIdentityDocument(SIGNED, CERTIFICATE, { instanceId: 'i-0fedcba9876543210' }),
    failsWith('PHX_IDENTITY_MISMATCH'),
  );
  assert.throws(
    () => verifyIdentityDocument(SIGNED, CERTIFICATE, { instanceId: INSTANCE, accountId: '210987654321' }),
    failsWith('PHX_IDENTITY_MISMATCH'),
  );
  assert.throws(
    () => verifyIdentityDocument(SIGNED, CERTIFICATE, { instanceId: INSTANCE, region: 'eu-west-1' }),
    failsWith('PHX_IDENTITY_MISMATCH'),
  );
});

test('input that is not a document, a signature or a certificate is malformed', () => {
  const expected = { instanceId: INSTANCE };
  const cases: Array<[unknown, string]> = [
    [{ ...SIGNED, signature: 'not base64!' }, CERTIFICATE],
    [{ ...SIGNED, document: '' }, CERTIFICATE],
    [{ ...SIGNED, document: 'x'.repeat(20_000) }, CERTIFICATE],
    [{ document: 42, signature: SIGNED.signature }, CERTIFICATE],
    [null, CERTIFICATE],
    [SIGNED, 'not a certificate'],
  ];
  for (const [signed, certificate] of cases) {
    assert.throws(
      () => verifyIdentityDocument(signed as SignedIdentityDocument, certificate, expected),
      failsWith('PHX_IDENTITY_MALFORMED'),
      JSON.stringify(signed)?.slice(0, 80),
    );
  }
});
