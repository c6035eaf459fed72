import type { z } from 'zod';

/**
 * What operations need besides the sync engine's ports: small state with optimistic concurrency (the
 * checkpoint table) and work queues. Adapters: `TableCheckpointStore`, `ServiceBusWorkQueue`.
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

/** Message properties of a work item. */
export interface WorkMessageOptions {
  /** Duplicate detection drops a second message with the same id inside its window. Default: a new id. */
  messageId?: string;
  /** Follows the work through logs. Default none. */
  correlationId?: string;
  /** Shown in the admin page's dead-letter list. Default none. */
  subject?: string;
}

/**
 * Sends work items to an operational queue (BC collections, full-sync items, sales orders); resolves when the
 * broker accepted them. Adapter: `ServiceBusWorkQueue`.
 */
export interface WorkQueue<T> {
  send(item: T, options?: WorkMessageOptions): Promise<void>;
}

export function isStateConflict(err: unknown): boolean {
  return err instanceof Error && err.name === 'CheckpointConflictError';
}
