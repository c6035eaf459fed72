import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declarations, INFRA_DIR, parseBicep, REPO_ROOT, readInfra } from './bicep';

describe('azd layout', () => {
  it('azure.yaml deploys this folder as a TypeScript Function App and checks queues.json before provisioning', () => {
    const yaml = readFileSync(join(REPO_ROOT, 'azure.yaml'), 'utf8');
    expect(yaml).toMatch(/^\s{4}project: \.$/m);
    expect(yaml).toMatch(/^\s{4}language: ts$/m);
    expect(yaml).toMatch(/^\s{4}host: function$/m);
    expect(yaml).toMatch(/generate-queues\.js --check/);
  });

  it('main.bicep is subscription-scoped and every module file exists', async () => {
    const text = readInfra('main.bicep');
    const tree = await parseBicep(text);
    expect(tree.rootNode.namedChildren.find((c) => c?.type === 'target_scope_assignment')?.text).toBe("targetScope = 'subscription'");
    const modules = declarations(tree).filter((d) => d.kind === 'module');
    expect(modules.length).toBeGreaterThanOrEqual(7);
    for (const m of modules) expect(existsSync(join(INFRA_DIR, m.typeText)), m.typeText).toBe(true);
    const abbrs = JSON.parse(readInfra('abbreviations.json')) as Record<string, string>;
    for (const [, key] of text.matchAll(/abbrs\.(\w+)/g)) expect(abbrs, `abbreviations.json lacks ${key}`).toHaveProperty(key as string);
  });

  it('main.parameters.json sets exactly main.bicep parameters, including every one without a default', async () => {
    const decls = declarations(await parseBicep(readInfra('main.bicep'))).filter((d) => d.kind === 'param');
    const params = JSON.parse(readInfra('main.parameters.json')).parameters as Record<string, { value: unknown }>;
    const names = decls.map((d) => d.name);
    for (const key of Object.keys(params)) expect(names, `${key} is not a main.bicep parameter`).toContain(key);
    for (const d of decls.filter((x) => x.value === undefined)) expect(Object.keys(params), `${d.name} has no value`).toContain(d.name);
    // azd substitutes these from the environment.
    expect(params.environmentName?.value).toBe('$' + '{AZURE_ENV_NAME}');
    expect(params.location?.value).toBe('$' + '{AZURE_LOCATION}');
    // Literal numbers/booleans match the parameter types (azd substitutes strings only).
    for (const d of decls) {
      const v = params[d.name]?.value;
      if (v === undefined) continue;
      const type = d.typeText;
      if (type === 'int') expect(typeof v, d.name).toBe('number');
      if (type === 'bool') expect(typeof v, d.name).toBe('boolean');
      if (type === 'string') expect(typeof v, d.name).toBe('string');
    }
  });

  it('@secure parameters are not given defaults and never reach an output', async () => {
    const decls = declarations(await parseBicep(readInfra('main.bicep')));
    const secure = decls.filter((d) => d.kind === 'param' && d.decorators.some((x) => x.name === 'secure'));
    expect(secure.map((d) => d.name).sort()).toEqual([
      'availabilityKey',
      'bcClientSecret',
      'bcWebhookSecret',
      'dataverseClientSecret',
      'dataverseWebhookKey',
    ]);
    for (const d of secure) {
      expect(d.value, d.name).toBeUndefined();
      for (const o of decls.filter((x) => x.kind === 'output'))
        expect(o.value?.text ?? '', o.name).not.toMatch(new RegExp(`\\b${d.name}\\b`));
    }
    // Outputs are UPPER_SNAKE so azd exports them as environment values.
    for (const o of decls.filter((x) => x.kind === 'output')) expect(o.name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });
});
