import { randomBytes } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import {
  CUSTOM_MAPPING_QUEUE,
  type MappingMetadataPort,
  type MappingProblem,
  type TableMapping,
  TableMappingSchema,
  validateMappings,
} from '../../domain/mappings';
import { type Clock, systemClock } from '../../domain/ports';
import { SyncError } from '../../errors';
import { encodeKey, invertedTime, jsonProperties, readJsonProperty, storeCall } from './common';
import { MappingGenerations, type Pointer } from './mapping-generations';

/**
 * The table mappings as data (table `<prefix>Mappings`), seeded from BC's defaults on first use.
 *
 * Every change (put, delete, enable/disable, import) is copy-on-write: the complete new set is validated
 * first, then written as a new *generation* (PartitionKey `g_<generation>`, RowKey = mapping name, the
 * definition gzipped over binary properties when it outgrows one), and only then made current by one
 * ETag-checked write of the pointer row (`current`/`current`). Readers follow the pointer, so they see the
 * old set or the new one, never a mix, and a crash or a refused change leaves nothing half-written — however
 * many transactions the generation needed. The previous generation is kept for readers in flight; older
 * ones are removed after a grace period (`mapping-generations.ts`).
 *
 * Every committed change also leaves one change row per mapping it changed (PartitionKey `chg_<mapping>`,
 * RowKey newest first): who, when, what kind, and the definition before and after. That is the mapping's change
 * log, the diff the console shows, and what `undo` puts back.
 */

const CHANGE = 'chg_';

/** A change was refused: every problem is listed, each naming the mapping and, where it applies, the field. */
export class MappingValidationError extends SyncError {
  constructor(readonly problems: MappingProblem[]) {
    super(
      'MAP.INVALID',
      `Mapping change refused (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n- ${problems.map(describe).join('\n- ')}`,
      {
        details: { problems },
      },
    );
    this.name = 'MappingValidationError';
  }
}

/** Another writer changed the mappings at the same time, more often than the retry budget allows. */
export class MappingConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingConflictError';
  }
}

function describe(p: MappingProblem): string {
  const text = p.message.includes(p.mapping) ? p.message : `${p.mapping}: ${p.message}`;
  return p.field && !text.includes(p.field) ? `${text} [field ${p.field}]` : text;
}

export interface TableMappingStoreOptions {
  /** The mappings written on first use, when the table holds none (e.g. `defaultMappings(setup)`). */
  defaults: TableMapping[] | (() => TableMapping[]);
  /** How long a read set of mappings is reused before the table is read again. Default 10,000 ms. */
  cacheTtlMs?: number;
  /**
   * Both systems' metadata: when given, every change is also checked against it (columns exist, types
   * compatible, option values exist). The seed is checked structurally only. Default: structural checks only.
   */
  metadata?: MappingMetadataPort;
  clock?: Clock;
}

/** Who made a change and how, for the change log. */
export interface ChangeAudit {
  /** Caller name (Entra user, `key:Sync.Admin`…). Default `system`. */
  by?: string;
  /** What the change was: `edit`, `enable`, `disable`, `import`, `reset`, `undo`, `delete`. Default `edit`. */
  kind?: string;
}

/** One change of one mapping; `before` is absent for a new mapping, `after` for a deleted one. */
export interface MappingChange {
  id: string;
  mapping: string;
  at: string;
  by: string;
  kind: string;
  before?: TableMapping;
  after?: TableMapping;
}

/** The mapping changed since the change being undone: undoing would throw that newer change away. */
export class MappingChangedSinceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingChangedSinceError';
  }
}

interface Snapshot {
  pointer: Pointer;
  mappings: TableMapping[];
  readAt: number;
}

export class TableMappingStore {
  private readonly ttl: number;
  private readonly clock: Clock;
  private cache: Snapshot | undefined;
  private readonly generations: MappingGenerations;

  constructor(
    readonly client: TableClient,
    private readonly options: TableMappingStoreOptions,
  ) {
    this.ttl = Math.max(0, options.cacheTtlMs ?? 10_000);
    this.clock = options.clock ?? systemClock;
    this.generations = new MappingGenerations(client, this.clock);
  }

  /** All mappings, sorted by name; served from the cache while it is younger than `cacheTtlMs`. */
  async list(options: { fresh?: boolean } = {}): Promise<TableMapping[]> {
    const snap = await this.snapshot(options.fresh ?? false);
    return structuredClone(snap.mappings);
  }

  async get(name: string, options: { fresh?: boolean } = {}): Promise<TableMapping | undefined> {
    const snap = await this.snapshot(options.fresh ?? false);
    const found = snap.mappings.find((m) => m.name === name);
    return found ? structuredClone(found) : undefined;
  }

  /** The enabled mappings, what the engine syncs. */
  async enabled(): Promise<TableMapping[]> {
    return (await this.list()).filter((m) => m.enabled);
  }

  /** Adds a mapping or replaces the one with the same name, after validating the whole resulting set. */
  async put(input: unknown, audit: ChangeAudit = {}): Promise<TableMapping> {
    const parsed = TableMappingSchema.safeParse(input);
    if (!parsed.success) {
      // validateMappings names the mapping and the field of each schema issue; the zod text is the fallback.
      const named = await validateMappings([input]);
      const name = typeof (input as { name?: unknown } | null)?.name === 'string' ? (input as { name: string }).name : '(unnamed)';
      throw new MappingValidationError(
        named.length > 0 ? named : [{ mapping: name, code: 'schema', message: z.prettifyError(parsed.error) }],
      );
    }
    const mapping = this.onItsQueue(parsed.data);
    await this.change((current) => [...current.filter((m) => m.name !== mapping.name), mapping], false, audit);
    return structuredClone(mapping);
  }

  /**
   * The problems a put of `input` would be refused for (schema, the whole resulting set's structure, both systems'
   * metadata), without writing anything. Empty: it would be accepted.
   */
  async check(input: unknown): Promise<MappingProblem[]> {
    const parsed = TableMappingSchema.safeParse(input);
    if (!parsed.success) {
      const named = await validateMappings([input]);
      const name = typeof (input as { name?: unknown } | null)?.name === 'string' ? (input as { name: string }).name : '(unnamed)';
      return named.length > 0 ? named : [{ mapping: name, code: 'schema', message: z.prettifyError(parsed.error) }];
    }
    const current = await this.list({ fresh: true });
    const mapping = this.onItsQueue(parsed.data);
    return validateMappings([...current.filter((m) => m.name !== mapping.name), mapping], this.options.metadata);
  }

  /**
   * A mapping that is not one of BC's defaults is user-defined and travels on the one declared queue of
   * user-defined mappings (`sync-custom`, routed by the mapping name in each event): no queue or trigger of its
   * own is needed, so adding it needs no redeployment.
   */
  private onItsQueue(mapping: TableMapping): TableMapping {
    if (this.defaults().some((d) => d.name === mapping.name)) return mapping;
    return { ...mapping, userDefined: true, queueName: CUSTOM_MAPPING_QUEUE };
  }

  /** The default definition of a mapping (BC's defaults for this connection setup); undefined for a user-defined one. */
  defaultOf(name: string): TableMapping | undefined {
    const found = this.defaults().find((m) => m.name === name);
    return found ? TableMappingSchema.parse(found) : undefined;
  }

  /**
   * BC's "Use Default Synchronization Setup": puts back the default definition of one mapping, or of every
   * default mapping (`name` undefined; user-defined mappings are kept). Returns the names that changed.
   */
  async reset(name: string | undefined, audit: ChangeAudit = {}): Promise<string[]> {
    const defaults = this.defaults().map((m) => TableMappingSchema.parse(m));
    if (name !== undefined && !defaults.some((m) => m.name === name))
      throw new SyncError('MAP.INVALID', `${name} is not a default mapping; there is nothing to reset it to.`, {
        details: { mapping: name },
      });
    let changed: string[] = [];
    await this.change(
      (current) => {
        const wanted = name === undefined ? defaults : defaults.filter((m) => m.name === name);
        const next = [...current.filter((m) => !wanted.some((d) => d.name === m.name)), ...wanted];
        changed = wanted
          .filter(
            (d) =>
              !sameDefinition(
                current.find((m) => m.name === d.name),
                d,
              ),
          )
          .map((d) => d.name);
        return changed.length > 0 ? next : undefined;
      },
      false,
      { kind: 'reset', ...audit },
    );
    return changed;
  }

  /** The change log of a mapping, newest first (at most `limit`, default 20). */
  async changes(name: string, options: { limit?: number } = {}): Promise<MappingChange[]> {
    const limit = Math.min(Math.max(options.limit ?? 20, 1), 200);
    const out: MappingChange[] = [];
    await storeCall('reading mapping changes', async () => {
      for await (const page of this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${CHANGE + encodeKey(name)}` } })
        .byPage({ maxPageSize: limit })) {
        for (const row of page.slice(0, limit - out.length)) out.push(toChange(row));
        if (out.length >= limit) break;
      }
    });
    return out;
  }

  /**
   * Undoes the latest change of a mapping (one click on the console): puts back its `before` (deletes the mapping
   * when the change created it). Refused with {@link MappingChangedSinceError} when the mapping is no longer what
   * that change left. Undoing an undo redoes.
   */
  async undo(name: string, audit: ChangeAudit = {}): Promise<MappingChange> {
    const [last] = await this.changes(name, { limit: 1 });
    if (!last) throw new SyncError('MAP.INVALID', `${name} has no recorded change to undo.`, { details: { mapping: name } });
    await this.change(
      (current) => {
        const now = current.find((m) => m.name === name);
        if (!sameDefinition(now, last.after))
          throw new MappingChangedSinceError(`${name} changed after the change of ${last.at} by ${last.by}; reload it and undo again.`);
        const rest = current.filter((m) => m.name !== name);
        return last.before ? [...rest, last.before] : rest;
      },
      false,
      { kind: 'undo', ...audit },
    );
    return last;
  }

  private defaults(): TableMapping[] {
    return typeof this.options.defaults === 'function' ? this.options.defaults() : this.options.defaults;
  }

  /** Removes a mapping; refused when others still depend on it. Returns false when there was none. */
  async delete(name: string, audit: ChangeAudit = {}): Promise<boolean> {
    let existed = false;
    await this.change(
      (current) => {
        existed = current.some((m) => m.name === name);
        return existed ? current.filter((m) => m.name !== name) : undefined;
      },
      false,
      { kind: 'delete', ...audit },
    );
    return existed;
  }

  async setEnabled(name: string, enabled: boolean, audit: ChangeAudit = {}): Promise<TableMapping> {
    let result: TableMapping | undefined;
    await this.change(
      (current) => {
        const found = current.find((m) => m.name === name);
        if (!found) throw new SyncError('MAP.INVALID', `There is no table mapping named ${name}.`, { details: { mapping: name } });
        result = { ...found, enabled };
        return found.enabled === enabled ? undefined : current.map((m) => (m.name === name ? result! : m));
      },
      false,
      { kind: enabled ? 'enable' : 'disable', ...audit },
    );
    return structuredClone(result!);
  }

  disable(name: string, audit: ChangeAudit = {}): Promise<TableMapping> {
    return this.setEnabled(name, false, audit);
  }

  enable(name: string, audit: ChangeAudit = {}): Promise<TableMapping> {
    return this.setEnabled(name, true, audit);
  }

  /** Every mapping as a JSON-ready array, sorted by name; `import` of it restores exactly this set. */
  async export(): Promise<TableMapping[]> {
    return this.list({ fresh: true });
  }

  /**
   * Replaces the set (`replace`, default) or adds/overwrites the given mappings (`merge`). Accepts an array
   * or a `{ mappings: [...] }` document. Everything is validated before anything is written; a refused
   * import lists every problem and changes nothing.
   */
  async import(input: unknown, options: { mode?: 'replace' | 'merge' } & ChangeAudit = {}): Promise<{ count: number }> {
    const items = Array.isArray(input)
      ? input
      : typeof input === 'object' && input !== null && Array.isArray((input as { mappings?: unknown }).mappings)
        ? (input as { mappings: unknown[] }).mappings
        : undefined;
    if (!items) {
      throw new MappingValidationError([
        { mapping: '(import)', code: 'schema', message: 'expected a JSON array of mappings or { "mappings": [...] }' },
      ]);
    }
    // Per-item schema problems first, with names, before anything else is looked at.
    const schemaProblems = (await validateMappings(items)).filter((p) => p.code === 'schema');
    if (schemaProblems.length > 0) throw new MappingValidationError(schemaProblems);
    const incoming = items.map((raw) => TableMappingSchema.parse(raw));
    const names = new Set(incoming.map((m) => m.name));
    let count = 0;
    await this.change(
      (current) => {
        const next = options.mode === 'merge' ? [...current.filter((m) => !names.has(m.name)), ...incoming] : incoming;
        count = next.length;
        return next;
      },
      true,
      { kind: 'import', ...(options.by ? { by: options.by } : {}) },
    );
    return { count };
  }

  /** Drops the cached set, e.g. after an admin changed mappings through another instance. */
  invalidate(): void {
    this.cache = undefined;
  }

  /**
   * Applies `edit` to the current set and commits it; retried on a concurrent change. `edit` returning
   * undefined means "nothing to change".
   */
  private async change(
    edit: (current: TableMapping[]) => TableMapping[] | undefined,
    alwaysWrite = false,
    audit: ChangeAudit = {},
  ): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const snap = await this.snapshot(true);
      const next = edit(structuredClone(snap.mappings));
      if (next === undefined && !alwaysWrite) return;
      const set = next ?? snap.mappings;
      const problems = await validateMappings(set, this.options.metadata);
      if (problems.length > 0) throw new MappingValidationError(problems);
      if (await this.commit(set, snap.pointer)) {
        await this.logChanges(snap.mappings, set, audit);
        return;
      }
    }
    throw new MappingConflictError('The mappings kept changing while this change was being saved; try again.');
  }

  /** One change row per mapping whose definition differs between the two sets. */
  private async logChanges(before: TableMapping[], after: TableMapping[], audit: ChangeAudit): Promise<void> {
    const at = this.clock.now();
    const names = new Set([...before, ...after].map((m) => m.name));
    for (const name of names) {
      const b = before.find((m) => m.name === name);
      const a = after.find((m) => m.name === name);
      if (sameDefinition(b, a)) continue;
      const entity = {
        partitionKey: CHANGE + encodeKey(name),
        rowKey: `${invertedTime(at)}_${randomBytes(4).toString('hex')}`,
        mapping: name,
        at: at.toISOString(),
        by: audit.by ?? 'system',
        kind: audit.kind ?? 'edit',
        ...jsonProperties('before', b, 400 * 1024),
        ...jsonProperties('after', a, 400 * 1024),
      };
      await storeCall('recording a mapping change', () => this.client.createEntity(entity));
    }
  }

  /** Writes the set as a new generation and makes it current; false when another writer got there first. */
  private async commit(mappings: TableMapping[], expected: Pointer | undefined): Promise<boolean> {
    const committed = await this.generations.write(mappings, expected);
    if (committed) this.cache = undefined;
    return committed;
  }

  private async snapshot(fresh: boolean): Promise<Snapshot> {
    const now = this.clock.now().getTime();
    if (!fresh && this.cache && now - this.cache.readAt < this.ttl) return this.cache;
    for (let attempt = 0; attempt < 5; attempt++) {
      const pointer = await this.generations.readPointer();
      if (!pointer) {
        await this.seed();
        continue;
      }
      const mappings = await this.generations.read(pointer.generation);
      // Fewer rows than the pointer promises: the generation was collected under us; follow the new pointer.
      if (mappings.length !== pointer.count) continue;
      this.cache = { pointer, mappings, readAt: now };
      return this.cache;
    }
    throw new SyncError('STORE.UNAVAILABLE', 'could not read a consistent set of mappings');
  }

  private async seed(): Promise<void> {
    const defaults = this.defaults();
    const problems = await validateMappings(defaults);
    if (problems.length > 0) throw new MappingValidationError(problems);
    // Losing the race to another instance's seed is fine: the caller re-reads and gets theirs.
    await this.commit(
      defaults.map((m) => TableMappingSchema.parse(m)),
      undefined,
    );
  }
}

function sameDefinition(a: TableMapping | undefined, b: TableMapping | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function toChange(row: Record<string, unknown>): MappingChange {
  const before = readJsonProperty(row, 'before');
  const after = readJsonProperty(row, 'after');
  return {
    id: String(row.rowKey),
    mapping: String(row.mapping),
    at: String(row.at),
    by: String(row.by),
    kind: String(row.kind),
    ...(before === undefined ? {} : { before: TableMappingSchema.parse(before) }),
    ...(after === undefined ? {} : { after: TableMappingSchema.parse(after) }),
  };
}
