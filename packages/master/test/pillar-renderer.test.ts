import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LocalRoots, StateCompileError } from '@phoenix/state';
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
