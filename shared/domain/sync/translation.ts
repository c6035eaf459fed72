import { SyncError } from '../../errors';
import { newChangeEvent } from '../change-event';
import type { VersionedRecord } from '../ports';
import type { RecordContext } from './context';
import { findSourceRecordId } from './coupling-resolver';
import { activeFields, dataverseReadKey, fieldAllowsPass, type MissingReference, sideValue, translateField } from './field-values';
import { CORE_RULES } from './rules';
import type { StepOutcome, TranslatedField } from './types';

/** How deep the engine follows references not coupled yet (a contact's account's salesperson…). */
const MAX_DEPENDENCY_DEPTH = 3;

export interface Translation {
  fields: TranslatedField[];
  missing: MissingReference[];
  /** A special rule's reason to leave the record out. */
  exclude?: string;
}

async function translate(ctx: RecordContext, sourceRecord: VersionedRecord): Promise<Translation> {
  const fields: TranslatedField[] = [];
  const missing: MissingReference[] = [];
  for (const f of activeFields(ctx.mapping)) {
    if (!fieldAllowsPass(f, ctx.pass)) continue;
    ctx.mapOptions ??= await ctx.resolver.mapOptions(ctx.mapping);
    const t = await translateField(ctx.mapping, f, ctx.pass, sourceRecord.values, ctx.resolver.lookup, ctx.mapOptions);
    if (t.ok === 'skip') continue;
    if (t.ok === false) {
      missing.push(t.missing);
      continue;
    }
    fields.push({
      label: `${f.bcField ?? '(constant)'} -> ${f.dataverseColumn ?? '(constant)'}`,
      writeKey: t.writeKey,
      direction: f.direction,
      source: f.constant ? f.constant.value : sideValue(f, ctx.source, sourceRecord.values),
      mapped: t.comparable,
      payload: t.payload,
      destKey: ctx.dest === 'bc' ? (f.bcField ?? undefined) : dataverseReadKey(f),
      sourceKey: ctx.source === 'bc' ? (f.bcField ?? undefined) : dataverseReadKey(f),
    });
  }
  let exclude: string | undefined;
  for (const rule of CORE_RULES) {
    const d = await rule.derive?.(ctx.ruleContext(sourceRecord));
    if (!d) continue;
    exclude ??= d.exclude;
    missing.push(...d.missing);
    for (const f of d.fields) {
      fields.push({
        label: f.label,
        writeKey: f.writeKey,
        direction: f.direction,
        source: f.comparable,
        mapped: f.comparable,
        payload: f.payload,
        destKey: f.destKey,
        derived: true,
      });
    }
  }
  return { fields, missing, exclude };
}

/**
 * A referenced record (salesperson, currency, parent account…) is not coupled yet: sync it first when we can
 * find it on the source side, otherwise wait for it with backoff, and finally fail naming it.
 */
async function resolveDependencies(ctx: RecordContext, missing: MissingReference[]): Promise<void> {
  if (ctx.depth < MAX_DEPENDENCY_DEPTH) {
    for (const ref of missing) {
      const parent = await ctx.deps.mappings.get(ref.mapping);
      if (!parent) continue;
      const parentId = await findSourceRecordId(ctx.deps, parent, ctx.source, ref);
      if (!parentId) continue;
      await ctx.engine.syncRecord(
        newChangeEvent({
          mapping: parent.name,
          source: ctx.source,
          recordId: parentId,
          origin: 'dependency',
          correlationId: ctx.event.correlationId,
          observedAt: ctx.deps.clock.now(),
          direction: ctx.pass,
        }),
        ctx.deps,
        ctx.depth + 1,
      );
    }
  }
}

export async function deferOrFail(ctx: RecordContext, missing: MissingReference[], sourceRecord: VersionedRecord): Promise<StepOutcome> {
  const names = missing.map((r) => `${r.mapping} '${r.sourceValue}' (field ${r.field})`).join(', ');
  const maxDeferrals = ctx.deps.options.maxDeferrals ?? 5;
  // Waiting helps a change that raced its parent's. A full sync has already synchronized every parent mapping before
  // this one (dependency order), so a parent still not coupled will not come by waiting: it fails now, visibly, as
  // in BC's full synchronization, instead of minutes after the run said it was complete.
  const mayWait = ctx.event.origin !== 'dependency' && ctx.event.origin !== 'manual' && ctx.event.origin !== 'full-sync';
  if (ctx.event.deferrals < maxDeferrals && mayWait) {
    const base = ctx.deps.options.deferralBaseMs ?? 15_000;
    const delay = base * 2 ** ctx.event.deferrals;
    await ctx.deps.publisher.publish([{ ...ctx.event, deferrals: ctx.event.deferrals + 1 }], {
      scheduledAt: new Date(ctx.deps.clock.now().getTime() + delay),
    });
    return ctx.book(
      'deferred',
      { ...ctx.ids(sourceRecord.id), message: `waiting for ${names} to be coupled (retry in ${Math.round(delay / 1000)} s)` },
      undefined,
      false,
    );
  }
  throw new SyncError(
    'DEP.PARENT_NOT_COUPLED',
    `The ${ctx.mapping.name} record uses ${names}, which is not coupled to a ${ctx.dest === 'bc' ? 'Business Central record' : 'Dataverse row'}. Couple or synchronize it first, then retry.`,
    { details: { missing } },
  );
}

/** The record's fields translated for this pass; references not coupled yet are synchronized first when they can be. */
export async function translated(ctx: RecordContext, sourceRecord: VersionedRecord): Promise<Translation> {
  let t = await translate(ctx, sourceRecord);
  if (t.missing.length > 0) {
    await resolveDependencies(ctx, t.missing);
    // What was "not coupled" a moment ago may be coupled now.
    ctx.resolver.forget();
    ctx.mapOptions = undefined;
    t = await translate(ctx, sourceRecord);
  }
  return t;
}
