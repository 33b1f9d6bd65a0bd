import { errorKind, PhoenixError, type MasterMessage } from '@phoenix/protocol';
import { StateCompileError, DEFAULT_ENV, parseFileUrl, sha256, StateErrors } from '@phoenix/state';
import type { StateFile, StateFiles, Pillar, PillarRequest, PillarSource } from '@phoenix/state';
import type { RequestBody } from '../connection/connection.js';

type Reply = Extract<MasterMessage, { t: 'reply' }>;

/** How the file client reaches the connected master (MinionConnection.request). */
export type MasterRequest = (body: RequestBody, timeoutMs: number) => Promise<Reply>;

/** A file changed on the master while it was being sent: start over, a few times at most. */
const READ_ATTEMPTS = 3;
/** A state file larger than this is refused rather than held in memory. */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

/**
 * The master's file server (`salt://` from its file_roots) as a StateFiles. Wrap it in CachedFiles:
 * then a file already cached is not sent again, and a minion cut off from its masters still serves
 * the last version it saw. Every received file is checked against the hash the master announced.
 */
export class RemoteFiles implements StateFiles {
  readonly #request: MasterRequest;
  readonly #timeoutMs: number;
  readonly #pin: RevisionPin | undefined;

  constructor(request: MasterRequest, timeoutMs: number, pin?: RevisionPin) {
    this.#request = request;
    this.#timeoutMs = timeoutMs;
    this.#pin = pin;
  }

  /** A view for one state run: pinned to the revision of the master's git roots its first answer is from. */
  forRun(): RemoteFiles {
    return new RemoteFiles(this.#request, this.#timeoutMs, new RevisionPin());
  }

  /** The run's revision; asks the master for one (with the top file's hash) if nothing was asked yet. */
  async revision(): Promise<string | undefined> {
    if (this.#pin === undefined) return undefined;
    if (!this.#pin.settled)
      await this.#ask({ t: 'file', op: 'hash', path: 'top.sls', env: DEFAULT_ENV }).catch(() => undefined);
    return this.#pin.revision;
  }

  async hash(url: string, env: string = DEFAULT_ENV): Promise<string | undefined> {
    const { path, env: saltenv } = parseFileUrl(url, env);
    return (await this.#ask({ t: 'file', op: 'hash', path, env: saltenv })).hash;
  }

  async list(prefix: string, env: string = DEFAULT_ENV): Promise<string[]> {
    const path = prefix === '' ? '' : parseFileUrl(prefix, env).path;
    return (await this.#ask({ t: 'file', op: 'list', path, env })).paths ?? [];
  }

  async read(url: string, env: string = DEFAULT_ENV): Promise<StateFile | undefined> {
    const { path, env: saltenv } = parseFileUrl(url, env);
    for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
      const first = await this.#ask({ t: 'file', op: 'read', path, env: saltenv, offset: 0 });
      if (first.hash === undefined) return undefined;
      const size = first.size ?? 0;
      if (size > MAX_FILE_BYTES) {
        throw new PhoenixError(
          StateErrors.PHX_STATE_FILE_UNREADABLE,
          `'${url}' is ${size} bytes, over the ${MAX_FILE_BYTES}-byte limit`,
        );
      }
      const chunks = [Buffer.from(first.content ?? new Uint8Array())];
      let received = chunks[0]?.byteLength ?? 0;
      let changed = false;
      while (received < size && !changed) {
        const next = await this.#ask({ t: 'file', op: 'read', path, env: saltenv, offset: received });
        const bytes = next.content ?? new Uint8Array();
        changed = next.hash !== first.hash || bytes.byteLength === 0;
        chunks.push(Buffer.from(bytes));
        received += bytes.byteLength;
      }
      const content = Buffer.concat(chunks);
      if (!changed && sha256(content) === first.hash) return { content, hash: first.hash };
    }
    throw new PhoenixError(
      StateErrors.PHX_STATE_FILE_UNREADABLE,
      `'${url}' kept changing on the master while it was being sent; try again`,
      { details: { url } },
    );
  }

  async #ask(body: RequestBody): Promise<Reply> {
    const send = (b: RequestBody) => this.#request(b, this.#timeoutMs);
    const reply = await (this.#pin === undefined ? send(body) : this.#pin.ask(body, send));
    if (reply.error !== undefined) throw remoteError(reply.error);
    return reply;
  }
}

/**
 * One state run's hold on a revision: the first request goes alone, the others wait for its
 * answer and then carry its revision, so no request of the run is answered from another commit.
 * A master that serves no git roots answers without one, and nothing waits after that.
 */
export class RevisionPin {
  #revision: string | undefined;
  #unpinned = false;
  #first: Promise<unknown> | undefined;

  get revision(): string | undefined {
    return this.#revision;
  }

  /** A revision is known, or the master serves none. */
  get settled(): boolean {
    return this.#revision !== undefined || this.#unpinned;
  }

  async ask(body: RequestBody, send: (body: RequestBody) => Promise<Reply>): Promise<Reply> {
    while (!this.settled && this.#first !== undefined) await this.#first.catch(() => undefined);
    if (this.settled) return send(this.#revision === undefined ? body : { ...body, rev: this.#revision });
    const first = send(body);
    this.#first = first;
    try {
      const reply = await first;
      if (reply.rev !== undefined) this.#revision = reply.rev;
      else if (reply.error === undefined) this.#unpinned = true;
      return reply;
    } finally {
      if (this.#first === first) this.#first = undefined;
    }
  }
}

/**
 * Pillar rendered by the master for this minion alone; nothing of pillar_roots reaches the minion.
 * The request carries only the environment: the master uses the grains it holds for this minion.
 */
export class RemotePillar implements PillarSource {
  readonly #request: MasterRequest;
  readonly #timeoutMs: number;

  constructor(request: MasterRequest, timeoutMs: number) {
    this.#request = request;
    this.#timeoutMs = timeoutMs;
  }

  async compile(request: PillarRequest): Promise<Pillar> {
    // The run's revision of the master's git roots: pillar from the same commits as the states.
    const rev = await request.files?.revision?.();
    const reply = await this.#request(
      { t: 'pillar', env: request.saltenv, ...(rev === undefined ? {} : { rev }) },
      this.#timeoutMs,
    );
    if (reply.error !== undefined) throw remoteError(reply.error);
    return reply.pillar ?? {};
  }
}

/** The master's error as the state system reports it: a compile error stays one (Salt's error list). */
function remoteError(error: { code: string; message: string }): PhoenixError {
  if (error.code === StateErrors.PHX_STATE_COMPILE.code) {
    const listed = /^\d+ errors:\n/.exec(error.message);
    return new StateCompileError(listed ? error.message.slice(listed[0].length).split('\n') : [error.message]);
  }
  return new PhoenixError(
    errorKind(StateErrors, error.code) ?? StateErrors.PHX_STATE_FILE_UNREADABLE,
    `the master says: ${error.message}`,
    {
      details: { masterCode: error.code },
    },
  );
}
