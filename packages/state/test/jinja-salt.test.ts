import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateRenderer } from '../src/render/template-renderer.js';
import type { TemplateServices } from '../src/render/template-renderer.js';

/*
 * Jinja as Salt renders it, case by case from Jinja2's and Salt's documentation: Python's values
 * (printing, operators, str/list/dict methods, % and str.format), Jinja2's statements, filters and
 * tests, Salt's filters, and salt[...] in templates. Each case is the template and what Salt prints.
 */

const FILES: Record<string, string> = {
  'map.jinja': `{% set lookup = salt['grains.filter_by']({
    'Debian': {'pkg': 'apache2', 'service': 'apache2'},
    'RedHat': {'pkg': 'httpd', 'service': 'httpd'},
    'default': {'pkg': 'apache', 'service': 'apache'},
}, grain='os_family', merge=salt['pillar.get']('apache:lookup')) %}
{% set apache = lookup %}`,
  'defaults.yaml': 'port: {{ grains.port | default(80) }}\nusers: [a, b]\n',
  'defaults.json': '{"enabled": true, "workers": 4}',
  'motd.txt': 'Hello {{ grains.id }}\n',
  'broken-map.jinja': '{% set ok = 1 %}\n{% set broken = grains.no_such_grain.x %}\n',
  'macros.jinja': `{% macro user(name, shell='/bin/bash') -%}
{{ name }}:{{ shell }}:{{ grains.id }}
{%- endmacro %}
{% macro broken() -%}
line one
{{ undefined_in_macro }}
{%- endmacro %}
{% macro wrap() %}<{{ caller() }}>{% endmacro %}`,
};

const renderer = new TemplateRenderer({ timeoutMs: 20_000 });
after(() => renderer.close());

const services: TemplateServices = {
  call: async (fun, args, kwargs) => {
    if (fun === 'test.echo') return args[0];
    if (fun === 'cmd.run') return `ran: ${String(args[0])}`;
    return { fun, args, kwargs };
  },
  read: async (path) => FILES[path],
  slsExists: async (name) => name === 'web',
};

const context = {
  grains: { id: 'web-1', os: 'Debian', os_family: 'Debian', roles: ['web', 'db'], num_cpus: 4, mem_total: 2048 },
  pillar: {
    apache: { lookup: { port: 8080 } },
    users: { alice: { uid: 1001, shell: '/bin/zsh' }, bob: { uid: 1002 } },
    packages: ['vim', 'git', 'curl'],
    enabled: 'yes',
  },
  opts: { id: 'web-1', file_roots: { base: ['/srv/salt'] }, pillar_roots: { base: ['/srv/pillar'] } },
  saltenv: 'base',
};

function render(source: string, path = 'salt://t.sls'): Promise<string> {
  return renderer.render({ source, path, context, services });
}

async function renders(cases: readonly (readonly [string, string])[]): Promise<void> {
  for (const [source, expected] of cases) {
    assert.equal(await render(source), expected, source);
  }
}

test('Python printing of values, as Salt prints them into YAML', async () => {
  await renders([
    ['{{ True }} {{ False }} {{ None }} {{ true }} {{ none }}', 'True False None True None'],
    ["{{ {'a': 1, 'b': [1, 'x'], 'c': None} }}", "{'a': 1, 'b': [1, 'x'], 'c': None}"],
    ['{{ (1, 2) }} {{ (1,) }} {{ () }} {{ [1, 2,] }}', '(1, 2) (1,) () [1, 2]'],
    ['{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 2.5 }} {{ 10 / 4 }} {{ 4 / 2 }}', '1.0 0.30000000000000004 2.5 2.5 2.0'],
    ['{{ "it\'s" }} {{ ["it\'s"] }} {{ [\'a\\nb\'] }}', `it's ["it's"] ['a\\nb']`],
    ['{{ grains.roles }} {{ pillar.users.bob }}', "['web', 'db'] {'uid': 1002}"],
  ]);
});

test('operators with Python semantics: arithmetic, string multiplication, ~, comparisons, in', async () => {
  await renders([
    ['{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7.0 // 2 }}', '3 -4 1 2 1024 3.0'],
    ['{{ 2 * 3 % 4 }} {{ 10 * 3 // 4 }} {{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }} {{ -2 ** 2 }}', '2 7 14 20 4'],
    [
      "{{ '-' * 5 }} {{ 3 * 'ab' }} {{ [0] * 3 }} {{ [1] + [2] }} {{ 'a' ~ 1 ~ None }}",
      '----- ababab [0, 0, 0] [1, 2] a1None',
    ],
    [
      "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ 1 == 1.0 }} {{ 'x' != 'y' }}",
      'True False True True True True',
    ],
    [
      "{{ 'web' in grains.roles }} {{ 'x' not in grains.roles }} {{ 'ell' in 'hello' }} {{ 'alice' in pillar.users }}",
      'True True True True',
    ],
    [
      '{{ not [] }} {{ not {} }} {{ [] or "empty" }} {{ 0 or None or "last" }} {{ 1 and 2 }} {{ "" and 1 }}',
      'True True empty last 2 ',
    ],
    ['{% if {} %}dict{% elif [] %}list{% elif "" %}str{% elif 0.0 %}float{% else %}all false{% endif %}', 'all false'],
    ["{{ 'yes' if pillar.enabled == 'yes' else 'no' }} {{ 1 if 0 else 2 if 0 else 3 }}", 'yes 3'],
  ]);
});

test('str methods: format, %, replace, split, strip, startswith with tuples, partition, zfill...', async () => {
  await renders([
    [
      "{{ '{} and {}'.format('a', 'b') }} {{ '{1}{0}'.format('a', 'b') }} {{ '{name}-{n:03d}'.format(name='x', n=7) }}",
      'a and b ba x-007',
    ],
    [
      "{{ '{:>6}|{:<4}|{:^5}|{:.2f}|{:,}|{!r}|{0[a]}'.format({'a': 1}, 'ab', 'c', 3.14159, 1234567, 'q') if false else '{:>6}|{:<4}|{:^5}|{:.2f}|{:,}|{!r}'.format('x', 'ab', 'c', 3.14159, 1234567, 'q') }}",
      "     x|ab  |  c  |3.14|1,234,567|'q'",
    ],
    [
      "{{ '%s-%d' % ('x', 3) }} {{ '%(a)s=%(b)05.1f' % {'a': 'k', 'b': 2.25} }} {{ '%s' % 'one' }} {{ '%x %o %e %%' % (255, 8, 12345.678) }}",
      'x-3 k=002.2 one ff 10 1.234568e+04 %',
    ],
    ["{{ '%s' % [1, 2] }} {{ '%s' % {'a': 1} }} {{ '%(a)s' % {'a': [1]} }}", "[1, 2] {'a': 1} [1]"],
    ["{{ 'a.b.c'.replace('.', '/') }} {{ 'aaa'.replace('a', 'b', 2) }}", 'a/b/c bba'],
    [
      "{{ 'a b  c'.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ ' x '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  l'.lstrip() }}|{{ 'r  '.rstrip() }}",
      "['a', 'b', 'c'] ['a', 'b,c'] ['a,b', 'c'] x|hi|l|r",
    ],
    [
      "{{ 'web-1'.startswith(('db', 'web')) }} {{ 'x.conf'.endswith('.conf') }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }}",
      'True True AB ab Hello World Hello',
    ],
    [
      "{{ '7'.zfill(3) }} {{ '-7'.zfill(4) }} {{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }} {{ ','.join(['x', 'y']) }}",
      "007 -007 ('a', '=', 'b=c') ('a=b', '=', 'c') x,y",
    ],
    [
      "{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.count('l') }} {{ '123'.isdigit() }} {{ 'ab'.isalpha() }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'hello'[-1] }}",
      '2 3 2 True True el olleh o',
    ],
  ]);
});

test('list and dict methods, slicing with steps, unpacking in for and set', async () => {
  await renders([
    [
      '{% set l = [3, 1] %}{% do l.append(2) %}{% do l.extend([5, 4]) %}{% do l.insert(0, 9) %}{{ l }} {{ l.index(2) }} {{ l.count(1) }}{% do l.remove(9) %}{% do l.sort() %} {{ l }} {{ l.pop() }} {{ l }}{% do l.reverse() %} {{ l }}',
      '[9, 3, 1, 2, 5, 4] 3 1 [1, 2, 3, 4, 5] 5 [1, 2, 3, 4] [4, 3, 2, 1]',
    ],
    [
      "{% set d = {'a': 1} %}{% do d.update({'b': 2}) %}{% do d.update(c=3) %}{{ d.setdefault('a', 9) }} {{ d.setdefault('z', 0) }} {{ d.pop('z') }} {{ d.get('q', 'none') }} {{ d.get('q') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}",
      "1 0 0 none None ['a', 'b', 'c'] [1, 2, 3] [('a', 1), ('b', 2), ('c', 3)]",
    ],
    [
      "{% set c = pillar.users.copy() %}{% do c.pop('bob') %}{{ c | list }} {{ pillar.users | list }}",
      "['alice'] ['alice', 'bob']",
    ],
    [
      '{{ [0, 1, 2, 3, 4, 5][::2] }} {{ [0, 1, 2, 3][1:] }} {{ [0, 1, 2, 3][:-1] }} {{ [0, 1, 2, 3][-2:] }} {{ [0, 1, 2, 3][::-2] }}',
      '[0, 2, 4] [1, 2, 3] [0, 1, 2] [2, 3] [3, 1]',
    ],
    [
      '{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }} {% endfor %}{% set x, y = 1, 2 %}{{ x }}{{ y }} {% set t = 5, 6 %}{{ t }}',
      '3 7 12 (5, 6)',
    ],
    [
      "{% for name, user in pillar.users.items() %}{{ name }}={{ user.uid }}{{ ',' if not loop.last }}{% endfor %}",
      'alice=1001,bob=1002',
    ],
    ["{% for name in pillar.users %}{{ name }} {% endfor %}{% for c in 'ab' %}{{ c }}{% endfor %}", 'alice bob ab'],
  ]);
});

test('Jinja2 statements: loop.*, loop filters, else, break/continue, namespace, set blocks, filter, raw, macros, call', async () => {
  await renders([
    [
      "{% for p in pillar.packages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.cycle('a', 'b') }};{% endfor %}",
      '103TrueFalse3a;212FalseFalse3b;321FalseTrue3a;',
    ],
    [
      "{% for p in pillar.packages %}{{ loop.previtem | default('-') }}>{{ loop.nextitem | default('-') }} {% endfor %}",
      '->git vim>curl git>- ',
    ],
    [
      '{% for x in range(10) if x is odd %}{{ x }}{% endfor %} {% for x in [] %}no{% else %}empty{% endfor %}',
      '13579 empty',
    ],
    [
      '{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}',
      '02',
    ],
    [
      '{% set ns = namespace(total=0, seen=[]) %}{% for x in [1, 2, 3] %}{% set ns.total = ns.total + x %}{% do ns.seen.append(x) %}{% endfor %}{{ ns.total }} {{ ns.seen }}',
      '6 [1, 2, 3]',
    ],
    ['{% set x = 1 %}{% for i in [5] %}{% set x = i %}{% endfor %}{{ x }}', '1'],
    [
      '{% set block %}a {{ 1 + 1 }} b{% endset %}{{ block }}|{% filter upper %}shout {{ grains.id }}{% endfilter %}|{% raw %}{{ not rendered }}{% endraw %}',
      'a 2 b|SHOUT WEB-1|{{ not rendered }}',
    ],
    [
      "{% macro greet(who, punct='!') %}hi {{ who }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', punct='?') }} {{ greet(who='c') }}",
      'hi a! hi b? hi c!',
    ],
    [
      "{% from 'macros.jinja' import user, wrap with context %}{{ user('deploy') }} {{ user('root', shell='/bin/sh') }} {% call wrap() %}inside{% endcall %}",
      'deploy:/bin/bash:web-1 root:/bin/sh:web-1 <inside>',
    ],
    ["{% import 'macros.jinja' as m %}{{ m.user('x') }}", 'x:/bin/bash:web-1'],
    ['a\n  {%- if true %}\n  b\n  {%- endif %}\nc', 'a\n  b\nc'],
    ['{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}', '3'],
  ]);
});

test('Jinja2 filters with Jinja2 semantics', async () => {
  await renders([
    [
      "{% for g in [{'n': 'a', 's': 'zsh'}, {'n': 'b', 's': 'sh'}, {'n': 'c', 's': 'zsh'}] | groupby('s') %}{{ g.grouper }}={{ g.list | map(attribute='n') | join(',') }};{% endfor %} {{ [{'s': 1}, {'s': 2}] | groupby('s') | map(attribute='grouper') | list }}",
      'sh=b;zsh=a,c; [1, 2]',
    ],
    ['{{ [[1, 2], [3]] | sum(start=[]) }} {{ [1, 2.5] | sum }} {{ [1, 2] | sum(start=10) }}', '[1, 2, 3] 3.5 13'],
    [
      "{{ none | default('d') }} {{ '' | default('d', true) }} {{ '' | d('x', boolean=true) }} {{ undefined_name | default('u') }}",
      'None d x u',
    ],
    [
      "{{ {'b': 2, 'a': 1} | dictsort }} {{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ [{'n': 2}, {'n': 1}] | sort(attribute='n') | map(attribute='n') | list }}",
      "[('a', 1), ('b', 2)] [1, 2, 3] [3, 2, 1] [1, 2]",
    ],
    [
      "{{ pillar.packages | map('upper') | join(', ') }} {{ [1, 2, 3] | select('odd') | list }} {{ [1, 2, 3] | reject('equalto', 2) | list }} {{ [none, 1] | reject('none') | list }}",
      'VIM, GIT, CURL [1, 3] [1, 3] [1]',
    ],
    [
      "{% set us = [{'n': 'a', 'on': true}, {'n': 'b', 'on': false}, {'n': 'c', 'on': none}] %}{{ us | selectattr('on') | map(attribute='n') | list }} {{ us | rejectattr('on', 'none') | map(attribute='n') | list }} {{ us | selectattr('n', 'in', ['a', 'c']) | map(attribute='n') | list }} {{ us | selectattr('n', 'match', '[bc]') | map(attribute='n') | list }}",
      "['a'] ['a', 'b'] ['a', 'c'] ['b', 'c']",
    ],
    [
      "{% for g in [{'k': 'x', 'v': 1}, {'k': 'y', 'v': 2}, {'k': 'x', 'v': 3}] | groupby('k') %}{{ g.grouper }}:{{ g.list | map(attribute='v') | list }} {% endfor %}",
      'x:[1, 3] y:[2] ',
    ],
    [
      '{{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3, 4, 5] | slice(2) | list }} {{ [1, 2, 3] | sum }} {{ [1, 5, 3] | min }} {{ [1, 5, 3] | max }} {{ [1, 1, 2] | unique | list }}',
      '[[1, 2], [3, 4], [5]] [[1, 2, 3], [4, 5]] 6 1 5 [1, 2]',
    ],
    [
      "{{ [1, 2] | first }} {{ [1, 2] | last }} {{ 'abc' | length }} {{ pillar.users | count }} {{ 'ab' | list }} {{ [1, 2] | reverse | list }} {{ 'abc' | reverse }}",
      "1 2 3 2 ['a', 'b'] [2, 1] cba",
    ],
    [
      "{{ 2.5 | round }} {{ 3.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(method='ceil') }} {{ '42' | int }} {{ '3.7' | int }} {{ 'x' | int(5) }} {{ '1.5' | float }} {{ 3 | float }} {{ 5 | string }}",
      '2.0 4.0 3.14 3.0 42 3 5 1.5 3.0 5',
    ],
    [
      "{{ '  x  ' | trim }} {{ 'hello world foo' | truncate(9, leeway=0) }} {{ 'a b c' | wordcount }} {{ 'ab' | center(6) }}| {{ 'a %s b' | format('X') }} {{ 'aXbX' | replace('X', '-') }} {{ 'hello world' | title }} {{ 'hi' | capitalize }}",
      'x hello... 3   ab  | a X b a-b- Hello World Hi',
    ],
    [
      "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}",
      'a\n  b\n\n  c|  a\n  b|a\n  \n  b',
    ],
    [
      "{{ {'b': [1, 2.0], 'a': \"<x>'\"} | tojson }} {{ {'a': 1} | items | list }}",
      `{"a": "\\u003cx\\u003e\\u0027", "b": [1, 2.0]} [('a', 1)]`,
    ],
  ]);
});

test('Jinja2 and Salt tests', async () => {
  await renders([
    [
      '{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 1 is number }} {{ "a" is string }}',
      'True True True False True True True True',
    ],
    [
      "{{ 1 is sameas 1 }} {{ 'a' is equalto 'a' }} {{ 2 is in [1, 2] }} {{ [1] is sequence }} {{ {} is mapping }} {{ 'abc' is match('a.c') }} {{ [1] is list }} {{ 2 is gt 1 }} {{ 'x' is not equalto 'y' }}",
      'True True True True True True True True True',
    ],
  ]);
});

test("Salt's filters", async () => {
  await renders([
    [
      "{{ {'b': 1, 'a': [1, 2.0], 'c': 'yes'} | yaml }}|{{ {'b': 1, 'a': {'x': [1]}} | yaml(False) }}|{{ {'b': 1, 'a': 2} | json }}",
      '{a: [1, 2.0], b: 1, c: \'yes\'}|a:\n  x:\n  - 1\nb: 1|{"a": 2, "b": 1}',
    ],
    [
      // PyYAML quotes what its resolvers would read as something else, and flow indicators.
      "{{ ['y', 'n', '1e3', '1.5e+3', '09', '0644', 'http://x', 'a?b', 'a\\tb', 'é', '2024-1-1', '2024-01-01', {'y': 'n', 'k:v': 1}] | yaml }}|{{ {'y': 'n', 'url': 'http://x', 'a': 'x: y'} | yaml(False) }}",
      `[y, n, 1e3, '1.5e+3', 09, '0644', 'http://x', 'a?b', "a\\tb", é, 2024-1-1, '2024-01-01', {'k:v': 1, y: n}]|a: 'x: y'\nurl: http://x\ny: n`,
    ],
    [
      // String literals are Python's: unknown escapes keep their backslash.
      "{{ 'a1b22' | regex_replace('\\d+', '#') }} {{ 'x.y'.split('\\.') }} {{ '\\x41\\u00e9\\101|\\q' }}",
      "a#b# ['x.y'] AéA|\\q",
    ],
    [
      "{{ 'a \"b\"' | yaml_encode }} {{ True | yaml_encode }} {{ 1 | yaml_encode }} {{ 'x\"y' | yaml_dquote }} {{ \"it's\" | yaml_squote }} {{ 'a b' | quote }} {{ 'ab' | quote }}",
      `"a \\"b\\"" true 1 "x\\"y" 'it''s' 'a b' ab`,
    ],
    [
      "{{ 'lets replace spaces' | regex_replace('\\\\s+', '__') }} {{ 'abcd' | regex_search('^(.*)BC(.*)$', ignorecase=True) }} {{ 'abcd' | regex_match('(b)') }} {{ 'a.b' | regex_escape }}",
      "lets__replace__spaces ('a', 'd') None a\\.b",
    ],
    [
      "{{ 'foo' | sequence | first }} {{ ['bar'] | sequence | first }} {{ 'yes' | to_bool }} {{ 'no' | to_bool }} {{ 0 | to_bool }} {{ ['a', 'a', 'b'] | unique }}",
      "foo bar True False False ['a', 'b']",
    ],
    [
      "{{ 'hello' | md5 }} {{ 'hello' | sha256 | truncate(12, true, '', 0) }} {{ 'hello' | base64_encode }} {{ 'aGVsbG8=' | base64_decode }} {{ 'hello' | sha512 | length }}",
      '5d41402abc4b2a76b9719d911017c592 2cf24dba5fb0 aGVsbG8= hello 128',
    ],
    [
      "{{ 1577836800 | strftime('%Y-%m-%d %H:%M') }} {{ '2002/12/25' | strftime('%y') }} {{ {'a': {'b': [10, 20]}} | traverse('a:b:1') }} {{ {'a': 1} | traverse('x', 'dflt') }}",
      '2020-01-01 00:00 02 20 dflt',
    ],
    [
      "{{ {'a': {'x': 1}, 'l': [1]} | dict_merge({'a': {'y': 2}, 'l': [2]}) }} {{ {'a': {'x': 1}} | update({'a': {'y': 2}}) }} {{ [1, 2] | is_list }} {{ '10.0.0.1' | is_ip }} {{ 'nope' | is_ip }} {{ ['10.0.0.1', 'x', '::1'] | ipaddr }} {{ ['10.0.0.1', '::1'] | ipv6 }}",
      "{'a': {'x': 1, 'y': 2}, 'l': [2]} {'a': {'x': 1, 'y': 2}} True True False ['10.0.0.1', '::1'] ['::1']",
    ],
    [
      "{{ '/etc' | path_join('salt', 'minion') }} {{ [1, 2] | union([2, 3]) }} {{ [1, 2, 3] | intersect([2, 3, 4]) }} {{ [1, 2, 3] | difference([2]) }} {{ 'example' | uuid }}",
      '/etc/salt/minion [1, 2, 3] [2, 3] [1, 3] 9ade8beb-355a-50d8-9011-1c99848a7719',
    ],
    [
      '{% load_yaml as cfg %}\nport: 80\nnames: [a, b]\n{% endload %}{{ cfg.port }} {{ cfg.names }} {{ "{a: 1}" | load_yaml }} {{ \'{"b": 2}\' | load_json }}',
      "80 ['a', 'b'] {'a': 1} {'b': 2}",
    ],
    [
      "{% import_yaml 'defaults.yaml' as d %}{{ d }} {% import_json 'defaults.json' as j %}{{ j.workers }} {% import_text 'motd.txt' as t %}{{ t | trim }}",
      "{'port': 80, 'users': ['a', 'b']} 4 Hello web-1",
    ],
  ]);
});

test('salt[...] in templates, grains.filter_by, pillar.get with colon paths and defaults, opts', async () => {
  await renders([
    ["{{ salt['test.echo']('hi') }} {{ salt.test.echo('dot') }} {{ salt['cmd.run']('uname') }}", 'hi dot ran: uname'],
    [
      "{{ salt['pillar.get']('apache:lookup:port') }} {{ salt['pillar.get']('apache:nope', 'dflt') }} {{ salt['pillar.get']('nope') }}| {{ salt['grains.get']('roles:0') }} {{ salt['grains.get']('missing', []) }}",
      '8080 dflt | web []',
    ],
    ["{{ pillar.get('apache:lookup') }} {{ pillar.get('apache').lookup.port }} {{ grains['os'] }}", 'None 8080 Debian'],
    [
      "{% from 'map.jinja' import apache with context %}{{ apache }}",
      "{'pkg': 'apache2', 'service': 'apache2', 'port': 8080}",
    ],
    [
      "{{ salt['grains.filter_by']({'RedHat': 'r'}, default='d') }} {{ salt['grains.filter_by']({'Deb*': 'glob'}) }} {{ salt['grains.filter_by']({'default': {'a': 1, 'b': 1}, 'Debian': {'b': 2}}, base='default') }}",
      "None glob {'a': 1, 'b': 2}",
    ],
    [
      "{{ opts['id'] }} {{ opts.file_roots.base[0] }} {{ opts['pillar_roots']['base'] | first }} {{ saltenv }} {{ salt['config.get']('id') }}",
      'web-1 /srv/salt /srv/pillar base web-1',
    ],
    ["{{ sls_exists('web') }} {{ salt['state.sls_exists']('db') }}", 'True False'],
    // Formulas merge their defaults with pillar in place (Salt's defaults and slsutil modules).
    [
      "{% set d = {'a': {'x': 1, 'l': [1]}, 'b': 1} %}{% do salt['defaults.merge'](d, {'a': {'y': 2, 'l': [2]}, 'c': None}) %}{{ d }}",
      "{'a': {'x': 1, 'l': [2], 'y': 2}, 'b': 1, 'c': None}",
    ],
    [
      "{% set d = {'a': {'x': 1, 'l': [1]}, 'b': 1} %}{{ salt['defaults.merge'](d, {'a': {'l': [1, 2]}}, merge_lists=True, in_place=False) }} {{ d }} {{ salt['defaults.merge'](None, {'k': 1}) }}",
      "{'a': {'x': 1, 'l': [1, 2]}, 'b': 1} {'a': {'x': 1, 'l': [1]}, 'b': 1} {'k': 1}",
    ],
    [
      "{% set nodes = {'h1': {'index': 'foo'}, 'h2': {'index': 'bar', 'extra': ['x']}} %}{% do salt['defaults.update'](nodes, {'enabled': True, 'extra': ['test']}) %}{{ nodes }}",
      "{'h1': {'enabled': True, 'extra': ['test'], 'index': 'foo'}, 'h2': {'enabled': True, 'extra': ['test', 'x'], 'index': 'bar'}}",
    ],
    [
      "{% set a = {'l': [1]} %}{% set c = salt['defaults.deepcopy'](a) %}{% do c.l.append(2) %}{{ a }} {{ c }}",
      "{'l': [1]} {'l': [1, 2]}",
    ],
    [
      "{% set a = {'x': {'y': 1}} %}{{ salt['slsutil.merge'](a, {'x': {'z': 2}}) }} {{ a }} {{ salt['slsutil.merge']({'k': 1}, {'k': 2}, strategy='list') }} {{ salt['slsutil.merge_all']([{'a': 1}, {'b': 2}, {'a': 3}]) }}{% do salt['slsutil.update'](a, {'x': {'w': 0}}) %} {{ a }}",
      "{'x': {'y': 1, 'z': 2}} {'x': {'y': 1}} {'k': [1, 2]} {'a': 3, 'b': 2} {'x': {'y': 1, 'w': 0}}",
    ],
    [
      "{{ salt['file.exists']('/nonexistent/x') }} {{ salt['file.basename']('/etc/nginx/nginx.conf') }} {{ salt['file.dirname']('/etc/nginx/nginx.conf') }} {{ salt['file.join']('/etc', 'nginx') }}",
      'False nginx.conf /etc/nginx /etc/nginx',
    ],
  ]);
});

test('an error names the file and line (also inside an imported map.jinja) and the undefined variable', async () => {
  await assert.rejects(render('a: 1\nb: {{ nope }}\n'), (err: Error) => {
    assert.match(
      err.message,
      /^Jinja error in salt:\/\/t.sls, line 2: Jinja variable 'nope' is undefined\n {4}2 \| b: \{\{ nope \}\}$/,
    );
    return true;
  });
  await assert.rejects(
    render('{{ pillar.users.carol.uid }}'),
    /line 1: Jinja variable 'dict object' has no attribute 'carol'/,
  );
  await assert.rejects(render("{% from 'macros.jinja' import broken %}\n\n{{ broken() }}"), (err: Error) => {
    assert.match(
      err.message,
      /^Jinja error in salt:\/\/macros.jinja, line 6: Jinja variable 'undefined_in_macro' is undefined/,
    );
    return true;
  });
  await assert.rejects(render("x: 1\n{% from 'broken-map.jinja' import ok %}"), (err: Error) => {
    assert.match(
      err.message,
      /^Jinja error in salt:\/\/broken-map.jinja, line 2: Jinja variable 'dict object' has no attribute 'no_such_grain'/,
    );
    return true;
  });
  // After an import or an include, an error further down is the importing file's, at its own line.
  for (const head of [
    "{% from 'map.jinja' import apache with context %}",
    "{% import 'macros.jinja' as m %}{{ m.user('a') }}",
    "{% from 'macros.jinja' import user %}{{ user('a') }}",
    "{% include 'motd.txt' %}",
    "{% import_yaml 'defaults.yaml' as defaults %}",
  ]) {
    await assert.rejects(render(`${head}\nok: 1\nbad: {{ after_import }}\n`), (err: Error) => {
      assert.match(
        err.message,
        /^Jinja error in salt:\/\/t.sls, line 3: Jinja variable 'after_import' is undefined\n {4}3 \| bad: \{\{ after_import \}\}$/,
        head,
      );
      return true;
    });
  }
  // A macro defined after an import is still the importing file's.
  await assert.rejects(
    render("{% import 'macros.jinja' as m %}\n{% macro local() %}\n{{ in_local }}\n{% endmacro %}\n{{ local() }}"),
    /: Jinja error in salt:\/\/t.sls, line 3: Jinja variable 'in_local' is undefined/,
  );
  await assert.rejects(render("x\n{{ 'a' + 1 }}"), /line 2: TypeError: can only concatenate str \(not "int"\) to str/);
  await assert.rejects(render('{% if pillar.missing %}x{% endif %}'), /'dict object' has no attribute 'missing'/);
  await assert.rejects(render('{{ [1] | nosuchfilter }}'), /No filter named 'nosuchfilter'/);
  await assert.rejects(render('{% for x in %}{% endfor %}'), /line 1/);
  await assert.rejects(render("{{ raise('custom failure') }}"), /custom failure/);
});

test('templates cannot reach JavaScript: constructors, prototypes and functions are not attributes', async () => {
  const escapes = [
    '{{ range.constructor("return process")() }}',
    '{{ cycler.constructor("return process")() }}',
    '{{ joiner.constructor.constructor("return process")() }}',
    '{{ "".constructor.constructor("return process")() }}',
    '{{ "".split.constructor("return process")() }}',
    '{{ grains["constructor"]["constructor"]("return process")() }}',
    '{{ constructor.getOwnPropertyNames(grains) }}',
    '{% set p = grains.__proto__ %}{{ p }}',
    '{{ range.__lookupGetter__("__proto__") }}',
    '{{ [].map.prototype }}',
    '{{ {}.toString() }}',
    '{{ salt.constructor.constructor("return process")() }}',
    "{{ salt['constructor']['constructor']('return process')() }}",
    '{{ loop }}',
    '{% include "../../etc/passwd" %}',
  ];
  for (const source of escapes) {
    await assert.rejects(
      render(source),
      (err: Error) => err.name === 'TemplateRenderError' && !/\[object process\]/.test(err.message),
      source,
    );
  }
  assert.equal(
    await render("{{ {'__proto__': 1, 'constructor': 2} }}"),
    "{'__proto__': 1, 'constructor': 2}",
    'data keys are only data',
  );
  assert.equal(await render('{{ grains.id }}'), 'web-1', 'the renderer still works after every refused escape');
});

test("Salt's defaults: trim_blocks and lstrip_blocks off, so block lines stay; on when the minion config says", async () => {
  const source = '{% if true %}\n  x: 1\n  {% endif %}\ny: 2\n';
  assert.equal(await render(source), '\n  x: 1\n  \ny: 2\n');
  const trimmed = new TemplateRenderer({ timeoutMs: 20_000, trimBlocks: true, lstripBlocks: true });
  try {
    assert.equal(await trimmed.render({ source, path: 'salt://t.sls', context, services }), '  x: 1\ny: 2\n');
  } finally {
    await trimmed.close();
  }
});

test('every truncation of a template is a clear render error, never a crash of the parser', async () => {
  const source =
    "{% set d = {'a': [1, (2, 3)], 'b': x|default('y') ~ 'z'} %}{% for k, v in d.items() if k is string %}{{ k }}={{ v[0] if v is sequence else v }}{% endfor %}{% do d.update(c=1) %}";
  for (let i = 1; i < source.length; i++) {
    const cut = source.slice(0, i);
    await render(cut).then(
      () => undefined,
      (err: Error) => {
        assert.equal(err.name, 'TemplateRenderError', cut);
        assert.doesNotMatch(err.message, /Cannot read|is not a function|of null|of undefined/, cut);
      },
    );
  }
});
