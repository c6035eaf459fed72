import type { BcSimulatorOptions } from '../../dev/bc-simulator';
import type { DataverseSimulatorOptions } from '../../dev/dataverse-simulator';
import { buildStack, type Stack, withBothSimulators } from '../support/stack';

/**
 * The proof suites' (convergence, security) and the bench pieces' preset of the one stack builder
 * (`test/support/stack.ts`): both simulators, one or more host instances, every host and capture log kept, the
 * integration's responses counted. The first instance listens on the port PUBLIC_BASE_URL names, so webhooks reach
 * it, and it can be restarted on that port.
 */
export type ProofStack = Stack;

export interface ProofStackOptions {
  /** Function modules by file name under `functions/`. */
  functions: string[];
  bc?: BcSimulatorOptions;
  dataverse?: DataverseSimulatorOptions;
  /** Hosts running the same function app. Default 1. */
  instances?: number;
  /** Lock duration of every queue; short, so a message held by a stopped instance comes back soon. Default 5 s. */
  lockDurationMs?: number;
  /** Extra settings. */
  env?: Record<string, string>;
  /**
   * Serve only these functions (by name). Default every registered function — in one process that includes
   * functions an earlier stack loaded, so a bench that wants none passes `[]`.
   */
  serve?: string[];
  /** Largest request body the hosts accept. Default the host's 1 MiB. */
  maxRequestBodyBytes?: number;
  /**
   * Loses the response of an integration request after the simulator processed it (a timeout after commit): the
   * client sees a network failure. Asked for every integration request; default never.
   */
  loseResponse?: (request: { side: 'bc' | 'dataverse'; method: string; url: string }) => boolean;
}

/** Test values, not secrets: the security suite checks that none of them ever reaches a log line or an error row. */
export const PROOF_SECRETS = {
  bcToken: 'proof-bc-static-token-7c1e0f',
  bcWebhookSecret: 'proof-bc-webhook-secret-4b9d21aa',
  dataverseWebhookKey: 'proof-dataverse-webhook-key-93ae5f10',
  functionKey: 'proof-function-key-5e7a3c',
  masterKey: 'proof-master-key-0d4f8b',
} as const;

export async function startProofStack(opts: ProofStackOptions): Promise<ProofStack> {
  const built = await buildStack({
    functions: opts.functions,
    bc: { webhookDelayMs: 50, retrySchedule: [200, 200, 200, 500, 1000], ...opts.bc },
    dataverse: { webhookDelayMs: 20, ...opts.dataverse },
    lockDurationMs: opts.lockDurationMs ?? 5_000,
    env: ({ dataverse }) => ({
      TABLE_PREFIX: `proof${Math.random().toString(36).slice(2, 8)}`,
      BC_STATIC_TOKEN: PROOF_SECRETS.bcToken,
      BC_WEBHOOK_SECRET: PROOF_SECRETS.bcWebhookSecret,
      DATAVERSE_STATIC_TOKEN: dataverse?.integrationUserToken ?? '',
      DATAVERSE_WEBHOOK_KEY: PROOF_SECRETS.dataverseWebhookKey,
      DATAVERSE_INTEGRATION_USER_ID: dataverse?.integrationUserId ?? '',
      LOCAL_FUNCTION_KEY: PROOF_SECRETS.functionKey,
      LOCAL_MASTER_KEY: PROOF_SECRETS.masterKey,
      // The renewal timer runs on start-up only; the suites do not run for an hour.
      SUBSCRIPTION_RENEWAL_SCHEDULE: '0 0 3 1 1 *',
      ...opts.env,
    }),
    instances: opts.instances ?? 1,
    ...(opts.serve ? { serve: opts.serve } : {}),
    ...(opts.maxRequestBodyBytes ? { maxRequestBodyBytes: opts.maxRequestBodyBytes } : {}),
    logs: true,
    capturePublishTimeoutMs: 3_000,
    observeIntegration: { bcToken: PROOF_SECRETS.bcToken, ...(opts.loseResponse ? { loseResponse: opts.loseResponse } : {}) },
  });
  return withBothSimulators(built);
}

/** Seeded PRNG (mulberry32): the same seed gives the same operations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
