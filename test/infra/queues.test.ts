import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderQueuesJson } from '../../infra/generate-queues';
import { defaultMappings } from '../../shared/domain/mappings/defaults';
import { queueNameFor } from '../../shared/domain/mappings/queue';
import {
  allDefaultMappingSetups,
  allQueueNames,
  emulatorQueueDeclarations,
  isoDurationFromSeconds,
  isoDurationToMs,
  OPERATIONAL_QUEUES,
  QUEUE_SETTINGS,
  queuesDocument,
} from '../../shared/queues';
import { INFRA_DIR, readInfra } from './bicep';
import { QUEUE_PROPERTY_KEYS, queueLoopProblems } from './checks';

const committed = readFileSync(join(INFRA_DIR, 'queues.json'), 'utf8');

describe('queue list shared by code and Bicep', () => {
  it('infra/queues.json is exactly what infra/generate-queues.ts writes from the code', () => {
    // On failure: npx tsc -p infra/tsconfig.json && node dist/infra/generate-queues.js
    expect(committed).toBe(renderQueuesJson());
    expect(JSON.parse(committed)).toEqual(queuesDocument());
  });

  it('covers every default mapping queue of every connection setup, and the operational queues', () => {
    const names = new Set(allQueueNames());
    expect(allDefaultMappingSetups()).toHaveLength(2 * 2 * 2 * 2 * 3 * 2);
    for (const setup of allDefaultMappingSetups())
      for (const mapping of defaultMappings(setup)) {
        expect(names, `${mapping.name} (${JSON.stringify(setup)})`).toContain(mapping.queueName);
        // Lines travel on their header's queue.
        expect(mapping.queueName).toBe(queueNameFor(mapping.parent ?? mapping.name));
      }
    for (const q of OPERATIONAL_QUEUES) expect(names).toContain(q);
    expect(allQueueNames()).toHaveLength(names.size);
    for (const name of names) expect(name).toMatch(/^[a-z0-9](?:[a-z0-9._-]{0,258}[a-z0-9])?$/);
    // Line mappings have no queue of their own.
    expect(names).not.toContain(queueNameFor('SOLINE-ORDERDETAIL'));
    expect(names).not.toContain(queueNameFor('POSTEDSALESLINE-INV'));
  });

  it('queues.json carries QUEUE_SETTINGS (Service Bus limits respected)', () => {
    const doc = JSON.parse(committed) as Record<string, unknown>;
    expect(doc.maxDeliveryCount).toBe(QUEUE_SETTINGS.maxDeliveryCount);
    expect(isoDurationToMs(String(doc.lockDuration))).toBe(QUEUE_SETTINGS.lockDurationSeconds * 1000);
    expect(QUEUE_SETTINGS.lockDurationSeconds).toBeLessThanOrEqual(300); // Service Bus maximum lock
    expect(doc.deadLetteringOnMessageExpiration).toBe(true);
    expect(doc.requiresDuplicateDetection).toBe(QUEUE_SETTINGS.requiresDuplicateDetection);
    expect(doc.duplicateDetectionHistoryTimeWindow).toBe(QUEUE_SETTINGS.duplicateDetectionHistoryTimeWindow);
    expect(doc.defaultMessageTimeToLive).toBe(QUEUE_SETTINGS.defaultMessageTimeToLive);
    for (const key of QUEUE_PROPERTY_KEYS) expect(doc, key).toHaveProperty(key);
  });

  it('servicebus.bicep creates one queue per queues.json name with every setting read from it', async () => {
    expect(await queueLoopProblems(readInfra('app/servicebus.bicep'))).toEqual([]);
  });

  it('the loop check fails when Bicep hard-codes a setting, names queues itself or drops the json', async () => {
    const real = readInfra('app/servicebus.bicep');
    const hardCoded = real.replace('maxDeliveryCount: queueConfig.maxDeliveryCount', 'maxDeliveryCount: 5');
    expect(await queueLoopProblems(hardCoded)).toEqual(['properties.maxDeliveryCount is 5, not queueConfig.maxDeliveryCount']);
    const ownList = real.replace('for queueName in queueConfig.queues', "for queueName in ['sync-customer']");
    expect((await queueLoopProblems(ownList)).join()).toMatch(/iterates/);
    const noJson = real.replace("loadJsonContent('../queues.json')", "loadJsonContent('../other.json')");
    expect(await queueLoopProblems(noJson)).toEqual(["no `var … = loadJsonContent('../queues.json')`"]);
    const noLock = real.replace(/\n\s*lockDuration: queueConfig\.lockDuration/, '');
    expect(await queueLoopProblems(noLock)).toEqual(['properties.lockDuration is missing, not queueConfig.lockDuration']);
  });

  it('emulator declarations use the same names and settings as Azure', () => {
    const decls = emulatorQueueDeclarations();
    expect(decls.map((d) => d.name)).toEqual(allQueueNames());
    for (const d of decls) {
      expect(d.maxDeliveryCount).toBe(10);
      expect(d.lockDurationMs).toBe(300_000);
      expect(d.defaultMessageTtlMs).toBe(14 * 24 * 3600 * 1000);
      expect(d.deadLetteringOnMessageExpiration).toBe(true);
      expect(d.requiresDuplicateDetection).toBe(true);
      expect(d.duplicateDetectionHistoryTimeWindowMs).toBe(600_000);
    }
  });

  it('ISO durations round-trip and reject malformed input', () => {
    expect(isoDurationFromSeconds(300)).toBe('PT5M');
    expect(isoDurationFromSeconds(3725)).toBe('PT1H2M5S');
    expect(isoDurationToMs('PT1H2M5S')).toBe(3725_000);
    expect(isoDurationToMs('P14D')).toBe(14 * 86_400_000);
    expect(() => isoDurationFromSeconds(0)).toThrow(/positive/);
    expect(() => isoDurationToMs('5 minutes')).toThrow(/duration/);
    expect(() => isoDurationToMs('PT')).toThrow(/duration/);
  });
});
