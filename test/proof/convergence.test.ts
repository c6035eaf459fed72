import { describe, expect, it } from 'vitest';
import { describeReport, runConvergence } from './convergence';

/**
 * Convergence under faults, bounded for `npm test` (the bench runs a larger one: `npm run bench -- --only=convergence`).
 * The operations come from a fixed seed (printed); the simulators' fault dice are not seeded, so the exact
 * interleaving differs between runs while every invariant must hold in all of them.
 */
describe('convergence under faults', () => {
  it('after random concurrent changes on both sides, faults, a restart and one reconciliation pass, every pair agrees and nothing is lost, wiped or duplicated', async () => {
    const seed = Number(process.env.CONVERGENCE_SEED ?? 20_261_122);
    const report = await runConvergence({ seed, operations: 60, concurrency: 4, instances: 2 });
    const text = describeReport(report);
    console.log(`convergence (seed ${seed}):\n${text}`);

    // The run really exercised what it claims to.
    expect(report.madeByKind['hot-records'], text).toBeGreaterThan(4);
    const extra = ['hot-records', 'raced-writes', 'lost-create', 'options-late'].reduce((n, k) => n + (report.madeByKind[k] ?? 0), 0);
    expect(report.made, text).toBe(60 + extra);
    expect(report.restarts, text).toBe(1);
    expect(report.faultsSeen.bc429 + report.faultsSeen.dv429, text).toBeGreaterThan(0);

    // The integrity scenarios ran: lost BC create responses, our writes racing users' edits, options coupled late.
    expect(report.scenarios.lostCreateResponses, text).toBe(2);
    expect(report.scenarios.racedWrites, text).toBe(3);
    expect(report.scenarios.optionsCoupledLate, text).toBeGreaterThan(0);

    // Nothing lost, nothing wiped, nothing duplicated; what could not be applied is visible.
    expect(report.lost, text).toBe(0);
    expect(report.wipedFields, text).toEqual([]);
    expect(report.optionsUnfilled, text).toBe(0);
    expect(report.duplicates, text).toEqual([]);
    expect(report.createsStarved, text).toBe(0);
    expect(report.applied + report.failedVisible, text).toBe(report.made);

    // A concurrent write (412, coupling race) is retried by the engine, never surfaced as a failed invocation or error row.
    expect(report.concurrency412, text).toBeGreaterThan(0);
    expect(report.concurrencyFailures, text).toBe(0);
    expect(report.concurrencyErrorRows, text).toBe(0);

    // Our own writes come back as notifications and are recognised as echoes; a converged system writes nothing more.
    expect(report.echoSweep.events, text).toBeGreaterThan(0);
    expect(report.echoSweep.bcRequests, text).toBe(0);
    expect(report.writesAfterQuiet, text).toEqual({ bc: 0, dataverse: 0 });
  }, 120_000);
});
