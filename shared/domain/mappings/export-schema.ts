import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { MappingDocumentSchema } from './schema';

/** Repository path of the committed schema, relative to the project root. */
export const MAPPING_SCHEMA_PATH = 'schemas/mapping.schema.json';

/**
 * JSON Schema of a mapping document for editors. Input shape (`io: 'input'`): properties with defaults are
 * optional, as an admin may leave them out of a file they import.
 */
export function mappingJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(MappingDocumentSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://bc-dataverse-sync.local/schemas/mapping.schema.json',
    title: 'bc-dataverse-sync table and field mappings',
  };
}

/** The exact text committed at {@link MAPPING_SCHEMA_PATH}. */
export function mappingJsonSchemaText(): string {
  return `${JSON.stringify(mappingJsonSchema(), null, 2)}\n`;
}

// Run from the compiled output (`node dist/shared/domain/mappings/export-schema.js [projectRoot]`).
if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module) {
  const root = process.argv[2] ?? process.cwd();
  const target = resolve(root, MAPPING_SCHEMA_PATH);
  writeFileSync(target, mappingJsonSchemaText());
  process.stdout.write(`wrote ${target}\n`);
}
