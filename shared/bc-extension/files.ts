import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { parseAl } from './al';
import type { AlSource, AppJson } from './check';
import { appInfoSchema, type BaseAppFields, type BcExtensionManifest, baseAppFieldsSchema } from './manifest';

/** Reading the extension from disk (build time and tests; the running service uses the generated manifest). */

/** The repository root: the nearest folder above `from` with a package.json (works from `shared/` and `dist/shared/`). */
export function repositoryRoot(from: string = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bc-extension'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no repository root with bc-extension/ above ${from}`);
    dir = up;
  }
  return dir;
}

function alFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? alFiles(join(dir, e.name)) : e.name.endsWith('.al') ? [join(dir, e.name)] : []))
    .sort();
}

/** Every `.al` file under `bc-extension/src`, parsed. */
export function readAlSources(root: string = repositoryRoot()): AlSource[] {
  return alFiles(join(root, 'bc-extension', 'src')).map((path) => {
    const file = relative(root, path).split('\\').join('/');
    const text = readFileSync(path, 'utf8');
    return { file, text, objects: parseAl(text, file) };
  });
}

const appJsonSchema = appInfoSchema.extend({
  idRanges: z.array(z.object({ from: z.number().int(), to: z.number().int() })).min(1),
});

export function readAppJson(root: string = repositoryRoot()): AppJson & BcExtensionManifest['app'] {
  return appJsonSchema.parse(JSON.parse(readFileSync(join(root, 'bc-extension', 'app.json'), 'utf8')));
}

/** `bc-extension/base-app-fields.json`: the base-application field facts of the tables the extension uses. */
export const BASE_APP_FIELDS_FILE = join('bc-extension', 'base-app-fields.json');

export function readBaseAppFields(root: string = repositoryRoot()): BaseAppFields {
  return baseAppFieldsSchema.parse(JSON.parse(readFileSync(join(root, BASE_APP_FIELDS_FILE), 'utf8')));
}

export const MANIFEST_FILE = join('shared', 'bc-extension', 'manifest.json');
