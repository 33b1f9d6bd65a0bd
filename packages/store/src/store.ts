import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '@phoenix/protocol';
import { JobsTable } from './jobs-table.js';
import { MastersTable } from './masters-table.js';
import { MinionsTable } from './minions-table.js';
import { StoreOptionsSchema } from './options.js';
import type { StoreOptionsInput } from './options.js';
import { ReturnsTable } from './returns-table.js';
import { ScheduleClaims } from './schedule-claims.js';
import { ApiTokensTable } from './api-tokens.js';
import { RunsTable } from './runs-table.js';
import { ReactionClaims } from './reaction-claims.js';
import { createTables, tableDefinitions } from './tables.js';
import type { CreateTablesOptions } from './tables.js';

/** The four tables of one cluster (one prefix), over one DynamoDB client. */
export class Store {
  readonly masters: MastersTable;
  readonly minions: MinionsTable;
  readonly jobs: JobsTable;
  readonly returns: ReturnsTable;
  /** Claims of scheduled ticks, kept in the jobs table. */
  readonly scheduleClaims: ScheduleClaims;
  /** API tokens made by `phoenix tokens create`, kept in the returns table. */
  readonly apiTokens: ApiTokensTable;
  /** Batch rollouts and orchestrations: headers in the jobs table, their items in the returns table. */
  readonly runs: RunsTable;
  /** Claims of reactions (a rule's answer to a cluster event), kept in the jobs table. */
  readonly reactionClaims: ReactionClaims;

  constructor(
    private readonly client: DynamoDBClient,
    readonly prefix: string,
    options: StoreOptionsInput = {},
  ) {
    const parsed = parseConfig(StoreOptionsSchema, options, 'store options');
    const names = tableDefinitions(prefix);
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.masters = new MastersTable(doc, names.masters.TableName, parsed);
    this.minions = new MinionsTable(doc, names.minions.TableName, parsed);
    this.jobs = new JobsTable(doc, names.jobs.TableName, parsed);
    this.returns = new ReturnsTable(doc, names.returns.TableName, parsed, client);
    this.scheduleClaims = new ScheduleClaims(doc, names.jobs.TableName, parsed);
    this.apiTokens = new ApiTokensTable(doc, names.returns.TableName, parsed);
    this.reactionClaims = new ReactionClaims(doc, names.jobs.TableName, parsed);
    this.runs = new RunsTable(doc, names.jobs.TableName, names.returns.TableName, parsed);
  }

  createTables(options?: CreateTablesOptions): Promise<void> {
    return createTables(this.client, this.prefix, options);
  }
}
