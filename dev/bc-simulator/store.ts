import { randomUUID } from 'node:crypto';
import { BC_EXTENSION_MANIFEST } from '../../shared/bc-extension/manifest';
import type { SimClock } from './clock';
import { BcError, recordNotFound } from './errors';
import { afterInsert, applyRules } from './rules';
import { defaultValue, type FieldDef, type TableDef, type TableName, table as tableDef, tables } from './schema';

export type Row = Record<string, unknown>;

/** One BC record: API-facing field values plus the row version that drives the ETag. */
export interface Rec {
  data: Row;
  /** Like SQL rowversion: bumped from a store-wide counter on every real modification. */
  version: number;
  /** Insertion order; the tie-breaker that makes key-based paging total. */
  seq: number;
  etag?: string;
}

export type ChangeType = 'created' | 'updated' | 'deleted';

export interface ChangeEvent {
  companyId: string;
  table: TableName;
  id: string;
  changeType: ChangeType;
  /** Epoch ms on the simulator clock. */
  at: number;
  /** Who made the change (the bearer token's user, or `sim`); not part of the BC API, only for in-process observers. */
  actor: string;
}

export class TableStore {
  readonly byId = new Map<string, Rec>();
  readonly byKey = new Map<string, Rec>();
  /** Bumped when rows are added/removed or a key/sort-relevant change happens; invalidates sorted caches. */
  structureVersion = 0;
  /** Bumped on every write; invalidates caches that depend on field values ($orderby sorts). */
  dataVersion = 0;
  private sortedCache?: { v: number; rows: Rec[] };
  private readonly orderCache = new Map<string, { v: number; rows: Rec[] }>();
  nextNumber?: string;
  /** Next posted document number (posted invoices get numbers from their own series). */
  postedNumber?: string;
  /** How many bulk-generated records exist, so repeated seeding continues the numbering. */
  generated = 0;

  constructor(readonly def: TableDef) {
    this.nextNumber = def.numberSeries;
  }

  /** Records in primary key order (`No.`/`Code`, then insertion order for keyless tables). */
  sorted(): Rec[] {
    if (this.sortedCache && this.sortedCache.v === this.structureVersion) return this.sortedCache.rows;
    const rows = [...this.byId.values()];
    const key = this.def.keyField;
    if (key) {
      rows.sort((a, b) => {
        const x = a.data[key] as string;
        const y = b.data[key] as string;
        return x < y ? -1 : x > y ? 1 : a.seq - b.seq;
      });
    } else {
      rows.sort((a, b) => a.seq - b.seq);
    }
    this.sortedCache = { v: this.structureVersion, rows };
    return rows;
  }

  /** Records sorted by an arbitrary comparator, cached until the next write. */
  sortedBy(key: string, cmp: (a: Rec, b: Rec) => number): Rec[] {
    const v = this.dataVersion + this.structureVersion * 1e9;
    const hit = this.orderCache.get(key);
    if (hit && hit.v === v) return hit.rows;
    const rows = [...this.byId.values()].sort(cmp);
    if (this.orderCache.size > 8) this.orderCache.clear();
    this.orderCache.set(key, { v, rows });
    return rows;
  }
}

export class CompanyStore {
  readonly tables = new Map<TableName, TableStore>();
  constructor(
    readonly id: string,
    public name: string,
    public displayName: string,
    readonly createdAt: string,
    /** G/L Setup "LCY Code": blank currency codes mean this currency (api-contracts.md C.2). */
    public lcyCode = 'USD',
  ) {
    for (const def of tables.values()) this.tables.set(def.name, new TableStore(def));
  }

  table(name: TableName): TableStore {
    const t = this.tables.get(name);
    if (!t) throw new Error(`unknown table ${name}`);
    return t;
  }

  get(name: TableName, id: string): Rec | undefined {
    return this.table(name).byId.get(id);
  }

  byKey(name: TableName, key: string): Rec | undefined {
    return this.table(name).byKey.get(key);
  }
}

/** BC's ETag: W/"base64('44;<base64 sha256>1;00;')", the shape of the documented example. */
export function etagFor(rec: Rec): string {
  if (!rec.etag) {
    // 32 bytes like a SHA-256, built from the SystemId and row version: paging 20,000 rows must not hash each one.
    const raw = Buffer.alloc(32);
    raw.write((rec.data.id as string).replace(/-/g, ''), 0, 16, 'hex');
    raw.writeDoubleBE(rec.version, 16);
    raw.writeUInt32BE(0x42433031, 28);
    const hash = raw.toString('base64');
    rec.etag = `W/"${Buffer.from(`'44;${hash}1;00;'`).toString('base64')}"`;
  }
  return rec.etag;
}

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export function isGuid(v: string): boolean {
  return GUID_RE.test(v);
}

/** Type-checks one API value against the field definition, with BC's / OData's messages. */
export function coerce(field: FieldDef, value: unknown): unknown {
  const t = field.type;
  const edm = (name: string) =>
    new BcError(
      400,
      'BadRequest',
      `Cannot convert a primitive value to the expected type '${name}'. See the inner exception for more details.`,
    );
  switch (t.kind) {
    case 'text':
    case 'code': {
      if (typeof value !== 'string') throw edm('Edm.String');
      if (value.length > t.max)
        throw new BcError(
          400,
          'Application_StringExceededLength',
          `The length of the string is ${value.length}, but it must be less than or equal to ${t.max} characters. Value: ${value}`,
        );
      return t.kind === 'code' ? value.toUpperCase() : value;
    }
    case 'guid':
      if (typeof value !== 'string' || !GUID_RE.test(value)) throw edm('Edm.Guid');
      return value.toLowerCase();
    case 'decimal':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw edm('Edm.Decimal');
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw edm('Edm.Int32');
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw edm('Edm.Boolean');
      return value;
    case 'date':
      if (typeof value !== 'string' || !DATE_RE.test(value) || Number.isNaN(Date.parse(value))) throw edm('Edm.Date');
      return value;
    case 'datetime':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw edm('Edm.DateTimeOffset');
      return new Date(value).toISOString();
    case 'enum':
      if (typeof value !== 'string' || !t.options.includes(value))
        throw new BcError(400, 'Unknown', `'${String(value)}' is not an option. The existing options are: ${t.options.join(',')}`);
      return value;
  }
}

/** BC's IncStr: increments the rightmost run of digits, keeping its width. */
export function incStr(s: string): string {
  const m = /(\d+)(?!.*\d)/.exec(s);
  if (!m || m.index === undefined) return `${s}1`;
  const digits = m[1] as string;
  const next = String(Number(digits) + 1).padStart(digits.length, '0');
  return s.slice(0, m.index) + next + s.slice(m.index + digits.length);
}

/** Context that business rules (rules.ts) use to look up related records and report errors. */
export interface RuleContext {
  company: CompanyStore;
  store: Store;
  actor: string;
}

interface UndoEntry {
  undo: () => void;
}

/** A $batch with `Isolation: snapshot`: writes are undone and notifications withheld unless it commits. */
export class Transaction {
  readonly undo: UndoEntry[] = [];
  readonly events: ChangeEvent[] = [];
}

/** Options that change how faithfully a write behaves; set per run. */
export interface StoreSettings {
  /** Status for a stale If-Match: 412 (default, HTTP/OData convention) or 409 (BC troubleshooting page). */
  staleEtagStatus: 412 | 409;
  /** The service's BC extension as installed in this environment (`/_sim/extension`). */
  extension: ExtensionState;
}

/** What of the service's BC extension the environment has: installed or not, its version, pages an older version lacks. */
export interface ExtensionState {
  installed: boolean;
  /** `major.minor.build.revision`, as app.json and the automation API's extensions list show it. */
  version: string;
  /** Entity sets of the current AL that this (older) installed version does not publish. */
  missingEntitySets: string[];
}

export const defaultExtensionState = (): ExtensionState => ({
  installed: true,
  version: BC_EXTENSION_MANIFEST.app.version,
  missingEntitySets: [],
});

export class Store {
  readonly companies = new Map<string, CompanyStore>();
  private rowVersion = 0;
  private seq = 0;
  private readonly listeners = new Set<(e: ChangeEvent) => void>();
  private txn?: Transaction;
  readonly settings: StoreSettings = { staleEtagStatus: 412, extension: defaultExtensionState() };

  constructor(readonly clock: SimClock) {}

  onChange(fn: (e: ChangeEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  addCompany(id: string, name: string, displayName = name): CompanyStore {
    const c = new CompanyStore(id, name, displayName, this.clock.nowIso());
    this.companies.set(id, c);
    return c;
  }

  company(id: string): CompanyStore {
    const c = this.companies.get(id);
    if (!c) throw new BcError(404, 'BadRequest_NotFound', `The company '${id}' does not exist.`);
    return c;
  }

  companyByName(name: string): CompanyStore | undefined {
    for (const c of this.companies.values()) if (c.name === name || c.id === name) return c;
    return undefined;
  }

  clear(): void {
    this.companies.clear();
  }

  /** Runs `fn` as one atomic unit: on a throw every write is undone and no notification is emitted. */
  atomically<T>(fn: () => T): T {
    if (this.txn) return fn();
    const txn = new Transaction();
    this.txn = txn;
    try {
      const result = fn();
      this.txn = undefined;
      for (const e of txn.events) this.emit(e);
      return result;
    } catch (err) {
      this.txn = undefined;
      for (const u of txn.undo.reverse()) u.undo();
      throw err;
    }
  }

  /** Opens a transaction that the caller ends with `commit` or `rollback` ($batch with Isolation: snapshot). */
  begin(): Transaction {
    if (this.txn) throw new Error('transaction already open');
    this.txn = new Transaction();
    return this.txn;
  }

  commit(t: Transaction): void {
    if (this.txn !== t) throw new Error('not the open transaction');
    this.txn = undefined;
    for (const e of t.events) this.emit(e);
  }

  rollback(t: Transaction): void {
    if (this.txn !== t) throw new Error('not the open transaction');
    this.txn = undefined;
    for (const u of t.undo.reverse()) u.undo();
  }

  private emit(e: ChangeEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  private record(e: ChangeEvent, undo: () => void): void {
    if (this.txn) {
      this.txn.undo.push({ undo });
      this.txn.events.push(e);
    } else {
      this.emit(e);
    }
  }

  newRec(data: Row): Rec {
    return { data, version: ++this.rowVersion, seq: ++this.seq };
  }

  /** Fast path for seeding: no rules, no events. `values` must already be complete and valid. */
  bulkInsert(companyId: string, tableName: TableName, values: Row): Rec {
    const t = this.company(companyId).table(tableName);
    const rec = this.newRec(values);
    t.byId.set(values.id as string, rec);
    if (t.def.keyField) t.byKey.set(values[t.def.keyField] as string, rec);
    t.structureVersion++;
    return rec;
  }

  /** Inserts a record through the table's business rules, like a page's OnInsertRecord. */
  insert(companyId: string, tableName: TableName, values: Row, actor: string): Rec {
    return this.atomically(() => {
      const company = this.company(companyId);
      const t = company.table(tableName);
      const def = t.def;
      const data: Row = {};
      for (const f of def.fields) data[f.name] = defaultValue(f.type);
      const id = typeof values.id === 'string' && values.id !== '' ? values.id.toLowerCase() : randomUUID();
      if (t.byId.has(id))
        throw new BcError(
          400,
          'Internal_EntityWithSameKeyExists',
          `The record in table ${def.caption} already exists. Identification fields and values: Id='{${id.toUpperCase()}}'`,
        );
      Object.assign(data, values, { id });
      const ctx: RuleContext = { company, store: this, actor };
      if (def.keyField && (data[def.keyField] === '' || data[def.keyField] === undefined)) {
        if (!t.nextNumber)
          throw new BcError(
            400,
            'Application_FieldValidationException',
            `${def.keyCaption ?? def.keyField} must have a value in ${def.caption}: Id=${id}. It cannot be zero or empty.`,
          );
        let n = t.nextNumber;
        while (t.byKey.has(n)) n = incStr(n);
        data[def.keyField] = n;
        t.nextNumber = incStr(n);
      }
      applyRules(ctx, def, data, undefined);
      if (def.keyField) {
        const key = data[def.keyField] as string;
        if (t.byKey.has(key))
          throw new BcError(
            400,
            'Internal_EntityWithSameKeyExists',
            `The record in table ${def.caption} already exists. Identification fields and values: ${def.keyCaption}='${key}'`,
          );
      }
      const now = this.clock.now();
      data.lastModifiedDateTime = new Date(now).toISOString();
      const rec = this.newRec(data);
      t.byId.set(id, rec);
      if (def.keyField) t.byKey.set(data[def.keyField] as string, rec);
      t.structureVersion++;
      t.dataVersion++;
      this.record({ companyId, table: tableName, id, changeType: 'created', at: now, actor }, () => {
        t.byId.delete(id);
        if (def.keyField) t.byKey.delete(data[def.keyField] as string);
        t.structureVersion++;
      });
      afterInsert(ctx, def, data);
      this.touchHeader(company, def, data, actor);
      return rec;
    });
  }

  /**
   * Applies changes through the rules, like a page's OnModifyRecord. A modify that changes no field
   * keeps the row version (no new ETag, no notification), which is how BC drops "null updates".
   */
  modify(companyId: string, tableName: TableName, id: string, changes: Row, actor: string, force = false): Rec {
    return this.atomically(() => {
      const company = this.company(companyId);
      const t = company.table(tableName);
      const def = t.def;
      const rec = t.byId.get(id);
      if (!rec) throw recordNotFound(def.caption, id);
      const before = rec.data;
      const data: Row = { ...before, ...changes };
      applyRules({ company, store: this, actor }, def, data, before);
      let changed = false;
      for (const f of def.fields) {
        if (f.name === 'lastModifiedDateTime') continue;
        if (data[f.name] !== before[f.name]) {
          changed = true;
          break;
        }
      }
      if (!changed && !force) return rec;
      if (def.keyField && data[def.keyField] !== before[def.keyField]) {
        const newKey = data[def.keyField] as string;
        if (t.byKey.has(newKey))
          throw new BcError(
            400,
            'Internal_EntityWithSameKeyExists',
            `The record in table ${def.caption} already exists. Identification fields and values: ${def.keyCaption}='${newKey}'`,
          );
        t.byKey.delete(before[def.keyField] as string);
        t.byKey.set(newKey, rec);
        t.structureVersion++;
      }
      const now = this.clock.now();
      data.lastModifiedDateTime = new Date(now).toISOString();
      const oldVersion = rec.version;
      const oldEtag = rec.etag;
      rec.data = data;
      rec.version = ++this.rowVersion;
      rec.etag = undefined;
      t.dataVersion++;
      this.record({ companyId, table: tableName, id, changeType: 'updated', at: now, actor }, () => {
        if (def.keyField && data[def.keyField] !== before[def.keyField]) {
          t.byKey.delete(data[def.keyField] as string);
          t.byKey.set(before[def.keyField] as string, rec);
          t.structureVersion++;
        }
        rec.data = before;
        rec.version = oldVersion;
        rec.etag = oldEtag;
        t.dataVersion++;
      });
      this.touchHeader(company, def, data, actor);
      return rec;
    });
  }

  delete(companyId: string, tableName: TableName, id: string, actor: string): void {
    this.atomically(() => {
      const company = this.company(companyId);
      const t = company.table(tableName);
      const def = t.def;
      const rec = t.byId.get(id);
      if (!rec) throw recordNotFound(def.caption, id);
      // Deleting a document deletes its lines (BC's OnDelete trigger), without line notifications of their own.
      for (const child of tables.values()) {
        if (child.header?.table !== tableName) continue;
        const ct = company.table(child.name);
        for (const line of [...ct.byId.values()]) {
          if (line.data[child.header.foreignKey] !== id) continue;
          ct.byId.delete(line.data.id as string);
          ct.structureVersion++;
          this.record(
            { companyId, table: child.name, id: line.data.id as string, changeType: 'deleted', at: this.clock.now(), actor },
            () => {
              ct.byId.set(line.data.id as string, line);
              ct.structureVersion++;
            },
          );
        }
      }
      t.byId.delete(id);
      if (def.keyField) t.byKey.delete(rec.data[def.keyField] as string);
      t.structureVersion++;
      const now = this.clock.now();
      this.record({ companyId, table: tableName, id, changeType: 'deleted', at: now, actor }, () => {
        t.byId.set(id, rec);
        if (def.keyField) t.byKey.set(rec.data[def.keyField] as string, rec);
        t.structureVersion++;
      });
      this.touchHeader(company, def, rec.data, actor);
    });
  }

  /**
   * Changes a FlowField-like value (inventory, capacity, balance) the way posting does in BC: the record
   * itself is not modified, so neither the ETag, `lastModifiedDateTime` nor webhooks see it.
   */
  setFlowField(companyId: string, tableName: TableName, id: string, field: string, value: number): Rec {
    const t = this.company(companyId).table(tableName);
    const rec = t.byId.get(id);
    if (!rec) throw recordNotFound(t.def.caption, id);
    rec.data = { ...rec.data, [field]: value };
    t.dataVersion++;
    return rec;
  }

  /** Line changes recompute document totals and modify the header, which is what webhooks report (D.3). */
  private touchHeader(company: CompanyStore, def: TableDef, line: Row, actor: string): void {
    if (!def.header) return;
    const headerId = line[def.header.foreignKey] as string;
    const header = company.get(def.header.table, headerId);
    if (!header) return;
    let excl = 0;
    let incl = 0;
    let tax = 0;
    for (const l of company.table(def.name).byId.values()) {
      if (l.data[def.header.foreignKey] !== headerId) continue;
      excl += l.data.amountExcludingTax as number;
      incl += l.data.amountIncludingTax as number;
      tax += l.data.totalTaxAmount as number;
    }
    const round = (n: number) => Math.round(n * 100) / 100;
    this.modify(
      company.id,
      def.header.table,
      headerId,
      { totalAmountExcludingTax: round(excl), totalAmountIncludingTax: round(incl), totalTaxAmount: round(tax) },
      actor,
      true,
    );
  }
}

export { tableDef };
