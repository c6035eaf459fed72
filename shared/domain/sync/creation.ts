import { SyncError } from '../../errors';
import { bcTarget } from '../mappings/targets';
import { CouplingConflictError, type VersionedRecord } from '../ports';
import { sameValue } from './compare';
import { CLAIM_STALE_MS, type RecordContext } from './context';

/** Creating the destination of a record not coupled yet, so that a retry or a second worker never makes two. */

/**
 * Creates the destination. Dataverse rows get an id derived from the BC record, so a retry after a crash
 * between "created" and "coupled" finds the row it already made instead of making a second one.
 */
export async function createDestination(
  ctx: RecordContext,
  sourceRecord: VersionedRecord,
  payload: Record<string, unknown>,
  dataverseId: string,
): Promise<VersionedRecord> {
  const gw = ctx.gateway(ctx.dest);
  const target = ctx.target(ctx.dest);
  if (ctx.dest === 'dataverse') {
    const id = dataverseId;
    // Create-only (If-None-Match: *) straight away: a row left by an earlier attempt answers 412, and only then
    // is it read, so the common case costs one request.
    try {
      return await gw.create(target, payload, { id });
    } catch (err) {
      // Two workers raced to create the same row: the loser reads the winner's row.
      const again = await gw.get(target, id, ctx.select('dataverse'));
      if (again) return again;
      // Not our row: another row already has this record's alternate key (productnumber, say). That is data
      // to sort out, not a race to retry.
      if (err instanceof SyncError && err.code === 'DV.CONCURRENCY') {
        throw new SyncError(
          'DV.VALIDATION',
          `A ${ctx.mapping.dataverse.entityLogicalName} row with the same key already exists in Dataverse (${err.message}). ` +
            `Couple this ${ctx.mapping.name} record to it (match-based coupling or Set Up Coupling) instead of creating a new one.`,
          { cause: err },
        );
      }
      throw err;
    }
  }
  // BC assigns its own SystemId, so two workers handling the same new row would each create a record: the first
  // to claim the creation creates it and records its id; the other reuses that id, or retries while it is made.
  const claims = ctx.deps.claims;
  if (!claims) return gw.create(target, payload);
  const key = ctx.claimKey(sourceRecord);
  const claim = await claims.claim(key, CLAIM_STALE_MS);
  if (!claim.won) {
    const existing = claim.createdId ? await gw.get(target, claim.createdId, ctx.select('bc')) : undefined;
    if (existing) return existing;
    // The claimant may be gone with its create's response lost (it failed without recording what it made, and
    // the event came back): a record it made is adopted now rather than after the claim goes stale.
    const orphan = claim.claimedAt ? await findLostCreate(ctx, payload, claim.claimedAt) : undefined;
    if (orphan) return orphan;
    throw new SyncError(
      'BC.CONCURRENCY',
      `Another worker is creating the Business Central record for ${ctx.mapping.name} row ${sourceRecord.id}; retrying.`,
    );
  }
  // The claim may have been released by a winner that already coupled the row: look again before creating.
  if (await ctx.couplingOf(ctx.source, sourceRecord.id)) {
    await claims.release(key);
    throw new CouplingConflictError(`${ctx.mapping.name} row ${sourceRecord.id} was coupled by another worker meanwhile`);
  }
  // An earlier attempt may have created the record and lost the response (BC's POST is not idempotent): adopt
  // that record rather than create a second one.
  const orphan = claim.takenOverFrom ? await findLostCreate(ctx, payload, claim.takenOverFrom) : undefined;
  if (orphan) {
    await claims.created(key, claim.token, orphan.id);
    return orphan;
  }
  let created: VersionedRecord;
  try {
    created = await gw.create(target, payload);
  } catch (err) {
    // BC answered (a 503, say): its request is over, and a record it made anyway is already there to be found,
    // so the retry takes the claim over at once and looks for it. Otherwise every retry would wait out
    // CLAIM_STALE_MS and the event be dead-lettered meanwhile. A gateway timeout (504) or no answer at all
    // leaves the request possibly still running on BC: the claim stays, and a retry adopts what it makes.
    const status = err instanceof SyncError ? err.details.status : undefined;
    if (typeof status === 'number' && status !== 504 && status !== 408) await claims.abandon(key, claim.token).catch(() => undefined);
    throw err;
  }
  await claims.created(key, claim.token, created.id);
  return created;
}

/**
 * The source record got coupled to another Dataverse row while we created one for it (a Dataverse create whose BC
 * response was lost adopted the BC record its attempt made, say). The row we made, at the id derived from the
 * source, can then never be this record's partner: delete it rather than leave a second row behind. A row some
 * other worker coupled is left alone.
 */
export async function dropOrphanRow(ctx: RecordContext, sourceRecord: VersionedRecord, created: VersionedRecord): Promise<void> {
  if (ctx.dest !== 'dataverse') return;
  const partner = await ctx.couplingOf(ctx.source, sourceRecord.id);
  if (!partner || partner.dataverseId === created.id || (await ctx.couplingOf('dataverse', created.id))) return;
  await ctx.gateway('dataverse').delete(ctx.target('dataverse'), created.id);
}

/**
 * A BC record modified since `since` (less a minute of clock skew) that holds the non-blank values of `payload` and
 * is coupled to nothing: what an attempt whose create response was lost made. Two such records cannot be told
 * apart, so that is an error for an admin rather than a guess.
 */
async function findLostCreate(ctx: RecordContext, payload: Record<string, unknown>, since: string): Promise<VersionedRecord | undefined> {
  // Blank values are left out: BC fills some in on insert (a blank currency code reads back as the LCY code).
  const keys = Object.keys(payload).filter(
    (k) => !k.includes('@') && typeof payload[k] !== 'object' && !sameValue(payload[k], null) && payload[k] !== false,
  );
  if (keys.length === 0) return undefined;
  const modifiedSince = new Date(Date.parse(since) - 60_000).toISOString();
  const found: VersionedRecord[] = [];
  for await (const page of ctx.deps.bc.list(bcTarget(ctx.mapping), { modifiedSince, select: [...new Set(['id', ...keys])] })) {
    for (const r of page) {
      if (!keys.every((k) => sameValue(r.values[k], payload[k]))) continue;
      if (!(await ctx.couplingOf('bc', r.id))) found.push(r);
    }
  }
  if (found.length > 1) {
    throw new SyncError(
      'COUPLE.AMBIGUOUS',
      `${found.length} uncoupled Business Central records created since ${since} hold the values of this ${ctx.mapping.name} row; an earlier attempt may have created one of them. Couple it to the right one by hand and delete the others.`,
    );
  }
  const [hit] = found;
  return hit ? await ctx.gateway('bc').get(bcTarget(ctx.mapping), hit.id, ctx.select('bc')) : undefined;
}
