/**
 * The larger convergence run (the bounded one is `test/proof/convergence.test.ts`): more operations, more users in
 * flight, the same faults, restart, integrity scenarios and checks. Full bench only. Reports changes made, applied,
 * failed-visible, lost (must be 0), fields wiped (must be 0), duplicates (must be 0), 429s and 412s absorbed.
 */
import { describeReport, runConvergence } from '../test/proof/convergence';

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export async function benchConvergence(opts: { quick: boolean }): Promise<Figure[]> {
  const seed = 424_242;
  const report = await runConvergence({ seed, operations: opts.quick ? 60 : 300, concurrency: 6, instances: 2, drainTimeoutMs: 90_000 });
  console.log(`\nconvergence (seed ${seed}):\n${describeReport(report)}`);
  return [
    { name: `changes made (seed ${seed}, ${report.operations} random operations + hot records)`, value: report.made, unit: 'changes' },
    { name: 'changes applied (pair agrees at the end)', value: report.applied, unit: 'changes' },
    { name: 'changes failed, visible (error row or dead letter)', value: report.failedVisible, unit: 'changes' },
    { name: 'changes lost (must be 0)', value: report.lost, unit: 'changes' },
    { name: 'fields wiped (must be 0)', value: report.wiped, unit: 'fields' },
    { name: 'options coupled late not filled in (must be 0)', value: report.optionsUnfilled, unit: 'fields' },
    { name: 'duplicates (must be 0)', value: report.duplicates.length, unit: 'records' },
    { name: 'BC create responses lost (injected)', value: report.scenarios.lostCreateResponses, unit: 'responses' },
    { name: "our writes racing a user's edit", value: report.scenarios.racedWrites, unit: 'records' },
    { name: '429s absorbed', value: report.faultsSeen.bc429 + report.faultsSeen.dv429, unit: 'responses' },
    { name: '412s absorbed', value: report.concurrency412, unit: 'responses' },
    { name: 'failed invocations from concurrent writes (must be 0)', value: report.concurrencyFailures, unit: 'invocations' },
    { name: 'writes after quiet (must be 0)', value: report.writesAfterQuiet.bc + report.writesAfterQuiet.dataverse, unit: 'requests' },
    { name: 'run time', value: report.seconds, unit: 's' },
  ];
}
