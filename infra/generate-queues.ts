import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { queuesDocument } from '../shared/queues';

/**
 * Writes `infra/queues.json` from the code's queue list so the Bicep never repeats a queue name.
 * Usage: `npx tsc -p infra/tsconfig.json && node dist/infra/generate-queues.js [--check]`; `--check` exits 1 when the file is stale.
 */

/** The exact text of `infra/queues.json`. */
export function renderQueuesJson(): string {
  return `${JSON.stringify(queuesDocument(), null, 2)}\n`;
}

/** `infra/queues.json` of the repository, whether this runs from `dist/infra/` (node) or `infra/` (vitest). */
export function queuesJsonPath(fromDir: string = __dirname): string {
  const compiled = basename(dirname(fromDir)) === 'dist';
  return resolve(fromDir, compiled ? '../../infra' : '.', 'queues.json');
}

function main(argv: string[]): number {
  const path = queuesJsonPath();
  const expected = renderQueuesJson();
  if (argv.includes('--check')) {
    let actual = '';
    try {
      actual = readFileSync(path, 'utf8');
    } catch {
      // A missing file is stale, reported below.
    }
    if (actual === expected) return 0;
    process.stderr.write(`${path} is out of date; run: node dist/infra/generate-queues.js\n`);
    return 1;
  }
  writeFileSync(path, expected);
  process.stdout.write(`wrote ${path} (${queuesDocument().queues.length} queues)\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
