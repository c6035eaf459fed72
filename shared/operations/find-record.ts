import type { TableMapping } from '../domain/mappings';
import { bcTarget, dataverseTarget } from '../domain/mappings/targets';
import type { Coupling } from '../domain/ports';
import type { SyncDeps } from '../domain/sync/types';
import { toSyncError } from '../errors';

/**
 * "Find a record" for admins who know a customer by its BC number or its Dataverse name, not by GUID: the text is
 * looked up in the mapping's key fields on both sides (its match-based coupling fields, then the usual number and
 * name fields it maps), and each record found comes with its coupling, if any.
 */

export interface FoundRecord {
  side: 'bc' | 'dataverse';
  id: string;
  /** The field or column the text matched. */
  field: string;
  coupling?: Coupling;
}

const BC_KEYS = ['number', 'no', 'code', 'displayName', 'name', 'email'];
const DATAVERSE_KEYS = ['name', 'fullname', 'productnumber', 'accountnumber', 'emailaddress1', 'lastname', 'title'];
/** Fields tried per side; each is one query of at most {@link PER_FIELD} rows. */
const MAX_FIELDS = 4;
const PER_FIELD = 10;

function keyFields(m: TableMapping): { bc: string[]; dataverse: string[] } {
  const bcMapped = new Set(m.fields.flatMap((f) => (f.bcField && !f.bcExtension ? [f.bcField] : [])));
  const dvMapped = new Set(m.fields.flatMap((f) => (f.dataverseColumn ? [f.dataverseColumn] : [])));
  const match = m.couplingRules.matchFields;
  const bc = [...new Set([...match.map((f) => f.bcField), ...BC_KEYS.filter((k) => bcMapped.has(k))])];
  const dataverse = [...new Set([...match.map((f) => f.dataverseColumn), ...DATAVERSE_KEYS.filter((k) => dvMapped.has(k))])];
  return { bc: bc.slice(0, MAX_FIELDS), dataverse: dataverse.slice(0, MAX_FIELDS) };
}

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

export async function findRecords(deps: SyncDeps, m: TableMapping, text: string): Promise<FoundRecord[]> {
  const fields = keyFields(m);
  const found = new Map<string, FoundRecord>();
  const search = async (side: 'bc' | 'dataverse', field: string) => {
    try {
      const page =
        side === 'bc'
          ? await deps.bc.listPage(bcTarget(m), { filter: `${field} eq ${literal(text)}`, pageSize: PER_FIELD, select: ['id', field] })
          : await deps.dataverse.listPage(dataverseTarget(m), {
              filter: `${field} eq ${literal(text)}`,
              pageSize: PER_FIELD,
              select: [field],
            });
      for (const r of page.items) if (!found.has(`${side}|${r.id}`)) found.set(`${side}|${r.id}`, { side, id: r.id, field });
    } catch (err) {
      // A field the system cannot compare with text (a number, an option) is skipped; an outage is not.
      const e = toSyncError(err);
      if (e.transient || e.code.endsWith('.AUTH')) throw e;
    }
  };
  for (const f of fields.bc) await search('bc', f);
  for (const f of fields.dataverse) await search('dataverse', f);
  const out: FoundRecord[] = [];
  for (const r of found.values()) {
    const coupling = r.side === 'bc' ? await deps.couplings.getByBcId(m.name, r.id) : await deps.couplings.getByDataverseId(m.name, r.id);
    out.push(coupling ? { ...r, coupling } : r);
  }
  return out;
}
