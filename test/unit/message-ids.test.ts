import { describe, expect, it } from 'vitest';
import { toMessage } from '../../shared/adapters/servicebus/publisher';
import { remoteExecutionContextSchema } from '../../shared/capture/dataverse-context';
import { notificationIdentity } from '../../shared/capture/dataverse-webhook';
import { type ChangeEvent, changeEventMessageId, MAX_MESSAGE_ID_LENGTH } from '../../shared/domain/change-event';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import { replayEvent } from '../../shared/operations/errors';

/**
 * Message ids under Service Bus duplicate detection: equal only for repeats of one notification about one state,
 * different whenever the content to sync may differ (audit findings 2 and 4).
 */
const base: ChangeEvent = {
  v: 1,
  mapping: 'CUSTOMER',
  source: 'dataverse',
  recordId: parseRecordId('6d81597f-0f9f-e711-8122-000d3aa2331c'),
  changeType: 'updated',
  modifiedOn: '2026-12-06T10:00:00.000Z',
  origin: 'webhook',
  correlationId: 'c',
  observedAt: '2026-12-06T10:00:00.400Z',
  deferrals: 0,
};

describe('change event message ids', () => {
  it('tell two states apart that share a whole-second modifiedon, and keep a repeat of one state equal', () => {
    const first = { ...base, notificationId: '4af10637-4ea2-e711-8122-000d3aa2331c' };
    const second = { ...base, notificationId: '5bf10637-4ea2-e711-8122-000d3aa2331c', observedAt: '2026-12-06T10:00:00.900Z' };
    expect(changeEventMessageId(first)).not.toBe(changeEventMessageId(second));
    expect(changeEventMessageId({ ...first, observedAt: '2026-12-06T10:05:00.000Z' })).toBe(changeEventMessageId(first));
    expect(changeEventMessageId({ ...base, rowVersion: '1001' })).not.toBe(changeEventMessageId({ ...base, rowVersion: '1002' }));
  });

  it('give every retry, replay and reconcile re-send its own id', () => {
    const now = new Date('2026-12-06T10:00:01Z');
    const original = changeEventMessageId(base);
    const r1 = changeEventMessageId(replayEvent(base, now));
    const r2 = changeEventMessageId(replayEvent(base, now));
    expect(new Set([original, r1, r2]).size).toBe(3);
  });

  it('never exceed 128 characters, and never lose the part that tells two ids apart', () => {
    const long = { ...base, mapping: 'M'.repeat(64), rowVersion: `W/"${'J'.repeat(200)}"` };
    const a = changeEventMessageId(long);
    const b = changeEventMessageId({ ...long, rowVersion: `W/"${'J'.repeat(199)}K"` });
    expect(a.length).toBeLessThanOrEqual(MAX_MESSAGE_ID_LENGTH);
    expect(a).not.toBe(b);
    expect(a.startsWith(base.recordId)).toBe(true);
    // A rescheduled copy differs from the message it replaces, however long the id.
    const plain = toMessage(long).messageId;
    const rescheduled = toMessage(long, new Date('2026-12-06T10:01:00Z')).messageId;
    expect(String(rescheduled).length).toBeLessThanOrEqual(MAX_MESSAGE_ID_LENGTH);
    expect(rescheduled).not.toBe(plain);
  });
});

describe('what identifies a Dataverse webhook', () => {
  const ctx = (extra: Record<string, unknown>) =>
    remoteExecutionContextSchema.parse({
      MessageName: 'Update',
      PrimaryEntityName: 'account',
      PrimaryEntityId: base.recordId,
      InitiatingUserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
      UserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
      ...extra,
    });
  const image = (key: string, version: number) => ({
    key,
    value: { LogicalName: 'account', Attributes: [{ key: 'versionnumber', value: version }] },
  });

  it('is the row version after the write when the context carries it, else the system job', () => {
    const operation = '4AF10637-4EA2-E711-8122-000D3AA2331C';
    expect(notificationIdentity(ctx({ OperationId: operation, PostEntityImages: [image('PostImage', 1002)] }))).toEqual({
      rowVersion: '1002',
      notificationId: operation.toLowerCase(),
    });
    // A pre image shows the version before the write: not this write's version.
    expect(notificationIdentity(ctx({ OperationId: operation, PreEntityImages: [image('PreImage', 1001)] }))).toEqual({
      notificationId: operation.toLowerCase(),
    });
  });

  it('falls back to a nonce when nothing identifies the write', () => {
    const a = notificationIdentity(ctx({ OperationId: '00000000-0000-0000-0000-000000000000' }));
    const b = notificationIdentity(ctx({}));
    expect(a.nonce).toBeDefined();
    expect(b.nonce).toBeDefined();
    expect(a.nonce).not.toBe(b.nonce);
  });
});

describe('deliberate re-sends through the publisher', () => {
  it('get a fresh id each time when their sender gave no nonce; notifications stay deterministic', () => {
    for (const origin of ['manual', 'replay', 'dependency', 'full-sync'] as const) {
      const e = { ...base, origin };
      expect(toMessage(e).messageId).not.toBe(toMessage(e).messageId);
    }
    for (const origin of ['webhook', 'collection', 'poll'] as const) {
      const e = { ...base, origin };
      expect(toMessage(e).messageId).toBe(toMessage(e).messageId);
    }
  });
});
