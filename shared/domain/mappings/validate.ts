import { BC_EXTENSION_MANIFEST, type BcExtensionManifest, extensionPage } from '../../bc-extension/manifest';
import {
  type Direction,
  type FieldMapping,
  fieldLabel,
  type SyncDirection,
  type TableMapping,
  TableMappingSchema,
  type Transformation,
} from './schema';
import { bcTypeCategory, dataverseTypeCategory, incompatibility } from './type-compatibility';

/** One thing wrong with a mapping set; `field` is the `bcField -> dataverseColumn` label when a field is at fault. */
export interface MappingProblem {
  mapping: string;
  field?: string;
  /** Stable code for callers (HTTP layer, CLI). */
  code:
    | 'schema'
    | 'duplicate-name'
    | 'option-bidirectional'
    | 'direction-without-fields'
    | 'field-direction'
    | 'field-shape'
    | 'dependency-missing'
    | 'dependency-cycle'
    | 'lookup-missing'
    | 'lookup-entity-set'
    | 'parent-missing'
    | 'extension-missing'
    | 'option-mapping-shape'
    | 'coupling-rule'
    | 'ownership'
    | 'column-missing'
    | 'column-read-only'
    | 'bc-field-missing'
    | 'bc-field-read-only'
    | 'bc-extension-page-missing'
    /** PropagateDelete toward a BC extension page that does not allow deletes (real BC answers 405). */
    | 'bc-delete-not-allowed'
    | 'type-mismatch'
    | 'option-value-missing'
    /** A table or integration table filter the system itself refused (checked by the admin operations). */
    | 'filter-invalid';
  message: string;
}

/** Both systems' metadata, as adapters read it (Dataverse `AttributeType`, BC `$metadata` Edm types). */
export interface MappingMetadataPort {
  dataverseColumn(
    entityLogicalName: string,
    column: string,
  ): Promise<{ type: string; options?: number[]; validForCreate?: boolean; validForUpdate?: boolean } | undefined>;
  bcField(entitySet: string, field: string): Promise<{ type: string } | undefined>;
}

const flowsTo = (direction: Direction, pass: SyncDirection) => direction === 'Bidirectional' || direction === pass;

/** Unidirectional passes a table/field direction runs. */
export function passesOf(direction: Direction): SyncDirection[] {
  if (direction === 'Bidirectional') return ['ToIntegrationTable', 'FromIntegrationTable'];
  return [direction];
}

function referencedMappings(t: Transformation | undefined): string[] {
  if (!t) return [];
  switch (t.kind) {
    case 'lookup':
      return [t.mapping, ...t.alsoMappings];
    case 'currency':
    case 'unit':
      return [t.mapping];
    case 'optionMap':
      return [t.optionMapping];
    default:
      return [];
  }
}

/**
 * Structural validation of a mapping set (pure, synchronous part): schema, directions, field shapes,
 * dependencies (existence, acyclicity), lookups, parents, and the BC fields read or written through the service's
 * BC extension against what its AL declares (`extension`, default the manifest generated from bc-extension/src).
 * Returns every problem found; empty = valid.
 */
export function validateMappingsStructure(
  input: readonly unknown[],
  extension: BcExtensionManifest = BC_EXTENSION_MANIFEST,
): MappingProblem[] {
  const problems: MappingProblem[] = [];
  const parsed: TableMapping[] = [];
  // Names of schema-invalid mappings still count as existing, so one bad field does not cascade into
  // "dependency does not exist" problems elsewhere.
  const knownNames = new Set<string>();
  input.forEach((raw, index) => {
    const result = TableMappingSchema.safeParse(raw);
    const rawName =
      typeof raw === 'object' && raw !== null && typeof (raw as { name?: unknown }).name === 'string'
        ? (raw as { name: string }).name
        : `#${index}`;
    if (typeof raw === 'object' && raw !== null && typeof (raw as { name?: unknown }).name === 'string') knownNames.add(rawName);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const fieldLabelOf = fieldAt(raw, issue.path);
        problems.push({
          mapping: rawName,
          ...(fieldLabelOf ? { field: fieldLabelOf } : {}),
          code: 'schema',
          message: `${rawName}: ${issue.path.join('.') || '(mapping)'}: ${issue.message}`,
        });
      }
      return;
    }
    parsed.push(result.data);
  });

  const byName = new Map<string, TableMapping>();
  for (const m of parsed) {
    if (byName.has(m.name))
      problems.push({ mapping: m.name, code: 'duplicate-name', message: `Mapping '${m.name}' is defined more than once.` });
    byName.set(m.name, m);
  }
  for (const m of parsed) problems.push(...validateOne(m, byName, knownNames), ...extensionProblems(m, extension));
  problems.push(...cycleProblems(parsed));
  return problems;
}

function fieldAt(raw: unknown, path: readonly PropertyKey[]): string | undefined {
  if (path[0] !== 'fields' || typeof path[1] !== 'number') return undefined;
  const f = (raw as { fields?: unknown[] }).fields?.[path[1]];
  if (typeof f !== 'object' || f === null) return `fields[${path[1]}]`;
  const { bcField, dataverseColumn } = f as { bcField?: unknown; dataverseColumn?: unknown };
  return fieldLabel({
    bcField: typeof bcField === 'string' ? bcField : null,
    dataverseColumn: typeof dataverseColumn === 'string' ? dataverseColumn : null,
  });
}

function validateOne(m: TableMapping, byName: ReadonlyMap<string, TableMapping>, knownNames: ReadonlySet<string>): MappingProblem[] {
  const problems: MappingProblem[] = [];
  const add = (code: MappingProblem['code'], message: string, field?: FieldMapping) =>
    problems.push({ mapping: m.name, ...(field ? { field: fieldLabel(field) } : {}), code, message });

  if (m.optionMapping) {
    if (m.direction === 'Bidirectional') {
      // BC's OptionMappingCannotBeBidirectionalErr.
      add('option-bidirectional', `${m.name}: Option mappings can only synchronize from integration table or to integration table.`);
    }
    if (!m.dataverse.optionSetColumn || m.dataverse.modifiedOnColumn !== null) {
      add('option-mapping-shape', `${m.name}: an option mapping needs dataverse.optionSetColumn and no modifiedOnColumn.`);
    }
  }

  const enabled = m.fields.filter((f) => f.status === 'Enabled');
  for (const pass of passesOf(m.direction)) {
    if (!enabled.some((f) => flowsTo(f.direction, pass))) {
      // BC's DirectionFieldsErr.
      add('direction-without-fields', `${m.name}: direction ${m.direction} needs at least one enabled field mapping that flows ${pass}.`);
    }
  }

  for (const f of m.fields) {
    const label = fieldLabel(f);
    if (m.direction !== 'Bidirectional' && f.direction !== 'Bidirectional' && f.direction !== m.direction) {
      add(
        'field-direction',
        `${m.name}: field ${label} has direction ${f.direction}, which the table direction ${m.direction} never runs.`,
        f,
      );
    }
    const hasConstant = f.constant !== undefined;
    if (f.bcField === null && f.dataverseColumn === null)
      add('field-shape', `${m.name}: field mapping names neither a BC field nor a Dataverse column.`, f);
    if (hasConstant && f.bcField !== null && f.dataverseColumn !== null) {
      add('field-shape', `${m.name}: field ${label} has a constant but names both sides; a constant replaces one side.`, f);
    }
    if (!hasConstant && (f.bcField === null || f.dataverseColumn === null)) {
      add('field-shape', `${m.name}: field ${label} names only one side and has no constant.`, f);
    }
    if (hasConstant && f.bcField === null && f.direction !== 'ToIntegrationTable') {
      add('field-shape', `${m.name}: constant for Dataverse column ${f.dataverseColumn} must have direction ToIntegrationTable.`, f);
    }
    if (hasConstant && f.dataverseColumn === null && f.direction !== 'FromIntegrationTable') {
      add('field-shape', `${m.name}: constant for BC field ${f.bcField} must have direction FromIntegrationTable.`, f);
    }
    if (f.clearValueOnFailedSync && f.notNull) {
      add('field-shape', `${m.name}: field ${label} cannot have both clearValueOnFailedSync and notNull.`, f);
    }
    if (f.transformation?.kind === 'format' && f.direction !== 'ToIntegrationTable') {
      add('field-shape', `${m.name}: field ${label} uses a one-way format transformation, so its direction must be ToIntegrationTable.`, f);
    }
    if (f.bcExtension && !m.bc.extensionEntitySet) {
      add('extension-missing', `${m.name}: field ${label} is not on the standard API page but bc.extensionEntitySet is not set.`, f);
    }
    if (f.onlyForOwnership !== undefined && m.ownership !== f.onlyForOwnership) {
      add('ownership', `${m.name}: field ${label} only applies to ${f.onlyForOwnership} ownership, the mapping uses ${m.ownership}.`, f);
    }
    const t = f.transformation;
    for (const target of referencedMappings(t)) {
      const targetMapping = byName.get(target);
      if (!targetMapping) {
        if (!knownNames.has(target))
          add('lookup-missing', `${m.name}: field ${label} refers to mapping '${target}', which does not exist.`, f);
        continue;
      }
      if (t && (t.kind === 'lookup' || t.kind === 'currency' || t.kind === 'unit') && targetMapping.dataverse.entitySet !== t.entitySet) {
        add(
          'lookup-entity-set',
          `${m.name}: field ${label} binds to '${t.entitySet}' but mapping '${target}' syncs '${targetMapping.dataverse.entitySet}'.`,
          f,
        );
      }
      if (t?.kind === 'optionMap' && !targetMapping.optionMapping) {
        add('lookup-missing', `${m.name}: field ${label} refers to '${target}', which is not an option mapping.`, f);
      }
    }
  }

  for (const dep of m.dependencies) {
    if (dep === m.name) add('dependency-cycle', `${m.name}: a mapping cannot depend on itself.`);
    else if (!knownNames.has(dep)) add('dependency-missing', `${m.name}: dependency '${dep}' does not exist.`);
  }
  if (m.parent !== undefined && !knownNames.has(m.parent)) add('parent-missing', `${m.name}: parent mapping '${m.parent}' does not exist.`);

  const mapped = m.fields.filter((f) => f.constant === undefined);
  for (const mf of m.couplingRules.matchFields) {
    if (!mapped.some((f) => f.bcField === mf.bcField && f.dataverseColumn === mf.dataverseColumn)) {
      add(
        'coupling-rule',
        `${m.name}: match field ${mf.bcField} -> ${mf.dataverseColumn} is not one of the mapping's (non-constant) field mappings.`,
      );
    }
  }
  if (m.name === 'SALESPEOPLE' && m.couplingRules.createNewIfNoMatch) {
    // ShouldCreateNewRecordsInCaseOfNoMatch is hard-wired to false for SALESPEOPLE.
    add('coupling-rule', `${m.name}: match-based coupling never creates new records for SALESPEOPLE.`);
  }
  return problems;
}

/**
 * A mapping whose BC side is a custom API page (or that reads through a companion page, `extensionEntitySet`)
 * may only name fields that page declares, and may only write fields the page accepts: otherwise real BC answers
 * 404 for the page, or 400 for the property, on the first record.
 */
function extensionProblems(m: TableMapping, extension: BcExtensionManifest): MappingProblem[] {
  const problems: MappingProblem[] = [];
  const sets = [...(m.bc.kind === 'customApi' ? [m.bc.entitySet] : []), ...(m.bc.extensionEntitySet ? [m.bc.extensionEntitySet] : [])];
  for (const set of sets)
    if (!extensionPage(set, extension))
      problems.push({
        mapping: m.name,
        code: 'bc-extension-page-missing',
        message: `${m.name}: '${set}' is not an entity set of the BC extension (${extension.route}); its pages are: ${Object.keys(extension.entitySets).join(', ')}.`,
      });
  // With a companion page the engine reads and writes every field through it (bcTarget), not only bcExtension ones.
  const set = m.bc.extensionEntitySet ?? (m.bc.kind === 'customApi' ? m.bc.entitySet : undefined);
  const page = set === undefined ? undefined : extensionPage(set, extension);
  if (set === undefined || !page) return problems;
  const writes = flowsTo(m.direction, 'FromIntegrationTable');
  const names = new Map(page.fields.map((f) => [f.name, f]));
  const where = `BC extension page ${set} (${page.file})`;
  // PropagateDelete deletes the BC record whichever side was deleted first (sourceDeleted / destinationDeleted).
  if (m.deletionConflictResolution === 'PropagateDelete' && !page.deleteAllowed)
    problems.push({
      mapping: m.name,
      code: 'bc-delete-not-allowed',
      message: `${m.name}: deletion policy PropagateDelete would delete BC records through the ${where}, which does not allow deletes; choose RemoveCoupling, RestoreRecords or IgnoreAndReport.`,
    });
  for (const f of m.fields) {
    const label = fieldLabel(f);
    const add = (code: MappingProblem['code'], message: string) => problems.push({ mapping: m.name, field: label, code, message });
    const owner = f.transformation?.kind === 'unit' ? f.transformation.ownerBcField : undefined;
    for (const name of [f.bcField, owner]) {
      if (name == null) continue;
      if (!names.has(name)) add('bc-field-missing', `${m.name}: field '${name}' is not on the ${where}.`);
    }
    const target = f.bcField === null ? undefined : names.get(f.bcField);
    if (target && !target.editable && writes && flowsTo(f.direction, 'FromIntegrationTable'))
      add(
        'bc-field-read-only',
        `${m.name}: field ${label} writes '${f.bcField}', which is read-only on the ${where}; make the field mapping ToIntegrationTable or the page field editable.`,
      );
  }
  for (const mf of m.couplingRules.matchFields)
    if (!names.has(mf.bcField))
      problems.push({
        mapping: m.name,
        code: 'bc-field-missing',
        message: `${m.name}: match field '${mf.bcField}' is not on the ${where}.`,
      });
  return problems;
}

function cycleProblems(mappings: readonly TableMapping[]): MappingProblem[] {
  const names = new Set(mappings.map((m) => m.name));
  const deps = new Map(mappings.map((m) => [m.name, m.dependencies.filter((d) => names.has(d) && d !== m.name)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const problems: MappingProblem[] = [];
  const reported = new Set<string>();
  const visit = (name: string, path: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      const key = [...new Set(cycle)].sort().join('|');
      if (!reported.has(key)) {
        reported.add(key);
        problems.push({ mapping: name, code: 'dependency-cycle', message: `Dependency cycle: ${cycle.join(' -> ')}.` });
      }
      return;
    }
    state.set(name, 'visiting');
    for (const d of deps.get(name) ?? []) visit(d, [...path, name]);
    state.set(name, 'done');
  };
  for (const m of mappings) visit(m.name, []);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Metadata checks

/**
 * Full validation: the structural checks plus, given a metadata port, that every mapped column and field exists
 * with a compatible type ("column 'foo' does not exist on account"). Disabled fields are checked too, so enabling
 * one later cannot fail on metadata.
 */
export async function validateMappings(mappings: readonly unknown[], metadata?: MappingMetadataPort): Promise<MappingProblem[]> {
  const problems = validateMappingsStructure(mappings);
  if (!metadata) return problems;
  const parsed = mappings.flatMap((raw) => {
    const r = TableMappingSchema.safeParse(raw);
    return r.success ? [r.data] : [];
  });
  for (const m of parsed) {
    const entity = m.dataverse.entityLogicalName;
    for (const f of m.fields) {
      const label = fieldLabel(f);
      const add = (code: MappingProblem['code'], message: string) => problems.push({ mapping: m.name, field: label, code, message });
      let dv: Awaited<ReturnType<MappingMetadataPort['dataverseColumn']>>;
      let bc: { type: string } | undefined;
      // EntityName constants (owneridtype…) pick a polymorphic lookup's target; they are never written as columns.
      if (f.dataverseColumn !== null && f.dataverseType !== 'EntityName') {
        dv = await metadata.dataverseColumn(entity, f.dataverseColumn);
        if (!dv) add('column-missing', `${m.name}: column '${f.dataverseColumn}' does not exist on ${entity}.`);
        // An enabled field writing a column Dataverse sets itself (IsValidForCreate and IsValidForUpdate false).
        else if (
          f.status === 'Enabled' &&
          f.direction !== 'FromIntegrationTable' &&
          dv.validForCreate === false &&
          dv.validForUpdate === false
        ) {
          add('column-read-only', `${m.name}: column '${f.dataverseColumn}' of ${entity} is read-only (not valid for create or update).`);
        }
      }
      if (f.bcField !== null) {
        const entitySet = f.bcExtension && m.bc.extensionEntitySet ? m.bc.extensionEntitySet : m.bc.entitySet;
        bc = await metadata.bcField(entitySet, f.bcField);
        if (!bc) add('bc-field-missing', `${m.name}: field '${f.bcField}' does not exist on BC ${entitySet}.`);
      }
      if (f.constant === undefined && (!dv || !bc)) continue;
      const mismatch = incompatibility(
        f,
        // 'unknown': BC could not tell (an empty table without $metadata), so the type is not held against it.
        bc && bc.type !== 'unknown' ? bcTypeCategory(bc.type) : undefined,
        dv ? dataverseTypeCategory(dv.type) : undefined,
        m.optionMapping,
      );
      if (mismatch) {
        add('type-mismatch', `${m.name}: field ${label}: ${mismatch} (BC ${bc?.type ?? '-'}, Dataverse ${dv?.type ?? '-'}).`);
        continue;
      }
      const options = dv?.options;
      if (options) {
        const values: number[] = [];
        if (f.constant && typeof f.constant.value === 'number' && f.bcField === null) values.push(f.constant.value);
        if (f.transformation?.kind === 'optionMap') values.push(...Object.values(f.transformation.map));
        for (const v of values) {
          if (!options.includes(v))
            add('option-value-missing', `${m.name}: option value ${v} does not exist in ${entity}.${f.dataverseColumn}.`);
        }
      }
    }
  }
  return problems;
}

/**
 * Full-sync stages (BC's Full Synch. Review): each stage holds the enabled top-level mappings whose dependencies
 * are all in earlier stages. Line mappings (with a parent) are synced with their header and are left out;
 * dependencies on mappings not in the set are ignored (validation reports them). Throws on a cycle.
 */
export function dependencyOrder(mappings: readonly TableMapping[]): string[][] {
  const candidates = mappings.filter((m) => m.enabled && m.parent === undefined);
  const names = new Set(candidates.map((m) => m.name));
  const remaining = new Map(candidates.map((m) => [m.name, new Set(m.dependencies.filter((d) => names.has(d)))]));
  const stages: string[][] = [];
  const done = new Set<string>();
  while (remaining.size > 0) {
    // Keep the input order inside a stage so the result is deterministic.
    const stage = candidates
      .filter((m) => remaining.has(m.name) && [...(remaining.get(m.name) ?? [])].every((d) => done.has(d)))
      .map((m) => m.name);
    if (stage.length === 0) {
      throw new Error(`Dependency cycle among mappings: ${[...remaining.keys()].join(', ')}.`);
    }
    for (const n of stage) {
      remaining.delete(n);
      done.add(n);
    }
    stages.push(stage);
  }
  return stages;
}
