import { z } from 'zod';
import type { Clock, CreationClaims } from '../../domain/ports';
import { systemClock } from '../../domain/ports';
import { CheckpointConflictError, type TableCheckpointStore } from './checkpoint-store';

const claimSchema = z.object({ at: z.string(), createdId: z.string().optional() });

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
    if (this.clock.now().getTime() - Date.parse(existing.value.at) < staleAfterMs) return { won: false, claimedAt: existing.value.at };
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

  async created(key: string, token: string, createdId: string): Promise<void> {
    await this.checkpoints.put(this.key(key), { at: this.clock.now().toISOString(), createdId }, { etag: token });
  }

  async release(key: string): Promise<void> {
    await this.checkpoints.delete(this.key(key));
  }
}
