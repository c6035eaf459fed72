import { startBcSimulator } from './index';

/** Standalone: `node dist/dev/bc-simulator/main.js` (port from BC_SIM_PORT, default 7072). */
async function main(): Promise<void> {
  const portText = process.env.BC_SIM_PORT ?? '7072';
  if (!/^\d+$/.test(portText)) throw new Error(`BC_SIM_PORT must be a port number, got '${portText}'`);
  const delay = process.env.BC_SIM_WEBHOOK_DELAY_MS;
  if (delay !== undefined && !/^\d+$/.test(delay)) throw new Error(`BC_SIM_WEBHOOK_DELAY_MS must be a number, got '${delay}'`);
  const sim = await startBcSimulator({
    port: Number(portText),
    webhookDelayMs: delay === undefined ? undefined : Number(delay),
    seed: process.env.BC_SIM_SEED === 'empty' ? 'empty' : 'demo',
  });
  console.log(`bc-simulator ready on ${sim.url} api=${sim.apiBase()} custom=${sim.customApiBase()}`);
  const stop = () => {
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
