import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GitRoot } from './git-root.js';
import type { SecretReader } from './secrets.js';

/** What one git command needs to authenticate: its environment, the secrets to blank, and a clean-up. */
export interface GitAuthScope {
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
  close(): Promise<void>;
}

const NONE: GitAuthScope = { env: {}, secrets: [], close: () => Promise.resolve() };

/**
 * HTTPS tokens go to git through GIT_ASKPASS (a script that prints what its environment holds), so
 * a token is never in a command line, a URL or a config file. An SSH deploy key is written to a file
 * only this process's user can read for the one command, and removed after it. Host keys: those
 * configured (StrictHostKeyChecking=yes), else the first one seen is kept in the cache (accept-new).
 */
export class GitAuth {
  readonly #dir: string;
  readonly #secrets: SecretReader;
  #askpass: Promise<string> | undefined;
  #serial = 0;

  constructor(cacheDir: string, secrets: SecretReader) {
    this.#dir = join(cacheDir, 'auth');
    this.#secrets = secrets;
  }

  async scope(auth: GitRoot['auth'], name: string): Promise<GitAuthScope> {
    if (auth === undefined) return NONE;
    if (auth.token !== undefined) {
      const token = (await this.#secrets.read(auth.token, `the token of git remote ${name}`)).trim();
      return {
        env: {
          GIT_ASKPASS: await this.#askpassScript(),
          PHOENIX_GIT_USERNAME: auth.username,
          PHOENIX_GIT_TOKEN: token,
        },
        secrets: [token],
        close: () => Promise.resolve(),
      };
    }
    if (auth.sshKey === undefined && auth.knownHosts === undefined) return NONE;
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const files: string[] = [];
    const secrets: string[] = [];
    const options = ['-o BatchMode=yes', '-F /dev/null'];
    const serial = `${process.pid}-${++this.#serial}`;
    try {
      if (auth.sshKey !== undefined) {
        let key = await this.#secrets.read(auth.sshKey, `the SSH key of git remote ${name}`);
        if (!key.endsWith('\n')) key += '\n';
        const path = join(this.#dir, `key-${serial}`);
        await writeFile(path, key, { mode: 0o600 });
        files.push(path);
        secrets.push(key.trim());
        options.push(`-i ${quote(path)}`, '-o IdentitiesOnly=yes');
      }
      if (auth.knownHosts !== undefined) {
        const hosts = await this.#secrets.read(auth.knownHosts, `the known hosts of git remote ${name}`);
        const path = join(this.#dir, `known-hosts-${serial}`);
        await writeFile(path, hosts.endsWith('\n') ? hosts : `${hosts}\n`, { mode: 0o600 });
        files.push(path);
        options.push(`-o UserKnownHostsFile=${quote(path)}`, '-o StrictHostKeyChecking=yes');
      } else {
        options.push(
          `-o UserKnownHostsFile=${quote(join(this.#dir, 'known_hosts'))}`,
          '-o StrictHostKeyChecking=accept-new',
        );
      }
    } catch (err) {
      await Promise.all(files.map((f) => rm(f, { force: true })));
      throw err;
    }
    return {
      env: { GIT_SSH_COMMAND: `ssh ${options.join(' ')}` },
      secrets,
      close: async () => {
        await Promise.all(files.map((f) => rm(f, { force: true })));
      },
    };
  }

  #askpassScript(): Promise<string> {
    this.#askpass ??= (async () => {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      const path = join(this.#dir, 'askpass.sh');
      await writeFile(
        path,
        '#!/bin/sh\n# git asks for a user name, then a password: both come from its environment.\n' +
          'case "$1" in\n  Username*) printf \'%s\\n\' "$PHOENIX_GIT_USERNAME" ;;\n' +
          '  *) printf \'%s\\n\' "$PHOENIX_GIT_TOKEN" ;;\nesac\n',
        { mode: 0o700 },
      );
      await chmod(path, 0o700);
      return path;
    })();
    return this.#askpass;
  }
}

function quote(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}
