import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingsSchema } from '../../shared/config';
import { isoDurationToMs } from '../../shared/queues';
import { type Declaration, declarations, decoratorNumber, find, INFRA_DIR, literal, parseBicep, REPO_ROOT, readInfra } from './bicep';

/** Documented API limits (peers-style-perf.md 3.1; api-contracts.md B.12, C). */
const BC = {
  /** Requests processed at once per user / service principal; more are queued by BC. */
  concurrentPerPrincipal: 5,
  /** Processing + queued connections per principal before 429. */
  connectionsPerPrincipal: 100,
  requestsPer5Min: 6000,
  /** Operation timeout (408). */
  operationTimeoutMs: 8 * 60_000,
};
const DATAVERSE = {
  /** Concurrent requests per application user per web server; the next one fails at once (0x80072326). */
  concurrentPerUserPerServer: 52,
  requestsPer5Min: 6000,
  executionSecondsPer5Min: 1200,
};

/** Design assumptions, documented in docs/deployment.md "Throttling arithmetic". */
const DESIGN = {
  bcPrincipals: 1,
  dataverseUsers: 1,
  /** Worst case (trial environments have one web server). */
  dataverseWebServers: 1,
  /** A message's requests to one system are sequential: at most one in flight per system per call. */
  requestsInFlightPerCall: 1,
  /** Requests allowed to wait in our limiter beyond BC's 5 in process (app-wide); far below BC's 95-deep queue. */
  bcWaitingHeadroom: 5,
  /** Typical BC write (reference 3.3: 100–400 ms). */
  typicalBcRequestSeconds: 0.25,
  /** Service Bus maximum lock duration. */
  maxLockMs: 5 * 60_000,
};

interface Deployment {
  source: string;
  maximumInstanceCount: number;
  bcMaxConcurrency: number;
  dataverseMaxConcurrency: number;
  maxConcurrentCalls: number;
  prefetchCount: number;
  functionTimeoutMs: number;
  maxAutoLockRenewalMs: number;
  lockDurationMs: number;
}

/** `hh:mm:ss[.fff]` TimeSpan (host.json) in ms. */
function timeSpanMs(value: unknown): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?$/.exec(String(value));
  if (!m) throw new Error(`not a TimeSpan: ${String(value)}`);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3]) + Number(m[4] ?? 0)) * 1000;
}

/** Problems of a deployment against the documented limits; empty when every bound holds. */
function concurrencyProblems(d: Deployment): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) problems.push(`${d.source}: ${what}`);
  };
  const bcAppWide = d.maximumInstanceCount * d.bcMaxConcurrency;
  const dvAppWide = d.maximumInstanceCount * d.dataverseMaxConcurrency;
  const callsAppWide = d.maximumInstanceCount * d.maxConcurrentCalls * DESIGN.requestsInFlightPerCall;
  check(d.bcMaxConcurrency <= BC.concurrentPerPrincipal, `BC_MAX_CONCURRENCY ${d.bcMaxConcurrency} > ${BC.concurrentPerPrincipal}`);
  check(
    d.dataverseMaxConcurrency <= DATAVERSE.concurrentPerUserPerServer,
    `DATAVERSE_MAX_CONCURRENCY ${d.dataverseMaxConcurrency} > ${DATAVERSE.concurrentPerUserPerServer}`,
  );
  const bcBound = BC.concurrentPerPrincipal * DESIGN.bcPrincipals;
  check(bcAppWide <= bcBound, `maximumInstanceCount × BC_MAX_CONCURRENCY = ${bcAppWide} > ${bcBound}`);
  const dvBound = DATAVERSE.concurrentPerUserPerServer * DESIGN.dataverseUsers * DESIGN.dataverseWebServers;
  check(dvAppWide <= dvBound, `maximumInstanceCount × DATAVERSE_MAX_CONCURRENCY = ${dvAppWide} > ${dvBound}`);
  const callBound = bcBound + DESIGN.bcWaitingHeadroom;
  check(callsAppWide <= callBound, `maximumInstanceCount × maxConcurrentCalls × requests per call = ${callsAppWide} > ${callBound}`);
  check(callsAppWide <= dvBound, `Service Bus calls in flight ${callsAppWide} > Dataverse bound ${dvBound}`);
  check(callsAppWide < BC.connectionsPerPrincipal, `calls in flight ${callsAppWide} reach BC's ${BC.connectionsPerPrincipal} connections`);
  const bcRate = bcAppWide / DESIGN.typicalBcRequestSeconds;
  check(
    bcRate <= BC.requestsPer5Min / 300,
    `BC request rate ${bcRate}/s at ${DESIGN.typicalBcRequestSeconds} s per request > ${BC.requestsPer5Min / 300}/s`,
  );
  check(d.prefetchCount === 0, `prefetchCount ${d.prefetchCount}: prefetched messages' locks run out while they wait for a slot`);
  check(
    d.functionTimeoutMs >= BC.operationTimeoutMs,
    `functionTimeout ${d.functionTimeoutMs} ms < BC operation timeout ${BC.operationTimeoutMs} ms`,
  );
  check(
    d.maxAutoLockRenewalMs >= d.functionTimeoutMs,
    `maxAutoLockRenewalDuration < functionTimeout: a running invocation can lose its lock`,
  );
  check(d.lockDurationMs <= DESIGN.maxLockMs, `lockDuration ${d.lockDurationMs} ms > Service Bus maximum ${DESIGN.maxLockMs} ms`);
  return problems;
}

function paramDefault(decls: Declaration[], name: string): number {
  const v = literal(find(decls, 'param', name).value);
  if (typeof v !== 'number') throw new Error(`param ${name} has no numeric default`);
  return v;
}

async function deployments(): Promise<Deployment[]> {
  const host = JSON.parse(readFileSync(join(REPO_ROOT, 'host.json'), 'utf8'));
  const sb = host.extensions.serviceBus;
  const queues = JSON.parse(readFileSync(join(INFRA_DIR, 'queues.json'), 'utf8'));
  const common = {
    maxConcurrentCalls: sb.maxConcurrentCalls,
    prefetchCount: sb.prefetchCount,
    functionTimeoutMs: timeSpanMs(host.functionTimeout),
    maxAutoLockRenewalMs: timeSpanMs(sb.maxAutoLockRenewalDuration),
    lockDurationMs: isoDurationToMs(queues.lockDuration),
  };
  const main = declarations(await parseBicep(readInfra('main.bicep')));
  const params = JSON.parse(readInfra('main.parameters.json')).parameters;
  return [
    {
      source: 'main.bicep defaults',
      maximumInstanceCount: paramDefault(main, 'maximumInstanceCount'),
      bcMaxConcurrency: paramDefault(main, 'bcMaxConcurrency'),
      dataverseMaxConcurrency: paramDefault(main, 'dataverseMaxConcurrency'),
      ...common,
    },
    {
      source: 'main.parameters.json',
      maximumInstanceCount: params.maximumInstanceCount.value,
      bcMaxConcurrency: params.bcMaxConcurrency.value,
      dataverseMaxConcurrency: params.dataverseMaxConcurrency.value,
      ...common,
    },
  ];
}

describe('host.json and Bicep throttles stay within the BC and Dataverse limits', () => {
  it('the deployed values (Bicep defaults and main.parameters.json) satisfy every documented bound', async () => {
    const ds = await deployments();
    for (const d of ds) expect(concurrencyProblems(d)).toEqual([]);
    expect(ds.map((d) => d.maximumInstanceCount * d.bcMaxConcurrency)).toEqual([5, 5]);
  });

  it('the Bicep parameters cannot be set beyond the per-instance API limits', async () => {
    for (const file of ['main.bicep', 'app/functionapp.bicep']) {
      const decls = declarations(await parseBicep(readInfra(file)));
      expect(decoratorNumber(find(decls, 'param', 'bcMaxConcurrency'), 'maxValue'), file).toBeLessThanOrEqual(BC.concurrentPerPrincipal);
      expect(decoratorNumber(find(decls, 'param', 'dataverseMaxConcurrency'), 'maxValue'), file).toBeLessThanOrEqual(
        DATAVERSE.concurrentPerUserPerServer,
      );
      expect(decoratorNumber(find(decls, 'param', 'maximumInstanceCount'), 'minValue'), file).toBeGreaterThanOrEqual(1);
    }
    // The app settings the function app reads agree (shared/config.ts rejects values above the limits).
    expect(settingsSchema.shape.BC_MAX_CONCURRENCY.safeParse('5').success).toBe(true);
    expect(settingsSchema.shape.BC_MAX_CONCURRENCY.safeParse('6').success).toBe(false);
    expect(settingsSchema.shape.DATAVERSE_MAX_CONCURRENCY.safeParse('52').success).toBe(true);
    expect(settingsSchema.shape.DATAVERSE_MAX_CONCURRENCY.safeParse('53').success).toBe(false);
  });

  it('the app settings carry the Bicep concurrency parameters, and the Flex plan the instance parameters', async () => {
    const text = readInfra('app/functionapp.bicep');
    expect(text).toMatch(/BC_MAX_CONCURRENCY: string\(bcMaxConcurrency\)/);
    expect(text).toMatch(/DATAVERSE_MAX_CONCURRENCY: string\(dataverseMaxConcurrency\)/);
    expect(text).toMatch(/maximumInstanceCount: maximumInstanceCount\n\s*instanceMemoryMB: instanceMemoryMB/);
  });

  it('host.json has the shape the Functions host expects', () => {
    const host = JSON.parse(readFileSync(join(REPO_ROOT, 'host.json'), 'utf8'));
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    expect(Object.keys(host.extensions.serviceBus)).toEqual(
      expect.arrayContaining(['maxConcurrentCalls', 'maxAutoLockRenewalDuration', 'autoCompleteMessages', 'prefetchCount']),
    );
    expect(host.logging.applicationInsights.samplingSettings.excludedTypes).toMatch(/Exception/);
  });

  it('the bound check fails when instances, per-instance limits or host.json settings are raised', async () => {
    const [d] = await deployments();
    if (!d) throw new Error('no deployment');
    expect(concurrencyProblems({ ...d, maximumInstanceCount: 6 })).toEqual([
      'main.bicep defaults: maximumInstanceCount × BC_MAX_CONCURRENCY = 6 > 5',
      'main.bicep defaults: maximumInstanceCount × maxConcurrentCalls × requests per call = 12 > 10',
      'main.bicep defaults: BC request rate 24/s at 0.25 s per request > 20/s',
    ]);
    expect(concurrencyProblems({ ...d, bcMaxConcurrency: 5 })).toContain(
      'main.bicep defaults: maximumInstanceCount × BC_MAX_CONCURRENCY = 25 > 5',
    );
    expect(concurrencyProblems({ ...d, dataverseMaxConcurrency: 16 })).toEqual([
      'main.bicep defaults: maximumInstanceCount × DATAVERSE_MAX_CONCURRENCY = 80 > 52',
    ]);
    expect(concurrencyProblems({ ...d, maxConcurrentCalls: 8 })).toEqual([
      'main.bicep defaults: maximumInstanceCount × maxConcurrentCalls × requests per call = 40 > 10',
    ]);
    expect(concurrencyProblems({ ...d, prefetchCount: 20 })).toHaveLength(1);
    expect(concurrencyProblems({ ...d, maxAutoLockRenewalMs: d.functionTimeoutMs - 1 })).toHaveLength(1);
    expect(concurrencyProblems({ ...d, functionTimeoutMs: 5 * 60_000, maxAutoLockRenewalMs: 5 * 60_000 })).toHaveLength(1);
  });
});
