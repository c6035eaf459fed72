import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now, for a server that must know its port before it starts (a host whose URL
 * goes into settings, a child process). Prefer `port: 0` wherever the server can report the port it got.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Every port setting of `npm start` (`dev/start.ts`), each a free port, so a started service clashes with nothing. */
export async function startPortSettings(): Promise<Record<string, string>> {
  return {
    FUNCTIONS_PORT: String(await freePort()),
    BC_SIM_PORT: String(await freePort()),
    DATAVERSE_SIM_PORT: String(await freePort()),
    AZURITE_TABLE_PORT: String(await freePort()),
    SERVICEBUS_PORT: String(await freePort()),
  };
}
