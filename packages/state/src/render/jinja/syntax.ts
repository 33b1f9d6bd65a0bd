import nunjucks from 'nunjucks';
import { PyFloat } from './python.js';

/**
 * Jinja2's grammar and evaluation on nunjucks' parser and compiler. nunjucks is close to Jinja2 in
 * its statements (macros, call, import, include, extends, blocks, raw) but not in its expressions,
 * which it compiles to JavaScript operators: `{}` is true, `'%s' % x` is a number, `a * b % c`
 * groups wrongly, `x is divisibleby 3` does not parse, `for x in dict` walks nothing. So the
 * expression parser is replaced with Jinja2's (its precedence, tuples, trailing commas, dict keys
 * that are expressions, slices with steps, tests with one bare argument, `not in`, chained
 * comparisons, `True`/`None` literals) and every operator, lookup, truth test, loop and
 * assignment compiles to a call into the Python runtime (`runtime.py`, python.ts). Added
 * statements: `do`, `break`, `continue`, `with`, Salt's `import_yaml|json|text` and
 * `load_yaml|json|text`; `set` and `for` follow Jinja2 (unpacking, `ns.attr`, loop filters, the
 * full `loop` object, no leaking out of a loop).
 *
 * This patches nunjucks' module-wide classes, so only the render worker installs it.
 */

interface Token {
  type: string;
  value: string;
  lineno: number;
  colno: number;
}

interface AstNode {
  lineno: number;
  colno: number;
  typename: string;
  [field: string]: unknown;
}

type NodeClass = new (lineno: number, colno: number, ...fields: unknown[]) => AstNode;

interface ParserThis {
  tokens: { tags: Record<string, string> };
  peeked: Token | null;
  breakOnBlocks: string[] | null;
  dropLeadingWhitespace: boolean;
  peekToken(): Token;
  nextToken(withWhitespace?: boolean): Token | null;
  pushToken(tok: Token | null): void;
  skip(type: string): boolean;
  skipValue(type: string, value: string): boolean;
  skipSymbol(name: string): boolean;
  expect(type: string): Token;
  fail(message: string, lineno?: number, colno?: number): never;
  advanceAfterBlockEnd(name?: string): Token;
  parseUntilBlocks(...names: string[]): AstNode;
  parseSignature(tolerant?: boolean, noParens?: boolean): AstNode;
  parseFilterName(): AstNode;
  parseExpression(): AstNode;
  parseInlineIf(): AstNode;
  parseOr(): AstNode;
  parseAnd(): AstNode;
  parseNot(): AstNode;
  parseCompare(): AstNode;
  parsePrimary(noPostfix?: boolean): AstNode;
  parsePostfix(node: AstNode): AstNode;
  parseStatement(): AstNode | null;
  [method: string]: unknown;
}

interface Frame {
  lookup(name: string): string | undefined;
  set(name: string, value: string): void;
  push(isolate?: boolean): Frame;
  parent?: Frame;
}

interface CompilerThis {
  _emit(code: string): void;
  _emitLine(code: string): void;
  _tmpid(): string;
  _templateName(): string;
  _withScopedSyntax(fn: () => void): void;
  compile(node: unknown, frame: Frame): void;
  fail(message: string, lineno?: number, colno?: number): never;
  [method: string]: unknown;
}

interface NunjucksInternals {
  parser: { Parser: { prototype: Record<string, unknown> } };
  compiler: { Compiler: { prototype: Record<string, unknown> } };
  nodes: Record<string, NodeClass & { extend(name: string, props?: object): NodeClass }>;
  lexer: Record<string, string>;
}

const internals = nunjucks as unknown as NunjucksInternals;
const TemplateError = (
  nunjucks as unknown as { lib: { TemplateError: new (message: string, lineno: number, colno: number) => Error } }
).lib.TemplateError;
const { nodes, lexer } = internals;
const T = {
  LPAREN: lexer.TOKEN_LEFT_PAREN as string,
  RPAREN: lexer.TOKEN_RIGHT_PAREN as string,
  LBRACKET: lexer.TOKEN_LEFT_BRACKET as string,
  RBRACKET: lexer.TOKEN_RIGHT_BRACKET as string,
  LCURLY: lexer.TOKEN_LEFT_CURLY as string,
  RCURLY: lexer.TOKEN_RIGHT_CURLY as string,
  COMMA: lexer.TOKEN_COMMA as string,
  COLON: lexer.TOKEN_COLON as string,
  TILDE: lexer.TOKEN_TILDE as string,
  PIPE: lexer.TOKEN_PIPE as string,
  OPERATOR: lexer.TOKEN_OPERATOR as string,
  STRING: lexer.TOKEN_STRING as string,
  INT: lexer.TOKEN_INT as string,
  FLOAT: lexer.TOKEN_FLOAT as string,
  BOOLEAN: lexer.TOKEN_BOOLEAN as string,
  NONE: lexer.TOKEN_NONE as string,
  SYMBOL: lexer.TOKEN_SYMBOL as string,
  BLOCK_END: lexer.TOKEN_BLOCK_END as string,
  REGEX: lexer.TOKEN_REGEX as string,
};

function defineNode(name: string, fields: string[], base = 'Node'): NodeClass {
  const existing = nodes[name];
  if (existing) return existing;
  const cls = (nodes[base] as NodeClass & { extend(name: string, props?: object): NodeClass }).extend(
    name,
    base === 'NodeList' ? {} : { fields },
  );
  // nunjucks' transformer rebuilds nodes by their type name.
  (nodes as Record<string, unknown>)[name] = cls;
  return cls;
}

const N = {
  Literal: nodes.Literal as NodeClass,
  Symbol: nodes.Symbol as NodeClass,
  Group: nodes.Group as NodeClass,
  Array: nodes.Array as NodeClass,
  Pair: nodes.Pair as NodeClass,
  NodeList: nodes.NodeList as NodeClass,
  KeywordArgs: nodes.KeywordArgs as NodeClass,
  FunCall: nodes.FunCall as NodeClass,
  Filter: nodes.Filter as NodeClass,
  LookupVal: nodes.LookupVal as NodeClass,
  InlineIf: nodes.InlineIf as NodeClass,
  Or: nodes.Or as NodeClass,
  And: nodes.And as NodeClass,
  Not: nodes.Not as NodeClass,
  Add: nodes.Add as NodeClass,
  Sub: nodes.Sub as NodeClass,
  Mul: nodes.Mul as NodeClass,
  Div: nodes.Div as NodeClass,
  FloorDiv: nodes.FloorDiv as NodeClass,
  Mod: nodes.Mod as NodeClass,
  Pow: nodes.Pow as NodeClass,
  Neg: nodes.Neg as NodeClass,
  Pos: nodes.Pos as NodeClass,
  Concat: nodes.Concat as NodeClass,
  Compare: nodes.Compare as NodeClass,
  CompareOperand: nodes.CompareOperand as NodeClass,
  Capture: nodes.Capture as NodeClass,
  Output: nodes.Output as NodeClass,
  TemplateData: nodes.TemplateData as NodeClass,
  Tuple: defineNode('PyTuple', [], 'NodeList'),
  Dict: defineNode('PyDict', [], 'NodeList'),
  Attr: defineNode('PyAttr', ['target', 'attr']),
  Slice: defineNode('PySlice', ['target', 'start', 'stop', 'step']),
  Test: defineNode('PyTest', ['target', 'test', 'args']),
  For: defineNode('PyFor', ['arr', 'targets', 'body', 'else_', 'cond']),
  Set: defineNode('PySet', ['targets', 'value']),
  Do: defineNode('PyDo', ['expr']),
  Break: defineNode('PyBreak', []),
  Continue: defineNode('PyContinue', []),
  With: defineNode('PyWith', ['targets', 'values', 'body']),
  ImportData: defineNode('PyImportData', ['kind', 'template', 'withContext']),
  LoadData: defineNode('PyLoadData', ['kind', 'body']),
};

const COMPARE_OPS = new Set(['==', '!=', '<', '>', '<=', '>=', '===', '!==']);
const MATH2_OPS: Record<string, NodeClass> = { '*': N.Mul, '/': N.Div, '//': N.FloorDiv, '%': N.Mod };
/** Words that end an expression rather than start a test's bare argument. */
const NOT_AN_ARGUMENT = new Set(['else', 'or', 'and', 'if', 'is', 'in', 'not', 'recursive']);

let installed = false;

export function installJinjaSyntax(): void {
  if (installed) return;
  installed = true;
  installLexer();
  installParser(internals.parser.Parser.prototype);
  installCompiler(internals.compiler.Compiler.prototype);
}

// ---------------------------------------------------------------- lexer

interface TokenizerThis {
  in_code: boolean;
  str: string;
  index: number;
  lineno: number;
  colno: number;
  pyDepth?: number;
  trimBlocks: boolean;
  forward(): void;
  current(): string;
}

/**
 * Jinja2 balances brackets inside a tag: `{% set d = {'a': {'b': 1}} %}` ends at `%}`, not at the
 * `}}` that closes the dicts. nunjucks' lexer takes that `}}` for the end of a variable tag.
 */
function installLexer(): void {
  const lex = (nunjucks as unknown as { lexer: { lex(src: string): object } }).lexer.lex;
  const proto = Object.getPrototypeOf(lex('')) as { nextToken(this: TokenizerThis): Token | null };
  const original = proto.nextToken;
  proto.nextToken = function (this: TokenizerThis): Token | null {
    const depth = this.pyDepth ?? 0;
    if (this.in_code && depth > 0) {
      const rest = this.str.slice(this.index, this.index + 3);
      if (rest.startsWith('}') || rest.startsWith('-}}')) {
        const tok: Token = rest.startsWith('}')
          ? { type: T.RCURLY, value: '}', lineno: this.lineno, colno: this.colno }
          : { type: T.OPERATOR, value: '-', lineno: this.lineno, colno: this.colno };
        this.forward();
        if (tok.type === T.RCURLY) this.pyDepth = depth - 1;
        return tok;
      }
    }
    const tok = original.call(this);
    if (tok) {
      if (tok.type === T.LPAREN || tok.type === T.LBRACKET || tok.type === T.LCURLY) this.pyDepth = depth + 1;
      else if (tok.type === T.RPAREN || tok.type === T.RBRACKET || tok.type === T.RCURLY)
        this.pyDepth = Math.max(0, depth - 1);
      else if (tok.type === T.BLOCK_END || tok.type === lexer.TOKEN_VARIABLE_END) this.pyDepth = 0;
      // Jinja2's trim_blocks removes the newline after a comment too.
      else if (tok.type === lexer.TOKEN_COMMENT && this.trimBlocks && this.current() === '\n') this.forward();
    }
    return tok;
  };
  (proto as unknown as { _parseString(this: TokenizerThis, delimiter: string): string })._parseString = function (
    this: TokenizerThis,
    delimiter: string,
  ): string {
    // Jinja2 reads a string literal as Python does (the unicode-escape codec): `'\d+'` keeps its
    // backslash, `'\x41'`, `'\u00e9'` and `'\101'` are characters.
    const start = this.index + 1;
    let end = start;
    while (end < this.str.length && this.str[end] !== delimiter) end += this.str[end] === '\\' ? 2 : 1;
    const body = this.str.slice(start, Math.min(end, this.str.length));
    const [lineno, colno] = [this.lineno + 1, this.colno + 1];
    while (this.index < Math.min(end + 1, this.str.length)) this.forward();
    const text = pythonUnescape(body);
    if (text === undefined)
      throw new TemplateError('a truncated \\x, \\u or \\U escape in a string literal', lineno, colno);
    return text;
  };
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\n': '',
};

/**
 * Python's escapes in a string literal; an escape Python does not know keeps its backslash.
 * Undefined for a truncated `\x`, `\u` or `\U` (a syntax error in Python).
 */
function pythonUnescape(body: string): string | undefined {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body.charAt(i);
    if (c !== '\\' || i + 1 >= body.length) {
      out += c;
      continue;
    }
    const next = body.charAt(i + 1);
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      out += simple;
      i += 1;
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(body.slice(i + 1));
    const hex =
      next === 'x'
        ? /^[0-9a-fA-F]{2}/.exec(body.slice(i + 2))
        : next === 'u'
          ? /^[0-9a-fA-F]{4}/.exec(body.slice(i + 2))
          : next === 'U'
            ? /^[0-9a-fA-F]{8}/.exec(body.slice(i + 2))
            : null;
    if (octal) {
      out += String.fromCodePoint(parseInt(octal[0], 8));
      i += octal[0].length;
    } else if (hex && parseInt(hex[0], 16) <= 0x10ffff) {
      out += String.fromCodePoint(parseInt(hex[0], 16));
      i += 1 + hex[0].length;
    } else if (next === 'x' || next === 'u' || next === 'U') return undefined;
    else out += c;
  }
  return out;
}

// ---------------------------------------------------------------- parser

function installParser(proto: Record<string, unknown>): void {
  const originalStatement = proto.parseStatement as (this: ParserThis) => AstNode | null;
  const originalPeek = proto.peekToken as (this: ParserThis) => Token | null;
  // The end of the template as a token rather than null: a truncated expression is a syntax
  // error naming the line, not a TypeError from reading `.type` of nothing.
  proto.expect = function (this: ParserThis, type: string): Token {
    const tok = this.nextToken();
    if (!tok) this.fail(`expected ${type}, got the end of the template`);
    if (tok.type !== type) this.fail(`expected ${type}, got ${tok.value}`, tok.lineno, tok.colno);
    return tok;
  };
  proto.peekToken = function (this: ParserThis): Token {
    return originalPeek.call(this) ?? { type: 'end of template', value: '', lineno: 0, colno: 0 };
  };

  const p: Record<string, (this: ParserThis, ...args: never[]) => unknown> = {
    parseInlineIf(this: ParserThis): AstNode {
      const body = this.parseOr();
      if (!isSymbol(this.peekToken(), 'if')) return body;
      this.nextToken();
      const cond = this.parseOr();
      const otherwise = this.skipSymbol('else') ? this.parseInlineIf() : null;
      return new N.InlineIf(body.lineno, body.colno, cond, body, otherwise);
    },

    parseOr(this: ParserThis): AstNode {
      let node = this.parseAnd();
      while (this.skipSymbol('or')) node = new N.Or(node.lineno, node.colno, node, this.parseAnd());
      return node;
    },

    parseAnd(this: ParserThis): AstNode {
      let node = this.parseNot();
      while (this.skipSymbol('and')) node = new N.And(node.lineno, node.colno, node, this.parseNot());
      return node;
    },

    parseNot(this: ParserThis): AstNode {
      const tok = this.peekToken();
      if (isSymbol(tok, 'not')) {
        this.nextToken();
        return new N.Not(tok.lineno, tok.colno, this.parseNot());
      }
      return this.parseCompare();
    },

    parseIn(this: ParserThis): AstNode {
      return this.parseCompare();
    },

    parseCompare(this: ParserThis): AstNode {
      const expr = (this.pyMath1 as () => AstNode).call(this);
      const ops: AstNode[] = [];
      for (;;) {
        const tok = this.nextToken();
        if (!tok) break;
        if (tok.type === T.OPERATOR && COMPARE_OPS.has(tok.value)) {
          ops.push(new N.CompareOperand(tok.lineno, tok.colno, (this.pyMath1 as () => AstNode).call(this), tok.value));
        } else if (isSymbol(tok, 'in')) {
          ops.push(new N.CompareOperand(tok.lineno, tok.colno, (this.pyMath1 as () => AstNode).call(this), 'in'));
        } else if (isSymbol(tok, 'not')) {
          // After an expression, `not` can only start `not in`.
          if (!this.skipSymbol('in')) this.fail("expected 'in' after 'not'", tok.lineno, tok.colno);
          ops.push(new N.CompareOperand(tok.lineno, tok.colno, (this.pyMath1 as () => AstNode).call(this), 'notin'));
        } else {
          this.pushToken(tok);
          break;
        }
      }
      return ops.length === 0 ? expr : new N.Compare(expr.lineno, expr.colno, expr, ops);
    },

    pyMath1(this: ParserThis): AstNode {
      let node = (this.parseConcat as () => AstNode).call(this);
      for (;;) {
        if (this.skipValue(T.OPERATOR, '+'))
          node = new N.Add(node.lineno, node.colno, node, (this.parseConcat as () => AstNode).call(this));
        else if (this.skipValue(T.OPERATOR, '-'))
          node = new N.Sub(node.lineno, node.colno, node, (this.parseConcat as () => AstNode).call(this));
        else return node;
      }
    },

    parseConcat(this: ParserThis): AstNode {
      let node = (this.pyMath2 as () => AstNode).call(this);
      while (this.skip(T.TILDE))
        node = new N.Concat(node.lineno, node.colno, node, (this.pyMath2 as () => AstNode).call(this));
      return node;
    },

    pyMath2(this: ParserThis): AstNode {
      let node = (this.parsePow as () => AstNode).call(this);
      for (;;) {
        const tok = this.peekToken();
        const cls = tok.type === T.OPERATOR ? MATH2_OPS[tok.value] : undefined;
        if (!cls) return node;
        this.nextToken();
        node = new cls(node.lineno, node.colno, node, (this.parsePow as () => AstNode).call(this));
      }
    },

    parsePow(this: ParserThis): AstNode {
      let node = (this.parseUnary as () => AstNode).call(this);
      while (this.skipValue(T.OPERATOR, '**')) {
        node = new N.Pow(node.lineno, node.colno, node, (this.parseUnary as () => AstNode).call(this));
      }
      return node;
    },

    parseUnary(this: ParserThis, noFilters?: boolean): AstNode {
      const tok = this.peekToken();
      let node: AstNode;
      if (this.skipValue(T.OPERATOR, '-')) {
        node = new N.Neg(tok.lineno, tok.colno, (this.parseUnary as (nf: boolean) => AstNode).call(this, true));
      } else if (this.skipValue(T.OPERATOR, '+')) {
        node = new N.Pos(tok.lineno, tok.colno, (this.parseUnary as (nf: boolean) => AstNode).call(this, true));
      } else node = this.parsePrimary();
      return noFilters === true ? node : (this.pyFilterExpr as (n: AstNode) => AstNode).call(this, node);
    },

    /** Filters, tests and calls after a unary expression, as Jinja2's parse_filter_expr. */
    pyFilterExpr(this: ParserThis, start: AstNode): AstNode {
      let node = start;
      for (;;) {
        const tok = this.peekToken();
        if (tok.type === T.PIPE) {
          this.nextToken();
          const name = this.parseFilterName();
          const args =
            this.peekToken().type === T.LPAREN
              ? ((this.pyCallArgs as () => AstNode).call(this).children as AstNode[])
              : [];
          node = new N.Filter(name.lineno, name.colno, name, new N.NodeList(name.lineno, name.colno, [node, ...args]));
        } else if (isSymbol(tok, 'is')) {
          this.nextToken();
          const negated = this.skipSymbol('not');
          const nameTok = this.peekToken();
          this.nextToken();
          let test: string;
          if (nameTok.type === T.SYMBOL) test = nameTok.value;
          else if (nameTok.type === T.NONE) test = 'none';
          else if (nameTok.type === T.BOOLEAN) test = nameTok.value;
          else this.fail(`expected a test name after 'is', got ${nameTok.value}`, nameTok.lineno, nameTok.colno);
          while (this.skipValue(T.OPERATOR, '.')) test += `.${this.expect(T.SYMBOL).value}`;
          let args: AstNode[] = [];
          const next = this.peekToken();
          if (next.type === T.LPAREN) args = (this.pyCallArgs as () => AstNode).call(this).children as AstNode[];
          else if (startsArgument(next)) args = [this.parsePrimary()];
          node = new N.Test(
            nameTok.lineno,
            nameTok.colno,
            node,
            test,
            new N.NodeList(nameTok.lineno, nameTok.colno, args),
          );
          if (negated) node = new N.Not(node.lineno, node.colno, node);
        } else if (tok.type === T.LPAREN && node.typename === 'Filter') {
          node = new N.FunCall(tok.lineno, tok.colno, node, (this.pyCallArgs as () => AstNode).call(this));
        } else return node;
      }
    },

    parsePrimary(this: ParserThis, noPostfix?: boolean): AstNode {
      const tok = this.nextToken();
      if (!tok) this.fail('expected an expression, got the end of the template');
      let node: AstNode;
      if (tok.type === T.STRING) {
        let value = tok.value;
        // Adjacent string literals join, as in Python.
        while (this.peekToken().type === T.STRING) value += (this.nextToken() as Token).value;
        node = new N.Literal(tok.lineno, tok.colno, value);
      } else if (tok.type === T.INT) node = new N.Literal(tok.lineno, tok.colno, parseInt(tok.value, 10));
      else if (tok.type === T.FLOAT) {
        const value = parseFloat(tok.value);
        node = new N.Literal(tok.lineno, tok.colno, Number.isInteger(value) ? new PyFloat(value) : value);
      } else if (tok.type === T.BOOLEAN) node = new N.Literal(tok.lineno, tok.colno, tok.value === 'true');
      else if (tok.type === T.NONE) node = new N.Literal(tok.lineno, tok.colno, null);
      else if (tok.type === T.SYMBOL) {
        if (tok.value === 'True' || tok.value === 'False')
          node = new N.Literal(tok.lineno, tok.colno, tok.value === 'True');
        else if (tok.value === 'None') node = new N.Literal(tok.lineno, tok.colno, null);
        else node = new N.Symbol(tok.lineno, tok.colno, tok.value);
      } else if (tok.type === T.LPAREN) node = (this.pyParenthesized as (t: Token) => AstNode).call(this, tok);
      else if (tok.type === T.LBRACKET) {
        const items = (this.pyItems as (end: string) => AstNode[]).call(this, T.RBRACKET);
        node = new N.Array(tok.lineno, tok.colno, items);
      } else if (tok.type === T.LCURLY) node = (this.pyDict as (t: Token) => AstNode).call(this, tok);
      else this.fail(`unexpected '${tok.value}'`, tok.lineno, tok.colno);
      return noPostfix === true ? node : this.parsePostfix(node);
    },

    /** `( ... )`: a group, or a tuple when there is a comma (`()`, `(a,)`, `(a, b)`). */
    pyParenthesized(this: ParserThis, open: Token): AstNode {
      if (this.skip(T.RPAREN)) return new N.Tuple(open.lineno, open.colno, []);
      const first = this.parseExpression();
      if (this.skip(T.RPAREN)) return new N.Group(open.lineno, open.colno, [first]);
      if (!this.skip(T.COMMA)) this.fail("expected ',' or ')'", open.lineno, open.colno);
      const rest = (this.pyItems as (end: string) => AstNode[]).call(this, T.RPAREN);
      return new N.Tuple(open.lineno, open.colno, [first, ...rest]);
    },

    /** Comma-separated expressions up to `end`, a trailing comma allowed. */
    pyItems(this: ParserThis, end: string): AstNode[] {
      const items: AstNode[] = [];
      for (;;) {
        if (this.skip(end)) return items;
        if (items.length > 0 && !this.skip(T.COMMA)) {
          const tok = this.peekToken();
          this.fail(`expected ',' in a list or tuple, got '${tok.value}'`, tok.lineno, tok.colno);
        }
        if (this.skip(end)) return items;
        items.push(this.parseExpression());
      }
    },

    pyDict(this: ParserThis, open: Token): AstNode {
      const pairs: AstNode[] = [];
      for (;;) {
        if (this.skip(T.RCURLY)) break;
        if (pairs.length > 0 && !this.skip(T.COMMA)) {
          const tok = this.peekToken();
          this.fail(`expected ',' in a dict, got '${tok.value}'`, tok.lineno, tok.colno);
        }
        if (this.skip(T.RCURLY)) break;
        const key = this.parseExpression();
        if (!this.skip(T.COLON)) this.fail("expected ':' after a dict key", key.lineno, key.colno);
        pairs.push(new N.Pair(key.lineno, key.colno, key, this.parseExpression()));
      }
      return new N.Dict(open.lineno, open.colno, pairs);
    },

    /** `(a, b, key=c)` of a call: positional and keyword arguments, a trailing comma allowed. */
    pyCallArgs(this: ParserThis): AstNode {
      const open = this.expect(T.LPAREN);
      const args = new N.NodeList(open.lineno, open.colno, []);
      const kwargs = new N.KeywordArgs(open.lineno, open.colno, []);
      let first = true;
      for (;;) {
        if (this.skip(T.RPAREN)) break;
        if (!first && !this.skip(T.COMMA)) {
          const tok = this.peekToken();
          this.fail(`expected ',' between arguments, got '${tok.value}'`, tok.lineno, tok.colno);
        }
        first = false;
        if (this.skip(T.RPAREN)) break;
        const tok = this.peekToken();
        const arg = this.parseExpression();
        if (arg.typename === 'Symbol' && this.skipValue(T.OPERATOR, '=')) {
          (kwargs.children as AstNode[]).push(new N.Pair(tok.lineno, tok.colno, arg, this.parseExpression()));
          continue;
        }
        if ((kwargs.children as AstNode[]).length > 0) {
          this.fail('positional argument follows keyword argument', tok.lineno, tok.colno);
        }
        (args.children as AstNode[]).push(arg);
      }
      if ((kwargs.children as AstNode[]).length > 0) (args.children as AstNode[]).push(kwargs);
      return args;
    },

    parsePostfix(this: ParserThis, start: AstNode): AstNode {
      let node = start;
      for (;;) {
        const tok = this.peekToken();
        if (!tok) return node;
        if (tok.type === T.LPAREN) {
          node = new N.FunCall(tok.lineno, tok.colno, node, (this.pyCallArgs as () => AstNode).call(this));
        } else if (tok.type === T.LBRACKET) {
          this.nextToken();
          node = (this.pySubscript as (target: AstNode, t: Token) => AstNode).call(this, node, tok);
        } else if (tok.type === T.OPERATOR && tok.value === '.') {
          this.nextToken();
          const name = this.peekToken();
          this.nextToken();
          if (name.type === T.SYMBOL) node = new N.Attr(tok.lineno, tok.colno, node, name.value);
          else if (name.type === T.INT) {
            node = new N.LookupVal(
              tok.lineno,
              tok.colno,
              node,
              new N.Literal(name.lineno, name.colno, Number(name.value)),
            );
          } else if (name.type === T.NONE || name.type === T.BOOLEAN) {
            node = new N.Attr(tok.lineno, tok.colno, node, name.value);
          } else this.fail(`expected an attribute name after '.', got '${name.value}'`, name.lineno, name.colno);
        } else return node;
      }
    },

    /** `x[i]`, `x['key']`, `x[a:b]`, `x[a:b:c]`, `x[::-1]`. */
    pySubscript(this: ParserThis, target: AstNode, open: Token): AstNode {
      const part = (): AstNode | null => {
        const t = this.peekToken();
        return t.type === T.COLON || t.type === T.RBRACKET ? null : this.parseExpression();
      };
      const start = part();
      if (this.skip(T.RBRACKET)) {
        if (start === null) this.fail('expected an index', open.lineno, open.colno);
        return new N.LookupVal(open.lineno, open.colno, target, start);
      }
      if (start !== null && this.peekToken().type === T.COMMA) {
        this.nextToken();
        const rest = (this.pyItems as (end: string) => AstNode[]).call(this, T.RBRACKET);
        return new N.LookupVal(open.lineno, open.colno, target, new N.Tuple(open.lineno, open.colno, [start, ...rest]));
      }
      if (!this.skip(T.COLON)) this.fail("expected ':' or ']'", open.lineno, open.colno);
      const stop = part();
      let step: AstNode | null = null;
      if (this.skip(T.COLON)) step = part();
      if (!this.skip(T.RBRACKET)) this.fail("expected ']' after a slice", open.lineno, open.colno);
      return new N.Slice(open.lineno, open.colno, target, start, stop, step);
    },

    /** Jinja2's parse_tuple: `a, b` without parentheses is a tuple (in set and for). */
    pyTupleExpr(this: ParserThis, noCondExpr?: boolean): AstNode {
      const parse = () => (noCondExpr === true ? this.parseOr() : this.parseExpression());
      const first = parse();
      if (this.peekToken().type !== T.COMMA) return first;
      const items = [first];
      while (this.skip(T.COMMA)) {
        const t = this.peekToken();
        if (t.type === T.BLOCK_END || isSymbol(t, 'if') || isSymbol(t, 'recursive')) break;
        items.push(parse());
      }
      return new N.Tuple(first.lineno, first.colno, items);
    },

    /** Names to assign: `x`, `a, b`, `(a, b)`, `ns.attr`. */
    pyTargets(this: ParserThis, allowAttr: boolean): AstNode[] {
      const targets: AstNode[] = [];
      const parens = this.skip(T.LPAREN);
      for (;;) {
        const tok = this.expect(T.SYMBOL);
        let target: AstNode = new N.Symbol(tok.lineno, tok.colno, tok.value);
        if (allowAttr && this.peekToken().type === T.OPERATOR && this.peekToken().value === '.') {
          this.nextToken();
          const attr = this.expect(T.SYMBOL);
          target = new N.Attr(tok.lineno, tok.colno, target, attr.value);
        }
        targets.push(target);
        if (!this.skip(T.COMMA)) break;
        const t = this.peekToken();
        if (t.type !== T.SYMBOL || isSymbol(t, 'in')) break;
      }
      if (parens && !this.skip(T.RPAREN)) this.fail("expected ')'");
      return targets;
    },

    parseStatement(this: ParserThis): AstNode | null {
      const tok = this.peekToken();
      if (tok.type !== T.SYMBOL) return originalStatement.call(this);
      if (this.breakOnBlocks && this.breakOnBlocks.includes(tok.value)) return null;
      const handler = STATEMENTS[tok.value];
      return handler ? handler.call(this, tok) : originalStatement.call(this);
    },
  };
  Object.assign(proto, p);
}

function isSymbol(tok: Token | null | undefined, name: string): boolean {
  return tok !== null && tok !== undefined && tok.type === T.SYMBOL && tok.value === name;
}

function startsArgument(tok: Token): boolean {
  if (tok.type === T.SYMBOL) return !NOT_AN_ARGUMENT.has(tok.value);
  return [T.STRING, T.INT, T.FLOAT, T.BOOLEAN, T.NONE, T.LBRACKET, T.LCURLY].includes(tok.type);
}

const STATEMENTS: Record<string, (this: ParserThis, tok: Token) => AstNode> = {
  set(tok) {
    this.nextToken();
    const targets = (this.pyTargets as (a: boolean) => AstNode[]).call(this, true);
    if (this.skipValue(T.OPERATOR, '=')) {
      const value = (this.pyTupleExpr as () => AstNode).call(this);
      this.advanceAfterBlockEnd('set');
      return new N.Set(tok.lineno, tok.colno, targets, value);
    }
    // `{% set x %}...{% endset %}`, optionally through filters: `{% set x | upper %}`.
    let filters: AstNode | undefined;
    if (this.peekToken().type === T.PIPE) {
      filters = (this.pyFilterExpr as (n: AstNode) => AstNode).call(this, new N.Literal(tok.lineno, tok.colno, ''));
    }
    this.advanceAfterBlockEnd('set');
    const body = new N.Capture(tok.lineno, tok.colno, this.parseUntilBlocks('endset'));
    this.advanceAfterBlockEnd();
    return new N.Set(tok.lineno, tok.colno, targets, filters ? replaceFilterInput(filters, body) : body);
  },

  for(tok) {
    this.nextToken();
    const targets = (this.pyTargets as (a: boolean) => AstNode[]).call(this, false);
    if (!this.skipSymbol('in')) this.fail("expected 'in' in a for loop", tok.lineno, tok.colno);
    const arr = (this.pyTupleExpr as (n: boolean) => AstNode).call(this, true);
    const cond = this.skipSymbol('if') ? this.parseExpression() : null;
    if (this.skipSymbol('recursive')) this.fail('recursive loops are not supported', tok.lineno, tok.colno);
    this.advanceAfterBlockEnd('for');
    const body = this.parseUntilBlocks('endfor', 'else');
    let otherwise: AstNode | null = null;
    if (this.skipSymbol('else')) {
      this.advanceAfterBlockEnd('else');
      otherwise = this.parseUntilBlocks('endfor');
    }
    this.advanceAfterBlockEnd();
    return new N.For(tok.lineno, tok.colno, arr, targets, body, otherwise, cond);
  },

  do(tok) {
    this.nextToken();
    const expr = (this.pyTupleExpr as () => AstNode).call(this);
    this.advanceAfterBlockEnd('do');
    return new N.Do(tok.lineno, tok.colno, expr);
  },

  break(tok) {
    this.nextToken();
    this.advanceAfterBlockEnd('break');
    return new N.Break(tok.lineno, tok.colno);
  },

  continue(tok) {
    this.nextToken();
    this.advanceAfterBlockEnd('continue');
    return new N.Continue(tok.lineno, tok.colno);
  },

  with(tok) {
    this.nextToken();
    const targets: AstNode[] = [];
    const values: AstNode[] = [];
    while (this.peekToken().type !== T.BLOCK_END) {
      if (targets.length > 0 && !this.skip(T.COMMA)) this.fail("expected ',' in with", tok.lineno, tok.colno);
      const name = this.expect(T.SYMBOL);
      if (!this.skipValue(T.OPERATOR, '=')) this.fail("expected '=' in with", name.lineno, name.colno);
      targets.push(new N.Symbol(name.lineno, name.colno, name.value));
      values.push(this.parseExpression());
    }
    this.advanceAfterBlockEnd('with');
    const body = this.parseUntilBlocks('endwith');
    this.advanceAfterBlockEnd();
    return new N.With(tok.lineno, tok.colno, targets, values, body);
  },

  import_yaml: importData('yaml'),
  import_json: importData('json'),
  import_text: importData('text'),
  load_yaml: loadData('yaml'),
  load_json: loadData('json'),
  load_text: loadData('text'),
};

/** `{% import_yaml 'defaults.yaml' as defaults [with context] %}`: the file rendered, then parsed. */
function importData(kind: string): (this: ParserThis, tok: Token) => AstNode {
  return function (this: ParserThis, tok: Token): AstNode {
    this.nextToken();
    const template = this.parseExpression();
    if (!this.skipSymbol('as')) this.fail(`expected 'as' in import_${kind}`, tok.lineno, tok.colno);
    const name = this.expect(T.SYMBOL);
    let withContext = false;
    if (this.skipSymbol('with')) {
      if (!this.skipSymbol('context')) this.fail("expected 'context' after 'with'", tok.lineno, tok.colno);
      withContext = true;
    } else if (this.skipSymbol('without') && !this.skipSymbol('context')) {
      this.fail("expected 'context' after 'without'", tok.lineno, tok.colno);
    }
    this.advanceAfterBlockEnd(`import_${kind}`);
    return new N.Set(
      tok.lineno,
      tok.colno,
      [new N.Symbol(name.lineno, name.colno, name.value)],
      new N.ImportData(tok.lineno, tok.colno, kind, template, withContext),
    );
  };
}

/** `{% load_yaml as x %}...{% endload %}`: the block rendered, then parsed. */
function loadData(kind: string): (this: ParserThis, tok: Token) => AstNode {
  return function (this: ParserThis, tok: Token): AstNode {
    this.nextToken();
    if (!this.skipSymbol('as')) this.fail(`expected 'as' in load_${kind}`, tok.lineno, tok.colno);
    const name = this.expect(T.SYMBOL);
    this.advanceAfterBlockEnd(`load_${kind}`);
    const body = new N.Capture(tok.lineno, tok.colno, this.parseUntilBlocks('endload'));
    this.advanceAfterBlockEnd();
    return new N.Set(
      tok.lineno,
      tok.colno,
      [new N.Symbol(name.lineno, name.colno, name.value)],
      new N.LoadData(tok.lineno, tok.colno, kind, body),
    );
  };
}

/** The innermost filter of `'' | a | b` gets `input` as its value. */
function replaceFilterInput(filters: AstNode, input: AstNode): AstNode {
  let node = filters;
  while (node.typename === 'Filter') {
    const args = (node.args as AstNode).children as AstNode[];
    const first = args[0] as AstNode;
    if (first.typename !== 'Filter') {
      args[0] = input;
      break;
    }
    node = first;
  }
  return filters;
}

// ---------------------------------------------------------------- compiler

const BINARY: Record<string, string> = {
  Add: 'add',
  Sub: 'sub',
  Mul: 'mul',
  Div: 'div',
  FloorDiv: 'floordiv',
  Mod: 'mod',
  Pow: 'pow',
  Concat: 'concat',
};

function installCompiler(proto: Record<string, unknown>): void {
  const c: Record<string, (this: CompilerThis, node: AstNode, frame: Frame) => void> = {
    _compileExpression(node, frame) {
      this.compile(node, frame);
    },

    assertType() {
      // Every node this parser builds is valid where it is placed.
    },

    compileLiteral(node) {
      const value = node.value;
      if (typeof value === 'string') this._emit(JSON.stringify(value));
      else if (value instanceof PyFloat) this._emit(`runtime.py.float(${value.value})`);
      else if (value === null) this._emit('null');
      else this._emit(String(value));
    },

    compileTemplateData(node) {
      this._emit(JSON.stringify(node.value));
    },

    compileSymbol(node, frame) {
      const name = node.value as string;
      const local = frame.lookup(name);
      if (local) this._emit(`runtime.py.local(${local}, ${JSON.stringify(name)})`);
      else this._emit(`runtime.contextOrFrameLookup(context, frame, ${JSON.stringify(name)})`);
    },

    compileGroup(node, frame) {
      this._emit('(');
      this.compile((node.children as AstNode[])[0], frame);
      this._emit(')');
    },

    compileArray(node, frame) {
      emitList(this, node.children as AstNode[], frame);
    },

    compilePyTuple(node, frame) {
      this._emit('runtime.py.tuple(');
      emitList(this, node.children as AstNode[], frame);
      this._emit(')');
    },

    compilePyDict(node, frame) {
      this._emit('runtime.py.dict([');
      (node.children as AstNode[]).forEach((pair, i) => {
        if (i > 0) this._emit(',');
        this._emit('[');
        this.compile(pair.key, frame);
        this._emit(',');
        this.compile(pair.value, frame);
        this._emit(']');
      });
      this._emit('])');
    },

    compileInlineIf(node, frame) {
      this._emit('(runtime.py.truth(');
      this.compile(node.cond, frame);
      this._emit(')?(');
      this.compile(node.body, frame);
      this._emit('):(');
      if (node.else_) this.compile(node.else_, frame);
      else {
        this._emit(
          `runtime.py.undef(${JSON.stringify(`the inline if-expression on line ${node.lineno + 1} evaluated to false and no else section was defined.`)})`,
        );
      }
      this._emit('))');
    },

    compileOr(node, frame) {
      this._emit('(($v)=>runtime.py.truth($v)?$v:(');
      this.compile(node.right, frame);
      this._emit('))(');
      this.compile(node.left, frame);
      this._emit(')');
    },

    compileAnd(node, frame) {
      this._emit('(($v)=>runtime.py.truth($v)?(');
      this.compile(node.right, frame);
      this._emit('):$v)(');
      this.compile(node.left, frame);
      this._emit(')');
    },

    compileNot(node, frame) {
      this._emit('(!runtime.py.truth(');
      this.compile(node.target, frame);
      this._emit('))');
    },

    compileNeg(node, frame) {
      this._emit('runtime.py.neg(');
      this.compile(node.target, frame);
      this._emit(')');
    },

    compilePos(node, frame) {
      this._emit('runtime.py.pos(');
      this.compile(node.target, frame);
      this._emit(')');
    },

    compileCompare(node, frame) {
      this._emit('runtime.py.chain(');
      this.compile(node.expr, frame);
      for (const op of node.ops as AstNode[]) {
        this._emit(`,${JSON.stringify(op.type)},()=>(`);
        this.compile(op.expr, frame);
        this._emit(')');
      }
      this._emit(')');
    },

    compilePyAttr(node, frame) {
      this._emit('runtime.py.getattr(');
      this.compile(node.target, frame);
      this._emit(`,${JSON.stringify(node.attr)})`);
    },

    compileLookupVal(node, frame) {
      this._emit('runtime.py.getitem(');
      this.compile(node.target, frame);
      this._emit(',');
      this.compile(node.val, frame);
      this._emit(')');
    },

    compilePySlice(node, frame) {
      this._emit('runtime.py.slice(');
      this.compile(node.target, frame);
      for (const part of [node.start, node.stop, node.step]) {
        this._emit(',');
        if (part) this.compile(part, frame);
        else this._emit('null');
      }
      this._emit(')');
    },

    compileFilter(node, frame) {
      const name = (node.name as AstNode).value as string;
      this._emit(`runtime.py.filter(env,context,${JSON.stringify(name)},[`);
      emitArgs(this, node.args as AstNode, frame);
      this._emit('])');
    },

    compilePyTest(node, frame) {
      this._emit(`runtime.py.test(env,context,${JSON.stringify(node.test)},`);
      this.compile(node.target, frame);
      this._emit(',[');
      emitArgs(this, node.args as AstNode, frame);
      this._emit('])');
    },

    compileOutput(node, frame) {
      for (const child of node.children as AstNode[]) {
        if (child.typename === 'TemplateData') {
          if (child.value) this._emitLine(`${bufferOf(this)} += ${JSON.stringify(child.value)};`);
          continue;
        }
        emitLine(this, child);
        this._emit(`${bufferOf(this)} += runtime.py.out(`);
        this.compile(child, frame);
        this._emitLine(');');
      }
    },

    compileIf(node, frame) {
      emitLine(this, node);
      this._emit('if(runtime.py.truth(');
      this.compile(node.cond, frame);
      this._emitLine(')) {');
      this._withScopedSyntax(() => this.compile(node.body, frame));
      if (node.else_) {
        this._emitLine('} else {');
        this._withScopedSyntax(() => this.compile(node.else_, frame));
      }
      this._emitLine('}');
    },

    compilePyFor(node, frame) {
      const items = this._tmpid();
      const i = this._tmpid();
      const loop = this._tmpid();
      const targets = node.targets as AstNode[];
      emitLine(this, node);
      this._emitLine('frame = frame.push(true);');
      this._emit(`var ${items} = runtime.py.iterate(`);
      this.compile(node.arr, frame);
      this._emitLine(');');
      const bind = (value: string) => {
        if (targets.length === 1) {
          this._emitLine(`frame.set(${JSON.stringify((targets[0] as AstNode).value)}, ${value});`);
        } else {
          const unpacked = this._tmpid();
          this._emitLine(`var ${unpacked} = runtime.py.unpack(${value}, ${targets.length});`);
          targets.forEach((target, u) =>
            this._emitLine(`frame.set(${JSON.stringify(target.value)}, ${unpacked}[${u}]);`),
          );
        }
      };
      if (node.cond) {
        const kept = this._tmpid();
        this._emitLine(`var ${kept} = [];`);
        this._emitLine(`for (var ${i} = 0; ${i} < ${items}.length; ${i}++) {`);
        bind(`${items}[${i}]`);
        this._emit('if (runtime.py.truth(');
        this.compile(node.cond, frame);
        this._emitLine(`)) ${kept}.push(${items}[${i}]);`);
        this._emitLine('}');
        this._emitLine(`${items} = ${kept};`);
      }
      this._emitLine(`var ${loop} = runtime.py.loop(${items}, frame);`);
      this._emitLine(`for (var ${i} = 0; ${i} < ${items}.length; ${i}++) {`);
      bind(`${items}[${i}]`);
      this._emitLine(`frame.set("loop", ${loop}.at(${i}));`);
      this._withScopedSyntax(() => this.compile(node.body, frame));
      this._emitLine('}');
      if (node.else_) {
        this._emitLine(`if (${items}.length === 0) {`);
        this._withScopedSyntax(() => this.compile(node.else_, frame));
        this._emitLine('}');
      }
      this._emitLine('frame = frame.pop();');
    },

    compilePyBreak() {
      this._emitLine('break;');
    },

    compilePyContinue() {
      this._emitLine('continue;');
    },

    compilePyDo(node, frame) {
      emitLine(this, node);
      this.compile(node.expr, frame);
      this._emitLine(';');
    },

    compilePyWith(node, frame) {
      emitLine(this, node);
      const values = (node.values as AstNode[]).map((value) => {
        const id = this._tmpid();
        this._emit(`var ${id} = `);
        this.compile(value, frame);
        this._emitLine(';');
        return id;
      });
      this._emitLine('frame = frame.push(true);');
      (node.targets as AstNode[]).forEach((target, i) =>
        this._emitLine(`frame.set(${JSON.stringify(target.value)}, ${values[i]});`),
      );
      this._withScopedSyntax(() => this.compile(node.body, frame));
      this._emitLine('frame = frame.pop();');
    },

    compilePySet(node, frame) {
      emitLine(this, node);
      const value = this._tmpid();
      this._emit(`var ${value} = `);
      this.compile(node.value, frame);
      this._emitLine(';');
      const targets = node.targets as AstNode[];
      let values = targets.map(() => value);
      if (targets.length > 1) {
        const unpacked = this._tmpid();
        this._emitLine(`var ${unpacked} = runtime.py.unpack(${value}, ${targets.length});`);
        values = targets.map((_t, i) => `${unpacked}[${i}]`);
      }
      targets.forEach((target, i) => {
        const v = values[i] as string;
        if (target.typename === 'PyAttr') {
          this._emit('runtime.py.setattr(');
          this.compile(target.target, frame);
          this._emitLine(`, ${JSON.stringify(target.attr)}, ${v});`);
          return;
        }
        const name = JSON.stringify(target.value);
        // A macro argument lives in a JavaScript variable too: keep it in step.
        const local = frame.lookup(String(target.value));
        if (local) this._emitLine(`${local} = ${v};`);
        this._emitLine(`frame.set(${name}, ${v}, true);`);
        this._emitLine(`if (frame.topLevel) { context.setVariable(${name}, ${v});`);
        if (!String(target.value).startsWith('_')) this._emitLine(`context.addExport(${name});`);
        this._emitLine('}');
      });
    },

    compilePyImportData(node, frame) {
      this._emit(`runtime.py.importData(env, context, frame, ${JSON.stringify(node.kind)}, `);
      this.compile(node.template, frame);
      this._emit(`, ${node.withContext === true ? 'true' : 'false'}, ${this._templateName()})`);
    },

    compilePyLoadData(node, frame) {
      this._emit(`runtime.py.loadData(${JSON.stringify(node.kind)}, `);
      this.compile(node.body, frame);
      this._emit(')');
    },
  };
  for (const [type, fn] of Object.entries(BINARY)) {
    c[`compile${type}`] = function (this: CompilerThis, node: AstNode, frame: Frame) {
      this._emit(`runtime.py.${fn}(`);
      this.compile(node.left, frame);
      this._emit(',');
      this.compile(node.right, frame);
      this._emit(')');
    };
  }
  Object.assign(proto, c);
  wrapMacroBodies(proto);
}

/**
 * A macro's body shares the line counter of the template that defines it, but not its error
 * handler: called from another file, its error would reach that file's handler, which names the
 * caller's line. Each macro body catches its own errors and stamps them with its line first.
 */
function wrapMacroBodies(proto: Record<string, unknown>): void {
  const compileMacro = proto._compileMacro as (this: CompilerThis, node: unknown, frame?: Frame) => string;
  proto._compileMacro = function (this: CompilerThis, node: unknown, frame?: Frame): string {
    const self = this as unknown as Record<string, unknown>;
    const hadOwn = Object.hasOwn(self, '_withScopedSyntax');
    const scoped = this._withScopedSyntax;
    // The first scoped compile of _compileMacro is the macro's body.
    self._withScopedSyntax = function (this: CompilerThis, fn: () => void) {
      self._withScopedSyntax = scoped;
      this._emitLine('try {');
      scoped.call(this, fn);
      this._emitLine('} catch (e) { throw runtime.handleError(e, lineno, colno); }');
    };
    try {
      return compileMacro.call(this, node, frame);
    } finally {
      if (hadOwn) self._withScopedSyntax = scoped;
      else delete self._withScopedSyntax;
    }
  };
}

function bufferOf(compiler: CompilerThis): string {
  return (compiler as unknown as { buffer: string }).buffer;
}

/** Keeps the runtime's line up to date for errors raised in this statement. */
function emitLine(compiler: CompilerThis, node: AstNode): void {
  compiler._emitLine(`lineno = ${node.lineno}; colno = ${node.colno};`);
}

function emitList(compiler: CompilerThis, items: readonly AstNode[], frame: Frame): void {
  compiler._emit('[');
  items.forEach((item, i) => {
    if (i > 0) compiler._emit(',');
    compiler.compile(item, frame);
  });
  compiler._emit(']');
}

function emitArgs(compiler: CompilerThis, args: AstNode, frame: Frame): void {
  (args.children as AstNode[]).forEach((arg, i) => {
    if (i > 0) compiler._emit(',');
    compiler.compile(arg, frame);
  });
}
