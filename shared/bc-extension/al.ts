/**
 * A small reader of the AL objects in `bc-extension/src`: just enough of the language to know what the extension
 * declares (object ids and names, properties, the fields and parts of API pages, table-extension fields, enum
 * values, service-enabled actions, page variables). It is not a compiler: it reads the shapes this repository's
 * AL uses and rejects what it does not understand, so a page it cannot read fails the build instead of vanishing
 * from the manifest. Pure: text in, objects out.
 */

import { AlParseError, isPunct, lower, matchBrace, matchParen, readProperties, render, skipCode, type Token, tokenize } from './al-tokens';

export type AlObjectType = 'page' | 'tableextension' | 'enum' | 'codeunit' | 'permissionset' | 'table' | 'pageextension';

const OBJECT_TYPES = new Set<AlObjectType>(['page', 'tableextension', 'enum', 'codeunit', 'permissionset', 'table', 'pageextension']);

export interface AlPageField {
  /** The API property name (the control name). */
  name: string;
  /** `Rec."No."` → `{ kind: 'field', field: 'No.' }`; a page variable → `{ kind: 'variable', name }`. */
  source: { kind: 'field'; field: string } | { kind: 'variable'; name: string };
  /** Control properties, names lower-cased, values as written (`false`, `'Caption'`). */
  properties: Record<string, string>;
  hasOnValidate: boolean;
  line: number;
}

export interface AlPagePart {
  name: string;
  page: string;
  properties: Record<string, string>;
  line: number;
}

export interface AlTableField {
  id: number;
  name: string;
  type: string;
  properties: Record<string, string>;
  line: number;
}

export interface AlObject {
  type: AlObjectType;
  id: number;
  name: string;
  /** `extends` target of table and page extensions. */
  extends?: string;
  /** Object properties, names lower-cased, values as written with quotes removed from a single identifier. */
  properties: Record<string, string>;
  /** Page controls bound with `field(name; …)`, in layout order. */
  fields: AlPageField[];
  parts: AlPagePart[];
  /** Table and table-extension fields. */
  tableFields: AlTableField[];
  /** Enum values: ordinal and name. */
  values: Array<{ ordinal: number; name: string }>;
  /** Global variables of the object: name → type as written (`Code[10]`, `Enum "X"`). */
  variables: Record<string, string>;
  /** Procedures marked [ServiceEnabled] (bound API actions). */
  serviceEnabled: string[];
  /**
   * Field accesses in code (`Rec."No."`, `SalesHeader.Status::Open`) on record variables, with the table the
   * variable is declared over (`Rec` of a page: its SourceTable); unresolved variables are left out.
   */
  fieldRefs: Array<{ variable: string; table: string; field: string; line: number }>;
  file: string;
  line: number;
}

/** Record methods whose first argument is a field of the record. */
const FIELD_METHODS = new Set([
  'validate',
  'setrange',
  'setfilter',
  'testfield',
  'modifyall',
  'fieldno',
  'calcfields',
  'setcurrentkey',
  'fieldcaption',
]);

/** Field accesses of one routine before the object's globals are known: `table` is set for parameters and locals. */
type PendingRef = { variable: string; table?: string; field: string; line: number };

/**
 * Reads a trigger or procedure from its keyword (after attributes/`local`) to after its `end;`: the record
 * parameters and locals it declares (`Name: Record "X"`), and every `Var.Field` / `Var."Field"` access in its
 * body that is not a method call.
 */
function readRoutine(tokens: Token[], start: number, file: string, refs?: PendingRef[]): number {
  let begin = -1;
  for (let i = start; i < tokens.length; i++) {
    if (lower(tokens[i]) === 'begin') {
      begin = i;
      break;
    }
    if (isPunct(tokens[i], '}')) break;
  }
  if (begin < 0) throw new AlParseError(file, tokens[start]?.line ?? 0, 'routine without a body');
  const end = skipCode(tokens, begin, file);
  if (!refs) return end;
  const locals = new Map<string, string>();
  for (let j = start; j < begin; j++) {
    const name = tokens[j];
    const table = tokens[j + 3];
    if (name && isPunct(tokens[j + 1], ':') && lower(tokens[j + 2]) === 'record' && table) locals.set(name.text.toLowerCase(), table.text);
  }
  for (let j = begin; j < end; j++) {
    const v = tokens[j];
    const member = tokens[j + 2];
    if (!v || (v.kind !== 'ident' && v.kind !== 'quoted') || !isPunct(tokens[j + 1], '.') || !member) continue;
    if (member.kind !== 'ident' && member.kind !== 'quoted') continue;
    if (isPunct(tokens[j - 1], '.') || isPunct(tokens[j - 1], '::')) continue;
    const table = locals.get(v.text.toLowerCase());
    const push = (field: Token) => refs.push({ variable: v.text, ...(table ? { table } : {}), field: field.text, line: field.line });
    if (member.kind === 'ident' && isPunct(tokens[j + 3], '(')) {
      // `Var.Method(…)` is a call; the record methods that take a field first (`SetRange("No.", …)`) name one.
      const arg = tokens[j + 4];
      if (FIELD_METHODS.has(member.text.toLowerCase()) && arg && (arg.kind === 'quoted' || arg.kind === 'ident'))
        if (isPunct(tokens[j + 5], ',') || isPunct(tokens[j + 5], ')')) push(arg);
      continue;
    }
    push(member);
  }
  return end;
}

/** The body of a control (`field(…) { … }`): properties and whether an OnValidate trigger is present. */
function readControlBody(
  tokens: Token[],
  open: number,
  close: number,
  file: string,
  refs?: PendingRef[],
): { properties: Record<string, string>; hasOnValidate: boolean } {
  const properties: Record<string, string> = {};
  let hasOnValidate = false;
  let i = open + 1;
  while (i < close) {
    const k = lower(tokens[i]);
    if (k === 'trigger') {
      if (lower(tokens[i + 1]) === 'onvalidate') hasOnValidate = true;
      i = readRoutine(tokens, i, file, refs);
      continue;
    }
    const next = readProperties(tokens, i, close, properties, file);
    if (next < 0) throw new AlParseError(file, tokens[i]?.line ?? 0, `unexpected '${tokens[i]?.text}' in a control`);
    i = next;
  }
  return { properties, hasOnValidate };
}

/** `field(name; Rec."X") { … }` and `part(name; "Page") { … }` anywhere inside `layout { … }`. */
function readLayout(tokens: Token[], open: number, close: number, obj: AlObject, file: string, refs: PendingRef[]): void {
  for (let i = open + 1; i < close; i++) {
    const k = lower(tokens[i]);
    if ((k !== 'field' && k !== 'part') || !isPunct(tokens[i + 1], '(')) continue;
    const line = tokens[i]?.line ?? 0;
    const pClose = matchParen(tokens, i + 1, file);
    const args = tokens.slice(i + 2, pClose);
    const semi = args.findIndex((t) => isPunct(t, ';'));
    const nameTok = args[0];
    if (semi !== 1 || !nameTok || (nameTok.kind !== 'ident' && nameTok.kind !== 'quoted'))
      throw new AlParseError(file, line, `${k}(…) must be ${k}(<name>; <source>)`);
    const sourceToks = args.slice(2);
    const bOpen = pClose + 1;
    if (!isPunct(tokens[bOpen], '{')) throw new AlParseError(file, line, `${k} ${nameTok.text} has no { } block`);
    const bClose = matchBrace(tokens, bOpen, file);
    const body = readControlBody(tokens, bOpen, bClose, file, refs);
    if (k === 'part') {
      const page = sourceToks[0];
      if (sourceToks.length !== 1 || !page) throw new AlParseError(file, line, `part ${nameTok.text}: expected a page name`);
      obj.parts.push({ name: nameTok.text, page: page.text, properties: body.properties, line });
    } else {
      let source: AlPageField['source'];
      const [a, dot, b] = sourceToks;
      if (sourceToks.length === 3 && lower(a) === 'rec' && isPunct(dot, '.') && b && (b.kind === 'ident' || b.kind === 'quoted'))
        source = { kind: 'field', field: b.text };
      else if (sourceToks.length === 1 && a?.kind === 'ident') source = { kind: 'variable', name: a.text };
      else
        throw new AlParseError(
          file,
          line,
          `field ${nameTok.text}: source must be Rec.<field> or a page variable, found '${render(sourceToks)}'`,
        );
      obj.fields.push({ name: nameTok.text, source, properties: body.properties, hasOnValidate: body.hasOnValidate, line });
    }
    i = bClose;
  }
}

/** `fields { field(1; "Name"; Type) { … } }` of a table or table extension. */
function readTableFields(tokens: Token[], open: number, close: number, obj: AlObject, file: string): void {
  for (let i = open + 1; i < close; i++) {
    if (lower(tokens[i]) !== 'field' || !isPunct(tokens[i + 1], '(')) continue;
    const line = tokens[i]?.line ?? 0;
    const pClose = matchParen(tokens, i + 1, file);
    const args = tokens.slice(i + 2, pClose);
    const semis = args.flatMap((t, j) => (isPunct(t, ';') ? [j] : []));
    const idTok = args[0];
    const nameTok = args[2];
    if (semis.length !== 2 || semis[0] !== 1 || semis[1] !== 3 || idTok?.kind !== 'number' || !nameTok)
      throw new AlParseError(file, line, 'table field must be field(<no>; <name>; <type>)');
    const bOpen = pClose + 1;
    if (!isPunct(tokens[bOpen], '{')) throw new AlParseError(file, line, `field ${nameTok.text} has no { } block`);
    const bClose = matchBrace(tokens, bOpen, file);
    const body = readControlBody(tokens, bOpen, bClose, file);
    obj.tableFields.push({ id: Number(idTok.text), name: nameTok.text, type: render(args.slice(4)), properties: body.properties, line });
    i = bClose;
  }
}

function readEnumValues(tokens: Token[], open: number, close: number, obj: AlObject, file: string): number {
  let i = open;
  for (; i < close; i++) {
    if (lower(tokens[i]) !== 'value' || !isPunct(tokens[i + 1], '(')) break;
    const pClose = matchParen(tokens, i + 1, file);
    const [ord, semi, name] = tokens.slice(i + 2, pClose);
    if (ord?.kind !== 'number' || !isPunct(semi, ';') || !name)
      throw new AlParseError(file, tokens[i]?.line ?? 0, 'enum value must be value(<n>; <name>)');
    obj.values.push({ ordinal: Number(ord.text), name: name.text });
    const bOpen = pClose + 1;
    i = isPunct(tokens[bOpen], '{') ? matchBrace(tokens, bOpen, file) : pClose;
  }
  return i;
}

/** Object-level `var` section: `Name: Type;` until the next trigger, procedure, attribute or the object's end. */
function readVariables(tokens: Token[], from: number, close: number, obj: AlObject): number {
  let i = from;
  while (i < close) {
    const k = lower(tokens[i]);
    if (k === 'trigger' || k === 'procedure' || k === 'local' || k === 'internal' || isPunct(tokens[i], '[')) break;
    const nameTok = tokens[i];
    if (!nameTok || !isPunct(tokens[i + 1], ':')) break;
    let j = i + 2;
    while (j < close && !isPunct(tokens[j], ';')) j++;
    obj.variables[nameTok.text] = render(tokens.slice(i + 2, j));
    i = j + 1;
  }
  return i;
}

function readBody(tokens: Token[], open: number, close: number, obj: AlObject, file: string, refs: PendingRef[]): void {
  let i = open + 1;
  let attributes: string[] = [];
  while (i < close) {
    const t = tokens[i] as Token;
    const k = lower(t);
    if (isPunct(t, '[')) {
      const end = tokens.findIndex((x, j) => j > i && isPunct(x, ']'));
      attributes.push(tokens[i + 1]?.text.toLowerCase() ?? '');
      i = end + 1;
      continue;
    }
    if (k === 'local' || k === 'internal') {
      i++;
      continue;
    }
    if (k === 'procedure') {
      const name = tokens[i + 1]?.text ?? '';
      if (attributes.includes('serviceenabled')) obj.serviceEnabled.push(name);
      attributes = [];
      i = readRoutine(tokens, i, file, refs);
      continue;
    }
    if (k === 'trigger') {
      attributes = [];
      i = readRoutine(tokens, i, file, refs);
      continue;
    }
    if (k === 'var') {
      i = readVariables(tokens, i + 1, close, obj);
      continue;
    }
    if (k === 'value' && obj.type === 'enum') {
      i = readEnumValues(tokens, i, close, obj, file);
      continue;
    }
    if ((k === 'layout' || k === 'fields' || k === 'keys' || k === 'actions' || k === 'fieldgroups') && isPunct(tokens[i + 1], '{')) {
      const sClose = matchBrace(tokens, i + 1, file);
      if (k === 'layout') readLayout(tokens, i + 1, sClose, obj, file, refs);
      if (k === 'fields') readTableFields(tokens, i + 1, sClose, obj, file);
      i = sClose + 1;
      continue;
    }
    const next = readProperties(tokens, i, close, obj.properties, file);
    if (next < 0) throw new AlParseError(file, t.line, `unexpected '${t.text}' in ${obj.type} ${obj.name}`);
    i = next;
  }
}

/** Every object declared in one `.al` file. */
export function parseAl(text: string, file = '<al>'): AlObject[] {
  const tokens = tokenize(text, file);
  const objects: AlObject[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i] as Token;
    const k = lower(t) as AlObjectType | undefined;
    if (k === undefined || !OBJECT_TYPES.has(k)) throw new AlParseError(file, t.line, `expected an object declaration, found '${t.text}'`);
    const idTok = tokens[i + 1];
    const nameTok = tokens[i + 2];
    if (idTok?.kind !== 'number' || !nameTok || (nameTok.kind !== 'ident' && nameTok.kind !== 'quoted'))
      throw new AlParseError(file, t.line, `${k} needs an id and a name`);
    let j = i + 3;
    let extendsName: string | undefined;
    if (lower(tokens[j]) === 'extends') {
      extendsName = tokens[j + 1]?.text;
      j += 2;
    }
    if (!isPunct(tokens[j], '{')) throw new AlParseError(file, t.line, `${k} ${nameTok.text}: expected '{'`);
    const close = matchBrace(tokens, j, file);
    const obj: AlObject = {
      type: k,
      id: Number(idTok.text),
      name: nameTok.text,
      ...(extendsName !== undefined ? { extends: extendsName } : {}),
      properties: {},
      fields: [],
      parts: [],
      tableFields: [],
      values: [],
      variables: {},
      serviceEnabled: [],
      fieldRefs: [],
      file,
      line: t.line,
    };
    const refs: PendingRef[] = [];
    readBody(tokens, j, close, obj, file, refs);
    // Globals are declared after the layout and triggers that use them: resolve the rest now.
    const globals = new Map(
      Object.entries(obj.variables).flatMap(([name, type]) => {
        const m = /^Record\s+(?:"([^"]+)"|(\w+))/i.exec(type);
        return m ? [[name.toLowerCase(), (m[1] ?? m[2]) as string] as const] : [];
      }),
    );
    for (const r of refs) {
      const table =
        r.table ??
        globals.get(r.variable.toLowerCase()) ??
        (obj.type === 'page' && r.variable.toLowerCase() === 'rec' ? obj.properties.sourcetable : undefined);
      if (table) obj.fieldRefs.push({ variable: r.variable, table, field: r.field, line: r.line });
    }
    objects.push(obj);
    i = close + 1;
  }
  return objects;
}
