import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Language, type Node, Parser, type Tree } from 'web-tree-sitter';

/**
 * Bicep as a syntax tree, offline: tree-sitter-bicep's wasm grammar on web-tree-sitter (no Bicep CLI, no native
 * code). Gives syntax errors and structure (params, vars, resources, outputs, object literals), not types.
 */

export const REPO_ROOT = resolve(__dirname, '../..');
export const INFRA_DIR = join(REPO_ROOT, 'infra');
const WASM = join(REPO_ROOT, 'node_modules/tree-sitter-bicep/tree-sitter-bicep.wasm');

let parserPromise: Promise<Parser> | undefined;

export function bicepParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const language = await Language.load(WASM);
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

/** Every `.bicep` file under infra/, relative to it (`main.bicep`, `app/servicebus.bicep`, …). */
export function bicepFiles(dir: string = INFRA_DIR): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...bicepFiles(path));
    else if (entry.name.endsWith('.bicep')) out.push(relative(INFRA_DIR, path));
  }
  return out.sort();
}

export function readInfra(file: string): string {
  return readFileSync(join(INFRA_DIR, file), 'utf8');
}

export async function parseBicep(text: string): Promise<Tree> {
  const tree = (await bicepParser()).parse(text);
  if (!tree) throw new Error('tree-sitter returned no tree');
  return tree;
}

/** ERROR and MISSING nodes as `TYPE at line:col: text`. */
export function syntaxProblems(tree: Tree): string[] {
  const problems: string[] = [];
  const walk = (node: Node) => {
    if (node.isError || node.isMissing) {
      const kind = node.isMissing ? `MISSING ${node.type}` : 'ERROR';
      problems.push(`${kind} at ${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${node.text.slice(0, 60)}`);
    }
    for (const child of node.children) if (child) walk(child);
  };
  walk(tree.rootNode);
  return problems;
}

export interface Decorator {
  name: string;
  args: Node[];
}

export interface Declaration {
  kind: 'param' | 'var' | 'resource' | 'module' | 'output';
  name: string;
  /** Resource type with API version, module path, or param/output type. */
  typeText: string;
  /** The value (param default, var value, resource/module body, output value); undefined for params without default. */
  value: Node | undefined;
  decorators: Decorator[];
  node: Node;
}

const KINDS: Record<string, Declaration['kind']> = {
  parameter_declaration: 'param',
  variable_declaration: 'var',
  resource_declaration: 'resource',
  module_declaration: 'module',
  output_declaration: 'output',
};

function named(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null && c.type !== 'comment');
}

function decoratorsOf(node: Node): Decorator[] {
  return named(node).map((d) => {
    const call = named(d)[0];
    if (call?.type !== 'call_expression') return { name: call?.text ?? '', args: [] };
    const fn = call.childForFieldName('function');
    const args = call.childForFieldName('arguments');
    return { name: fn?.text ?? '', args: args ? named(args) : [] };
  });
}

/** Top-level declarations with their decorators, in file order. Nested resources are not included. */
export function declarations(tree: Tree): Declaration[] {
  const out: Declaration[] = [];
  let pending: Decorator[] = [];
  for (const node of named(tree.rootNode)) {
    if (node.type === 'decorators') {
      pending = pending.concat(decoratorsOf(node));
      continue;
    }
    const kind = KINDS[node.type];
    if (!kind) {
      pending = [];
      continue;
    }
    const parts = named(node);
    const [id, second] = parts;
    const value = kind === 'param' ? (parts.length > 2 ? parts[parts.length - 1] : undefined) : parts[parts.length - 1];
    out.push({
      kind,
      name: id?.text ?? '',
      typeText: kind === 'resource' || kind === 'module' ? stringValue(second) : kind === 'var' ? '' : (second?.text ?? ''),
      value: kind === 'var' ? second : value,
      decorators: pending,
      node,
    });
    pending = [];
  }
  return out;
}

export function find(decls: Declaration[], kind: Declaration['kind'], name: string): Declaration {
  const d = decls.find((x) => x.kind === kind && x.name === name);
  if (!d) throw new Error(`no ${kind} '${name}'`);
  return d;
}

/** Content of a string literal without interpolation; '' for anything else. */
export function stringValue(node: Node | null | undefined): string {
  if (node?.type !== 'string') return '';
  if (named(node).some((c) => c.type === 'interpolation')) return '';
  return named(node)
    .filter((c) => c.type === 'string_content' || c.type === 'escape_sequence')
    .map((c) => c.text)
    .join('');
}

/** Object literal → key → value node (keys unquoted). Throws on anything that is not an object literal. */
export function objectEntries(node: Node | null | undefined): Map<string, Node> {
  if (node?.type !== 'object') throw new Error(`expected an object literal, got ${node?.type ?? 'nothing'}: ${node?.text.slice(0, 80)}`);
  const map = new Map<string, Node>();
  for (const prop of named(node)) {
    if (prop.type !== 'object_property') continue;
    const [key, value] = named(prop);
    if (!key || !value) continue;
    map.set(key.type === 'string' ? stringValue(key) : key.text, value);
  }
  return map;
}

/** The value at a dotted path of nested object literals (`properties.disableLocalAuth`). */
export function at(node: Node | null | undefined, path: string): Node | undefined {
  let current: Node | undefined = node ?? undefined;
  for (const key of path.split('.')) {
    if (current?.type !== 'object') return undefined;
    current = objectEntries(current).get(key);
  }
  return current;
}

/** Literal value of number / boolean / plain string / object / array nodes; undefined for expressions. */
export function literal(node: Node | null | undefined): unknown {
  if (!node) return undefined;
  switch (node.type) {
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'string':
      return named(node).some((c) => c.type === 'interpolation') ? undefined : stringValue(node);
    case 'object':
      return Object.fromEntries([...objectEntries(node)].map(([k, v]) => [k, literal(v)]));
    case 'array':
      return named(node).map((c) => literal(c));
    case 'unary_expression':
      return node.text.startsWith('-') ? -Number(named(node)[0]?.text) : undefined;
    default:
      return undefined;
  }
}

/** Number argument of a decorator such as `@maxValue(5)`. */
export function decoratorNumber(decl: Declaration, name: string): number | undefined {
  const d = decl.decorators.find((x) => x.name === name);
  const v = literal(d?.args[0]);
  return typeof v === 'number' ? v : undefined;
}

/** Resources of a type (prefix before `@`), including nested child resources. */
export function resourcesOfType(tree: Tree, typePrefix: string): Node[] {
  const out: Node[] = [];
  const walk = (node: Node) => {
    if (node.type === 'resource_declaration') {
      const type = stringValue(named(node)[1]);
      if (type.split('@')[0] === typePrefix) out.push(node);
    }
    for (const c of named(node)) walk(c);
  };
  walk(tree.rootNode);
  return out;
}

/** Body object of a resource declaration (the object, the body of its `for`, or of its `if`). */
export function resourceBody(resource: Node): Node {
  const last = named(resource).at(-1);
  if (!last) throw new Error('resource without body');
  if (last.type === 'object') return last;
  const body =
    last.childForFieldName('body') ??
    named(last)
      .filter((c) => c.type === 'object')
      .at(-1);
  if (!body) throw new Error(`resource body not found in ${last.type}`);
  return body;
}

export function isExisting(resource: Node): boolean {
  return resource.children.some((c) => c?.type === 'existing');
}
