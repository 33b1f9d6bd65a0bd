// The README's error reference, generated from the error tables (each package's src/errors.ts, as
// built): `npm run docs:errors` rewrites the section, `--check` only compares and fails when the
// README is stale. Both also refuse a code defined twice, a code named in the sources or the docs
// that no table defines, and a code that no source raises.
// Usage: node scripts/error-reference.js [--check] [--readme FILE]
import { readFileSync, readdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import prettier from 'prettier';

const ROOT = join(import.meta.dirname, '..');
const BEGIN = "<!-- error-reference: generated from each package's src/errors.ts by npm run docs:errors -->";
const END = '<!-- end of error-reference -->';
const CODE = /\bPHX_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g;

/** Every code of every table, in the workspace order of the packages and each table's own order. */
async function readTables() {
  const { isErrorTable } = await import(pathToFileURL(join(ROOT, 'packages/protocol/dist/src/errors.js')).href);
  const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const rows = [];
  for (const dir of workspaces) {
    const built = join(ROOT, dir, 'dist/src/errors.js');
    if (!existsSync(join(ROOT, dir, 'src/errors.ts'))) continue;
    if (!existsSync(built)) throw new Error(`${relative(ROOT, built)} is missing: run npm run build first`);
    const { name } = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8'));
    for (const value of Object.values(await import(pathToFileURL(built).href))) {
      if (isErrorTable(value)) for (const kind of Object.values(value)) rows.push({ pkg: name, ...kind });
    }
  }
  return rows;
}

function* filesUnder(dir, test) {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* filesUnder(path, test);
    else if (test(path)) yield path;
  }
}

/** What is wrong with the tables against the sources and the docs (empty when nothing is). */
function problems(rows, readmePath) {
  const found = [];
  const defined = new Map();
  for (const row of rows) {
    if (defined.has(row.code)) found.push(`${row.code} is defined by both ${defined.get(row.code)} and ${row.pkg}`);
    defined.set(row.code, row.pkg);
    if (!Number.isInteger(row.status) || row.status < 400 || row.status > 599) {
      found.push(`${row.code}: HTTP status ${row.status} is not an error status`);
    }
    if (!Number.isInteger(row.exit) || row.exit < 1 || row.exit > 125) found.push(`${row.code}: exit ${row.exit}`);
  }
  const raised = new Set();
  const sources = [...filesUnder(join(ROOT, 'packages'), (p) => /\/src\/.*\.tsx?$/.test(p))];
  for (const file of sources) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(CODE)) {
      const code = match[0];
      if (!defined.has(code)) found.push(`${relative(ROOT, file)} names ${code}, which no error table defines`);
      // A table's own key (`PHX_X: {`) defines the code; any other mention uses it.
      else if (!/^[ \t]*PHX_\w+:/.test(text.slice(text.lastIndexOf('\n', match.index) + 1))) raised.add(code);
    }
  }
  for (const file of new Set([...filesUnder(ROOT, (p) => p.endsWith('.md')), readmePath])) {
    for (const [code] of readFileSync(file, 'utf8').matchAll(CODE)) {
      if (!defined.has(code)) found.push(`${relative(ROOT, file)} names ${code}, which no error table defines`);
    }
  }
  for (const code of defined.keys()) {
    if (!raised.has(code)) found.push(`${code} is defined but raised nowhere in the sources`);
  }
  return [...new Set(found)];
}

function section(rows) {
  const cell = (text) => String(text).replace(/\|/g, '\\|');
  const lines = [
    BEGIN,
    '',
    '| code | raised by | meaning | HTTP status | exit status |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| \`${row.code}\` | \`${row.pkg}\` | ${cell(row.message)} | ${row.status} | ${row.exit} |`),
    '',
    END,
  ];
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({ options: { check: { type: 'boolean' }, readme: { type: 'string' } }, strict: true });
  const readmePath = values.readme ?? join(ROOT, 'README.md');
  const rows = await readTables();
  const wrong = problems(rows, readmePath);
  const current = readFileSync(readmePath, 'utf8');
  const begin = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (begin < 0 || end < begin) wrong.push(`${readmePath} has no error-reference section (${BEGIN} … ${END})`);
  if (wrong.length > 0) {
    process.stderr.write(`error reference: ${wrong.join('\n  ')}\n`);
    process.exit(1);
  }
  const options = { ...(await prettier.resolveConfig(join(ROOT, 'README.md'))), filepath: readmePath };
  const wanted = await prettier.format(
    `${current.slice(0, begin)}${section(rows)}${current.slice(end + END.length)}`,
    options,
  );
  if (wanted === current) return;
  if (values.check) {
    process.stderr.write(`error reference: ${readmePath} is stale; run npm run docs:errors\n`);
    process.exit(1);
  }
  writeFileSync(readmePath, wanted);
  process.stdout.write(`wrote the error reference (${rows.length} codes) to ${readmePath}\n`);
}

await main();
