import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommands } from '../modules/commands.js';

/**
 * A throwaway host for state tests: `root` stands in for `/`, and `env` puts fake system tools
 * (systemctl, dpkg-query, apt-get, getent, useradd...) first on a PATH that reaches only a few
 * harmless real tools (sh, grep, awk...). The real systemctl, apt-get or useradd cannot be reached,
 * so a test can never change the machine it runs on.
 */
export interface StateSandbox {
  readonly dir: string;
  readonly root: string;
  /** The fakes keep their state and their calls.log here. */
  readonly fakeState: string;
  readonly env: Readonly<Record<string, string>>;
  /** Every call the fakes received, oldest first ("systemctl restart nginx"). */
  calls(): Promise<string[]>;
  close(): Promise<void>;
}

/** The real tools the fakes and the fixtures' commands use. */
const HARMLESS_TOOLS = [
  'sh',
  'cat',
  'grep',
  'mv',
  'rm',
  'touch',
  'cut',
  'awk',
  'wc',
  'basename',
  'mkdir',
  'ls',
  'sleep',
  'env',
  'true',
  'false',
  'sed',
  'head',
  'tail',
  'sort',
  'tr',
  'dirname',
  'chmod',
  'cp',
  'ln',
  // git works on the test's own local repositories (git.latest).
  'git',
];

/** Copies of these fakes answer to a second name, as the real tools share one implementation. */
const ALIASES: Readonly<Record<string, string>> = { usermod: 'useradd', groupmod: 'groupadd' };

export async function createStateSandbox(options: { fakes?: string } = {}): Promise<StateSandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-states-'));
  const root = join(dir, 'root');
  const fakeState = join(dir, 'fake-state');
  const fakeBin = join(dir, 'fake-bin');
  const tools = join(dir, 'tools');
  await Promise.all([mkdir(root), mkdir(fakeState), mkdir(fakeBin), mkdir(tools)]);
  if (options.fakes !== undefined) {
    for (const name of await readdir(options.fakes)) {
      await copyFile(join(options.fakes, name), join(fakeBin, name));
      await chmod(join(fakeBin, name), 0o755);
    }
    for (const [alias, original] of Object.entries(ALIASES)) {
      if ((await readdir(fakeBin)).includes(original)) {
        await copyFile(join(fakeBin, original), join(fakeBin, alias));
        await chmod(join(fakeBin, alias), 0o755);
      }
    }
  }
  const lookup = createCommands({
    env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    signal: new AbortController().signal,
  });
  for (const tool of HARMLESS_TOOLS) {
    const real = await lookup.which(tool);
    if (real !== undefined) await symlink(real, join(tools, tool));
  }
  const env = Object.freeze({ PATH: `${fakeBin}:${tools}`, PHOENIX_FAKE_STATE: fakeState, LANG: 'C', HOME: dir });
  return {
    dir,
    root,
    fakeState,
    env,
    calls: async () =>
      (await readFile(join(fakeState, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter((line) => line !== ''),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
