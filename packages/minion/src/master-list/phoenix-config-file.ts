import { z } from 'zod';
import { MasterAddressSchema, type MasterAddress } from '../connection/master-address.js';
import { sameMasters } from './live-masters.js';
import type { MasterListSink, PersistResult } from './sink.js';
import { readYamlFile, writeYamlFile } from './yaml-file.js';
import { PhoenixError } from '@phoenix/protocol';
import { MinionErrors } from '../errors.js';

const MastersSchema = z.array(MasterAddressSchema);

/**
 * The phoenix-minion config file's `masters` key, so the next start begins with the current
 * order. The file is read afresh each time (an operator or another tool may have changed it), and
 * only `masters` is replaced: every other key and comment stays as written.
 */
export class PhoenixConfigFile implements MasterListSink {
  constructor(readonly path: string) {}

  async persist(ordered: readonly MasterAddress[]): Promise<PersistResult> {
    const file = await readYamlFile(this.path);
    if (!file.exists) {
      // Creating it would leave a config that cannot start a minion (no keys, no directories).
      throw new PhoenixError(
        MinionErrors.PHX_MASTER_LIST_WRITE_FAILED,
        `${this.path} no longer exists; the master list was kept in memory only`,
        { details: { path: this.path } },
      );
    }
    const held = MastersSchema.safeParse(((file.doc.toJS() ?? {}) as { masters?: unknown }).masters ?? []);
    if (held.success && sameMasters(held.data, ordered)) return {};
    file.doc.set('masters', file.doc.createNode(ordered.map((m) => ({ ...m }))));
    await writeYamlFile(this.path, file);
    return { written: this.path };
  }
}
