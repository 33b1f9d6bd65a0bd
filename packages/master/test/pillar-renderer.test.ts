import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { LocalRoots, RenderProcess, StateCompileError } from '@phoenix/state';
import { PillarRenderer } from '../src/file-server/pillar-renderer.js';

let roots: string;
before(async () => {
  roots = await mkdtemp(join(tmpdir(), 'phoenix-master-pillar-'));
  await mkdir(join(roots, 'base'));
  const files: Record<string, string> = {
    'top.sls': "base:\n  '*':\n    - common\n  'G@role:db':\n    - match: compound\n    - db\n",
    'common.sls': "role: {{ grains['role'] }}\nport: {{ salt['pillar.get']('missing', 80) }}\n",
    'db.sls': "password: {{ salt['cmd.run']('cat /etc/shadow') }}\n",
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(roots, 'base', name), text);
});
after(() => rm(roots, { recursive: true, force: true }));

function renderer(): PillarRenderer {
  return new PillarRenderer({
    files: new LocalRoots({ base: [join(roots, 'base')] }),
    timeoutMs: 30_000,
    concurrency: 1,
    waitingPerMinion: 4,
    opts: {},
    log: pino({ level: 'silent' }),
  });
}

test(
  'the master renders a minion pillar with its grains, and runs no execution module for it',
  { timeout: 60_000 },
  async () => {
    const pillars = renderer();
    assert.deepEqual(await pillars.render('web-1', { role: 'web' }, 'base'), { role: 'web', port: 80 });
    await assert.rejects(pillars.render('db-1', { role: 'db' }, 'base'), (err: unknown) => {
      assert.ok(err instanceof StateCompileError);
      assert.match(err.message, /salt\['cmd\.run'\] is not available in pillar: the master renders pillar/);
      return true;
    });
  },
);

test(
  "in the master's render process a template sees the master's files only inside the roots, never through a link",
  { timeout: 60_000 },
  async () => {
    const outside = await mkdtemp(join(tmpdir(), 'phoenix-master-secret-'));
    const tree = join(roots, 'host');
    await mkdir(join(tree, 'env'), { recursive: true });
    await writeFile(join(outside, 'cluster.key'), 'secret');
    await writeFile(join(tree, 'env', 'prod.sls'), 'stage: prod\n');
    await symlink(join(outside, 'cluster.key'), join(tree, 'env', 'key.sls'));
    const probe = (path: string): string =>
      `{{ salt['file.file_exists']('${path}') }}/{{ salt['file.directory_exists']('${dirname(path)}') }}`;
    await writeFile(
      join(tree, 'top.sls'),
      "base:\n  '*':\n    - checks\n" +
        `{%- if salt['file.file_exists']('${tree}/env/prod.sls') %}\n    - env.prod\n{%- endif %}\n`,
    );
    await writeFile(
      join(tree, 'checks.sls'),
      [
        `in_roots: "${probe(join(tree, 'env', 'prod.sls'))}"`,
        `outside: "${probe(join(outside, 'cluster.key'))}"`,
        `through_link: "${probe(join(tree, 'env', 'key.sls'))}"`,
        `hash: "{{ '${join(tree, 'env', 'prod.sls')}' | file_hashsum }}"`,
      ].join('\n') + '\n',
    );
    await writeFile(join(tree, 'stolen.sls'), `hash: "{{ '${join(outside, 'cluster.key')}' | file_hashsum }}"\n`);
    const files = new LocalRoots({ base: [tree] });
    const processes = new RenderProcess();
    const pillars = new PillarRenderer({
      files,
      timeoutMs: 30_000,
      concurrency: 2,
      waitingPerMinion: 4,
      opts: { pillar_roots: { base: [tree] } },
      log: pino({ level: 'silent' }),
      isolation: processes,
      hostPath: (path, kind) => files.hostPath(path, kind),
    });
    try {
      assert.deepEqual(await pillars.render('web-1', {}, 'base'), {
        in_roots: 'True/True',
        outside: 'False/False',
        through_link: 'False/True',
        hash: createHash('sha256').update('stage: prod\n').digest('hex'),
        stage: 'prod',
      });
      await writeFile(join(tree, 'top.sls'), "base:\n  '*':\n    - stolen\n");
      await assert.rejects(pillars.render('web-1', {}, 'base'), /file .*cluster\.key not found/);
    } finally {
      await processes.close();
      await rm(outside, { recursive: true, force: true });
    }
  },
);
