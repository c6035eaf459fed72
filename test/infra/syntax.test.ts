import { describe, expect, it } from 'vitest';
import { bicepFiles, parseBicep, readInfra, syntaxProblems } from './bicep';

// The Bicep CLI cannot run offline here (no `bicep build`); tree-sitter-bicep gives the syntax check.
describe('Bicep syntax (tree-sitter-bicep)', () => {
  const files = bicepFiles();

  it('finds main.bicep and every module main.bicep references', () => {
    expect(files).toContain('main.bicep');
    for (const module of ['identity', 'functionapp', 'servicebus', 'storage', 'keyvault', 'monitoring', 'rbac'])
      expect(files).toContain(`app/${module}.bicep`);
  });

  it.each(files)('%s parses without ERROR or MISSING nodes', async (file) => {
    const tree = await parseBicep(readInfra(file));
    expect(syntaxProblems(tree)).toEqual([]);
  });

  it('reports a broken file (the check itself can fail)', async () => {
    const broken = readInfra('app/servicebus.bicep').replace("sku: {\n    name: 'Standard'", "sku: {\n    name: 'Standard' ,,");
    const tree = await parseBicep(broken);
    expect(syntaxProblems(tree).length).toBeGreaterThan(0);
    const unclosed = await parseBicep("param x string\nresource r 'A/b@2020-01-01' = {\n  name: 'n'\n");
    expect(syntaxProblems(unclosed).length).toBeGreaterThan(0);
  });
});
