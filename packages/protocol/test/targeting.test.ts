import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPhoenixError } from '../src/errors.js';
import { compileTarget, selectMinions, TARGET_LIMITS, TargetSchema } from '../src/targeting.js';
import type { MinionFacts, TargetType } from '../src/targeting.js';

const minion = (id: string, grains: Record<string, unknown> = {}): MinionFacts => ({ id, grains });
const matches = (expression: string | string[], type: TargetType, who: MinionFacts): boolean =>
  compileTarget(expression, type).matches(who);
const ids = (expression: string, type: TargetType, minions: MinionFacts[]): string[] =>
  selectMinions(compileTarget(expression, type), minions);

/** Asserts that compiling throws PHX_TARGET_INVALID and that the message contains every fragment. */
function assertInvalid(expression: string | string[], type: TargetType, ...fragments: (string | RegExp)[]): void {
  assert.throws(
    () => compileTarget(expression, type),
    (err: unknown) => {
      assert.ok(isPhoenixError(err, 'PHX_TARGET_INVALID'), `expected PHX_TARGET_INVALID, got ${String(err)}`);
      for (const fragment of fragments) {
        if (typeof fragment === 'string')
          assert.ok(err.message.includes(fragment), `"${err.message}" lacks "${fragment}"`);
        else assert.match(err.message, fragment);
      }
      return true;
    },
  );
}

const fleet = [
  minion('web1', { os: 'Debian', os_family: 'Debian', roles: ['web', 'cache'] }),
  minion('web2', { os: 'Ubuntu', os_family: 'Debian', roles: ['web'] }),
  minion('db1', { os: 'CentOS', os_family: 'RedHat', roles: ['db'] }),
  minion('webserv-a', { os: 'Debian', os_family: 'Debian' }),
  minion('web-dc1-srv3', { os: 'Fedora', os_family: 'RedHat' }),
];

describe('glob targets (fnmatch on the whole id, case-sensitive)', () => {
  test('* matches every minion and a plain word only that id', () => {
    assert.deepEqual(ids('*', 'glob', fleet), ['web1', 'web2', 'db1', 'webserv-a', 'web-dc1-srv3']);
    assert.deepEqual(ids('web1', 'glob', fleet), ['web1']);
  });

  test('* and ? match any run and any one character, against the whole id', () => {
    assert.deepEqual(ids('web?', 'glob', fleet), ['web1', 'web2']);
    assert.deepEqual(ids('web*', 'glob', fleet), ['web1', 'web2', 'webserv-a', 'web-dc1-srv3']);
    assert.deepEqual(ids('*1', 'glob', fleet), ['web1', 'db1']);
    assert.deepEqual(ids('*-*-*', 'glob', fleet), ['web-dc1-srv3']);
    assert.equal(matches('web', 'glob', minion('web1')), false);
    assert.equal(matches('eb1', 'glob', minion('web1')), false);
  });

  test('[seq], [!seq] and ranges match one character', () => {
    assert.deepEqual(ids('web[12]', 'glob', fleet), ['web1', 'web2']);
    assert.deepEqual(ids('web[!1]', 'glob', fleet), ['web2']);
    assert.deepEqual(ids('[a-d]*', 'glob', fleet), ['db1']);
    assert.equal(matches('web[0-9][0-9]', 'glob', minion('web42')), true);
    assert.equal(matches('web[0-9][0-9]', 'glob', minion('web4x')), false);
  });

  test('fnmatch edge cases: a lone [ is literal, ] first in a set is a member, backslash is literal', () => {
    assert.equal(matches('a[b', 'glob', minion('a[b')), true);
    assert.equal(matches('a[]x]', 'glob', minion('a]')), true);
    assert.equal(matches('a[!]x]', 'glob', minion('a]')), false);
    assert.equal(matches('a[!]x]', 'glob', minion('ay')), true);
    assert.equal(matches('a\\*', 'glob', minion('a\\b')), true);
    assert.equal(matches('a[z-a]', 'glob', minion('az')), false);
  });

  test('is case-sensitive for ids, as Salt on POSIX', () => {
    assert.equal(matches('WEB1', 'glob', minion('web1')), false);
    assert.equal(matches('Web*', 'glob', minion('web1')), false);
  });

  test('many stars cost at most pattern × id, never exponential time', () => {
    const id = 'a'.repeat(TARGET_LIMITS.idLength);
    const start = performance.now();
    assert.equal(matches(`${'*a'.repeat(100)}b`, 'glob', minion(id)), false);
    assert.ok(performance.now() - start < 200);
  });
});

describe('list targets (exact ids)', () => {
  test('a comma-separated string names exact ids; blanks around ids are ignored', () => {
    assert.deepEqual(ids('web1,db1', 'list', fleet), ['web1', 'db1']);
    assert.deepEqual(ids(' web1 , db1 ,', 'list', fleet), ['web1', 'db1']);
  });

  test('an array names the same ids without any parsing', () => {
    assert.deepEqual(selectMinions(compileTarget(['web2', 'db1'], 'list'), fleet), ['web2', 'db1']);
    assert.equal(compileTarget(['web2', 'db1'], 'list').expression, 'web2,db1');
  });

  test('entries are not globs (Salt’s list matcher compares ids exactly)', () => {
    assert.deepEqual(ids('web*', 'list', fleet), []);
    assert.equal(matches('web*', 'list', minion('web*')), true);
  });

  test('refuses an empty list, bad ids, an array for other types and too many ids', () => {
    assertInvalid(',, ,', 'list', 'names no minion');
    assertInvalid([], 'list', 'names no minion');
    assertInvalid(['web1', 'bad id'], 'list', '"bad id"', 'not a valid minion id');
    assertInvalid(['web1', 'x\u0000'], 'list', 'not a valid minion id');
    assertInvalid(['web1', 'x'.repeat(TARGET_LIMITS.idLength + 1)], 'list', 'not a valid minion id');
    assertInvalid(['web1'], 'glob', 'a glob target must be a string');
    assertInvalid(
      Array.from({ length: TARGET_LIMITS.listIds + 1 }, (_, i) => `m${i}`),
      'list',
      `the limit is ${TARGET_LIMITS.listIds}`,
    );
  });
});

describe('grain targets (key:value, value globbed case-insensitively)', () => {
  test('matches a top-level grain by value glob', () => {
    assert.deepEqual(ids('os_family:Debian', 'grain', fleet), ['web1', 'web2', 'webserv-a']);
    assert.deepEqual(ids('os:*OS', 'grain', fleet), ['db1']);
    assert.deepEqual(ids('os:[cf]*', 'grain', fleet), ['db1', 'web-dc1-srv3']);
  });

  test('values compare case-insensitively, as Salt lowercases both sides', () => {
    assert.deepEqual(ids('os:debian', 'grain', fleet), ['web1', 'webserv-a']);
    assert.deepEqual(ids('os:UBUNTU', 'grain', fleet), ['web2']);
  });

  test('nested keys use ":" and the last part is the value', () => {
    const tagged = minion('m1', { ec2: { tags: { role: 'web', env: 'prod' } } });
    assert.equal(matches('ec2:tags:role:web', 'grain', tagged), true);
    assert.equal(matches('ec2:tags:role:w*', 'grain', tagged), true);
    assert.equal(matches('ec2:tags:role:db', 'grain', tagged), false);
    assert.equal(matches('ec2:tags:owner:web', 'grain', tagged), false);
  });

  test('a value may itself contain ":" (Salt tries every split of key and value)', () => {
    const host = minion('m1', { ipv6: ['::1', 'fe80::1'], master: 'salt:4506' });
    assert.equal(matches('ipv6:fe80::1', 'grain', host), true);
    assert.equal(matches('master:salt:4506', 'grain', host), true);
    assert.equal(matches('ipv6:fe80::2', 'grain', host), false);
  });

  test('a list-valued grain matches when any member matches', () => {
    assert.deepEqual(ids('roles:cache', 'grain', fleet), ['web1']);
    assert.deepEqual(ids('roles:web', 'grain', fleet), ['web1', 'web2']);
    assert.deepEqual(ids('roles:d?', 'grain', fleet), ['db1']);
  });

  test('numbers and booleans match as text; null, objects and missing grains never match a value', () => {
    const facts = minion('m1', { num_cpus: 8, virtual: false, mem: 15.5, none: null, gpus: [] });
    assert.equal(matches('num_cpus:8', 'grain', facts), true);
    assert.equal(matches('num_cpus:1*', 'grain', facts), false);
    assert.equal(matches('virtual:False', 'grain', facts), true);
    assert.equal(matches('mem:15.5', 'grain', facts), true);
    assert.equal(matches('none:*', 'grain', facts), false);
    assert.equal(matches('gpus:*', 'grain', facts), false);
    assert.equal(matches('missing:*', 'grain', facts), false);
  });

  test('a dict-valued grain matches "*" (the key exists) or the name of one of its keys', () => {
    const tagged = minion('m1', { ec2: { tags: { role: 'web' } } });
    assert.equal(matches('ec2:tags:*', 'grain', tagged), true);
    assert.equal(matches('ec2:tags:role', 'grain', tagged), true);
    assert.equal(matches('ec2:tags:owner', 'grain', tagged), false);
  });

  test('list members are reachable by index or through the dicts they hold', () => {
    const facts = minion('m1', { disks: [{ name: 'sda', size: 100 }, { name: 'sdb' }] });
    assert.equal(matches('disks:0:name:sda', 'grain', facts), true);
    assert.equal(matches('disks:1:name:sda', 'grain', facts), false);
    assert.equal(matches('disks:5:name:*', 'grain', facts), false);
    assert.equal(matches('disks:size:100', 'grain', facts), true);
  });

  test('only own grain keys count: inherited names such as constructor or __proto__ never match', () => {
    const facts = minion('m1', { os: 'Debian' });
    assert.equal(matches('constructor:*', 'grain', facts), false);
    assert.equal(matches('__proto__:*', 'grain', facts), false);
    assert.equal(matches('os:length:*', 'grain', facts), false);
    assert.equal(matches('toString:*', 'grain', facts), false);
  });

  test('a grain value longer than the limit never matches a pattern', () => {
    const facts = minion('m1', { blob: 'x'.repeat(TARGET_LIMITS.matchedValueLength + 1) });
    assert.equal(matches('blob:x*', 'grain', facts), false);
  });

  test('refuses expressions without a key and a value', () => {
    assertInvalid('os', 'grain', 'must be key:value');
    assertInvalid(':Debian', 'grain', 'must be key:value');
    assertInvalid('os:', 'grain', 'must be key:value');
  });
});

describe('pcre targets (Python re.match on the id)', () => {
  test('is anchored at the start of the id, not at the end, like Salt; $ anchors the end', () => {
    assert.deepEqual(ids('web\\d', 'pcre', fleet), ['web1', 'web2']);
    assert.equal(matches('web', 'pcre', minion('web1')), true);
    assert.equal(matches('eb', 'pcre', minion('web1')), false);
    assert.equal(matches('web\\d$', 'pcre', minion('web12')), false);
    assert.equal(matches('web\\d+$', 'pcre', minion('web12')), true);
  });

  test('supports Python syntax Salt users write', () => {
    assert.equal(matches('web\\d+\\.(dev|qa|prod)\\.loc', 'pcre', minion('web12.qa.loc')), true);
    assert.equal(matches('web\\d+\\.(dev|qa|prod)\\.loc', 'pcre', minion('web12.uat.loc')), false);
    assert.equal(matches('(?P<role>web|db)-[a-f0-9]{2,4}$', 'pcre', minion('db-0af')), true);
    assert.equal(matches('(?:web|db)-[^x]{3}$', 'pcre', minion('db-0ax')), false);
    assert.equal(matches('db\\b', 'pcre', minion('db-1')), true);
    assert.equal(matches('db\\b', 'pcre', minion('db1')), false);
    assert.equal(matches('\\w+\\s?\\W\\x41{1,}?', 'pcre', minion('ab-AA')), true);
    assert.equal(matches('a{,2}b', 'pcre', minion('aab')), true);
    assert.equal(matches('x{y}', 'pcre', minion('x{y}')), true);
    assert.equal(matches('[]a]+$', 'pcre', minion(']a]')), true);
    assert.equal(matches('^$', 'pcre', minion('a')), false);
    assert.equal(matches('(a|)+b', 'pcre', minion('aab')), true);
    assert.equal(matches('Web', 'pcre', minion('web1')), false);
    assert.equal(matches('(?i)Web', 'pcre', minion('web1')), true);
  });

  test('reads what Python and RE2 disagree on as Python does', () => {
    assert.equal(matches('a{,}b$', 'pcre', minion('aaab')), true);
    assert.equal(matches('a{,2}b', 'pcre', minion('aaab')), false);
    assert.equal(matches('[{,2}]+$', 'pcre', minion('{,2}')), true);
    assert.equal(matches('\\{,2}', 'pcre', minion('{,2}')), true);
    assert.equal(matches('[\\w-]+$', 'pcre', minion('web-1')), true);
    assert.equal(matches('[\\w-z]+$', 'pcre', minion('a-z')), true);
    assert.equal(matches('[[:digit:]x]+$', 'pcre', minion('1x2')), true);
    assert.equal(matches('P@note:a[\\b]c', 'compound', minion('m1', { note: 'a\bc' })), true);
    assert.equal(matches('P@note:\\s\\S$', 'compound', minion('m1', { note: '\u3000x' })), true);
  });

  test('agrees with JavaScript’s engine on random patterns over the syntax both share', () => {
    // A small deterministic generator over the syntax JavaScript and Python share.
    let seed = 42;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    const pick = <T>(items: readonly T[]): T => items[random(items.length)] as T;
    const atom = (depth: number): string =>
      depth > 2 || random(3) > 0
        ? pick(['a', 'b', '-', '.', '\\d', '\\w', '[ab]', '[^a]', '[0-9b-]', '\\.', '\\b', '^', '$'])
        : `(${pattern(depth + 1)}${random(2) ? `|${pattern(depth + 1)}` : ''})`;
    const pattern = (depth: number): string =>
      Array.from({ length: 1 + random(3) }, () => {
        const inner = atom(depth);
        const repeatable = !['\\b', '^', '$'].includes(inner);
        return repeatable ? inner + pick(['', '', '*', '+', '?', '{2}', '{1,3}', '{,2}', '*?']) : inner;
      }).join('');
    let agreed = 0;
    for (let i = 0; i < 1000; i++) {
      const source = pattern(0);
      const id = Array.from({ length: random(10) }, () => pick(['a', 'b', '1', '-', '.', '_'])).join('');
      const expected = new RegExp(`^(?:${source.replaceAll('{,2}', '{0,2}')})`).test(id);
      assert.equal(matches(source, 'pcre', minion(id)), expected, `${source} on ${JSON.stringify(id)}`);
      agreed++;
    }
    assert.equal(agreed, 1000);
  });

  test('assertions, escapes and Unicode', () => {
    assert.equal(matches('\\Aweb\\Z', 'pcre', minion('web')), true);
    assert.equal(matches('\\Aweb\\Z', 'pcre', minion('web1')), false);
    assert.equal(matches('web\\B', 'pcre', minion('web1')), true);
    assert.equal(matches('web\\B', 'pcre', minion('web')), false);
    assert.equal(matches('web\\b$', 'pcre', minion('web')), true);
    assert.equal(matches('a.+?c', 'pcre', minion('abbbc')), true);
    // \w, \d and \s are Unicode-aware, as in Python 3.
    assert.equal(matches('\\u00e9t\\w$', 'pcre', minion('été')), true);
    assert.equal(matches('\\w\\d$', 'pcre', minion('ж٣')), true);
    assert.equal(matches('.t\\w$', 'pcre', minion('été')), true);
    assert.equal(matches('..$', 'pcre', minion('a😀')), true);
    assert.equal(matches('[\\d\\s-]+$', 'pcre', minion('1-2 3')), true);
    assert.equal(matches('[a\\-z]+$', 'pcre', minion('a-z')), true);
    assert.equal(matches('[a\\-z]+$', 'pcre', minion('b')), false);
  });

  test('P@ matches grain values case-insensitively, classes and negations included', () => {
    const debian = minion('m1', { os: 'Debian' });
    assert.equal(matches('P@os:debian$', 'compound', debian), true);
    assert.equal(matches('P@os:[A-D]EBIAN$', 'compound', debian), true);
    assert.equal(matches('P@os:[^d]ebian', 'compound', debian), false);
    // Salt lowercases the pattern itself, turning \D (not a digit) into \d; Phoenix folds case, not escapes.
    assert.equal(matches('P@os:\\Debian', 'compound', debian), true);
    assert.equal(matches('P@os:\\debian', 'compound', debian), false);
    assert.equal(matches('E@WEB', 'compound', minion('web1')), false);
  });

  test('patterns that hang a backtracking engine finish at once', () => {
    const id = `${'a'.repeat(TARGET_LIMITS.idLength - 1)}!`;
    const evil = ['(a+)+$', '(a|aa)+$', '(a|a)*b', '(.*a){12}$', '(\\w+\\d*)+=', '.*.*.*.*.*.*=', '(x+x+)+y'];
    const minions = Array.from({ length: 200 }, () => minion(id));
    const start = performance.now();
    for (const pattern of evil) assert.deepEqual(selectMinions(compileTarget(pattern, 'pcre'), minions), []);
    assert.ok(performance.now() - start < 2000, `took ${performance.now() - start} ms`);
  });

  test('refuses invalid and unsupported regular expressions, naming the problem and where', () => {
    assertInvalid('web(', 'pcre', 'bad regular expression "web(" at position 0: missing closing )');
    assertInvalid('web)', 'pcre', 'unexpected )');
    assertInvalid('web[1-', 'pcre', 'missing closing ]: `[1-`');
    assertInvalid('[z-a]', 'pcre', 'invalid character class range: `z-a`');
    assertInvalid('*web', 'pcre', 'missing argument to repetition operator: `*`');
    assertInvalid('web**', 'pcre', 'invalid nested repetition operator: `**`');
    assertInvalid('a{3,1}', 'pcre', 'invalid repeat count: `{3,1}`');
    assertInvalid('(a)\\1', 'pcre', 'backreferences and octal escapes (\\1) are not supported');
    assertInvalid('(a)\\12', 'pcre', 'backreferences');
    assertInvalid('(?P<n>a)(?P=n)', 'pcre', 'backreferences (?P=name) are not supported');
    assertInvalid('web(?=1)', 'pcre', 'lookahead and lookbehind are not supported');
    assertInvalid('web(?!1)', 'pcre', 'lookahead and lookbehind are not supported');
    assertInvalid('(?<!x)web', 'pcre', 'lookahead and lookbehind are not supported');
    assertInvalid('(?<=x)web', 'pcre', 'lookahead and lookbehind are not supported');
    assertInvalid('(?x)web', 'pcre', 'unsupported Perl syntax: `(?x`');
    assertInvalid('web\\q', 'pcre', 'invalid escape sequence: `\\q`');
    assertInvalid('web\\', 'pcre', 'trailing backslash');
    assertInvalid('\\x4', 'pcre', 'invalid escape sequence');
    assertInvalid('[\\W]', 'pcre', '\\W inside [...] is not supported');
    assertInvalid('\\Qa.b\\E', 'pcre', '\\Q is not supported');
  });

  test('refuses a regex longer than the regex limit and one that compiles to too many steps', () => {
    assertInvalid('a'.repeat(TARGET_LIMITS.regexLength + 1), 'pcre', `the limit is ${TARGET_LIMITS.regexLength}`);
    assertInvalid('a{1000}b{1000}', 'pcre', 'too complex');
    assertInvalid('E@a{1000} or E@b{1000}', 'compound', 'too complex');
    // The value `a{700}:b{700}` fits; the split at the second ':' would not: refused, not dropped.
    assertInvalid('P@k:a{700}:b{700}', 'compound', 'too complex');
    assertInvalid('(a{1000}){1000}', 'pcre', 'invalid repeat count');
    assertInvalid('(){100000}a', 'pcre', 'invalid repeat count');
    assert.equal(matches('a{1000}', 'pcre', minion('a'.repeat(1000))), true);
  });

  test('a pattern that compiles to a huge program is refused at once, even split at every delimiter', () => {
    const start = performance.now();
    assertInvalid(`P@k:${'\\pL{999}:'.repeat(28)}`, 'compound', 'too complex');
    assert.ok(performance.now() - start < 2000, `took ${performance.now() - start} ms`);
  });
});

describe('compound targets', () => {
  test('the Salt documentation example: webserv* and G@os:Debian or E@web-dc1-srv.*', () => {
    assert.deepEqual(ids('webserv* and G@os:Debian or E@web-dc1-srv.*', 'compound', fleet), [
      'webserv-a',
      'web-dc1-srv3',
    ]);
  });

  test('G@, P@, L@, E@ and bare globs each match like their own target type', () => {
    assert.deepEqual(ids('G@os_family:RedHat', 'compound', fleet), ['db1', 'web-dc1-srv3']);
    assert.deepEqual(ids('P@os:(RedHat|Fedora|CentOS)', 'compound', fleet), ['db1', 'web-dc1-srv3']);
    assert.deepEqual(ids('P@os:ubuntu$', 'compound', fleet), ['web2']);
    assert.deepEqual(ids('L@web2,db1', 'compound', fleet), ['web2', 'db1']);
    assert.deepEqual(ids('E@web\\d$', 'compound', fleet), ['web1', 'web2']);
    assert.deepEqual(ids('web?', 'compound', fleet), ['web1', 'web2']);
  });

  test('G@ and P@ take an alternative delimiter, as G%@key%value', () => {
    const host = minion('m1', { ipv6: ['fe80::1'], ec2: { tags: { role: 'web' } } });
    assert.equal(matches('G%@ipv6%fe80::1', 'compound', host), true);
    assert.equal(matches('G|@ec2|tags|role|web', 'compound', host), true);
    assert.equal(matches('P;@ec2;tags;role;w.b$', 'compound', host), true);
  });

  test('not binds tighter than and, and tighter than or', () => {
    // or is weakest: a or (b and c)
    assert.deepEqual(ids('web1 or db1 and G@os:Debian', 'compound', fleet), ['web1']);
    assert.deepEqual(ids('( web1 or db1 ) and G@os:Debian', 'compound', fleet), ['web1']);
    assert.deepEqual(ids('( web1 or db1 ) and G@os:CentOS', 'compound', fleet), ['db1']);
    assert.deepEqual(ids('G@os:CentOS and db1 or web1', 'compound', fleet), ['web1', 'db1']);
    // not before and: (not a) and b
    assert.deepEqual(ids('not web* and G@os_family:RedHat', 'compound', fleet), ['db1']);
    assert.deepEqual(ids('not ( web* and G@os_family:RedHat )', 'compound', fleet), [
      'web1',
      'web2',
      'db1',
      'webserv-a',
    ]);
    // not before or: (not a) or b
    assert.deepEqual(ids('not web* or web1', 'compound', fleet), ['web1', 'db1']);
    assert.deepEqual(ids('not ( web* or web1 )', 'compound', fleet), ['db1']);
  });

  test('parentheses nest and group', () => {
    assert.deepEqual(ids('( ( web1 or web2 ) and not ( G@os:Ubuntu ) ) or ( ( db1 ) )', 'compound', fleet), [
      'web1',
      'db1',
    ]);
  });

  test('a leading not excludes, and a not right after a target means "and not", as in Salt', () => {
    assert.deepEqual(ids('not web*', 'compound', fleet), ['db1']);
    assert.deepEqual(ids('web* not G@os:Debian', 'compound', fleet), ['web2', 'web-dc1-srv3']);
    assert.deepEqual(ids('web* and not G@os:Debian', 'compound', fleet), ['web2', 'web-dc1-srv3']);
    assert.deepEqual(ids('( web1 or db1 ) not db*', 'compound', fleet), ['web1']);
  });

  test('operators are lowercase words; AND is a glob like any other word', () => {
    assertInvalid('web1 AND web2', 'compound', `missing 'and' or 'or' before "AND"`);
  });

  test('knows whether grains are needed to decide', () => {
    assert.equal(compileTarget('web* or L@a,b and not E@x', 'compound').usesGrains, false);
    assert.equal(compileTarget('web* or not G@os:Debian', 'compound').usesGrains, true);
    assert.equal(compileTarget('os:Debian', 'grain').usesGrains, true);
    assert.equal(compileTarget('web*', 'glob').usesGrains, false);
  });

  test('refuses unbalanced parentheses, naming the one at fault', () => {
    assertInvalid('( web1 or web2', 'compound', `'(' at position 0 is never closed`);
    assertInvalid('web1 or web2 )', 'compound', `')' at position 13 has no matching '('`);
    assertInvalid('( ( web1 )', 'compound', `'(' at position 0 is never closed`);
    assertInvalid('( )', 'compound', 'empty parentheses at position 0');
  });

  test('refuses parentheses glued to a target, with a hint to add spaces', () => {
    assertInvalid('(web1 or web2)', 'compound', 'put spaces around');
    assertInvalid('G@os:Debian)', 'compound', 'put spaces around');
    assert.equal(matches('G@cpu_model:Intel(R)*', 'compound', minion('m', { cpu_model: 'Intel(R) Xeon' })), true);
  });

  test('refuses dangling and misplaced operators', () => {
    assertInvalid('web1 and', 'compound', `"and" at position 5 is not followed by a target`);
    assertInvalid('web1 or', 'compound', `"or" at position 5 is not followed by a target`);
    assertInvalid('not', 'compound', `"not" at position 0 is not followed by a target`);
    assertInvalid('web1 and not', 'compound', `"not" at position 9 is not followed by a target`);
    assertInvalid('and web1', 'compound', `"and" at position 0 at the start has no target before it`);
    assertInvalid('or web1', 'compound', 'at the start has no target before it');
    assertInvalid('web1 and or web2', 'compound', `"or" at position 9 after "and" has no target before it`);
    assertInvalid('( and web1 )', 'compound', `after "(" has no target before it`);
    assertInvalid('( web1 and ) or web2', 'compound', 'is not followed by a target');
    assertInvalid(') web1', 'compound', `')' at position 0 has no matching '('`);
    assertInvalid('not not web1', 'compound', `'not' at position 0 is followed by another 'not'`);
  });

  test('refuses two targets with no operator between them', () => {
    assertInvalid('web1 web2', 'compound', `missing 'and' or 'or' before "web2" at position 5`);
    assertInvalid('( web1 ) ( web2 )', 'compound', `missing 'and' or 'or' before "(" at position 9`);
    assertInvalid('( web1 web2 )', 'compound', `before "web2"`);
  });

  test('refuses Salt prefixes Phoenix does not support yet, and unknown ones', () => {
    assertInvalid('I@role:web', 'compound', 'I@ (pillar glob)', 'not supported yet');
    assertInvalid('J@role:^web', 'compound', 'J@ (pillar regex)', 'not supported yet');
    assertInvalid('web* and S@10.0.0.0/8', 'compound', 'S@ (subnet/IP address)', 'position 9', 'not supported yet');
    assertInvalid('N@webservers', 'compound', 'N@ (nodegroup)', 'not supported yet');
    assertInvalid('R@%foo.bar', 'compound', 'R@ (range cluster)', 'not supported yet');
    assertInvalid('X@foo', 'compound', 'unknown target prefix X@');
    assertInvalid('web* or G@', 'compound', 'G@ at position 8 has no pattern');
  });

  test('refuses bad patterns inside prefixes, with the position in the whole expression', () => {
    assertInvalid('web* and E@web(', 'compound', 'at position 11: missing closing )');
    assertInvalid('web* and P@os:(a|b', 'compound', 'at position 14: missing closing )');
    assertInvalid('web* and G@os', 'compound', 'must be key:value');
    assertInvalid('L@,', 'compound', 'names no minion');
  });
});

describe('bad input is refused up front', () => {
  test('empty and blank expressions', () => {
    for (const type of ['glob', 'list', 'grain', 'pcre', 'compound'] as const) {
      assertInvalid('', type, 'the expression is empty');
      assertInvalid('   ', type, 'the expression is empty');
    }
  });

  test('expressions over the length limit', () => {
    assertInvalid(
      'a'.repeat(TARGET_LIMITS.expressionLength + 1),
      'glob',
      `the limit is ${TARGET_LIMITS.expressionLength}`,
    );
    assertInvalid(`web1${' or web1'.repeat(200)}`, 'compound', 'characters long');
    assert.equal(matches('a'.repeat(TARGET_LIMITS.expressionLength), 'glob', minion('a')), false);
  });

  test('control characters and bidirectional overrides, with their position', () => {
    assertInvalid('web1\nrm -rf /', 'glob', 'control character U+000a at position 4');
    assertInvalid('web\u0000', 'compound', 'U+0000 at position 3');
    assertInvalid('os:\u001bDebian', 'grain', 'U+001b');
    assertInvalid('web\u202e1', 'glob', 'U+202e');
    assertInvalid('web\u009b', 'pcre', 'U+009b');
  });

  test('an unknown target type', () => {
    assertInvalid('web*', 'nodegroup' as TargetType, 'unknown target type "nodegroup"');
  });

  test('shell and code injection is never run: it is refused or matched literally', () => {
    const victims = [minion('web1'), minion('db1')];
    for (const attempt of ["'; rm -rf /", '$(reboot)', '`reboot`', "__import__('os').system('id')", 'True']) {
      assert.deepEqual(selectMinions(compileTarget(attempt, 'glob'), victims), [], attempt);
    }
    assert.equal(matches('$(reboot)', 'glob', minion('$(reboot)')), true);
    assertInvalid("web1 or '; rm -rf /", 'compound', 'missing');
    assert.deepEqual(ids('web1 or $(reboot) or `id`', 'compound', victims), ['web1']);
    assert.deepEqual(ids('True or True', 'compound', victims), []);
    assert.deepEqual(ids("__import__('os').system('id') or db1", 'compound', victims), ['db1']);
  });

  test('errors carry the code, a position in details and no more than a short excerpt of the input', () => {
    const long = `${'x'.repeat(500)}`;
    try {
      compileTarget(`web1 and ${long}(`, 'compound');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(isPhoenixError(err, 'PHX_TARGET_INVALID'));
      assert.equal(err.details.position, 9);
      assert.ok(err.message.length < 200, err.message);
    }
  });
});

describe('selectMinions and the API schema', () => {
  test('selectMinions returns matching ids in the order given, from any iterable', () => {
    const matcher = compileTarget('web*');
    function* minions() {
      yield minion('web2');
      yield minion('db1');
      yield minion('web1');
    }
    assert.deepEqual(selectMinions(matcher, minions()), ['web2', 'web1']);
    assert.deepEqual(selectMinions(matcher, []), []);
  });

  test('a matcher is frozen and reports what it was built from', () => {
    const matcher = compileTarget('web*');
    assert.equal(matcher.type, 'glob');
    assert.equal(matcher.expression, 'web*');
    assert.ok(Object.isFrozen(matcher));
  });

  test('one matcher decides 10,000 minions quickly', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => minion(`web${i}`, { os: i % 2 ? 'Debian' : 'Ubuntu' }));
    const matcher = compileTarget('web1* and G@os:debian or E@web\\d{3}5$', 'compound');
    const start = performance.now();
    const selected = selectMinions(matcher, many);
    assert.ok(performance.now() - start < 1000);
    // web1* on odd (Debian) numbers: 1 + 5 + 50 + 500; 4-digit ids ending in 5: 900, of which 100 start with 1.
    assert.equal(selected.length, 556 + 900 - 100);
  });

  test('TargetSchema accepts { expression, type } and defaults the type to glob', () => {
    assert.deepEqual(TargetSchema.parse({ expression: 'web*' }), { expression: 'web*', type: 'glob' });
    assert.deepEqual(TargetSchema.parse({ expression: ['a', 'b'], type: 'list' }), {
      expression: ['a', 'b'],
      type: 'list',
    });
    assert.deepEqual(TargetSchema.parse({ expression: 'G@os:Debian and web*', type: 'compound' }).type, 'compound');
  });

  test('TargetSchema refuses unknown keys, unknown types, arrays for non-lists and invalid expressions', () => {
    assert.equal(TargetSchema.safeParse({ expression: 'web*', type: 'glob', extra: 1 }).success, false);
    assert.equal(TargetSchema.safeParse({ expression: 'web*', type: 'pillar' }).success, false);
    assert.equal(TargetSchema.safeParse({ expression: ['a'], type: 'glob' }).success, false);
    assert.equal(TargetSchema.safeParse({ type: 'glob' }).success, false);
    const bad = TargetSchema.safeParse({ expression: '( web1', type: 'compound' });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, ['expression']);
    assert.match(bad.error?.issues[0]?.message ?? '', /'\(' at position 0 is never closed/);
  });
});
