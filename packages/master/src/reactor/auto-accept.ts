import type { Logger } from 'pino';
import { isPhoenixError, verifyIdentityDocument } from '@phoenix/protocol';
import type { Store } from '@phoenix/store';
import type { ClusterEvents } from '../events.js';
import type { KeyRegistry } from '../keys.js';

export interface AttestationPolicy {
  enabled: boolean;
  certificatePem?: string;
  accountId?: string;
  region?: string;
}

/** Instances the reactor saw launch, into service or into the warm pool, and not leaving. */
const LAUNCHED = new Set(['warming', 'warmed', 'launching', 'in-service']);

/**
 * Accepts a pending key without a human only for an instance the reactor saw launch and that is not
 * terminating; with attestation on, only when the minion presented an identity document signed by
 * the configured certificate for that very instance (and account and region, when configured).
 * Either order works: it is asked when a key arrives and when a launch is recorded.
 */
export class AutoAcceptor {
  constructor(
    private readonly store: Store,
    private readonly keys: KeyRegistry,
    private readonly policy: AttestationPolicy,
    private readonly events: ClusterEvents,
    private readonly log: Logger,
  ) {}

  async consider(minionId: string): Promise<boolean> {
    const record = await this.store.minions.get(minionId);
    if (record?.keyState !== 'pending') return false;
    if (record.lifecycle === undefined || !LAUNCHED.has(record.lifecycle.state)) return false; // not an instance we launched
    const refusal = this.#refusal(minionId, record.attestation);
    if (refusal !== undefined) {
      this.events.emit('key/refused', { minionId, reason: refusal });
      return false;
    }
    const accepted = await this.keys.acceptPending(minionId);
    if (accepted) this.events.emit('key/accepted', { minionId, by: 'reactor', attested: this.policy.enabled });
    return accepted;
  }

  #refusal(minionId: string, attestation: Record<string, unknown> | undefined): string | undefined {
    if (!this.policy.enabled) return undefined;
    if (this.policy.certificatePem === undefined) return 'attestation is on but no certificate is configured';
    const document = attestation?.document;
    const signature = attestation?.signature;
    if (typeof document !== 'string' || typeof signature !== 'string') return 'no identity document was presented';
    try {
      verifyIdentityDocument({ document, signature }, this.policy.certificatePem, {
        instanceId: minionId,
        ...(this.policy.accountId === undefined ? {} : { accountId: this.policy.accountId }),
        ...(this.policy.region === undefined ? {} : { region: this.policy.region }),
      });
      return undefined;
    } catch (err) {
      if (isPhoenixError(err)) return err.message;
      this.log.warn({ err, minionId }, 'identity document check failed');
      return 'the identity document could not be checked';
    }
  }
}
