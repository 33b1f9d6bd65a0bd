import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RenderProcess, renderProcessFlags, TemplateRenderer } from '../src/index.js';
import type { TemplateServices } from '../src/index.js';

// The render process a master renders pillar in: the same Jinja as a minion's, in a process that
// holds no secret and may read no file but its own code. Real processes, real files.

let scratch: string;
let secretFile: string;
const SECRET = 'the-cluster-secret-key-Z85-stand-in';
const renders = new RenderProcess();
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'phoenix-render-process-'));
  secretFile = join(scratch, 'cluster.key');
  await writeFile(secretFile, SECRET, { mode: 0o600 });
});
after(async () => {
  await renders.close();
  await rm(scratch, { recursive: true, force: true });
});

const FILES: Record<string, string> = {
  'map.jinja': "{% set port = salt['pillar.get']('port', 80) %}",
  'macros.jinja': '{% macro line(name) %}{{ name }}: {{ grains.id }}{% endmacro %}',
};
const calls: string[] = [];
const services: TemplateServices = {
  call: async (fun, args) => {
    calls.push(fun);
    if (fun === 'test.echo') return args[0];
    // What the master answers for its own files: none outside its roots (see the master's pillar).
    if (fun === 'file.file_exists') return false;
    throw new Error(`salt['${fun}'] is not available here`);
  },
  read: async (path) => FILES[path],
  slsExists: async (name) => name === 'web',
};
const context = { grains: { id: 'web-1', os: 'Debian' }, pillar: { port: 8080 }, opts: {} };

function renderer(timeoutMs = 20_000): TemplateRenderer {
  return new TemplateRenderer({ timeoutMs, isolation: renders });
}

test('a template renders in the render process as in a thread: includes, imports and salt[...] through the master', async () => {
  const source = `{% from 'map.jinja' import port %}{% import 'macros.jinja' as m %}
port: {{ port }}
{{ m.line('motd') }}
echo: {{ salt['test.echo']('hi') }}
web: {{ salt['state.sls_exists']('web') }}
os: {{ grains['os'] | lower }}`;
  const inProcess = renderer();
  const inThread = new TemplateRenderer({ timeoutMs: 20_000 });
  try {
    const here = await inProcess.render({ source, path: 'salt://a.sls', context, services });
    assert.equal(here, '\nport: 8080\nmotd: web-1\necho: hi\nweb: True\nos: debian');
    assert.equal(await inThread.render({ source, path: 'salt://a.sls', context, services }), here);
    assert.ok(calls.includes('test.echo'), 'salt[...] was answered by the services given');
    assert.notEqual(renders.pid, undefined);
    assert.notEqual(renders.pid, process.pid, 'a process of its own');
  } finally {
    await inProcess.close();
    await inThread.close();
  }
});

test('an error names the file and line and quotes it, as in a thread', async () => {
  const r = renderer();
  try {
    await assert.rejects(
      r.render({ source: 'a: 1\nb: {{ nosuch.value }}\n', path: 'salt://broken.sls', context, services }),
      (err: Error) =>
        err.name === 'TemplateRenderError' &&
        /^Jinja error in salt:\/\/broken\.sls, line 2: .*nosuch.*\n {4}2 \| b: \{\{ nosuch\.value \}\}$/.test(
          err.message,
        ),
    );
    await assert.rejects(
      r.render({ source: "{{ salt['cmd.run']('id') }}", path: 'salt://c.sls', context, services }),
      /salt\['cmd\.run'\] is not available here/,
    );
  } finally {
    await r.close();
  }
});

test('the known escapes are render errors in the render process too, and the secret file stays unread', async () => {
  const r = renderer();
  const escapes = [
    '{{ range.constructor("return process")() }}',
    '{{ cycler.__init__.__globals__ }}',
    '{{ cycler.constructor.constructor("return process")() }}',
    '{{ joiner.__class__.__mro__ }}',
    '{{ namespace.__init__.__globals__.os }}',
    '{{ lipsum.__globals__["os"].popen("id").read() }}',
    '{{ self.__init__.__globals__ }}',
    '{{ "".__class__.__mro__[1].__subclasses__() }}',
    '{{ "".constructor.constructor("return process")() }}',
    '{{ "{0.constructor}".format(grains) }}',
    '{{ range | attr("constructor") }}',
    '{{ [range] | map(attribute="constructor") | list }}',
    '{{ grains.__proto__ }}',
    '{{ grains["__proto__"]["constructor"] }}',
    '{{ process.env }}',
    '{{ require("fs") }}',
    '{{ globalThis.process }}',
    '{{ this.process }}',
    '{{ import("fs") }}',
    `{% include "${secretFile}" %}`,
    '{% include "../../../../../../etc/passwd" %}',
    `{% import_text "${secretFile}" as stolen %}{{ stolen }}`,
    `{{ "${secretFile}" | file_hashsum }}`,
  ];
  try {
    for (const source of escapes) {
      await assert.rejects(
        r.render({ source, path: 'salt://evil.sls', context, services }),
        (err: Error) =>
          err.name === 'TemplateRenderError' &&
          !err.message.includes(SECRET) &&
          !/\[object process\]/.test(err.message),
        source,
      );
    }
    // What a minion may ask of its own host, a master's render process asks of the master.
    calls.length = 0;
    assert.equal(
      await r.render({
        source: `{{ salt['file.file_exists']('${secretFile}') }}`,
        path: 'salt://e.sls',
        context,
        services,
      }),
      'False',
    );
    assert.deepEqual(calls, ['file.file_exists']);
    assert.equal(await r.render({ source: '{{ grains.id }}', path: 'salt://ok.sls', context, services }), 'web-1');
  } finally {
    await r.close();
  }
});

test('the render process has no environment and, even running code, reads no file but its own, writes none, starts none', async () => {
  const environ = (await readFile(`/proc/${renders.pid}/environ`, 'utf8')).split('\0').filter(Boolean);
  // Only what Node itself sets for the IPC channel: no credentials, no tokens, no paths.
  assert.deepEqual(
    environ.filter((line) => !line.startsWith('NODE_CHANNEL_')),
    [],
  );
  const cmdline = (await readFile(`/proc/${renders.pid}/cmdline`, 'utf8')).split('\0');
  for (const flag of renderProcessFlags()) assert.ok(cmdline.includes(flag), `started with ${flag}`);

  // The wall itself, shown with the very flags: code that got out of the templates still gets nothing.
  const probe = `
    const fs = require('node:fs');
    const out = [];
    const attempt = (what, f) => { try { f(); out.push(what + ': allowed'); } catch (e) { out.push(what + ': ' + e.code); } };
    attempt('read the secret', () => fs.readFileSync(${JSON.stringify(secretFile)}));
    attempt('list its directory', () => fs.readdirSync(${JSON.stringify(scratch)}));
    attempt('write', () => fs.writeFileSync(${JSON.stringify(join(scratch, 'planted'))}, 'x'));
    attempt('spawn', () => require('node:child_process').execFileSync('/bin/true'));
    attempt('bind a native module', () => process.binding('fs'));
    process.stdout.write(JSON.stringify(out));`;
  const result = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [...renderProcessFlags(), '-e', probe],
      { env: {}, timeout: 20_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
  assert.deepEqual(JSON.parse(result), [
    'read the secret: ERR_ACCESS_DENIED',
    'list its directory: ERR_ACCESS_DENIED',
    'write: ERR_ACCESS_DENIED',
    'spawn: ERR_ACCESS_DENIED',
    'bind a native module: ERR_ACCESS_DENIED',
  ]);
});

test('a runaway template is stopped by its time limit; a killed render process fails its render and is started again', async () => {
  const slow = renderer(1_000);
  try {
    await assert.rejects(
      slow.render({
        source: '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
        path: 'salt://loop.sls',
        context,
        services,
      }),
      /rendering took longer than 1000 ms and was stopped/,
    );
  } finally {
    await slow.close();
  }
  // The process itself was not stopped: the next renderer is served (with time to start its thread).
  const stoppedIn = renders.pid;
  const next = renderer();
  try {
    assert.equal(await next.render({ source: 'ok', path: 'salt://ok.sls', context, services }), 'ok');
    assert.equal(renders.pid, stoppedIn, 'by the same process: only the runaway render thread was stopped');
  } finally {
    await next.close();
  }

  const r = renderer();
  try {
    const first = renders.pid as number;
    const stuck = r.render({
      source: '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
      path: 'salt://stuck.sls',
      context,
      services,
    });
    process.kill(first, 'SIGKILL');
    await assert.rejects(stuck, /Jinja error in salt:\/\/stuck\.sls: the render process stopped/);
    assert.equal(await r.render({ source: '{{ grains.id }}', path: 'salt://x.sls', context, services }), 'web-1');
    assert.notEqual(renders.pid, first, 'a new process');
  } finally {
    await r.close();
  }
});
