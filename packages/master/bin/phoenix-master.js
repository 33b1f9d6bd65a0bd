#!/usr/bin/env node
// `phoenix-master` as npm links it. This file is committed, so it exists when `npm ci` links the
// workspace's bins (a bin whose file is missing then is never linked, and dist/ is built after
// the install); it loads the compiled program.
//
// The AWS SDK warns every process on Node.js 20 that its releases after January 2027 need Node.js
// 22. Phoenix supports Node.js 20 and its lockfile fixes the SDK's version, so that one notice is switched off here, by
// the SDK's own setting (inherited by every process this one starts); other warnings still show.
import { fileURLToPath, URL } from 'node:url';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const program = new URL('../dist/src/bin/phoenix-master.js', import.meta.url);
try {
  await import(program.href);
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes(fileURLToPath(program))) throw err;
  process.stderr.write('phoenix-master: not built yet; run npm run build (npm start and npm test build first)\n');
  process.exitCode = 1;
}
