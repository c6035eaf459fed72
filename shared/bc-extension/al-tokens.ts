/**
 * The lexical layer of the AL reader (`al.ts`): tokens, bracket matching, property values and skipping code.
 * Kept apart so the reader itself is only about the shapes of AL objects.
 */
export interface Token {
  kind: 'ident' | 'quoted' | 'string' | 'number' | 'punct';
  /** Identifiers and quoted identifiers without quotes; string literals without quotes (`''` unescaped). */
  text: string;
  line: number;
}

export class AlParseError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'AlParseError';
  }
}

export function tokenize(text: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new AlParseError(file, line, 'unterminated block comment');
      line += (text.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 2;
      continue;
    }
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= n) throw new AlParseError(file, line, 'unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += text[i];
        i++;
      }
      out.push({ kind: 'string', text: s, line });
      continue;
    }
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0 || text.slice(i, end).includes('\n')) throw new AlParseError(file, line, 'unterminated quoted identifier');
      out.push({ kind: 'quoted', text: text.slice(i + 1, end), line });
      i = end + 1;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 200));
    if (ident) {
      out.push({ kind: 'ident', text: ident[0], line });
      i += ident[0].length;
      continue;
    }
    const num = /^[0-9]+(?:\.[0-9]+)?/.exec(text.slice(i, i + 50));
    if (num) {
      out.push({ kind: 'number', text: num[0], line });
      i += num[0].length;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === ':=' || two === '::' || two === '<>' || two === '<=' || two === '>=' || two === '+=' || two === '-=') {
      out.push({ kind: 'punct', text: two, line });
      i += 2;
      continue;
    }
    out.push({ kind: 'punct', text: c, line });
    i++;
  }
  return out;
}

export const lower = (t: Token | undefined) => (t && t.kind === 'ident' ? t.text.toLowerCase() : undefined);
export const isPunct = (t: Token | undefined, p: string) => t?.kind === 'punct' && t.text === p;

/** Index of the closing bracket matching the opening one at `open` (`{`/`}` or `(`/`)`). */
export function matchClose(tokens: Token[], open: number, file: string, pair: '{}' | '()'): number {
  const [o, c] = pair === '{}' ? ['{', '}'] : ['(', ')'];
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isPunct(tokens[i], o as string)) depth++;
    else if (isPunct(tokens[i], c as string)) {
      depth--;
      if (depth === 0) return i;
    }
  }
  throw new AlParseError(file, tokens[open]?.line ?? 0, pair === '{}' ? 'unbalanced braces' : 'unbalanced parentheses');
}
export const matchBrace = (tokens: Token[], open: number, file: string) => matchClose(tokens, open, file, '{}');
export const matchParen = (tokens: Token[], open: number, file: string) => matchClose(tokens, open, file, '()');

/** Renders tokens back to AL text (quoted identifiers re-quoted), for types and property values. */
export function render(tokens: Token[]): string {
  let s = '';
  let prev: Token | undefined;
  for (const t of tokens) {
    const text = t.kind === 'quoted' ? `"${t.text}"` : t.kind === 'string' ? `'${t.text.replace(/'/g, "''")}'` : t.text;
    const glue =
      prev === undefined ||
      (t.kind === 'punct' && ['[', ']', '(', ')', ',', ';', '.', '::'].includes(t.text)) ||
      (prev.kind === 'punct' && ['[', '(', '.', '::'].includes(prev.text));
    s += (glue ? '' : ' ') + text;
    prev = t;
  }
  return s.replace(/ ,/g, ',').replace(/,(?=\S)/g, ', ');
}

/** A property value: a single (quoted) identifier or string loses its quotes; anything else is rendered. */
export function propertyValue(tokens: Token[]): string {
  if (tokens.length === 1) {
    const t = tokens[0] as Token;
    if (t.kind === 'quoted' || t.kind === 'string' || t.kind === 'ident' || t.kind === 'number') return t.text;
  }
  return render(tokens);
}

/**
 * Walks the statements of a `{ … }` body at its own level: `Name = value;` properties, and calls `onSection` for
 * every other construct (`layout { … }`, `field(…) { … }`, `trigger X() … end;`, …) with its start index; the
 * callback returns where the construct ends. Code (`begin … end`) is skipped by the callback's owner.
 */
export function readProperties(tokens: Token[], from: number, to: number, props: Record<string, string>, file: string): number {
  // `Name = value ;` — value up to the `;` at paren/bracket depth 0.
  const name = tokens[from];
  if (name?.kind !== 'ident' || !isPunct(tokens[from + 1], '=')) return -1;
  let depth = 0;
  for (let i = from + 2; i < to; i++) {
    const t = tokens[i];
    if (isPunct(t, '(') || isPunct(t, '[')) depth++;
    else if (isPunct(t, ')') || isPunct(t, ']')) depth--;
    else if (depth === 0 && isPunct(t, ';')) {
      props[name.text.toLowerCase()] = propertyValue(tokens.slice(from + 2, i));
      return i + 1;
    }
  }
  throw new AlParseError(file, name.line, `property ${name.text} has no ';'`);
}

/** Skips a `begin … end` block (with nested begin/case … end) starting at `begin`; returns the index after `end`. */
export function skipCode(tokens: Token[], begin: number, file: string): number {
  let depth = 0;
  for (let i = begin; i < tokens.length; i++) {
    const k = lower(tokens[i]);
    // `Enum::"X"::Case` never appears as a keyword: `case` is only a keyword as an identifier token.
    if ((k === 'begin' || k === 'case') && !isPunct(tokens[i - 1], '::') && !isPunct(tokens[i - 1], '.')) depth++;
    else if (k === 'end' && !isPunct(tokens[i - 1], '.')) {
      depth--;
      if (depth === 0) return isPunct(tokens[i + 1], ';') ? i + 2 : i + 1;
    }
  }
  throw new AlParseError(file, tokens[begin]?.line ?? 0, "'begin' without 'end'");
}
