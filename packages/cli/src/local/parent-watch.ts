/**
 * Preloaded (`node --import`) into every master and minion that `phoenix up` starts, so that none
 * outlives it, even after a `kill -9` of `phoenix up`. Node has no prctl(PR_SET_PDEATHSIG), so the
 * parent holds the write end of the child's stdin instead: the kernel closes that pipe however the
 * parent ends, and this module sees end-of-file. It then sends its own process SIGTERM, so the
 * program's usual graceful stop runs, and exits outright if that stop hangs (the local cloud it
 * would talk to died with the parent). Loading it into the program itself rather than wrapping
 * the program costs no extra process per instance and needs nothing from phoenix-master or
 * phoenix-minion, which never read their stdin.
 */
import { fstatSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const STOP_GRACE_MS = 5_000;

let ended = false;
const parentGone = (): void => {
  if (ended) return;
  ended = true;
  setTimeout(() => process.exit(1), STOP_GRACE_MS).unref();
  process.kill(process.pid, 'SIGTERM');
};

// Only a pipe from a parent is watched: stdin from a file or /dev/null ends at once and means nothing.
// Worker threads inherit --import too, and their process.stdin is an empty stream that ends at
// once: only the main thread watches.
const stdin = fstatSync(0);
if (isMainThread && (stdin.isFIFO() || stdin.isSocket())) {
  process.stdin.on('end', parentGone);
  process.stdin.on('error', parentGone);
  process.stdin.on('data', () => undefined); // nothing is ever written; reading is how EOF is seen
  // The watch alone must never keep a program alive that has finished.
  (process.stdin as { unref?: () => void }).unref?.();
}
