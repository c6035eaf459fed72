import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkExtension } from './check';
import { BASE_APP_FIELDS_FILE, MANIFEST_FILE, readAlSources, readAppJson, readBaseAppFields, repositoryRoot } from './files';
import { type BaseAppFields, baseAppFieldsSchema, buildManifest } from './manifest';

/**
 * Build step (`npm run build`): checks the extension's AL and writes the manifest the simulator and mapping
 * validation read (shared/bc-extension/manifest.json, and its copy in dist/).
 *
 *   node dist/shared/bc-extension/generate.js            check the AL, write the manifest
 *   node dist/shared/bc-extension/generate.js --check    fail when the committed manifest is not what the AL says
 *   node dist/shared/bc-extension/generate.js facts <bc-base-app-fields.json>
 *       write bc-extension/base-app-fields.json: the fields of the tables the AL uses, taken from a full extract
 *       of microsoft/BCApps src/Layers/W1/BaseApp (the source and commit are kept in the file)
 */

export function generateManifestText(root: string): string {
  const sources = readAlSources(root);
  const facts = readBaseAppFields(root);
  const app = readAppJson(root);
  const problems = checkExtension(sources, app, facts);
  if (problems.length)
    throw new Error(`the BC extension's AL has problems:\n${problems.map((p) => `  ${p.file}:${p.line}: ${p.message}`).join('\n')}`);
  const { idRanges: _r, ...appInfo } = app;
  const manifest = buildManifest(
    sources.flatMap((s) => s.objects),
    facts,
    appInfo,
  );
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** The tables the AL uses (page sources, extended tables, tables of record variables in code) with all their fields. */
export function factsSubset(root: string, full: BaseAppFields): BaseAppFields {
  const objects = readAlSources(root).flatMap((s) => s.objects);
  const tables = new Set<string>();
  for (const o of objects) {
    if (o.type === 'page' && o.properties.sourcetable) tables.add(o.properties.sourcetable);
    if (o.type === 'tableextension' && o.extends) tables.add(o.extends);
    for (const r of o.fieldRefs) tables.add(r.table);
  }
  const missing = [...tables].filter((t) => !full.tables[t]);
  if (missing.length) throw new Error(`the facts file has no table(s) ${missing.join(', ')}`);
  const subset: BaseAppFields['tables'] = {};
  for (const t of [...tables].sort()) {
    const table = full.tables[t] as BaseAppFields['tables'][string];
    subset[t] = {
      id: table.id,
      fields: table.fields.map((f) => ({
        no: f.no,
        name: f.name,
        type: f.type,
        ...(f.fieldClass ? { fieldClass: f.fieldClass } : {}),
        ...(f.obsoleteState ? { obsoleteState: f.obsoleteState } : {}),
      })),
    };
  }
  return { source: full.source, tables: subset };
}

function main(argv: string[]): void {
  const root = repositoryRoot();
  if (argv[0] === 'facts') {
    if (!argv[1]) throw new Error('usage: generate.js facts <bc-base-app-fields.json>');
    const full = baseAppFieldsSchema.parse(JSON.parse(readFileSync(argv[1], 'utf8')));
    writeFileSync(join(root, BASE_APP_FIELDS_FILE), `${JSON.stringify(factsSubset(root, full), null, 1)}\n`);
    process.stdout.write(`wrote ${BASE_APP_FIELDS_FILE}\n`);
    return;
  }
  const text = generateManifestText(root);
  const target = join(root, MANIFEST_FILE);
  if (argv[0] === '--check') {
    if (!existsSync(target) || readFileSync(target, 'utf8') !== text) {
      process.stderr.write(`${MANIFEST_FILE} is out of date with bc-extension/src: run npm run build\n`);
      process.exitCode = 1;
    }
    return;
  }
  writeFileSync(target, text);
  // tsc copied the previous manifest into dist/ before this step ran.
  const built = join(root, 'dist', MANIFEST_FILE);
  if (existsSync(join(root, 'dist', 'shared', 'bc-extension'))) writeFileSync(built, text);
  process.stdout.write(`${MANIFEST_FILE}: ${Object.keys(JSON.parse(text).entitySets).length} entity sets\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
