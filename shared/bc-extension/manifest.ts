import { z } from 'zod';
import type { AlObject, AlPageField } from './al';
import shipped from './manifest.json';

/**
 * The contract of the service's BC extension, generated from its AL (`bc-extension/src`) by
 * `shared/bc-extension/generate.ts` at build time: per custom API entity set, the page, its source table and every
 * field with its AL source, AL type, whether the API accepts a value for it, and which one is the key. The BC
 * simulator serves its custom pages from this, and mapping validation checks mappings against it.
 */

export const baseAppFieldsSchema = z.object({
  /** Where the facts come from (repository and commit). */
  source: z.string(),
  tables: z.record(
    z.string(),
    z.object({
      id: z.number().int(),
      fields: z.array(
        z.object({
          no: z.number().int(),
          name: z.string(),
          type: z.string(),
          fieldClass: z.enum(['Normal', 'FlowField', 'FlowFilter']).optional(),
          obsoleteState: z.string().optional(),
        }),
      ),
    }),
  ),
});
export type BaseAppFields = z.infer<typeof baseAppFieldsSchema>;

export const manifestFieldSchema = z.object({
  /** API property name. */
  name: z.string(),
  /** AL field of the source table (`No.`, `SystemId`), or `null` when the control shows a page variable. */
  alField: z.string().nullable(),
  /** AL type as the table (or the page variable) declares it, e.g. `Code[20]`, `Enum "Sales Line Type"`. */
  type: z.string(),
  /** The API accepts a value for it (insert or modify). */
  editable: z.boolean(),
  /** The page's ODataKeyFields. */
  key: z.boolean(),
  flowField: z.boolean(),
});
export type ManifestField = z.infer<typeof manifestFieldSchema>;

export const manifestPageSchema = z.object({
  page: z.string(),
  pageId: z.number().int(),
  file: z.string(),
  entityName: z.string(),
  table: z.string(),
  tableId: z.number().int(),
  /** SourceTableView as written, e.g. `where("Document Type" = const(Order))`. */
  view: z.string().optional(),
  insertAllowed: z.boolean(),
  modifyAllowed: z.boolean(),
  deleteAllowed: z.boolean(),
  /** Sub-pages: navigation property → entity set of the part's page. */
  parts: z.record(z.string(), z.string()),
  /** Bound actions (`Microsoft.NAV.<name>`). */
  actions: z.array(z.string()),
  fields: z.array(manifestFieldSchema),
});
export type ManifestPage = z.infer<typeof manifestPageSchema>;

/** The app.json properties the manifest carries. */
export const appInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  publisher: z.string(),
  version: z.string(),
  application: z.string(),
  runtime: z.string(),
});

export const bcExtensionManifestSchema = z.object({
  app: appInfoSchema,
  /** `<APIPublisher>/<APIGroup>/<APIVersion>`. */
  route: z.string(),
  /** Where the base-application field facts come from. */
  baseAppSource: z.string(),
  entitySets: z.record(z.string(), manifestPageSchema),
});
export type BcExtensionManifest = z.infer<typeof bcExtensionManifestSchema>;

/** The manifest of the extension in this repository, as generated at build time. */
export const BC_EXTENSION_MANIFEST: BcExtensionManifest = bcExtensionManifestSchema.parse(shipped);

const SYSTEM_FIELDS: Record<string, string> = {
  SystemId: 'Guid',
  SystemCreatedAt: 'DateTime',
  SystemCreatedBy: 'Guid',
  SystemModifiedAt: 'DateTime',
  SystemModifiedBy: 'Guid',
};

export interface TableFieldFact {
  name: string;
  type: string;
  flowField: boolean;
  /** Declared `Editable = false` on the table field (table extensions only; the facts file has no such column). */
  readOnly: boolean;
}

/** The fields of `table` as the base application and this repository's table extensions declare them. */
export function tableFieldFacts(
  table: string,
  facts: BaseAppFields,
  objects: readonly AlObject[],
): Map<string, TableFieldFact> | undefined {
  const base = facts.tables[table];
  if (!base) return undefined;
  const out = new Map<string, TableFieldFact>();
  // The platform maintains the system fields; only SystemId can be given, on insert.
  for (const [name, type] of Object.entries(SYSTEM_FIELDS))
    out.set(name.toLowerCase(), { name, type, flowField: false, readOnly: name !== 'SystemId' });
  for (const f of base.fields)
    out.set(f.name.toLowerCase(), { name: f.name, type: f.type, flowField: f.fieldClass === 'FlowField', readOnly: false });
  for (const ext of objects)
    if (ext.type === 'tableextension' && ext.extends === table)
      for (const f of ext.tableFields)
        out.set(f.name.toLowerCase(), {
          name: f.name,
          type: f.type,
          flowField: f.properties.fieldclass === 'FlowField',
          readOnly: f.properties.editable?.toLowerCase() === 'false',
        });
  return out;
}

const isFalse = (v: string | undefined) => v?.toLowerCase() === 'false';

/** Whether the API takes a value for the control: the page accepts writes, and the control, its source and its binding do. */
function editable(page: AlObject, f: AlPageField, fact: TableFieldFact | undefined): boolean {
  const p = page.properties;
  const pageWritable = !isFalse(p.editable) && !(isFalse(p.insertallowed) && isFalse(p.modifyallowed));
  if (!pageWritable || isFalse(f.properties.editable)) return false;
  if (f.source.kind === 'variable') return f.hasOnValidate;
  return fact !== undefined && !fact.flowField && !fact.readOnly;
}

/** The route an API page is published under. */
export const pageRoute = (page: AlObject) =>
  `${page.properties.apipublisher ?? ''}/${page.properties.apigroup ?? ''}/${page.properties.apiversion ?? ''}`;

/**
 * Builds the manifest from the parsed AL and the base-application facts. Throws on anything it cannot describe
 * (an unknown table or field, a page of another route): the structural check (`check.ts`) explains such problems
 * one by one; this refuses to produce a manifest from them.
 */
export function buildManifest(objects: readonly AlObject[], facts: BaseAppFields, app: BcExtensionManifest['app']): BcExtensionManifest {
  const pages = objects.filter((o) => o.type === 'page' && o.properties.pagetype?.toLowerCase() === 'api');
  const routes = new Set(pages.map(pageRoute));
  if (routes.size !== 1) throw new Error(`the extension's API pages must share one route, found ${[...routes].join(', ') || 'none'}`);
  const byName = new Map(pages.map((p) => [p.name, p]));
  const entitySets: BcExtensionManifest['entitySets'] = {};
  for (const page of [...pages].sort((a, b) => a.id - b.id)) {
    const where = `${page.file}: page ${page.id} "${page.name}"`;
    const set = page.properties.entitysetname;
    const table = page.properties.sourcetable;
    if (!set || !page.properties.entityname || !table) throw new Error(`${where}: EntityName, EntitySetName and SourceTable are required`);
    if (entitySets[set]) throw new Error(`${where}: entity set ${set} is declared twice`);
    const tableFacts = tableFieldFacts(table, facts, objects);
    if (!tableFacts) throw new Error(`${where}: table "${table}" is not in the base-application facts`);
    const key = page.properties.odatakeyfields;
    const fields = page.fields.map((f): ManifestField => {
      if (f.source.kind === 'variable') {
        const type = page.variables[f.source.name];
        if (!type) throw new Error(`${where}: field ${f.name} shows ${f.source.name}, which is not a page variable`);
        return { name: f.name, alField: null, type, editable: editable(page, f, undefined), key: false, flowField: false };
      }
      const fact = tableFacts.get(f.source.field.toLowerCase());
      if (!fact) throw new Error(`${where}: field ${f.name} binds "${f.source.field}", which table "${table}" does not have`);
      return {
        name: f.name,
        alField: fact.name,
        type: fact.type,
        editable: editable(page, f, fact),
        key: key !== undefined && fact.name.toLowerCase() === key.toLowerCase(),
        flowField: fact.flowField,
      };
    });
    const parts: Record<string, string> = {};
    for (const part of page.parts) {
      const sub = byName.get(part.page);
      const subSet = sub?.properties.entitysetname;
      if (!subSet) throw new Error(`${where}: part ${part.name} shows page "${part.page}", which is not an API page of the extension`);
      parts[part.name] = subSet;
    }
    const allowed = (p: string | undefined) => !isFalse(p) && !isFalse(page.properties.editable);
    entitySets[set] = {
      page: page.name,
      pageId: page.id,
      file: page.file,
      entityName: page.properties.entityname,
      table,
      tableId: facts.tables[table]?.id ?? 0,
      ...(page.properties.sourcetableview ? { view: page.properties.sourcetableview } : {}),
      insertAllowed: allowed(page.properties.insertallowed),
      modifyAllowed: allowed(page.properties.modifyallowed),
      deleteAllowed: allowed(page.properties.deleteallowed),
      parts,
      actions: page.serviceEnabled.map((n) => n.charAt(0).toLowerCase() + n.slice(1)),
      fields,
    };
  }
  return bcExtensionManifestSchema.parse({ app, route: [...routes][0], baseAppSource: facts.source, entitySets });
}

/** The page serving `entitySet` on the extension's route, if the extension declares one. */
export function extensionPage(entitySet: string, manifest: BcExtensionManifest = BC_EXTENSION_MANIFEST): ManifestPage | undefined {
  return Object.hasOwn(manifest.entitySets, entitySet) ? manifest.entitySets[entitySet] : undefined;
}
