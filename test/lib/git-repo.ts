import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * A git repository the test owns: a bare "remote" (served as file://) and a working clone that
 * commits and pushes to it, as an operator would. Nothing of the host's git configuration applies.
 */
export class TestRepository {
  readonly bare: string;
  readonly work: string;
  readonly url: string;

  private constructor(dir: string, name: string) {
    this.bare = join(dir, `${name}.git`);
    this.work = join(dir, 'work');
    this.url = pathToFileURL(this.bare).href;
  }

  /** `name`: the remote is `<dir>/<name>.git`, so a git root is named `name` by default. */
  static async create(dir: string, name: string): Promise<TestRepository> {
    const repo = new TestRepository(dir, name);
    await mkdir(dir, { recursive: true });
    repo.git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', repo.bare);
    repo.git(dir, 'init', '--quiet', '--initial-branch=main', repo.work);
    repo.git(repo.work, 'remote', 'add', 'origin', repo.url);
    return repo;
  }

  /** Writes files (path → text; null removes) in the working clone on `branch`, commits and pushes. */
  async commit(files: Record<string, string | Buffer | null>, message: string, branch = 'main'): Promise<string> {
    const branches = this.git(this.work, 'branch', '--list', branch).trim();
    const empty = this.git(this.work, 'branch', '--list').trim() === '';
    if (empty) this.git(this.work, 'checkout', '--quiet', '-B', branch);
    else if (branches === '') this.git(this.work, 'checkout', '--quiet', '-b', branch);
    else this.git(this.work, 'checkout', '--quiet', branch);
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.work, path);
      if (content === null) await rm(full, { force: true });
      else {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
      }
    }
    this.git(this.work, 'add', '--all');
    this.git(this.work, 'commit', '--quiet', '--allow-empty', '-m', message);
    this.git(this.work, 'push', '--quiet', '--force', 'origin', branch);
    return this.head(branch);
  }

  /** A symbolic link in the next commit. */
  symlink(path: string, target: string): void {
    execFileSync('ln', ['-sfn', target, join(this.work, path)]);
  }

  /** Moves `branch` back to `commit` on the remote (a forced push). */
  forcePush(branch: string, commit: string): void {
    this.git(this.work, 'push', '--quiet', '--force', 'origin', `${commit}:refs/heads/${branch}`);
  }

  head(branch = 'main'): string {
    return this.git(this.work, 'rev-parse', branch).trim();
  }

  git(cwd: string, ...args: string[]): string {
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: cwd,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_AUTHOR_NAME: 'Phoenix Test',
        GIT_AUTHOR_EMAIL: 'test@phoenix.invalid',
        GIT_COMMITTER_NAME: 'Phoenix Test',
        GIT_COMMITTER_EMAIL: 'test@phoenix.invalid',
      },
    });
  }
}
