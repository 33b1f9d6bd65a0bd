import { Lexer, LineCounter, parseDocument } from 'yaml';
import type { ScalarTag, Tags } from 'yaml';
import { checkValue, DATA_LIMITS } from '@phoenix/protocol';

/** Bounds alias expansion: a "billion laughs" document is an error, not an out-of-memory minion. */
const MAX_ALIAS_COUNT = 1_000;
/** Rendered SLS or pillar text above this is refused unread (a pillar must fit in one wire message). */
export const MAX_SLS_TEXT = 4 * 1024 * 1024;

/**
 * The limits on SLS, pillar and top data, wherever it is loaded from (YAML here, or JSON): text
 * over MAX_SLS_TEXT, flow collections nested deeper than DATA_LIMITS allow (counted by the YAML
 * lexer, which does not recurse, before the composer, which does: ten thousand `[` in one document
 * take the whole process down from inside V8's regular-expression compiler), and data over
 * DATA_LIMITS. Throws a YamlError naming `where`.
 */
export function checkSlsText(text: string, where: string): void {
  if (text.length > MAX_SLS_TEXT)
    throw new YamlError(where, 1, '', `${text.length} characters of rendered text (the limit is ${MAX_SLS_TEXT})`);
  let depth = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > DATA_LIMITS.maxDepth)
        throw new YamlError(where, 1, '', `collections nested deeper than ${DATA_LIMITS.maxDepth} levels`);
    } else if ((token === ']' || token === '}') && depth > 0) {
      depth--;
    }
  }
}

export function checkSlsData(value: unknown, where: string): void {
  const violation = checkValue(value, DATA_LIMITS);
  if (violation !== undefined) throw new YamlError(where, 1, '', `the data is over a limit: ${violation.message}`);
}

export interface ParsedYaml {
  readonly value: unknown;
  /** 1-based line of each top-level key of a mapping document (for errors that name an ID). */
  readonly keyLines: ReadonlyMap<string, number>;
}

/**
 * SLS YAML the way Salt reads it (PyYAML, YAML 1.1: `yes`/`on` are true, merge keys), with two
 * deliberate differences: `0644` stays the string "0644" (a file mode, not the number 420), and
 * dates stay strings (JSON has no date, and results travel as JSON).
 */
export function parseYaml(text: string, where: string): ParsedYaml {
  checkSlsText(text, where);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.1',
    uniqueKeys: true,
    prettyErrors: false,
    lineCounter,
    customTags: pyyamlTags,
  });
  const error = doc.errors[0];
  if (error) {
    const line = lineCounter.linePos(error.pos[0]).line;
    throw new YamlError(where, line, text.split('\n')[line - 1] ?? '', cleanMessage(error.message));
  }
  const warning = doc.warnings[0];
  if (warning) {
    const line = lineCounter.linePos(warning.pos[0]).line;
    throw new YamlError(where, line, text.split('\n')[line - 1] ?? '', cleanMessage(warning.message));
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    throw new YamlError(where, 1, '', err instanceof Error ? err.message : String(err));
  }
  checkSlsData(value, where);
  const keyLines = new Map<string, number>();
  const contents = doc.contents as {
    items?: { key?: { range?: [number, number, number]; toString(): string } }[];
  } | null;
  for (const item of contents?.items ?? []) {
    if (item.key?.range) keyLines.set(String(item.key), lineCounter.linePos(item.key.range[0]).line);
  }
  return { value, keyLines };
}

/** A YAML error in rendered text: names the file, the line of the rendered output, and shows it. */
export class YamlError extends Error {
  readonly where: string;
  readonly line: number;

  constructor(where: string, line: number, text: string, reason: string) {
    super(
      `YAML error in ${where}, line ${line} of the rendered output: ${reason}${text.trim() === '' ? '' : `\n    ${line} | ${text}`}`,
    );
    this.name = 'YamlError';
    this.where = where;
    this.line = line;
  }
}

/**
 * PyYAML's resolvers, which differ from the YAML 1.1 spec the library follows: `y`/`n` are not
 * booleans, a float needs a dot (and a signed exponent: `1e3` is a string), an integer has no
 * leading zero; Salt's differences on top: octal-looking numbers and dates stay text.
 */
const PYYAML_BOOL = {
  true: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/,
  false: /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/,
};
const PYYAML_FLOAT = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?)$/;
const PYYAML_DECIMAL = /^[-+]?(?:0|[1-9][0-9_]*)$/;

function pyyamlTags(tags: Tags): Tags {
  const kept: Tags = [];
  let floatAdded = false;
  for (const tag of tags) {
    if (typeof tag === 'string') {
      if (tag !== 'timestamp') kept.push(tag);
      continue;
    }
    const scalar = tag as ScalarTag;
    const format = 'format' in tag ? tag.format : undefined;
    if (tag.tag === 'tag:yaml.org,2002:timestamp') continue;
    if (tag.tag === 'tag:yaml.org,2002:bool') {
      const value = scalar.test?.test('true') === true;
      kept.push({ ...scalar, test: value ? PYYAML_BOOL.true : PYYAML_BOOL.false });
    } else if (tag.tag === 'tag:yaml.org,2002:float' && format === undefined && !String(scalar.test).includes('inf')) {
      // The plain float and the exponent form become PyYAML's one float.
      if (!floatAdded) kept.push({ ...scalar, test: PYYAML_FLOAT });
      floatAdded = true;
    } else if (tag.tag === 'tag:yaml.org,2002:float' && format === 'EXP') {
      continue;
    } else if (tag.tag === 'tag:yaml.org,2002:int' && format === 'OCT' && !('collection' in tag && tag.collection)) {
      kept.push({ ...scalar, resolve: (source: string) => source });
    } else if (tag.tag === 'tag:yaml.org,2002:int' && format === undefined) {
      kept.push({ ...scalar, test: PYYAML_DECIMAL });
    } else {
      kept.push(tag);
    }
  }
  return kept;
}

/** The library repeats the position and an excerpt after "at line"; we show our own. */
function cleanMessage(message: string): string {
  return message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').trim();
}
