import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** POSTs/GETs to a simulator's `/_sim/` control API and fails loudly on a non-2xx, so a setup mistake is never silent. */
export async function control(baseUrl: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** A webhook receiver that answers BC's validation handshake (echoes `validationToken`) and records notifications. */
export async function startHandshakeReceiver(): Promise<{ url: string; handshakes: number; stop(): Promise<void> }> {
  const state = { handshakes: 0 };
  const server: Server = createServer((req, res) => {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('validationToken');
    req.resume();
    req.on('end', () => {
      if (token !== null) {
        state.handshakes++;
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(token);
        return;
      }
      res.writeHead(202);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bc-webhook`;
  return {
    url,
    get handshakes() {
      return state.handshakes;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
