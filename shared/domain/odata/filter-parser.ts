/*
 * $filter parser: the AST that both evaluators (`compileFilter` in filter-compile.ts for the simulators,
 * `evaluateFilter` in filter.ts for the product) and the filter analyses walk.
 *
 * Why not odata-v4-parser (tried, not kept as a dependency)? Checked against the filters the simulators must accept: it parses the basics
 * but rejects `in (...)`, and every failure is "Unexpected character at 1" whatever the cause, which would make the
 * simulators' 400 messages useless. It also yields an untyped token tree that needs as much code to evaluate as the
 * small recursive-descent parser below, which reports position-accurate, client-readable errors.
 *
 * Grammar (subset of OData v4 ABNF that Dataverse / BC clients use):
 *   or      := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | compare
 *   compare := operand (('eq'|'ne'|'gt'|'ge'|'lt'|'le') operand | 'in' '(' operand (',' operand)* ')')?
 *   operand := '(' or ')' | literal | function '(' args ')' | propertyPath
 *   literal := 'string' with '' escape | number | true | false | null | GUID | date | DateTimeOffset
 */
import { GUID_PATTERN } from '../ids';
import { ODataQueryError } from './errors';
import { instantOf, parseDateLiteral } from './values';

type TokenKind = '(' | ')' | ',' | 'string' | 'number' | 'guid' | 'date' | 'ident' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
  value?: unknown;
}

export type CompareOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
const COMPARE_OPS = new Set<string>(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const ARITHMETIC_OPS = new Set<string>(['add', 'sub', 'mul', 'div', 'divby', 'mod', 'has']);
const KEYWORDS = new Set<string>(['and', 'or', 'not', 'in', ...COMPARE_OPS, ...ARITHMETIC_OPS]);

type Kind = 'bool' | 'string' | 'number' | 'date' | 'null' | 'any';

export type FilterNode =
  | { k: 'lit'; value: unknown; kind: Kind; quoted?: true }
  | { k: 'prop'; name: string; path: string[] }
  | { k: 'call'; fn: string; args: FilterNode[] }
  | { k: 'cmp'; op: CompareOp; left: FilterNode; right: FilterNode }
  | { k: 'in'; left: FilterNode; items: FilterNode[] }
  | { k: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { k: 'not'; operand: FilterNode };

/** A function the parser accepts: its argument and result kinds, and what it computes (for the simulators). */
export interface FunctionSpec {
  args: readonly Kind[];
  optionalArgs?: number;
  returns: Kind;
  impl: (args: unknown[]) => unknown;
}

const GUID_RE = new RegExp(`${GUID_PATTERN}(?![\\w-])`, 'y');
const DATETIME_RE = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})(?![\w:.])/y;
const DATE_RE = /\d{4}-\d{2}-\d{2}(?![\w:.-])/y;
const NUMBER_RE = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w.])/y;
const IDENT_RE = /[A-Za-z_][\w.]*(?:\/[A-Za-z_][\w.]*)*/y;

function sticky(re: RegExp, src: string, pos: number): string | undefined {
  re.lastIndex = pos;
  const m = re.exec(src);
  return m ? m[0] : undefined;
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c, text: c, pos: i });
      i++;
      continue;
    }
    if (c === "'") {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new ODataQueryError(`Unterminated string literal starting at position ${start} in $filter.`);
        const ch = src.charAt(i);
        if (ch === "'") {
          // OData escapes a quote inside a string literal by doubling it.
          if (src.charAt(i + 1) === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += ch;
        i++;
      }
      tokens.push({ kind: 'string', text: src.slice(start, i), pos: start, value });
      continue;
    }
    // Order matters: GUIDs and dates start with digits and would otherwise lex as numbers or identifiers.
    const guid = sticky(GUID_RE, src, i);
    if (guid) {
      tokens.push({ kind: 'guid', text: guid, pos: i, value: guid.toLowerCase() });
      i += guid.length;
      continue;
    }
    const date = sticky(DATETIME_RE, src, i) ?? sticky(DATE_RE, src, i);
    if (date) {
      const lit = parseDateLiteral(date);
      if (!lit) throw new ODataQueryError(`Invalid date/time literal '${date}' at position ${i} in $filter.`);
      tokens.push({ kind: 'date', text: date, pos: i, value: lit });
      i += date.length;
      continue;
    }
    const num = sticky(NUMBER_RE, src, i);
    if (num) {
      const value = Number(num.replace(/[mMdDfFlL]$/, ''));
      if (!Number.isFinite(value)) throw new ODataQueryError(`Invalid number literal '${num}' at position ${i} in $filter.`);
      tokens.push({ kind: 'number', text: num, pos: i, value });
      i += num.length;
      continue;
    }
    const ident = sticky(IDENT_RE, src, i);
    if (ident) {
      if (src.charAt(i + ident.length) === "'") {
        throw new ODataQueryError(
          `Typed literal ${ident}'…' at position ${i} is not supported in $filter; write GUIDs and dates unquoted.`,
        );
      }
      // Report unknown functions and lambdas here: their arguments (`c: c/x`, `PropertyName='x'`) would otherwise
      // fail to lex first, with a far less helpful message.
      if (/^\s*\(/.test(src.slice(i + ident.length)) && !KEYWORDS.has(ident) && !Object.hasOwn(FUNCTIONS, ident)) {
        const lastSeg = ident.split('/').pop() ?? ident;
        if (ident.includes('/') && (lastSeg === 'any' || lastSeg === 'all')) {
          throw new ODataQueryError(`Lambda operator '${lastSeg}' is not supported in $filter.`);
        }
        throw new ODataQueryError(`Unknown function '${ident}' in $filter.`);
      }
      tokens.push({ kind: 'ident', text: ident, pos: i });
      i += ident.length;
      continue;
    }
    throw new ODataQueryError(`Unexpected character '${c}' at position ${i} in $filter.`);
  }
  tokens.push({ kind: 'eof', text: '', pos: src.length });
  return tokens;
}

function str(name: string, v: unknown): string {
  if (typeof v !== 'string') {
    throw new ODataQueryError(`Function '${name}' expects a string argument but got ${typeof v} ${String(v)}.`);
  }
  return v;
}

function datePart(name: string, part: (d: Date) => number): FunctionSpec {
  return {
    args: ['date'],
    returns: 'number',
    impl: ([v]) => {
      const ms = instantOf(v);
      if (ms === undefined) throw new ODataQueryError(`Function '${name}' expects a date/time argument.`);
      return part(new Date(ms));
    },
  };
}

export const FUNCTIONS: Record<string, FunctionSpec> = {
  // Case-insensitive like the services' SQL collation (see values.ts).
  contains: {
    args: ['string', 'string'],
    returns: 'bool',
    impl: ([a, b]) => str('contains', a).toLowerCase().includes(str('contains', b).toLowerCase()),
  },
  startswith: {
    args: ['string', 'string'],
    returns: 'bool',
    impl: ([a, b]) => str('startswith', a).toLowerCase().startsWith(str('startswith', b).toLowerCase()),
  },
  endswith: {
    args: ['string', 'string'],
    returns: 'bool',
    impl: ([a, b]) => str('endswith', a).toLowerCase().endsWith(str('endswith', b).toLowerCase()),
  },
  tolower: { args: ['string'], returns: 'string', impl: ([a]) => str('tolower', a).toLowerCase() },
  toupper: { args: ['string'], returns: 'string', impl: ([a]) => str('toupper', a).toUpperCase() },
  trim: { args: ['string'], returns: 'string', impl: ([a]) => str('trim', a).trim() },
  length: { args: ['string'], returns: 'number', impl: ([a]) => str('length', a).length },
  indexof: {
    args: ['string', 'string'],
    returns: 'number',
    impl: ([a, b]) => str('indexof', a).toLowerCase().indexOf(str('indexof', b).toLowerCase()),
  },
  concat: {
    args: ['string', 'string'],
    returns: 'string',
    impl: ([a, b]) => str('concat', a) + str('concat', b),
  },
  substring: {
    args: ['string', 'number', 'number'],
    optionalArgs: 1,
    returns: 'string',
    impl: ([s, start, len]) => {
      const text = str('substring', s);
      const from = Number(start);
      return len === undefined ? text.slice(from) : text.slice(from, from + Number(len));
    },
  },
  year: datePart('year', (d) => d.getUTCFullYear()),
  month: datePart('month', (d) => d.getUTCMonth() + 1),
  day: datePart('day', (d) => d.getUTCDate()),
  hour: datePart('hour', (d) => d.getUTCHours()),
  minute: datePart('minute', (d) => d.getUTCMinutes()),
  second: datePart('second', (d) => d.getUTCSeconds()),
};

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly src: string,
  ) {}

  private peek(): Token {
    // tokenize always appends eof, so the last token exists.
    return this.tokens[this.i] ?? (this.tokens[this.tokens.length - 1] as Token);
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text === word;
  }

  private fail(t: Token, expected: string): never {
    const found = t.kind === 'eof' ? 'end of expression' : `'${t.text}'`;
    throw new ODataQueryError(`Syntax error in $filter at position ${t.pos}: expected ${expected} but found ${found}.`);
  }

  parse(): FilterNode {
    if (this.peek().kind === 'eof') throw new ODataQueryError('The $filter expression is empty.');
    const node = this.parseOr();
    const t = this.peek();
    if (t.kind !== 'eof') {
      if (t.kind === 'ident' && ARITHMETIC_OPS.has(t.text)) {
        throw new ODataQueryError(`The '${t.text}' operator is not supported in $filter.`);
      }
      this.fail(t, "'and', 'or' or end of expression");
    }
    requireBoolean(node, 'The $filter expression');
    return node;
  }

  private parseOr(): FilterNode {
    return this.parseLogical('or', () => this.parseAnd());
  }

  private parseAnd(): FilterNode {
    return this.parseLogical('and', () => this.parseUnary());
  }

  /** A left-associative chain of `and` or `or`, whose operands are parsed by the next tighter level. */
  private parseLogical(op: 'and' | 'or', operand: () => FilterNode): FilterNode {
    let left = operand();
    while (this.isKeyword(op)) {
      this.next();
      const right = operand();
      requireBoolean(left, `Left operand of '${op}'`);
      requireBoolean(right, `Right operand of '${op}'`);
      left = { k: op, left, right };
    }
    return left;
  }

  private parseUnary(): FilterNode {
    if (this.isKeyword('not')) {
      this.next();
      const operand = this.parseUnary();
      requireBoolean(operand, "Operand of 'not'");
      return { k: 'not', operand };
    }
    return this.parseCompare();
  }

  private parseCompare(): FilterNode {
    const left = this.parseOperand();
    const t = this.peek();
    if (t.kind === 'ident' && COMPARE_OPS.has(t.text)) {
      this.next();
      const right = this.parseOperand();
      return { k: 'cmp', op: t.text as CompareOp, left, right };
    }
    if (t.kind === 'ident' && t.text === 'in') {
      this.next();
      const open = this.next();
      if (open.kind !== '(') this.fail(open, "'(' after 'in'");
      const items: FilterNode[] = [];
      for (;;) {
        const item = this.parseOperand();
        if (item.k !== 'lit') {
          throw new ODataQueryError("The list after 'in' may only contain literal values.");
        }
        items.push(item);
        const sep = this.next();
        if (sep.kind === ')') break;
        if (sep.kind !== ',') this.fail(sep, "',' or ')' in the 'in' list");
      }
      return { k: 'in', left, items };
    }
    if (t.kind === 'ident' && ARITHMETIC_OPS.has(t.text)) {
      throw new ODataQueryError(`The '${t.text}' operator is not supported in $filter.`);
    }
    return left;
  }

  private parseOperand(): FilterNode {
    const t = this.next();
    switch (t.kind) {
      case '(': {
        const inner = this.parseOr();
        const close = this.next();
        if (close.kind !== ')') this.fail(close, "')'");
        return inner;
      }
      case 'string':
        return { k: 'lit', value: t.value, kind: 'string', quoted: true };
      case 'number':
        return { k: 'lit', value: t.value, kind: 'number' };
      case 'guid':
        return { k: 'lit', value: t.value, kind: 'string' };
      case 'date':
        return { k: 'lit', value: t.value, kind: 'date' };
      case 'ident':
        return this.parseIdentOperand(t);
      default:
        return this.fail(t, 'a property, literal or function call');
    }
  }

  private parseIdentOperand(t: Token): FilterNode {
    if (t.text === 'null') return { k: 'lit', value: null, kind: 'null' };
    if (t.text === 'true') return { k: 'lit', value: true, kind: 'bool' };
    if (t.text === 'false') return { k: 'lit', value: false, kind: 'bool' };
    if (KEYWORDS.has(t.text)) this.fail(t, 'a property, literal or function call');
    if (this.peek().kind !== '(') {
      if (t.text.includes('.') && !t.text.includes('/')) {
        throw new ODataQueryError(`Unknown property or unsupported qualified name '${t.text}' in $filter.`);
      }
      return { k: 'prop', name: t.text, path: t.text.split('/') };
    }
    this.next();
    const lastSeg = t.text.split('/').pop() ?? t.text;
    if (t.text.includes('/') && (lastSeg === 'any' || lastSeg === 'all')) {
      throw new ODataQueryError(`Lambda operator '${lastSeg}' is not supported in $filter.`);
    }
    const spec = FUNCTIONS[t.text];
    if (!spec || !Object.hasOwn(FUNCTIONS, t.text)) {
      throw new ODataQueryError(`Unknown function '${t.text}' in $filter.`);
    }
    const args: FilterNode[] = [];
    if (this.peek().kind === ')') {
      this.next();
    } else {
      for (;;) {
        args.push(this.parseOr());
        const sep = this.next();
        if (sep.kind === ')') break;
        if (sep.kind !== ',') this.fail(sep, `',' or ')' in the arguments of '${t.text}'`);
      }
    }
    const max = spec.args.length;
    const min = max - (spec.optionalArgs ?? 0);
    if (args.length < min || args.length > max) {
      const want = min === max ? `${max}` : `${min} to ${max}`;
      throw new ODataQueryError(`Function '${t.text}' expects ${want} argument(s) but got ${args.length}.`);
    }
    args.forEach((a, idx) => {
      const want = spec.args[idx] ?? 'any';
      const got = staticKind(a);
      if (got !== 'any' && got !== 'null' && want !== got) {
        throw new ODataQueryError(
          `Argument ${idx + 1} of '${t.text}' must be of type ${want} but is of type ${got} (in $filter '${this.src}').`,
        );
      }
    });
    return { k: 'call', fn: t.text, args };
  }
}

function staticKind(n: FilterNode): Kind {
  switch (n.k) {
    case 'lit':
      return n.kind;
    case 'prop':
      return 'any';
    case 'call':
      return FUNCTIONS[n.fn]?.returns ?? 'any';
    default:
      return 'bool';
  }
}

function requireBoolean(n: FilterNode, what: string): void {
  const kind = staticKind(n);
  if (kind !== 'bool' && kind !== 'any') {
    throw new ODataQueryError(`${what} must be a boolean expression, but is of type ${kind}.`);
  }
}

/** Parses a $filter expression into an AST; throws ODataQueryError with a client-readable message. */
export function parseFilter(expr: string): FilterNode {
  if (typeof expr !== 'string') throw new ODataQueryError('The $filter expression must be a string.');
  return new Parser(tokenize(expr), expr).parse();
}
