import { z } from 'zod';
import type { Clock, CreationClaims } from '../../domain/ports';
import { systemClock } from '../../domain/ports';
import { CheckpointConflictError, type TableCheckpointStore } from './checkpoint-store';

const claimSchema = z.object({ at: z.string(), createdId: z.string().optional(), abandoned: z.boolean().optional() });

type ClaimAnswer = Awaited<ReturnType<CreationClaims['claim']>>;

/** Creation claims as checkpoint rows (`create-claim/<key>`): a create-if-absent is the lock, an ETag its owner. */
export class TableCreationClaims implements CreationClaims {
  constructor(
    private readonly checkpoints: TableCheckpointStore,
    private readonly clock: Clock = systemClock,
  ) {}

  private key(key: string): string {
    return `create-claim/${key}`;
  }

  async claim(
    key: string,
    staleAfterMs: number,
  ): Promise<{ won: true; token: string; takenOverFrom?: string } | { won: false; createdId?: string; claimedAt?: string }> {
    const k = this.key(key);
    const at = this.clock.now().toISOString();
    try {
      const put = await this.checkpoints.put(k, { at }, { ifNotExists: true });
      return { won: true, token: put.etag };
    } catch (err) {
      if (!(err instanceof CheckpointConflictError)) throw err;
    }
    const existing = await this.checkpoints.get(k, claimSchema);
    if (!existing) return this.claim(key, staleAfterMs);
    if (existing.value.createdId) return { won: false, createdId: existing.value.createdId };
    if (!existing.value.abandoned && this.clock.now().getTime() - Date.parse(existing.value.at) < staleAfterMs)
      return { won: false, claimedAt: existing.value.at };
    // The claimant died, or its create's response was lost: take the claim over (its ETag makes only one taker
    // win) and say since when, so the taker looks for a record the lost attempt may have created.
    try {
      const put = await this.checkpoints.put(k, { at }, { etag: existing.etag });
      return { won: true, token: put.etag, takenOverFrom: existing.value.at };
    } catch (err) {
      if (err instanceof CheckpointConflictError) return { won: false };
      throw err;
    }
  }

  /**
   * Claims many keys: fresh claims in entity-group transactions of 100, where nobody else claims any of them (the
   * common case of a full sync); a transaction that meets an existing claim is redone one key at a time with
   * `claim`, so each answer is what `claim` would have answered. Results in input order.
   */
  async claimMany(keys: string[], staleAfterMs: number): Promise<Array<ClaimAnswer | Error>> {
    const at = this.clock.now().toISOString();
    return this.inTransactions<string, ClaimAnswer>(
      keys,
      async (part) => {
        const etags = await this.checkpoints.transact(part.map((key) => ({ key: this.key(key), value: { at }, ifNotExists: true })));
        return etags.map((token) => ({ won: true as const, token }));
      },
      (key) => this.claim(key, staleAfterMs),
    );
  }

  /** `created` for many claims, in transactions; one that fails is redone a claim at a time. */
  async createdMany(items: Array<{ key: string; token: string; createdId: string }>): Promise<Array<undefined | Error>> {
    const at = this.clock.now().toISOString();
    return this.inTransactions(
      items,
      async (part) => {
        await this.checkpoints.transact(part.map((i) => ({ key: this.key(i.key), value: { at, createdId: i.createdId }, etag: i.token })));
        return part.map(() => undefined);
      },
      async (i) => {
        await this.created(i.key, i.token, i.createdId);
        return undefined;
      },
    );
  }

  /** `release` for many claims, in transactions; one that fails (a claim already gone) is redone one at a time. */
  async releaseMany(keys: string[]): Promise<Array<undefined | Error>> {
    return this.inTransactions(
      keys,
      async (part) => {
        await this.checkpoints.transact(part.map((key) => ({ key: this.key(key), delete: true })));
        return part.map(() => undefined);
      },
      async (key) => {
        await this.release(key);
        return undefined;
      },
    );
  }

  private async inTransactions<I, O>(
    items: I[],
    together: (part: I[]) => Promise<O[]>,
    alone: (item: I) => Promise<O>,
  ): Promise<Array<O | Error>> {
    const parts: I[][] = [];
    for (let i = 0; i < items.length; i += 100) parts.push(items.slice(i, i + 100));
    const answers = await Promise.all(
      parts.map(async (part): Promise<Array<O | Error>> => {
        try {
          return await together(part);
        } catch (err) {
          if (!(err instanceof CheckpointConflictError)) throw err;
        }
        return Promise.all(part.map((item) => alone(item).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))));
      }),
    );
    return answers.flat();
  }

  async created(key: string, token: string, createdId: string): Promise<void> {
    await this.checkpoints.put(this.key(key), { at: this.clock.now().toISOString(), createdId }, { etag: token });
  }

  async abandon(key: string, token: string): Promise<void> {
    const existing = await this.checkpoints.get(this.key(key), claimSchema);
    if (!existing || existing.etag !== token) return; // taken over meanwhile: not ours to hand on
    await this.checkpoints.put(this.key(key), { at: existing.value.at, abandoned: true }, { etag: token }).catch((err) => {
      if (!(err instanceof CheckpointConflictError)) throw err;
    });
  }

  async release(key: string): Promise<void> {
    await this.checkpoints.delete(this.key(key));
  }
}
