/**
 * `npm start`: the whole service on loopback with real local components.
 *
 * Settings come from `local.settings.sample.json` `Values`, then `local.settings.json` (if present), then the
 * real environment, each overriding the one before. Components whose setting points at a loopback address are
 * started here (Azurite Table, the Service Bus endpoint, the BC and Dataverse simulators) and the setting is
 * rewritten to the address they actually listen on; a setting pointing elsewhere (real Azure, a real BC) is
 * used as is and nothing is started for it. Parts of the stack that are not built yet are reported and skipped.
 *
 * Prints what runs where and then a line starting with `ready`. Ctrl-C (SIGINT/SIGTERM) stops everything and
 * exits 0. An invalid configuration exits 1 with one message naming every bad setting; a taken port exits 1
 * naming the port.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, parseSettings, resetSettingsCache } from '../shared/config';
import { startAzurite } from './azurite';
import { bootstrapDemo } from './demo';
import { DEFAULT_FUNCTIONS_PORT, LocalFunctionsHost } from './local-host/host';

/** Port settings, each overridable; 0 picks a free port (then PUBLIC_BASE_URL is only known after start). */
const PORT_SETTINGS = {
  FUNCTIONS_PORT: DEFAULT_FUNCTIONS_PORT,
  BC_SIM_PORT: 7072,
  DATAVERSE_SIM_PORT: 7073,
  AZURITE_TABLE_PORT: 10002,
  SERVICEBUS_PORT: 5672,
} as const;
type PortName = keyof typeof PORT_SETTINGS;

const HOST = '127.0.0.1';

const localSettingsFileSchema = z.object({
  IsEncrypted: z.boolean().optional(),
  Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
});

/** Walks up from this file to the folder holding package.json (works from `dist/dev` and from `dev`). */
export function projectRoot(from = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'host.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json with host.json above ${from}`);
    dir = parent;
  }
}

function readValues(file: string): Record<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${path.basename(file)} could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = localSettingsFileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path.basename(file)} is invalid:\n${z.prettifyError(parsed.error)}`);
  if (parsed.data.IsEncrypted) throw new Error(`${path.basename(file)} is encrypted; npm start reads plain values only`);
  return parsed.data.Values;
}

/** sample Values < local.settings.json Values < real environment. */
export function layeredSettings(root: string, env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const merged: Record<string, string | undefined> = { ...readValues(path.join(root, 'local.settings.sample.json')) };
  const local = path.join(root, 'local.settings.json');
  if (existsSync(local)) Object.assign(merged, readValues(local));
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v;
  return merged;
}

const portSchema = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a port number 0..65535')
  .transform(Number)
  .refine((n) => n <= 65_535, 'must be a port number 0..65535');

/** Validates the settings and the port settings together, so one ConfigError names every problem. */
export function validate(values: Record<string, string | undefined>): Record<PortName, number> {
  const problems: string[] = [];
  try {
    parseSettings(values);
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems);
    else throw err;
  }
  const ports = {} as Record<PortName, number>;
  for (const [name, fallback] of Object.entries(PORT_SETTINGS) as Array<[PortName, number]>) {
    const raw = values[name];
    const parsed = portSchema.safeParse(raw === undefined || raw === '' ? String(fallback) : raw.trim());
    if (parsed.success) ports[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues[0]?.message ?? 'invalid port'}`);
  }
  if (problems.length) throw new ConfigError(problems);
  return ports;
}

function isLoopbackUrl(value: string | undefined): boolean {
  if (!value) return false;
  try {
    const host = new URL(value).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
  } catch {
    return false;
  }
}

function isLocalTables(cs: string | undefined): boolean {
  if (!cs) return false;
  if (/UseDevelopmentStorage=true/i.test(cs)) return true;
  return isLoopbackUrl(/TableEndpoint=([^;]+)/i.exec(cs)?.[1]);
}

function isLocalServiceBus(cs: string | undefined): boolean {
  if (!cs) return false;
  const endpoint = /Endpoint=([^;]+)/i.exec(cs)?.[1];
  return /UseDevelopmentEmulator=true/i.test(cs) && isLoopbackUrl(endpoint?.replace(/^sb:/i, 'http:'));
}

/** A compiled dev component, if it has been built; otherwise undefined (the stack starts without it). */
function optionalModule(root: string, relative: string): Record<string, unknown> | undefined {
  const file = path.join(root, 'dist', relative);
  if (!existsSync(file)) return undefined;
  return require(file) as Record<string, unknown>;
}

const runningServerSchema = z.looseObject({
  url: z.string().optional(),
  port: z.number().optional(),
  stop: z.function(),
});

const queueDeclarationSchema = z.array(z.looseObject({ name: z.string().min(1) }));

/** The function modules the real host would load: package.json `main` (`dist/functions/*.js`). */
export function functionModules(root: string): string[] {
  const pkg = z.object({ main: z.string().min(1) }).parse(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')));
  const pattern = pkg.main;
  const dir = path.join(root, path.dirname(pattern));
  const base = path.basename(pattern);
  if (!existsSync(dir)) throw new Error(`${path.dirname(pattern)} does not exist: run "npm run build" first`);
  const re = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  return readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

interface Running {
  name: string;
  where: string;
  stop: () => Promise<void>;
}

export async function main(): Promise<void> {
  const root = projectRoot();
  const values = layeredSettings(root, process.env);
  const ports = validate(values);

  const running: Running[] = [];
  const notes: string[] = [];
  let host: LocalFunctionsHost | undefined;
  let stopping: Promise<void> | undefined;

  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      if (host) await host.stop();
      for (const part of [...running].reverse()) {
        try {
          await part.stop();
        } catch (err) {
          process.stderr.write(`stopping ${part.name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
    })();
    return stopping;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(1);
    }
    process.stdout.write(`\n${signal}: stopping...\n`);
    // A stuck component must not keep the terminal hostage.
    setTimeout(() => {
      process.stderr.write('shutdown took longer than 15 s; exiting\n');
      process.exit(1);
    }, 15_000).unref();
    stopAll().then(
      () => {
        process.stdout.write('stopped\n');
        process.exit(0);
      },
      (err) => {
        process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    // --- Azurite Table ----------------------------------------------------------------------------------
    if (isLocalTables(values.TABLES_CONNECTION)) {
      const azurite = await startAzurite({ host: HOST, port: ports.AZURITE_TABLE_PORT });
      running.push({ name: 'Azurite Table', where: `http://${HOST}:${azurite.port}/devstoreaccount1`, stop: azurite.stop });
      values.TABLES_CONNECTION = azurite.connectionString;
    } else notes.push('Azurite Table: not started (TABLES_CONNECTION points elsewhere)');

    // --- Service Bus endpoint ---------------------------------------------------------------------------
    let declareQueue: ((q: { name: string }) => void) | undefined;
    if (isLocalServiceBus(values.SERVICEBUS_CONNECTION)) {
      const mod = optionalModule(root, 'dev/servicebus/index.js');
      if (mod && typeof mod.ServiceBusEmulator === 'function') {
        const queuesModule = optionalModule(root, 'shared/queues.js');
        const declared =
          queuesModule && typeof queuesModule.emulatorQueueDeclarations === 'function'
            ? queueDeclarationSchema.parse((queuesModule.emulatorQueueDeclarations as () => unknown)())
            : [];
        const Emulator = mod.ServiceBusEmulator as new (
          o: unknown,
        ) => {
          start(): Promise<void>;
          stop(): Promise<void>;
          declareQueue(q: { name: string }): void;
          connectionString: string;
          port: number;
        };
        const sb = new Emulator({ host: HOST, port: ports.SERVICEBUS_PORT, queues: declared });
        await sb.start();
        running.push({ name: 'Service Bus', where: `sb://${HOST}:${sb.port}`, stop: () => sb.stop() });
        values.SERVICEBUS_CONNECTION = sb.connectionString;
        // A queue the project already declared keeps its settings (Azure's, duplicate detection included); one
        // only the functions name gets the same settings under its own name.
        const known = new Set(declared.map((q) => q.name.toLowerCase()));
        const template = declared[0];
        declareQueue = (q) => {
          if (!known.has(q.name.toLowerCase())) sb.declareQueue({ ...template, ...q });
        };
      } else notes.push('Service Bus: not started (dev/servicebus is not built)');
    } else notes.push('Service Bus: not started (SERVICEBUS_CONNECTION points elsewhere)');

    // --- Simulators -------------------------------------------------------------------------------------
    if (isLoopbackUrl(values.BC_API_URL)) {
      const mod = optionalModule(root, 'dev/bc-simulator/index.js');
      if (mod && typeof mod.startBcSimulator === 'function') {
        const sim = runningServerSchema.parse(
          await (mod.startBcSimulator as (o: unknown) => Promise<unknown>)({
            host: HOST,
            port: ports.BC_SIM_PORT,
            tenantId: values.BC_TENANT_ID,
            environmentName: values.BC_ENVIRONMENT,
          }),
        );
        const url = sim.url ?? `http://${HOST}:${sim.port ?? ports.BC_SIM_PORT}`;
        running.push({ name: 'BC simulator', where: url, stop: async () => void (await sim.stop()) });
        values.BC_API_URL = url;
      } else notes.push('BC simulator: not started (dev/bc-simulator is not built)');
    } else notes.push('BC simulator: not started (BC_API_URL points elsewhere)');

    if (isLoopbackUrl(values.DATAVERSE_URL)) {
      const mod = optionalModule(root, 'dev/dataverse-simulator/index.js');
      if (mod && typeof mod.startDataverseSimulator === 'function') {
        const sim = runningServerSchema.parse(
          await (mod.startDataverseSimulator as (o: unknown) => Promise<unknown>)({ host: HOST, port: ports.DATAVERSE_SIM_PORT }),
        );
        const url = sim.url ?? `http://${HOST}:${sim.port ?? ports.DATAVERSE_SIM_PORT}`;
        running.push({ name: 'Dataverse simulator', where: url, stop: async () => void (await sim.stop()) });
        values.DATAVERSE_URL = url;
      } else notes.push('Dataverse simulator: not started (dev/dataverse-simulator is not built)');
    } else notes.push('Dataverse simulator: not started (DATAVERSE_URL points elsewhere)');

    // --- Functions host ---------------------------------------------------------------------------------
    if (isLoopbackUrl(values.PUBLIC_BASE_URL) && ports.FUNCTIONS_PORT !== 0)
      values.PUBLIC_BASE_URL = `http://${HOST}:${ports.FUNCTIONS_PORT}`;
    // Function modules read process.env (settings()) when they load.
    for (const [k, v] of Object.entries(values)) if (v !== undefined) process.env[k] = v;
    resetSettingsCache();
    parseSettings(process.env);

    host = new LocalFunctionsHost({
      modules: functionModules(root),
      port: ports.FUNCTIONS_PORT,
      host: HOST,
      hostJsonPath: path.join(root, 'host.json'),
      env: process.env,
    });
    await host.load();
    // Every queue a function triggers on or sends to exists before receivers attach.
    if (declareQueue) for (const name of host.queueNames()) declareQueue({ name });
    await host.start();
  } catch (err) {
    await stopAll();
    throw err;
  }

  const lines = [...running.map((r) => `  ${r.name.padEnd(20)} ${r.where}`), `  ${'Functions host'.padEnd(20)} ${host.apiUrl('')}`];
  process.stdout.write(`bc-dataverse-sync local stack\n${lines.join('\n')}\n`);
  for (const note of notes) process.stdout.write(`  - ${note}\n`);
  process.stdout.write('  functions:\n');
  for (const fn of host.hostFunctions()) {
    const t = fn.trigger;
    const what =
      t.type === 'httpTrigger'
        ? `${(Array.isArray(t.methods) ? t.methods : ['*']).join(',')} ${host.apiUrl(String(t.route ?? fn.name))} (${String(t.authLevel ?? 'function')})`
        : t.type === 'serviceBusTrigger'
          ? `queue ${String(t.queueName)}`
          : t.type === 'timerTrigger'
            ? `schedule ${String(t.schedule)}`
            : t.type;
    process.stdout.write(`    ${fn.name.padEnd(28)} ${what}\n`);
  }
  process.stdout.write(`  function key (authLevel function): x-functions-key: ${host.functionKey}   [local only]\n`);
  process.stdout.write(`  admin page: ${host.apiUrl('admin/ui')}   (paste a key: it travels in the x-sync-key header, never in a URL)\n`);
  process.stdout.write(
    `  admin key (Sync.Admin): ${process.env.SYNC_ADMIN_KEY ?? '(unset)'}   reader key (Sync.Reader): ${process.env.SYNC_READER_KEY ?? '(unset)'}   [local only]\n`,
  );
  process.stdout.write(`ready: ${host.apiUrl('health')}\n`);
  // With our own simulators, act as a new installation's admin would, through the admin API.
  if (
    running.some((r) => r.name === 'BC simulator') &&
    running.some((r) => r.name === 'Dataverse simulator') &&
    process.env.DEMO_BOOTSTRAP !== 'false'
  ) {
    const log = (line: string) => process.stdout.write(`${line}\n`);
    bootstrapDemo({ apiBase: host.apiUrl(''), adminKey: process.env.SYNC_ADMIN_KEY ?? '', log }).catch((err: unknown) =>
      log(`demo: bootstrap failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    // A ConfigError already names every bad setting; anything else gets its message only (no stack for users).
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
