import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import nunjucks from 'nunjucks';
import { createJinjaEnvironment, createSaltFunctions, MACRO_FILE } from './jinja-environment.js';
import type { TemplateBridge } from './jinja-environment.js';
import { PyError } from './jinja/python.js';
import { describeTemplateError } from './render-protocol.js';
import type { BridgeRequest, BridgeResponse, RenderRequest, RenderResponse, WorkerSetup } from './render-protocol.js';

/**
 * The template worker. Nunjucks calls functions in expressions synchronously — only filters and
 * extensions may be async, and only when rendering with a callback — so `salt['cmd.run']('...')`
 * would print "[object Promise]" if it returned one. Here the template runs in its own thread and
 * every `salt[...]` call blocks that thread (Atomics.wait) while the main thread runs the function
 * through the module registry and posts the answer; receiveMessageOnPort then reads it
 * synchronously. Any execution module works, the minion's event loop (heartbeats, other jobs) never
 * blocks, and a runaway template can be stopped by terminating the worker.
 */

const setup = workerData as WorkerSetup;
const flag = new Int32Array(setup.flag);

function ask(request: BridgeRequest): unknown {
  Atomics.store(flag, 0, 0);
  setup.port.postMessage(request);
  const waited = Atomics.wait(flag, 0, 0, setup.callTimeoutMs);
  const reply = receiveMessageOnPort(setup.port);
  if (!reply) {
    throw new PyError(
      '',
      waited === 'timed-out'
        ? `no answer to ${describe(request)} within ${setup.callTimeoutMs} ms`
        : `no answer to ${describe(request)}`,
    );
  }
  const response = reply.message as BridgeResponse;
  if (!response.ok) throw new PyError('', response.error);
  return response.value;
}

function describe(request: BridgeRequest): string {
  return request.op === 'call'
    ? `salt['${request.fun}']`
    : request.op === 'read'
      ? `reading ${request.path}`
      : 'sls_exists';
}

const bridge: TemplateBridge = {
  call: (fun, args, kwargs) => ask({ op: 'call', fun, args, kwargs }),
  read: (path) => ask({ op: 'read', path }) as string | undefined,
  slsExists: (name) => ask({ op: 'sls_exists', name }) === true,
};

parentPort?.on('message', (request: RenderRequest) => {
  let response: RenderResponse;
  try {
    const context = request.context;
    const salt = createSaltFunctions(
      { grains: context.grains, pillar: context.pillar, opts: context.opts, root: request.root },
      bridge,
      { hostFiles: request.hostFiles },
    );
    const variables = { ...context, salt };
    const env = createJinjaEnvironment(request, bridge, variables);
    const template = new nunjucks.Template(request.source, env, request.path, true);
    response = { id: request.id, ok: true, output: template.render(variables) };
  } catch (err) {
    response = { id: request.id, ok: false, error: describeTemplateError(err, MACRO_FILE) };
  }
  parentPort?.postMessage(response);
});
