import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsClientConfig, type AwsSettings } from '@phoenix/protocol';
import { isLive, Store, type MasterRecord } from '@phoenix/store';

/** The masters' default `deadAfterMs`: a heartbeat older than this is a dead master. */
export const MASTER_DEAD_AFTER_MS = 6_000;

/** The masters a new minion may be given, and whose APIs the CLI may use: read from the masters table. */
export class LiveMasters {
  readonly #client: DynamoDBClient;
  readonly #store: Store;

  constructor(aws: AwsSettings, tablePrefix: string) {
    this.#client = new DynamoDBClient(awsClientConfig(aws, 'dynamodb'));
    this.#store = new Store(this.#client, tablePrefix);
  }

  /** Live and active (a draining master takes no new minions), ordered by id so the answer is stable. */
  async list(now = Date.now()): Promise<MasterRecord[]> {
    const rows = await this.#store.masters.list();
    return rows
      .filter((row) => row.status === 'active' && isLive(row, MASTER_DEAD_AFTER_MS, now))
      .sort((a, b) => a.masterId.localeCompare(b.masterId));
  }

  close(): void {
    this.#client.destroy();
  }
}
