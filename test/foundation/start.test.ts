import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPortSettings } from '../support/free-port';

/**
 * `npm start` end to end: the compiled `dist/dev/start.js` (npm test builds before vitest runs) on free ports
 * chosen here, so it runs next to other suites and a developer's own `npm start`.
 */
const root = path.resolve(__dirname, '..', '..');
const startJs = path.join(root, 'dist', 'dev', 'start.js');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Started {
  let out = '';
  // Without inheriting a developer's local settings overrides from the environment of the test runner.
  const child = spawn(process.execPath, [startJs], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitForLine(started: Started, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = started.output().match(re);
    if (m) return m;
    if (started.child.exitCode !== null) throw new Error(`start.js exited (${started.child.exitCode}) before ${re}:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${re} within ${timeoutMs} ms:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('npm start (dist/dev/start.js)', () => {
  const children: ChildProcess[] = [];

  beforeAll(() => {
    if (!existsSync(startJs)) throw new Error(`${startJs} is missing: run "npm run build" (npm test does it before vitest)`);
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('starts the local stack, prints ready, answers /api/health 200 and exits 0 on SIGINT', async () => {
    const ports = await startPortSettings();
    const started = start(ports);
    children.push(started.child);
    const ready = await waitForLine(started, /^ready: (http:\/\/\S+)$/m, 45_000);
    expect(ready[1]).toBe(`http://127.0.0.1:${ports.FUNCTIONS_PORT}/api/health`);
    // It says what runs where, on the ports it was given.
    expect(started.output()).toContain(`Azurite Table        http://127.0.0.1:${ports.AZURITE_TABLE_PORT}/devstoreaccount1`);
    expect(started.output()).toContain(`Service Bus          sb://127.0.0.1:${ports.SERVICEBUS_PORT}`);

    const res = await fetch(ready[1] ?? '');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; components: Record<string, { status: string }> };
    expect(body.components.tables?.status).toBe('ok');
    expect(body.components.serviceBus?.status).toBe('ok');
    expect(['ok', 'degraded']).toContain(body.status);

    started.child.kill('SIGINT');
    expect(await started.exited).toBe(0);
    // Everything was released: the ports can be bound again.
    for (const port of Object.values(ports)) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(port), '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('stops with exit 1 and one message naming every bad setting', async () => {
    const started = start({ ...(await startPortSettings()), BC_COMPANY_ID: 'not-a-guid', DATAVERSE_URL: 'nope' });
    children.push(started.child);
    expect(await started.exited).toBe(1);
    const out = started.output();
    expect(out.match(/Invalid configuration/g)).toHaveLength(1);
    expect(out).toContain('BC_COMPANY_ID: must be a GUID');
    expect(out).toMatch(/DATAVERSE_URL: /);
    expect(out).not.toMatch(/^ready/m);
  });

  it('names the port when one is taken', async () => {
    const ports = await startPortSettings();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(ports.FUNCTIONS_PORT), '127.0.0.1', resolve));
    try {
      const started = start(ports);
      children.push(started.child);
      expect(await started.exited).toBe(1);
      expect(started.output()).toContain(`port ${ports.FUNCTIONS_PORT} on 127.0.0.1 is already in use`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
