import { RenderWorkers, TemplateRenderer, TemplateRenderError, type TemplateServices } from './template-renderer.js';
import type { HostRequest, HostResponse } from './render-host-protocol.js';
import { PhoenixError } from '@phoenix/protocol';
import { StateErrors } from '../errors.js';

/**
 * The render process a master starts (render-process.ts): renders templates as a minion does, each
 * session in its own thread, and asks the master over IPC for what the templates reach (files of
 * the roots, `salt[...]`). It holds nothing else: no environment, no files beyond its own code.
 */

const sessions = new Map<number, TemplateRenderer>();
/** A session ended hands its thread to the next (every minion's pillar is one session). */
const workers = new RenderWorkers({ max: 4 });
const asked = new Map<number, { resolve(value: unknown): void; reject(err: unknown): void }>();
let nextAsk = 1;

function send(message: unknown): void {
  process.send?.(message);
}

function services(id: number): TemplateServices {
  const ask = (request: Record<string, unknown>): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const number = nextAsk++;
      asked.set(number, { resolve, reject });
      send({ t: 'ask', ask: number, id, request });
    });
  return {
    call: (fun, args, kwargs) => ask({ op: 'call', fun, args, kwargs }),
    read: async (path) => {
      const value = await ask({ op: 'read', path });
      return typeof value === 'string' ? value : undefined;
    },
    slsExists: async (name) => (await ask({ op: 'sls_exists', name })) === true,
  };
}

async function render(request: Extract<HostRequest, { t: 'render' }>): Promise<void> {
  let renderer = sessions.get(request.session);
  if (renderer === undefined) {
    renderer = new TemplateRenderer({
      timeoutMs: request.timeoutMs,
      trimBlocks: request.trimBlocks,
      lstripBlocks: request.lstripBlocks,
      // This host's files are the master's: a template asks the master, which answers for its roots.
      hostFiles: false,
      workers,
    });
    sessions.set(request.session, renderer);
  }
  try {
    const output = await renderer.render({
      source: request.source,
      path: request.path,
      context: request.context,
      services: services(request.id),
    });
    send({ t: 'done', id: request.id, ok: true, output });
  } catch (err) {
    const error =
      err instanceof TemplateRenderError
        ? {
            file: err.file,
            ...(err.line === undefined ? {} : { line: err.line }),
            reason: err.reason,
            ...excerptOf(err),
          }
        : { file: request.path, reason: err instanceof Error ? err.message : String(err) };
    send({ t: 'done', id: request.id, ok: false, error });
  }
}

/** The quoted line of a TemplateRenderError's message ("\n    3 | text"), to rebuild it on the master. */
function excerptOf(err: TemplateRenderError): { excerpt?: string } {
  const match = /\n {4}\d+ \| (.*)$/s.exec(err.message);
  return match?.[1] === undefined ? {} : { excerpt: match[1] };
}

process.on('message', (message: HostRequest | HostResponse) => {
  if (message.t === 'render') void render(message);
  else if (message.t === 'end') {
    const renderer = sessions.get(message.session);
    sessions.delete(message.session);
    void renderer?.close();
  } else if (message.t === 'answer') {
    const waiting = asked.get(message.ask);
    asked.delete(message.ask);
    if (message.ok) waiting?.resolve(message.value);
    else waiting?.reject(new PhoenixError(StateErrors.PHX_STATE_RENDER, message.error));
  }
});
// The master gone, nothing is left to render for.
process.on('disconnect', () => process.exit(0));
