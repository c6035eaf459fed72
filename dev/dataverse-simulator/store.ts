import type { Catalog, EntityMeta } from './metadata';

/**
 * A stored row in Web API wire form: `accountid`, `name`, `_primarycontactid_value`, plus the lookup annotations
 * `_x_value@Microsoft.Dynamics.CRM.lookuplogicalname` (kept so polymorphic lookups know their target table) and
 * `versionnumber`. Absent keys mean null (rows are sparse so 100,000 accounts stay small).
 */
export type StoredRow = Record<string, unknown>;

export interface Tombstone {
  id: string;
  version: number;
}

/** One table: rows by id, deletions for change tracking, alternate-key indexes and a sorted id cache for paging. */
export class Table {
  readonly rows = new Map<string, StoredRow>();
  readonly tombstones: Tombstone[] = [];
  /** Alternate key (joined column names) -> serialised key values -> id. */
  readonly keyIndexes = new Map<string, Map<string, string>>();
  private sorted: string[] | undefined;

  constructor(readonly meta: EntityMeta) {
    for (const key of meta.alternateKeys) this.keyIndexes.set(key.join(','), new Map());
  }

  /** Ids in primary-key order; rebuilt lazily after inserts/deletes so repeated pages cost O(log n + page). */
  sortedIds(): string[] {
    if (!this.sorted) this.sorted = [...this.rows.keys()].sort();
    return this.sorted;
  }

  invalidateOrder(): void {
    this.sorted = undefined;
  }
}

export function keyValueString(values: unknown[]): string {
  return JSON.stringify(values.map((v) => (typeof v === 'string' ? v.toLowerCase() : v)));
}

type Undo = () => void;

/**
 * In-memory org database. Every write takes the next org-wide version number (like SQL rowversion), which is what
 * ETags, `versionnumber` and change-tracking tokens are built from. Writes inside `transaction` can be rolled back
 * (used by $batch change sets).
 */
export class Store {
  readonly tables = new Map<string, Table>();
  version = 1_000_000;
  private undo: Undo[] | undefined;

  constructor(readonly catalog: Catalog) {
    this.clear();
  }

  clear(): void {
    this.tables.clear();
    for (const meta of this.catalog.byLogicalName.values()) this.tables.set(meta.logicalName, new Table(meta));
  }

  table(logicalName: string): Table {
    const t = this.tables.get(logicalName);
    if (!t) throw new Error(`No simulated table '${logicalName}'.`);
    return t;
  }

  get(logicalName: string, id: string): StoredRow | undefined {
    return this.table(logicalName).rows.get(id.toLowerCase());
  }

  nextVersion(): number {
    this.version += 1;
    return this.version;
  }

  /** Id of the row whose alternate key `columns` has `values`, if any. */
  findByKey(logicalName: string, columns: string[], values: unknown[]): string | undefined {
    const t = this.table(logicalName);
    const index = t.keyIndexes.get(columns.join(','));
    if (index) return index.get(keyValueString(values));
    // Not a defined key (e.g. a lookup column key): scan.
    for (const [id, row] of t.rows) {
      if (columns.every((c, i) => sameKeyValue(row[c], values[i]))) return id;
    }
    return undefined;
  }

  /** Alternate-key values of `row` that clash with another row, or undefined. */
  keyConflict(logicalName: string, id: string, row: StoredRow): string[] | undefined {
    const t = this.table(logicalName);
    for (const key of t.meta.alternateKeys) {
      const values = key.map((c) => row[c]);
      if (values.some((v) => v === undefined || v === null || v === '')) continue;
      const other = t.keyIndexes.get(key.join(','))?.get(keyValueString(values));
      if (other !== undefined && other !== id) return key;
    }
    return undefined;
  }

  /** Inserts or replaces a row (the caller has already assigned versionnumber). */
  put(logicalName: string, id: string, row: StoredRow): void {
    const t = this.table(logicalName);
    const before = t.rows.get(id);
    if (before) this.unindex(t, id, before);
    t.rows.set(id, row);
    this.index(t, id, row);
    if (!before) t.invalidateOrder();
    this.undo?.push(() => {
      this.unindex(t, id, row);
      if (before) {
        t.rows.set(id, before);
        this.index(t, id, before);
      } else {
        t.rows.delete(id);
        t.invalidateOrder();
      }
    });
  }

  remove(logicalName: string, id: string): StoredRow | undefined {
    const t = this.table(logicalName);
    const before = t.rows.get(id);
    if (!before) return undefined;
    this.unindex(t, id, before);
    t.rows.delete(id);
    t.invalidateOrder();
    const tomb: Tombstone = { id, version: this.nextVersion() };
    t.tombstones.push(tomb);
    this.undo?.push(() => {
      t.rows.set(id, before);
      this.index(t, id, before);
      t.invalidateOrder();
      const at = t.tombstones.indexOf(tomb);
      if (at >= 0) t.tombstones.splice(at, 1);
    });
    return before;
  }

  /** Runs `fn` so that a thrown error undoes every write it made. Nested calls join the outer transaction. */
  transaction<T>(fn: () => T): T {
    if (this.undo) return fn();
    const log: Undo[] = [];
    this.undo = log;
    try {
      return fn();
    } catch (err) {
      for (let i = log.length - 1; i >= 0; i--) log[i]?.();
      throw err;
    } finally {
      this.undo = undefined;
    }
  }

  /** Starts an explicit transaction that spans async work ($batch change sets); returns commit/rollback. */
  begin(): { commit: () => void; rollback: () => void } {
    const log: Undo[] = [];
    this.undo = log;
    return {
      commit: () => {
        this.undo = undefined;
      },
      rollback: () => {
        for (let i = log.length - 1; i >= 0; i--) log[i]?.();
        this.undo = undefined;
      },
    };
  }

  private index(t: Table, id: string, row: StoredRow): void {
    for (const key of t.meta.alternateKeys) {
      const values = key.map((c) => row[c]);
      if (values.some((v) => v === undefined || v === null || v === '')) continue;
      t.keyIndexes.get(key.join(','))?.set(keyValueString(values), id);
    }
  }

  private unindex(t: Table, id: string, row: StoredRow): void {
    for (const key of t.meta.alternateKeys) {
      const values = key.map((c) => row[c]);
      const index = t.keyIndexes.get(key.join(','));
      const k = keyValueString(values);
      if (index?.get(k) === id) index.delete(k);
    }
  }
}

function sameKeyValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  return a === b || (a === undefined && b === null);
}
