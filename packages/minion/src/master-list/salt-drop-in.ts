import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { MasterAddress } from '../connection/master-address.js';
import { runRestartCommand, type RestartOutcome } from './restart-command.js';
import type { MasterListSink, PersistResult } from './sink.js';
import { readYamlFile, writeYamlFile } from './yaml-file.js';
import { PhoenixError } from '@phoenix/protocol';
import { MinionErrors } from '../errors.js';

export interface SaltDropInOptions {
  /** e.g. /etc/salt/minion.d/phoenix-masters.conf (salt-minion includes minion.d/*.conf). */
  configPath: string;
  /** Run through /bin/sh once per real change, e.g. `systemctl restart salt-minion`. */
  restartCommand: string;
  restartTimeoutMs?: number;
  /** The salt-masters' ret port when it is not 4506: written as `master_port`. */
  port?: number;
  /** Seconds; written as `master_alive_interval`. */
  masterAliveInterval?: number;
}

const HEADER =
  ' Written by phoenix-minion master-list: master, master_type, master_alive_interval and retry_dns\n' +
  ' (and master_port when configured) are rewritten when the masters change; other keys are kept.';

/**
 * Serves a plain salt-minion: the failover order goes into a drop-in as Salt's own settings, and
 * the restart command runs once per real change of the file (salt-minion reads its config only at
 * start). The keys written, and why each is needed:
 *  - `master`: the master hosts in failover order. Salt tries them in list order with
 *    `master_type: failover`; hosts only, since the table holds Phoenix ports, not Salt's (the ret
 *    port is `master_port`, and the publish port is learnt from the master when the minion signs in).
 *    A host listed twice is kept once: Salt reaches one master per host and port.
 *  - `master_type: failover`: without it a list means "connect to all of them" (multi-master).
 *  - `master_alive_interval`: Salt schedules its dead-master check only when this is set; without
 *    it a failover minion stays on a dead master.
 *  - `retry_dns: 0`: Salt forces this in failover mode anyway (with a CRITICAL log line at every
 *    start) so that a name that does not resolve moves on to the next master.
 */
export class SaltDropIn implements MasterListSink {
  readonly #o: SaltDropInOptions;
  readonly #log: Logger;
  /** A restart that failed is owed: the next refresh runs it even when the file is unchanged. */
  #restartOwed = false;

  constructor(options: SaltDropInOptions, log: Logger) {
    this.#o = options;
    this.#log = log;
  }

  async persist(ordered: readonly MasterAddress[]): Promise<PersistResult> {
    const wanted = this.#settings(ordered);
    const file = await readYamlFile(this.#o.configPath);
    const held = (file.doc.toJS() ?? {}) as Record<string, unknown>;
    const inPlace = Object.entries(wanted).every(([key, value]) => isDeepStrictEqual(held[key], value));
    if (inPlace) return this.#restartOwed ? { restart: await this.#restart() } : {};
    if (!file.exists) file.doc.commentBefore = HEADER;
    for (const [key, value] of Object.entries(wanted)) file.doc.set(key, file.doc.createNode(value));
    await writeYamlFile(this.#o.configPath, file);
    return { written: this.#o.configPath, restart: await this.#restart() };
  }

  #settings(ordered: readonly MasterAddress[]): Record<string, unknown> {
    const hosts = [...new Set(ordered.map((m) => m.host))];
    if (hosts.length === 0) {
      throw new PhoenixError(MinionErrors.PHX_MASTER_LIST_NO_LIVE_MASTER, 'no master to write to the Salt drop-in');
    }
    return {
      master: hosts,
      master_type: 'failover',
      master_alive_interval: this.#o.masterAliveInterval ?? 30,
      retry_dns: 0,
      ...(this.#o.port === undefined ? {} : { master_port: this.#o.port }),
    };
  }

  async #restart(): Promise<RestartOutcome> {
    const outcome = await runRestartCommand(this.#o.restartCommand, this.#o.restartTimeoutMs ?? 60_000, this.#log);
    this.#restartOwed = !outcome.ok;
    return outcome;
  }
}
