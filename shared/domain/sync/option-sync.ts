import { SyncError, toSyncError } from '../../errors';
import { type ChangeEvent, newChangeEvent } from '../change-event';
import { passOf } from '../direction';
import type { TableMapping } from '../mappings/schema';
import { bcCodeField, bcTarget, dataverseTarget } from '../mappings/targets';
import { odataGuid, odataLiteral } from '../odata/literal';
import type { Coupling, RecordGateway, Side } from '../ports';
import { CLAIM_STALE_MS, type RecordContext } from './context';
import { activeFields, fieldAllowsPass } from './field-values';
import { markOpenError, untilResolved } from './record-outcome';
import type { StepOutcome, SyncDeps } from './types';

/**
 * Option mappings (BC "CDS Int. Option Couple"): a BC code record (payment terms, shipment method, shipping
 * agent) is coupled to the option of the mapped column whose label is its code; a code with no option gets one
 * appended, as BC does. Accounts then translate the code through this coupling.
 */
export async function syncOptionMapping(ctx: RecordContext): Promise<StepOutcome> {
  const m = ctx.mapping;
  if (ctx.source !== 'bc') return ctx.outcome('unchanged', { message: `${m.name} synchronizes from Business Central only` });
  const column = m.dataverse.optionSetColumn;
  const optionSets = ctx.deps.optionSets;
  if (!column || !optionSets)
    throw new SyncError('MAP.INVALID', `${m.name} is an option mapping without an option-set column or option-set access.`);
  const codeField = bcCodeField(m);
  const record = await ctx.deps.bc.get(bcTarget(m), ctx.event.recordId, ['id', codeField, 'lastModifiedDateTime']);
  const coupling = await ctx.couplingOf('bc', ctx.event.recordId);
  if (!record) {
    if (coupling) await ctx.deps.couplings.uncouple(m.name, coupling.bcId);
    return ctx.outcome(coupling ? 'deleted' : 'unchanged', {
      bcId: ctx.event.recordId,
      message: 'the BC code was deleted; the option stays',
    });
  }
  if (coupling) return ctx.outcome('unchanged', { bcId: record.id, dataverseId: coupling.dataverseId });
  const code = String(record.values[codeField] ?? '').trim();
  if (!code) return ctx.outcome('skipped', { bcId: record.id, message: 'a blank code is not an option' });
  const norm = (x: string) => x.toLowerCase().replace(/\s+/g, '');
  const options = await optionSets.options(m.dataverse.entityLogicalName, column);
  if (!options) throw new SyncError('MAP.INVALID', `Column '${column}' does not exist on ${m.dataverse.entityLogicalName}.`);
  let value = options.find((o) => norm(o.label) === norm(code))?.value;
  const created = value === undefined;
  if (ctx.dryRun) {
    return ctx.book(
      created ? 'inserted' : 'coupled',
      { bcId: record.id, message: `dry run: ${created ? 'would append' : 'would couple to'} option '${code}'` },
      undefined,
    );
  }
  if (value === undefined) {
    const claims = ctx.deps.claims;
    const key = `${m.name}/${record.id}`;
    const claim = claims ? await claims.claim(key, CLAIM_STALE_MS) : ({ won: true, token: '' } as const);
    if (!claim.won) {
      if (claim.createdId) value = Number(claim.createdId);
      else throw new SyncError('DV.CONCURRENCY', `Another worker is appending option '${code}' to ${column}; retrying.`);
    } else {
      value = await optionSets.insert(m.dataverse.entityLogicalName, column, code);
      if (claims) await claims.created(key, claim.token, String(value));
    }
  }
  const optionCoupling = await ctx.deps.couplings.couple({
    mapping: m.name,
    bcId: record.id,
    dataverseId: String(value),
    bcModifiedOn: record.modifiedOn,
    lastResult: created ? 'inserted' : 'coupled',
    lastSyncedAt: ctx.deps.clock.now().toISOString(),
    environment: ctx.deps.options.environment,
    // The recorder resolves whatever error the code had before it was coupled.
    openError: false,
  });
  await untilResolved(ctx.deps, m.name, { bcId: record.id }, () =>
    resyncReferrers(ctx.deps, m, optionCoupling, ctx.event.correlationId, code),
  );
  await ctx.deps.claims?.release(`${m.name}/${record.id}`).catch(() => undefined);
  const changes: Record<string, [unknown, unknown]> = created ? { [`${codeField} -> ${column}`]: [null, code] } : {};
  return ctx.book(created ? 'inserted' : 'coupled', { bcId: record.id, dataverseId: String(value), changes }, undefined);
}

/**
 * A newly coupled record may be what other records waited for: an option (PAYMENT TERMS…) or a lookup that is
 * cleared when not coupled (primary contact) was written blank to their other side, and neither side changes now
 * that the coupling exists. Those records are synchronized again in the direction that carries the value, so the
 * blank is filled in (the plan writes a fill-in even though neither side changed). Only coupled referrers are
 * queued; uncoupled ones get the value when they are coupled.
 */
export async function resyncReferrers(
  deps: SyncDeps,
  referenced: TableMapping,
  coupling: Coupling,
  correlationId: string,
  knownCode?: string,
): Promise<void> {
  if (deps.options.dryRun) return;
  let code = knownCode;
  const codeOf = async (): Promise<string | undefined> => {
    if (code !== undefined) return code;
    const keyField = bcCodeField(referenced);
    const record = await deps.bc.get(bcTarget(referenced), coupling.bcId, ['id', keyField]);
    const v = record?.values[keyField];
    code = typeof v === 'string' ? v : '';
    return code;
  };
  for (const m of await deps.mappings.all()) {
    if (!m.enabled || m.optionMapping) continue;
    for (const f of activeFields(m)) {
      const t = f.transformation;
      const refers =
        t?.kind === 'optionMap'
          ? t.optionMapping === referenced.name
          : t?.kind === 'lookup' && f.clearValueOnFailedSync && [t.mapping, ...t.alsoMappings].includes(referenced.name);
      if (!refers || !t || (t.kind !== 'optionMap' && t.kind !== 'lookup')) continue;
      const queries: Array<{ side: Side; filter: string }> = [];
      if (fieldAllowsPass(f, 'ToIntegrationTable') && f.bcField && (!f.bcExtension || m.bc.extensionEntitySet)) {
        const key = t.bcKey === 'id' ? odataGuid(coupling.bcId) : odataLiteral(await codeOf());
        if (t.bcKey === 'id' || code) queries.push({ side: 'bc', filter: `${f.bcField} eq ${key}` });
      }
      if (fieldAllowsPass(f, 'FromIntegrationTable') && f.dataverseColumn) {
        queries.push({
          side: 'dataverse',
          filter:
            t.kind === 'optionMap'
              ? `${f.dataverseColumn} eq ${odataLiteral(Number(coupling.dataverseId))}`
              : `_${f.dataverseColumn}_value eq ${odataGuid(coupling.dataverseId)}`,
        });
      }
      for (const q of queries) {
        try {
          await queueReferrers(deps, m, q, correlationId);
        } catch (err) {
          // The record itself is synchronized; a refused query only costs the referrers their fill-in, which their
          // next change or reconciliation brings. Recorded so it is visible, never thrown at the record.
          const e = toSyncError(err);
          if (e.transient) throw e;
          await deps.errors.record({
            mapping: m.name,
            ...(q.side === 'bc' ? { bcId: coupling.bcId } : { dataverseId: coupling.dataverseId }),
            direction: passOf(q.side),
            code: e.code,
            category: e.category,
            message: `Could not queue the ${m.name} records that refer to ${referenced.name} ${q.side === 'bc' ? coupling.bcId : coupling.dataverseId} for a new synchronization: ${e.message}`,
            correlationId,
          });
          await markOpenError(deps, m.name, q.side === 'bc' ? { bcId: coupling.bcId } : { dataverseId: coupling.dataverseId });
        }
      }
    }
  }
}

/** Queues a new pass for every coupled record of `m` that one referrer query finds. */
async function queueReferrers(deps: SyncDeps, m: TableMapping, q: { side: Side; filter: string }, correlationId: string): Promise<void> {
  const gw = (q.side === 'bc' ? deps.bc : deps.dataverse) as RecordGateway;
  const target = q.side === 'bc' ? bcTarget(m) : dataverseTarget(m);
  const key = q.side === 'bc' ? 'id' : m.dataverse.primaryKey;
  for await (const page of gw.list(target, { filter: q.filter, select: [key] })) {
    const events: ChangeEvent[] = [];
    for (const r of page) {
      const c = q.side === 'bc' ? await deps.couplings.getByBcId(m.name, r.id) : await deps.couplings.getByDataverseId(m.name, r.id);
      if (!c) continue;
      events.push(
        newChangeEvent({
          mapping: m.name,
          source: q.side,
          recordId: r.id,
          changeType: 'updated',
          origin: 'reconcile',
          correlationId,
          observedAt: deps.clock.now(),
          direction: passOf(q.side),
        }),
      );
    }
    if (events.length > 0) await deps.publisher.publish(events);
  }
}
