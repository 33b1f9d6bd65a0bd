import type { Logger } from 'pino';
import { isPhoenixError, PhoenixError, type MasterEndpoint, ProtocolErrors } from '@phoenix/protocol';
import type { MasterRecord } from '@phoenix/store';
import { describeMaster, type MasterAddress } from '../connection/master-address.js';
import { jittered, systemClock, type MasterListClock } from './clock.js';
import { frozenList, orderFromTable, orderPushed, sameMasters } from './live-masters.js';
import { PhoenixConfigFile } from './phoenix-config-file.js';
import type { RestartOutcome } from './restart-command.js';
import { SaltDropIn, type SaltDropInOptions } from './salt-drop-in.js';
import { inMemorySink, type MasterListSink, type PersistResult } from './sink.js';
import { MinionErrors } from '../errors.js';

/** The one read the manager makes: `store.masters` satisfies it. */
export interface MastersTableReader {
  list(): Promise<readonly MasterRecord[]>;
}

export interface MasterListManagerOptions {
  minionId: string;
  /** The list the minion started with (its config file's `masters`). */
  initial?: readonly MasterAddress[];
  /** Phoenix mode: the config file whose `masters` is kept in order. None: in memory only. */
  configPath?: string;
  /** The masters table; none means pushed lists only. */
  table?: MastersTableReader;
  /** Called by stop(): releases whatever the table reader holds (an SDK client). */
  closeTable?: () => void;
  /** A master whose heartbeat is older than this is out of the list. Default 6000. */
  deadAfterMs?: number;
  /** Table reads while no master is connected, ±20% jitter. Default 60000. */
  pollMs?: number;
  /** After start (with a list) or losing the master: how long the connection may take first. Default 5000. */
  connectGraceMs?: number;
  clock?: MasterListClock;
  /** For the jitter; [0, 1). */
  random?: () => number;
  log: Logger;
  /** `salt`: keep a salt-minion drop-in and run its restart command instead of the config file. */
  mode?: 'phoenix' | 'salt';
  salt?: SaltDropInOptions;
  /** After a change is persisted: the minion reloads its connection with the new order. */
  onChange?: (ordered: readonly MasterAddress[]) => void | Promise<void>;
  /** Every apply, changed or not: for the standalone command's output. */
  onOutcome?: (outcome: MasterListOutcome) => void;
}

export type MasterListSource = 'pushed' | 'table';

/** What one apply did; `master-list --out json` prints it as is. */
export interface MasterListOutcome {
  source: MasterListSource;
  /** `changed`: the list in force or its file changed. `skipped`: nothing was applied (see error/reason). */
  result: 'changed' | 'unchanged' | 'skipped';
  /** The list in force afterwards, and before. */
  masters: readonly MasterAddress[];
  previous: readonly MasterAddress[];
  /** The file rewritten, when one was. */
  written?: string;
  restart?: RestartOutcome;
  /** From a table read: masters left out as dead, and those put last as draining. */
  dead?: string[];
  draining?: string[];
  reason?: string;
  /** Why the list was skipped, or what failed after it was applied (a write, the restart). */
  error?: { code: string; message: string };
}

/**
 * Keeps one minion's failover-ordered master list. Sources, the newest winning: lists pushed by the
 * connected master (the normal path: a change reaches the minion at once), reads of the masters
 * table (the fallback while no master is connected; none in steady state), and the config file's
 * list at start. A list that differs from what is held is persisted — the config file's `masters`,
 * or in Salt mode a salt-minion drop-in plus a restart — and then handed to `onChange`. An unchanged
 * list writes nothing and calls nothing; a list that cannot be trusted (a bad row, an empty list,
 * an unreadable table) changes nothing.
 */
export class MasterListManager {
  #tableReads = 0;
  readonly #o: MasterListManagerOptions;
  readonly #log: Logger;
  readonly #clock: MasterListClock;
  readonly #random: () => number;
  readonly #sink: MasterListSink;
  readonly #deadAfterMs: number;
  readonly #pollMs: number;
  readonly #connectGraceMs: number;
  #current: readonly MasterAddress[];
  /** Applies run one at a time, in the order they were asked for. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Every apply takes a ticket when it starts; one older than the last applied is stale. */
  #tickets = 0;
  #appliedTicket = 0;
  #running = false;
  #connected = false;
  #timer: unknown;
  #polling: Promise<unknown> | undefined;

  constructor(options: MasterListManagerOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'master-list' });
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#deadAfterMs = options.deadAfterMs ?? 6_000;
    this.#pollMs = options.pollMs ?? 60_000;
    this.#connectGraceMs = options.connectGraceMs ?? 5_000;
    this.#current = frozenList(options.initial ?? []);
    if (options.mode === 'salt') {
      if (options.salt === undefined) {
        throw new PhoenixError(ProtocolErrors.PHX_CONFIG_INVALID, 'master-list mode "salt" needs the salt settings');
      }
      this.#sink = new SaltDropIn(options.salt, this.#log);
    } else {
      this.#sink = options.configPath === undefined ? inMemorySink : new PhoenixConfigFile(options.configPath);
    }
  }

  /** The list in force, in failover order: a frozen copy, so callers cannot change it. */
  /** Reads of the masters table so far: none while a master is connected (the benchmark counts them). */
  get tableReads(): number {
    return this.#tableReads;
  }

  current(): readonly MasterAddress[] {
    return this.#current;
  }

  /** A `masters` message from the connected master. True if it changed something. */
  async applyPushed(masters: readonly MasterEndpoint[]): Promise<boolean> {
    return (await this.applyPushedOutcome(masters)).result === 'changed';
  }

  applyPushedOutcome(masters: readonly MasterEndpoint[]): Promise<MasterListOutcome> {
    const ticket = ++this.#tickets;
    return this.#serially(() => {
      let ordered: MasterAddress[];
      try {
        ordered = orderPushed(this.#o.minionId, masters);
      } catch (err) {
        return this.#skipped('pushed', err);
      }
      return this.#apply('pushed', ticket, ordered, {});
    });
  }

  /** Reads the masters table and applies what it says. True if it changed something. */
  async refreshFromTable(): Promise<boolean> {
    return (await this.refreshFromTableOutcome()).result === 'changed';
  }

  async refreshFromTableOutcome(): Promise<MasterListOutcome> {
    const ticket = ++this.#tickets;
    const table = this.#o.table;
    if (table === undefined) {
      return this.#skipped(
        'table',
        new PhoenixError(MinionErrors.PHX_MASTER_LIST_NO_TABLE, 'no masters table is configured (set `aws`)'),
      );
    }
    let rows: readonly MasterRecord[];
    try {
      this.#tableReads++;
      rows = await table.list();
    } catch (err) {
      const code = isPhoenixError(err) ? ` [${err.code}]` : '';
      return this.#skipped(
        'table',
        new PhoenixError(
          MinionErrors.PHX_MASTER_LIST_TABLE_UNREADABLE,
          `cannot read the masters table: ${err instanceof Error ? err.message : String(err)}${code}`,
          { cause: err },
        ),
      );
    }
    return this.#serially(() => {
      let order: ReturnType<typeof orderFromTable>;
      try {
        order = orderFromTable(this.#o.minionId, rows, this.#deadAfterMs, this.#clock.now());
      } catch (err) {
        return this.#skipped('table', err);
      }
      return this.#apply('table', ticket, order.ordered, { dead: order.dead, draining: order.draining });
    });
  }

  /**
   * Starts the fallback poll. A minion with no master in its list reads the table at once; one with
   * a list gives its connection `connectGraceMs` to reach one of them first (a live one pushes the
   * current list), then reads, and reads again every `pollMs` (jittered) while none is connected.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    if (this.#connected || this.#o.table === undefined) return;
    if (this.#current.length === 0) void this.#poll();
    else this.#schedule(jittered(this.#connectGraceMs, this.#random));
  }

  /**
   * The connection says whether a master is connected. While one is, the table is never read (its
   * pushes keep the list current); after losing it, the table is read if no master is back within
   * `connectGraceMs`.
   */
  setConnected(connected: boolean): void {
    if (connected === this.#connected) return;
    this.#connected = connected;
    if (connected) {
      this.#cancelTimer();
      return;
    }
    if (this.#running && this.#o.table !== undefined && this.#timer === undefined && this.#polling === undefined) {
      this.#schedule(jittered(this.#connectGraceMs, this.#random));
    }
  }

  /** Stops polling and waits for an apply in progress; releases the table client. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#cancelTimer();
    await this.#polling;
    await this.#queue;
    this.#o.closeTable?.();
  }

  async #poll(): Promise<void> {
    if (!this.#running || this.#connected || this.#polling !== undefined) return;
    const polling = this.refreshFromTableOutcome();
    this.#polling = polling;
    try {
      await polling;
    } finally {
      this.#polling = undefined;
      if (this.#running && !this.#connected) this.#schedule(jittered(this.#pollMs, this.#random));
    }
  }

  #schedule(ms: number): void {
    this.#cancelTimer();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#poll();
    }, ms);
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #serially(apply: () => Promise<MasterListOutcome> | MasterListOutcome): Promise<MasterListOutcome> {
    const next = this.#queue.then(apply);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #apply(
    source: MasterListSource,
    ticket: number,
    ordered: MasterAddress[],
    facts: Pick<MasterListOutcome, 'dead' | 'draining'>,
  ): Promise<MasterListOutcome> {
    const previous = this.#current;
    if (ticket < this.#appliedTicket) {
      const reason = 'a newer list was applied while this one was on its way';
      this.#log.debug({ source }, `master list skipped: ${reason}`);
      return this.#report({ source, result: 'skipped', masters: previous, previous, reason, ...facts });
    }
    if (ordered.length === 0) {
      return this.#skipped(
        source,
        new PhoenixError(
          MinionErrors.PHX_MASTER_LIST_NO_LIVE_MASTER,
          source === 'table'
            ? 'the masters table has no live master; the list is kept as it is'
            : 'the pushed list is empty; the list is kept as it is',
        ),
        facts,
      );
    }
    this.#appliedTicket = ticket;
    const inMemoryChanged = !sameMasters(previous, ordered);
    if (inMemoryChanged) this.#current = frozenList(ordered);
    // Persisted even when memory already agrees: the file may still hold an older list (a failed
    // write, a hand edit), and the sink writes only what differs.
    let persisted: PersistResult = {};
    let error: MasterListOutcome['error'];
    try {
      persisted = await this.#sink.persist(this.#current);
    } catch (err) {
      error = describe(err);
      this.#log.error({ err, source }, 'master list not persisted; the next refresh tries again');
    }
    if (error === undefined && persisted.restart !== undefined && !persisted.restart.ok) {
      error = {
        code: MinionErrors.PHX_MASTER_LIST_RESTART_FAILED.code,
        message: `restart command \`${persisted.restart.command}\` failed (exit ${persisted.restart.exitCode ?? 'none'}${persisted.restart.timedOut ? ', timed out' : ''})`,
      };
    }
    // In Salt mode the drop-in is the state that matters (a fresh `--once` process starts with no
    // list in memory): a change is a rewrite of it. In Phoenix mode the list in force counts too.
    const written = persisted.written !== undefined;
    const changed = this.#o.mode === 'salt' ? written : inMemoryChanged || written;
    const notify = this.#o.mode === 'salt' ? written : inMemoryChanged;
    const outcome: MasterListOutcome = {
      source,
      result: changed ? 'changed' : 'unchanged',
      masters: this.#current,
      previous,
      ...(persisted.written === undefined ? {} : { written: persisted.written }),
      ...(persisted.restart === undefined ? {} : { restart: persisted.restart }),
      ...facts,
      ...(error === undefined ? {} : { error }),
    };
    if (changed) {
      this.#log.info(
        {
          source,
          masters: this.#current.map(describeMaster),
          previous: previous.map(describeMaster),
          ...(persisted.written === undefined ? {} : { written: persisted.written }),
          ...facts,
        },
        'master list changed',
      );
    } else {
      this.#log.debug({ source, masters: this.#current.map(describeMaster) }, 'master list unchanged');
    }
    if (notify) await this.#notify();
    return this.#report(outcome);
  }

  async #notify(): Promise<void> {
    try {
      await this.#o.onChange?.(this.#current);
    } catch (err) {
      this.#log.error({ err }, 'master list onChange failed');
    }
  }

  #skipped(
    source: MasterListSource,
    err: unknown,
    facts: Pick<MasterListOutcome, 'dead' | 'draining'> = {},
  ): MasterListOutcome {
    const error = describe(err);
    this.#log.warn({ source, code: error.code, ...facts }, `master list not applied: ${error.message}`);
    return this.#report({
      source,
      result: 'skipped',
      masters: this.#current,
      previous: this.#current,
      ...facts,
      error,
    });
  }

  #report(outcome: MasterListOutcome): MasterListOutcome {
    try {
      this.#o.onOutcome?.(outcome);
    } catch (err) {
      this.#log.error({ err }, 'master list onOutcome failed');
    }
    return outcome;
  }
}

function describe(err: unknown): { code: string; message: string } {
  if (isPhoenixError(err)) return { code: err.code, message: err.message };
  return {
    code: MinionErrors.PHX_MASTER_LIST_INTERNAL.code,
    message: err instanceof Error ? err.message : String(err),
  };
}
