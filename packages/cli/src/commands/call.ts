import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { locatePhoenixBinaries } from '../local/binaries.js';

/**
 * `phoenix call`: Salt's `salt-call`, run by the minion program itself (`phoenix-minion call`),
 * since only the minion knows how to run its functions; the CLI never loads the minion's code.
 * Arguments, output and exit status pass through unchanged.
 */
export async function call(argv: readonly string[]): Promise<number> {
  const { minion } = locatePhoenixBinaries();
  const child = spawn(process.execPath, [minion, 'call', ...argv], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
  });
}
