import { defineConfig } from 'vitest/config';

/**
 * Three tiers, all run by `npm test` (`vitest run`); one alone with `vitest run --project <name>`.
 * - `unit`: pure tests that start nothing (no Azurite, Service Bus endpoint, simulator, host or server): the
 *   engine on in-memory fakes (`test/support/fakes.ts`), mappings, OData, Bicep checks. `npm run test:unit`.
 * - `e2e`: the admin page in a real browser.
 * - `integration`: everything else; each file starts its own local parts on ephemeral ports.
 */
const UNIT = [
  'test/unit/**/*.test.ts',
  'test/odata/**/*.test.ts',
  'test/infra/**/*.test.ts',
  'test/capture/unit.test.ts',
  'test/lead-to-cash/config.test.ts',
  'test/lead-to-cash/prices.test.ts',
  'test/security/admin-access.test.ts',
];
const E2E = ['test/e2e/**/*.test.ts'];

export default defineConfig({
  test: {
    // Every suite starts its own Azurite / Service Bus endpoint / simulators on ephemeral ports,
    // so files can run in parallel without sharing state.
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      // Worker threads start faster than forks, and nothing in this tier needs a process of its own.
      { extends: true, test: { name: 'unit', include: UNIT, pool: 'threads' } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [...UNIT, ...E2E] } },
      { extends: true, test: { name: 'e2e', include: E2E } },
    ],
  },
});
