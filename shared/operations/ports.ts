import type { z } from 'zod';

/**
 * What operations need besides the sync engine's ports: small state with optimistic concurrency (the
 * checkpoint table) and a queue for full-sync work items. Adapters: `TableCheckpointStore`, Service Bus.
 */
export interface StoredState<T> {
  key: string;
  value: T;
  etag: string;
  updatedAt: string;
}

export interface StatePort {
  get<T>(key: string, schema?: z.ZodType<T>): Promise<StoredState<T> | undefined>;
  /** With `etag` / `ifNotExists`, a concurrent change throws an error named `CheckpointConflictError`. */
  put<T>(key: string, value: T, options?: { etag?: string; ifNotExists?: boolean }): Promise<StoredState<T>>;
  list<T>(prefix: string, schema?: z.ZodType<T>): Promise<Array<StoredState<T>>>;
  delete(key: string, etag?: string): Promise<boolean>;
}

/** Sends full-sync work items (`ops-full-sync`); resolves when the broker accepted them. */
export interface WorkQueue<T> {
  send(item: T, options?: { messageId?: string }): Promise<void>;
}

export function isStateConflict(err: unknown): boolean {
  return err instanceof Error && err.name === 'CheckpointConflictError';
}
