import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The domain's purity is enforced by the project's own Biome configuration (an override on shared/domain/**).
// Each probe is linted with that configuration in a scratch tree, so the repository is never touched.
const root = path.resolve(__dirname, '../..');
const biome = path.join(root, 'node_modules', '.bin', 'biome');
const scratch = mkdtempSync(path.join(tmpdir(), 'layers-'));
copyFileSync(path.join(root, 'biome.json'), path.join(scratch, 'biome.json'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function lint(file: string, source: string): { ok: boolean; output: string } {
  const target = path.join(scratch, file);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, source);
  try {
    const output = execFileSync(biome, ['lint', '--max-diagnostics=50', file], { cwd: scratch, encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

describe('layer rule: shared/domain stays pure', () => {
  const forbidden: Array<[string, string]> = [
    ['the Azure SDK', "import { ServiceBusClient } from '@azure/service-bus';\nexport const probe = ServiceBusClient;\n"],
    ['node:http', "import http from 'node:http';\nexport const probe = http;\n"],
    ['an adapter', "import { probeAdapter } from '../../adapters/tables/client';\nexport const probe = probeAdapter;\n"],
    ['a simulator under dev/', "import { probeSim } from '../../../dev/bc-simulator/store';\nexport const probe = probeSim;\n"],
  ];

  it.each(forbidden)('refuses %s inside shared/domain', (_what, source) => {
    const result = lint('shared/domain/sync/probe.ts', source);
    expect(result.ok).toBe(false);
    expect(result.output).toContain('noRestrictedImports');
  });

  it('allows the same import outside the domain', () => {
    const result = lint('shared/adapters/probe.ts', forbidden[0]![1]);
    expect(result.output).not.toContain('noRestrictedImports');
  });

  it('allows the domain its own modules, zod and shared/errors', () => {
    const source =
      "import { z } from 'zod';\nimport { SyncError } from '../../errors';\nimport { plan } from './plan';\nexport const probe = [z, SyncError, plan];\n";
    const result = lint('shared/domain/sync/probe-ok.ts', source);
    expect(result.output).not.toContain('noRestrictedImports');
  });
});

describe('layer rule: shared/ stays independent of the Functions library', () => {
  const functionsImport = "import type { HttpRequest } from '@azure/functions';\nexport type Probe = HttpRequest;\n";

  it.each(['shared/capture/probe.ts', 'shared/operations/probe.ts', 'shared/domain/probe.ts'])('refuses @azure/functions in %s', (file) => {
    const result = lint(file, functionsImport);
    expect(result.ok).toBe(false);
    expect(result.output).toContain('noRestrictedImports');
  });

  it('allows it in functions/', () => {
    const result = lint('functions/lib/probe.ts', functionsImport);
    expect(result.output).not.toContain('noRestrictedImports');
  });

  it('keeps the domain rule whole beside the shared/ rule', () => {
    const result = lint(
      'shared/domain/sync/probe-sb.ts',
      "import { ServiceBusClient } from '@azure/service-bus';\nexport const probe = ServiceBusClient;\n",
    );
    expect(result.ok).toBe(false);
  });
});
