import { startDataverseSimulator } from './index';

/** Standalone run: `node dist/dev/dataverse-simulator/main.js` (port from DATAVERSE_SIM_PORT, default 7073). */
async function main(): Promise<void> {
  const raw = process.env.DATAVERSE_SIM_PORT ?? '7073';
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new Error(`DATAVERSE_SIM_PORT must be a port number, got '${raw}'.`);
  const seed = process.env.DATAVERSE_SIM_SEED === 'empty' ? 'empty' : 'demo';
  const sim = await startDataverseSimulator({ port: Number(raw), seed });
  console.log(
    `Dataverse simulator ready at ${sim.apiBase} (seed ${seed}; integration token '${sim.integrationUserToken}', admin token '${sim.adminUserToken}'; control API ${sim.url}/_sim/)`,
  );
  const shutdown = () => {
    void sim.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
